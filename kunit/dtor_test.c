// SPDX-License-Identifier: GPL-2.0
/*
 * Suite dslab_dtor: typed objects, destructors and cleanups (mm/dtor.c).
 *
 * One case per row of the SetFinalizer validation table, for
 * dslab_set_destructor() and dslab_add_cleanup() alike.  Every refusal is
 * checked for its exact error code and for "nothing changed": no
 * destructor recorded (DSLAB_STAT_DTOR_SET, this module's reference
 * count, the FinBlock reservations), and freeing the object runs nothing.
 * Then the accepting rows (any object, own type, interface), removal,
 * many cleanups with some cancelled, a destructor with cleanups, what a
 * free means for the object, -ENOMEM by fault injection, and races of
 * set/remove/add/cancel/free on one object from every CPU.
 *
 * Destructor and cleanup calls are recorded in the case's
 * struct dslab_dtor_ctx (dslab_dtor_cur); .exit frees every object the
 * case still owns, waits for the runner and checks that objects in use,
 * reservations and our module references are all back where they were.
 *
 * Static data: mm/dtor.c cannot tell a module's .data/.bss from other
 * foreign memory and documents -EFAULT for it (the table allows either
 * "0, nothing recorded" or -EFAULT, documented); that is what is tested.
 */
#include <linux/delay.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "dslab_test.h"

/* === Types, destructors and the recorder === */

#define DSLAB_DTOR_MAGIC	0xd7014a61c0ffee00ull
#define DSLAB_DTOR_MAX_OBJS	512
#define DSLAB_DTOR_SEQ_MAX	64

struct dslab_dtor_hdr {
	u64 magic;		/* DSLAB_DTOR_MAGIC ^ idx */
	u32 idx;
	u32 fill;		/* every payload byte */
};

struct dslab_dtor_foo {
	struct dslab_dtor_hdr hdr;
	u8 payload[40];
};

struct dslab_dtor_bar {
	struct dslab_dtor_hdr hdr;
	u8 payload[100];
};

DSLAB_INTERFACE(dslab_dtor_iface, struct dslab_dtor_hdr);
DSLAB_INTERFACE(dslab_dtor_other_iface, struct dslab_dtor_hdr);
DSLAB_TYPE(dslab_dtor_foo_type, struct dslab_dtor_foo);
DSLAB_TYPE_IMPL(dslab_dtor_bar_type, struct dslab_dtor_bar, &dslab_dtor_iface);

enum dslab_dtor_kind { DSLAB_K_ANY, DSLAB_K_FOO, DSLAB_K_BAR, DSLAB_K_IFACE, DSLAB_K_NR };

struct dslab_dtor_ctx {
	long inuse_before;
	unsigned long reserved_before;
	int modref_before;
	long pins_before;
	u64 dtor_set0, dtor_run0, refused0, cleanup_run0, cleanup_added0;

	atomic_t runs[DSLAB_DTOR_MAX_OBJS];	/* destructor runs per object */
	atomic_t kind_runs[DSLAB_K_NR];
	atomic_t bad_obj;			/* contents not intact, bad idx */
	atomic_t bad_ctx;			/* not in process context */
	atomic_t cleanup_runs;
	atomic_t seq;				/* order of calls */
	int dtor_seq[DSLAB_DTOR_MAX_OBJS];	/* seq of each dtor run */

	unsigned int n;				/* objects owned by the case */
	void *objs[DSLAB_DTOR_MAX_OBJS];
};

/* The running case's recorder; set by .init, cleared by .exit. */
static struct dslab_dtor_ctx *dslab_dtor_cur;

/* Size of the object with header @h, by its recorded type. */
static bool dslab_dtor_check_obj(struct dslab_dtor_hdr *h, size_t size)
{
	const u8 *payload = (const u8 *)(h + 1);

	if (h->idx >= DSLAB_DTOR_MAX_OBJS || h->magic != (DSLAB_DTOR_MAGIC ^ h->idx))
		return false;
	return !memchr_inv(payload, (u8)h->fill, size - sizeof(*h));
}

static void dslab_dtor_record(void *obj, size_t size, enum dslab_dtor_kind kind)
{
	struct dslab_dtor_ctx *ctx = READ_ONCE(dslab_dtor_cur);
	struct dslab_dtor_hdr *h = obj;

	if (WARN_ON_ONCE(!ctx))
		return;
	/* Process context, may sleep (DEBUG_ATOMIC_SLEEP checks this). */
	if (!in_task() || irqs_disabled())
		atomic_inc(&ctx->bad_ctx);
	might_sleep();
	cond_resched();
	if (!dslab_dtor_check_obj(h, size)) {
		atomic_inc(&ctx->bad_obj);
		return;
	}
	atomic_inc(&ctx->runs[h->idx]);
	atomic_inc(&ctx->kind_runs[kind]);
	ctx->dtor_seq[h->idx] = atomic_inc_return(&ctx->seq);
}

static void dslab_dtor_any_fn(void *obj)
{
	dslab_dtor_record(obj, sizeof(struct dslab_dtor_foo), DSLAB_K_ANY);
}

static void dslab_dtor_foo_fn(struct dslab_dtor_foo *f)
{
	dslab_dtor_record(f, sizeof(*f), DSLAB_K_FOO);
}

static void dslab_dtor_bar_fn(struct dslab_dtor_bar *b)
{
	dslab_dtor_record(b, sizeof(*b), DSLAB_K_BAR);
}

/* Only the header: the interface's C type. */
static void dslab_dtor_hdr_fn(struct dslab_dtor_hdr *h)
{
	dslab_dtor_record(h, sizeof(*h), DSLAB_K_IFACE);
}

static const struct dslab_dtor dslab_dtor_any = { .fn = dslab_dtor_any_fn };
DSLAB_DTOR(dslab_dtor_foo, dslab_dtor_foo_type, dslab_dtor_foo_fn);
DSLAB_DTOR(dslab_dtor_bar, dslab_dtor_bar_type, dslab_dtor_bar_fn);
DSLAB_DTOR(dslab_dtor_iface_d, dslab_dtor_iface, dslab_dtor_hdr_fn);
DSLAB_DTOR(dslab_dtor_other_iface_d, dslab_dtor_other_iface, dslab_dtor_hdr_fn);

/* A cleanup's argument: its own run counter, never the object. */
struct dslab_dtor_carg {
	atomic_t runs;
	int seq;
	atomic_t bad_ctx;
};

static void dslab_dtor_cleanup_fn(void *arg)
{
	struct dslab_dtor_ctx *ctx = READ_ONCE(dslab_dtor_cur);
	struct dslab_dtor_carg *a = arg;

	if (!in_task() || irqs_disabled())
		atomic_inc(&a->bad_ctx);
	might_sleep();
	atomic_inc(&a->runs);
	if (ctx) {
		a->seq = atomic_inc_return(&ctx->seq);
		atomic_inc(&ctx->cleanup_runs);
	}
}

/* === Fixture === */

static int dslab_dtor_test_init(struct kunit *test)
{
	struct dslab_dtor_ctx *ctx;

	dslab_test_quiet_bad_frees(true);
	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	dslab_test_drain();
	ctx->inuse_before = dslab_objects_inuse();
	ctx->reserved_before = dslab_test_reserved();
	ctx->modref_before = module_refcount(THIS_MODULE);
	ctx->pins_before = dslab_test_owner_pins(THIS_MODULE);
	ctx->dtor_set0 = dslab_test_stat(DTOR_SET);
	ctx->dtor_run0 = dslab_test_stat(DTOR_RUN);
	ctx->refused0 = dslab_test_stat(DTOR_REFUSED);
	ctx->cleanup_run0 = dslab_test_stat(CLEANUP_RUN);
	ctx->cleanup_added0 = dslab_test_stat(CLEANUP_ADDED);
	WRITE_ONCE(dslab_dtor_cur, ctx);
	test->priv = ctx;
	return 0;
}

static void dslab_dtor_test_exit(struct kunit *test)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	unsigned int i;

	dslab_test_quiet_bad_frees(false);
	for (i = 0; i < ctx->n; i++)
		dslab_free(ctx->objs[i]);
	dslab_test_drain();
	WRITE_ONCE(dslab_dtor_cur, NULL);
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&ctx->bad_ctx), 0,
			    "a destructor ran outside process context");
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&ctx->bad_obj), 0,
			    "a destructor got an object whose contents changed");
	KUNIT_EXPECT_EQ_MSG(test, dslab_objects_inuse(), ctx->inuse_before,
			    "objects in use changed over the case");
	KUNIT_EXPECT_EQ_MSG(test, dslab_test_reserved(), ctx->reserved_before,
			    "FinBlock reservations leaked or over-released");
	KUNIT_EXPECT_EQ_MSG(test, module_refcount(THIS_MODULE), ctx->modref_before,
			    "references on dslab_test leaked or over-released");
	KUNIT_EXPECT_EQ_MSG(test, dslab_test_owner_pins(THIS_MODULE),
			    ctx->pins_before, "owner pins leaked or over-released");
}

/*
 * @n more destructors and cleanups of this module are registered or
 * queued than when the case began: dslab counts them as pins, and takes
 * no module reference for them (a client must stay unloadable; its
 * unload runs or drops what it left, see owner.c).
 */
static void dslab_dtor_expect_pinned(struct kunit *test, long n)
{
	struct dslab_dtor_ctx *ctx = test->priv;

	KUNIT_EXPECT_EQ(test, dslab_test_owner_pins(THIS_MODULE),
			ctx->pins_before + n);
	KUNIT_EXPECT_EQ(test, module_refcount(THIS_MODULE), ctx->modref_before);
}

/* A new untyped object with a checkable header, owned by the case. */
static void *dslab_dtor_obj(struct kunit *test, size_t size)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	struct dslab_dtor_hdr *h;
	unsigned int idx = ctx->n;

	if (idx >= DSLAB_DTOR_MAX_OBJS)
		return NULL;
	h = dslab_alloc(size, GFP_KERNEL);
	if (!h)
		return NULL;
	h->idx = idx;
	h->magic = DSLAB_DTOR_MAGIC ^ idx;
	h->fill = 0x40 + idx % 64;
	memset(h + 1, h->fill, size - sizeof(*h));
	ctx->objs[ctx->n++] = h;
	return h;
}

/* Same, typed with dslab_new(). */
static void *dslab_dtor_typed(struct kunit *test, const struct dslab_type *type)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	struct dslab_dtor_hdr *h;
	unsigned int idx = ctx->n;

	if (idx >= DSLAB_DTOR_MAX_OBJS)
		return NULL;
	h = dslab_new(type, GFP_KERNEL);
	if (!h)
		return NULL;
	h->idx = idx;
	h->magic = DSLAB_DTOR_MAGIC ^ idx;
	h->fill = 0x40 + idx % 64;
	memset(h + 1, h->fill, type->size - sizeof(*h));
	ctx->objs[ctx->n++] = h;
	return h;
}

/* The case frees an owned object itself. */
static void dslab_dtor_free(struct kunit *test, void *obj)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	unsigned int i;

	for (i = 0; i < ctx->n; i++) {
		if (ctx->objs[i] == obj) {
			ctx->objs[i] = NULL;
			break;
		}
	}
	dslab_free(obj);
}

/* The recorder index of a case object; read it before the object is freed. */
static unsigned int dslab_dtor_idx(const void *obj)
{
	return ((const struct dslab_dtor_hdr *)obj)->idx;
}

static int dslab_dtor_runs(struct kunit *test, unsigned int idx)
{
	struct dslab_dtor_ctx *ctx = test->priv;

	return atomic_read(&ctx->runs[idx]);
}

/*
 * After a refusal: nothing recorded (one more refusal counted), and
 * freeing the object, when it is ours, runs nothing.
 */
static void dslab_dtor_expect_unchanged(struct kunit *test, void *own_obj,
					u64 refusals)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	unsigned int idx = own_obj ? ((struct dslab_dtor_hdr *)own_obj)->idx : 0;

	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_SET), ctx->dtor_set0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(CLEANUP_ADDED), ctx->cleanup_added0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_REFUSED) - ctx->refused0, refusals);
	KUNIT_EXPECT_EQ(test, dslab_test_reserved(), ctx->reserved_before);
	KUNIT_EXPECT_EQ(test, module_refcount(THIS_MODULE), ctx->modref_before);
	if (!own_obj)
		return;
	dslab_dtor_free(test, own_obj);
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->runs[idx]), 0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_RUN), ctx->dtor_run0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(CLEANUP_RUN), ctx->cleanup_run0);
}

/* Foreign memory of every kind, for the -EFAULT rows. */
struct dslab_dtor_foreign {
	const char *what;
	const void *ptr;
};

static int dslab_dtor_static_data = 1;
static int dslab_dtor_static_bss;
static const int dslab_dtor_static_rodata = 3;

static unsigned int dslab_dtor_foreign_set(struct kunit *test,
					   struct dslab_dtor_foreign *f,
					   void *stack, void **vm)
{
	unsigned int n = 0;
	void *km;

	km = kunit_kmalloc(test, 64, GFP_KERNEL);
	*vm = vmalloc(PAGE_SIZE);
	f[n++] = (struct dslab_dtor_foreign){ "stack", stack };
	if (km)
		f[n++] = (struct dslab_dtor_foreign){ "kmalloc", km };
	if (*vm)
		f[n++] = (struct dslab_dtor_foreign){ "vmalloc", *vm };
	f[n++] = (struct dslab_dtor_foreign){ "user address", (void *)0x10000UL };
	f[n++] = (struct dslab_dtor_foreign){ "ERR_PTR(-ENOMEM)", ERR_PTR(-ENOMEM) };
	f[n++] = (struct dslab_dtor_foreign){ "ERR_PTR(-EINVAL)", ERR_PTR(-EINVAL) };
	f[n++] = (struct dslab_dtor_foreign){ "module text",
					      (const void *)dslab_dtor_any_fn };
	return n;
}

/* === The validation table: dslab_set_destructor() === */

static void dslab_dtor_set_null_obj(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(NULL, &dslab_dtor_any), -EINVAL);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(NULL, NULL), -EINVAL);
	dslab_dtor_expect_unchanged(test, NULL, 2);
}

static void dslab_dtor_set_zero_size(struct kunit *test)
{
	struct dslab_dtor_ctx *ctx = test->priv;

	KUNIT_EXPECT_EQ(test, dslab_set_destructor(ZERO_SIZE_PTR, &dslab_dtor_any), 0);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(ZERO_SIZE_PTR, NULL), 0);
	/* silently ignored: not even a refusal */
	dslab_dtor_expect_unchanged(test, NULL, 0);
	dslab_free(ZERO_SIZE_PTR);
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_RUN), ctx->dtor_run0);
}

static void dslab_dtor_set_static_data(struct kunit *test)
{
	const void *stat[] = {
		&dslab_dtor_static_data, &dslab_dtor_static_bss,
		&dslab_dtor_static_rodata, (const void *)&jiffies, &dslab_dtor_any,
	};
	unsigned int i;

	/* mm/dtor.c documents -EFAULT: it cannot tell static data apart. */
	for (i = 0; i < ARRAY_SIZE(stat); i++)
		KUNIT_EXPECT_EQ_MSG(test, dslab_set_destructor(stat[i], &dslab_dtor_any),
				    -EFAULT, "static object %u", i);
	dslab_dtor_expect_unchanged(test, NULL, ARRAY_SIZE(stat));
	KUNIT_EXPECT_EQ(test, dslab_dtor_static_data, 1);
	KUNIT_EXPECT_EQ(test, dslab_dtor_static_bss, 0);
}

static void dslab_dtor_set_foreign(struct kunit *test)
{
	struct dslab_dtor_foreign f[8];
	unsigned long on_stack[4] = { };
	unsigned int n, i;
	void *vm;

	n = dslab_dtor_foreign_set(test, f, on_stack, &vm);
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_EQ_MSG(test, dslab_set_destructor(f[i].ptr, &dslab_dtor_any),
				    -EFAULT, "%s", f[i].what);
		KUNIT_EXPECT_EQ_MSG(test, dslab_set_destructor(f[i].ptr, &dslab_dtor_foo),
				    -EFAULT, "%s, typed destructor", f[i].what);
	}
	vfree(vm);
	dslab_dtor_expect_unchanged(test, NULL, 2 * n);
}

static void dslab_dtor_set_freed(struct kunit *test)
{
	void *p = dslab_dtor_obj(test, sizeof(struct dslab_dtor_foo));
	void *large;

	KUNIT_ASSERT_NOT_NULL(test, p);
	dslab_dtor_free(test, p);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p, &dslab_dtor_any), -EFAULT);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p, NULL), -EFAULT);

	large = dslab_alloc(100 * 1024, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, large);
	dslab_free(large);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(large, &dslab_dtor_any), -EFAULT);
	dslab_dtor_expect_unchanged(test, NULL, 3);
}

static void dslab_dtor_set_interior(struct kunit *test)
{
	u8 *p = dslab_dtor_obj(test, sizeof(struct dslab_dtor_foo));
	u8 *t = dslab_dtor_typed(test, &dslab_dtor_foo_type);

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p + 8, &dslab_dtor_any), -EINVAL);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p + 1, &dslab_dtor_any), -EINVAL);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p + sizeof(struct dslab_dtor_foo) - 1,
						   &dslab_dtor_any), -EINVAL);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(t + 8, &dslab_dtor_foo), -EINVAL);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p + 8, NULL), -EINVAL);
	dslab_dtor_expect_unchanged(test, t, 5);
	dslab_dtor_expect_unchanged(test, p, 5);
}

static void dslab_dtor_set_null_fn(struct kunit *test)
{
	static const struct dslab_dtor no_fn = { .fn = NULL };
	static const struct dslab_dtor no_fn_typed = { .fn = NULL,
						       .arg = &dslab_dtor_foo_type };
	void *p = dslab_dtor_obj(test, sizeof(struct dslab_dtor_foo));
	void *t = dslab_dtor_typed(test, &dslab_dtor_foo_type);

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p, &no_fn), -EINVAL);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(t, &no_fn_typed), -EINVAL);
	dslab_dtor_expect_unchanged(test, t, 2);
	dslab_dtor_expect_unchanged(test, p, 2);
}

/* dtor->arg neither the object's type nor an interface it implements. */
static void dslab_dtor_set_wrong_type(struct kunit *test)
{
	void *foo = dslab_dtor_typed(test, &dslab_dtor_foo_type);
	void *bar = dslab_dtor_typed(test, &dslab_dtor_bar_type);

	KUNIT_ASSERT_NOT_NULL(test, foo);
	KUNIT_ASSERT_NOT_NULL(test, bar);
	/* another concrete type */
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(foo, &dslab_dtor_bar), -EINVAL);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(bar, &dslab_dtor_foo), -EINVAL);
	/* an interface the type does not implement */
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(foo, &dslab_dtor_iface_d), -EINVAL);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(bar, &dslab_dtor_other_iface_d), -EINVAL);
	dslab_dtor_expect_unchanged(test, bar, 4);
	dslab_dtor_expect_unchanged(test, foo, 4);
}

static void dslab_dtor_set_typed_on_untyped(struct kunit *test)
{
	void *p = dslab_dtor_obj(test, sizeof(struct dslab_dtor_bar));

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p, &dslab_dtor_bar), -EINVAL);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p, &dslab_dtor_iface_d), -EINVAL);
	dslab_dtor_expect_unchanged(test, p, 2);
}

static void dslab_dtor_set_exists(struct kunit *test)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	void *p = dslab_dtor_typed(test, &dslab_dtor_bar_type);
	unsigned int pi;
	int ref;

	KUNIT_ASSERT_NOT_NULL(test, p);
	pi = dslab_dtor_idx(p);
	KUNIT_ASSERT_EQ(test, dslab_set_destructor(p, &dslab_dtor_bar), 0);
	ref = module_refcount(THIS_MODULE);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p, &dslab_dtor_bar), -EEXIST);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p, &dslab_dtor_iface_d), -EEXIST);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p, &dslab_dtor_any), -EEXIST);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_SET) - ctx->dtor_set0, 1ull);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_REFUSED) - ctx->refused0, 3ull);
	KUNIT_EXPECT_EQ(test, module_refcount(THIS_MODULE), ref);
	/* the first destructor, and only it, runs once */
	dslab_dtor_free(test, p);
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, dslab_dtor_runs(test, pi), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->kind_runs[DSLAB_K_BAR]), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->kind_runs[DSLAB_K_IFACE]), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->kind_runs[DSLAB_K_ANY]), 0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_RUN) - ctx->dtor_run0, 1ull);
}

/* dtor == NULL removes; also when none is set; removal prevents the run. */
static void dslab_dtor_set_remove(struct kunit *test)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	void *p = dslab_dtor_obj(test, sizeof(struct dslab_dtor_foo));
	void *q = dslab_dtor_obj(test, sizeof(struct dslab_dtor_foo));
	u64 cleared0 = dslab_test_stat(DTOR_CLEARED);
	unsigned int pi, qi;

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, q);
	pi = dslab_dtor_idx(p);
	qi = dslab_dtor_idx(q);
	/* none set */
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(q, NULL), 0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_CLEARED), cleared0);

	KUNIT_ASSERT_EQ(test, dslab_set_destructor(p, &dslab_dtor_any), 0);
	dslab_dtor_expect_pinned(test, 1);
	KUNIT_EXPECT_EQ(test, dslab_test_reserved(), ctx->reserved_before + 1);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p, NULL), 0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_CLEARED) - cleared0, 1ull);
	dslab_dtor_expect_pinned(test, 0);
	KUNIT_EXPECT_EQ(test, dslab_test_reserved(), ctx->reserved_before);
	/* removing twice is fine too */
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p, NULL), 0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_CLEARED) - cleared0, 1ull);

	/* set again after removal: works, and runs */
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(q, &dslab_dtor_any), 0);
	dslab_dtor_free(test, p);
	dslab_dtor_free(test, q);
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, dslab_dtor_runs(test, pi), 0);
	KUNIT_EXPECT_EQ(test, dslab_dtor_runs(test, qi), 1);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_RUN) - ctx->dtor_run0, 1ull);
}

/* The accepting rows: any object, the object's type, an interface. */
static void dslab_dtor_set_accepted(struct kunit *test)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	void *untyped = dslab_dtor_obj(test, sizeof(struct dslab_dtor_foo));
	void *foo_any = dslab_dtor_typed(test, &dslab_dtor_foo_type);
	void *foo = dslab_dtor_typed(test, &dslab_dtor_foo_type);
	void *bar = dslab_dtor_typed(test, &dslab_dtor_bar_type);
	void *bar_if = dslab_dtor_typed(test, &dslab_dtor_bar_type);
	unsigned int ui, bi;

	KUNIT_ASSERT_NOT_NULL(test, untyped);
	KUNIT_ASSERT_NOT_NULL(test, foo_any);
	KUNIT_ASSERT_NOT_NULL(test, foo);
	KUNIT_ASSERT_NOT_NULL(test, bar);
	KUNIT_ASSERT_NOT_NULL(test, bar_if);
	ui = dslab_dtor_idx(untyped);
	bi = dslab_dtor_idx(bar_if);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(untyped, &dslab_dtor_any), 0);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(foo_any, &dslab_dtor_any), 0);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(foo, &dslab_dtor_foo), 0);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(bar, &dslab_dtor_bar), 0);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(bar_if, &dslab_dtor_iface_d), 0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_SET) - ctx->dtor_set0, 5ull);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_REFUSED), ctx->refused0);
	dslab_dtor_expect_pinned(test, 5);

	/* registration does not touch the object */
	KUNIT_EXPECT_TRUE(test, dslab_dtor_check_obj(bar, sizeof(struct dslab_dtor_bar)));

	dslab_dtor_free(test, untyped);
	dslab_dtor_free(test, foo_any);
	dslab_dtor_free(test, foo);
	dslab_dtor_free(test, bar);
	dslab_dtor_free(test, bar_if);
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->kind_runs[DSLAB_K_ANY]), 2);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->kind_runs[DSLAB_K_FOO]), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->kind_runs[DSLAB_K_BAR]), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->kind_runs[DSLAB_K_IFACE]), 1);
	KUNIT_EXPECT_EQ(test, dslab_dtor_runs(test, ui), 1);
	KUNIT_EXPECT_EQ(test, dslab_dtor_runs(test, bi), 1);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_RUN) - ctx->dtor_run0, 5ull);
	KUNIT_EXPECT_EQ(test, module_refcount(THIS_MODULE), ctx->modref_before);
}

/* dslab_new() refuses NULL and interface types. */
static void dslab_dtor_new_types(struct kunit *test)
{
	struct dslab_dtor_foo *f;

	KUNIT_EXPECT_NULL(test, dslab_new(NULL, GFP_KERNEL));
	KUNIT_EXPECT_NULL(test, dslab_new(&dslab_dtor_iface, GFP_KERNEL));
	f = dslab_new_typed(dslab_dtor_foo_type, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_EXPECT_GE(test, dslab_ksize(f), sizeof(*f));
	/* dslab_new() zeroes */
	KUNIT_EXPECT_NULL(test, memchr_inv(f, 0, sizeof(*f)));
	dslab_free(f);
}

/*
 * A duplicate is refused before anything is allocated: under memory
 * pressure it is still -EEXIST, not -ENOMEM.  The owner here is a module
 * with no pins yet, whose record registration would have to allocate.
 */
static void dslab_dtor_set_exists_first(struct kunit *test)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	void *p = dslab_dtor_typed(test, &dslab_dtor_bar_type);
	struct module *fresh;
	int ret;

	fresh = kunit_kzalloc(test, sizeof(*fresh), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, fresh);
	fresh->state = MODULE_STATE_LIVE;
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_EQ(test, dslab_set_destructor(p, &dslab_dtor_bar), 0);

	dslab_fault_fail_nth(1);
	ret = __dslab_set_destructor(p, &dslab_dtor_any, GFP_KERNEL, fresh);
	KUNIT_EXPECT_EQ_MSG(test, dslab_fault_pending(), 1u,
			    "a duplicate registration tried to allocate");
	dslab_fault_fail_nth(0);
	KUNIT_EXPECT_EQ(test, ret, -EEXIST);
	KUNIT_EXPECT_EQ(test, dslab_test_owner_pins(fresh), 0L);
	KUNIT_EXPECT_EQ(test, dslab_test_reserved(), ctx->reserved_before + 1);
	dslab_dtor_free(test, p);
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->kind_runs[DSLAB_K_BAR]), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->kind_runs[DSLAB_K_ANY]), 0);
}

/*
 * dslab_new_dtor() is dslab_new() and dslab_set_destructor_gfp() in one:
 * typed, zeroed, the destructor set; refused, it leaves nothing behind.
 */
static void dslab_dtor_new_dtor(struct kunit *test)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	long inuse = dslab_objects_inuse();
	struct dslab_dtor_hdr *h;
	struct dslab_dtor_bar *b;
	void *p;

	b = dslab_new_dtor(dslab_dtor_bar_type, dslab_dtor_bar, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_EXPECT_NULL(test, memchr_inv(b, 0, sizeof(*b)));
	KUNIT_EXPECT_EQ(test, dslab_test_reserved(), ctx->reserved_before + 1);
	/* its destructor is set: a second one is a duplicate */
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(b, &dslab_dtor_any), -EEXIST);
	/* the header the recorder checks, as dslab_dtor_typed() writes it */
	h = (struct dslab_dtor_hdr *)b;
	h->idx = ctx->n;
	h->magic = DSLAB_DTOR_MAGIC ^ h->idx;
	h->fill = 0x40 + h->idx % 64;
	memset(h + 1, h->fill, sizeof(*b) - sizeof(*h));
	dslab_free(b);
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->kind_runs[DSLAB_K_BAR]), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->bad_obj), 0);

	/* a destructor for another type: refused, the object freed again */
	KUNIT_EXPECT_NULL(test, dslab_new_dtor(dslab_dtor_bar_type,
					       dslab_dtor_foo, GFP_KERNEL));
	KUNIT_EXPECT_NULL(test, __dslab_new_dtor(&dslab_dtor_bar_type, NULL,
						 GFP_KERNEL, THIS_MODULE));
	/* out of memory for the registration: nothing left allocated */
	dslab_fault_fail_all(true);
	p = dslab_new_dtor(dslab_dtor_bar_type, dslab_dtor_bar, GFP_KERNEL);
	dslab_fault_fail_all(false);
	KUNIT_EXPECT_NULL(test, p);
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, dslab_objects_inuse(), inuse);
	KUNIT_EXPECT_EQ(test, dslab_test_reserved(), ctx->reserved_before);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->kind_runs[DSLAB_K_BAR]), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->kind_runs[DSLAB_K_FOO]), 0);
}

/* -ENOMEM from every allocation registration makes: nothing changes. */
static void dslab_dtor_set_enomem(struct kunit *test)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	unsigned int nth, nomem = 0, ok = 0;

	for (nth = 1; nth <= 8; nth++) {
		/* a span without metadata yet: a large object gets its own */
		void *p = dslab_alloc(40000, GFP_KERNEL);
		int ret, ref = module_refcount(THIS_MODULE);
		unsigned long reserved = dslab_test_reserved();
		u64 set0 = dslab_test_stat(DTOR_SET), run0 = dslab_test_stat(DTOR_RUN);

		KUNIT_ASSERT_NOT_NULL(test, p);
		dslab_fault_fail_nth(nth);
		ret = dslab_set_destructor(p, &dslab_dtor_any);
		dslab_fault_fail_nth(0);
		if (ret == -ENOMEM) {
			nomem++;
			KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_SET), set0);
			KUNIT_EXPECT_EQ(test, module_refcount(THIS_MODULE), ref);
			KUNIT_EXPECT_EQ(test, dslab_test_reserved(), reserved);
			dslab_free(p);
			dslab_test_drain();
			KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_RUN), run0);
		} else {
			KUNIT_EXPECT_EQ_MSG(test, ret, 0, "fault at allocation %u", nth);
			ok++;
			KUNIT_EXPECT_EQ(test, dslab_set_destructor(p, NULL), 0);
			dslab_free(p);
		}
	}
	KUNIT_EXPECT_GT_MSG(test, nomem, 0u, "no injected failure reached registration");
	KUNIT_EXPECT_GT_MSG(test, ok, 0u, "registration never succeeded past the faults");
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->bad_obj), 0);
}

/* === The validation table: dslab_add_cleanup() === */

static void dslab_dtor_expect_err(struct kunit *test, struct dslab_cleanup *c,
				  long err, const char *what)
{
	KUNIT_EXPECT_TRUE_MSG(test, IS_ERR(c), "%s: got a handle, want %ld", what, err);
	if (IS_ERR(c))
		KUNIT_EXPECT_EQ_MSG(test, PTR_ERR(c), err, "%s", what);
	else
		dslab_cleanup_cancel(c);
}

static void dslab_dtor_cleanup_null_obj(struct kunit *test)
{
	struct dslab_dtor_carg a = { };

	dslab_dtor_expect_err(test, dslab_add_cleanup(NULL, dslab_dtor_cleanup_fn, &a,
						      GFP_KERNEL), -EINVAL, "NULL");
	dslab_dtor_expect_unchanged(test, NULL, 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&a.runs), 0);
}

/*
 * Zero-size object: the table says "silently ignored, nothing recorded".
 * A NULL handle (ignored) or ERR_PTR(-EINVAL) are both accepted here;
 * nothing may be recorded either way and nothing may run.
 */
static void dslab_dtor_cleanup_zero_size(struct kunit *test)
{
	struct dslab_dtor_carg a = { };
	struct dslab_cleanup *c;

	c = dslab_add_cleanup(ZERO_SIZE_PTR, dslab_dtor_cleanup_fn, &a, GFP_KERNEL);
	KUNIT_EXPECT_TRUE_MSG(test, !c || PTR_ERR(c) == -EINVAL,
			      "zero-size object got a live handle");
	dslab_cleanup_cancel(c);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(CLEANUP_ADDED),
			((struct dslab_dtor_ctx *)test->priv)->cleanup_added0);
	dslab_free(ZERO_SIZE_PTR);
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, atomic_read(&a.runs), 0);
	dslab_dtor_expect_unchanged(test, NULL, IS_ERR(c) ? 1 : 0);
}

static void dslab_dtor_cleanup_static_and_foreign(struct kunit *test)
{
	struct dslab_dtor_foreign f[8];
	const void *stat[] = {
		&dslab_dtor_static_data, &dslab_dtor_static_bss,
		&dslab_dtor_static_rodata, (const void *)&jiffies,
	};
	unsigned long on_stack[4] = { };
	struct dslab_dtor_carg a = { };
	unsigned int n, i;
	void *vm;

	n = dslab_dtor_foreign_set(test, f, on_stack, &vm);
	for (i = 0; i < n; i++)
		dslab_dtor_expect_err(test, dslab_add_cleanup(f[i].ptr, dslab_dtor_cleanup_fn,
							      &a, GFP_KERNEL),
				      -EFAULT, f[i].what);
	for (i = 0; i < ARRAY_SIZE(stat); i++)
		dslab_dtor_expect_err(test, dslab_add_cleanup(stat[i], dslab_dtor_cleanup_fn,
							      &a, GFP_KERNEL),
				      -EFAULT, "static data");
	vfree(vm);
	dslab_dtor_expect_unchanged(test, NULL, n + ARRAY_SIZE(stat));
	KUNIT_EXPECT_EQ(test, atomic_read(&a.runs), 0);
}

static void dslab_dtor_cleanup_freed(struct kunit *test)
{
	struct dslab_dtor_carg a = { };
	void *p = dslab_dtor_obj(test, sizeof(struct dslab_dtor_foo));

	KUNIT_ASSERT_NOT_NULL(test, p);
	dslab_dtor_free(test, p);
	dslab_dtor_expect_err(test, dslab_add_cleanup(p, dslab_dtor_cleanup_fn, &a,
						      GFP_KERNEL), -EFAULT, "freed");
	dslab_dtor_expect_unchanged(test, NULL, 1);
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, atomic_read(&a.runs), 0);
}

static void dslab_dtor_cleanup_interior_fn_arg(struct kunit *test)
{
	struct dslab_dtor_carg a = { };
	u8 *p = dslab_dtor_obj(test, sizeof(struct dslab_dtor_foo));

	KUNIT_ASSERT_NOT_NULL(test, p);
	dslab_dtor_expect_err(test, dslab_add_cleanup(p + 8, dslab_dtor_cleanup_fn, &a,
						      GFP_KERNEL), -EINVAL, "interior");
	dslab_dtor_expect_err(test, dslab_add_cleanup(p, NULL, &a, GFP_KERNEL),
			      -EINVAL, "NULL fn");
	/* arg == obj would let the cleanup resurrect the object */
	dslab_dtor_expect_err(test, dslab_add_cleanup(p, dslab_dtor_cleanup_fn, p,
						      GFP_KERNEL), -EINVAL, "arg == obj");
	dslab_dtor_expect_unchanged(test, p, 3);
	KUNIT_EXPECT_EQ(test, atomic_read(&a.runs), 0);
}

/* Many cleanups, some cancelled before the free, one after (no-op). */
static void dslab_dtor_cleanup_many(struct kunit *test)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	struct dslab_dtor_carg *a;
	struct dslab_cleanup *h[24];
	u64 cancelled0 = dslab_test_stat(CLEANUP_CANCELLED);
	unsigned int i, want_cancelled = 0;
	void *p = dslab_dtor_obj(test, sizeof(struct dslab_dtor_foo));

	KUNIT_ASSERT_NOT_NULL(test, p);
	a = kunit_kcalloc(test, ARRAY_SIZE(h), sizeof(*a), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	for (i = 0; i < ARRAY_SIZE(h); i++) {
		h[i] = dslab_add_cleanup(p, dslab_dtor_cleanup_fn, &a[i],
					 i & 1 ? GFP_ATOMIC : GFP_KERNEL);
		KUNIT_ASSERT_FALSE_MSG(test, IS_ERR_OR_NULL(h[i]), "cleanup %u", i);
	}
	KUNIT_EXPECT_EQ(test, dslab_test_stat(CLEANUP_ADDED) - ctx->cleanup_added0,
			(u64)ARRAY_SIZE(h));
	/* one reservation per object, however many cleanups */
	KUNIT_EXPECT_EQ(test, dslab_test_reserved(), ctx->reserved_before + 1);
	dslab_dtor_expect_pinned(test, ARRAY_SIZE(h));
	for (i = 0; i < ARRAY_SIZE(h); i += 3) {
		/* live object: the cancel wins and says so */
		KUNIT_EXPECT_TRUE_MSG(test, dslab_cleanup_cancel(h[i]), "cleanup %u", i);
		want_cancelled++;
	}
	/* cancelling twice, and NULL / ERR_PTR handles, do nothing */
	KUNIT_EXPECT_FALSE(test, dslab_cleanup_cancel(h[0]));
	KUNIT_EXPECT_FALSE(test, dslab_cleanup_cancel(NULL));
	KUNIT_EXPECT_FALSE(test, dslab_cleanup_cancel(ERR_PTR(-EINVAL)));
	KUNIT_EXPECT_EQ(test, dslab_test_stat(CLEANUP_CANCELLED) - cancelled0,
			(u64)want_cancelled);
	dslab_dtor_expect_pinned(test, ARRAY_SIZE(h) - want_cancelled);

	dslab_dtor_free(test, p);
	/* queued now: cancelling is a no-op, the cleanup still runs */
	KUNIT_EXPECT_FALSE(test, dslab_cleanup_cancel(h[1]));
	dslab_test_drain();
	for (i = 0; i < ARRAY_SIZE(h); i++)
		KUNIT_EXPECT_EQ_MSG(test, atomic_read(&a[i].runs), i % 3 ? 1 : 0,
				    "cleanup %u", i);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(CLEANUP_CANCELLED) - cancelled0,
			(u64)want_cancelled);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(CLEANUP_RUN) - ctx->cleanup_run0,
			(u64)(ARRAY_SIZE(h) - want_cancelled));
	/* after it ran: still a no-op */
	KUNIT_EXPECT_FALSE(test, dslab_cleanup_cancel(h[2]));
	KUNIT_EXPECT_EQ(test, dslab_test_stat(CLEANUP_CANCELLED) - cancelled0,
			(u64)want_cancelled);
	for (i = 0; i < ARRAY_SIZE(h); i++)
		KUNIT_EXPECT_EQ(test, atomic_read(&a[i].bad_ctx), 0);
}

/* Cancelling every cleanup releases the reservation; nothing runs. */
static void dslab_dtor_cleanup_cancel_all(struct kunit *test)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	struct dslab_dtor_carg a = { };
	struct dslab_cleanup *h1, *h2;
	void *p = dslab_dtor_obj(test, sizeof(struct dslab_dtor_foo));

	KUNIT_ASSERT_NOT_NULL(test, p);
	h1 = dslab_add_cleanup(p, dslab_dtor_cleanup_fn, &a, GFP_KERNEL);
	h2 = dslab_add_cleanup(p, dslab_dtor_cleanup_fn, &a, GFP_KERNEL);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(h1));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(h2));
	KUNIT_EXPECT_PTR_NE(test, h1, h2);
	dslab_cleanup_cancel(h2);
	dslab_cleanup_cancel(h1);
	KUNIT_EXPECT_EQ(test, dslab_test_reserved(), ctx->reserved_before);
	KUNIT_EXPECT_EQ(test, module_refcount(THIS_MODULE), ctx->modref_before);
	dslab_dtor_free(test, p);
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, atomic_read(&a.runs), 0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(CLEANUP_RUN), ctx->cleanup_run0);
}

/* A destructor and cleanups on one object. */
static void dslab_dtor_with_cleanups(struct kunit *test)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	struct dslab_dtor_carg a[3] = { };
	struct dslab_cleanup *h;
	struct dslab_dtor_bar *p = dslab_dtor_typed(test, &dslab_dtor_bar_type);
	unsigned int i, pi;

	KUNIT_ASSERT_NOT_NULL(test, p);
	pi = dslab_dtor_idx(p);
	/* a cleanup before the destructor, two after */
	h = dslab_add_cleanup(p, dslab_dtor_cleanup_fn, &a[0], GFP_KERNEL);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(h));
	KUNIT_ASSERT_EQ(test, dslab_set_destructor(p, &dslab_dtor_bar), 0);
	for (i = 1; i < 3; i++) {
		h = dslab_add_cleanup(p, dslab_dtor_cleanup_fn, &a[i], GFP_KERNEL);
		KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(h));
	}
	KUNIT_EXPECT_EQ(test, dslab_test_reserved(), ctx->reserved_before + 1);
	/* the destructor is still unique */
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p, &dslab_dtor_any), -EEXIST);
	/* removing the destructor keeps the cleanups */
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p, NULL), 0);
	KUNIT_EXPECT_EQ(test, dslab_test_reserved(), ctx->reserved_before + 1);
	KUNIT_ASSERT_EQ(test, dslab_set_destructor(p, &dslab_dtor_iface_d), 0);

	dslab_dtor_free(test, p);
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, dslab_dtor_runs(test, pi), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->kind_runs[DSLAB_K_IFACE]), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->kind_runs[DSLAB_K_BAR]), 0);
	for (i = 0; i < 3; i++) {
		KUNIT_EXPECT_EQ_MSG(test, atomic_read(&a[i].runs), 1, "cleanup %u", i);
		/* documented: the destructor runs first, cleanups in order */
		KUNIT_EXPECT_GT_MSG(test, a[i].seq, ctx->dtor_seq[pi],
				    "cleanup %u ran before the destructor", i);
		if (i)
			KUNIT_EXPECT_GT(test, a[i].seq, a[i - 1].seq);
	}
}

/*
 * After dslab_free() the object is dead for its caller even while its
 * destructor is still queued or running: not found, no registration,
 * a second free is a double free.
 */
static DECLARE_COMPLETION(dslab_dtor_block_started);
static DECLARE_COMPLETION(dslab_dtor_block_release);

static void dslab_dtor_blocking_fn(void *obj)
{
	complete(&dslab_dtor_block_started);
	wait_for_completion_timeout(&dslab_dtor_block_release, 10 * HZ);
	dslab_dtor_any_fn(obj);
}

static void dslab_dtor_free_semantics(struct kunit *test)
{
	static const struct dslab_dtor blocking = { .fn = dslab_dtor_blocking_fn };
	struct dslab_dtor_carg a = { };
	u64 dbl0 = dslab_test_stat(DOUBLE_FREE);
	struct dslab_cleanup *c;
	u8 *p = dslab_dtor_obj(test, sizeof(struct dslab_dtor_foo));
	unsigned int pi;
	bool started;

	KUNIT_ASSERT_NOT_NULL(test, p);
	pi = dslab_dtor_idx(p);
	reinit_completion(&dslab_dtor_block_started);
	reinit_completion(&dslab_dtor_block_release);
	KUNIT_ASSERT_EQ(test, dslab_set_destructor(p, &blocking), 0);
	dslab_dtor_free(test, p);
	started = wait_for_completion_timeout(&dslab_dtor_block_started, 10 * HZ);
	KUNIT_EXPECT_TRUE_MSG(test, started, "destructor did not start within 10 s");

	/* while it runs (or, had it not started, while it is queued) */
	KUNIT_EXPECT_FALSE(test, dslab_find_object(p, NULL, NULL));
	KUNIT_EXPECT_EQ(test, dslab_ksize(p), (size_t)0);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p, &dslab_dtor_any), -EFAULT);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(p, NULL), -EFAULT);
	c = dslab_add_cleanup(p, dslab_dtor_cleanup_fn, &a, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(c), -EFAULT);
	dslab_free(p);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DOUBLE_FREE) - dbl0, 1ull);

	complete(&dslab_dtor_block_release);
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, dslab_dtor_runs(test, pi), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&a.runs), 0);
}

static void dslab_dtor_cleanup_enomem(struct kunit *test)
{
	unsigned int nth, nomem = 0, ok = 0;
	struct dslab_dtor_carg a = { };

	for (nth = 1; nth <= 8; nth++) {
		void *p = dslab_alloc(40000, GFP_KERNEL);
		int ref = module_refcount(THIS_MODULE);
		unsigned long reserved = dslab_test_reserved();
		u64 added0 = dslab_test_stat(CLEANUP_ADDED);
		struct dslab_cleanup *h;

		KUNIT_ASSERT_NOT_NULL(test, p);
		dslab_fault_fail_nth(nth);
		h = dslab_add_cleanup(p, dslab_dtor_cleanup_fn, &a, GFP_KERNEL);
		dslab_fault_fail_nth(0);
		if (IS_ERR(h)) {
			KUNIT_EXPECT_EQ_MSG(test, PTR_ERR(h), -ENOMEM, "fault at %u", nth);
			nomem++;
			KUNIT_EXPECT_EQ(test, dslab_test_stat(CLEANUP_ADDED), added0);
			KUNIT_EXPECT_EQ(test, module_refcount(THIS_MODULE), ref);
			KUNIT_EXPECT_EQ(test, dslab_test_reserved(), reserved);
		} else {
			ok++;
			dslab_cleanup_cancel(h);
		}
		dslab_free(p);
	}
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, atomic_read(&a.runs), 0);
	KUNIT_EXPECT_GT(test, nomem, 0u);
	KUNIT_EXPECT_GT(test, ok, 0u);
}

/* === Races on one object from every CPU === */

#define DSLAB_RACE_OBJS		128

struct dslab_dtor_race {
	struct kunit *test;
	struct dslab_test_barrier barrier;
	void **objs;
	struct dslab_cleanup **pre;		/* [DSLAB_RACE_OBJS] */
	struct dslab_dtor_carg *pre_arg;	/* [DSLAB_RACE_OBJS] */
	struct dslab_dtor_carg *add_arg;	/* [DSLAB_RACE_OBJS] */
	atomic_t *ok;				/* [DSLAB_RACE_OBJS] */
	atomic_t *cancel_tried;			/* [DSLAB_RACE_OBJS] */
	unsigned int first;			/* recorder index of objs[0] */
	atomic_t eexist, efault, other;
	atomic_t adds_ok;
};

static struct dslab_dtor_race *dslab_dtor_race_new(struct kunit *test,
						   unsigned int nr)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	struct dslab_dtor_race *r;
	unsigned int i;

	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	if (!r)
		return NULL;
	r->test = test;
	r->objs = kunit_kcalloc(test, DSLAB_RACE_OBJS, sizeof(void *), GFP_KERNEL);
	r->pre = kunit_kcalloc(test, DSLAB_RACE_OBJS, sizeof(*r->pre), GFP_KERNEL);
	r->pre_arg = kunit_kcalloc(test, DSLAB_RACE_OBJS, sizeof(*r->pre_arg), GFP_KERNEL);
	r->add_arg = kunit_kcalloc(test, DSLAB_RACE_OBJS, sizeof(*r->add_arg), GFP_KERNEL);
	r->ok = kunit_kcalloc(test, DSLAB_RACE_OBJS, sizeof(*r->ok), GFP_KERNEL);
	r->cancel_tried = kunit_kcalloc(test, DSLAB_RACE_OBJS, sizeof(*r->cancel_tried),
					GFP_KERNEL);
	if (!r->objs || !r->pre || !r->pre_arg || !r->add_arg || !r->ok ||
	    !r->cancel_tried)
		return NULL;
	dslab_test_barrier_init(&r->barrier, nr);
	r->first = ctx->n;
	for (i = 0; i < DSLAB_RACE_OBJS; i++) {
		r->objs[i] = dslab_dtor_obj(test, sizeof(struct dslab_dtor_foo));
		if (!r->objs[i])
			return NULL;
	}
	return r;
}

static void dslab_dtor_race_count(struct dslab_dtor_race *r, unsigned int k, int ret)
{
	if (!ret)
		atomic_inc(&r->ok[k]);
	else if (ret == -EEXIST)
		atomic_inc(&r->eexist);
	else if (ret == -EFAULT)
		atomic_inc(&r->efault);
	else
		atomic_inc(&r->other);
}

/* Every thread sets a destructor on the same object at once. */
static void dslab_dtor_race_set_fn(void *data, unsigned int idx, unsigned int nr)
{
	struct dslab_dtor_race *r = data;
	unsigned int k;

	for (k = 0; k < DSLAB_RACE_OBJS; k++) {
		dslab_test_barrier_wait(&r->barrier);
		dslab_dtor_race_count(r, k, dslab_set_destructor(r->objs[k],
								 &dslab_dtor_any));
	}
}

static void dslab_dtor_race_set(struct kunit *test)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	unsigned int nr = dslab_test_nr_threads(), k;
	struct dslab_dtor_race *r;

	if (nr < 2)
		kunit_skip(test, "needs at least 2 online CPUs");
	r = dslab_dtor_race_new(test, nr);
	KUNIT_ASSERT_NOT_NULL(test, r);
	KUNIT_ASSERT_EQ(test, dslab_test_on_cpus(dslab_dtor_race_set_fn, r, nr), (int)nr);
	for (k = 0; k < DSLAB_RACE_OBJS; k++)
		KUNIT_EXPECT_EQ_MSG(test, atomic_read(&r->ok[k]), 1, "object %u", k);
	KUNIT_EXPECT_EQ(test, atomic_read(&r->eexist), (int)(DSLAB_RACE_OBJS * (nr - 1)));
	KUNIT_EXPECT_EQ(test, atomic_read(&r->other) + atomic_read(&r->efault), 0);
	KUNIT_EXPECT_EQ(test, dslab_test_reserved(), ctx->reserved_before + DSLAB_RACE_OBJS);
	for (k = 0; k < DSLAB_RACE_OBJS; k++)
		dslab_dtor_free(test, r->objs[k]);
	dslab_test_drain();
	for (k = 0; k < DSLAB_RACE_OBJS; k++)
		KUNIT_EXPECT_EQ_MSG(test, dslab_dtor_runs(test, r->first + k), 1,
				    "object %u", k);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_RUN) - ctx->dtor_run0, (u64)DSLAB_RACE_OBJS);
}

/*
 * Owner pins through zero from every CPU at once: each thread sets and
 * removes a destructor on its own object, so this module's pin count
 * keeps crossing 0 <-> 1 on several CPUs while the others pin and unpin
 * on the lockless paths.  Whenever a thread holds a pin, dslab must count
 * it (the owner is hashed with pins > 0); at the end, no pin leaks.
 */
#define DSLAB_OWNER_CHURN_ROUNDS	2000
#define DSLAB_OWNER_CHURN_THREADS	8

struct dslab_dtor_churn {
	struct kunit *test;
	struct dslab_test_barrier barrier;
	void *objs[DSLAB_OWNER_CHURN_THREADS];
	atomic_t set_failed, unpinned;
};

static void dslab_dtor_churn_fn(void *data, unsigned int idx, unsigned int nr)
{
	struct dslab_dtor_churn *c = data;
	unsigned int i;

	dslab_test_barrier_wait(&c->barrier);
	for (i = 0; i < DSLAB_OWNER_CHURN_ROUNDS; i++) {
		if (dslab_set_destructor(c->objs[idx], &dslab_dtor_any)) {
			atomic_inc(&c->set_failed);
			continue;
		}
		if (dslab_test_owner_pins(THIS_MODULE) < 1)
			atomic_inc(&c->unpinned);
		if (dslab_set_destructor(c->objs[idx], NULL))
			atomic_inc(&c->set_failed);
	}
}

static void dslab_dtor_owner_churn(struct kunit *test)
{
	unsigned int nr = min_t(unsigned int, dslab_test_nr_threads(),
				 DSLAB_OWNER_CHURN_THREADS);
	struct dslab_dtor_churn *c;
	unsigned int i;

	if (nr < 2)
		kunit_skip(test, "needs at least 2 online CPUs");
	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->test = test;
	dslab_test_barrier_init(&c->barrier, nr);
	for (i = 0; i < nr; i++) {
		c->objs[i] = dslab_dtor_obj(test, 64);
		KUNIT_ASSERT_NOT_NULL(test, c->objs[i]);
	}
	KUNIT_ASSERT_EQ(test, dslab_test_on_cpus(dslab_dtor_churn_fn, c, nr), (int)nr);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->set_failed), 0);
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&c->unpinned), 0,
			    "a destructor was set while dslab counted no pin on its module");
	dslab_dtor_expect_pinned(test, 0);
}

/*
 * Thread 0 frees while the others set destructors and add cleanups and
 * thread 1 cancels a cleanup added beforehand.  Per object: at most one
 * set succeeds and the destructor runs exactly when one did; every added
 * cleanup runs once; the pre-added cleanup runs unless it was cancelled.
 */
static void dslab_dtor_race_free_fn(void *data, unsigned int idx, unsigned int nr)
{
	struct dslab_dtor_race *r = data;
	unsigned int k;

	for (k = 0; k < DSLAB_RACE_OBJS; k++) {
		unsigned int role = (idx + k) % 3;

		dslab_test_barrier_wait(&r->barrier);
		if (idx == 0) {
			dslab_free(r->objs[k]);
		} else if (role == 0) {
			atomic_inc(&r->cancel_tried[k]);
			dslab_cleanup_cancel(r->pre[k]);
		} else if (role == 1) {
			struct dslab_cleanup *c;

			c = dslab_add_cleanup(r->objs[k], dslab_dtor_cleanup_fn,
					      &r->add_arg[k], GFP_ATOMIC);
			if (!IS_ERR(c))
				atomic_inc(&r->adds_ok);
			else if (PTR_ERR(c) != -EFAULT)
				atomic_inc(&r->other);
		} else {
			dslab_dtor_race_count(r, k, dslab_set_destructor(r->objs[k],
									 &dslab_dtor_any));
		}
	}
}

static void dslab_dtor_race_free(struct kunit *test)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	u64 cancelled0 = dslab_test_stat(CLEANUP_CANCELLED);
	unsigned int nr = dslab_test_nr_threads(), k;
	unsigned int pre_runs = 0, add_runs = 0, sets = 0;
	struct dslab_dtor_race *r;

	if (nr < 2)
		kunit_skip(test, "needs at least 2 online CPUs");
	r = dslab_dtor_race_new(test, nr);
	KUNIT_ASSERT_NOT_NULL(test, r);
	for (k = 0; k < DSLAB_RACE_OBJS; k++) {
		r->pre[k] = dslab_add_cleanup(r->objs[k], dslab_dtor_cleanup_fn,
					      &r->pre_arg[k], GFP_KERNEL);
		KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(r->pre[k]));
	}
	KUNIT_ASSERT_EQ(test, dslab_test_on_cpus(dslab_dtor_race_free_fn, r, nr), (int)nr);
	/* thread 0 freed every object: the case no longer owns them */
	for (k = 0; k < DSLAB_RACE_OBJS; k++)
		ctx->objs[r->first + k] = NULL;
	dslab_test_drain();

	KUNIT_EXPECT_EQ(test, atomic_read(&r->other), 0);
	for (k = 0; k < DSLAB_RACE_OBJS; k++) {
		int ok = atomic_read(&r->ok[k]);

		KUNIT_EXPECT_LE_MSG(test, ok, 1, "object %u: %d destructors set", k, ok);
		KUNIT_EXPECT_EQ_MSG(test, dslab_dtor_runs(test, r->first + k), ok,
				    "object %u: destructor set %d times", k, ok);
		KUNIT_EXPECT_LE(test, atomic_read(&r->pre_arg[k].runs), 1);
		if (!atomic_read(&r->cancel_tried[k]))
			KUNIT_EXPECT_EQ_MSG(test, atomic_read(&r->pre_arg[k].runs), 1,
					    "object %u: uncancelled cleanup", k);
		sets += ok;
		pre_runs += atomic_read(&r->pre_arg[k].runs);
		add_runs += atomic_read(&r->add_arg[k].runs);
	}
	/* a cancel either won (cancelled) or lost (the cleanup ran) */
	KUNIT_EXPECT_EQ(test, pre_runs + (unsigned int)(dslab_test_stat(CLEANUP_CANCELLED) -
							cancelled0),
			(unsigned int)DSLAB_RACE_OBJS);
	KUNIT_EXPECT_EQ(test, add_runs, (unsigned int)atomic_read(&r->adds_ok));
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_RUN) - ctx->dtor_run0, (u64)sets);
	kunit_info(test, "%u of %u sets won against the free, %d adds, %u cancels won",
		   sets, DSLAB_RACE_OBJS, atomic_read(&r->adds_ok),
		   DSLAB_RACE_OBJS - pre_runs);
}

/*
 * Set and remove churn from every CPU; after a final removal the free
 * runs nothing and every successful set was matched by a removal.
 */
static void dslab_dtor_race_remove_fn(void *data, unsigned int idx, unsigned int nr)
{
	struct dslab_dtor_race *r = data;
	unsigned int i;

	dslab_test_barrier_wait(&r->barrier);
	for (i = 0; i < 2000; i++) {
		void *obj = r->objs[i % 4];
		int ret;

		if ((i + idx) & 1) {
			ret = dslab_set_destructor(obj, &dslab_dtor_any);
			if (ret && ret != -EEXIST)
				atomic_inc(&r->other);
		} else if (dslab_set_destructor(obj, NULL)) {
			atomic_inc(&r->other);
		}
	}
}

static void dslab_dtor_race_remove(struct kunit *test)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	u64 set0 = dslab_test_stat(DTOR_SET), cleared0 = dslab_test_stat(DTOR_CLEARED);
	unsigned int nr = dslab_test_nr_threads(), k;
	struct dslab_dtor_race *r;

	if (nr < 2)
		kunit_skip(test, "needs at least 2 online CPUs");
	r = dslab_dtor_race_new(test, nr);
	KUNIT_ASSERT_NOT_NULL(test, r);
	KUNIT_ASSERT_EQ(test, dslab_test_on_cpus(dslab_dtor_race_remove_fn, r, nr), (int)nr);
	KUNIT_EXPECT_EQ(test, atomic_read(&r->other), 0);
	for (k = 0; k < 4; k++)
		KUNIT_EXPECT_EQ(test, dslab_set_destructor(r->objs[k], NULL), 0);
	KUNIT_EXPECT_GT(test, dslab_test_stat(DTOR_SET) - set0, 0ull);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_SET) - set0,
			dslab_test_stat(DTOR_CLEARED) - cleared0);
	KUNIT_EXPECT_EQ(test, dslab_test_reserved(), ctx->reserved_before);
	KUNIT_EXPECT_EQ(test, module_refcount(THIS_MODULE), ctx->modref_before);
	for (k = 0; k < 4; k++)
		dslab_dtor_free(test, r->objs[k]);
	dslab_test_drain();
	for (k = 0; k < 4; k++)
		KUNIT_EXPECT_EQ(test, dslab_dtor_runs(test, r->first + k), 0);
}

/*
 * A live fake module whose data holds a copy of dslab_dtor_foo_type
 * (*@type), for what its unload does to the objects it leaves.
 */
static struct module *dslab_dtor_fake_module(struct kunit *test,
					     struct dslab_type **type)
{
	struct module *fake = kunit_kzalloc(test, sizeof(*fake), GFP_KERNEL);

	*type = kunit_kzalloc(test, sizeof(**type), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, fake);
	KUNIT_ASSERT_NOT_NULL(test, *type);
	**type = dslab_dtor_foo_type;
	fake->state = MODULE_STATE_LIVE;
	strscpy(fake->name, "dslab_test_fake", sizeof(fake->name));
	dslab_compat_module_set_data(fake, *type, sizeof(**type));
	return fake;
}

/*
 * What a client module's unload does to what it left behind
 * (mm/owner.c), on a fake module: a struct module of the test's own whose
 * data region holds a dslab_type, so nothing real is unloaded.  Its
 * destructor and cleanup on a live object are dropped and its type
 * forgotten; its queued destructor runs before "unload" returns; nothing
 * stays pinned; and from GOING on it cannot register.
 */
static void dslab_dtor_module_going(struct kunit *test)
{
	struct dslab_dtor_ctx *ctx = test->priv;
	struct dslab_dtor_carg carg = { };
	struct dslab_forgotten f;
	struct dslab_type *type;
	struct dslab_cleanup *c;
	struct module *fake;
	void *live, *queued;
	unsigned int lidx, qidx;

	fake = dslab_dtor_fake_module(test, &type);

	live = dslab_dtor_typed(test, type);
	queued = dslab_dtor_obj(test, 64);
	KUNIT_ASSERT_NOT_NULL(test, live);
	KUNIT_ASSERT_NOT_NULL(test, queued);
	lidx = dslab_dtor_idx(live);
	qidx = dslab_dtor_idx(queued);
	KUNIT_ASSERT_EQ(test, __dslab_set_destructor(live, &dslab_dtor_any, GFP_KERNEL, fake), 0);
	c = __dslab_add_cleanup(live, dslab_dtor_cleanup_fn, &carg, GFP_KERNEL, fake);
	KUNIT_ASSERT_FALSE(test, IS_ERR(c));
	KUNIT_ASSERT_EQ(test, __dslab_set_destructor(queued, &dslab_dtor_any, GFP_KERNEL, fake), 0);
	KUNIT_EXPECT_EQ(test, dslab_test_owner_pins(fake), 3L);
	KUNIT_EXPECT_EQ(test, module_refcount(THIS_MODULE), ctx->modref_before);

	/* The module's exit freed one object; the other it leaked. */
	dslab_dtor_free(test, queued);
	fake->state = MODULE_STATE_GOING;
	dslab_test_owner_going(fake, &f);
	KUNIT_EXPECT_EQ_MSG(test, dslab_dtor_runs(test, qidx), 1,
			    "a queued destructor had not run when the unload returned");
	KUNIT_EXPECT_EQ(test, f.dtors, 1UL);
	KUNIT_EXPECT_EQ(test, f.cleanups, 1UL);
	KUNIT_EXPECT_EQ(test, f.types, 1UL);
	KUNIT_EXPECT_EQ(test, dslab_test_owner_pins(fake), 0L);
	KUNIT_EXPECT_EQ(test, dslab_test_reserved(), ctx->reserved_before);

	/* Going: refused, nothing recorded. */
	KUNIT_EXPECT_EQ(test, __dslab_set_destructor(live, &dslab_dtor_any, GFP_KERNEL, fake),
			-EBUSY);
	KUNIT_EXPECT_PTR_EQ(test, __dslab_add_cleanup(live, dslab_dtor_cleanup_fn,
						      &carg, GFP_KERNEL, fake),
			    ERR_PTR(-EBUSY));
	KUNIT_EXPECT_EQ(test, dslab_test_owner_pins(fake), 0L);
	/* Its handle is gone with it: cancelling is a no-op. */
	dslab_cleanup_cancel(c);

	/* The leaked object outlives the module: nothing of it runs. */
	dslab_dtor_free(test, live);
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, dslab_dtor_runs(test, lidx), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&carg.runs), 0);
}

/*
 * A module that only allocated typed objects, never registering anything,
 * has no pins; its unload still forgets its types on the objects that
 * outlive it, and only on those.
 */
static void dslab_dtor_module_going_types(struct kunit *test)
{
	struct dslab_forgotten f;
	struct dslab_type *type;
	struct module *fake;
	void *leaked, *mine;

	fake = dslab_dtor_fake_module(test, &type);

	leaked = dslab_dtor_typed(test, type);
	mine = dslab_dtor_typed(test, &dslab_dtor_foo_type);
	KUNIT_ASSERT_NOT_NULL(test, leaked);
	KUNIT_ASSERT_NOT_NULL(test, mine);
	KUNIT_EXPECT_EQ(test, dslab_test_owner_pins(fake), 0L);

	fake->state = MODULE_STATE_GOING;
	dslab_test_owner_going(fake, &f);
	KUNIT_EXPECT_EQ(test, f.types, 1UL);
	KUNIT_EXPECT_EQ(test, f.dtors, 0UL);
	/* Untyped now, but still an object: an untyped destructor is taken. */
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(leaked, &dslab_dtor_any), 0);
	/* This module's type is untouched: its typed destructor is taken. */
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(mine, &dslab_dtor_foo), 0);
	dslab_dtor_free(test, leaked);
	dslab_dtor_free(test, mine);
	dslab_test_drain();
}

/*
 * A type declared in a header (DSLAB_TYPE_DECLARE) and defined once
 * (DSLAB_TYPE_DEFINE) is one type in every file: an object allocated in
 * main_test.c takes this file's typed destructor, one that takes a const
 * pointer.  The pitfall it replaces: DSLAB_TYPE() of the same C type in
 * another file is another type, refused with -EINVAL.
 */
DSLAB_TYPE_DEFINE(dslab_test_shared_type, struct dslab_test_shared);

static atomic_t dslab_dtor_shared_runs = ATOMIC_INIT(0);

static void dslab_dtor_shared_fn(const struct dslab_test_shared *o)
{
	if (o->magic == DSLAB_DTOR_MAGIC)
		atomic_inc(&dslab_dtor_shared_runs);
}

DSLAB_DTOR(dslab_dtor_shared, dslab_test_shared_type, dslab_dtor_shared_fn);

static void dslab_dtor_shared_type(struct kunit *test)
{
	struct dslab_test_shared *shared, *twin;

	atomic_set(&dslab_dtor_shared_runs, 0);
	shared = dslab_test_new_shared(GFP_KERNEL);
	twin = dslab_test_new_twin(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, shared);
	if (!twin)
		dslab_free(shared);
	KUNIT_ASSERT_NOT_NULL(test, twin);
	shared->magic = DSLAB_DTOR_MAGIC;
	twin->magic = DSLAB_DTOR_MAGIC;

	KUNIT_EXPECT_EQ(test, dslab_set_destructor(shared, &dslab_dtor_shared), 0);
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(twin, &dslab_dtor_shared), -EINVAL);
	dslab_free(shared);
	dslab_free(twin);
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, atomic_read(&dslab_dtor_shared_runs), 1);
}

static struct kunit_case dslab_dtor_cases[] = {
	/* dslab_set_destructor(), the table row by row */
	KUNIT_CASE(dslab_dtor_set_null_obj),
	KUNIT_CASE(dslab_dtor_set_zero_size),
	KUNIT_CASE(dslab_dtor_set_static_data),
	KUNIT_CASE(dslab_dtor_set_foreign),
	KUNIT_CASE(dslab_dtor_set_freed),
	KUNIT_CASE(dslab_dtor_set_interior),
	KUNIT_CASE(dslab_dtor_set_null_fn),
	KUNIT_CASE(dslab_dtor_set_wrong_type),
	KUNIT_CASE(dslab_dtor_set_typed_on_untyped),
	KUNIT_CASE(dslab_dtor_set_exists),
	KUNIT_CASE(dslab_dtor_set_exists_first),
	KUNIT_CASE(dslab_dtor_new_dtor),
	KUNIT_CASE(dslab_dtor_set_remove),
	KUNIT_CASE(dslab_dtor_set_accepted),
	KUNIT_CASE(dslab_dtor_new_types),
	KUNIT_CASE(dslab_dtor_set_enomem),
	/* dslab_add_cleanup(), the same rows */
	KUNIT_CASE(dslab_dtor_cleanup_null_obj),
	KUNIT_CASE(dslab_dtor_cleanup_zero_size),
	KUNIT_CASE(dslab_dtor_cleanup_static_and_foreign),
	KUNIT_CASE(dslab_dtor_cleanup_freed),
	KUNIT_CASE(dslab_dtor_cleanup_interior_fn_arg),
	KUNIT_CASE(dslab_dtor_cleanup_many),
	KUNIT_CASE(dslab_dtor_cleanup_cancel_all),
	KUNIT_CASE(dslab_dtor_cleanup_enomem),
	/* at free */
	KUNIT_CASE(dslab_dtor_with_cleanups),
	KUNIT_CASE(dslab_dtor_free_semantics),
	/* races */
	KUNIT_CASE(dslab_dtor_race_set),
	KUNIT_CASE(dslab_dtor_owner_churn),
	KUNIT_CASE(dslab_dtor_module_going),
	KUNIT_CASE(dslab_dtor_module_going_types),
	KUNIT_CASE(dslab_dtor_shared_type),
	KUNIT_CASE(dslab_dtor_race_free),
	KUNIT_CASE(dslab_dtor_race_remove),
	{}
};

static struct kunit_suite dslab_dtor_suite = {
	.name = "dslab_dtor",
	.init = dslab_dtor_test_init,
	.exit = dslab_dtor_test_exit,
	.test_cases = dslab_dtor_cases,
};

kunit_test_suite(dslab_dtor_suite);
