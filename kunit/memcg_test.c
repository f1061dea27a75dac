// SPDX-License-Identifier: GPL-2.0
/*
 * Suite dslab_memcg: __GFP_ACCOUNT (mm/memcg.c's pools).
 *
 * The cases need a memory cgroup other than the root to charge.  KUnit
 * runs them in kthreads, which are in the root cgroup, so the suite takes
 * the cgroup of the task that loads the module (suite_init runs in it)
 * and each case charges it through set_active_memcg(), as a kernel
 * worker charges on behalf of a task.  make check loads dslab_test.ko
 * from a cgroup of its own with a memory.max of 16 MiB
 * (tools/testing/vm/guest-dslab.sh); loaded from the root cgroup, or on
 * a kernel without CONFIG_MEMCG, the cases skip.
 *
 * An accounted object comes from a span of its cgroup's pool, which
 * keeps it out of the magazines; the span's pages are charged to the
 * cgroup and uncharged when its last object goes, with the pool itself;
 * plain allocations, the root cgroup and hard interrupt context are not
 * charged; bulk, cleanups and a node follow the same rules.
 * tools/testing/dslab/test_memcg.sh checks the charge against
 * memory.max and memory.stat from a shell.
 */
#include <linux/memcontrol.h>
#include <linux/page_counter.h>
#include <linux/sched/mm.h>
#include <linux/sizes.h>

#include "dslab_test.h"

#ifdef CONFIG_MEMCG

/* The loading task's cgroup, with a css reference, or NULL (root). */
static struct mem_cgroup *dslab_memcg_test_cg;

static int dslab_memcg_suite_init(struct kunit_suite *suite)
{
	struct mem_cgroup *memcg;

	rcu_read_lock();
	memcg = mem_cgroup_from_task(current);
	if (memcg && memcg->css.parent && css_tryget(&memcg->css))
		dslab_memcg_test_cg = memcg;
	rcu_read_unlock();
	return 0;
}

static void dslab_memcg_suite_exit(struct kunit_suite *suite)
{
	if (dslab_memcg_test_cg)
		css_put(&dslab_memcg_test_cg->css);
	dslab_memcg_test_cg = NULL;
}

static int dslab_memcg_test_init(struct kunit *test)
{
	if (!dslab_memcg_test_cg)
		kunit_skip(test,
			   "needs dslab_test.ko loaded from a cgroup other than the root");
	dslab_test_drain();
	return 0;
}

/*
 * Spans of @class left in the pools once every empty one is trimmed: 0
 * when the objects a case freed went back to their pool's lists (an
 * object left in a magazine would keep its span).
 */
static unsigned long dslab_memcg_spans_left(unsigned int class)
{
	dslab_span_trim(0);
	return dslab_pools_sum(dslab_lists_spans, class);
}

/*
 * An accounted object is a pool's; a plain one, or one of the root
 * cgroup, is not.  The pool keeps the emptied span, and goes with it.
 */
static void dslab_memcg_pooled(struct kunit *test)
{
	unsigned int class = dslab_size_class(64);
	struct mem_cgroup *old;
	void *acc, *plain, *root;

	root = dslab_alloc(64, GFP_KERNEL_ACCOUNT);
	old = set_active_memcg(dslab_memcg_test_cg);
	acc = dslab_alloc(64, GFP_KERNEL_ACCOUNT);
	plain = dslab_alloc(64, GFP_KERNEL);
	set_active_memcg(old);
	KUNIT_ASSERT_NOT_NULL(test, root);
	KUNIT_ASSERT_NOT_NULL(test, acc);
	KUNIT_ASSERT_NOT_NULL(test, plain);

	KUNIT_EXPECT_NE(test, dslab_own_span(acc)->pool, 0);
	KUNIT_EXPECT_TRUE(test, dslab_own_span(acc)->no_mag);
	KUNIT_EXPECT_EQ(test, dslab_own_span(plain)->pool, 0);
	KUNIT_EXPECT_EQ_MSG(test, dslab_own_span(root)->pool, 0,
			    "the root cgroup is not charged");
	KUNIT_EXPECT_EQ(test, dslab_pools_sum(dslab_lists_spans, class), 1);
	KUNIT_EXPECT_EQ(test, dslab_ksize(acc), 64);

	dslab_free(acc);
	KUNIT_EXPECT_EQ(test, dslab_pools_sum(dslab_lists_spans, class), 1);
	KUNIT_EXPECT_EQ(test, dslab_memcg_spans_left(class), 0);
	dslab_free(plain);
	dslab_free(root);
}

/*
 * Neither the allocation (which trades the magazine's object for the
 * pool's) nor the free leaves this CPU's magazine changed.  All on one
 * CPU (migration off, not preemption: PREEMPT_RT allows no dslab call
 * with preemption off).
 */
static void dslab_memcg_no_magazine(struct kunit *test)
{
	unsigned int class = dslab_size_class(256), before, mid, after;
	struct mem_cgroup *old;
	void *warm, *obj;

	migrate_disable();
	/* A magazine with objects: no refill below to move its count. */
	warm = dslab_alloc(256, GFP_ATOMIC);
	dslab_free(warm);
	before = dslab_test_mag_count(class);
	old = set_active_memcg(dslab_memcg_test_cg);
	obj = dslab_alloc(256, GFP_ATOMIC | __GFP_ACCOUNT);
	set_active_memcg(old);
	mid = dslab_test_mag_count(class);
	if (obj)
		dslab_free(obj);
	after = dslab_test_mag_count(class);
	migrate_enable();
	KUNIT_ASSERT_NOT_NULL(test, warm);
	KUNIT_ASSERT_NOT_NULL(test, obj);
	KUNIT_EXPECT_GT(test, before, 0);
	KUNIT_EXPECT_EQ(test, mid, before);
	KUNIT_EXPECT_EQ(test, after, before);
	KUNIT_EXPECT_EQ(test, dslab_memcg_spans_left(class), 0);
}

/* The span pages are charged to the cgroup, and uncharged with them. */
static void dslab_memcg_charge(struct kunit *test)
{
	struct page_counter *pc = &dslab_memcg_test_cg->memory;
	/* A CPU's charge stock holds up to 64 pages ahead: 256 pages. */
	const unsigned int n = 256;
	unsigned long before, during, after;
	struct mem_cgroup *old;
	void **objs;
	unsigned int i;

	objs = kunit_kcalloc(test, n, sizeof(*objs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	before = page_counter_read(pc);
	old = set_active_memcg(dslab_memcg_test_cg);
	for (i = 0; i < n; i++) {
		objs[i] = dslab_alloc(PAGE_SIZE, GFP_KERNEL_ACCOUNT);
		if (!objs[i])
			break;
	}
	set_active_memcg(old);
	during = page_counter_read(pc);
	KUNIT_EXPECT_EQ(test, i, n);
	while (i)
		dslab_free(objs[--i]);
	dslab_span_trim(0);
	after = page_counter_read(pc);
	kunit_info(test, "cgroup usage: %lu -> %lu -> %lu pages", before,
		   during, after);
	KUNIT_EXPECT_GE(test, during, before + n / 2);
	KUNIT_EXPECT_LE(test, after, during - n / 2);
}

/*
 * At the cgroup's memory.max (make check sets 16 MiB), allocations fail,
 * and a pool that cannot charge a new span gives back its empty spans
 * first: an emptied span of another class is gone after the failure.
 */
static void dslab_memcg_limit(struct kunit *test)
{
	const gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_NORETRY | __GFP_NOWARN;
	unsigned long max = READ_ONCE(dslab_memcg_test_cg->memory.max);
	unsigned int other = dslab_size_class(128), n, i = 0;
	struct mem_cgroup *old;
	void **objs, *obj;

	if (max > SZ_64M / PAGE_SIZE)
		kunit_skip(test, "needs a memory.max of at most 64 MiB");
	/* Room for the objects of twice the limit. */
	n = 2 * max;
	objs = kunit_kcalloc(test, n, sizeof(*objs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);

	old = set_active_memcg(dslab_memcg_test_cg);
	obj = dslab_alloc(128, gfp);
	if (obj)
		dslab_free(obj);
	for (i = 0; i < n; i++) {
		objs[i] = dslab_alloc(PAGE_SIZE, gfp);
		if (!objs[i])
			break;
	}
	set_active_memcg(old);
	kunit_info(test, "%u pages allocated at a limit of %lu", i, max);
	KUNIT_EXPECT_NOT_NULL(test, obj);
	KUNIT_EXPECT_LT(test, i, n);
	KUNIT_EXPECT_GE(test, i, max / 2);
	KUNIT_EXPECT_EQ_MSG(test, dslab_pools_sum(dslab_lists_spans, other), 0,
			    "the empty span was not given back");
	while (i)
		dslab_free(objs[--i]);
	KUNIT_EXPECT_EQ(test, dslab_memcg_spans_left(dslab_size_class(PAGE_SIZE)),
			0);
}

static void dslab_memcg_cleanup_fn(void *arg)
{
	atomic_inc(arg);
}

/* A cleanup runs first, then the runner gives the object to its pool. */
static void dslab_memcg_cleanup(struct kunit *test)
{
	unsigned int class = dslab_size_class(128);
	struct dslab_cleanup *c;
	struct mem_cgroup *old;
	atomic_t runs;
	void *obj;

	atomic_set(&runs, 0);
	old = set_active_memcg(dslab_memcg_test_cg);
	obj = dslab_alloc(128, GFP_KERNEL_ACCOUNT);
	set_active_memcg(old);
	KUNIT_ASSERT_NOT_NULL(test, obj);
	c = dslab_add_cleanup(obj, dslab_memcg_cleanup_fn, &runs, GFP_KERNEL);
	KUNIT_ASSERT_FALSE(test, IS_ERR(c));
	dslab_free(obj);
	dslab_dtor_barrier();
	KUNIT_EXPECT_EQ(test, atomic_read(&runs), 1);
	KUNIT_EXPECT_EQ(test, dslab_memcg_spans_left(class), 0);
}

/* Bulk allocation charges object by object; bulk free gives them back. */
static void dslab_memcg_bulk(struct kunit *test)
{
	unsigned int class = dslab_size_class(96), i;
	struct mem_cgroup *old;
	void *objs[40];
	int n;

	old = set_active_memcg(dslab_memcg_test_cg);
	n = dslab_alloc_bulk(96, GFP_KERNEL_ACCOUNT, ARRAY_SIZE(objs), objs);
	set_active_memcg(old);
	KUNIT_ASSERT_EQ(test, n, ARRAY_SIZE(objs));
	for (i = 0; i < ARRAY_SIZE(objs); i++)
		KUNIT_EXPECT_NE(test, dslab_own_span(objs[i])->pool, 0);
	dslab_free_bulk(ARRAY_SIZE(objs), objs);
	KUNIT_EXPECT_EQ(test, dslab_memcg_spans_left(class), 0);
}

/* A node, with __GFP_THISNODE, is honoured for accounted objects too. */
static void dslab_memcg_node(struct kunit *test)
{
	struct mem_cgroup *old;
	void *obj;
	int node;

	for_each_node_state(node, N_MEMORY) {
		old = set_active_memcg(dslab_memcg_test_cg);
		obj = dslab_alloc_node(64, GFP_KERNEL_ACCOUNT | __GFP_THISNODE,
				       node);
		set_active_memcg(old);
		KUNIT_ASSERT_NOT_NULL(test, obj);
		KUNIT_EXPECT_EQ(test, page_to_nid(virt_to_page(obj)), node);
		KUNIT_EXPECT_NE(test, dslab_own_span(obj)->pool, 0);
		dslab_free(obj);
	}
	KUNIT_EXPECT_EQ(test, dslab_memcg_spans_left(dslab_size_class(64)), 0);
}

struct dslab_memcg_irq {
	void *obj;
};

static void dslab_memcg_irq_alloc(void *data)
{
	struct dslab_memcg_irq *d = data;

	d->obj = dslab_alloc(64, GFP_ATOMIC | __GFP_ACCOUNT);
}

/*
 * In hard interrupt context __GFP_ACCOUNT charges nothing, as kmalloc():
 * not even the cgroup the interrupted task's set_active_memcg() names.
 */
static void dslab_memcg_hardirq(struct kunit *test)
{
	struct dslab_memcg_irq d = { };
	struct mem_cgroup *old;
	bool ran;

	if (DSLAB_TEST_NO_HARDIRQ)
		kunit_skip(test, DSLAB_TEST_NO_HARDIRQ_WHY);
	old = set_active_memcg(dslab_memcg_test_cg);
	ran = dslab_test_in_hardirq(dslab_memcg_irq_alloc, &d);
	set_active_memcg(old);
	KUNIT_ASSERT_TRUE(test, ran);
	KUNIT_ASSERT_NOT_NULL(test, d.obj);
	KUNIT_EXPECT_EQ(test, dslab_own_span(d.obj)->pool, 0);
	dslab_free(d.obj);
}

static struct kunit_case dslab_memcg_cases[] = {
	KUNIT_CASE(dslab_memcg_pooled),
	KUNIT_CASE(dslab_memcg_no_magazine),
	KUNIT_CASE_SLOW(dslab_memcg_limit),
	KUNIT_CASE(dslab_memcg_charge),
	KUNIT_CASE(dslab_memcg_cleanup),
	KUNIT_CASE(dslab_memcg_bulk),
	KUNIT_CASE(dslab_memcg_node),
	KUNIT_CASE(dslab_memcg_hardirq),
	{}
};

#else /* !CONFIG_MEMCG */

static int dslab_memcg_test_init(struct kunit *test)
{
	kunit_skip(test, "needs a kernel with CONFIG_MEMCG");
	return 0;
}

static void dslab_memcg_none(struct kunit *test)
{
}

static struct kunit_case dslab_memcg_cases[] = {
	KUNIT_CASE(dslab_memcg_none),
	{}
};

#endif /* CONFIG_MEMCG */

static struct kunit_suite dslab_memcg_suite = {
	.name = "dslab_memcg",
#ifdef CONFIG_MEMCG
	.suite_init = dslab_memcg_suite_init,
	.suite_exit = dslab_memcg_suite_exit,
#endif
	.init = dslab_memcg_test_init,
	.test_cases = dslab_memcg_cases,
};

kunit_test_suite(dslab_memcg_suite);
