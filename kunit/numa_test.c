// SPDX-License-Identifier: GPL-2.0
/*
 * Suite dslab_numa: memory nodes (mm/span.c's lists per node, mm/alloc.c's
 * remote free and dslab_alloc_node()).
 *
 * An object is where page_to_nid() says its page is.  Allocations from a
 * CPU come from its node; dslab_alloc_node() gives the node asked for,
 * strictly with __GFP_THISNODE; an object freed on a CPU of another node
 * goes back to its own node's lists and not into that CPU's magazine; a
 * node that is not online is refused and changes nothing; a node with no
 * memory to spare falls back to another, whose span then serves the
 * requests that follow.  The cases that need a second node with memory
 * skip on one node; make check boots the 6.12 debug kernel a second time
 * with two nodes (numa=fake=2) for them.
 */
#include <linux/memory.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/sizes.h>

#include "dslab_test.h"

static int dslab_numa_nid(const void *obj)
{
	return page_to_nid(virt_to_page(obj));
}

/* A node with memory other than @node, or NUMA_NO_NODE. */
static int dslab_numa_other(int node)
{
	int nid;

	for_each_node_state(nid, N_MEMORY)
		if (nid != node)
			return nid;
	return NUMA_NO_NODE;
}

static const size_t dslab_numa_sizes[] = { 64, 4096, 100000 };

/* An allocation takes memory of the allocating CPU's node. */
static void dslab_numa_local(struct kunit *test)
{
	unsigned int i;
	int node, after;
	void *obj;

	for (i = 0; i < ARRAY_SIZE(dslab_numa_sizes); i++) {
		node = numa_mem_id();
		obj = dslab_alloc(dslab_numa_sizes[i], GFP_KERNEL);
		after = numa_mem_id();
		KUNIT_ASSERT_NOT_NULL(test, obj);
		/* Moved to another node's CPU meanwhile: either is right. */
		if (after == node)
			KUNIT_EXPECT_EQ_MSG(test, dslab_numa_nid(obj), node,
					    "size %zu", dslab_numa_sizes[i]);
		dslab_free(obj);
	}
}

/* dslab_alloc_node() on every node with memory, with and without THISNODE. */
static void dslab_numa_explicit(struct kunit *test)
{
	static const gfp_t gfps[] = { GFP_KERNEL, GFP_KERNEL | __GFP_THISNODE };
	unsigned int i, g;
	void *obj;
	int node;

	for_each_node_state(node, N_MEMORY) {
		for (g = 0; g < ARRAY_SIZE(gfps); g++) {
			for (i = 0; i < ARRAY_SIZE(dslab_numa_sizes); i++) {
				obj = dslab_alloc_node(dslab_numa_sizes[i],
						       gfps[g], node);
				KUNIT_ASSERT_NOT_NULL(test, obj);
				KUNIT_EXPECT_EQ_MSG(test, dslab_numa_nid(obj),
						    node, "size %zu gfp %pGg",
						    dslab_numa_sizes[i],
						    &gfps[g]);
				KUNIT_EXPECT_GE(test, dslab_ksize(obj),
						dslab_numa_sizes[i]);
				dslab_free(obj);
			}
		}
	}
	/* NUMA_NO_NODE is this CPU's, like dslab_alloc(). */
	node = numa_mem_id();
	obj = dslab_alloc_node(64, GFP_KERNEL, NUMA_NO_NODE);
	KUNIT_ASSERT_NOT_NULL(test, obj);
	if (numa_mem_id() == node)
		KUNIT_EXPECT_EQ(test, dslab_numa_nid(obj), node);
	dslab_free(obj);
}

/* Bulk allocation with __GFP_THISNODE: every object on this CPU's node. */
static void dslab_numa_bulk_thisnode(struct kunit *test)
{
	void *objs[40];
	unsigned int i;
	int node, got;

	/* On this CPU (not preemption off: PREEMPT_RT forbids dslab there). */
	migrate_disable();
	node = numa_mem_id();
	got = dslab_alloc_bulk(64, GFP_KERNEL | __GFP_THISNODE,
			       ARRAY_SIZE(objs), objs);
	migrate_enable();
	KUNIT_ASSERT_EQ(test, got, (int)ARRAY_SIZE(objs));
	for (i = 0; i < ARRAY_SIZE(objs); i++)
		KUNIT_EXPECT_EQ(test, dslab_numa_nid(objs[i]), node);
	dslab_free_bulk(ARRAY_SIZE(objs), objs);
}

/* A node that is not online: NULL, and nothing allocated or counted. */
static void dslab_numa_bad_node(struct kunit *test)
{
	const int bad[] = { nr_node_ids, MAX_NUMNODES, -2, INT_MAX };
	long inuse = dslab_objects_inuse();
	u64 fails = dslab_test_stat(ALLOC_FAIL);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		KUNIT_EXPECT_NULL_MSG(test, dslab_alloc_node(64, GFP_KERNEL,
							     bad[i]),
				      "node %d", bad[i]);
	KUNIT_EXPECT_EQ(test, dslab_objects_inuse(), inuse);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(ALLOC_FAIL), fails);
}

#define DSLAB_NUMA_REMOTE	32

/*
 * Objects of another node freed here go home: none enters this CPU's
 * magazine, each is counted a remote free, and the other node hands one
 * out again.  All on one CPU (migration off, not preemption: PREEMPT_RT
 * allows no dslab call with preemption off), so "here" stays here.
 */
static void dslab_numa_remote_free(struct kunit *test)
{
	unsigned int class, before, after, i, got = 0;
	void *objs[DSLAB_NUMA_REMOTE];
	int here, there, nids = 0;
	u64 remote, counted;
	void *again;

	migrate_disable();
	here = numa_mem_id();
	there = dslab_numa_other(here);
	if (there == NUMA_NO_NODE) {
		migrate_enable();
		kunit_skip(test, "one node with memory: nothing is remote");
	}
	for (i = 0; i < ARRAY_SIZE(objs); i++) {
		objs[i] = dslab_alloc_node(64, GFP_KERNEL | __GFP_THISNODE,
					   there);
		if (!objs[i])
			break;
		got++;
		nids += dslab_numa_nid(objs[i]) == there;
	}
	rcu_read_lock();
	class = got ? dslab_span_lookup(objs[0])->class : 0;
	rcu_read_unlock();
	remote = dslab_test_stat(REMOTE_FREES);
	before = dslab_test_mag_count(class);
	for (i = 0; i < got; i++)
		dslab_free(objs[i]);
	after = dslab_test_mag_count(class);
	counted = dslab_test_stat(REMOTE_FREES) - remote;
	migrate_enable();

	KUNIT_ASSERT_EQ(test, got, (unsigned int)ARRAY_SIZE(objs));
	KUNIT_EXPECT_EQ(test, nids, (int)ARRAY_SIZE(objs));
	KUNIT_EXPECT_EQ(test, after, before);
	KUNIT_EXPECT_EQ(test, counted, (u64)ARRAY_SIZE(objs));
	again = dslab_alloc_node(64, GFP_KERNEL | __GFP_THISNODE, there);
	KUNIT_ASSERT_NOT_NULL(test, again);
	KUNIT_EXPECT_EQ(test, dslab_numa_nid(again), there);
	dslab_free(again);
}

#define DSLAB_NUMA_FALLBACK	32
#define DSLAB_NUMA_HELD		4096

struct dslab_numa_held {
	struct page *page;
	unsigned int order;
};

/*
 * Take @node's free pages with __GFP_THISNODE, 2 MiB at a time and then
 * smaller, until it has none to spare (or @held is full).
 */
static unsigned int dslab_numa_exhaust(int node, struct dslab_numa_held *held)
{
	const gfp_t gfp = GFP_KERNEL | __GFP_THISNODE | __GFP_NORETRY |
			  __GFP_NOWARN;
	unsigned int order = get_order(SZ_2M), n = 0;
	struct page *page;

	while (n < DSLAB_NUMA_HELD) {
		page = alloc_pages_node(node, gfp, order);
		if (!page) {
			if (!order)
				break;
			order--;
			continue;
		}
		held[n].page = page;
		held[n++].order = order;
	}
	return n;
}

/*
 * A node with no memory to spare: dslab_alloc_node() falls back to
 * another node, as kmalloc_node() does, and the span it made there serves
 * the requests that follow, instead of a new span for each object.
 */
static void dslab_numa_fallback(struct kunit *test)
{
	struct dslab_span *spans[DSLAB_NUMA_FALLBACK];
	void *objs[DSLAB_NUMA_FALLBACK];
	unsigned int i, j, got = 0, nspans = 0, fallen = 0, nheld;
	struct dslab_numa_held *held;
	int node;

	held = kvcalloc(DSLAB_NUMA_HELD, sizeof(*held), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, held);
	/* On one CPU, so that the node asked for stays another's. */
	migrate_disable();
	node = dslab_numa_other(numa_mem_id());
	if (node == NUMA_NO_NODE) {
		migrate_enable();
		kvfree(held);
		kunit_skip(test, "one node with memory: nothing to fall back from");
	}

	nheld = dslab_numa_exhaust(node, held);
	/* A class no other case of the suite uses: its lists are empty. */
	for (i = 0; i < ARRAY_SIZE(objs); i++) {
		objs[i] = dslab_alloc_node(200, GFP_KERNEL, node);
		if (!objs[i])
			break;
		got++;
	}
	rcu_read_lock();
	for (i = 0; i < got; i++) {
		struct dslab_span *span = dslab_span_lookup(objs[i]);

		if (dslab_numa_nid(objs[i]) == node)
			continue;
		fallen++;
		for (j = 0; j < nspans && spans[j] != span; j++)
			;
		if (j == nspans)
			spans[nspans++] = span;
	}
	rcu_read_unlock();
	for (i = 0; i < got; i++)
		dslab_free(objs[i]);
	migrate_enable();
	for (i = 0; i < nheld; i++)
		__free_pages(held[i].page, held[i].order);
	kvfree(held);

	KUNIT_ASSERT_EQ(test, got, (unsigned int)ARRAY_SIZE(objs));
	KUNIT_ASSERT_EQ_MSG(test, fallen, got,
			    "node %d kept memory to spare after %u blocks taken",
			    node, nheld);
	/* One span, or two if another CPU took the first one's objects. */
	KUNIT_EXPECT_LE_MSG(test, nspans, 2U,
			    "%u objects of another node took %u spans", fallen,
			    nspans);
}

/* debugfs "nodes": a node's pages grow with a span there and come back. */
static void dslab_numa_node_pages(struct kunit *test)
{
	struct dslab_node_stats before, during, after;
	void *obj;
	int node;

	for_each_node_state(node, N_MEMORY) {
		dslab_shrink();
		dslab_node_stats(node, &before);
		obj = dslab_alloc_node(100000, GFP_KERNEL | __GFP_THISNODE,
				       node);
		KUNIT_ASSERT_NOT_NULL(test, obj);
		dslab_node_stats(node, &during);
		KUNIT_EXPECT_EQ(test, during.pages,
				before.pages + PAGE_ALIGN(100000) / PAGE_SIZE);
		dslab_free(obj);
		dslab_node_stats(node, &after);
		KUNIT_EXPECT_EQ(test, after.pages, before.pages);
	}
}

static int dslab_numa_test_init(struct kunit *test)
{
	dslab_test_drain();
	/* Empty magazines: what a case takes comes from the lists it asks. */
	dslab_shrink();
	return 0;
}

static struct kunit_case dslab_numa_cases[] = {
	KUNIT_CASE(dslab_numa_local),
	KUNIT_CASE(dslab_numa_explicit),
	KUNIT_CASE(dslab_numa_bulk_thisnode),
	KUNIT_CASE(dslab_numa_bad_node),
	KUNIT_CASE(dslab_numa_remote_free),
	KUNIT_CASE(dslab_numa_node_pages),
	KUNIT_CASE(dslab_numa_fallback),
	{}
};

static struct kunit_suite dslab_numa_suite = {
	.name = "dslab_numa",
	.init = dslab_numa_test_init,
	.test_cases = dslab_numa_cases,
};

kunit_test_suite(dslab_numa_suite);
