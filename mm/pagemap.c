// SPDX-License-Identifier: GPL-2.0
/*
 * dslab's page-to-span map.
 *
 * The page map answers "which span holds this address?" in O(1) for any
 * pointer value, without dereferencing it.  Spans live in the kernel's
 * direct map, so an address is turned into a page index by arithmetic
 * alone, (addr - PAGE_OFFSET) >> PAGE_SHIFT, which rejects user, vmalloc,
 * module and ERR_PTR addresses by range.  The index selects a leaf (one
 * page of span pointers, 512 on x86-64) from a top-level array sized for
 * the direct map at load time, and an entry in it:
 *
 *   addr -> index -+- top[index >> 9] -> leaf -+
 *                  +- index & 511 -------------+-> span or NULL
 *
 * The lookup is inline, dslab_span_lookup() in dslab.h; this file sets
 * entries (span.c, as spans come and go), walks them, and owns the
 * memory.  Leaves are installed once and kept until unload.  Entries are
 * RCU-published span descriptors, which span.c frees after a grace
 * period, so a reader that found a span under RCU (or with preemption or
 * interrupts off) may still read it; the pages themselves are never read
 * by lookups.  Memory added by hotplug above the size of the map at load
 * time cannot hold spans: allocation there fails and is retried once.
 *
 * Locks (dslab.h has the whole graph): dslab_map_lock is a leaf.  It only
 * serialises leaf installation: a leaf is published with a release store,
 * and its entries are __rcu (rcu_assign_pointer(), rcu_dereference_check()).
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>

#include "dslab.h"

/* === Data === */

struct dslab_span __rcu ***dslab_map;	/* top level, fixed at load */
unsigned long dslab_map_pages;		/* pages covered by the map */
static DEFINE_SPINLOCK(dslab_map_lock);	/* serialises leaf installation */

static unsigned long dslab_map_leaves(void)
{
	return DIV_ROUND_UP(dslab_map_pages, DSLAB_LEAF_ENTRIES);
}

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

	if (first + span->npages > dslab_map_pages)
		return -ERANGE;
	for (i = first; i < first + span->npages; i++) {
		struct dslab_span __rcu **leaf;
		unsigned long flags;

		/* Pairs with the release below (we may race an installer). */
		leaf = smp_load_acquire(&dslab_map[i >> DSLAB_LEAF_SHIFT]);
		if (!leaf && !val)
			continue;	/* never set: nothing to clear */
		if (!leaf) {
			struct dslab_span __rcu **fresh;

			/* Allocate outside the lock, recheck under it. */
			if (dslab_should_fail(gfp, PAGE_SIZE))
				return -ENOMEM;
			fresh = kzalloc(PAGE_SIZE, gfp & DSLAB_GFP_META);
			if (!fresh)
				return -ENOMEM;
			spin_lock_irqsave(&dslab_map_lock, flags);
			leaf = dslab_map[i >> DSLAB_LEAF_SHIFT];
			if (!leaf) {
				leaf = fresh;
				fresh = NULL;
				/* Pairs with READ_ONCE() in dslab_span_lookup(). */
				smp_store_release(&dslab_map[i >> DSLAB_LEAF_SHIFT],
						  leaf);
			}
			spin_unlock_irqrestore(&dslab_map_lock, flags);
			kfree(fresh);
		}
		/* Pairs with rcu_dereference_check() in dslab_span_lookup(). */
		rcu_assign_pointer(leaf[i & (DSLAB_LEAF_ENTRIES - 1)], val);
	}
	return 0;
}

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
	unsigned long leaves = dslab_map_leaves();
	struct dslab_span __rcu **leaf;
	struct dslab_span *span;
	unsigned long i, j;

	for (i = 0; i < leaves; i++) {
		/* Pairs with smp_store_release() in dslab_map_set(). */
		leaf = READ_ONCE(dslab_map[i]);
		if (!leaf)
			continue;
		rcu_read_lock();
		for (j = 0; j < DSLAB_LEAF_ENTRIES; j++) {
			span = rcu_dereference(leaf[j]);
			if (span && dslab_addr_index(span->base) ==
				    i * DSLAB_LEAF_ENTRIES + j)
				fn(span, arg);
		}
		rcu_read_unlock();
		cond_resched();
	}
}

/* === Init and exit === */

int dslab_map_init(void)
{
	dslab_map_pages = ((unsigned long)high_memory - PAGE_OFFSET) >> PAGE_SHIFT;
	dslab_map = kvcalloc(dslab_map_leaves(), sizeof(*dslab_map), GFP_KERNEL);
	return dslab_map ? 0 : -ENOMEM;
}

/* After dslab_span_exit(): every span is gone and no reader is left. */
void dslab_map_exit(void)
{
	unsigned long i;

	for (i = 0; i < dslab_map_leaves(); i++)
		kfree(dslab_map[i]);
	kvfree(dslab_map);
}
