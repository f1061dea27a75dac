// SPDX-License-Identifier: GPL-2.0
/*
 * Suite dslab_alloc: the allocator (mm/alloc.c, mm/span.c), from the
 * outside.
 *
 * Parameterised cases run over every size class: alloc/free, dslab_ksize,
 * dslab_find_object on every kind of pointer, alignment, __GFP_ZERO on a
 * reused slot, bulk, and double/interior free.  The others cover large
 * objects, foreign pointers, GFP_ATOMIC from hardirq and softirq, all
 * CPUs allocating and freeing each other's objects, bad frees with exact
 * counts, and a shrink that gives every page back.
 *
 * Every case records objects-in-use in .init and checks in .exit, after a
 * destructor barrier, that it is back: each case is also a leak check.
 * Objects a case has not freed when it fails are in ctx->objs and freed by
 * .exit.
 */
#include <linux/delay.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "dslab_test.h"

#define DSLAB_ALLOC_MAX_OBJS	2048

struct dslab_alloc_ctx {
	long inuse_before;
	unsigned int n;			/* entries used in objs[] */
	void *objs[DSLAB_ALLOC_MAX_OBJS];
};

static int dslab_alloc_test_init(struct kunit *test)
{
	struct dslab_alloc_ctx *ctx;

	dslab_test_quiet_bad_frees(true);
	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	dslab_test_drain();
	ctx->inuse_before = dslab_objects_inuse();
	test->priv = ctx;
	return 0;
}

static void dslab_alloc_test_exit(struct kunit *test)
{
	struct dslab_alloc_ctx *ctx = test->priv;
	unsigned int i;

	dslab_test_quiet_bad_frees(false);
	for (i = 0; i < ctx->n; i++)
		dslab_free(ctx->objs[i]);
	dslab_test_drain();
	KUNIT_EXPECT_EQ_MSG(test, dslab_objects_inuse(), ctx->inuse_before,
			    "objects in use changed over the case (leak or lost free)");
}

/* Forget the tracked objects after the case freed them itself. */
static void dslab_alloc_untrack(struct dslab_alloc_ctx *ctx)
{
	ctx->n = 0;
}

static unsigned int dslab_alloc_nr_for(unsigned int class, unsigned int spans)
{
	return min_t(unsigned int, spans * dslab_classes[class].nobjs + 3,
		     DSLAB_ALLOC_MAX_OBJS);
}

DSLAB_TEST_CLASS_PARAMS(dslab_alloc_class);

/* Module text and data, as foreign pointers. */
static int dslab_alloc_static_data = 42;

static noinline void dslab_alloc_module_text(void)
{
	barrier();
}

/* === Per-class cases === */

/*
 * Alloc and free in every class, across more than two spans, requests
 * from the smallest of the class to its size: every object has the class
 * size, no two overlap, their contents survive, class stats count them.
 */
static void dslab_alloc_every_class(struct kunit *test)
{
	struct dslab_alloc_ctx *ctx = test->priv;
	unsigned int class = dslab_test_class_index(test);
	size_t usable = dslab_test_usable(class);
	size_t min_req = dslab_test_min_request(class);
	size_t reqs[3] = { min_req, (min_req + usable) / 2, usable };
	unsigned int nr = dslab_alloc_nr_for(class, 2), i, bad = 0;
	struct dslab_class_stats before, during, after;
	void **sorted;

	if (!dslab_test_usable(class))
		kunit_skip(test, "class %u is not used in debug mode", class);

	KUNIT_ASSERT_EQ(test, dslab_size_class(min_req + dslab_classes[class].size -
					       usable), class);
	KUNIT_ASSERT_EQ(test, dslab_size_class(dslab_classes[class].size), class);
	dslab_class_stats(class, &before);
	for (i = 0; i < nr; i++) {
		size_t req = reqs[i % 3];
		u8 *p = dslab_alloc(req, GFP_KERNEL);

		KUNIT_ASSERT_NOT_ERR_OR_NULL_MSG(test, p, "object %u of %zu bytes", i, req);
		ctx->objs[ctx->n++] = p;
		if (dslab_ksize(p) != usable && bad++ < 3)
			KUNIT_FAIL(test, "dslab_ksize() = %zu for %zu bytes in class %u (%zu)",
				   dslab_ksize(p), req, class, usable);
		memset(p, (u8)i, req);
	}
	dslab_class_stats(class, &during);
	KUNIT_EXPECT_EQ(test, during.inuse - before.inuse, (unsigned long)nr);
	KUNIT_EXPECT_GE(test, during.spans * dslab_classes[class].nobjs,
			during.inuse);

	for (i = 0; i < nr; i++) {
		u8 *p = ctx->objs[i];
		size_t req = reqs[i % 3];

		if ((p[0] != (u8)i || p[req - 1] != (u8)i) && bad++ < 3)
			KUNIT_FAIL(test, "object %u overwritten", i);
	}
	sorted = kunit_kmalloc_array(test, nr, sizeof(void *), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sorted);
	memcpy(sorted, ctx->objs, nr * sizeof(void *));
	KUNIT_EXPECT_EQ_MSG(test, dslab_test_overlaps(sorted, nr, usable), 0u,
			    "objects handed out twice or overlapping");

	for (i = 0; i < nr; i++)
		dslab_free(ctx->objs[i]);
	for (i = 0; i < nr; i++)
		if (dslab_find_object(ctx->objs[i], NULL, NULL) && bad++ < 3)
			KUNIT_FAIL(test, "object %u still live after free", i);
	dslab_alloc_untrack(ctx);
	dslab_class_stats(class, &after);
	KUNIT_EXPECT_EQ(test, after.inuse, before.inuse);
	KUNIT_EXPECT_EQ(test, bad, 0u);
}

/* dslab_find_object() and dslab_ksize() on pointers around an object. */
static void dslab_alloc_find_object(struct kunit *test)
{
	struct dslab_alloc_ctx *ctx = test->priv;
	unsigned int class = dslab_test_class_index(test);
	const struct dslab_class_info *ci = &dslab_classes[class];
	size_t usable = dslab_test_usable(class);
	void *base = NULL;
	size_t size = 0;
	u8 *p, *q;

	if (!dslab_test_usable(class))
		kunit_skip(test, "class %u is not used in debug mode", class);

	p = dslab_alloc(usable, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	ctx->objs[ctx->n++] = p;

	/* the base */
	KUNIT_EXPECT_TRUE(test, dslab_find_object(p, &base, &size));
	KUNIT_EXPECT_PTR_EQ(test, base, (void *)p);
	KUNIT_EXPECT_EQ(test, size, usable);
	KUNIT_EXPECT_EQ(test, dslab_ksize(p), usable);

	/* an interior byte */
	base = NULL;
	KUNIT_EXPECT_TRUE(test, dslab_find_object(p + usable / 2, &base, &size));
	KUNIT_EXPECT_PTR_EQ(test, base, (void *)p);
	/* the last byte */
	base = NULL;
	KUNIT_EXPECT_TRUE(test, dslab_find_object(p + usable - 1, &base, &size));
	KUNIT_EXPECT_PTR_EQ(test, base, (void *)p);
	KUNIT_EXPECT_EQ(test, size, usable);
	/* base and size may be NULL */
	KUNIT_EXPECT_TRUE(test, dslab_find_object(p + usable - 1, NULL, NULL));
	/* an interior pointer is not an object for dslab_ksize() */
	if (usable > 1)
		KUNIT_EXPECT_EQ(test, dslab_ksize(p + 1), (size_t)0);

	/* one past the end: not this object (maybe the next live one) */
	base = NULL;
	if (dslab_find_object(p + usable, &base, &size)) {
		KUNIT_EXPECT_PTR_NE(test, base, (void *)p);
		KUNIT_EXPECT_PTR_EQ(test, base, (void *)(p + ci->size));
	}
	/* one before the start: not this object */
	base = NULL;
	if (dslab_find_object(p - 1, &base, &size))
		KUNIT_EXPECT_PTR_NE(test, base, (void *)p);

	/* the tail of a one-page span is never an object */
	if (ci->npages == 1 && ci->tail) {
		u8 *tail = (u8 *)((unsigned long)p & PAGE_MASK) +
			   (size_t)ci->nobjs * ci->size;

		KUNIT_EXPECT_FALSE(test, dslab_find_object(tail, NULL, NULL));
		KUNIT_EXPECT_FALSE(test, dslab_find_object(tail + ci->tail - 1,
							   NULL, NULL));
		KUNIT_EXPECT_EQ(test, dslab_ksize(tail), (size_t)0);
	}

	/* a free slot, base and interior */
	q = dslab_alloc(usable, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, q);
	KUNIT_EXPECT_TRUE(test, dslab_find_object(q, NULL, NULL));
	dslab_free(q);
	KUNIT_EXPECT_FALSE(test, dslab_find_object(q, NULL, NULL));
	KUNIT_EXPECT_FALSE(test, dslab_find_object(q + usable - 1, NULL, NULL));
	KUNIT_EXPECT_EQ(test, dslab_ksize(q), (size_t)0);

	/* and p is still fine */
	KUNIT_EXPECT_TRUE(test, dslab_find_object(p, NULL, NULL));
	dslab_free(p);
	dslab_alloc_untrack(ctx);
	KUNIT_EXPECT_FALSE(test, dslab_find_object(p, NULL, NULL));
	KUNIT_EXPECT_FALSE(test, dslab_find_object(p + usable - 1, NULL, NULL));
	KUNIT_EXPECT_EQ(test, dslab_ksize(p), (size_t)0);
}

/*
 * At least 8-byte alignment for every object; natural alignment for
 * power-of-two classes up to PAGE_SIZE (not in debug mode, whose red zone
 * moves requests to the next class).
 */
static void dslab_alloc_alignment(struct kunit *test)
{
	struct dslab_alloc_ctx *ctx = test->priv;
	unsigned int class = dslab_test_class_index(test);
	size_t csize = dslab_classes[class].size;
	unsigned int nr = dslab_alloc_nr_for(class, 1), i;
	bool natural = !dslab_debug && is_power_of_2(csize) &&
		       csize <= PAGE_SIZE;
	unsigned int unaligned8 = 0, unnatural = 0;

	if (!dslab_test_usable(class))
		kunit_skip(test, "class %u is not used in debug mode", class);

	for (i = 0; i < nr; i++) {
		void *p = dslab_alloc(dslab_test_usable(class), GFP_KERNEL);

		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
		ctx->objs[ctx->n++] = p;
		unaligned8 += !IS_ALIGNED((unsigned long)p, 8);
		unnatural += natural && !IS_ALIGNED((unsigned long)p, csize);
	}
	KUNIT_EXPECT_EQ_MSG(test, unaligned8, 0u, "of %u objects of class %u", nr, class);
	KUNIT_EXPECT_EQ_MSG(test, unnatural, 0u,
			    "of %u objects of %zu bytes, not naturally aligned", nr, csize);
}

/*
 * __GFP_ZERO on a reused slot: fill an object, free it, allocate with
 * __GFP_ZERO (on the same CPU) until that slot comes back; every object
 * handed out on the way must be zeroed too.
 */
static void dslab_alloc_zero_reused(struct kunit *test)
{
	struct dslab_alloc_ctx *ctx = test->priv;
	unsigned int class = dslab_test_class_index(test);
	size_t usable = dslab_test_usable(class);
	unsigned int limit = dslab_alloc_nr_for(class, 1) + 64, i;
	bool found = false;
	int home;
	u8 *p;

	if (!dslab_test_usable(class))
		kunit_skip(test, "class %u is not used in debug mode", class);

	migrate_disable();
	home = numa_mem_id();
	/*
	 * An object of another node (from a refill that fell back to it)
	 * goes home when freed, not into this CPU's magazine, so it would
	 * not come back here: start from one of this CPU's node, keeping
	 * the others until the exit.
	 */
	for (i = 0; i < 16; i++) {
		p = dslab_alloc(usable, GFP_KERNEL);
		if (!p || page_to_nid(virt_to_page(p)) == home)
			break;
		ctx->objs[ctx->n++] = p;
	}
	if (!p) {
		migrate_enable();
		KUNIT_ASSERT_NOT_NULL(test, p);
	}
	if (page_to_nid(virt_to_page(p)) != home) {
		ctx->objs[ctx->n++] = p;
		migrate_enable();
		kunit_skip(test, "class %u: 16 objects of another node than this CPU's",
			   class);
	}
	memset(p, 0xa5, usable);
	dslab_free(p);
	for (i = 0; i < limit && !found; i++) {
		u8 *q = dslab_alloc(usable, GFP_KERNEL | __GFP_ZERO);

		if (!q)
			break;
		ctx->objs[ctx->n++] = q;
		KUNIT_EXPECT_NULL_MSG(test, memchr_inv(q, 0, usable),
				      "__GFP_ZERO object not zeroed (reused slot: %s)",
				      q == p ? "yes" : "no");
		found = q == p;
	}
	migrate_enable();
	/* What became of it: taken by another task, or sent home. */
	KUNIT_EXPECT_TRUE_MSG(test, found,
			      "freed slot not handed out again within %u allocations on one CPU (slot %s, node %d, CPU's node %d)",
			      limit, dslab_find_object(p, NULL, NULL) ? "live" : "free",
			      page_to_nid(virt_to_page(p)), home);
}

/* dslab_alloc_bulk()/dslab_free_bulk() over more than a magazine. */
static void dslab_alloc_bulk_class(struct kunit *test)
{
	struct dslab_alloc_ctx *ctx = test->priv;
	unsigned int class = dslab_test_class_index(test);
	size_t usable = dslab_test_usable(class);
	unsigned int nr = max(dslab_alloc_nr_for(class, 2), 100u), i, bad = 0;
	struct dslab_class_stats before, during;
	void **sorted;
	int ret;

	if (!dslab_test_usable(class))
		kunit_skip(test, "class %u is not used in debug mode", class);

	nr = min_t(unsigned int, nr, DSLAB_ALLOC_MAX_OBJS);
	KUNIT_EXPECT_EQ(test, dslab_alloc_bulk(usable, GFP_KERNEL, 0, ctx->objs), 0);

	dslab_class_stats(class, &before);
	ret = dslab_alloc_bulk(usable, GFP_KERNEL, nr, ctx->objs);
	KUNIT_ASSERT_EQ(test, ret, (int)nr);
	ctx->n = nr;
	dslab_class_stats(class, &during);
	KUNIT_EXPECT_EQ(test, during.inuse - before.inuse, (unsigned long)nr);
	for (i = 0; i < nr; i++) {
		if (dslab_ksize(ctx->objs[i]) != usable && bad++ < 3)
			KUNIT_FAIL(test, "bulk object %u: ksize %zu, want %zu", i,
				   dslab_ksize(ctx->objs[i]), usable);
		memset(ctx->objs[i], 0x5a, usable);
	}
	sorted = kunit_kmalloc_array(test, nr, sizeof(void *), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sorted);
	memcpy(sorted, ctx->objs, nr * sizeof(void *));
	KUNIT_EXPECT_EQ(test, dslab_test_overlaps(sorted, nr, usable), 0u);

	dslab_free_bulk(nr, ctx->objs);
	for (i = 0; i < nr; i++)
		if (dslab_find_object(ctx->objs[i], NULL, NULL) && bad++ < 3)
			KUNIT_FAIL(test, "bulk object %u live after free_bulk", i);
	dslab_alloc_untrack(ctx);
	dslab_class_stats(class, &during);
	KUNIT_EXPECT_EQ(test, during.inuse, before.inuse);

	/* __GFP_ZERO: the slots just filled with 0x5a come back zeroed. */
	ret = dslab_alloc_bulk(usable, GFP_KERNEL | __GFP_ZERO, nr, ctx->objs);
	KUNIT_ASSERT_EQ(test, ret, (int)nr);
	ctx->n = nr;
	for (i = 0; i < nr; i++)
		if (memchr_inv(ctx->objs[i], 0, usable) && bad++ < 3)
			KUNIT_FAIL(test, "bulk object %u not zeroed", i);
	dslab_free_bulk(nr, ctx->objs);
	dslab_alloc_untrack(ctx);
	KUNIT_EXPECT_EQ(test, bad, 0u);
}

/*
 * dslab_free_bulk() frees a run of objects whose live bits share a word
 * at once.  Bad entries inside and around runs (the same object twice in
 * a row, an object freed before, an interior pointer, a kmalloc pointer,
 * NULL, an object again after its run) are each reported and counted,
 * the good ones around them are freed exactly once.
 */
static void dslab_alloc_bulk_bad_runs(struct kunit *test)
{
	struct dslab_alloc_ctx *ctx = test->priv;
	unsigned int class = dslab_test_class_index(test);
	size_t usable = dslab_test_usable(class);
	u64 dbl0 = dslab_test_stat(DOUBLE_FREE);
	u64 intr0 = dslab_test_stat(INTERIOR_FREE);
	u64 frgn0 = dslab_test_stat(FOREIGN_FREE);
	const unsigned int nr = 16;
	unsigned int i, n = 0, bad = 0;
	void **arr, **sorted;
	u64 free0, rem0;
	void *k;

	if (!usable)
		kunit_skip(test, "class %u is not used in debug mode", class);
	arr = kunit_kmalloc_array(test, nr + 8, sizeof(void *), GFP_KERNEL);
	sorted = kunit_kmalloc_array(test, 2 * nr, sizeof(void *), GFP_KERNEL);
	k = kunit_kmalloc(test, 64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, arr);
	KUNIT_ASSERT_NOT_NULL(test, sorted);
	KUNIT_ASSERT_NOT_NULL(test, k);

	KUNIT_ASSERT_EQ(test, dslab_alloc_bulk(usable, GFP_KERNEL, nr, ctx->objs),
			(int)nr);
	ctx->n = nr;
	dslab_free(ctx->objs[5]);
	for (i = 0; i < nr; i++) {
		arr[n++] = ctx->objs[i];
		if (i == 2)
			arr[n++] = ctx->objs[2];
		if (i == 7)
			arr[n++] = (u8 *)ctx->objs[8] + usable / 2;
		if (i == 9)
			arr[n++] = k;
		if (i == 11)
			arr[n++] = NULL;
	}
	arr[n++] = ctx->objs[0];

	free0 = dslab_test_stat(FREE);
	rem0 = dslab_test_stat(REMOTE_FREES);
	dslab_free_bulk(n, arr);
	dslab_alloc_untrack(ctx);
	/*
	 * A repeat, a freed object and a late repeat: double frees, or
	 * foreign pointers once their span went back to the page allocator
	 * (the large classes' magazines are too small to keep 16 objects
	 * out of their spans, and objects freed on another node's CPU, when
	 * the case moved between the calls, go straight home); and the
	 * kmalloc pointer.
	 */
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DOUBLE_FREE) - dbl0 +
			dslab_test_stat(FOREIGN_FREE) - frgn0, 4ull);
	KUNIT_EXPECT_GE(test, dslab_test_stat(FOREIGN_FREE) - frgn0, 1ull);
	if (dslab_classes[class].size <= 1024 &&
	    dslab_test_stat(REMOTE_FREES) == rem0)
		KUNIT_EXPECT_EQ(test, dslab_test_stat(DOUBLE_FREE) - dbl0, 3ull);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(INTERIOR_FREE) - intr0, 1ull);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(FREE) - free0, (u64)(nr - 1));
	for (i = 0; i < nr; i++)
		if (dslab_find_object(ctx->objs[i], NULL, NULL) && bad++ < 3)
			KUNIT_FAIL(test, "object %u live after dslab_free_bulk()", i);
	KUNIT_EXPECT_EQ(test, bad, 0u);
	KUNIT_EXPECT_EQ(test, ksize(k), (size_t)64);

	/* No slot went back twice: the next allocations are all distinct. */
	KUNIT_ASSERT_EQ(test, dslab_alloc_bulk(usable, GFP_KERNEL, 2 * nr,
					       ctx->objs), (int)(2 * nr));
	ctx->n = 2 * nr;
	memcpy(sorted, ctx->objs, 2 * nr * sizeof(void *));
	KUNIT_EXPECT_EQ(test, dslab_test_overlaps(sorted, 2 * nr, usable), 0u);
}

/*
 * Double free and interior free in every class: detected, counted exactly
 * (and in the bad-free total), the heap intact afterwards.
 */
static void dslab_alloc_double_free(struct kunit *test)
{
	struct dslab_alloc_ctx *ctx = test->priv;
	unsigned int class = dslab_test_class_index(test);
	const struct dslab_class_info *ci = &dslab_classes[class];
	size_t usable = dslab_test_usable(class);
	u64 bad0 = dslab_test_stat(BAD_FREE), dbl0 = dslab_test_stat(DOUBLE_FREE);
	u64 intr0 = dslab_test_stat(INTERIOR_FREE), frgn0 = dslab_test_stat(FOREIGN_FREE);
	u64 free0, bad = 2;
	unsigned int nr = min_t(unsigned int, 2 * 32 + ci->nobjs + 2,
				DSLAB_ALLOC_MAX_OBJS), i, seen = 0;
	void **sorted;
	u8 *p, *q;

	if (!dslab_test_usable(class))
		kunit_skip(test, "class %u is not used in debug mode", class);

	p = dslab_alloc(usable, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	dslab_free(p);
	dslab_free(p);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DOUBLE_FREE) - dbl0, 1ull);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(BAD_FREE) - bad0, 1ull);
	KUNIT_EXPECT_TRUE_MSG(test, dslab_test_bad_free_by(__func__),
			      "the report does not name the caller");

	/* The slot must not have gone on a freelist twice. */
	for (i = 0; i < nr; i++) {
		void *o = dslab_alloc(usable, GFP_KERNEL);

		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, o);
		ctx->objs[ctx->n++] = o;
		seen += o == p;
		KUNIT_EXPECT_TRUE(test, dslab_find_object(o, NULL, NULL));
	}
	KUNIT_EXPECT_LE_MSG(test, seen, 1u, "double-freed slot handed out %u times", seen);
	sorted = kunit_kmalloc_array(test, nr, sizeof(void *), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sorted);
	memcpy(sorted, ctx->objs, nr * sizeof(void *));
	KUNIT_EXPECT_EQ(test, dslab_test_overlaps(sorted, nr, usable), 0u);
	dslab_free_bulk(nr, ctx->objs);
	dslab_alloc_untrack(ctx);

	/* Interior pointer: refused, the object stays live and frees once. */
	q = dslab_alloc(usable, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, q);
	ctx->objs[ctx->n++] = q;
	dslab_free(q + usable / 2);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(INTERIOR_FREE) - intr0, 1ull);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(BAD_FREE) - bad0, 2ull);
	KUNIT_EXPECT_TRUE(test, dslab_find_object(q, NULL, NULL));
	KUNIT_EXPECT_EQ(test, dslab_ksize(q), usable);
	free0 = dslab_test_stat(FREE);
	dslab_free(q);
	dslab_alloc_untrack(ctx);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(FREE) - free0, 1ull);
	KUNIT_EXPECT_FALSE(test, dslab_find_object(q, NULL, NULL));

	/*
	 * The start of a one-page span's tail has the index one past the
	 * last object, whose live bit the free tests first: an interior
	 * free all the same, not a double one.
	 */
	if (ci->npages == 1 && ci->tail) {
		q = dslab_alloc(usable, GFP_KERNEL);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, q);
		ctx->objs[ctx->n++] = q;
		dslab_free((u8 *)((unsigned long)q & PAGE_MASK) +
			   (size_t)ci->nobjs * ci->size);
		KUNIT_EXPECT_EQ(test, dslab_test_stat(INTERIOR_FREE) - intr0, 2ull);
		bad++;
	}

	/* Nothing was counted as anything else. */
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DOUBLE_FREE) - dbl0, 1ull);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(FOREIGN_FREE) - frgn0, 0ull);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(BAD_FREE) - bad0, bad);

	/* Still works. */
	p = dslab_alloc(usable, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	KUNIT_EXPECT_EQ(test, dslab_ksize(p), usable);
	dslab_free(p);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(BAD_FREE) - bad0, bad);
}

/* === Other cases === */

/*
 * A kmalloc pointer passed to each free: refused, counted, and reported
 * naming the caller, not dslab's own free path.
 */
static void dslab_alloc_bad_free_caller(struct kunit *test)
{
	u64 frgn0 = dslab_test_stat(FOREIGN_FREE);
	void *k = kunit_kmalloc(test, 64, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, k);
	WRITE_ONCE(dslab_bad_free_caller, 0);
	dslab_free(k);
	KUNIT_EXPECT_TRUE_MSG(test, dslab_test_bad_free_by(__func__),
			      "dslab_free(): the report does not name the caller");
	WRITE_ONCE(dslab_bad_free_caller, 0);
	dslab_free_rcu(k);
	KUNIT_EXPECT_TRUE_MSG(test, dslab_test_bad_free_by(__func__),
			      "dslab_free_rcu(): the report does not name the caller");
	WRITE_ONCE(dslab_bad_free_caller, 0);
	dslab_free_bulk(1, &k);
	KUNIT_EXPECT_TRUE_MSG(test, dslab_test_bad_free_by(__func__),
			      "dslab_free_bulk(): the report does not name the caller");
	KUNIT_EXPECT_EQ(test, dslab_test_stat(FOREIGN_FREE) - frgn0, 3ull);
	/* Still kmalloc's, untouched: kunit frees it. */
	KUNIT_EXPECT_EQ(test, ksize(k), (size_t)64);
}

/*
 * What kfree() of a dslab object does to its page on 6.x: the kernel
 * WARNs (not a slab page) and puts the page.  kfree() itself cannot run
 * here, since its WARN is a kernel report; its put_page() does.  dslab's
 * own reference keeps the page, the object stays usable, and releasing
 * the span counts and frees it once.
 */
static void dslab_alloc_kfree_page(struct kunit *test)
{
	u64 put0 = dslab_test_stat(PAGES_PUT_BEHIND);
	long inuse = dslab_objects_inuse();
	struct page *page;
	u8 *p;

	/* A large object: its span holds nothing else. */
	p = dslab_alloc(DSLAB_MAX_SMALL_SIZE + 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	page = virt_to_page(p);
	KUNIT_EXPECT_EQ_MSG(test, page_ref_count(page), 2,
			    "dslab holds no reference of its own on a span page");
	if (page_ref_count(page) < 2) {
		dslab_free(p);
		return;
	}
	put_page(page);
	memset(p, 0x5a, DSLAB_MAX_SMALL_SIZE + 1);
	KUNIT_EXPECT_TRUE(test, dslab_find_object(p, NULL, NULL));
	dslab_free(p);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(PAGES_PUT_BEHIND) - put0, 1ull);
	KUNIT_EXPECT_EQ(test, dslab_objects_inuse(), inuse);
}

struct dslab_alloc_foreign {
	const char *what;
	const void *ptr;
};

/* dslab_find_object()/dslab_ksize() say no to pointers dslab did not give. */
static void dslab_alloc_foreign_pointers(struct kunit *test)
{
	struct dslab_alloc_foreign f[16];
	unsigned long on_stack = 0;
	struct page *page;
	void *km, *vm, *large;
	unsigned int n = 0, i;

	km = kunit_kmalloc(test, 128, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, km);
	vm = vmalloc(PAGE_SIZE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	page = alloc_page(GFP_KERNEL);
	if (!page) {
		vfree(vm);
		KUNIT_ASSERT_NOT_NULL(test, page);
	}
	large = dslab_alloc(64 * 1024, GFP_KERNEL);
	if (large)
		dslab_free(large);	/* its pages went back: a stale pointer */

	f[n++] = (struct dslab_alloc_foreign){ "NULL", NULL };
	f[n++] = (struct dslab_alloc_foreign){ "ZERO_SIZE_PTR", ZERO_SIZE_PTR };
	f[n++] = (struct dslab_alloc_foreign){ "ERR_PTR(-ENOMEM)", ERR_PTR(-ENOMEM) };
	f[n++] = (struct dslab_alloc_foreign){ "ERR_PTR(-1)", ERR_PTR(-1) };
	f[n++] = (struct dslab_alloc_foreign){ "user address", (void *)0x10000UL };
	f[n++] = (struct dslab_alloc_foreign){ "stack", &on_stack };
	f[n++] = (struct dslab_alloc_foreign){ "kmalloc", km };
	f[n++] = (struct dslab_alloc_foreign){ "vmalloc", vm };
	f[n++] = (struct dslab_alloc_foreign){ "page allocator", page_address(page) };
	f[n++] = (struct dslab_alloc_foreign){ "module text",
					       (const void *)dslab_alloc_module_text };
	f[n++] = (struct dslab_alloc_foreign){ "module data", &dslab_alloc_static_data };
	f[n++] = (struct dslab_alloc_foreign){ "dslab.ko text", (const void *)dslab_alloc };
	f[n++] = (struct dslab_alloc_foreign){ "kernel text", (const void *)kfree };
	f[n++] = (struct dslab_alloc_foreign){ "kernel data", (const void *)&jiffies };
	if (large)
		f[n++] = (struct dslab_alloc_foreign){ "freed large object", large };
	f[n++] = (struct dslab_alloc_foreign){ "top of address space", (void *)-4096L };

	for (i = 0; i < n; i++) {
		void *base = (void *)0x1;
		size_t size = 7;

		KUNIT_EXPECT_FALSE_MSG(test, dslab_find_object(f[i].ptr, &base, &size),
				       "dslab_find_object(%s)", f[i].what);
		KUNIT_EXPECT_EQ_MSG(test, dslab_ksize(f[i].ptr), (size_t)0,
				    "dslab_ksize(%s)", f[i].what);
	}
	__free_page(page);
	vfree(vm);
	dslab_alloc_module_text();
}

/* Power-of-two requests up to PAGE_SIZE are naturally aligned. */
static void dslab_alloc_pow2_requests(struct kunit *test)
{
	struct dslab_alloc_ctx *ctx = test->priv;
	size_t size;
	unsigned int i;

	if (dslab_debug)
		kunit_skip(test, "debug mode red zones move power-of-two requests up a class");
	for (size = 1; size <= 4 * PAGE_SIZE; size <<= 1) {
		for (i = 0; i < 8; i++) {
			void *p = dslab_alloc(size, GFP_KERNEL);

			KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
			ctx->objs[ctx->n++] = p;
			size_t align = clamp_t(size_t, size, 8, PAGE_SIZE);

			KUNIT_EXPECT_TRUE_MSG(test, IS_ALIGNED((unsigned long)p, align),
					      "%zu-byte object at offset %lu in its page",
					      size, offset_in_page(p));
		}
	}
}

/* dslab_alloc(0) and freeing NULL / ZERO_SIZE_PTR, like kmalloc. */
static void dslab_alloc_zero_size(struct kunit *test)
{
	u64 free0 = dslab_test_stat(FREE), bad0 = dslab_test_stat(BAD_FREE);
	u64 alloc0 = dslab_test_stat(ALLOC);
	long inuse = dslab_objects_inuse();

	KUNIT_EXPECT_PTR_EQ(test, dslab_alloc(0, GFP_KERNEL), ZERO_SIZE_PTR);
	KUNIT_EXPECT_PTR_EQ(test, dslab_alloc(0, GFP_ATOMIC | __GFP_ZERO), ZERO_SIZE_PTR);
	dslab_free(NULL);
	dslab_free(ZERO_SIZE_PTR);
	dslab_free_rcu(NULL);
	dslab_free_rcu(ZERO_SIZE_PTR);
	KUNIT_EXPECT_EQ(test, dslab_ksize(ZERO_SIZE_PTR), (size_t)0);
	KUNIT_EXPECT_EQ(test, dslab_ksize(NULL), (size_t)0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(FREE), free0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(BAD_FREE), bad0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(ALLOC), alloc0);
	KUNIT_EXPECT_EQ(test, dslab_objects_inuse(), inuse);
}

/* Requests above 32 KiB, up to 1 MiB: own spans, page aligned, usable. */
static void dslab_alloc_large(struct kunit *test)
{
	static const size_t sizes[] = {
		DSLAB_MAX_SMALL_SIZE + 1, 33 * 1024, 48 * 1024, 64 * 1024,
		100000, 128 * 1024 + 1, 256 * 1024, 512 * 1024 - 8,
		1024 * 1024 - 1, 1024 * 1024,
	};
	struct dslab_alloc_ctx *ctx = test->priv;
	long pages0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t sz = sizes[i];
		void *base = NULL;
		size_t size = 0;
		u8 *p;

		KUNIT_EXPECT_EQ(test, dslab_size_class(sz), (unsigned int)DSLAB_CLASS_LARGE);
		pages0 = atomic_long_read(&dslab_pages_held);
		p = dslab_alloc(sz, GFP_KERNEL);
		KUNIT_ASSERT_NOT_ERR_OR_NULL_MSG(test, p, "%zu bytes", sz);
		ctx->objs[ctx->n++] = p;
		KUNIT_EXPECT_GE(test, atomic_long_read(&dslab_pages_held) - pages0,
				(long)(PAGE_ALIGN(sz) >> PAGE_SHIFT));
		KUNIT_EXPECT_TRUE(test, PAGE_ALIGNED(p));
		KUNIT_EXPECT_GE(test, dslab_ksize(p), sz);
		memset(p, 0x3c, sz);
		KUNIT_EXPECT_TRUE(test, dslab_find_object(p, &base, &size));
		KUNIT_EXPECT_PTR_EQ(test, base, (void *)p);
		KUNIT_EXPECT_GE(test, size, sz);
		base = NULL;
		KUNIT_EXPECT_TRUE(test, dslab_find_object(p + sz / 2 + 3, &base, NULL));
		KUNIT_EXPECT_PTR_EQ(test, base, (void *)p);
		base = NULL;
		KUNIT_EXPECT_TRUE(test, dslab_find_object(p + sz - 1, &base, NULL));
		KUNIT_EXPECT_PTR_EQ(test, base, (void *)p);
		base = NULL;
		if (dslab_find_object(p + dslab_ksize(p), &base, NULL))
			KUNIT_EXPECT_PTR_NE(test, base, (void *)p);
		KUNIT_EXPECT_EQ(test, p[sz - 1], (u8)0x3c);
		dslab_free(p);
		ctx->n--;
		KUNIT_EXPECT_FALSE(test, dslab_find_object(p, NULL, NULL));
		KUNIT_EXPECT_EQ(test, dslab_ksize(p), (size_t)0);
	}

	/* __GFP_ZERO on large objects, after dirtying a same-size one */
	for (i = 0; i < 2; i++) {
		u8 *p = dslab_alloc(64 * 1024, GFP_KERNEL);

		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
		memset(p, 0xff, 64 * 1024);
		dslab_free(p);
		p = dslab_alloc(64 * 1024, GFP_KERNEL | __GFP_ZERO);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
		KUNIT_EXPECT_NULL(test, memchr_inv(p, 0, 64 * 1024));
		dslab_free(p);
	}
}

/* Requests that cannot be met fail cleanly instead of wrapping around. */
static void dslab_alloc_impossible(struct kunit *test)
{
	static const size_t sizes[] = {
		SIZE_MAX, SIZE_MAX - PAGE_SIZE + 2, SIZE_MAX / 2,
		(size_t)1 << 44, ((size_t)1 << 44) + PAGE_SIZE,
		(size_t)U32_MAX + 1 + PAGE_SIZE, (size_t)1 << 40,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		u64 fail0 = dslab_test_stat(ALLOC_FAIL);
		void *p = dslab_alloc(sizes[i], GFP_KERNEL | __GFP_NOWARN);

		if (p) {
			KUNIT_FAIL(test, "dslab_alloc(%#zx) returned an object of %zu bytes",
				   sizes[i], dslab_ksize(p));
			dslab_free(p);
			continue;
		}
		KUNIT_EXPECT_EQ_MSG(test, dslab_test_stat(ALLOC_FAIL) - fail0, 1ull,
				    "failed allocation of %#zx not counted", sizes[i]);
	}
}

/* Bulk of large objects, and bulk under injected allocation failures. */
static void dslab_alloc_bulk_large_and_fail(struct kunit *test)
{
	struct dslab_alloc_ctx *ctx = test->priv;
	unsigned int nth, zero_runs = 0, i;
	unsigned long hits0;
	int ret;

	ret = dslab_alloc_bulk(40000, GFP_KERNEL, 8, ctx->objs);
	KUNIT_ASSERT_EQ(test, ret, 8);
	ctx->n = 8;
	for (i = 0; i < 8; i++)
		KUNIT_EXPECT_GE(test, dslab_ksize(ctx->objs[i]), (size_t)40000);
	dslab_free_bulk(8, ctx->objs);
	dslab_alloc_untrack(ctx);

	/* 64 objects of 256 bytes from empty caches need four new spans. */
	hits0 = dslab_fault_fail_nth(0);
	for (nth = 1; nth <= 12; nth++) {
		long inuse;

		dslab_shrink();
		inuse = dslab_objects_inuse();
		dslab_fault_fail_nth(nth);
		ret = dslab_alloc_bulk(256, GFP_KERNEL, 64, ctx->objs);
		dslab_fault_fail_nth(0);
		if (ret == 0) {
			zero_runs++;
			KUNIT_EXPECT_EQ_MSG(test, dslab_objects_inuse(), inuse,
					    "failed bulk (fault at %u) left objects", nth);
			continue;
		}
		KUNIT_EXPECT_EQ(test, ret, 64);
		if (ret == 64)
			dslab_free_bulk(64, ctx->objs);
	}
	KUNIT_EXPECT_GT_MSG(test, dslab_fault_fail_nth(0), hits0,
			    "no allocation failure was injected");
	KUNIT_EXPECT_GT_MSG(test, zero_runs, 0u,
			    "no injected failure made dslab_alloc_bulk() fail");
}

struct dslab_alloc_irq {
	void *pre[12];		/* allocated in process context, freed in irq */
	void *kept[12];		/* allocated in irq, freed in process context */
	bool zero_ok[12];
	unsigned int failed;
};

static const size_t dslab_alloc_irq_sizes[12] = {
	8, 24, 100, 256, 1000, 2048, 4096, 5000, 10000, 32768, 40000, 128 * 1024,
};

static void dslab_alloc_irq_fn(void *data)
{
	struct dslab_alloc_irq *s = data;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(dslab_alloc_irq_sizes); i++) {
		size_t sz = dslab_alloc_irq_sizes[i];
		void *tmp = dslab_alloc(sz, GFP_ATOMIC);

		if (!tmp)
			s->failed++;
		dslab_free(tmp);
		s->kept[i] = dslab_alloc(sz, GFP_ATOMIC | __GFP_ZERO);
		if (!s->kept[i])
			s->failed++;
		else
			s->zero_ok[i] = !memchr_inv(s->kept[i], 0, sz);
		dslab_free(s->pre[i]);
	}
}

static void dslab_alloc_irq_common(struct kunit *test, bool hardirq)
{
	struct dslab_alloc_irq *s;
	u64 free0, bad0 = dslab_test_stat(BAD_FREE);
	unsigned int i;
	bool right;

	s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, s);
	for (i = 0; i < ARRAY_SIZE(s->pre); i++) {
		s->pre[i] = dslab_alloc(dslab_alloc_irq_sizes[i], GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, s->pre[i]);
	}
	free0 = dslab_test_stat(FREE);
	right = hardirq ? dslab_test_in_hardirq(dslab_alloc_irq_fn, s) :
			  dslab_test_in_softirq(dslab_alloc_irq_fn, s);
	KUNIT_EXPECT_TRUE_MSG(test, right, "callback did not run in %s context",
			      hardirq ? "hardirq" : "softirq");
	KUNIT_EXPECT_EQ(test, s->failed, 0u);
	/* 12 temporary objects and the 12 pre-allocated ones */
	KUNIT_EXPECT_EQ(test, dslab_test_stat(FREE) - free0,
			2ull * ARRAY_SIZE(s->pre));
	for (i = 0; i < ARRAY_SIZE(s->kept); i++) {
		if (!s->kept[i])
			continue;
		KUNIT_EXPECT_TRUE_MSG(test, s->zero_ok[i], "%zu bytes not zeroed",
				      dslab_alloc_irq_sizes[i]);
		KUNIT_EXPECT_GE(test, dslab_ksize(s->kept[i]), dslab_alloc_irq_sizes[i]);
		/* pre[i] was freed after kept[i] was allocated */
		if (dslab_alloc_irq_sizes[i] <= DSLAB_MAX_SMALL_SIZE)
			KUNIT_EXPECT_EQ(test, dslab_ksize(s->pre[i]), (size_t)0);
		dslab_free(s->kept[i]);
	}
	KUNIT_EXPECT_EQ(test, dslab_test_stat(BAD_FREE), bad0);
}

static void dslab_alloc_atomic_hardirq(struct kunit *test)
{
	if (DSLAB_TEST_NO_HARDIRQ)
		kunit_skip(test, DSLAB_TEST_NO_HARDIRQ_WHY);
	dslab_alloc_irq_common(test, true);
}

static void dslab_alloc_atomic_softirq(struct kunit *test)
{
	dslab_alloc_irq_common(test, false);
}

/*
 * All CPUs allocate, then each frees the objects its neighbour allocated
 * (remote frees), in rounds, with a shrink now and then racing the rest.
 * Each object carries a tag (thread, round, index) at both ends: an
 * object handed out twice or overwritten shows up as a wrong tag.
 */
#define DSLAB_CONC_ROUNDS	40
#define DSLAB_CONC_PER_ROUND	96

struct dslab_alloc_conc {
	struct dslab_test_barrier barrier;
	void *(*objs)[DSLAB_CONC_PER_ROUND];	/* [thread][i] */
	atomic_t alloc_fail;
	atomic_t bad_tag;
	atomic_t not_found;
	atomic_t frees;
};

static const size_t dslab_conc_sizes[] = {
	8, 16, 40, 64, 96, 200, 256, 500, 1024, 1500, 3000, 4096, 9000, 40000,
};

static u64 dslab_conc_tag(unsigned int t, unsigned int r, unsigned int i)
{
	return 0xd51ab00000000000ull | (u64)t << 32 | r << 16 | i;
}

static size_t dslab_conc_size(unsigned int t, unsigned int r, unsigned int i)
{
	return dslab_conc_sizes[(t + r + i) % ARRAY_SIZE(dslab_conc_sizes)];
}

static void dslab_alloc_conc_fn(void *data, unsigned int idx, unsigned int nr)
{
	struct dslab_alloc_conc *c = data;
	unsigned int from = (idx + 1) % nr, r, i;

	for (r = 0; r < DSLAB_CONC_ROUNDS; r++) {
		for (i = 0; i < DSLAB_CONC_PER_ROUND; i++) {
			size_t sz = dslab_conc_size(idx, r, i);
			u64 *p = dslab_alloc(sz, (i & 1) ? GFP_ATOMIC : GFP_KERNEL);

			c->objs[idx][i] = p;
			if (!p) {
				atomic_inc(&c->alloc_fail);
				continue;
			}
			p[0] = dslab_conc_tag(idx, r, i);
			p[sz / 8 - 1] = dslab_conc_tag(idx, r, i);
		}
		if (idx == 0 && r % 8 == 7)
			dslab_shrink();
		dslab_test_barrier_wait(&c->barrier);
		for (i = 0; i < DSLAB_CONC_PER_ROUND; i++) {
			size_t sz = dslab_conc_size(from, r, i);
			u64 *p = c->objs[from][i];
			void *base = NULL;

			if (!p)
				continue;
			if (p[0] != dslab_conc_tag(from, r, i) ||
			    p[sz / 8 - 1] != dslab_conc_tag(from, r, i))
				atomic_inc(&c->bad_tag);
			if (!dslab_find_object((u8 *)p + sz - 1, &base, NULL) ||
			    base != p)
				atomic_inc(&c->not_found);
			dslab_free(p);
			atomic_inc(&c->frees);
		}
		dslab_test_barrier_wait(&c->barrier);
	}
}

static void dslab_alloc_concurrent(struct kunit *test)
{
	unsigned int nr = dslab_test_nr_threads();
	struct dslab_alloc_conc *c;
	u64 bad0 = dslab_test_stat(BAD_FREE);
	int ret;

	if (nr < 2)
		kunit_skip(test, "needs at least 2 online CPUs, have %u", nr);
	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->objs = kunit_kcalloc(test, nr_cpu_ids, sizeof(*c->objs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c->objs);
	dslab_test_barrier_init(&c->barrier, nr);

	ret = dslab_test_on_cpus(dslab_alloc_conc_fn, c, nr);
	KUNIT_ASSERT_EQ(test, ret, (int)nr);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->alloc_fail), 0);
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&c->bad_tag), 0,
			    "objects overwritten or handed out twice");
	KUNIT_EXPECT_EQ(test, atomic_read(&c->not_found), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->frees),
			(int)(nr * DSLAB_CONC_ROUNDS * DSLAB_CONC_PER_ROUND));
	KUNIT_EXPECT_EQ(test, dslab_test_stat(BAD_FREE), bad0);
}

/*
 * A free that interrupts this CPU's magazine writer (in the middle of a
 * push) must not write the magazine: it goes to the central list.  The
 * writer flag is set by hand, which is exactly what such an interrupt
 * finds.
 */
static void dslab_alloc_interrupted_writer(struct kunit *test)
{
	unsigned int class = dslab_size_class(64), before, during, after;
	u64 free0 = dslab_test_stat(FREE);
	long inuse0 = dslab_objects_inuse();
	void *obj, *again;

	/* There the writer flag is only ever set under dslab_mag_lock. */
	if (IS_ENABLED(CONFIG_PREEMPT_RT))
		kunit_skip(test, "PREEMPT_RT: no free interrupts a writer (locked)");
	preempt_disable();
	obj = dslab_alloc(64, GFP_ATOMIC);
	if (!obj) {
		preempt_enable();
		KUNIT_ASSERT_NOT_NULL(test, obj);
	}
	before = dslab_test_mag_count(class);
	dslab_test_mag_writer(true);
	dslab_free(obj);
	during = dslab_test_mag_count(class);
	dslab_test_mag_writer(false);
	after = dslab_test_mag_count(class);
	preempt_enable();

	KUNIT_EXPECT_EQ_MSG(test, during, before,
			    "a free under a busy writer wrote the magazine");
	KUNIT_EXPECT_EQ(test, after, before);
	KUNIT_EXPECT_EQ(test, dslab_ksize(obj), (size_t)0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(FREE) - free0, (u64)1);
	KUNIT_EXPECT_EQ(test, dslab_objects_inuse(), inuse0);

	/* The object is whole and allocatable again, from the central list. */
	dslab_shrink();
	again = dslab_alloc(64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, again);
	KUNIT_EXPECT_EQ(test, dslab_ksize(again), (size_t)dslab_classes[class].size);
	dslab_free(again);
}

/* Frees of pointers dslab never allocated: counted exactly, no damage. */
static void dslab_alloc_bad_free_foreign(struct kunit *test)
{
	u64 bad0 = dslab_test_stat(BAD_FREE), frgn0 = dslab_test_stat(FOREIGN_FREE);
	u64 dbl0 = dslab_test_stat(DOUBLE_FREE), intr0 = dslab_test_stat(INTERIOR_FREE);
	u64 free0 = dslab_test_stat(FREE);
	unsigned long on_stack = 0x1234;
	int static_before = dslab_alloc_static_data;
	const void *bad[10];
	struct page *page;
	u8 *km, *vm, *p;
	unsigned int n = 0, i;

	km = kunit_kmalloc(test, 256, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, km);
	memset(km, 0x77, 256);
	vm = vmalloc(PAGE_SIZE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	memset(vm, 0x66, PAGE_SIZE);
	page = alloc_page(GFP_KERNEL);
	if (!page) {
		vfree(vm);
		KUNIT_ASSERT_NOT_NULL(test, page);
	}

	bad[n++] = &on_stack;
	bad[n++] = km;
	bad[n++] = km + 16;
	bad[n++] = vm;
	bad[n++] = page_address(page);
	bad[n++] = (void *)0x10000UL;
	bad[n++] = ERR_PTR(-ENOMEM);
	bad[n++] = &dslab_alloc_static_data;
	bad[n++] = (const void *)dslab_alloc_module_text;
	bad[n++] = (const void *)&jiffies;
	for (i = 0; i < n; i++)
		dslab_free(bad[i]);

	KUNIT_EXPECT_EQ(test, dslab_test_stat(FOREIGN_FREE) - frgn0, (u64)n);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(BAD_FREE) - bad0, (u64)n);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DOUBLE_FREE), dbl0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(INTERIOR_FREE), intr0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(FREE), free0);

	/* nothing was written or freed */
	KUNIT_EXPECT_EQ(test, on_stack, 0x1234ul);
	KUNIT_EXPECT_NULL(test, memchr_inv(km, 0x77, 256));
	KUNIT_EXPECT_NULL(test, memchr_inv(vm, 0x66, PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, dslab_alloc_static_data, static_before);
	__free_page(page);
	vfree(vm);

	/* the heap still works */
	p = dslab_alloc(128, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	KUNIT_EXPECT_TRUE(test, dslab_find_object(p + 5, NULL, NULL));
	dslab_free(p);
	KUNIT_EXPECT_FALSE(test, dslab_find_object(p, NULL, NULL));
	KUNIT_EXPECT_EQ(test, dslab_test_stat(BAD_FREE) - bad0, (u64)n);
}

/*
 * A shrink gives every page back: after allocating in every class and
 * freeing it all, dslab_shrink() returns pages held to the baseline, and
 * classes with nothing in use keep no span.
 */
static void dslab_alloc_shrink(struct kunit *test)
{
	struct dslab_alloc_ctx *ctx = test->priv;
	u64 spans_alloc0, spans_freed0;
	long base, peak;
	unsigned int class, i;

	dslab_test_drain();
	dslab_shrink();
	base = atomic_long_read(&dslab_pages_held);
	spans_alloc0 = dslab_test_stat(SPANS_ALLOCATED);
	spans_freed0 = dslab_test_stat(SPANS_FREED);

	for (class = 0; class < DSLAB_NR_CLASSES; class++) {
		unsigned int nr = min_t(unsigned int,
					dslab_classes[class].nobjs + 1, 40);

		for (i = 0; i < nr && ctx->n < DSLAB_ALLOC_MAX_OBJS - 4; i++) {
			void *p = dslab_alloc(dslab_test_usable(class), GFP_KERNEL);

			KUNIT_ASSERT_NOT_NULL(test, p);
			ctx->objs[ctx->n++] = p;
		}
	}
	for (i = 0; i < 3; i++) {
		void *p = dslab_alloc(100 * 1024, GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, p);
		ctx->objs[ctx->n++] = p;
	}
	peak = atomic_long_read(&dslab_pages_held);
	KUNIT_EXPECT_GT(test, peak, base);

	dslab_free_bulk(ctx->n, ctx->objs);
	dslab_alloc_untrack(ctx);
	KUNIT_EXPECT_GT(test, dslab_shrink(), 0ul);
	KUNIT_EXPECT_EQ_MSG(test, atomic_long_read(&dslab_pages_held), base,
			    "pages held %ld at baseline, %ld at peak",
			    base, peak);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(SPANS_ALLOCATED) - spans_alloc0,
			dslab_test_stat(SPANS_FREED) - spans_freed0);
	for (class = 0; class < DSLAB_NR_CLASSES; class++) {
		struct dslab_class_stats st;

		dslab_class_stats(class, &st);
		if (!st.inuse)
			KUNIT_EXPECT_EQ_MSG(test, st.spans, 0ul,
					    "class %u: %lu spans kept with nothing in use",
					    class, st.spans);
	}
}

static struct kunit_case dslab_alloc_cases[] = {
	KUNIT_CASE_PARAM(dslab_alloc_every_class, dslab_alloc_class_gen_params),
	KUNIT_CASE_PARAM(dslab_alloc_find_object, dslab_alloc_class_gen_params),
	KUNIT_CASE_PARAM(dslab_alloc_alignment, dslab_alloc_class_gen_params),
	KUNIT_CASE_PARAM(dslab_alloc_zero_reused, dslab_alloc_class_gen_params),
	KUNIT_CASE_PARAM(dslab_alloc_bulk_class, dslab_alloc_class_gen_params),
	KUNIT_CASE_PARAM(dslab_alloc_double_free, dslab_alloc_class_gen_params),
	KUNIT_CASE_PARAM(dslab_alloc_bulk_bad_runs, dslab_alloc_class_gen_params),
	KUNIT_CASE(dslab_alloc_foreign_pointers),
	KUNIT_CASE(dslab_alloc_pow2_requests),
	KUNIT_CASE(dslab_alloc_zero_size),
	KUNIT_CASE(dslab_alloc_large),
	KUNIT_CASE(dslab_alloc_impossible),
	KUNIT_CASE(dslab_alloc_bulk_large_and_fail),
	KUNIT_CASE(dslab_alloc_atomic_hardirq),
	KUNIT_CASE(dslab_alloc_atomic_softirq),
	KUNIT_CASE(dslab_alloc_concurrent),
	KUNIT_CASE(dslab_alloc_interrupted_writer),
	KUNIT_CASE(dslab_alloc_bad_free_foreign),
	KUNIT_CASE(dslab_alloc_bad_free_caller),
	KUNIT_CASE(dslab_alloc_kfree_page),
	KUNIT_CASE(dslab_alloc_shrink),
	{}
};

static struct kunit_suite dslab_alloc_suite = {
	.name = "dslab_alloc",
	.init = dslab_alloc_test_init,
	.exit = dslab_alloc_test_exit,
	.test_cases = dslab_alloc_cases,
};

kunit_test_suite(dslab_alloc_suite);
