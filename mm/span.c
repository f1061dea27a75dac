// SPDX-License-Identifier: GPL-2.0
/*
 * dslab spans and the per-class central lists.
 *
 * A span is a run of npages contiguous pages (alloc_pages_exact(), so the
 * count need not be a power of two) carved into objects of one size class,
 * or holding one large object.  This is the Go runtime's mspan; the central
 * lists below are its mcentral, and the page allocator plays mheap.  A new
 * span is entered in the page map (pagemap.c) before any of its objects is
 * handed out, and removed before its pages go back; its descriptor is
 * freed after a grace period (call_rcu()), so a page-map reader under RCU
 * may still read it.
 *
 * NUMA.  Each memory node has its own central list per class, as SLUB
 * has a kmem_cache_node per node.  A span belongs to the node its pages
 * are on (span->node), and its objects go back to that node's list
 * whichever CPU frees them.  A CPU refills from the nearest node with
 * memory (numa_mem_id()); a new span is asked for on the node it is
 * for, and if the page allocator had to fall back to another node, it
 * joins that node's list and serves the request all the same, as a
 * kmalloc() under memory pressure may return remote memory.  With
 * __GFP_THISNODE in the flags, it never falls back.
 *
 * Memory cgroups.  A memory cgroup that allocates with __GFP_ACCOUNT has
 * a pool (memcg.c) with a set of lists of its own, of the same shape, and
 * its spans' pages are charged to it.  A span knows its lists from its
 * node, class and pool (dslab_span_central()).  Trimming, by the shrinker
 * or a pool at its cgroup's limit, covers every set.
 *
 * Locks (dslab.h has the whole graph): class->lock (one per node and
 * class, in each set of lists) is a leaf.  It protects that list, its
 * spans' freelists and its counts; spans are allocated and released
 * outside it.
 *
 * Documentation/design.rst describes the layering.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <kunit/visibility.h>
#include <linux/gfp.h>
#include <linux/kmemleak.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>

#include "dslab.h"

/* === Data === */

/*
 * The Go runtime's mcentral: one per node and class, in the global set
 * and in each cgroup pool's.  Spans with free objects sit on @partial,
 * emptier ones towards the tail, so allocation fills the fullest spans
 * first and empty ones can be given back.
 */
struct dslab_central {
	spinlock_t lock;		/* C: protects the fields below */
	struct list_head partial;	/* C: spans with nfree > 0 */
	unsigned long nr_spans;		/* C: all spans of the class */
	unsigned long nr_empty;		/* C: spans with every object free */
	/*
	 * A: the node the last new span for this list came from when the
	 * page allocator fell back (the node had no memory, or none to
	 * spare), NUMA_NO_NODE when it did not, and until when (jiffies)
	 * that holds for a node with memory; hints, read and written
	 * without the lock.
	 */
	int fallback;
	unsigned long fallback_until;
} ____cacheline_aligned_in_smp;

/* How long a list uses another node's after a span fell back there. */
#define DSLAB_FALLBACK_HOLD	HZ

/* Per node, an array of DSLAB_NR_CLASSES, allocated at load. */
static struct dslab_central *dslab_central[MAX_NUMNODES];

static struct dslab_central *dslab_central_of(int node, unsigned int class)
{
	return &dslab_central[node][class];
}

/* The list @span's objects go back to: global, or its cgroup pool's. */
static struct dslab_central *dslab_span_central(const struct dslab_span *span)
{
	if (span->pool)
		return &dslab_pool_lists(span->pool)[span->node][span->class];
	return dslab_central_of(span->node, span->class);
}

/* Pages of spans per node (large ones included), for debugfs. */
static atomic_long_t *dslab_node_pages;

/* Large-object spans, counted for stats only. */
static atomic_long_t dslab_large_spans = ATOMIC_LONG_INIT(0);

/* Empty spans kept per class before they go back to the page allocator. */
unsigned int dslab_span_reserve = 1;

static struct shrinker *dslab_shrinker;

/* === Internals: spans === */

/*
 * kfree() of a dslab object.  Span pages are order-0 pages of the page
 * allocator, not slab pages, so kfree() takes them for a large kmalloc
 * and WARNs, naming its caller: 7.x then stops ("Not a kmalloc
 * allocation"), but 6.x puts the page.  So dslab holds a second reference
 * on every page of a span, and such a put cannot free a page still in
 * use; when the span is released a page left with one reference is
 * counted and reported, and freed all the same.
 */
static void dslab_span_pages_get(void *base, unsigned int npages)
{
	unsigned int i;

	for (i = 0; i < npages; i++)
		page_ref_inc(virt_to_page(base + ((size_t)i << PAGE_SHIFT)));
}

/*
 * @npages contiguous pages, preferably (with __GFP_THISNODE only) on
 * @node: alloc_pages_exact() by node, which the kernel does not export.
 */
static void *dslab_span_pages_alloc(unsigned int npages, gfp_t gfp, int node)
{
	unsigned int order = get_order((size_t)npages << PAGE_SHIFT), i;
	struct page *page;

	page = alloc_pages_node(node, gfp & ~(__GFP_ZERO | __GFP_COMP), order);
	if (!page)
		return NULL;
	split_page(page, order);
	/* The pages past the span's go back at once, as alloc_pages_exact(). */
	for (i = npages; i < 1U << order; i++)
		__free_page(page + i);
	return page_address(page);
}

static void dslab_span_pages_free(struct dslab_span *span)
{
	unsigned int i, lost = 0;
	struct page *page;

	for (i = 0; i < span->npages; i++) {
		page = virt_to_page(span->base + ((size_t)i << PAGE_SHIFT));
		if (page_ref_count(page) > 1)
			page_ref_dec(page);
		else
			lost++;
	}
	if (unlikely(lost)) {
		dslab_stat_add(DSLAB_STAT_PAGES_PUT_BEHIND, lost);
		pr_err_ratelimited("span of class %u: %u pages put by others (kfree() of an object?)\n",
				   span->class, lost);
	}
	dslab_kasan_span_free(span);
	free_pages_exact(span->base, (size_t)span->npages << PAGE_SHIFT);
}

static void dslab_span_free_rcu(struct rcu_head *head)
{
	struct dslab_span *span = container_of(head, struct dslab_span, rcu);

	dslab_dtor_span_free(span);
	kfree(span);
}

/**
 * dslab_span_new() - allocate a span and enter it in the page map
 * @class: a size class, or DSLAB_CLASS_LARGE
 * @size: for DSLAB_CLASS_LARGE, the object size; ignored otherwise
 * @gfp: allocation flags of the request that needs the span
 * @node: the node wanted for its pages (NUMA_NO_NODE: this CPU's); the
 *	page allocator may fall back to another unless @gfp has
 *	__GFP_THISNODE, and span->node tells where they are
 *
 * The span's objects are all free and linked on its freelist (a large
 * span's single object is not: it is handed out directly).
 *
 * Context: As @gfp allows.
 * Return: the span, or NULL when memory could not be had.
 */
struct dslab_span *dslab_span_new(unsigned int class, size_t size, gfp_t gfp,
				  int node)
{
	unsigned int nelems, npages, objsize;
	struct dslab_span *span;
	gfp_t meta_gfp = gfp & DSLAB_GFP_META;
	void *base;
	int tries = 0;

	if (class == DSLAB_CLASS_LARGE) {
		nelems = 1;
		npages = PAGE_ALIGN(size) >> PAGE_SHIFT;
		objsize = size;
	} else {
		nelems = dslab_classes[class].nobjs;
		npages = dslab_classes[class].npages;
		objsize = dslab_classes[class].size;
	}

	if (dslab_should_fail(gfp, sizeof(*span)))
		return NULL;
	/* live[], the limbo bits after it, and debug mode's stacks. */
	span = kzalloc(size_add(struct_size(span, live,
					    2 * BITS_TO_LONGS(nelems)),
				dslab_debug_track_size(class, nelems)),
		       meta_gfp);
	if (!span)
		return NULL;

retry:
	if (dslab_should_fail(gfp, (size_t)npages << PAGE_SHIFT))
		goto err_free_span;
	base = dslab_span_pages_alloc(npages, gfp | __GFP_NOWARN, node);
	if (!base)
		goto err_free_span;

	span->base = base;
	span->node = page_to_nid(virt_to_page(base));
	span->class = class;
	span->size = objsize;
	span->nelems = nelems;
	span->npages = npages;
	span->div_magic = class == DSLAB_CLASS_LARGE ? 0 :
			  dslab_classes[class].div_magic;
	span->no_mag = class == DSLAB_CLASS_LARGE;
	INIT_LIST_HEAD(&span->list);
	spin_lock_init(&span->special_lock);

	if (class != DSLAB_CLASS_LARGE) {
		void **link = NULL;
		unsigned int i;

		if (unlikely(dslab_debug))
			dslab_debug_poison_span(span);
		/* Thread the freelist through word 0 of each object. */
		for (i = nelems; i-- > 0;) {
			void *obj = base + (size_t)i * objsize;

			*(void **)obj = link;
			link = obj;
		}
		span->freelist = link;
		span->nfree = nelems;
	}

	switch (dslab_map_set(span, span, gfp)) {
	case 0:
		break;
	case -ERANGE:
		/* Hot-added memory beyond the map: try once more. */
		free_pages_exact(base, (size_t)npages << PAGE_SHIFT);
		if (tries++ == 0)
			goto retry;
		goto err_free_span;
	default:
		/*
		 * A leaf could not be allocated, after the first pages were
		 * entered: a lookup may hold the descriptor already, so it
		 * goes after a grace period, as in dslab_span_release().
		 */
		dslab_map_set(span, NULL, gfp);
		free_pages_exact(base, (size_t)npages << PAGE_SHIFT);
		call_rcu(&span->rcu, dslab_span_free_rcu);
		return NULL;
	}

	dslab_kasan_span_new(span);
	dslab_span_pages_get(base, npages);
	atomic_long_add(npages, &dslab_pages_held);
	atomic_long_add(npages, &dslab_node_pages[span->node]);
	dslab_stat_inc(DSLAB_STAT_SPANS_ALLOCATED);
	if (class == DSLAB_CLASS_LARGE)
		atomic_long_inc(&dslab_large_spans);
	return span;

err_free_span:
	kfree(span);
	return NULL;
}

/**
 * dslab_span_release() - give a span with no objects in use back
 * @span: an empty span, already off every list
 *
 * Clears the span from the page map, frees its pages at once and its
 * descriptor after an RCU grace period.
 *
 * Context: Any context.
 */
void dslab_span_release(struct dslab_span *span)
{
	unsigned int npages = span->npages;
	u32 pool = span->pool;

	dslab_map_set(span, NULL, GFP_ATOMIC);
	dslab_span_pages_free(span);
	atomic_long_sub(span->npages, &dslab_pages_held);
	atomic_long_sub(span->npages, &dslab_node_pages[span->node]);
	dslab_stat_inc(DSLAB_STAT_SPANS_FREED);
	if (span->class == DSLAB_CLASS_LARGE)
		atomic_long_dec(&dslab_large_spans);
	call_rcu(&span->rcu, dslab_span_free_rcu);
	if (pool)
		dslab_pool_span_gone(pool, npages);
}

/* === Internals: central lists === */

/* Take up to @nr objects off @span's freelist (class->lock held). */
static unsigned int dslab_span_take(struct dslab_central *c,
				    struct dslab_span *span, void **objs,
				    unsigned int nr)
{
	unsigned int got = 0;

	lockdep_assert_held(&c->lock);
	if (span->nfree == span->nelems)
		c->nr_empty--;
	while (got < nr && span->freelist) {
		void *obj = span->freelist;

		span->freelist = *(void **)obj;
		span->nfree--;
		objs[got++] = obj;
	}
	if (!span->nfree) {
		list_del_init(&span->list);
		span->on_partial = false;
	}
	return got;
}

/* Publish @fresh, allocated outside the lock, on @c (c->lock held). */
static void dslab_central_add(struct dslab_central *c,
			      struct dslab_span *fresh)
{
	lockdep_assert_held(&c->lock);
	list_add(&fresh->list, &c->partial);
	fresh->on_partial = true;
	c->nr_spans++;
	c->nr_empty++;
}

/*
 * Up to @nr objects from @c's spans, @fresh (a new span of @c's node, or
 * NULL) joining the list first.
 */
static unsigned int dslab_central_take(struct dslab_central *c,
				       struct dslab_span *fresh, void **objs,
				       unsigned int nr)
{
	unsigned long flags;
	unsigned int got = 0;

	spin_lock_irqsave(&c->lock, flags);
	if (fresh)
		dslab_central_add(c, fresh);
	while (got < nr && !list_empty(&c->partial))
		got += dslab_span_take(c, list_first_entry(&c->partial,
							    struct dslab_span,
							    list),
				       objs + got, nr - got);
	spin_unlock_irqrestore(&c->lock, flags);
	return got;
}

/**
 * dslab_lists_get() - take free objects of a class from a set of lists
 * @lists: the global set, or a cgroup pool's
 * @pool: that pool (its spans are charged to it), or NULL for the global
 * @node: the node whose list to take them from
 * @class: the size class
 * @objs: filled with the objects
 * @nr: how many are wanted (at least 1)
 * @gfp: flags for a new span, when one is needed
 *
 * A new span whose pages the page allocator had to take from another
 * node joins that node's list and serves the request all the same.
 * Then, unless @gfp has __GFP_THISNODE, the node's empty list takes from
 * that other node's list before it makes a span: always for a node
 * without memory, for a second (DSLAB_FALLBACK_HOLD) for one that had
 * none to spare, after which a new span tries the node again.  Otherwise
 * every request would make a span of its own and take one object of it.
 *
 * Context: As @gfp allows; takes class->lock with interrupts saved.
 * Return: how many objects were stored, 0 when memory ran out.
 */
unsigned int dslab_lists_get(struct dslab_central *const *lists,
			     struct dslab_pool *pool, int node,
			     unsigned int class, void **objs, unsigned int nr,
			     gfp_t gfp)
{
	struct dslab_central *c = &lists[node][class];
	int fallback = READ_ONCE(c->fallback);
	struct dslab_span *fresh;
	unsigned int got;

	got = dslab_central_take(c, NULL, objs, nr);
	if (got)
		return got;
	if (unlikely(fallback != NUMA_NO_NODE) && !(gfp & __GFP_THISNODE) &&
	    (!node_state(node, N_MEMORY) ||
	     time_before(jiffies, READ_ONCE(c->fallback_until)))) {
		got = dslab_central_take(&lists[fallback][class], NULL, objs,
					 nr);
		if (got)
			return got;
	}
	fresh = dslab_span_new(class, 0, gfp, node);
	if (!fresh)
		return 0;
	if (pool)
		dslab_pool_span_new(pool, fresh);
	if (likely(fresh->node == node)) {
		if (unlikely(fallback != NUMA_NO_NODE))
			WRITE_ONCE(c->fallback, NUMA_NO_NODE);
		return dslab_central_take(c, fresh, objs, nr);
	}
	/* Fallen back to another node: its list, our objects. */
	WRITE_ONCE(c->fallback_until, jiffies + DSLAB_FALLBACK_HOLD);
	WRITE_ONCE(c->fallback, fresh->node);
	return dslab_central_take(&lists[fresh->node][class], fresh, objs, nr);
}

/**
 * dslab_central_get() - take free objects of a class from the global lists
 * @node: as for dslab_lists_get()
 * @class: the size class
 * @objs: filled with the objects
 * @nr: how many are wanted (at least 1)
 * @gfp: flags for a new span; a global span is charged to no cgroup, so
 *	__GFP_ACCOUNT is dropped
 *
 * Context: As @gfp allows; takes class->lock with interrupts saved.
 * Return: how many objects were stored, 0 when memory ran out.
 */
unsigned int dslab_central_get(int node, unsigned int class, void **objs,
			       unsigned int nr, gfp_t gfp)
{
	return dslab_lists_get(dslab_central, NULL, node, class, objs, nr,
			       gfp & ~__GFP_ACCOUNT);
}

/* Give @obj back to @span's freelist; may free an empty span. */
static void dslab_central_put_one(struct dslab_central *c,
				  struct dslab_span *span, void *obj,
				  struct list_head *to_free)
{
	lockdep_assert_held(&c->lock);

	*(void **)obj = span->freelist;
	span->freelist = obj;
	span->nfree++;
	if (!span->on_partial) {
		/* Was full: now partial, at the head (fill it first). */
		list_add(&span->list, &c->partial);
		span->on_partial = true;
	}
	if (span->nfree == span->nelems) {
		if (c->nr_empty >= READ_ONCE(dslab_span_reserve)) {
			list_move(&span->list, to_free);
			span->on_partial = false;
			c->nr_spans--;
		} else {
			c->nr_empty++;
			list_move_tail(&span->list, &c->partial);
		}
	}
}

/**
 * dslab_central_put() - give objects back to their spans
 * @objs: the objects, of any small classes and nodes (none large)
 * @nr: how many
 *
 * Context: Any context; takes class->lock with interrupts saved.
 */
void dslab_central_put(void *const *objs, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i += dslab_central_put_run(dslab_own_span(objs[i]),
						       objs + i, nr - i))
		;
}

/**
 * dslab_central_put_run() - give back the leading objects of one class
 * @span: the span of @objs[0]
 * @objs: dead objects, from dslab; none large
 * @nr: how many (at least 1)
 *
 * Gives back @objs[0] and the objects after it up to the first of another
 * class, node or pool, under one lock, looking each span up once.
 *
 * Context: Any context; takes class->lock with interrupts saved.
 * Return: how many objects were given back.
 */
unsigned int dslab_central_put_run(struct dslab_span *span, void *const *objs,
				   unsigned int nr)
{
	unsigned int class = span->class, i = 0;
	struct dslab_central *c = dslab_span_central(span);
	int node = span->node;
	u32 pool = span->pool;
	struct dslab_span *tmp;
	unsigned long flags;
	LIST_HEAD(to_free);

	spin_lock_irqsave(&c->lock, flags);
	do {
		dslab_central_put_one(c, span, objs[i], &to_free);
		if (++i == nr)
			break;
		span = dslab_own_span(objs[i]);
	} while (span->class == class && span->node == node &&
		 span->pool == pool);
	spin_unlock_irqrestore(&c->lock, flags);

	list_for_each_entry_safe(span, tmp, &to_free, list)
		dslab_span_release(span);
	return i;
}

/* Free @c's empty spans beyond @keep; returns their pages. */
static unsigned long dslab_central_trim(struct dslab_central *c,
					unsigned int keep)
{
	struct dslab_span *span, *tmp;
	unsigned long flags, pages = 0;
	LIST_HEAD(to_free);

	spin_lock_irqsave(&c->lock, flags);
	list_for_each_entry_safe_reverse(span, tmp, &c->partial, list) {
		if (c->nr_empty <= keep)
			break;
		if (span->nfree != span->nelems)
			continue;
		list_move(&span->list, &to_free);
		span->on_partial = false;
		c->nr_empty--;
		c->nr_spans--;
	}
	spin_unlock_irqrestore(&c->lock, flags);

	list_for_each_entry_safe(span, tmp, &to_free, list) {
		pages += span->npages;
		dslab_span_release(span);
	}
	return pages;
}

/**
 * dslab_lists_trim() - free the empty spans of a set of lists beyond a reserve
 * @lists: the global set, or a cgroup pool's
 * @keep: empty spans to keep per list
 *
 * Context: Any context.
 * Return: pages given back to the page allocator.
 */
unsigned long dslab_lists_trim(struct dslab_central *const *lists,
			       unsigned int keep)
{
	unsigned long pages = 0;
	unsigned int class;
	int node;

	for_each_node(node)
		for (class = 0; class < DSLAB_NR_CLASSES; class++)
			pages += dslab_central_trim(&lists[node][class], keep);
	return pages;
}

/**
 * dslab_span_trim() - free empty spans beyond a reserve, in every set
 * @keep: empty spans to keep per list
 *
 * Context: Any context.
 * Return: pages given back to the page allocator.
 */
unsigned long dslab_span_trim(unsigned int keep)
{
	return dslab_lists_trim(dslab_central, keep) +
	       dslab_pools_sum(dslab_lists_trim, keep);
}
EXPORT_SYMBOL_IF_KUNIT(dslab_span_trim);

/* === Stats === */

/**
 * dslab_class_stats() - occupancy of one size class
 * @class: the class, or DSLAB_CLASS_LARGE
 * @st: filled in
 *
 * Context: Any context.
 */
void dslab_class_stats(unsigned int class, struct dslab_class_stats *st)
{
	unsigned long nobjs, tail;

	st->inuse = dslab_class_inuse(class);
	if (class == DSLAB_CLASS_LARGE) {
		st->spans = atomic_long_read(&dslab_large_spans);
		st->free = 0;
		st->wasted = 0;
		return;
	}
	st->spans = dslab_lists_spans(dslab_central, class) +
		    dslab_pools_sum(dslab_lists_spans, class);
	nobjs = dslab_classes[class].nobjs;
	tail = dslab_classes[class].tail;
	st->free = st->spans * nobjs > st->inuse ? st->spans * nobjs - st->inuse : 0;
	st->wasted = st->spans * tail + st->free * dslab_classes[class].size;
}
EXPORT_SYMBOL_NS_GPL(dslab_class_stats, DSLAB_NS);

/**
 * dslab_lists_spans() - the spans of one class in a set of lists
 * @lists: the global set, or a cgroup pool's
 * @class: a small-object class
 *
 * Context: Any context; takes each node's class->lock.
 * Return: the count.
 */
unsigned long dslab_lists_spans(struct dslab_central *const *lists,
				unsigned int class)
{
	unsigned long flags, n = 0;
	int node;

	for_each_node(node) {
		struct dslab_central *c = &lists[node][class];

		spin_lock_irqsave(&c->lock, flags);
		n += c->nr_spans;
		spin_unlock_irqrestore(&c->lock, flags);
	}
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(dslab_lists_spans);

/* === Shrinker === */

/**
 * dslab_lists_empty_pages() - about the pages dslab_lists_trim() would free
 * @lists: the global set, or a cgroup pool's
 * @keep: empty spans to keep per list
 *
 * A shrinker count is a hint: the counts are read without the locks.
 *
 * Context: Any context.
 * Return: the pages of the empty spans beyond @keep per list.
 */
unsigned long dslab_lists_empty_pages(struct dslab_central *const *lists,
				      unsigned int keep)
{
	unsigned long n = 0, empty;
	unsigned int class;
	int node;

	for_each_node(node) {
		for (class = 0; class < DSLAB_NR_CLASSES; class++) {
			/* A hint: a racy read is fine. */
			empty = data_race(lists[node][class].nr_empty);
			if (empty > keep)
				n += (empty - keep) * dslab_classes[class].npages;
		}
	}
	return n;
}

static unsigned long dslab_shrink_count(struct shrinker *s,
					struct shrink_control *sc)
{
	unsigned long n = dslab_lists_empty_pages(dslab_central, 0) +
			  dslab_pools_sum(dslab_lists_empty_pages, 0);

	return n ? n : SHRINK_EMPTY;
}

static unsigned long dslab_shrink_scan(struct shrinker *s,
				       struct shrink_control *sc)
{
	unsigned long freed = dslab_span_trim(0);

	return freed ? freed : SHRINK_STOP;
}

/* === Init and exit === */

/**
 * dslab_node_stats() - what one node holds
 * @node: a possible node
 * @st: filled in
 *
 * Context: Any context.
 */
void dslab_node_stats(int node, struct dslab_node_stats *st)
{
	unsigned int class;
	unsigned long flags;

	st->pages = atomic_long_read(&dslab_node_pages[node]);
	st->spans = 0;
	st->empty = 0;
	for (class = 0; class < DSLAB_NR_CLASSES; class++) {
		struct dslab_central *c = dslab_central_of(node, class);

		spin_lock_irqsave(&c->lock, flags);
		st->spans += c->nr_spans;
		st->empty += c->nr_empty;
		spin_unlock_irqrestore(&c->lock, flags);
	}
}
EXPORT_SYMBOL_IF_KUNIT(dslab_node_stats);

/**
 * dslab_central_new() - one node's lists, DSLAB_NR_CLASSES of them, empty
 * @node: the node
 * @gfp: allocation flags
 *
 * Context: As @gfp allows.
 * Return: the array (kfree() it), or NULL.
 */
struct dslab_central *dslab_central_new(int node, gfp_t gfp)
{
	struct dslab_central *c;
	unsigned int class;

	/* On the node itself, when it has memory. */
	c = kcalloc_node(DSLAB_NR_CLASSES, sizeof(*c), gfp,
			 node_state(node, N_MEMORY) ? node : NUMA_NO_NODE);
	if (!c)
		return NULL;
	for (class = 0; class < DSLAB_NR_CLASSES; class++) {
		spin_lock_init(&c[class].lock);
		INIT_LIST_HEAD(&c[class].partial);
		c[class].fallback = NUMA_NO_NODE;
	}
	return c;
}

static void dslab_span_free_nodes(void)
{
	int node;

	for_each_node(node)
		kfree(dslab_central[node]);
	kfree(dslab_node_pages);
}

int dslab_span_init(void)
{
	int node;

	dslab_node_pages = kcalloc(nr_node_ids, sizeof(*dslab_node_pages),
				   GFP_KERNEL);
	if (!dslab_node_pages)
		return -ENOMEM;
	for_each_node(node) {
		dslab_central[node] = dslab_central_new(node, GFP_KERNEL);
		if (!dslab_central[node])
			goto err;
	}

	dslab_shrinker = dslab_compat_shrinker_create("dslab-spans",
						      dslab_shrink_count,
						      dslab_shrink_scan);
	if (dslab_shrinker)
		return 0;
err:
	dslab_span_free_nodes();
	return -ENOMEM;
}

/* What dslab_span_exit() finds still live: leaked by users. */
struct dslab_leaks {
	unsigned long live[DSLAB_NR_CLASSES + 1];	/* per class */
	unsigned int listed;	/* reported one by one, DSLAB_LIVE_LISTED */
};

/* Forget the live objects of a span being torn down, listing the first. */
static void dslab_span_forget(struct dslab_span *span, struct dslab_leaks *l)
{
	struct dslab_objmeta *meta = dslab_meta_of(span);
	unsigned int idx;

	for_each_set_bit(idx, span->live, span->nelems) {
		if (l->listed < DSLAB_LIVE_LISTED) {
			l->listed++;
			dslab_report_live("unload", span, idx,
					  meta ? meta[idx].type : NULL);
		}
		kmemleak_free(dslab_span_obj(span, idx));
		l->live[span->class]++;
	}
	dslab_dtor_forget_span(span);
}

/*
 * Called at unload, after the runner has finished and every CPU cache was
 * drained.  Objects still live were leaked by their users: report them,
 * the first one by one (class, type, and the allocation stack in debug
 * mode), then counted per class, the way kmem_cache_destroy() reports
 * "objects remaining", then release every span through the page map,
 * which reaches full spans too.
 */
static void dslab_span_exit_one(struct dslab_span *span, void *leaks)
{
	dslab_span_forget(span, leaks);
	dslab_span_release(span);
}

void dslab_span_exit(void)
{
	struct dslab_leaks leaks = { };
	unsigned int class;

	dslab_compat_shrinker_destroy(dslab_shrinker);
	dslab_walk_spans(dslab_span_exit_one, &leaks);
	for (class = 0; class <= DSLAB_CLASS_LARGE; class++) {
		if (leaks.live[class])
			pr_err("unload: %lu objects remaining in class %u (%u bytes)\n",
			       leaks.live[class], class,
			       class < DSLAB_NR_CLASSES ?
			       dslab_classes[class].size : 0);
	}
	dslab_memcg_exit();
	/* Descriptors and pools go through call_rcu(): wait for them. */
	rcu_barrier();
	dslab_span_free_nodes();
}
