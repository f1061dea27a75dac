// SPDX-License-Identifier: GPL-2.0
/*
 * Suite dslab_kasan: dslab objects in KASAN's shadow (mm/kasan.c).
 *
 * The cases read the shadow itself, through an uninstrumented helper, so
 * they check what KASAN would say of each byte without making it say it
 * (that is the harness self-test's job: dslab_ctl.selftest_uaf=1).  A
 * live object is accessible up to the size asked for and red zone after
 * it; dslab_ksize() opens the whole usable size, and dslab_realloc() in
 * place closes it again to the new size; a freed object is
 * poisoned, but only once its memory is released: an object waiting for
 * its destructor or a grace period stays accessible until then.
 *
 * Every case skips on a kernel without CONFIG_KASAN_GENERIC.
 */
#include <linux/kasan.h>
#include <linux/rcupdate.h>

#include "dslab_test.h"

#ifdef CONFIG_KASAN_GENERIC
/*
 * Would KASAN let @addr be read?  A generic-KASAN shadow byte is 0 for a
 * whole accessible granule, 1-7 for that many accessible leading bytes,
 * and negative for poison.
 */
static __no_sanitize_address bool dslab_kasan_ok(const void *addr)
{
	s8 shadow = *(s8 *)kasan_mem_to_shadow(addr);

	unsigned long in_granule = (unsigned long)addr &
				   ((1UL << KASAN_SHADOW_SCALE_SHIFT) - 1);

	return !shadow || (shadow > 0 && in_granule < shadow);
}
#else
static bool dslab_kasan_ok(const void *addr)
{
	return true;
}
#endif

static int dslab_kasan_test_init(struct kunit *test)
{
	if (!IS_ENABLED(CONFIG_KASAN_GENERIC))
		/*
		 * Not the word in capitals, nor the config name, which holds
		 * it: the console checker takes that for a KASAN report.
		 */
		kunit_skip(test, "needs a kernel with generic kasan");
	dslab_test_drain();
	return 0;
}

/* The first byte of [@from, @to) of @obj whose access KASAN allows, or @to. */
static size_t dslab_kasan_first_ok(const u8 *obj, size_t from, size_t to)
{
	for (; from < to; from++)
		if (dslab_kasan_ok(obj + from))
			break;
	return from;
}

/* The first byte of [0, @to) KASAN would report, or @to. */
static size_t dslab_kasan_first_bad(const u8 *obj, size_t to)
{
	size_t i;

	for (i = 0; i < to; i++)
		if (!dslab_kasan_ok(obj + i))
			break;
	return i;
}

static const size_t dslab_kasan_sizes[] = {
	1, 8, 60, 64, 100, 1000, 4000, DSLAB_MAX_SMALL_SIZE + 1000,
};

static void dslab_kasan_size_desc(const size_t *size, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%zu bytes", *size);
}

KUNIT_ARRAY_PARAM(dslab_kasan_size, dslab_kasan_sizes, dslab_kasan_size_desc);

/*
 * An object of every kind: accessible over [0, size), red zone from size
 * to its usable size (for a large object, to the end of its span),
 * poisoned whole once freed (small objects; a large one's pages go back
 * to the page allocator).
 */
static void dslab_kasan_alloc_free(struct kunit *test)
{
	size_t size = *(const size_t *)test->param_value, usable;
	u8 *obj;

	obj = dslab_alloc(size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, obj);
	/* dslab_find_object(), unlike dslab_ksize(), leaves the shadow be. */
	KUNIT_ASSERT_TRUE(test, dslab_find_object(obj, NULL, &usable));
	KUNIT_EXPECT_EQ_MSG(test, dslab_kasan_first_bad(obj, size), size,
			    "a byte of the live object is poisoned");
	KUNIT_EXPECT_EQ_MSG(test, dslab_kasan_first_ok(obj, size, usable),
			    usable, "a byte past the request is accessible");
	if (size > DSLAB_MAX_SMALL_SIZE)
		/* A span of its own: the rest of its last page is red zone. */
		KUNIT_EXPECT_FALSE_MSG(test, dslab_kasan_ok(obj + size),
				       "the large object's tail is accessible");
	dslab_free(obj);
	if (size > DSLAB_MAX_SMALL_SIZE)
		return;
	KUNIT_EXPECT_EQ_MSG(test, dslab_kasan_first_ok(obj, 0, usable), usable,
			    "a byte of the freed object is accessible");
}

/* dslab_ksize() opens the whole usable size, as ksize() does. */
static void dslab_kasan_ksize(struct kunit *test)
{
	size_t usable;
	u8 *obj;

	obj = dslab_alloc(60, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, obj);
	KUNIT_ASSERT_TRUE(test, dslab_find_object(obj, NULL, &usable));
	KUNIT_ASSERT_GT(test, usable, 60);
	KUNIT_EXPECT_FALSE(test, dslab_kasan_ok(obj + 60));
	KUNIT_EXPECT_EQ(test, dslab_ksize(obj), usable);
	KUNIT_EXPECT_EQ_MSG(test, dslab_kasan_first_bad(obj, usable), usable,
			    "dslab_ksize() left part of the object poisoned");
	dslab_free(obj);
	KUNIT_EXPECT_FALSE(test, dslab_kasan_ok(obj));
}

/* dslab_realloc() in place: accessible to the new size, as krealloc(). */
static void dslab_kasan_realloc(struct kunit *test)
{
	u8 *obj = dslab_alloc(100, GFP_KERNEL), *again;

	KUNIT_ASSERT_NOT_NULL(test, obj);
	again = dslab_realloc(obj, 40, GFP_KERNEL);
	KUNIT_ASSERT_PTR_EQ(test, again, obj);
	KUNIT_EXPECT_EQ(test, dslab_kasan_first_bad(obj, 100), 40);
	again = dslab_realloc(obj, 100, GFP_KERNEL);
	KUNIT_ASSERT_PTR_EQ(test, again, obj);
	KUNIT_EXPECT_EQ(test, dslab_kasan_first_bad(obj, 104), 100);
	dslab_free(obj);
}

#define DSLAB_KASAN_BULK	48

/* Bulk calls: the same shadow, object by object, runs or not. */
static void dslab_kasan_bulk(struct kunit *test)
{
	void *objs[DSLAB_KASAN_BULK];
	unsigned int i;

	KUNIT_ASSERT_EQ(test, dslab_alloc_bulk(100, GFP_KERNEL | __GFP_ZERO,
					       DSLAB_KASAN_BULK, objs),
			DSLAB_KASAN_BULK);
	for (i = 0; i < DSLAB_KASAN_BULK; i++) {
		KUNIT_EXPECT_EQ_MSG(test, dslab_kasan_first_bad(objs[i], 100),
				    100, "bulk object %u poisoned", i);
		KUNIT_EXPECT_FALSE_MSG(test, dslab_kasan_ok(objs[i] + 100),
				       "bulk object %u: no red zone", i);
	}
	dslab_free_bulk(DSLAB_KASAN_BULK, objs);
	for (i = 0; i < DSLAB_KASAN_BULK; i++)
		KUNIT_EXPECT_FALSE_MSG(test, dslab_kasan_ok(objs[i]),
				       "bulk object %u accessible after free", i);
}

/* What the destructor saw of its object: bytes accessible, of how many. */
static size_t dslab_kasan_dtor_seen;

static void dslab_kasan_dtor_fn(void *obj)
{
	WRITE_ONCE(dslab_kasan_dtor_seen, dslab_kasan_first_bad(obj, 200));
}

static const struct dslab_dtor dslab_kasan_dtor = { .fn = dslab_kasan_dtor_fn };

/*
 * An object with a destructor stays accessible after dslab_free() until
 * the runner has run it, and is poisoned after.
 */
static void dslab_kasan_dtor_waits(struct kunit *test)
{
	u8 *obj = dslab_alloc(200, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, obj);
	KUNIT_ASSERT_EQ(test, dslab_set_destructor(obj, &dslab_kasan_dtor), 0);
	WRITE_ONCE(dslab_kasan_dtor_seen, 0);
	dslab_free(obj);
	dslab_dtor_barrier();
	KUNIT_EXPECT_EQ_MSG(test, READ_ONCE(dslab_kasan_dtor_seen), 200,
			    "the destructor found its object poisoned");
	KUNIT_EXPECT_FALSE_MSG(test, dslab_kasan_ok(obj),
			       "released after its destructor, still accessible");
}

/* dslab_free_rcu(): accessible through the grace period, poisoned after. */
static void dslab_kasan_rcu(struct kunit *test)
{
	u8 *obj = dslab_alloc(64, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, obj);
	/* Our read-side section keeps the grace period from ending. */
	rcu_read_lock();
	dslab_free_rcu(obj);
	KUNIT_EXPECT_EQ_MSG(test, dslab_kasan_first_bad(obj, 64), 64,
			    "poisoned before its grace period ended");
	rcu_read_unlock();
	dslab_dtor_barrier();
	KUNIT_EXPECT_FALSE_MSG(test, dslab_kasan_ok(obj),
			       "still accessible after the grace period");
}

static struct kunit_case dslab_kasan_cases[] = {
	KUNIT_CASE_PARAM(dslab_kasan_alloc_free, dslab_kasan_size_gen_params),
	KUNIT_CASE(dslab_kasan_ksize),
	KUNIT_CASE(dslab_kasan_realloc),
	KUNIT_CASE(dslab_kasan_bulk),
	KUNIT_CASE(dslab_kasan_dtor_waits),
	KUNIT_CASE(dslab_kasan_rcu),
	{}
};

static struct kunit_suite dslab_kasan_suite = {
	.name = "dslab_kasan",
	.init = dslab_kasan_test_init,
	.test_cases = dslab_kasan_cases,
};

kunit_test_suite(dslab_kasan_suite);
