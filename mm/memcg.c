// SPDX-License-Identifier: GPL-2.0
/*
 * dslab and memory cgroups: __GFP_ACCOUNT.
 *
 * SLUB charges each object to a memory cgroup through its obj_cgroup,
 * and nothing of that is exported to modules.  What a module can do is
 * allocate pages with __GFP_ACCOUNT: the page allocator charges them to
 * the current task's cgroup, or to the one set_active_memcg() names, and
 * uncharges them when they are freed.  So dslab charges by span, as the
 * kernel did for slab pages before 5.9 (one kmem_cache per cgroup):
 *
 *  - a memory cgroup that allocates with __GFP_ACCOUNT gets a pool: a set
 *    of central lists of its own, DSLAB_NR_CLASSES per node, the same
 *    shape as the global set (span.c);
 *  - a pool's spans have their pages allocated with __GFP_ACCOUNT under
 *    set_active_memcg(pool's cgroup), and hold only that cgroup's
 *    accounted objects; span->pool names the pool, by an id;
 *  - a pool keeps one empty span per list, as the global lists do, so
 *    that one object allocated and freed over and over does not allocate
 *    and free a span each time.  dslab's shrinker is not memcg-aware (a
 *    cgroup's own reclaim never calls it), so a pool that cannot charge
 *    a new span first gives its empty spans back, uncharging them, and
 *    tries once more; global reclaim and dslab_shrink() trim pools too.
 *
 * What that costs, and what it charges (Documentation/api.rst says it to
 * users):
 *
 *  - a cgroup is charged whole spans, up to one partly used and one
 *    empty span per class and node more than its objects need, like the
 *    old per-cgroup slab caches;
 *  - the span descriptor (kmalloc()) and the pool itself (about 5 KiB
 *    per node) are not charged;
 *  - accounted objects never enter the per-CPU magazines (span->no_mag):
 *    an accounted allocation or free takes its pool list's lock, as a
 *    remote free takes its node's;
 *  - only in task context, and not in the root cgroup, as kmalloc():
 *    elsewhere __GFP_ACCOUNT changes nothing for a small object;
 *  - a large object's pages are allocated with the caller's flags, so the
 *    page allocator charges them itself, as for a large kmalloc().
 *
 * Lifetime.  A pool holds a css reference on its cgroup, and each of its
 * spans a reference on the pool (refs); so does each allocation while it
 * uses the pool.  The pool goes when its last span does: a removed cgroup
 * stays a zombie as long as dslab objects charged to it live, or an empty
 * span until it is trimmed.
 *
 * Lookup.  Two hash tables, by cgroup (an allocation) and by id (a free
 * giving back to span->pool's lists), read under RCU.  A pool found with
 * refs at zero is on its way out: an allocation makes another.
 *
 * Locks: dslab_pool_lock is a leaf, taken irqsave, and protects both
 * tables and the id counter (P).  A pool's own lists have class->lock.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <kunit/visibility.h>
#include <linux/cgroup.h>
#include <linux/hashtable.h>
#include <linux/memcontrol.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "dslab.h"

/* === Data === */

struct dslab_pool {
	struct mem_cgroup *memcg;	/* I: its cgroup, a css reference held */
	u32 id;				/* I: what its spans hold, never 0 */
	refcount_t refs;		/* A: one per span, one per user */
	atomic_long_t pages;		/* A: pages of its spans */
	struct hlist_node by_memcg;	/* P: in dslab_pools_by_memcg */
	struct hlist_node by_id;	/* P: in dslab_pools_by_id */
	struct rcu_head rcu;
	struct dslab_central *lists[];	/* I: per node, DSLAB_NR_CLASSES */
};

#define DSLAB_POOL_HASH_BITS	6

static DEFINE_SPINLOCK(dslab_pool_lock);
static DEFINE_HASHTABLE(dslab_pools_by_memcg, DSLAB_POOL_HASH_BITS);
static DEFINE_HASHTABLE(dslab_pools_by_id, DSLAB_POOL_HASH_BITS);
static u32 dslab_pool_last_id;		/* P */

/* === Internals === */

/*
 * The cgroup an accounted allocation is charged to: the one a
 * set_active_memcg() scope names, else the task's; NULL for the root
 * cgroup, which is never charged.  Under rcu_read_lock().
 */
static struct mem_cgroup *dslab_memcg_current(void)
{
	struct mem_cgroup *memcg = READ_ONCE(current->active_memcg);

	if (!memcg)
		memcg = mem_cgroup_from_task(current);
	/* root_mem_cgroup is not exported: the root is the parentless one. */
	if (!memcg || !memcg->css.parent)
		return NULL;
	return memcg;
}

/* @memcg's live pool, with a reference; under RCU or dslab_pool_lock. */
static struct dslab_pool *dslab_pool_find(struct mem_cgroup *memcg)
{
	struct dslab_pool *pool;

	hash_for_each_possible_rcu(dslab_pools_by_memcg, pool, by_memcg,
				   (unsigned long)memcg)
		if (pool->memcg == memcg && refcount_inc_not_zero(&pool->refs))
			return pool;
	return NULL;
}

/* The pool of id @id, which a span of it keeps alive. */
static struct dslab_pool *dslab_pool_by_id(u32 id)
{
	struct dslab_pool *pool;

	rcu_read_lock();
	hash_for_each_possible_rcu(dslab_pools_by_id, pool, by_id, id)
		if (pool->id == id)
			break;
	rcu_read_unlock();
	return pool;
}

static void dslab_pool_free(struct dslab_pool *pool)
{
	int node;

	for_each_node(node)
		kfree(pool->lists[node]);
	kfree(pool);
}

static void dslab_pool_free_rcu(struct rcu_head *head)
{
	dslab_pool_free(container_of(head, struct dslab_pool, rcu));
}

static struct dslab_pool *dslab_pool_new(struct mem_cgroup *memcg, gfp_t gfp)
{
	struct dslab_pool *pool;
	size_t size = struct_size(pool, lists, nr_node_ids);
	int node;

	gfp &= DSLAB_GFP_META;
	if (dslab_should_fail(gfp, size))
		return NULL;
	pool = kzalloc(size, gfp);
	if (!pool)
		return NULL;
	for_each_node(node) {
		pool->lists[node] = dslab_central_new(node, gfp);
		if (!pool->lists[node]) {
			dslab_pool_free(pool);
			return NULL;
		}
	}
	pool->memcg = memcg;
	refcount_set(&pool->refs, 1);
	return pool;
}

/* A free id for a new pool (dslab_pool_lock held). */
static u32 dslab_pool_new_id(void)
{
	lockdep_assert_held(&dslab_pool_lock);
	/* 2^32 pools would have to be made before one is looked at twice. */
	do {
		dslab_pool_last_id++;
	} while (!dslab_pool_last_id ||
		 dslab_pool_by_id(dslab_pool_last_id));
	return dslab_pool_last_id;
}

/*
 * The pool an accounted allocation charges, with a reference: NULL when
 * nothing is to be charged, ERR_PTR(-ENOMEM) when a new pool could not
 * be had.
 */
static struct dslab_pool *dslab_pool_get(gfp_t gfp)
{
	struct dslab_pool *pool, *fresh;
	struct mem_cgroup *memcg;
	unsigned long flags;

	rcu_read_lock();
	memcg = dslab_memcg_current();
	pool = memcg ? dslab_pool_find(memcg) : NULL;
	/* A cgroup on its way out is not charged (kmalloc() reparents). */
	if (pool || !memcg || !css_tryget(&memcg->css)) {
		rcu_read_unlock();
		return pool;
	}
	rcu_read_unlock();

	fresh = dslab_pool_new(memcg, gfp);
	if (!fresh) {
		css_put(&memcg->css);
		return ERR_PTR(-ENOMEM);
	}
	spin_lock_irqsave(&dslab_pool_lock, flags);
	rcu_read_lock();
	pool = dslab_pool_find(memcg);
	rcu_read_unlock();
	if (!pool) {
		pool = fresh;
		fresh = NULL;
		pool->id = dslab_pool_new_id();
		hash_add_rcu(dslab_pools_by_memcg, &pool->by_memcg,
			     (unsigned long)memcg);
		hash_add_rcu(dslab_pools_by_id, &pool->by_id, pool->id);
	}
	spin_unlock_irqrestore(&dslab_pool_lock, flags);
	if (fresh) {
		/* Another allocation made one meanwhile. */
		css_put(&memcg->css);
		dslab_pool_free(fresh);
	}
	return pool;
}

static void dslab_pool_put(struct dslab_pool *pool)
{
	unsigned long flags;

	if (!refcount_dec_and_test(&pool->refs))
		return;
	/* Lookups meanwhile see refs at zero and pass it by. */
	spin_lock_irqsave(&dslab_pool_lock, flags);
	hash_del_rcu(&pool->by_memcg);
	hash_del_rcu(&pool->by_id);
	spin_unlock_irqrestore(&dslab_pool_lock, flags);
	css_put(&pool->memcg->css);
	call_rcu(&pool->rcu, dslab_pool_free_rcu);
}

/* === Interface to alloc.c and span.c === */

/**
 * dslab_pool_alloc() - an object of the current cgroup's pool
 * @class: a small-object class
 * @node: the node wanted, NUMA_NO_NODE for this CPU's; with
 *	__GFP_THISNODE in @gfp, the object is on it or there is none
 * @gfp: the caller's flags, with __GFP_ACCOUNT (dslab_memcg_wanted())
 * @objp: the object, not yet live
 *
 * Context: Task context, as @gfp allows.
 * Return: 0, -ENOENT when the cgroup is not to be charged (the root, or
 * one being removed), -ENOMEM when the cgroup is at its limit or memory
 * ran out.
 */
int dslab_pool_alloc(unsigned int class, int node, gfp_t gfp, void **objp)
{
	struct dslab_pool *pool = dslab_pool_get(gfp);
	struct mem_cgroup *old;
	unsigned int got;

	if (!pool)
		return -ENOENT;
	if (IS_ERR(pool))
		return PTR_ERR(pool);
	if (node == NUMA_NO_NODE)
		node = numa_mem_id();
	/* A new span's pages are charged to the pool's cgroup. */
	old = set_active_memcg(pool->memcg);
	got = dslab_lists_get(pool->lists, pool, node, class, objp, 1,
			      gfp | __GFP_ACCOUNT);
	/* At the cgroup's limit, its own empty spans go first. */
	if (!got && dslab_lists_trim(pool->lists, 0))
		got = dslab_lists_get(pool->lists, pool, node, class, objp, 1,
				      gfp | __GFP_ACCOUNT);
	set_active_memcg(old);
	dslab_pool_put(pool);
	return got ? 0 : -ENOMEM;
}

/**
 * dslab_pool_lists() - the lists of a pool that one of its spans names
 * @id: span->pool
 *
 * Context: Any context; the span keeps the pool alive.
 * Return: the pool's lists, per node.
 */
struct dslab_central *const *dslab_pool_lists(u32 id)
{
	return dslab_pool_by_id(id)->lists;
}

/**
 * dslab_pool_span_new() - make a new span @pool's
 * @pool: the pool, referenced by the caller
 * @span: the span, not yet on any list
 *
 * Context: Any context.
 */
void dslab_pool_span_new(struct dslab_pool *pool, struct dslab_span *span)
{
	span->pool = pool->id;
	span->no_mag = true;
	refcount_inc(&pool->refs);
	atomic_long_add(span->npages, &pool->pages);
}

/**
 * dslab_pool_span_gone() - a span of a pool was given back
 * @id: its span->pool
 * @npages: its pages
 *
 * Context: Any context.
 */
void dslab_pool_span_gone(u32 id, unsigned int npages)
{
	struct dslab_pool *pool = dslab_pool_by_id(id);

	atomic_long_sub(npages, &pool->pages);
	dslab_pool_put(pool);
}

/**
 * dslab_pools_sum() - a sum over the lists of every pool
 * @fn: what to sum: dslab_lists_spans(), dslab_lists_trim() or
 *	dslab_lists_empty_pages(), called under rcu_read_lock()
 * @arg: @fn's second argument (a class, or the empty spans to keep)
 *
 * A pool that a trim empties goes with its last span, through RCU.
 *
 * Context: Any context.
 * Return: the sum.
 */
unsigned long dslab_pools_sum(dslab_lists_fn fn, unsigned int arg)
{
	struct dslab_pool *pool;
	unsigned long sum = 0;
	unsigned int bkt;

	rcu_read_lock();
	hash_for_each_rcu(dslab_pools_by_memcg, bkt, pool, by_memcg)
		sum += fn(pool->lists, arg);
	rcu_read_unlock();
	return sum;
}
EXPORT_SYMBOL_IF_KUNIT(dslab_pools_sum);

/**
 * dslab_pool_show() - debugfs "pools": a line per pool
 * @m: the seq_file
 *
 * The cgroup is named by its id, which is the inode number of its
 * directory in the cgroup2 file system.
 *
 * Context: Process context.
 * Return: 0.
 */
int dslab_pool_show(struct seq_file *m)
{
	struct dslab_pool *pool;
	unsigned int bkt;

	rcu_read_lock();
	hash_for_each_rcu(dslab_pools_by_memcg, bkt, pool, by_memcg)
		seq_printf(m, "cgroup %llu pages %ld\n",
			   (unsigned long long)cgroup_id(pool->memcg->css.cgroup),
			   atomic_long_read(&pool->pages));
	rcu_read_unlock();
	return 0;
}

/*
 * At unload, after every span was released: each pool went with its
 * last span, through call_rcu(), which dslab_span_exit() waits for.
 */
void dslab_memcg_exit(void)
{
	struct dslab_pool *pool;
	unsigned int bkt, left = 0;

	rcu_read_lock();
	hash_for_each_rcu(dslab_pools_by_memcg, bkt, pool, by_memcg)
		left++;
	rcu_read_unlock();
	if (left)
		pr_err("unload: %u cgroup pools left\n", left);
}
