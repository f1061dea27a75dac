// SPDX-License-Identifier: GPL-2.0
/*
 * Suite dslab_runner: the FinBlock queue and the destructor runner
 * (mm/finq.c).
 *
 * Destructors run exactly once for thousands of objects freed from every
 * CPU at once, and for objects freed in hardirq and softirq; an object's
 * memory is not handed out again before its destructor returned; the
 * barrier waits for everything queued before it, RCU-deferred frees
 * included; dslab_free_rcu() waits for readers that were already inside
 * rcu_read_lock(); destructors may free further objects (with their own
 * destructors), allocate and register; dslab_free() never allocates, so
 * injected allocation failures lose nothing; the runner sleeps when idle
 * and wakes when work is queued.
 *
 * Every destructor here records its object's index (stored in the object,
 * so a destructor also proves the contents were intact) in the case's
 * struct dslab_finq_ctx.
 */
#include <linux/delay.h>
#include <linux/ktime.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>

#include "dslab_test.h"

#define DSLAB_FINQ_MAGIC	0xf1aa11d7e57ab1e0ull

struct dslab_finq_obj {
	u64 magic;		/* DSLAB_FINQ_MAGIC ^ idx */
	u32 idx;
	u32 size;		/* bytes allocated */
	struct dslab_finq_obj *next;	/* chain cases: freed by the destructor */
	u64 fill[];		/* ~magic, to the end of the object */
};

struct dslab_finq_ctx {
	long inuse_before;
	unsigned long reserved_before;
	u64 dtor_run0, cleanup_run0;
	unsigned int nr;		/* objects the counters cover */
	atomic_t *runs;			/* [nr] destructor runs per object */
	atomic_t cleanup_runs;
	atomic_t bad_obj;		/* magic or fill wrong */
	atomic_t bad_ctx;		/* not process context */
	atomic_t extra;			/* objects made inside destructors */
	atomic_t extra_runs;		/* ... whose destructors ran */
	atomic_t extra_cleanups;	/* ... whose cleanups ran */
	atomic_t nested_fail;		/* alloc/register inside a dtor failed */
	atomic_t in_rcu_reader;		/* ran while the test held rcu_read_lock */
	bool reader_active;
};

static struct dslab_finq_ctx *dslab_finq_cur;

/* === Objects and destructors === */

static bool dslab_finq_obj_ok(const struct dslab_finq_obj *o)
{
	unsigned int i, n;

	if (o->magic != (DSLAB_FINQ_MAGIC ^ o->idx) || o->size < sizeof(*o))
		return false;
	n = (o->size - sizeof(*o)) / sizeof(u64);
	for (i = 0; i < n; i++)
		if (o->fill[i] != ~o->magic)
			return false;
	return true;
}

static void dslab_finq_obj_init(struct dslab_finq_obj *o, unsigned int idx,
				size_t size)
{
	unsigned int i, n = (size - sizeof(*o)) / sizeof(u64);

	o->idx = idx;
	o->size = size;
	o->magic = DSLAB_FINQ_MAGIC ^ idx;
	o->next = NULL;
	for (i = 0; i < n; i++)
		o->fill[i] = ~o->magic;
}

/* Common part of every destructor: context and contents, count. */
static struct dslab_finq_ctx *dslab_finq_record(struct dslab_finq_obj *o)
{
	struct dslab_finq_ctx *ctx = READ_ONCE(dslab_finq_cur);

	if (WARN_ON_ONCE(!ctx))
		return NULL;
	if (!in_task() || irqs_disabled())
		atomic_inc(&ctx->bad_ctx);
	/* Pairs with WRITE_ONCE() around the reader in free_rcu cases. */
	if (READ_ONCE(ctx->reader_active))
		atomic_inc(&ctx->in_rcu_reader);
	if (!dslab_finq_obj_ok(o) || o->idx >= ctx->nr) {
		atomic_inc(&ctx->bad_obj);
		return NULL;
	}
	atomic_inc(&ctx->runs[o->idx]);
	return ctx;
}

static void dslab_finq_dtor_fn(void *obj)
{
	dslab_finq_record(obj);
}

static const struct dslab_dtor dslab_finq_dtor = { .fn = dslab_finq_dtor_fn };

static void dslab_finq_cleanup_fn(void *arg)
{
	struct dslab_finq_ctx *ctx = arg;

	if (!in_task() || irqs_disabled())
		atomic_inc(&ctx->bad_ctx);
	atomic_inc(&ctx->cleanup_runs);
}

/* === Fixture === */

static unsigned long dslab_finq_reserved(void)
{
	struct dslab_finq_stats st;

	dslab_finq_stats(&st);
	return st.records_reserved;
}

static int dslab_finq_test_init(struct kunit *test)
{
	struct dslab_finq_ctx *ctx;

	dslab_test_quiet_bad_frees(true);
	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	dslab_test_drain();
	ctx->inuse_before = dslab_objects_inuse();
	ctx->reserved_before = dslab_finq_reserved();
	ctx->dtor_run0 = dslab_test_stat(DTOR_RUN);
	ctx->cleanup_run0 = dslab_test_stat(CLEANUP_RUN);
	WRITE_ONCE(dslab_finq_cur, ctx);
	test->priv = ctx;
	return 0;
}

static void dslab_finq_test_exit(struct kunit *test)
{
	struct dslab_finq_ctx *ctx = test->priv;

	dslab_test_quiet_bad_frees(false);
	dslab_test_drain();
	WRITE_ONCE(dslab_finq_cur, NULL);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->bad_ctx), 0);
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&ctx->bad_obj), 0,
			    "a destructor saw an object whose contents changed");
	KUNIT_EXPECT_EQ_MSG(test, dslab_objects_inuse(), ctx->inuse_before,
			    "objects in use changed over the case");
	KUNIT_EXPECT_EQ_MSG(test, dslab_finq_reserved(), ctx->reserved_before,
			    "FinBlock reservations changed over the case");
}

static int dslab_finq_counters(struct kunit *test, unsigned int nr)
{
	struct dslab_finq_ctx *ctx = test->priv;

	ctx->runs = kunit_kcalloc(test, nr, sizeof(*ctx->runs), GFP_KERNEL);
	if (!ctx->runs)
		return -ENOMEM;
	ctx->nr = nr;
	return 0;
}

/* An object with the destructor, and a cleanup when @cleanup. */
static struct dslab_finq_obj *dslab_finq_new(unsigned int idx, size_t size,
					     const struct dslab_dtor *dtor,
					     bool cleanup, gfp_t gfp)
{
	struct dslab_finq_obj *o = dslab_alloc(size, gfp);

	if (!o)
		return NULL;
	dslab_finq_obj_init(o, idx, size);
	if (dslab_set_destructor(o, dtor))
		goto err_free;
	if (cleanup && IS_ERR(dslab_add_cleanup(o, dslab_finq_cleanup_fn,
						READ_ONCE(dslab_finq_cur), gfp))) {
		/* Cannot fail: the object is live and ours. */
		WARN_ON_ONCE(dslab_set_destructor(o, NULL));
		goto err_free;
	}
	return o;

err_free:
	dslab_free(o);
	return NULL;
}

static unsigned int dslab_finq_count_runs(struct dslab_finq_ctx *ctx,
					  unsigned int first, unsigned int n,
					  int want)
{
	unsigned int i, bad = 0;

	for (i = first; i < first + n; i++)
		bad += atomic_read(&ctx->runs[i]) != want;
	return bad;
}

/* === Exactly once, from every CPU at once === */

#define DSLAB_FINQ_MANY		4096

struct dslab_finq_many {
	struct dslab_test_barrier barrier;
	struct dslab_finq_obj **objs;
	unsigned int per_thread;
	atomic_t setup_fail;
	atomic_t cleanups;
};

static const size_t dslab_finq_sizes[] = { 48, 64, 200, 1000, 5000, 40000 };

static void dslab_finq_many_fn(void *data, unsigned int idx, unsigned int nr)
{
	struct dslab_finq_many *m = data;
	unsigned int first = idx * m->per_thread, i;

	for (i = first; i < first + m->per_thread; i++) {
		size_t size = dslab_finq_sizes[i % ARRAY_SIZE(dslab_finq_sizes)];
		bool cleanup = !(i % 4);

		/* the large size only now and then */
		if (size > DSLAB_MAX_SMALL_SIZE && i % 64)
			size = 96;
		m->objs[i] = dslab_finq_new(i, size, &dslab_finq_dtor, cleanup,
					    GFP_KERNEL);
		if (!m->objs[i])
			atomic_inc(&m->setup_fail);
		else if (cleanup)
			atomic_inc(&m->cleanups);
	}
	/* everyone frees at once */
	dslab_test_barrier_wait(&m->barrier);
	for (i = first; i < first + m->per_thread; i++)
		dslab_free(m->objs[i]);
}

static void dslab_finq_exactly_once(struct kunit *test)
{
	struct dslab_finq_ctx *ctx = test->priv;
	unsigned int nr = dslab_test_nr_threads(), total;
	struct dslab_finq_many *m;

	m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, m);
	m->per_thread = DSLAB_FINQ_MANY / nr;
	total = m->per_thread * nr;
	m->objs = kunit_kcalloc(test, total, sizeof(*m->objs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, m->objs);
	KUNIT_ASSERT_EQ(test, dslab_finq_counters(test, total), 0);
	dslab_test_barrier_init(&m->barrier, nr);

	KUNIT_ASSERT_EQ(test, dslab_test_on_cpus(dslab_finq_many_fn, m, nr), (int)nr);
	KUNIT_EXPECT_EQ(test, atomic_read(&m->setup_fail), 0);
	dslab_dtor_barrier();
	KUNIT_EXPECT_EQ_MSG(test, dslab_finq_count_runs(ctx, 0, total, 1), 0u,
			    "objects whose destructor did not run exactly once");
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_RUN) - ctx->dtor_run0, (u64)total);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->cleanup_runs), atomic_read(&m->cleanups));
	KUNIT_EXPECT_EQ(test, dslab_test_stat(CLEANUP_RUN) - ctx->cleanup_run0,
			(u64)atomic_read(&m->cleanups));
	kunit_info(test, "%u objects on %u CPUs", total, nr);
}

/* === Freeing from hardirq and softirq === */

#define DSLAB_FINQ_IRQ_OBJS	64

struct dslab_finq_irq {
	struct dslab_finq_obj *objs[DSLAB_FINQ_IRQ_OBJS];
};

static void dslab_finq_irq_fn(void *data)
{
	struct dslab_finq_irq *s = data;
	unsigned int i;

	for (i = 0; i < DSLAB_FINQ_IRQ_OBJS; i++) {
		if (i & 1)
			dslab_free_rcu(s->objs[i]);
		else
			dslab_free(s->objs[i]);
	}
}

static void dslab_finq_irq_common(struct kunit *test, bool hardirq)
{
	struct dslab_finq_ctx *ctx = test->priv;
	struct dslab_finq_irq *s;
	unsigned int i;
	bool right;

	s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_ASSERT_EQ(test, dslab_finq_counters(test, DSLAB_FINQ_IRQ_OBJS), 0);
	for (i = 0; i < DSLAB_FINQ_IRQ_OBJS; i++) {
		s->objs[i] = dslab_finq_new(i, 64 + 8 * (i % 16), &dslab_finq_dtor,
					    i % 3 == 0, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, s->objs[i]);
	}
	right = hardirq ? dslab_test_in_hardirq(dslab_finq_irq_fn, s) :
			  dslab_test_in_softirq(dslab_finq_irq_fn, s);
	KUNIT_EXPECT_TRUE_MSG(test, right, "not in %s", hardirq ? "hardirq" : "softirq");
	dslab_dtor_barrier();
	KUNIT_EXPECT_EQ(test, dslab_finq_count_runs(ctx, 0, DSLAB_FINQ_IRQ_OBJS, 1), 0u);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->cleanup_runs), (DSLAB_FINQ_IRQ_OBJS + 2) / 3);
}

static void dslab_finq_free_hardirq(struct kunit *test)
{
	if (DSLAB_TEST_NO_HARDIRQ)
		kunit_skip(test, DSLAB_TEST_NO_HARDIRQ_WHY);
	dslab_finq_irq_common(test, true);
}

static void dslab_finq_free_softirq(struct kunit *test)
{
	dslab_finq_irq_common(test, false);
}

/* === Memory is not reused before the destructor returns === */

static DECLARE_COMPLETION(dslab_finq_slow_started);
static DECLARE_COMPLETION(dslab_finq_slow_release);
static atomic_t dslab_finq_slow_returned;

static void dslab_finq_slow_fn(void *obj)
{
	struct dslab_finq_obj *o = obj;

	complete(&dslab_finq_slow_started);
	/* May sleep: the test allocates meanwhile. */
	wait_for_completion_timeout(&dslab_finq_slow_release, 20 * HZ);
	msleep(20);
	/* nobody wrote to the object while we slept */
	dslab_finq_record(o);
	atomic_set(&dslab_finq_slow_returned, 1);
}

static const struct dslab_dtor dslab_finq_slow = { .fn = dslab_finq_slow_fn };

struct dslab_finq_reuse {
	void *victim;
	size_t size;
	unsigned int per_cpu;
	atomic_t reused;
	atomic_t alloc_fail;
};

static void dslab_finq_reuse_fn(void *data, unsigned int idx, unsigned int nr)
{
	struct dslab_finq_reuse *r = data;
	void **objs = kcalloc(r->per_cpu, sizeof(void *), GFP_KERNEL);
	unsigned int i;

	if (!objs) {
		atomic_inc(&r->alloc_fail);
		return;
	}
	for (i = 0; i < r->per_cpu; i++) {
		objs[i] = dslab_alloc(r->size, GFP_KERNEL);
		if (!objs[i])
			atomic_inc(&r->alloc_fail);
		else if (objs[i] == r->victim && !atomic_read(&dslab_finq_slow_returned))
			atomic_inc(&r->reused);
	}
	for (i = 0; i < r->per_cpu; i++)
		dslab_free(objs[i]);
	kfree(objs);
}

static void dslab_finq_no_reuse(struct kunit *test)
{
	struct dslab_finq_ctx *ctx = test->priv;
	unsigned int class = dslab_size_class(256);
	long pins = dslab_test_owner_pins(THIS_MODULE);
	int ref = module_refcount(THIS_MODULE);
	struct dslab_finq_reuse *r;
	struct dslab_finq_obj *o;
	bool started;

	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	KUNIT_ASSERT_EQ(test, dslab_finq_counters(test, 1), 0);
	reinit_completion(&dslab_finq_slow_started);
	reinit_completion(&dslab_finq_slow_release);
	atomic_set(&dslab_finq_slow_returned, 0);

	o = dslab_finq_new(0, 256, &dslab_finq_slow, false, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, o);
	r->victim = o;
	r->size = 256;
	/* several spans' worth and several magazines, on every CPU */
	r->per_cpu = 4 * dslab_classes[class].nobjs + 64;
	KUNIT_EXPECT_EQ(test, dslab_test_owner_pins(THIS_MODULE), pins + 1);

	dslab_free(o);
	started = wait_for_completion_timeout(&dslab_finq_slow_started, 10 * HZ);
	KUNIT_EXPECT_TRUE_MSG(test, started, "destructor did not start within 10 s");
	/* queued or running: the owner module is still pinned */
	KUNIT_EXPECT_EQ(test, dslab_test_owner_pins(THIS_MODULE), pins + 1);
	KUNIT_ASSERT_GT(test, dslab_test_on_cpus(dslab_finq_reuse_fn, r, 0), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&r->alloc_fail), 0);
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&r->reused), 0,
			    "the object's memory was handed out while its destructor ran");
	KUNIT_EXPECT_EQ(test, atomic_read(&dslab_finq_slow_returned), 0);
	complete(&dslab_finq_slow_release);
	dslab_dtor_barrier();
	KUNIT_EXPECT_EQ(test, atomic_read(&dslab_finq_slow_returned), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->runs[0]), 1);
	KUNIT_EXPECT_EQ(test, dslab_test_owner_pins(THIS_MODULE), pins);
	/* dslab counts pins; it never holds a module reference */
	KUNIT_EXPECT_EQ(test, module_refcount(THIS_MODULE), ref);
}

/* === Barrier === */

static void dslab_finq_sleepy_fn(void *obj)
{
	usleep_range(100, 200);
	dslab_finq_record(obj);
}

static const struct dslab_dtor dslab_finq_sleepy = { .fn = dslab_finq_sleepy_fn };

/* A destructor calling the barrier: documented to return at once. */
static void dslab_finq_barrier_in_dtor_fn(void *obj)
{
	dslab_dtor_barrier();
	dslab_finq_record(obj);
}

static const struct dslab_dtor dslab_finq_barrier_in_dtor = {
	.fn = dslab_finq_barrier_in_dtor_fn,
};

static void dslab_finq_barrier(struct kunit *test)
{
	struct dslab_finq_ctx *ctx = test->priv;
	unsigned int n = 200, i;
	ktime_t t0;

	KUNIT_ASSERT_EQ(test, dslab_finq_counters(test, n + 1), 0);
	for (i = 0; i < n; i++) {
		struct dslab_finq_obj *o = dslab_finq_new(i, 128, &dslab_finq_sleepy,
							  i % 5 == 0, GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, o);
		if (i & 1)
			dslab_free_rcu(o);
		else
			dslab_free(o);
	}
	/* everything queued before the call has returned, RCU ones too */
	dslab_dtor_barrier();
	KUNIT_EXPECT_EQ(test, dslab_finq_count_runs(ctx, 0, n, 1), 0u);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->cleanup_runs), (int)(n + 4) / 5);

	/* a barrier inside a destructor does not deadlock */
	dslab_free(dslab_finq_new(n, 64, &dslab_finq_barrier_in_dtor, false, GFP_KERNEL));
	dslab_dtor_barrier();
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->runs[n]), 1);

	/* with nothing queued it returns promptly */
	t0 = ktime_get();
	dslab_dtor_barrier();
	dslab_dtor_barrier();
	KUNIT_EXPECT_LT(test, ktime_ms_delta(ktime_get(), t0), 5000ll);
}

/* === dslab_free_rcu() and readers === */

static void dslab_finq_free_rcu(struct kunit *test)
{
	struct dslab_finq_ctx *ctx = test->priv;
	size_t size = 192;
	struct dslab_finq_obj *o, *plain;
	unsigned int i, reused = 0, ran_early = 0, changed = 0;
	bool o_live, plain_live;
	void *grab[64];

	KUNIT_ASSERT_EQ(test, dslab_finq_counters(test, 2), 0);
	o = dslab_finq_new(0, size, &dslab_finq_dtor, true, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, o);
	plain = dslab_alloc(size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, plain);
	dslab_finq_obj_init(plain, 1, size);

	/* No KUNIT_EXPECT*() inside: reporting a failure may sleep. */
	rcu_read_lock();
	/* Pairs with READ_ONCE() in dslab_finq_record(). */
	WRITE_ONCE(ctx->reader_active, true);
	dslab_free_rcu(o);
	dslab_free_rcu(plain);
	o_live = dslab_find_object(o, NULL, NULL);
	plain_live = dslab_find_object(plain, NULL, NULL);
	for (i = 0; i < 50; i++) {
		unsigned int j;

		mdelay(2);
		ran_early += atomic_read(&ctx->runs[0]) != 0;
		/* readers may still use both objects: nobody reuses them */
		for (j = 0; j < ARRAY_SIZE(grab); j++) {
			grab[j] = dslab_alloc(size, GFP_ATOMIC);
			reused += grab[j] == o || grab[j] == plain;
		}
		for (j = 0; j < ARRAY_SIZE(grab); j++)
			dslab_free(grab[j]);
		changed += !dslab_finq_obj_ok(o) || !dslab_finq_obj_ok(plain);
	}
	WRITE_ONCE(ctx->reader_active, false);
	rcu_read_unlock();

	/* no longer live for the owner at once */
	KUNIT_EXPECT_FALSE(test, o_live);
	KUNIT_EXPECT_FALSE(test, plain_live);

	KUNIT_EXPECT_EQ_MSG(test, ran_early, 0u,
			    "destructor ran inside a read-side section begun before dslab_free_rcu()");
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->in_rcu_reader), 0);
	KUNIT_EXPECT_EQ_MSG(test, reused, 0u, "RCU-freed memory reused within the grace period");
	KUNIT_EXPECT_EQ_MSG(test, changed, 0u, "RCU-freed object changed within the grace period");
	dslab_dtor_barrier();
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->runs[0]), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->cleanup_runs), 1);
}

/*
 * The layout RCU readers meet most: an hlist_node first.  A free that
 * linked the object through its first word would send a reader that
 * follows ->next into dslab's list.
 */
struct dslab_finq_rcu_node {
	struct hlist_node node;
	u64 key;
	u8 fill[40];
};

#define DSLAB_FINQ_DRY_N	16

/*
 * dslab_free_rcu() with the plain-RCU pool dry (fault injection makes it
 * look so, and makes the runner's own block allocations fail): a reader
 * that entered rcu_read_lock() before the frees sees every byte of every
 * object unchanged until it leaves, and every object is still released
 * once, after it left.
 */
static void dslab_finq_free_rcu_dry(struct kunit *test)
{
	struct dslab_finq_rcu_node **objs, *snap;
	u64 limbo0 = dslab_test_stat(RCU_LIMBO);
	long inuse0 = dslab_objects_inuse();
	unsigned int i, round, changed = 0, released = 0;

	objs = kunit_kcalloc(test, DSLAB_FINQ_DRY_N, sizeof(*objs), GFP_KERNEL);
	snap = kunit_kcalloc(test, DSLAB_FINQ_DRY_N, sizeof(*snap), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	KUNIT_ASSERT_NOT_NULL(test, snap);
	for (i = 0; i < DSLAB_FINQ_DRY_N; i++) {
		objs[i] = dslab_alloc(sizeof(*objs[i]), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, objs[i]);
		/* A list a reader could be walking: each node to the next. */
		objs[i]->node.next = i ? &objs[i - 1]->node : NULL;
		objs[i]->node.pprev = NULL;
		objs[i]->key = 0xd51ab000 + i;
		memset(objs[i]->fill, 0x3c + i, sizeof(objs[i]->fill));
		snap[i] = *objs[i];
	}

	dslab_fault_fail_all(true);
	/* No KUNIT_EXPECT*() inside: reporting a failure may sleep. */
	rcu_read_lock();
	for (i = 0; i < DSLAB_FINQ_DRY_N; i++)
		dslab_free_rcu(objs[i]);
	/* Long enough for the runner to take them while we still read. */
	for (round = 0; round < 50; round++) {
		mdelay(2);
		for (i = 0; i < DSLAB_FINQ_DRY_N; i++)
			changed += !!memcmp(objs[i], &snap[i], sizeof(snap[i]));
		released += dslab_objects_inuse() < inuse0 + DSLAB_FINQ_DRY_N;
	}
	rcu_read_unlock();
	dslab_fault_fail_all(false);

	KUNIT_EXPECT_EQ_MSG(test, dslab_test_stat(RCU_LIMBO) - limbo0,
			    (u64)DSLAB_FINQ_DRY_N,
			    "the frees did not meet a dry pool");
	KUNIT_EXPECT_EQ_MSG(test, changed, 0u,
			    "an RCU-freed object was written within its grace period");
	KUNIT_EXPECT_EQ_MSG(test, released, 0u,
			    "an RCU-freed object was released within its grace period");
	dslab_dtor_barrier();
	KUNIT_EXPECT_EQ_MSG(test, dslab_objects_inuse(), inuse0,
			    "objects in limbo were not released");
}

/* === Destructors that free, allocate and register === */

static void dslab_finq_extra_dtor_fn(void *obj)
{
	struct dslab_finq_ctx *ctx = READ_ONCE(dslab_finq_cur);

	if (ctx)
		atomic_inc(&ctx->extra_runs);
}

static const struct dslab_dtor dslab_finq_extra_dtor = { .fn = dslab_finq_extra_dtor_fn };

static void dslab_finq_extra_cleanup_fn(void *arg)
{
	atomic_inc(&((struct dslab_finq_ctx *)arg)->extra_cleanups);
}

static void dslab_finq_chain_fn(void *obj)
{
	struct dslab_finq_obj *o = obj;
	struct dslab_finq_ctx *ctx = dslab_finq_record(o);
	struct dslab_finq_obj *next = o->next;
	void *extra;

	if (!ctx)
		return;
	/* allocate, register a destructor and a cleanup, free: re-entrancy */
	extra = dslab_alloc(80, GFP_KERNEL);
	if (!extra ||
	    dslab_set_destructor(extra, &dslab_finq_extra_dtor) ||
	    IS_ERR(dslab_add_cleanup(extra, dslab_finq_extra_cleanup_fn, ctx,
				     GFP_KERNEL)))
		atomic_inc(&ctx->nested_fail);
	else
		atomic_inc(&ctx->extra);
	dslab_free(extra);
	/* and free the next link of the chain, itself with a destructor */
	dslab_free(next);
}

static const struct dslab_dtor dslab_finq_chain = { .fn = dslab_finq_chain_fn };

static void dslab_finq_chains(struct kunit *test)
{
	struct dslab_finq_ctx *ctx = test->priv;
	unsigned int len = 40, chains = 3, total = len * chains, c, i, tries;
	struct dslab_finq_obj **objs;

	objs = kunit_kcalloc(test, total, sizeof(*objs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	KUNIT_ASSERT_EQ(test, dslab_finq_counters(test, total), 0);
	for (i = 0; i < total; i++) {
		objs[i] = dslab_finq_new(i, 96 + 32 * (i % 3), &dslab_finq_chain,
					 false, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, objs[i]);
	}
	/* link each chain: freeing its head frees the rest, one by one */
	for (c = 0; c < chains; c++)
		for (i = 0; i + 1 < len; i++)
			objs[c * len + i]->next = objs[c * len + i + 1];
	for (c = 0; c < chains; c++)
		dslab_free(objs[c * len]);

	/* the barrier bounds re-queued work per call: repeat until done */
	for (tries = 0; tries < 20; tries++) {
		dslab_dtor_barrier();
		if (atomic_read(&ctx->extra_runs) + atomic_read(&ctx->nested_fail) >=
		    (int)total &&
		    atomic_read(&ctx->extra_cleanups) >= atomic_read(&ctx->extra) &&
		    !dslab_finq_count_runs(ctx, 0, total, 1))
			break;
	}
	KUNIT_EXPECT_EQ(test, dslab_finq_count_runs(ctx, 0, total, 1), 0u);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->nested_fail), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->extra), (int)total);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->extra_runs), (int)total);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->extra_cleanups), (int)total);
	KUNIT_EXPECT_LE_MSG(test, tries, 2u, "a chain of %u needed %u barriers", len, tries + 1);
}

/* === No allocation at free: injected failures lose nothing === */

static void dslab_finq_fault_no_loss(struct kunit *test)
{
	struct dslab_finq_ctx *ctx = test->priv;
	unsigned int n = 256, i, allocated_in_free = 0;
	struct dslab_finq_obj **objs;

	objs = kunit_kcalloc(test, n, sizeof(*objs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	KUNIT_ASSERT_EQ(test, dslab_finq_counters(test, n), 0);
	for (i = 0; i < n; i++) {
		objs[i] = dslab_finq_new(i, 64 + 64 * (i % 8), &dslab_finq_dtor,
					 i % 2, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, objs[i]);
	}
	/* the next allocation dslab makes for this task fails: free makes none */
	for (i = 0; i < n; i++) {
		dslab_fault_fail_nth(1);
		if (i % 3)
			dslab_free(objs[i]);
		else
			dslab_free_rcu(objs[i]);
		allocated_in_free += dslab_fault_pending() != 1;
		dslab_fault_fail_nth(0);
	}
	KUNIT_EXPECT_EQ_MSG(test, allocated_in_free, 0u,
			    "dslab_free() of objects with destructors allocated memory");
	dslab_dtor_barrier();
	KUNIT_EXPECT_EQ(test, dslab_finq_count_runs(ctx, 0, n, 1), 0u);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->cleanup_runs), (int)n / 2);
}

/* === The runner sleeps when idle and wakes on enqueue === */

static bool dslab_finq_runner_sleeping(void)
{
	struct dslab_finq_stats st;

	dslab_finq_stats(&st);
	return st.runner_state && !strcmp(st.runner_state, "sleeping");
}

static void dslab_finq_idle(struct kunit *test)
{
	struct dslab_finq_ctx *ctx = test->priv;
	struct dslab_finq_obj *o;
	u64 wake0, wake1;
	int i;

	KUNIT_ASSERT_EQ(test, dslab_finq_counters(test, 1), 0);
	/* let everything settle: pending RCU callbacks kick the runner */
	dslab_dtor_barrier();
	rcu_barrier();
	for (i = 0; i < 50 && !dslab_finq_runner_sleeping(); i++)
		msleep(20);
	KUNIT_ASSERT_TRUE_MSG(test, dslab_finq_runner_sleeping(),
			      "runner not sleeping after 1 s with nothing queued");
	msleep(50);

	wake0 = dslab_test_stat(RUNNER_WAKEUPS);
	msleep(200);
	wake1 = dslab_test_stat(RUNNER_WAKEUPS);
	KUNIT_EXPECT_EQ_MSG(test, wake1, wake0, "runner woke %llu times in 200 ms with no work",
			    wake1 - wake0);
	KUNIT_EXPECT_TRUE(test, dslab_finq_runner_sleeping());

	/* an enqueue wakes it, without a barrier */
	o = dslab_finq_new(0, 64, &dslab_finq_dtor, false, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, o);
	dslab_free(o);
	for (i = 0; i < 100 && !atomic_read(&ctx->runs[0]); i++)
		msleep(20);
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&ctx->runs[0]), 1,
			    "destructor did not run within 2 s of the free");
	KUNIT_EXPECT_GT(test, dslab_test_stat(RUNNER_WAKEUPS), wake1);
}

static struct kunit_case dslab_finq_cases[] = {
	KUNIT_CASE(dslab_finq_exactly_once),
	KUNIT_CASE(dslab_finq_free_hardirq),
	KUNIT_CASE(dslab_finq_free_softirq),
	KUNIT_CASE(dslab_finq_no_reuse),
	KUNIT_CASE(dslab_finq_barrier),
	KUNIT_CASE(dslab_finq_free_rcu),
	KUNIT_CASE(dslab_finq_free_rcu_dry),
	KUNIT_CASE(dslab_finq_chains),
	KUNIT_CASE(dslab_finq_fault_no_loss),
	KUNIT_CASE(dslab_finq_idle),
	{}
};

static struct kunit_suite dslab_finq_suite = {
	.name = "dslab_runner",
	.init = dslab_finq_test_init,
	.exit = dslab_finq_test_exit,
	.test_cases = dslab_finq_cases,
};

kunit_test_suite(dslab_finq_suite);
