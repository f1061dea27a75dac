// SPDX-License-Identifier: GPL-2.0
/*
 * Suite dslab_sizeclass: the size-class table as the running module sees
 * it (dslab_classes[], the two lookup arrays and dslab_size_class()).
 *
 * The same invariants are checked in userspace, with sanitizers, by
 * tools/testing/sizeclass/; this suite makes sure the module was built
 * from a table that holds them, for the kernel's PAGE_SIZE, and that the
 * allocator really puts each request where the table says.
 */
#include <linux/log2.h>
#include <linux/mm.h>

#include "dslab_test.h"

DSLAB_TEST_CLASS_PARAMS(dslab_sizeclass_class);

/* Sizes strictly increasing multiples of 8, ending at the small maximum. */
static void dslab_sizeclass_shape(struct kunit *test)
{
	unsigned int c;
	size_t p;

	KUNIT_EXPECT_EQ(test, (unsigned long)DSLAB_SIZECLASS_PAGE_SIZE, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, dslab_classes[DSLAB_NR_CLASSES - 1].size,
			(u32)DSLAB_MAX_SMALL_SIZE);
	for (c = 0; c < DSLAB_NR_CLASSES; c++) {
		KUNIT_EXPECT_EQ_MSG(test, dslab_classes[c].size % 8, 0u, "class %u", c);
		KUNIT_EXPECT_GT_MSG(test, dslab_classes[c].size, 0u, "class %u", c);
		if (c)
			KUNIT_EXPECT_GT_MSG(test, dslab_classes[c].size,
					    dslab_classes[c - 1].size, "class %u", c);
	}
	/* Every power of two from 8 up is a class of its own. */
	for (p = 8; p <= DSLAB_MAX_SMALL_SIZE; p <<= 1)
		KUNIT_EXPECT_EQ_MSG(test, dslab_classes[dslab_size_class(p)].size, (u32)p,
				    "power of two %zu is not a class", p);
}

/* Per class: span geometry, tail bound, rounding bound, div_magic. */
static void dslab_sizeclass_class_invariants(struct kunit *test)
{
	unsigned int c = dslab_test_class_index(test);
	const struct dslab_class_info *ci = &dslab_classes[c];
	u64 span = (u64)ci->npages * PAGE_SIZE;
	u64 off, bad_magic = 0;

	KUNIT_ASSERT_GT(test, ci->npages, 0u);
	KUNIT_EXPECT_EQ(test, (u64)ci->nobjs, span / ci->size);
	KUNIT_EXPECT_GT(test, ci->nobjs, 0u);
	/* The limbo walk (finq.c) keeps a span's bits on its stack. */
	KUNIT_EXPECT_LE(test, ci->nobjs, (u32)DSLAB_SPAN_MAX_OBJS);
	KUNIT_EXPECT_EQ(test, (u64)ci->tail, span - (u64)ci->nobjs * ci->size);
	KUNIT_EXPECT_LE_MSG(test, (u64)ci->tail * 8, span,
			    "tail %u bytes of a %llu-byte span exceeds 1/8", ci->tail, span);
	/*
	 * A tail address has index nobjs, whose live bit the lookups test
	 * without comparing the index first: that bit must be a clear one
	 * of the bitmap's last word (dslab.h, struct dslab_span).
	 */
	KUNIT_EXPECT_LT(test, ci->tail, ci->size);
	if (ci->tail)
		KUNIT_EXPECT_NE_MSG(test, ci->nobjs % BITS_PER_LONG, 0u,
				    "a tail address's live bit (%u) lies past the bitmap",
				    ci->nobjs);

	/* From 128 bytes up, rounding up wastes at most 1/8 of the object. */
	if (c && ci->size >= 128) {
		u32 prev = dslab_classes[c - 1].size;

		KUNIT_EXPECT_LE_MSG(test, (ci->size - prev - 1) * 8, ci->size,
				    "a %u-byte request rounds up to %u: %u bytes (> 12.5%%) wasted",
				    prev + 1, ci->size, ci->size - prev - 1);
	}

	/* div_magic: off / size for every offset in the span. */
	for (off = 0; off < span; off++)
		if (((off * ci->div_magic) >> 32) != off / ci->size && !bad_magic++)
			KUNIT_FAIL(test, "div_magic %u wrong at offset %llu", ci->div_magic, off);
	KUNIT_EXPECT_EQ(test, bad_magic, 0ull);
}

/* dslab_size_class() is the smallest class >= size, for every size. */
static void dslab_sizeclass_lookup_all(struct kunit *test)
{
	unsigned int want = 0, bad = 0;
	size_t size;

	for (size = 1; size <= DSLAB_MAX_SMALL_SIZE; size++) {
		unsigned int got = dslab_size_class(size);

		while (want < DSLAB_NR_CLASSES && dslab_classes[want].size < size)
			want++;
		if (got != want && bad++ < 5)
			KUNIT_FAIL(test, "dslab_size_class(%zu) = %u, want %u", size, got, want);
	}
	KUNIT_EXPECT_EQ(test, bad, 0u);
	KUNIT_EXPECT_EQ(test, dslab_size_class(DSLAB_MAX_SMALL_SIZE + 1),
			(unsigned int)DSLAB_CLASS_LARGE);
	KUNIT_EXPECT_EQ(test, dslab_size_class(1 << 20), (unsigned int)DSLAB_CLASS_LARGE);
	KUNIT_EXPECT_EQ(test, dslab_size_class(SIZE_MAX), (unsigned int)DSLAB_CLASS_LARGE);
}

/*
 * The boundaries of each class: prev+1 and size land in it, prev in the
 * one below, size+1 in the one above, and dslab_alloc() agrees.
 */
static void dslab_sizeclass_boundaries(struct kunit *test)
{
	unsigned int c = dslab_test_class_index(test);
	u32 size = dslab_classes[c].size;
	u32 prev = c ? dslab_classes[c - 1].size : 0;
	void *p;

	KUNIT_EXPECT_EQ(test, dslab_size_class(size), c);
	KUNIT_EXPECT_EQ(test, dslab_size_class(prev + 1), c);
	KUNIT_EXPECT_EQ(test, dslab_size_class((prev + 1 + size) / 2), c);
	if (c)
		KUNIT_EXPECT_EQ(test, dslab_size_class(prev), c - 1);
	KUNIT_EXPECT_EQ(test, dslab_size_class(size + 1), c + 1);

	if (!dslab_test_usable(c))
		return;		/* class 0 is not used in debug mode */
	p = dslab_alloc(dslab_test_min_request(c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	KUNIT_EXPECT_EQ(test, dslab_ksize(p), dslab_test_usable(c));
	dslab_free(p);
	p = dslab_alloc(dslab_test_usable(c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	KUNIT_EXPECT_EQ(test, dslab_ksize(p), dslab_test_usable(c));
	dslab_free(p);
	if (c + 1 < DSLAB_NR_CLASSES) {
		p = dslab_alloc(dslab_test_usable(c) + 1, GFP_KERNEL);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
		KUNIT_EXPECT_EQ(test, dslab_ksize(p), dslab_test_usable(c + 1));
		dslab_free(p);
	}
}

/* The per-class stats agree with the table. */
static void dslab_sizeclass_stats(struct kunit *test)
{
	unsigned int c = dslab_test_class_index(test);
	const struct dslab_class_info *ci = &dslab_classes[c];
	struct dslab_class_stats st;
	void *p;

	if (!dslab_test_usable(c))
		kunit_skip(test, "class %u is not used in debug mode", c);
	p = dslab_alloc(dslab_test_usable(c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	dslab_class_stats(c, &st);
	KUNIT_EXPECT_GE(test, st.spans, 1ul);
	KUNIT_EXPECT_GE(test, st.inuse, 1ul);
	KUNIT_EXPECT_EQ(test, st.free + st.inuse, st.spans * ci->nobjs);
	KUNIT_EXPECT_EQ(test, st.wasted,
			st.spans * ci->tail + st.free * (unsigned long)ci->size);
	dslab_free(p);
}

static struct kunit_case dslab_sizeclass_cases[] = {
	KUNIT_CASE(dslab_sizeclass_shape),
	KUNIT_CASE_PARAM(dslab_sizeclass_class_invariants,
			 dslab_sizeclass_class_gen_params),
	KUNIT_CASE(dslab_sizeclass_lookup_all),
	KUNIT_CASE_PARAM(dslab_sizeclass_boundaries,
			 dslab_sizeclass_class_gen_params),
	KUNIT_CASE_PARAM(dslab_sizeclass_stats, dslab_sizeclass_class_gen_params),
	{}
};

static struct kunit_suite dslab_sizeclass_suite = {
	.name = "dslab_sizeclass",
	.test_cases = dslab_sizeclass_cases,
};

kunit_test_suite(dslab_sizeclass_suite);
