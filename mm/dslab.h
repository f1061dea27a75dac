/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dslab internals shared between the files of dslab.ko and with the KUnit
 * module (symbols exported in the DSLAB_INTERNAL namespace).
 *
 * Layering (Documentation/design.rst has the full picture):
 *
 *   dslab_alloc/dslab_free          alloc.c    per-CPU magazines, no shared lock
 *     -> central (node and class)   span.c     class->lock, partial spans
 *        or a memory cgroup's pool  memcg.c    dslab_pool_lock, its lists
 *       -> spans                    span.c     contiguous pages
 *         -> page map               pagemap.c  address -> span, lockless
 *   destructors and cleanups        dtor.c     span->special_lock per span
 *     -> owner module pins          owner.c    dslab_owner_lock, 0 <-> 1 only
 *   FinBlock queue and runners      finq.c     per-CPU open blocks, leader, runners
 *
 * Locks: every nesting dslab takes (anything else is a leaf: class->lock,
 * dslab_finq.lock, the xa_lock, dslab_map_lock, dslab_owner_lock,
 * dslab_pool_lock, watch->lock):
 *   dslab_map_grow_mutex -> dslab_map_lock (the memory notifier)
 *   dslab_drain_mutex -> cpus_read_lock -> dslab_mag_lock (per-CPU work)
 *   dslab_mag_lock -> class->lock
 *   dslab_mag_lock -> dslab_pool_lock (a pool's last span given back)
 *   dslab_mag_lock -> span->special_lock -> dslab_cleanup_ids xa_lock
 *   dslab_mag_lock -> dslab_cleanup_ids xa_lock
 *   dslab_mag_lock -> dslab_finq.lock
 *   span->special_lock -> dslab_cleanup_ids xa_lock (registration)
 * dslab_mag_lock is a per-CPU local_lock_t, dslab_finq.lock a raw
 * spinlock, the others spinlock_t taken irqsave: sleeping locks on
 * PREEMPT_RT, where dslab, like kmalloc, is not called from hard
 * interrupt context.  Per-CPU magazines and a CPU's open FinBlocks are
 * changed only on their CPU (cmpxchg transactions or dslab_mag_lock for
 * magazines, one block set per context level for FinBlocks; alloc.c and
 * finq.c), and other CPUs reach them from a work item or a timer there,
 * or once the CPU is dead.
 * Documentation/design.rst says what each protects.
 *
 * Field annotations, one legend for every file (as kernel/workqueue.c):
 *   I: set before the structure is published, read-only after
 *   A: changed with atomic operations only
 *   C: class->lock (span.c)
 *   S: span->special_lock (dtor.c, whose header argues the free path's
 *      lockless reads)
 *   Q: dslab_finq.lock (finq.c)
 *   L: only on its own CPU at one context level, or by its hand-over
 *      (finq.h)
 *   M: only on its own CPU, by a fast-path transaction or under
 *      dslab_mag_lock (alloc.c)
 *   O: dslab_owner_lock (owner.c)
 *   P: dslab_pool_lock (memcg.c)
 *   R: written by its runner only, with WRITE_ONCE(); read locklessly
 *   W: watch->lock (watch.c)
 */
#ifndef _DSLAB_INTERNAL_H
#define _DSLAB_INTERNAL_H

#include <linux/dslab.h>
#include <linux/fault-inject.h>
#include <linux/jiffies.h>
#include <linux/jump_label.h>
#include <linux/kallsyms.h>
#include <linux/list.h>
#include <linux/llist.h>
#include <linux/memcontrol.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/sched/clock.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "compat.h"

struct dentry;
struct seq_file;

/*
 * The part of a caller's gfp that applies to dslab's own metadata: how hard
 * to try, not where from or whether to zero (mm/internal.h's
 * GFP_RECLAIM_MASK, which modules cannot see).
 */
#define DSLAB_GFP_META	(__GFP_RECLAIM | __GFP_HIGH | __GFP_IO | __GFP_FS | \
			 __GFP_NOWARN | __GFP_RETRY_MAYFAIL | __GFP_NOFAIL | \
			 __GFP_NORETRY | __GFP_MEMALLOC | __GFP_NOMEMALLOC)

/* === Size classes (sizeclass.c) === */

#include "sizeclasses.h"

/* Requests above DSLAB_MAX_SMALL_SIZE get a span of their own. */
#define DSLAB_CLASS_LARGE	DSLAB_NR_CLASSES

struct dslab_class_info {
	u32 size;		/* bytes per object */
	u32 npages;		/* pages per span */
	u32 nobjs;		/* objects per span */
	u32 tail;		/* unused bytes at the end of a span */
	u32 div_magic;		/* (off * div_magic) >> 32 == off / size */
	u32 max_waste;		/* worst-case waste, 1/100 of a percent */
};

extern const struct dslab_class_info dslab_classes[DSLAB_NR_CLASSES];
extern const u8 dslab_size_to_class8[];
extern const u8 dslab_size_to_class128[];

/*
 * Class for @size in *@classp; false for 0 and above the small range.
 * The branches decide, so an allocation compares no class with
 * DSLAB_CLASS_LARGE, and size - 1 wraps around for 0, so that its test
 * is the range's.
 */
static __always_inline bool dslab_small_class(size_t size,
					      unsigned int *classp)
{
	if (likely(size - 1 < DSLAB_SMALL_SIZE_MAX)) {
		/* The rounded-up quotient, from the size - 1 at hand. */
		*classp = dslab_size_to_class8[(size - 1) / DSLAB_SMALL_SIZE_DIV + 1];
		return true;
	}
	if (size - 1 >= DSLAB_MAX_SMALL_SIZE)
		return false;
	*classp = dslab_size_to_class128[(size - DSLAB_SMALL_SIZE_MAX +
					  DSLAB_LARGE_SIZE_DIV - 1) /
					 DSLAB_LARGE_SIZE_DIV];
	return true;
}

/* Class for @size (1 <= size); DSLAB_CLASS_LARGE above the small range. */
static inline unsigned int dslab_size_class(size_t size)
{
	unsigned int class;

	return dslab_small_class(size, &class) ? class : DSLAB_CLASS_LARGE;
}

/* === Spans (span.c) and the page map (pagemap.c) === */

struct dslab_special;
struct dslab_objmeta;

/*
 * A span: npages contiguous pages carved into objects of one class, or
 * one large object.  Freed with kfree_rcu() so that page-map readers
 * (which run under RCU or with interrupts off) never touch freed memory.
 *
 * Fields are annotated with the legend at the top of this file.
 */
struct dslab_span {
	/* Off the lookup path: lists, RCU, registration. */
	struct list_head list;		/* C: on class partial or empty list */
	void *freelist;			/* C: free objects, linked through word 0 */
	struct rcu_head rcu;
	unsigned int nfree;		/* C: objects on freelist */
	unsigned int npages;		/* I: pages in the span */
	spinlock_t special_lock;	/* protects meta[] contents */
	bool on_partial;		/* C: span is on class->partial */
	bool reg_busy;			/* S: a registration is in progress */
	/* What sends a free off its fast path: one test reads both. */
	union {
		struct {
			/* I: its objects never enter a magazine: large, or a cgroup's */
			bool no_mag;
			/* S: meta is published (set after it, dtor.c) */
			bool has_meta;
		};
		u16 free_slow;
	};
	struct dslab_objmeta *meta;	/* S: published once, dslab_meta_of() */
	struct llist_node limbo_node;	/* on the limbo list while queued */
	unsigned long limbo_queued;	/* A: bit 0 set while on that list */
	int node;			/* I: the node of its pages */
	u32 pool;			/* I: its cgroup pool's id, 0: none */

	/*
	 * What a lookup (find, ksize, free) reads, then the live bits: 32
	 * bytes with the first bitmap word, so one cache line in the usual
	 * kmalloc-96 descriptor.
	 */
	void *base;			/* I: first byte */
	unsigned int class;		/* I: size class or DSLAB_CLASS_LARGE */
	unsigned int size;		/* I: object size */
	unsigned int nelems;		/* I: objects in the span */
	u32 div_magic;			/* I: see dslab_class_info */
	/*
	 * A: bit per object, set while live; followed by as many words of
	 * limbo bits (dslab_span_limbo()).  An address in the span's tail
	 * (smaller than an object) has index nelems, and every class with a
	 * tail has that bit in the last word (mksizeclasses.py and the
	 * size-class tests check it), where it stays clear: so the lookups
	 * test the bit without comparing the index with nelems.
	 */
	unsigned long live[];
};

/* The most objects a span holds: 8-byte objects in one page. */
#define DSLAB_SPAN_MAX_OBJS	(DSLAB_SIZECLASS_PAGE_SIZE / 8)

/*
 * A: a bit per object freed by dslab_free_rcu() while the plain-RCU pool
 * was dry, until the runner takes it (finq.c).
 */
static inline unsigned long *dslab_span_limbo(struct dslab_span *span)
{
	return span->live + BITS_TO_LONGS(span->nelems);
}

/*
 * Per-object metadata, allocated for a span the first time one of its
 * objects is typed or gets a destructor or cleanup.  Once the object is
 * freed (its live bit clear) and queued, the runner owns its entry until
 * it releases the object: registration refuses a dead object under
 * special_lock before it reads the entry, so nobody else touches it.
 */
struct dslab_objmeta {
	const struct dslab_type *type;		/* S (set by dslab_new) */
	void (*dtor)(void *obj);		/* S: destructor, or NULL */
	struct dslab_owner *dtor_owner;		/* S: pinned while dtor is set */
	struct hlist_head specials;		/* S: cleanups, newest first */
};

/**
 * dslab_meta_of() - a span's metadata array, or NULL
 * @span: the span
 *
 * The array is zeroed, then published once with smp_store_release()
 * (dtor.c); this acquire pairs with it, so the entries read through the
 * pointer are at least those zeroes on every architecture.  A test for
 * NULL alone may use READ_ONCE().
 *
 * Context: Any context.
 * Return: the array, or NULL while none has been published.
 */
static inline struct dslab_objmeta *dslab_meta_of(struct dslab_span *span)
{
	/* Pairs with smp_store_release() in dslab_commit_meta(). */
	return smp_load_acquire(&span->meta);
}

/* A type's name for a report: "untyped" for none. */
static inline const char *dslab_type_name(const struct dslab_type *t)
{
	if (!t)
		return "untyped";
	return t->name ? t->name : "(unnamed)";
}

/*
 * The page map (pagemap.c): a top level that memory hotplug replaces by
 * a larger copy (the old one is kept until unload), leaves installed once
 * (a release store) and kept; their entries are RCU-published span
 * descriptors, which are freed after a grace period.
 */
#define DSLAB_LEAF_SHIFT	(PAGE_SHIFT - 3)
#define DSLAB_LEAF_ENTRIES	BIT(DSLAB_LEAF_SHIFT)

struct dslab_map {
	unsigned long pages;			/* I: pages covered */
	struct dslab_map *older;		/* I: the top it replaced */
	/* leaves, dslab_empty_leaf until set */
	struct dslab_span __rcu **leaves[];
};

extern struct dslab_map *dslab_map;
extern struct dslab_span __rcu *dslab_empty_leaf[DSLAB_LEAF_ENTRIES];
extern struct dslab_span dslab_no_span;

int dslab_map_init(void);
void dslab_map_exit(void);
int dslab_map_set(struct dslab_span *span, struct dslab_span *val, gfp_t gfp);
struct notifier_block;
int dslab_map_memory_notify(struct notifier_block *nb, unsigned long action,
			    void *arg);
unsigned long dslab_map_pages(void);
typedef void (*dslab_span_fn)(struct dslab_span *span, void *arg);
void dslab_walk_spans(dslab_span_fn fn, void *arg);

static __always_inline unsigned long dslab_addr_index(const void *addr)
{
	return ((unsigned long)addr - PAGE_OFFSET) >> PAGE_SHIFT;
}

/**
 * dslab_span_probe() - the span holding an address, or dslab_no_span
 * @ptr: any pointer value
 *
 * Never dereferences @ptr: spans live in the direct map, so the address
 * is turned into a page index by arithmetic alone, and anything outside
 * the map's range (user, vmalloc, module, ERR_PTR, NULL) is rejected by
 * the bounds check.  The caller must be in an RCU read-side critical
 * section (interrupts or preemption off count) or own a live object of
 * the span, so the returned descriptor stays valid while used.
 *
 * Where there is no span, the answer is &dslab_no_span, a descriptor that
 * the lookups' own checks turn down (pagemap.c): dslab_find_object(),
 * dslab_ksize() and the free test nothing more.
 *
 * Context: Any context.
 * Return: the span, or &dslab_no_span when @ptr is not in dslab memory.
 */
static __always_inline struct dslab_span *dslab_span_probe(const void *ptr)
{
	unsigned long idx = dslab_addr_index(ptr);
	/* Pairs with smp_store_release() in dslab_map_grow(). */
	const struct dslab_map *map = READ_ONCE(dslab_map);
	struct dslab_span __rcu **leaf;

	if (unlikely(idx >= map->pages))
		return &dslab_no_span;
	/*
	 * Pairs with smp_store_release() in dslab_map_set().  A range with
	 * no leaf of its own has dslab_empty_leaf, all &dslab_no_span.
	 */
	leaf = READ_ONCE(map->leaves[idx >> DSLAB_LEAF_SHIFT]);
	/* Preemption or interrupts off count as RCU readers. */
	return rcu_dereference_check(leaf[idx & (DSLAB_LEAF_ENTRIES - 1)],
				     rcu_read_lock_any_held());
}

/**
 * dslab_span_lookup() - the span holding an address, or NULL
 * @ptr: any pointer value
 *
 * dslab_span_probe() for callers that test for "no span".
 *
 * Context: Any context, as for dslab_span_probe().
 * Return: the span, or NULL when @ptr is not in dslab memory.
 */
static __always_inline struct dslab_span *dslab_span_lookup(const void *ptr)
{
	struct dslab_span *span = dslab_span_probe(ptr);

	return span == &dslab_no_span ? NULL : span;
}

/**
 * dslab_span_index() - index of the object holding @ptr in @span
 * @span: the span @ptr falls in
 * @ptr: an address inside the span's pages
 * @offset: set to the offset of @ptr inside the object
 *
 * Go's divMagic: (off * div_magic) >> 32 is exact for every offset in a
 * span (checked by the size-class tests).
 *
 * Context: Any context.
 * Return: the object index; span->nelems or more when @ptr is in the tail
 * (every caller compares it with span->nelems, so it is not clamped).
 */
static __always_inline unsigned int
dslab_span_index(const struct dslab_span *span, const void *ptr,
		 unsigned int *offset)
{
	unsigned long off = ptr - span->base;
	unsigned int idx;

	if (unlikely(span->nelems == 1)) {
		*offset = off;
		return off < span->size ? 0 : 1;
	}
	idx = ((u64)off * span->div_magic) >> 32;
	*offset = off - (unsigned long)idx * span->size;
	return idx;
}

/**
 * dslab_span_locate() - dslab_span_index() for the lookups and frees
 * @span: the span @ptr falls in
 * @ptr: an address inside the span's pages
 * @offset: set to the offset of @ptr from the start of the returned index
 *
 * dslab_find_object(), dslab_ksize() and the frees' checks without
 * dslab_span_index()'s branch for a one-object span: a large span's
 * div_magic is 0, so every address in it gets index 0 and its distance
 * from the base, which these callers compare with the object size or
 * with 0 anyway (a small class's divMagic is exact over its whole span,
 * tail included).
 *
 * Context: Any context.
 * Return: the object index; below span->nelems for a large span's tail.
 */
static __always_inline unsigned int
dslab_span_locate(const struct dslab_span *span, const void *ptr,
		  unsigned long *offset)
{
	unsigned long off = ptr - span->base;
	unsigned int idx = (off * span->div_magic) >> 32;

	*offset = off - (unsigned long)idx * span->size;
	return idx;
}

/*
 * The span of an object the caller owns (live, being allocated, or dead
 * but not yet released): that object keeps the span, so no RCU reader is
 * needed, which lockdep cannot see.
 */
static __always_inline struct dslab_span *dslab_own_span(const void *obj)
{
	unsigned long idx = dslab_addr_index(obj);
	/* Pairs with smp_store_release() in dslab_map_grow(). */
	const struct dslab_map *map = READ_ONCE(dslab_map);

	/*
	 * Plain loads: while the caller owns an object of the span, neither
	 * its leaf's place in the top level nor its entry in the leaf is
	 * written (pagemap.c), so nothing races with them.
	 */
	return rcu_dereference_protected(map->leaves[idx >> DSLAB_LEAF_SHIFT]
					 [idx & (DSLAB_LEAF_ENTRIES - 1)], 1);
}

/*
 * Index of an object start the caller owns: 0 in a large span, whose
 * div_magic is 0.
 */
static __always_inline unsigned int
dslab_own_index(const struct dslab_span *span, const void *obj)
{
	return ((u64)(obj - span->base) * span->div_magic) >> 32;
}

static inline void *dslab_span_obj(const struct dslab_span *span,
				   unsigned int idx)
{
	return span->base + (size_t)idx * span->size;
}

int dslab_span_init(void);
void dslab_span_exit(void);
struct dslab_span *dslab_span_new(unsigned int class, size_t size, gfp_t gfp,
				  int node);
void dslab_span_release(struct dslab_span *span);
/* central: refill @objs with up to @nr free objects of @class */
unsigned int dslab_central_get(int node, unsigned int class, void **objs,
			       unsigned int nr, gfp_t gfp);
/* central: give @nr objects back to their spans */
void dslab_central_put(void *const *objs, unsigned int nr);
/* central: give back the leading objects of @span's class; how many */
unsigned int dslab_central_put_run(struct dslab_span *span, void *const *objs,
				   unsigned int nr);
unsigned long dslab_span_trim(unsigned int keep);
extern unsigned int dslab_span_reserve;
/* A set of central lists: DSLAB_NR_CLASSES per node (memcg.c's pools). */
struct dslab_central;
struct dslab_pool;
struct dslab_central *dslab_central_new(int node, gfp_t gfp);
unsigned int dslab_lists_get(struct dslab_central *const *lists,
			     struct dslab_pool *pool, int node,
			     unsigned int class, void **objs, unsigned int nr,
			     gfp_t gfp);
unsigned long dslab_lists_spans(struct dslab_central *const *lists,
				unsigned int class);
unsigned long dslab_lists_trim(struct dslab_central *const *lists,
			       unsigned int keep);
unsigned long dslab_lists_empty_pages(struct dslab_central *const *lists,
				      unsigned int keep);
typedef unsigned long (*dslab_lists_fn)(struct dslab_central *const *lists,
					unsigned int arg);

struct dslab_class_stats {
	unsigned long spans;		/* spans of this class */
	unsigned long inuse;		/* live objects (and queued ones) */
	unsigned long free;		/* spans * objects per span - inuse */
	unsigned long wasted;		/* bytes: tails + free slots */
};

void dslab_class_stats(unsigned int class, struct dslab_class_stats *st);

struct dslab_node_stats {
	unsigned long pages;		/* pages of its spans */
	unsigned long spans;		/* small-object spans on its lists */
	unsigned long empty;		/* of which every object is free */
};

void dslab_node_stats(int node, struct dslab_node_stats *st);

/* === Memory cgroups (memcg.c) === */

/* debugfs "pools"; only called with CONFIG_MEMCG */
int dslab_pool_show(struct seq_file *m);

#ifdef CONFIG_MEMCG
/*
 * Does @gfp ask for a charge dslab can make?  __GFP_ACCOUNT, in task
 * context (memcg.c's header says why), with the memory controller on.
 */
static inline bool dslab_memcg_wanted(gfp_t gfp)
{
	return (gfp & __GFP_ACCOUNT) && in_task() && !mem_cgroup_disabled();
}

int dslab_pool_alloc(unsigned int class, int node, gfp_t gfp, void **objp);
struct dslab_central *const *dslab_pool_lists(u32 id);
void dslab_pool_span_new(struct dslab_pool *pool, struct dslab_span *span);
void dslab_pool_span_gone(u32 id, unsigned int npages);
unsigned long dslab_pools_sum(dslab_lists_fn fn, unsigned int arg);
void dslab_memcg_exit(void);
#else
static inline bool dslab_memcg_wanted(gfp_t gfp) { return false; }
static inline int dslab_pool_alloc(unsigned int class, int node, gfp_t gfp,
				   void **objp) { return -ENOENT; }
static inline struct dslab_central *const *dslab_pool_lists(u32 id)
{
	return NULL;
}

static inline void dslab_pool_span_new(struct dslab_pool *pool,
				       struct dslab_span *span) { }
static inline void dslab_pool_span_gone(u32 id, unsigned int npages) { }
static inline unsigned long dslab_pools_sum(dslab_lists_fn fn,
					    unsigned int arg)
{
	return 0;
}

static inline void dslab_memcg_exit(void) { }
#endif

/* === Allocation core (alloc.c) === */

/* Release the memory of objects that are no longer live (the runner). */
void dslab_release_objects(void *const *objs, unsigned int n);
void dslab_drain_cpu_caches(void);
void dslab_drain_dead_cpu(unsigned int cpu);
/* Drain every per-CPU cache and free every empty span: pages freed. */
unsigned long dslab_shrink(void);
/* Objects of a class allocated and not yet released (magazine counters). */
long dslab_class_inuse(unsigned int class);
/* KUnit hooks (alloc.c). */
void dslab_test_mag_writer(bool busy);
unsigned int dslab_test_mag_count(unsigned int class);
int dslab_alloc_init(void);
void dslab_alloc_exit(void);

extern bool dslab_warn_bad_free;
extern unsigned long dslab_bad_free_caller;

/* === Debug mode (debug.c) === */

/* Bytes of red zone at the end of every small object in debug mode. */
#define DSLAB_REDZONE		8

extern bool dslab_debug;
DECLARE_STATIC_KEY_FALSE(dslab_debug_key);	/* dslab_debug, for fast paths */
void dslab_debug_alloc(const struct dslab_span *span, void *obj);
void dslab_debug_free(const struct dslab_span *span, void *obj);
void dslab_debug_freed(const struct dslab_span *span, const void *obj);
size_t dslab_debug_track_size(unsigned int class, unsigned int nelems);
bool dslab_debug_report(void);
void dslab_debug_print_tracks(const struct dslab_span *span, const void *obj);
/* Objects reported one by one when their owner goes, at most. */
#define DSLAB_LIVE_LISTED	16
void dslab_report_live(const char *who, struct dslab_span *span,
		       unsigned int idx, const struct dslab_type *type);
void dslab_debug_poison_span(struct dslab_span *span);
int dslab_debug_alloc_traces(struct seq_file *m);
void dslab_debug_init(void);

/* === KASAN (kasan.c, CONFIG_KASAN_GENERIC only) === */

#ifdef CONFIG_KASAN_GENERIC
/*
 * KASAN's shadow poisoner: exported (6.1 to 7.3) but declared only in
 * mm/kasan/kasan.h.  @addr and @size are granule-aligned; @value is
 * KASAN's shadow byte for them.
 */
void kasan_poison(const void *addr, size_t size, u8 value, bool init);

void dslab_kasan_span_new(const struct dslab_span *span);
void dslab_kasan_span_free(const struct dslab_span *span);
void dslab_kasan_alloc(const struct dslab_span *span, void *obj, size_t req);
void dslab_kasan_release(const struct dslab_span *span, void *obj);
#else
static inline void dslab_kasan_span_new(const struct dslab_span *span) { }
static inline void dslab_kasan_span_free(const struct dslab_span *span) { }
static inline void dslab_kasan_alloc(const struct dslab_span *span, void *obj,
				     size_t req) { }
static inline void dslab_kasan_release(const struct dslab_span *span,
				       void *obj) { }
#endif

/*
 * Whether every object is announced one by one, at allocation and at
 * release, to kmemleak or KASAN: the fast paths leave for their slow
 * paths when it is, decided at build time.
 */
#define DSLAB_OBJ_HOOKS	(IS_ENABLED(CONFIG_DEBUG_KMEMLEAK) || \
			 IS_ENABLED(CONFIG_KASAN_GENERIC))

/* === Statistics (stats.c) === */

enum dslab_stat_item {
	DSLAB_STAT_ALLOC,
	DSLAB_STAT_FREE,
	DSLAB_STAT_ALLOC_FAIL,
	DSLAB_STAT_BAD_FREE,
	DSLAB_STAT_DOUBLE_FREE,
	DSLAB_STAT_INTERIOR_FREE,
	DSLAB_STAT_FOREIGN_FREE,
	DSLAB_STAT_PAGES_PUT_BEHIND,
	DSLAB_STAT_DEBUG_CORRUPTION,
	DSLAB_STAT_DTOR_SET,
	DSLAB_STAT_DTOR_CLEARED,
	DSLAB_STAT_DTOR_REFUSED,
	DSLAB_STAT_CLEANUP_ADDED,
	DSLAB_STAT_CLEANUP_CANCELLED,
	DSLAB_STAT_OBJ_QUEUED,
	DSLAB_STAT_DTOR_RUN,
	DSLAB_STAT_CLEANUP_RUN,
	DSLAB_STAT_RCU_FREED,
	DSLAB_STAT_RCU_LIMBO,
	DSLAB_STAT_RUNNER_WAKEUPS,
	DSLAB_STAT_HANDOVERS,
	DSLAB_STAT_THROTTLED,
	DSLAB_STAT_SPANS_ALLOCATED,
	DSLAB_STAT_SPANS_FREED,
	DSLAB_STAT_REMOTE_FREES,
	DSLAB_NR_STATS,
};

extern const char *const dslab_stat_names[DSLAB_NR_STATS];

struct dslab_cpu_stats {
	u64 item[DSLAB_NR_STATS];
	/* large objects allocated - released on this CPU (alloc.c) */
	long inuse_large;
};

DECLARE_PER_CPU(struct dslab_cpu_stats, dslab_cpu_stats);

static inline void dslab_stat_inc(enum dslab_stat_item item)
{
	this_cpu_inc(dslab_cpu_stats.item[item]);
}

static inline void dslab_stat_add(enum dslab_stat_item item, u64 n)
{
	this_cpu_add(dslab_cpu_stats.item[item], n);
}

u64 dslab_stat_read(enum dslab_stat_item item);
long dslab_objects_inuse(void);
void dslab_stats_reset(void);

/* Pages held by dslab: spans, FinBlocks, per-object metadata excluded. */
extern atomic_long_t dslab_pages_held;

/* === Owner module pins (owner.c) === */

struct dslab_owner;

/* Pins of one owner, collected to be dropped together. */
struct dslab_owner_batch {
	struct dslab_owner *owner;
	unsigned long n;
};

struct dslab_owner *dslab_owner_pin(struct module *mod, gfp_t gfp);
void dslab_owner_unpin(struct dslab_owner *o, unsigned long n);
void dslab_owner_batch_flush(struct dslab_owner_batch *b);

/*
 * Drop one pin of @o (NULL: none) through @b: consecutive pins of one
 * owner go together at the next owner or dslab_owner_batch_flush().
 */
static inline void dslab_owner_batch_add(struct dslab_owner_batch *b,
					 struct dslab_owner *o)
{
	if (unlikely(b->owner != o)) {
		dslab_owner_batch_flush(b);
		b->owner = o;
	}
	b->n++;
}

bool dslab_owner_live(const struct dslab_owner *o);

/* What a module's unload dropped (dslab_owner_going()). */
struct dslab_forgotten {
	unsigned long dtors;		/* destructors on live objects */
	unsigned long cleanups;		/* cleanups on live objects */
	unsigned long types;		/* live objects of its types */
	const char *report;		/* the module's name, to list them */
	unsigned int listed;		/* listed, to DSLAB_LIVE_LISTED */
};

void dslab_owner_going(struct module *mod, bool report,
		       struct dslab_forgotten *f);

struct seq_file;
int dslab_owner_show(struct seq_file *m);
int dslab_owner_init(void);
void dslab_owner_stop(void);
void dslab_owner_exit(void);
/* KUnit hooks (owner.c). */
long dslab_test_owner_pins(struct module *mod);
void dslab_test_owner_going(struct module *mod, struct dslab_forgotten *f);

/* === Destructors and cleanups (dtor.c) === */

/* What a run record is, for the dslab_dtor_run tracepoint. */
enum dslab_special_kind {
	DSLAB_SPECIAL_DTOR,
	DSLAB_SPECIAL_CLEANUP,
};

/*
 * A cleanup attached to an object.  Allocated at registration, which also
 * reserves the FinBlock slot the object will need when it is freed
 * (dslab_finq_reserve()); the object's destructor needs no record (it
 * lives in struct dslab_objmeta).
 */
struct dslab_special {
	union {
		/* S on the object's list; the runner's once detached */
		struct hlist_node node;
		/* freed: dslab_cleanup_cancel() may still look at span */
		struct rcu_head rcu;
	};
	struct dslab_span *span;	/* I: the object's span */
	unsigned int idx;		/* I: the object's index in it */
	u32 id;				/* I: cleanup handle id */
	void (*fn)(void *arg);		/* I */
	void *arg;			/* I: cleanup argument */
	struct dslab_owner *owner;	/* I: pinned while attached/queued */
};

/* === The runner's instruments (watch.c) === */

/* A code address as its symbol, or "(gone)": never the address. */
void dslab_sym(char *buf, unsigned long addr, bool offset);

#define DSLAB_WATCH_SHIFT	10	/* the first bucket: below 1024 ns */
#define DSLAB_WATCH_BUCKETS	24	/* the last: 2^32 ns (4.3 s) and more */
#define DSLAB_WATCH_SAMPLE	16	/* one call in 16 is timed exactly */

/* One runner's: what it runs now, how long runs take, the longest. */
struct dslab_watch {
	const void *fn;			/* R: running now, or NULL */
	unsigned long start;		/* R: jiffies at its start */
	unsigned long calls;		/* R: functions called */
	unsigned long hist[DSLAB_WATCH_BUCKETS];	/* R: sampled run times */
	unsigned long slow;		/* R: runs of slow_dtor_ms or more */
	u64 t0;				/* runner only: a sampled call's clock */
	u64 slow_ns;			/* runner only: slow_dtor_ms, in ns */
	spinlock_t lock;		/* protects the W fields, a leaf */
	u64 longest_ns;			/* W (runner reads it unlocked) */
	unsigned long longest_at;	/* W: jiffies */
	char longest_sym[KSYM_SYMBOL_LEN];	/* W: its symbol */
};

extern unsigned int dslab_slow_dtor_ms;

void dslab_watch_init(struct dslab_watch *w);
void dslab_watch_begin(struct dslab_watch *w);
void dslab_watch_note(struct dslab_watch *w, const void *fn, int kind);
bool dslab_watch_reported(const void *fn, bool add);
void dslab_watch_sum(struct dslab_watch *sum);
void dslab_watch_show_running(struct seq_file *m, struct dslab_watch *w,
			      const char *state);
void dslab_watch_show(struct seq_file *m);

/*
 * Around each destructor or cleanup, the common case: note @fn and the
 * jiffy it starts in.  Every DSLAB_WATCH_SAMPLE-th call also reads
 * local_clock() before and after, for the histogram; a call that ends in
 * a later jiffy is measured in jiffies, which is enough to tell a slow
 * one.  dslab_watch_note() (watch.c) takes both rare cases.
 */
static __always_inline void dslab_watch_start(struct dslab_watch *w,
					      const void *fn)
{
	unsigned long calls = w->calls + 1;

	WRITE_ONCE(w->calls, calls);
	WRITE_ONCE(w->start, jiffies);
	/* The start before the function; pairs with dslab_watch_show(). */
	smp_store_release(&w->fn, fn);
	if (unlikely(!(calls % DSLAB_WATCH_SAMPLE)))
		w->t0 = local_clock();
}

static __always_inline void dslab_watch_stop(struct dslab_watch *w,
					     const void *fn, int kind)
{
	if (unlikely(!(w->calls % DSLAB_WATCH_SAMPLE) ||
		     time_after(jiffies, w->start)))
		dslab_watch_note(w, fn, kind);
	WRITE_ONCE(w->fn, NULL);
}

/* The free paths queue objects with dslab_dtor_on_free() (dtor.h). */
/* Runner: claim and run a FinBlock's records (finq.h); caller releases. */
struct dslab_finblock;
unsigned int dslab_dtor_run_claimed(struct dslab_finblock *blk, void **objs,
				    unsigned int max,
				    struct dslab_owner_batch *unpin,
				    struct dslab_watch *w);
/* Unload: drop the specials of a span's leaked objects without running. */
void dslab_dtor_forget_span(struct dslab_span *span);
/* A span descriptor is freed: its metadata with it. */
void dslab_dtor_span_free(struct dslab_span *span);
void dslab_dtor_forget_owner(struct dslab_owner *o, struct module *mod,
			     struct dslab_forgotten *f);
void dslab_dtor_exit(void);

/* === FinBlock queue and runner (finq.c) === */

extern int dslab_runner_nice;
extern unsigned int dslab_backlog_max;

struct dslab_finq_stats {
	unsigned long blocks_total;
	unsigned long blocks_free;
	unsigned long blocks_pending;
	unsigned long records_pending;
	unsigned long records_reserved;
	unsigned long largest_batch;
	u64 dtor_ns;			/* time spent running records */
	const char *runner_state;	/* "sleeping", "running", ... */
};

int dslab_finq_reserve(gfp_t gfp);
void dslab_finq_unreserve(void);
void dslab_finq_unreserve_n(unsigned long n);
/* dslab_finq_enqueue() (never fails, never allocates) is in finq.h. */
/* Plain object (no specials) freed through dslab_free_rcu(). */
void dslab_finq_enqueue_rcu_plain(struct dslab_span *span, unsigned int idx,
				  void *obj);
void dslab_finq_stats(struct dslab_finq_stats *st);
void dslab_finq_cpu_dead(unsigned int cpu);
unsigned long dslab_finq_trim(void);
bool dslab_in_runner(void);
extern bool dslab_handover_held;	/* KUnit only */
struct dslab_watch *dslab_runner_watch(unsigned int i);
struct dslab_watch *dslab_current_watch(void);
void dslab_runner_show(struct seq_file *m);
int dslab_finq_init(void);
void dslab_finq_exit(void);

/* === Fault injection (fault.c) === */

bool dslab_should_fail(gfp_t gfp, size_t size);
bool dslab_fault_all_failing(void);
unsigned long dslab_fault_fail_nth(unsigned int nth);
unsigned int dslab_fault_pending(void);
#define DSLAB_HAVE_FAULT_FAIL_ALL 1
void dslab_fault_fail_all(bool on);
void dslab_fault_debugfs_init(struct dentry *root);

/* === debugfs (debugfs.c) === */

void dslab_debugfs_init(void);
void dslab_debugfs_exit(void);

#endif /* _DSLAB_INTERNAL_H */
