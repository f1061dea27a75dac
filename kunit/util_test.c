// SPDX-License-Identifier: GPL-2.0
/*
 * Suite dslab_util: the kmalloc-style helpers (mm/util.c), the typed
 * allocation with a flexible array (dslab_new_size() and
 * dslab_new_flex_typed()) and __free(dslab).
 *
 * Zeroing and copying are checked on a reused, dirtied slot: a case
 * fills an object, frees it and, with migration disabled, allocates the
 * same class again, which pops that slot from this CPU's magazine, so a
 * helper that skipped its memset or memcpy would hand back the dirt.
 *
 * Every case records objects in use, FinBlock reservations and this
 * module's pins in .init and checks in .exit, after a destructor
 * barrier, that they are back: each case is also a leak check.  Objects
 * a case still owns when it fails are in ctx->objs and freed by .exit.
 */
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dslab_test.h"

#define DSLAB_UTIL_MAX_OBJS	8
#define DSLAB_UTIL_DIRT		0xa5

/* A record ending in a flexible array; its destructor counts runs. */
struct dslab_util_rec {
	u32 magic;
	u32 n;
	u64 data[];
};

#define DSLAB_UTIL_MAGIC	0x5eed1e55

/* Another type, for a destructor the record's type must refuse. */
struct dslab_util_other {
	u64 x;
};

DSLAB_TYPE(dslab_util_rec_type, struct dslab_util_rec);
DSLAB_TYPE(dslab_util_other_type, struct dslab_util_other);

struct dslab_util_ctx {
	long inuse_before;
	unsigned long reserved_before;
	long pins_before;
	atomic_t dtor_runs;
	atomic_t dtor_bad;		/* run on a record without its magic */
	atomic_t cleanup_runs;
	void *objs[DSLAB_UTIL_MAX_OBJS];	/* freed by .exit if not NULL */
};

/* The running case's context; set by .init, cleared by .exit. */
static struct dslab_util_ctx *dslab_util_cur;

static void dslab_util_rec_release(struct dslab_util_rec *r)
{
	struct dslab_util_ctx *ctx = READ_ONCE(dslab_util_cur);

	if (WARN_ON_ONCE(!ctx))
		return;
	if (r->magic != DSLAB_UTIL_MAGIC)
		atomic_inc(&ctx->dtor_bad);
	atomic_inc(&ctx->dtor_runs);
}

DSLAB_DTOR(dslab_util_rec_dtor, dslab_util_rec_type, dslab_util_rec_release);

static void dslab_util_other_release(struct dslab_util_other *o)
{
}

DSLAB_DTOR(dslab_util_other_dtor, dslab_util_other_type, dslab_util_other_release);

/* An untyped destructor, for an object from dslab_alloc(). */
static void dslab_util_any_release(void *obj)
{
	struct dslab_util_ctx *ctx = READ_ONCE(dslab_util_cur);

	if (!WARN_ON_ONCE(!ctx))
		atomic_inc(&ctx->dtor_runs);
}

static const struct dslab_dtor dslab_util_any_dtor = {
	.fn = dslab_util_any_release,
};

static void dslab_util_cleanup_fn(void *arg)
{
	atomic_inc(arg);
}

/* === Fixture === */

static int dslab_util_test_init(struct kunit *test)
{
	struct dslab_util_ctx *ctx;

	dslab_test_quiet_bad_frees(true);
	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	dslab_test_drain();
	ctx->inuse_before = dslab_objects_inuse();
	ctx->reserved_before = dslab_test_reserved();
	ctx->pins_before = dslab_test_owner_pins(THIS_MODULE);
	WRITE_ONCE(dslab_util_cur, ctx);
	test->priv = ctx;
	return 0;
}

static void dslab_util_test_exit(struct kunit *test)
{
	struct dslab_util_ctx *ctx = test->priv;
	unsigned int i;

	dslab_test_quiet_bad_frees(false);
	for (i = 0; i < DSLAB_UTIL_MAX_OBJS; i++)
		dslab_free(ctx->objs[i]);
	dslab_test_drain();
	WRITE_ONCE(dslab_util_cur, NULL);
	KUNIT_EXPECT_EQ_MSG(test, dslab_objects_inuse(), ctx->inuse_before,
			    "objects in use changed over the case (leak or lost free)");
	KUNIT_EXPECT_EQ_MSG(test, dslab_test_reserved(), ctx->reserved_before,
			    "FinBlock reservations changed over the case");
	KUNIT_EXPECT_EQ_MSG(test, dslab_test_owner_pins(THIS_MODULE),
			    ctx->pins_before, "pins on dslab_test changed over the case");
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->dtor_bad), 0);
}

/*
 * Dirty a slot of @size's class and free it.  With migration disabled,
 * the next allocation of that class on this CPU gets it back.  Returns
 * the slot, hidden from the compiler: dslab_alloc() is __malloc, so it
 * could otherwise assume a later allocation never equals it.
 */
static void *dslab_util_dirty_slot(size_t size)
{
	void *p = dslab_alloc(size, GFP_KERNEL);

	if (p) {
		memset(p, DSLAB_UTIL_DIRT, size);
		dslab_free(p);
	}
	OPTIMIZER_HIDE_VAR(p);
	return p;
}

static void dslab_util_fill(u8 *p, size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to; i++)
		p[i] = (u8)(i * 7 + 3);
}

/* Index of the first byte in [0, @n) that lost dslab_util_fill()'s pattern. */
static size_t dslab_util_check(const u8 *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (u8)(i * 7 + 3))
			return i;
	return n;
}

/* === Arrays === */

/*
 * An overflowing product allocates nothing, even where it wraps to a
 * small size: (2^60 + 1) * 16 wraps to 16, SIZE_MAX * SIZE_MAX to 1.
 */
static void dslab_util_array_overflow(struct kunit *test)
{
	struct dslab_util_ctx *ctx = test->priv;
	size_t n = SIZE_MAX / 16 + 2, size = 16, max = SIZE_MAX;
	u64 allocs = dslab_test_stat(ALLOC);
	long inuse = dslab_objects_inuse();
	void *p;

	/* Hidden, so the compiler does not refuse the call's sizes itself. */
	OPTIMIZER_HIDE_VAR(n);
	OPTIMIZER_HIDE_VAR(size);
	OPTIMIZER_HIDE_VAR(max);
	p = dslab_alloc_array(n, size, GFP_KERNEL);
	ctx->objs[0] = p;
	KUNIT_EXPECT_NULL_MSG(test, p, "alloc_array(2^60 + 1, 16)");
	p = dslab_alloc_array(size, n, GFP_KERNEL);
	ctx->objs[1] = p;
	KUNIT_EXPECT_NULL_MSG(test, p, "alloc_array(16, 2^60 + 1)");
	p = dslab_calloc(n, size, GFP_KERNEL);
	ctx->objs[2] = p;
	KUNIT_EXPECT_NULL_MSG(test, p, "calloc(2^60 + 1, 16)");
	p = dslab_calloc(max, max, GFP_KERNEL);
	ctx->objs[3] = p;
	KUNIT_EXPECT_NULL_MSG(test, p, "calloc(SIZE_MAX, SIZE_MAX)");
	KUNIT_EXPECT_EQ_MSG(test, dslab_test_stat(ALLOC), allocs,
			    "an overflowing request allocated");
	KUNIT_EXPECT_EQ(test, dslab_objects_inuse(), inuse);

	/* The products that fit. */
	p = dslab_alloc_array(3, 40, GFP_KERNEL);
	ctx->objs[4] = p;
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_GE(test, dslab_ksize(p), (size_t)120);
	KUNIT_EXPECT_PTR_EQ(test, dslab_alloc_array(0, 40, GFP_KERNEL), ZERO_SIZE_PTR);
	KUNIT_EXPECT_PTR_EQ(test, dslab_calloc(40, 0, GFP_KERNEL), ZERO_SIZE_PTR);
}

/* dslab_calloc() zeroes a reused, dirty slot, small and large. */
static void dslab_util_calloc_zeroes(struct kunit *test)
{
	static const struct { size_t n, size; } shapes[] = {
		{ 3, 40 }, { 1, 1000 }, { 10, 500 }, { 16, 4096 },
	};
	struct dslab_util_ctx *ctx = test->priv;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(shapes); i++) {
		size_t bytes = shapes[i].n * shapes[i].size;
		void *dirty;
		u8 *p;

		migrate_disable();
		dirty = dslab_util_dirty_slot(bytes);
		p = dslab_calloc(shapes[i].n, shapes[i].size, GFP_KERNEL);
		migrate_enable();
		ctx->objs[0] = p;
		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_NULL_MSG(test, memchr_inv(p, 0, bytes),
				      "calloc(%zu, %zu) not zeroed (reused slot: %s)",
				      shapes[i].n, shapes[i].size,
				      (void *)p == dirty ? "yes" : "no");
		/* A small class pops the slot just freed on this CPU. */
		if (bytes <= DSLAB_MAX_SMALL_SIZE / 2)
			KUNIT_EXPECT_PTR_EQ_MSG(test, (void *)p, dirty,
						"calloc(%zu, %zu) did not reuse the dirty slot",
						shapes[i].n, shapes[i].size);
		dslab_free(p);
		ctx->objs[0] = NULL;
	}
}

/* === dslab_realloc() === */

/*
 * Growth moves the object and keeps its contents, all of its usable size:
 * across a class boundary, beyond PAGE_SIZE, into a large object (a span
 * of its own above 32 KiB) and from one large object to a larger one.
 */
static void dslab_util_realloc_grow(struct kunit *test)
{
	static const size_t sizes[] = {
		4 * PAGE_SIZE, 64 * 1024, 256 * 1024,
	};
	struct dslab_util_ctx *ctx = test->priv;
	size_t ks, have, bad, i;
	u8 *p, *q;

	p = dslab_alloc(100, GFP_KERNEL);
	ctx->objs[0] = p;
	KUNIT_ASSERT_NOT_NULL(test, p);
	/* The documented way to use the slack: ask, then tell the compiler. */
	ks = dslab_ksize(p);
	q = dslab_realloc(p, ks, GFP_KERNEL);
	KUNIT_ASSERT_PTR_EQ_MSG(test, q, p, "realloc to dslab_ksize() moved");
	dslab_util_fill(q, 0, ks);

	/* The next class: a move, all ks bytes kept. */
	p = dslab_realloc(q, ks + 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	ctx->objs[0] = p;
	KUNIT_EXPECT_PTR_NE(test, p, q);
	KUNIT_EXPECT_GE(test, dslab_ksize(p), ks + 1);
	KUNIT_EXPECT_FALSE_MSG(test, dslab_find_object(q, NULL, NULL),
			       "the old object is still live after the move");
	bad = dslab_util_check(p, ks);
	KUNIT_EXPECT_EQ_MSG(test, bad, ks, "byte %zu of %zu lost growing past class %zu",
			    bad, ks, ks);
	dslab_util_fill(p, ks, ks + 1);
	have = ks + 1;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		q = dslab_realloc(p, sizes[i], GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL_MSG(test, q, "realloc to %zu bytes", sizes[i]);
		ctx->objs[0] = q;
		KUNIT_EXPECT_GE(test, dslab_ksize(q), sizes[i]);
		bad = dslab_util_check(q, have);
		KUNIT_EXPECT_EQ_MSG(test, bad, have, "byte %zu of %zu lost growing to %zu",
				    bad, have, sizes[i]);
		dslab_util_fill(q, have, sizes[i]);
		have = sizes[i];
		p = q;
	}
}

/* A shrink, and growth within dslab_ksize(), stay in place. */
static void dslab_util_realloc_in_place(struct kunit *test)
{
	static const size_t sizes[] = { 500, 3 * PAGE_SIZE, 100 * 1024 };
	struct dslab_util_ctx *ctx = test->priv;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t size = sizes[i], small = size / 5, ks, bad;
		u8 *p, *q;

		p = dslab_alloc(size, GFP_KERNEL);
		ctx->objs[0] = p;
		KUNIT_ASSERT_NOT_NULL(test, p);
		ks = dslab_ksize(p);
		dslab_util_fill(p, 0, size);

		/* A move would have freed p: own what came back. */
		q = dslab_realloc(p, small, GFP_KERNEL);
		if (q)
			ctx->objs[0] = q;
		KUNIT_ASSERT_PTR_EQ_MSG(test, q, p, "shrink of %zu to %zu moved", size, small);
		KUNIT_EXPECT_EQ(test, dslab_ksize(p), ks);
		bad = dslab_util_check(p, small);
		KUNIT_EXPECT_EQ_MSG(test, bad, small, "byte %zu lost shrinking %zu", bad, size);

		q = dslab_realloc(p, ks, GFP_KERNEL);
		if (q)
			ctx->objs[0] = q;
		KUNIT_ASSERT_PTR_EQ_MSG(test, q, p, "growth of %zu within ksize %zu moved",
					small, ks);
		dslab_free(p);
		ctx->objs[0] = NULL;
	}
}

/* NULL and ZERO_SIZE_PTR allocate, size 0 frees, bad pointers get NULL. */
static void dslab_util_realloc_edges(struct kunit *test)
{
	struct dslab_util_ctx *ctx = test->priv;
	long inuse = dslab_objects_inuse();
	u64 bad_frees = dslab_test_stat(BAD_FREE);
	u8 *p, *q, *k;

	p = dslab_realloc(NULL, 64, GFP_KERNEL);
	ctx->objs[0] = p;
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	KUNIT_EXPECT_GE(test, dslab_ksize(p), (size_t)64);
	KUNIT_EXPECT_EQ(test, dslab_objects_inuse(), inuse + 1);

	q = dslab_realloc(p, 0, GFP_KERNEL);
	KUNIT_EXPECT_PTR_EQ_MSG(test, (void *)q, ZERO_SIZE_PTR, "realloc(p, 0)");
	if (q == ZERO_SIZE_PTR)
		ctx->objs[0] = NULL;
	KUNIT_EXPECT_FALSE_MSG(test, dslab_find_object(p, NULL, NULL),
			       "realloc(p, 0) did not free p");
	KUNIT_EXPECT_EQ(test, dslab_objects_inuse(), inuse);

	p = dslab_realloc(ZERO_SIZE_PTR, 32, GFP_KERNEL);
	ctx->objs[0] = p;
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	KUNIT_EXPECT_GE(test, dslab_ksize(p), (size_t)32);
	KUNIT_EXPECT_PTR_EQ(test, dslab_realloc(NULL, 0, GFP_KERNEL), ZERO_SIZE_PTR);
	KUNIT_EXPECT_PTR_EQ(test, dslab_realloc(ZERO_SIZE_PTR, 0, GFP_KERNEL),
			    ZERO_SIZE_PTR);

	/* An interior pointer: refused, the object untouched. */
	dslab_util_fill(p, 0, 32);
	q = dslab_realloc(p + 8, 4096, GFP_KERNEL);
	KUNIT_EXPECT_NULL_MSG(test, q, "realloc of an interior pointer");
	KUNIT_EXPECT_TRUE(test, dslab_find_object(p, NULL, NULL));
	KUNIT_EXPECT_EQ(test, dslab_util_check(p, 32), (size_t)32);

	/* A kmalloc() pointer: refused, not freed. */
	k = kmalloc(64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, k);
	dslab_util_fill(k, 0, 64);
	q = dslab_realloc(k, 4096, GFP_KERNEL);
	KUNIT_EXPECT_NULL_MSG(test, q, "realloc of a kmalloc() pointer");
	KUNIT_EXPECT_EQ(test, dslab_util_check(k, 64), (size_t)64);
	kfree(k);

	KUNIT_EXPECT_EQ_MSG(test, dslab_test_stat(BAD_FREE), bad_frees,
			    "a refused realloc tried to free");
	KUNIT_EXPECT_EQ(test, dslab_objects_inuse(), inuse + 1);
}

/*
 * __GFP_ZERO: the grown part of a moved object is zero, on a dirty
 * reused slot; in place, a shrink zeroes the tail, so growing again
 * within dslab_ksize() shows zeroes, not the old bytes.
 */
static void dslab_util_realloc_zero(struct kunit *test)
{
	struct dslab_util_ctx *ctx = test->priv;
	const gfp_t gfp = GFP_KERNEL | __GFP_ZERO;
	const size_t old = 24, grown = 200;
	void *dirty;
	u8 *p, *q;

	/* Growth: [0, old) kept, the rest zero. */
	p = dslab_alloc(old, gfp);
	ctx->objs[0] = p;
	KUNIT_ASSERT_NOT_NULL(test, p);
	memset(p, 0x11, old);
	migrate_disable();
	dirty = dslab_util_dirty_slot(grown);
	q = dslab_realloc(p, grown, gfp);
	migrate_enable();
	KUNIT_ASSERT_NOT_NULL(test, q);
	ctx->objs[0] = q;
	KUNIT_EXPECT_PTR_EQ_MSG(test, (void *)q, dirty,
				"the move did not reuse the dirty slot");
	KUNIT_EXPECT_NULL(test, memchr_inv(q, 0x11, old));
	KUNIT_EXPECT_NULL_MSG(test, memchr_inv(q + old, 0, grown - old),
			      "grown part not zeroed (reused slot: %s)",
			      (void *)q == dirty ? "yes" : "no");

	/* In place: shrink to 16, grow back to 200. */
	memset(q, 0x5a, grown);
	p = dslab_realloc(q, 16, gfp);
	KUNIT_EXPECT_PTR_EQ(test, p, q);
	p = dslab_realloc(q, grown, gfp);
	KUNIT_EXPECT_PTR_EQ(test, p, q);
	KUNIT_EXPECT_NULL(test, memchr_inv(q, 0x5a, 16));
	KUNIT_EXPECT_NULL_MSG(test, memchr_inv(q + 16, 0, grown - 16),
			      "shrink with __GFP_ZERO left the old bytes behind");
}

/*
 * An object with a type, a destructor or cleanups is never moved: growth
 * beyond dslab_ksize() is refused and the object is left alone; it stays
 * live, keeps its contents, and what it carries runs once at its free.
 * In place it may still be resized.
 */
static void dslab_util_realloc_bound(struct kunit *test)
{
	struct dslab_util_ctx *ctx = test->priv;
	struct dslab_util_rec *r;
	struct dslab_cleanup *c;
	size_t ks;
	u8 *p, *q;

	/* A typed object with a destructor. */
	r = dslab_new_typed(dslab_util_rec_type, GFP_KERNEL);
	ctx->objs[0] = r;
	KUNIT_ASSERT_NOT_NULL(test, r);
	r->magic = DSLAB_UTIL_MAGIC;
	KUNIT_ASSERT_EQ(test, dslab_set_destructor(r, &dslab_util_rec_dtor), 0);
	ks = dslab_ksize(r);
	q = dslab_realloc(r, ks + 1, GFP_KERNEL);
	KUNIT_EXPECT_NULL_MSG(test, q, "an object with a destructor was moved");
	if (q)
		ctx->objs[1] = q;
	KUNIT_EXPECT_EQ(test, dslab_ksize(r), ks);
	KUNIT_EXPECT_EQ(test, r->magic, (u32)DSLAB_UTIL_MAGIC);
	q = dslab_realloc(r, ks, GFP_KERNEL);
	KUNIT_EXPECT_PTR_EQ_MSG(test, (void *)q, (void *)r, "in place was refused");
	dslab_test_drain();
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&ctx->dtor_runs), 0,
			    "the destructor ran at the refused move");

	/* An untyped object with a cleanup. */
	p = dslab_alloc(64, GFP_KERNEL);
	ctx->objs[2] = p;
	KUNIT_ASSERT_NOT_NULL(test, p);
	c = dslab_add_cleanup(p, dslab_util_cleanup_fn, &ctx->cleanup_runs, GFP_KERNEL);
	KUNIT_ASSERT_FALSE(test, IS_ERR(c));
	q = dslab_realloc(p, 4096, GFP_KERNEL);
	KUNIT_EXPECT_NULL_MSG(test, q, "an object with a cleanup was moved");
	if (q)
		ctx->objs[3] = q;
	KUNIT_EXPECT_TRUE(test, dslab_find_object(p, NULL, NULL));

	/* An untyped object with an untyped destructor. */
	p = dslab_alloc(64, GFP_KERNEL);
	ctx->objs[4] = p;
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_EQ(test, dslab_set_destructor(p, &dslab_util_any_dtor), 0);
	q = dslab_realloc(p, 4096, GFP_KERNEL);
	KUNIT_EXPECT_NULL_MSG(test, q, "an object with an untyped destructor was moved");
	if (q)
		ctx->objs[5] = q;

	/* A typed object with nothing else. */
	p = dslab_new(&dslab_util_other_type, GFP_KERNEL);
	ctx->objs[6] = p;
	KUNIT_ASSERT_NOT_NULL(test, p);
	q = dslab_realloc(p, 4096, GFP_KERNEL);
	KUNIT_EXPECT_NULL_MSG(test, q, "a typed object was moved");
	if (q)
		ctx->objs[7] = q;

	/* Each runs once, at its object's free. */
	dslab_free(ctx->objs[0]);
	dslab_free(ctx->objs[2]);
	dslab_free(ctx->objs[4]);
	ctx->objs[0] = NULL;
	ctx->objs[2] = NULL;
	ctx->objs[4] = NULL;
	dslab_test_drain();
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->dtor_runs), 2);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->cleanup_runs), 1);
}

/* === Duplicates === */

/* dslab_memdup() and dslab_strdup() copy exactly, onto dirty slots. */
static void dslab_util_dup(struct kunit *test)
{
	static const char str[] = "dslab_strdup copies the NUL";
	struct dslab_util_ctx *ctx = test->priv;
	u8 src[37];
	void *dirty;
	char *s;
	u8 *p;

	dslab_util_fill(src, 0, sizeof(src));
	migrate_disable();
	dirty = dslab_util_dirty_slot(sizeof(src));
	p = dslab_memdup(src, sizeof(src), GFP_KERNEL);
	ctx->objs[0] = p;
	migrate_enable();
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_PTR_EQ_MSG(test, (void *)p, dirty, "memdup did not reuse the dirty slot");
	KUNIT_EXPECT_TRUE(test, dslab_find_object(p, NULL, NULL));
	KUNIT_EXPECT_GE(test, dslab_ksize(p), sizeof(src));
	KUNIT_EXPECT_EQ_MSG(test, memcmp(p, src, sizeof(src)), 0, "memdup copy differs");

	KUNIT_EXPECT_PTR_EQ(test, dslab_memdup(src, 0, GFP_KERNEL), ZERO_SIZE_PTR);
	KUNIT_EXPECT_PTR_EQ(test, dslab_memdup(NULL, 0, GFP_KERNEL), ZERO_SIZE_PTR);
	p = dslab_memdup(NULL, 5, GFP_KERNEL);
	ctx->objs[1] = p;
	KUNIT_EXPECT_NULL_MSG(test, p, "memdup(NULL, 5)");

	migrate_disable();
	dirty = dslab_util_dirty_slot(sizeof(str));
	s = dslab_strdup(str, GFP_KERNEL);
	ctx->objs[2] = s;
	migrate_enable();
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_EXPECT_PTR_EQ_MSG(test, (void *)s, dirty, "strdup did not reuse the dirty slot");
	KUNIT_EXPECT_PTR_NE(test, (const char *)s, (const char *)str);
	KUNIT_EXPECT_EQ_MSG(test, memcmp(s, str, sizeof(str)), 0,
			    "strdup copy differs (or lacks its NUL)");
	KUNIT_EXPECT_STREQ(test, s, str);

	/* The empty string is one byte, its NUL: not ZERO_SIZE_PTR. */
	s = dslab_strdup("", GFP_KERNEL);
	ctx->objs[3] = s;
	KUNIT_ASSERT_FALSE_MSG(test, ZERO_OR_NULL_PTR(s), "strdup(\"\") = %p", s);
	KUNIT_EXPECT_STREQ(test, s, "");
	KUNIT_EXPECT_NULL(test, dslab_strdup(NULL, GFP_KERNEL));
}

/* === __free(dslab) === */

/* Objects declared __free(dslab) are freed when their scope ends. */
static void dslab_util_free_scope(struct kunit *test)
{
	struct dslab_util_ctx *ctx = test->priv;
	long inuse = dslab_objects_inuse();
	u64 bad_frees = dslab_test_stat(BAD_FREE);

	{
		void *p __free(dslab) = dslab_alloc(64, GFP_KERNEL);
		char *s __free(dslab) = dslab_strdup("scoped", GFP_KERNEL);
		void *kept __free(dslab) = dslab_alloc(4096, GFP_KERNEL);
		void *err __free(dslab) = ERR_PTR(-ENOMEM);
		void *none __free(dslab) = NULL;

		KUNIT_EXPECT_NOT_ERR_OR_NULL(test, p);
		KUNIT_EXPECT_NOT_ERR_OR_NULL(test, s);
		KUNIT_EXPECT_NOT_ERR_OR_NULL(test, kept);
		KUNIT_EXPECT_TRUE(test, IS_ERR(err));
		KUNIT_EXPECT_NULL(test, none);
		KUNIT_EXPECT_EQ(test, dslab_objects_inuse(), inuse + 3);
		/* no_free_ptr() hands one out of the scope. */
		ctx->objs[0] = no_free_ptr(kept);
	}
	KUNIT_EXPECT_EQ_MSG(test, dslab_objects_inuse(), inuse + 1,
			    "__free(dslab) objects not freed at scope exit");
	KUNIT_EXPECT_TRUE(test, dslab_find_object(ctx->objs[0], NULL, NULL));
	KUNIT_EXPECT_EQ_MSG(test, dslab_test_stat(BAD_FREE), bad_frees,
			    "__free(dslab) freed an ERR_PTR or NULL");
}

/* === Flexible arrays === */

/*
 * dslab_new_flex_typed(): room for the array, zeroed, the C type's
 * pointer, and the dynamic type recorded: the type's destructor is
 * accepted, another type's refused, as for dslab_new().
 */
static void dslab_util_flex(struct kunit *test)
{
	static const unsigned int counts[] = { 0, 1, 100, 10000 };
	struct dslab_util_ctx *ctx = test->priv;
	size_t huge = SIZE_MAX / 4;
	long inuse = dslab_objects_inuse();
	struct dslab_util_rec *r;
	unsigned int i;
	void *p;

	/* The macro gives the C type's pointer. */
	BUILD_BUG_ON(!__same_type(dslab_new_flex_typed(dslab_util_rec_type, data, 1,
						       GFP_KERNEL),
				  struct dslab_util_rec *));

	for (i = 0; i < ARRAY_SIZE(counts); i++) {
		size_t want = struct_size_t(struct dslab_util_rec, data, counts[i]);

		r = dslab_new_flex_typed(dslab_util_rec_type, data, counts[i], GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL_MSG(test, r, "%u elements", counts[i]);
		ctx->objs[0] = r;
		KUNIT_ASSERT_GE_MSG(test, dslab_ksize(r), want, "%u elements", counts[i]);
		KUNIT_EXPECT_NULL_MSG(test, memchr_inv(r, 0, want), "%u elements not zeroed",
				      counts[i]);
		r->magic = DSLAB_UTIL_MAGIC;
		r->n = counts[i];
		if (counts[i])
			r->data[counts[i] - 1] = 0xf1e7;
		KUNIT_EXPECT_EQ_MSG(test, dslab_set_destructor(r, &dslab_util_other_dtor),
				    -EINVAL, "another type's destructor accepted");
		KUNIT_EXPECT_EQ_MSG(test, dslab_set_destructor(r, &dslab_util_rec_dtor), 0,
				    "the type's destructor refused (type not recorded?)");
		dslab_free(r);
		ctx->objs[0] = NULL;
	}
	dslab_test_drain();
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&ctx->dtor_runs), (int)ARRAY_SIZE(counts),
			    "destructors run for %zu records", ARRAY_SIZE(counts));

	/* Less than the type's size still gets the whole type. */
	p = dslab_new_size(&dslab_util_other_type, 1, GFP_KERNEL);
	ctx->objs[1] = p;
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_GE(test, dslab_ksize(p), sizeof(struct dslab_util_other));

	/* An overflowing count, a NULL type and an interface: NULL. */
	OPTIMIZER_HIDE_VAR(huge);
	p = dslab_new_flex_typed(dslab_util_rec_type, data, huge, GFP_KERNEL);
	ctx->objs[2] = p;
	KUNIT_EXPECT_NULL_MSG(test, p, "struct_size() overflow allocated");
	p = dslab_new_size(NULL, 64, GFP_KERNEL);
	ctx->objs[3] = p;
	KUNIT_EXPECT_NULL(test, p);
	KUNIT_EXPECT_EQ(test, dslab_objects_inuse(), inuse + 1);
}

static struct kunit_case dslab_util_cases[] = {
	KUNIT_CASE(dslab_util_array_overflow),
	KUNIT_CASE(dslab_util_calloc_zeroes),
	KUNIT_CASE(dslab_util_realloc_grow),
	KUNIT_CASE(dslab_util_realloc_in_place),
	KUNIT_CASE(dslab_util_realloc_edges),
	KUNIT_CASE(dslab_util_realloc_zero),
	KUNIT_CASE(dslab_util_realloc_bound),
	KUNIT_CASE(dslab_util_dup),
	KUNIT_CASE(dslab_util_free_scope),
	KUNIT_CASE(dslab_util_flex),
	{}
};

static struct kunit_suite dslab_util_suite = {
	.name = "dslab_util",
	.init = dslab_util_test_init,
	.exit = dslab_util_test_exit,
	.test_cases = dslab_util_cases,
};

kunit_test_suite(dslab_util_suite);
