// SPDX-License-Identifier: GPL-2.0
/*
 * dslab's page-to-span map.
 *
 * The page map answers "which span holds this address?" in O(1) for any
 * pointer value, without dereferencing it.  Spans live in the kernel's
 * direct map, so an address is turned into a page index by arithmetic
 * alone, (addr - PAGE_OFFSET) >> PAGE_SHIFT, which rejects user, vmalloc,
 * module and ERR_PTR addresses by range.  The index selects a leaf (one
 * page of span pointers, 512 on x86-64) from the top level, sized for the
 * direct map, and an entry in it:
 *
 *   addr -> index -+- top->leaves[index >> 9] -> leaf -+
 *                  +- index & 511 ---------------------+-> span
 *
 * The lookup is inline, dslab_span_probe() in dslab.h; this file sets
 * entries (span.c, as spans come and go), walks them, and owns the
 * memory.  Leaves are installed once and kept until unload.  Until then
 * a top entry points at dslab_empty_leaf, a page of entries for no span,
 * so that the lookup follows it like any leaf and needs no test for it.
 * Entries are RCU-published span descriptors, which span.c frees after a
 * grace period, so a reader that found a span under RCU (or with
 * preemption or interrupts off) may still read it; the pages themselves
 * are never read by lookups.
 *
 * An entry with no span holds &dslab_no_span, not NULL: a descriptor
 * with base 0, div_magic 0 and size 0 in the large class, and no live
 * bit.  Every address gets index 0 in it, at an offset equal to the
 * address itself, so find's "offset below the usable size (0)", ksize's
 * and the free's "offset 0" and the live bit all fail for it, and those
 * lookups need no test of their own; the free's slow path tells a
 * foreign pointer from an interior one by it.  Like a large span it has
 * no_mag set, which sends the bulk free's object to the single free.
 * dslab_span_lookup() answers NULL for it, for everyone else.
 *
 * Memory hotplug.  At load the top level covers the memory online then:
 * up to high_memory, or to the end of the highest node's span, which is
 * higher where memory was added before (only x86-64 moves high_memory).
 * Memory added after load may lie above the top level's range.  A
 * memory notifier (MEM_GOING_ONLINE, before any of the new pages
 * reaches the page allocator) replaces the top level by a larger
 * copy holding the same leaves, published with a release store, as SLUB
 * sets up its per-node structures from its own notifier.  The top level
 * it replaced is kept, chained from the new one, until unload: a lookup
 * that still holds it finds the same leaves for the range it covers and
 * answers "not dslab's" above it, which is right, since no span of the
 * new memory can exist before the new top is published.  So the lookup
 * needs no RCU for the top level, and stays three loads.  A new top at
 * least doubles the range, so the tops kept add up to less than twice
 * the last one however many memory blocks come online one by one.  If the copy
 * cannot be allocated, the memory still comes online (dslab does not
 * veto it); a span allocated there fails its entry (-ERANGE) and the
 * allocation is retried once, as before the notifier.
 *
 * Locks (dslab.h has the whole graph): dslab_map_lock is a leaf.  It
 * serialises leaf installation and the replacement of the top level, so
 * a leaf is always installed in the newest top: a leaf is published with
 * a release store, and its entries are __rcu (rcu_assign_pointer(),
 * rcu_dereference_check()).  dslab_own_span(), for an object its caller
 * owns, reads the top-level slot and the entry with plain loads: the slot
 * was set before the span was entered, the entry is set when the span is
 * created and cleared when it is released, so neither is written while
 * the span has an owned object.  dslab_map_grow_mutex serialises growth (the
 * memory notifier runs in process context).
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <kunit/visibility.h>
#include <linux/memory.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>

#include "dslab.h"

/* === Data === */

struct dslab_map *dslab_map;		/* the newest top level */
EXPORT_SYMBOL_IF_KUNIT(dslab_map);
/* What an entry with no span holds (see the header): read, never written. */
struct dslab_span dslab_no_span __ro_after_init = {
	.class = DSLAB_CLASS_LARGE,
	.no_mag = true,			/* as a large span: the bulk free's test */
	.live = { 0 },
};
EXPORT_SYMBOL_IF_KUNIT(dslab_no_span);
/* Every top entry with no leaf of its own: read, never written. */
struct dslab_span __rcu *dslab_empty_leaf[DSLAB_LEAF_ENTRIES] __ro_after_init = {
	[0 ... DSLAB_LEAF_ENTRIES - 1] = RCU_INITIALIZER(&dslab_no_span),
};

static DEFINE_SPINLOCK(dslab_map_lock);	/* leaf installs, top replacement */
static DEFINE_MUTEX(dslab_map_grow_mutex);

static unsigned long dslab_leaves_for(unsigned long pages)
{
	return DIV_ROUND_UP(pages, DSLAB_LEAF_ENTRIES);
}

/**
 * dslab_map_pages() - pages the page map covers now
 *
 * Context: Any context.
 * Return: the page index above the newest top level's range.
 */
unsigned long dslab_map_pages(void)
{
	/* Pairs with smp_store_release() in dslab_map_grow(). */
	return READ_ONCE(dslab_map)->pages;
}
EXPORT_SYMBOL_IF_KUNIT(dslab_map_pages);

/* === Entries === */

/**
 * dslab_map_set() - enter a span in the page map, or remove it
 * @span: the span, whose pages give the entries
 * @val: @span to enter it, NULL to remove it
 * @gfp: for a leaf that has to be installed first
 *
 * Context: Any context but NMI, with a matching @gfp; removing never
 * allocates.
 * Return: 0; -ERANGE when the span lies above the map (memory added by
 * hotplug after load); -ENOMEM when a leaf could not be allocated, with
 * the entries before it already set.
 */
int dslab_map_set(struct dslab_span *span, struct dslab_span *val, gfp_t gfp)
{
	unsigned long first = dslab_addr_index(span->base);
	unsigned long i;

	if (first + span->npages > dslab_map_pages())
		return -ERANGE;
	for (i = first; i < first + span->npages; i++) {
		struct dslab_span __rcu **leaf;
		struct dslab_map *map;
		unsigned long flags;

		/* Pairs with the release in dslab_map_grow(). */
		map = READ_ONCE(dslab_map);
		/* Pairs with the release below (we may race an installer). */
		leaf = smp_load_acquire(&map->leaves[i >> DSLAB_LEAF_SHIFT]);
		if (leaf == dslab_empty_leaf && !val)
			continue;	/* never set: nothing to clear */
		if (leaf == dslab_empty_leaf) {
			struct dslab_span __rcu **fresh;

			/* Allocate outside the lock, recheck under it. */
			if (dslab_should_fail(gfp, PAGE_SIZE))
				return -ENOMEM;
			fresh = kmalloc(PAGE_SIZE, gfp & DSLAB_GFP_META);
			if (!fresh)
				return -ENOMEM;
			memcpy(fresh, dslab_empty_leaf, sizeof(dslab_empty_leaf));
			spin_lock_irqsave(&dslab_map_lock, flags);
			/* The newest top: a growth copies it under the lock. */
			map = dslab_map;
			leaf = map->leaves[i >> DSLAB_LEAF_SHIFT];
			if (leaf == dslab_empty_leaf) {
				leaf = fresh;
				fresh = NULL;
				/* Pairs with READ_ONCE() in dslab_span_probe(). */
				smp_store_release(&map->leaves[i >> DSLAB_LEAF_SHIFT],
						  leaf);
			}
			spin_unlock_irqrestore(&dslab_map_lock, flags);
			kfree(fresh);
		}
		/* Pairs with rcu_dereference_check() in dslab_span_probe(). */
		rcu_assign_pointer(leaf[i & (DSLAB_LEAF_ENTRIES - 1)],
				   val ?: &dslab_no_span);
	}
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(dslab_map_set);

/**
 * dslab_walk_spans() - call @fn once for every span
 * @fn: called under rcu_read_lock(), so the descriptor stays valid; it
 *	must not sleep
 * @arg: passed to @fn
 *
 * Walks the page map leaf by leaf, calling @fn at each span's first
 * page, with a chance to reschedule between leaves.  Spans created or
 * released meanwhile may or may not be visited.
 *
 * Context: Process context; sleeps.
 */
void dslab_walk_spans(dslab_span_fn fn, void *arg)
{
	/* Pairs with smp_store_release() in dslab_map_grow(). */
	struct dslab_map *map = READ_ONCE(dslab_map);
	unsigned long leaves = dslab_leaves_for(map->pages);
	struct dslab_span __rcu **leaf;
	struct dslab_span *span;
	unsigned long i, j;

	for (i = 0; i < leaves; i++) {
		/* Pairs with smp_store_release() in dslab_map_set(). */
		leaf = READ_ONCE(map->leaves[i]);
		if (leaf == dslab_empty_leaf)
			continue;
		rcu_read_lock();
		for (j = 0; j < DSLAB_LEAF_ENTRIES; j++) {
			span = rcu_dereference(leaf[j]);
			if (span != &dslab_no_span &&
			    dslab_addr_index(span->base) ==
			    i * DSLAB_LEAF_ENTRIES + j)
				fn(span, arg);
		}
		rcu_read_unlock();
		cond_resched();
	}
}

/* === Memory hotplug === */

/* A top level for @pages pages, every entry the empty leaf. */
static struct dslab_map *dslab_map_alloc(unsigned long pages)
{
	unsigned long i, leaves = dslab_leaves_for(pages);
	struct dslab_map *map;

	map = kvmalloc(struct_size(map, leaves, leaves), GFP_KERNEL);
	if (!map)
		return NULL;
	map->pages = pages;
	map->older = NULL;
	for (i = 0; i < leaves; i++)
		map->leaves[i] = dslab_empty_leaf;
	return map;
}

/*
 * Make the map cover page indexes below @pages: a larger copy of the top
 * level replaces it (see the header).  Process context.
 */
static int dslab_map_grow(unsigned long pages)
{
	struct dslab_map *map, *old;
	unsigned long flags;
	int ret = 0;

	mutex_lock(&dslab_map_grow_mutex);
	old = dslab_map;
	if (pages <= old->pages)
		goto out;
	/*
	 * At least double: memory comes online a block at a time, and the
	 * tops kept until unload then add up to twice the last one.
	 */
	map = dslab_map_alloc(max(pages, 2 * old->pages));
	if (!map) {
		ret = -ENOMEM;
		goto out;
	}
	map->older = old;
	spin_lock_irqsave(&dslab_map_lock, flags);
	/* No leaf is installed meanwhile: installers take the lock. */
	memcpy(map->leaves, old->leaves,
	       dslab_leaves_for(old->pages) * sizeof(map->leaves[0]));
	/* Pairs with READ_ONCE() in dslab_span_probe() and its kin. */
	smp_store_release(&dslab_map, map);
	spin_unlock_irqrestore(&dslab_map_lock, flags);
out:
	mutex_unlock(&dslab_map_grow_mutex);
	return ret;
}

/**
 * dslab_map_memory_notify() - the memory hotplug notifier
 * @nb: dslab_map_memory_nb
 * @action: MEM_GOING_ONLINE is the one that matters
 * @arg: a struct memory_notify: the range of page frames
 *
 * Before memory comes online, makes the page map cover it, so that spans
 * can be allocated there.  Never vetoes the hotplug: see the header.
 *
 * Context: Process context (memory hotplug).
 * Return: NOTIFY_OK.
 */
int dslab_map_memory_notify(struct notifier_block *nb, unsigned long action,
			    void *arg)
{
	const struct memory_notify *mn = arg;
	unsigned long end;

	if (action != MEM_GOING_ONLINE || !mn->nr_pages)
		return NOTIFY_OK;
	/* Page index of the range's last page, by arithmetic (dslab.h). */
	end = dslab_addr_index(pfn_to_kaddr(mn->start_pfn + mn->nr_pages - 1));
	if (dslab_map_grow(end + 1))
		pr_warn_once("no memory to map pages added by hotplug; no span will be placed there\n");
	return NOTIFY_OK;
}
EXPORT_SYMBOL_IF_KUNIT(dslab_map_memory_notify);

static struct notifier_block dslab_map_memory_nb = {
	.notifier_call = dslab_map_memory_notify,
};

/* === Init and exit === */

/*
 * Pages up to the end of memory online now.  x86-64 moves high_memory up
 * when memory is added; arm64 and the others do not, but added memory
 * extends its node's span.
 */
static unsigned long dslab_map_online_pages(void)
{
	unsigned long pages = dslab_addr_index(high_memory), end;
	int nid;

	for_each_online_node(nid) {
		end = node_end_pfn(nid);
		if (end > node_start_pfn(nid))
			pages = max(pages,
				    dslab_addr_index(pfn_to_kaddr(end - 1)) + 1);
	}
	return pages;
}

int dslab_map_init(void)
{
	int ret;

	dslab_map = dslab_map_alloc(dslab_map_online_pages());
	if (!dslab_map)
		return -ENOMEM;
	/* Without CONFIG_MEMORY_HOTPLUG, this does nothing. */
	ret = register_memory_notifier(&dslab_map_memory_nb);
	if (ret) {
		kvfree(dslab_map);
		return ret;
	}
	/* Memory that came online before the notifier was registered. */
	dslab_map_grow(dslab_map_online_pages());
	return 0;
}

/* After dslab_span_exit(): every span is gone and no reader is left. */
void dslab_map_exit(void)
{
	struct dslab_map *map = dslab_map, *older;
	unsigned long i;

	unregister_memory_notifier(&dslab_map_memory_nb);
	for (i = 0; i < dslab_leaves_for(map->pages); i++)
		if (map->leaves[i] != dslab_empty_leaf)
			kfree(map->leaves[i]);
	/* Older tops hold the same leaves, or the empty one, for their range. */
	for (; map; map = older) {
		older = map->older;
		kvfree(map);
	}
}
