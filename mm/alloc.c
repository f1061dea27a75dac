// SPDX-License-Identifier: GPL-2.0
/*
 * dslab allocation and free: the per-CPU layer and the public allocator.
 *
 * Each CPU has a magazine per size class, an array of free objects (the Go
 * runtime's mcache; SLUB's "sheaves" since 6.18 are the same idea).  The
 * common alloc pops from it and the common free pushes onto it, with no
 * shared lock and without disabling interrupts.  An empty magazine is
 * refilled with half a magazine from the class's central list (span.c), a
 * full one gives half back, so a CPU that frees objects another CPU
 * allocated (a remote free) only touches that class's central lock once per
 * half magazine.
 *
 * The magazine's object count shares a 64-bit word (state) with a
 * transaction id, as SLUB's per-CPU freelist shares one with its tid.  The
 * fast paths read the state, do their work on the array, and commit with
 * a this_cpu_cmpxchg() of the state (no lock prefix: it only has to be
 * atomic against this CPU); every change of a magazine moves its id on,
 * so an operation that was interrupted, preempted or migrated meanwhile
 * fails its commit and starts again.  Ids are distinct per CPU (the id is
 * the CPU number modulo DSLAB_MAG_CPUS), so a commit on another CPU than
 * the reads fails too.  The pop needs nothing else: it reads the state
 * and the top slot through one CPU's pointer and commits only if that CPU
 * is still the current one and its magazine unchanged.
 *
 * Writing a slot is different.  A push writes the slot above the top and
 * then commits; it runs with preemption disabled (a task migrated in
 * between would write into another CPU's array), but a push interrupted
 * between reading the state and writing would write to an index that an
 * interrupt's own push may have filled and committed meanwhile.  So
 * whatever writes slots (a push, the stocking of a refill) holds the
 * CPU's dslab_mag_writer flag, and an interrupt that finds the flag set
 * does not write the magazine: it gives the object to the central list
 * instead, as SLUB's sheaves fall back when their local_trylock() fails.
 * Pops, bulk pops and drains only read slots and lower the count, so they
 * need no flag: an interrupted push then fails its commit and writes
 * again at the new top.  Everything but the fast paths (refill, flush,
 * bulk, drain) holds this CPU's dslab_mag_lock and moves the id on too.
 *
 * PREEMPT_RT.  dslab_mag_lock is a local_lock_t: without PREEMPT_RT,
 * local_lock_irqsave() is local_irq_save() (with lockdep's view of a
 * lock), which keeps the fast paths, interrupts included, out of the
 * section.  On PREEMPT_RT it is a per-CPU sleeping lock that leaves
 * preemption on, so that the central lists' spinlock_t (also a sleeping
 * lock there) can be taken inside it; a task that preempted the holder
 * could then slip a fast-path transaction between the holder's plain
 * updates.  So there, as SLUB does (its USE_LOCKLESS_FAST_PATH()), the
 * fast paths take the lock too: every magazine access is a locked
 * section, and the writer flag is never found set.  PREEMPT_RT does not
 * allow dslab (or kmalloc) to be called from hard interrupt context or
 * with preemption or interrupts disabled.
 *
 * Every object has a "live" bit in its span, set at allocation and cleared
 * with test_and_clear_bit() at free.  The bit is what dslab_find_object()
 * and dslab_ksize() answer from, and the atomic clear is what detects a
 * double free (and lets one of two racing frees win).  Objects that carry
 * destructors or cleanups leave the free path through dtor.c and reach
 * dslab_release_objects() only after the runner has run them.
 *
 * Debug mode (module parameter "debug", debug.c) adds, like slub_debug=PZ,
 * a red zone to every small object and poisons free ones; here it only
 * sends the fast paths to their slow paths.
 *
 * NUMA (span.c has the lists per node).  On a machine with more than one
 * possible node (dslab_numa_key), a free checks the object's node
 * against the CPU's (numa_mem_id()): an object of another node goes
 * straight back to its own node's list, never into this CPU's magazine,
 * as SLUB gives a remote object back to its own slab.  So magazines hold
 * objects of their CPU's node, refills come from that node's list, and
 * an allocation takes local memory.  dslab_alloc_node() for another
 * node, and any allocation with __GFP_THISNODE, takes its object from
 * the node's list directly; an object off the magazine that turns out
 * remote (a refill fell back to another node under memory pressure) is
 * given back when __GFP_THISNODE asks for this node only.  On one node
 * the check is a static branch that is never taken.
 *
 * Memory cgroups (memcg.c).  An object charged to a cgroup lives in a
 * span of that cgroup's pool, whose objects never enter a magazine: the
 * free fast path sends span->no_mag (large and pool spans) to the slow
 * path with the one test that also sees a span's metadata (free_slow),
 * and the slow path gives the object home like a remote one.
 * __GFP_ACCOUNT is in the gfp mask that sends an allocation's finish to
 * its slow path, which in a charged cgroup trades the magazine's object
 * for one of the pool's.
 *
 * kmemleak and KASAN: an object is registered (unpoisoned) at allocation
 * and unregistered (poisoned) when its memory is released, not when it
 * is freed, so that whatever a queued object still points to (what its
 * destructor will release) is not reported as leaked, and the object
 * stays accessible to its destructor, while it waits for the runner
 * (kasan.c).
 *
 * The fast paths make no function call and build no stack frame: every
 * rare case (refill, debug, zeroing, blocking gfp, kmemleak or KASAN,
 * tracing, a bad free, destructors, RCU, large or cgroup-charged objects,
 * a full magazine)
 * leaves through a tail call; on the free side that callee restores
 * interrupts.
 *
 * Locking: magazines are per-CPU data, changed by cmpxchg transactions or
 * under dslab_mag_lock.  Inside it the slow free paths may take
 * class->lock (span.c) and, for an object with destructors,
 * span->special_lock (dtor.c, while a registration runs on its span) and
 * the FinBlock lock (finq.c, when a block fills); dslab.h has the order.
 * Queueing an object for the runner needs no lock of its own.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <kunit/visibility.h>
#include <linux/kmemleak.h>
#include <linux/local_lock.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include <trace/events/dslab.h>

#include "dslab.h"
#include "dtor.h"

/* === Data === */

#define DSLAB_MAG_MAX		128

/* One CPU's cache of free objects of one class. */
struct dslab_mag {
	u64 state;			/* M: count and transaction id, below */
	unsigned int cap;		/* I: dslab_mag_cap(class) */
	/*
	 * Objects of the class allocated less those released on this CPU,
	 * changed only with this_cpu operations; may be negative, and
	 * dslab_class_inuse() sums them.  Here, not in dslab_cpu_stats, so
	 * that the fast paths update it through the magazine pointer they
	 * hold, with no index to compute.
	 */
	long inuse;
	void *objs[];			/* M: [0, count): free objects */
};

/*
 * state: bits 0-15 the count, above them the transaction id, which is
 * congruent to the CPU number modulo DSLAB_MAG_CPUS and moves on by
 * DSLAB_MAG_CPUS at every change.
 */
#define DSLAB_MAG_COUNT_MASK	0xffffULL
#define DSLAB_MAG_CPUS		roundup_pow_of_two(CONFIG_NR_CPUS)
#define DSLAB_MAG_STEP		((u64)DSLAB_MAG_CPUS << 16)
static_assert(DSLAB_MAG_MAX <= DSLAB_MAG_COUNT_MASK);

/* Per class, per CPU: changed only on the owning CPU (see the header). */
static struct dslab_mag __percpu *dslab_mags[DSLAB_NR_CLASSES];

/* Objects of @class allocated (@n > 0) or released (@n < 0) on this CPU. */
static __always_inline void dslab_inuse_add(unsigned int class, long n)
{
	if (class == DSLAB_CLASS_LARGE)
		this_cpu_add(dslab_cpu_stats.inuse_large, n);
	else
		this_cpu_add(dslab_mags[class]->inuse, n);
}

/**
 * dslab_class_inuse() - objects of a class not free (live or queued)
 * @class: size class or DSLAB_CLASS_LARGE
 *
 * Context: Any context.
 * Return: the number of objects; never negative.
 */
long dslab_class_inuse(unsigned int class)
{
	long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu) {
		struct dslab_mag *mag;

		if (class == DSLAB_CLASS_LARGE) {
			/* data_race(): other CPUs count meanwhile: a snapshot */
			sum += data_race(per_cpu(dslab_cpu_stats, cpu).inuse_large);
			continue;
		}
		mag = per_cpu_ptr(dslab_mags[class], cpu);
		/* data_race(): as above */
		sum += data_race(mag->inuse);
	}
	return max(sum, 0L);
}
EXPORT_SYMBOL_NS_GPL(dslab_class_inuse, DSLAB_NS);

/* Per CPU: someone on this CPU is writing slots of its magazines. */
static DEFINE_PER_CPU(bool, dslab_mag_writer);

/* More than one possible node: frees check the object's node. */
static DEFINE_STATIC_KEY_FALSE(dslab_numa_key);

/* Is @span's memory on another node than this CPU's? */
static __always_inline bool dslab_remote(const struct dslab_span *span)
{
	return static_branch_unlikely(&dslab_numa_key) &&
	       span->node != numa_mem_id();
}

/*
 * The single-object fast paths test one static key for their rare
 * cases, not one per case; each key counts the reasons that hold:
 * debug mode (both), more than one node (the free's node check) and the
 * dslab_alloc or dslab_free tracepoint, which turns its key on and off
 * from its registration functions.
 */
static DEFINE_STATIC_KEY_FALSE(dslab_alloc_rare_key);
static DEFINE_STATIC_KEY_FALSE(dslab_free_rare_key);

int dslab_trace_alloc_reg(void)
{
	static_branch_inc(&dslab_alloc_rare_key);
	return 0;
}

void dslab_trace_alloc_unreg(void)
{
	static_branch_dec(&dslab_alloc_rare_key);
}

int dslab_trace_free_reg(void)
{
	static_branch_inc(&dslab_free_rare_key);
	return 0;
}

void dslab_trace_free_unreg(void)
{
	static_branch_dec(&dslab_free_rare_key);
}

/* Must this free take the slow path for debug mode, its node or tracing? */
static __always_inline bool dslab_free_rare(const struct dslab_span *span)
{
	return static_branch_unlikely(&dslab_free_rare_key) &&
	       (static_branch_unlikely(&dslab_debug_key) ||
		dslab_remote(span) || trace_dslab_free_enabled());
}

/* Per CPU: held by every change of its magazines but the fast paths'. */
static DEFINE_PER_CPU(local_lock_t, dslab_mag_lock) =
	INIT_LOCAL_LOCK(dslab_mag_lock);

/* The lockless fast paths, except on PREEMPT_RT (see the header). */
#define DSLAB_LOCKLESS_FAST_PATH()	(!IS_ENABLED(CONFIG_PREEMPT_RT))

static __always_inline void dslab_mag_lock_held(void)
{
	lockdep_assert_held(this_cpu_ptr(&dslab_mag_lock));
}

/* Smaller objects get deeper magazines: about 32 KiB per class at most. */
static unsigned int dslab_mag_cap(unsigned int class)
{
	unsigned int size = dslab_classes[class].size;

	if (size <= 256)
		return DSLAB_MAG_MAX;
	if (size <= 1024)
		return 64;
	if (size <= 4096)
		return 32;
	return 8;
}

/* === Internals: debug mode (debug.c) and zeroing === */

static inline size_t dslab_usable(const struct dslab_span *span)
{
	if (static_branch_unlikely(&dslab_debug_key) &&
	    span->class != DSLAB_CLASS_LARGE)
		return span->size - DSLAB_REDZONE;
	return span->size;
}

/* Debug checks and zeroing at allocation: off the fast path. */
static noinline void dslab_alloc_prepare(struct dslab_span *span, void *obj,
					 gfp_t gfp)
{
	size_t usable = dslab_usable(span);

	if (static_branch_unlikely(&dslab_debug_key) &&
	    span->class != DSLAB_CLASS_LARGE)
		dslab_debug_alloc(span, obj);
	if (gfp & __GFP_ZERO)
		memset(obj, 0, usable);
}

/*
 * The kernel's object trackers (DSLAB_OBJ_HOOKS): kmemleak registers an
 * object and KASAN unpoisons it when it is handed out for @req bytes...
 */
static __always_inline void dslab_hooks_alloc(const struct dslab_span *span,
					      void *obj, size_t req, gfp_t gfp)
{
	dslab_kasan_alloc(span, obj, req);
	kmemleak_alloc(obj, dslab_usable(span), 1, gfp);
}

/* ... and forget or poison it when its memory is released (see header). */
static __always_inline void dslab_hooks_release(const struct dslab_span *span,
						void *obj)
{
	kmemleak_free(obj);
	dslab_kasan_release(span, obj);
}

/* === Internals: the per-CPU layer === */

static __always_inline unsigned int dslab_mag_count(u64 state)
{
	return state & DSLAB_MAG_COUNT_MASK;
}

/* The state after a change that leaves @count objects. */
static __always_inline u64 dslab_mag_next(u64 state, unsigned int count)
{
	return ((state & ~DSLAB_MAG_COUNT_MASK) + DSLAB_MAG_STEP) | count;
}

/*
 * The same after a fast path's pop or push of one object: the count stays
 * within 0..cap, so one addition moves both, without carry or borrow
 * reaching the id.
 */
static __always_inline u64 dslab_mag_popped(u64 state)
{
	return state + DSLAB_MAG_STEP - 1;
}

static __always_inline u64 dslab_mag_pushed(u64 state)
{
	return state + DSLAB_MAG_STEP + 1;
}

/*
 * The count of this CPU's magazine, and a new one, under dslab_mag_lock
 * (or for an offline CPU's magazine).
 */
static unsigned int dslab_mag_get(struct dslab_mag *mag)
{
	return dslab_mag_count(READ_ONCE(mag->state));
}

static void dslab_mag_set(struct dslab_mag *mag, unsigned int count)
{
	WRITE_ONCE(mag->state, dslab_mag_next(READ_ONCE(mag->state), count));
}

/*
 * Become this CPU's magazine writer, with preemption off or under
 * dslab_mag_lock.  False when we interrupted the writer: leave its
 * magazines alone.  The flag is only ever read and written on its own
 * CPU, by code that cannot migrate, so program order is all the ordering
 * it needs.
 */
static __always_inline bool dslab_mag_write_begin(void)
{
	if (unlikely(__this_cpu_read(dslab_mag_writer)))
		return false;
	__this_cpu_write(dslab_mag_writer, true);
	barrier();
	return true;
}

static __always_inline void dslab_mag_write_end(void)
{
	barrier();
	__this_cpu_write(dslab_mag_writer, false);
}

static void dslab_mag_flush(unsigned int class, struct dslab_mag *mag)
{
	unsigned int count = dslab_mag_get(mag) - mag->cap / 2;

	dslab_mag_lock_held();
	dslab_mag_set(mag, count);
	dslab_central_put(&mag->objs[count], mag->cap / 2);
}

/* Push onto this CPU's magazine (or the central list), locked. */
static void dslab_mag_push_locked(unsigned int class, void *obj)
{
	struct dslab_mag *mag = this_cpu_ptr(dslab_mags[class]);
	unsigned int count;

	dslab_mag_lock_held();
	if (unlikely(!dslab_mag_write_begin())) {
		dslab_central_put(&obj, 1);
		return;
	}
	if (dslab_mag_get(mag) == mag->cap)
		dslab_mag_flush(class, mag);
	count = dslab_mag_get(mag);
	WRITE_ONCE(mag->objs[count], obj);
	dslab_mag_set(mag, count + 1);
	dslab_mag_write_end();
}

/*
 * A small object that is not for this CPU's magazines (another node's, or
 * a cgroup pool's) home to its own list, which has a lock of its own: no
 * magazine is touched.  The span may go with it.
 */
static void dslab_release_home(struct dslab_span *span, void *obj)
{
	unsigned int class = span->class;

	if (dslab_remote(span))
		dslab_stat_inc(DSLAB_STAT_REMOTE_FREES);
	dslab_central_put_run(span, &obj, 1);
	dslab_inuse_add(class, -1);
}

static noinline void dslab_release_slow(struct dslab_span *span, void *obj)
{
	unsigned int class = span->class;

	if (class == DSLAB_CLASS_LARGE) {
		dslab_inuse_add(DSLAB_CLASS_LARGE, -1);
		dslab_span_release(span);
		return;
	}
	if (static_branch_unlikely(&dslab_debug_key))
		dslab_debug_free(span, obj);
	if (span->no_mag || dslab_remote(span)) {
		dslab_release_home(span, obj);
		return;
	}
	dslab_mag_push_locked(class, obj);
	dslab_inuse_add(class, -1);
}

/* Put a no-longer-live object back in the local magazine, locked. */
static __always_inline void dslab_release_locked(struct dslab_span *span,
						 void *obj)
{
	dslab_mag_lock_held();
	dslab_hooks_release(span, obj);
	if (unlikely(span->no_mag ||
		     static_branch_unlikely(&dslab_debug_key) ||
		     dslab_remote(span))) {
		dslab_release_slow(span, obj);
		return;
	}
	dslab_mag_push_locked(span->class, obj);
	dslab_inuse_add(span->class, -1);
}

/**
 * dslab_release_objects() - return the memory of several dead objects
 * @objs: objects, no longer live, whose destructors have all returned
 * @n: how many; a class lock is held across a run of one class, so keep
 *	it small
 *
 * These are the runner's frees, and the runner seldom allocates, so they
 * skip its magazines: a run of objects of one class goes straight back to
 * the central list under one lock, where every CPU can reuse it and an
 * emptied span can go back to the page allocator.
 *
 * Context: Any context.
 */
void dslab_release_objects(void *const *objs, unsigned int n)
{
	unsigned int i, k, class;
	unsigned long flags;

	if (DSLAB_OBJ_HOOKS)
		for (i = 0; i < n; i++)
			dslab_hooks_release(dslab_own_span(objs[i]), objs[i]);
	for (i = 0; i < n; i += k) {
		struct dslab_span *span = dslab_own_span(objs[i]);

		class = span->class;
		if (unlikely(class == DSLAB_CLASS_LARGE ||
			     static_branch_unlikely(&dslab_debug_key))) {
			local_lock_irqsave(&dslab_mag_lock, flags);
			dslab_release_slow(span, objs[i]);
			local_unlock_irqrestore(&dslab_mag_lock, flags);
			k = 1;
			continue;
		}
		/* The span may be freed in there: @class is read before. */
		k = dslab_central_put_run(span, objs + i, n - i);
		dslab_inuse_add(class, -(long)k);
	}
}

/* Refill from the central list; returns one object, stocks the rest. */
static void *dslab_alloc_refill(unsigned int class, gfp_t gfp)
{
	void *batch[DSLAB_MAG_MAX / 2];
	unsigned int n, k = 0;
	struct dslab_mag *mag;
	unsigned long flags;
	void *obj;

	n = dslab_central_get(numa_mem_id(), class, batch,
			      dslab_mag_cap(class) / 2, gfp);
	if (!n)
		return NULL;
	obj = batch[--n];
	if (n) {
		unsigned int count;

		local_lock_irqsave(&dslab_mag_lock, flags);
		if (likely(dslab_mag_write_begin())) {
			mag = this_cpu_ptr(dslab_mags[class]);
			count = dslab_mag_get(mag);
			k = min(n, mag->cap - count);
			memcpy(&mag->objs[count], batch, k * sizeof(void *));
			dslab_mag_set(mag, count + k);
			dslab_mag_write_end();
		}
		local_unlock_irqrestore(&dslab_mag_lock, flags);
		if (k < n)
			dslab_central_put(batch + k, n - k);
	}
	return obj;
}

static void *dslab_alloc_node_slow(unsigned int class, size_t size,
				   gfp_t gfp, int node);

static void *dslab_alloc_finish_slow(struct dslab_span *span, unsigned int idx,
				     void *obj, size_t req, gfp_t gfp);

/*
 * An accounted allocation whose cgroup is charged: the magazine's @obj
 * (of @span) goes back, and the pool's @pobj, NULL if it had none, is
 * finished instead.
 */
static noinline void *dslab_alloc_swap(struct dslab_span *span, void *obj,
				       void *pobj, size_t req, gfp_t gfp)
{
	unsigned int class = span->class;
	unsigned long flags;

	local_lock_irqsave(&dslab_mag_lock, flags);
	dslab_mag_push_locked(class, obj);
	local_unlock_irqrestore(&dslab_mag_lock, flags);
	if (!pobj) {
		this_cpu_dec(dslab_cpu_stats.item[DSLAB_STAT_ALLOC]);
		dslab_inuse_add(class, -1);
		dslab_stat_inc(DSLAB_STAT_ALLOC_FAIL);
		return NULL;
	}
	/* The pool honoured the node, and the charge is made. */
	gfp &= ~(__GFP_ACCOUNT | __GFP_THISNODE);
	span = dslab_own_span(pobj);
	return dslab_alloc_finish_slow(span, dslab_own_index(span, pobj), pobj,
				       req, gfp);
}

/* The parts of an allocation that are off the fast path. */
static noinline void *dslab_alloc_finish_slow(struct dslab_span *span,
					      unsigned int idx, void *obj,
					      size_t req, gfp_t gfp)
{
	/* After the pop, so the fast path makes no call: same checks. */
	might_alloc(gfp);
	if (unlikely(dslab_memcg_wanted(gfp) && !span->no_mag)) {
		void *pobj = NULL;
		int ret = dslab_pool_alloc(span->class, NUMA_NO_NODE, gfp,
					   &pobj);

		/* -ENOENT: nothing to charge, and @obj will do. */
		if (ret != -ENOENT)
			return dslab_alloc_swap(span, obj, pobj, req, gfp);
	}
	if (unlikely((gfp & __GFP_THISNODE) && span->node != numa_mem_id() &&
		     span->class != DSLAB_CLASS_LARGE)) {
		/* Read first: giving the object back may free the span. */
		unsigned int class = span->class;

		/* A remote object off the magazine: back, and this node's. */
		dslab_central_put_run(span, &obj, 1);
		this_cpu_dec(dslab_cpu_stats.item[DSLAB_STAT_ALLOC]);
		dslab_inuse_add(class, -1);
		return dslab_alloc_node_slow(class, req, gfp, numa_mem_id());
	}
	if (static_branch_unlikely(&dslab_debug_key) || (gfp & __GFP_ZERO))
		dslab_alloc_prepare(span, obj, gfp);
	/* Publishes the object; pairs with test_and_clear_bit() at free. */
	set_bit(idx, span->live);
	dslab_hooks_alloc(span, obj, req, gfp);
	trace_dslab_alloc(obj, req, dslab_usable(span), gfp);
	return obj;
}

/* Flags that need dslab_alloc_finish_slow(); one test on the fast path. */
#define DSLAB_GFP_SLOW	(__GFP_ZERO | __GFP_DIRECT_RECLAIM | __GFP_THISNODE | \
			 (IS_ENABLED(CONFIG_MEMCG) ? __GFP_ACCOUNT : 0))

/*
 * Everything an allocation does once it owns @obj.  The common case
 * (no debug, no zeroing, no kmemleak or KASAN, tracing off) makes no
 * call, and every other case leaves through a tail call, so the fast
 * path needs no stack frame.
 */
static __always_inline void *dslab_alloc_finish(void *obj, size_t req,
						gfp_t gfp)
{
	struct dslab_span *span = dslab_own_span(obj);
	unsigned int idx = dslab_own_index(span, obj);

	/* Debug mode and tracing: dslab_alloc_rare_key. */
	if (unlikely(static_branch_unlikely(&dslab_alloc_rare_key) ||
		     (gfp & DSLAB_GFP_SLOW) || DSLAB_OBJ_HOOKS))
		return dslab_alloc_finish_slow(span, idx, obj, req, gfp);
	/* Publishes the object; pairs with test_and_clear_bit() at free. */
	set_bit(idx, span->live);
	return obj;
}

static noinline void *dslab_alloc_slow(unsigned int class, size_t size,
				       gfp_t gfp)
{
	void *obj;

	might_alloc(gfp);
	obj = dslab_alloc_refill(class, gfp);

	if (unlikely(!obj)) {
		dslab_stat_inc(DSLAB_STAT_ALLOC_FAIL);
		return NULL;
	}
	this_cpu_inc(dslab_cpu_stats.item[DSLAB_STAT_ALLOC]);
	dslab_inuse_add(class, 1);
	return dslab_alloc_finish(obj, size, gfp);
}

/*
 * An object of @class from @node's list, past the magazine: another
 * node's object, or one that must be on this node (__GFP_THISNODE); from
 * the cgroup's pool when it is to be charged.
 */
static noinline void *dslab_alloc_node_slow(unsigned int class, size_t size,
					    gfp_t gfp, int node)
{
	int ret = -ENOENT;
	void *obj;

	might_alloc(gfp);
	if (dslab_memcg_wanted(gfp))
		ret = dslab_pool_alloc(class, node, gfp, &obj);
	if (ret == -ENOMEM ||
	    (ret && !dslab_central_get(node, class, &obj, 1, gfp))) {
		dslab_stat_inc(DSLAB_STAT_ALLOC_FAIL);
		return NULL;
	}
	this_cpu_inc(dslab_cpu_stats.item[DSLAB_STAT_ALLOC]);
	dslab_inuse_add(class, 1);
	/* Node and charge are done: the finish need not look at them. */
	return dslab_alloc_finish(obj, size,
				  gfp & ~(__GFP_THISNODE | __GFP_ACCOUNT));
}

static unsigned int dslab_mag_take(unsigned int class, void **objs,
				   unsigned int n, bool publish);

/*
 * The fast path: a magazine pop, one cmpxchg transaction (see header);
 * on PREEMPT_RT a pop under dslab_mag_lock.
 */
static __always_inline void *dslab_alloc_fast(unsigned int class, size_t size,
					      gfp_t gfp)
{
	struct dslab_mag __percpu *pmag = dslab_mags[class];
	struct dslab_mag *mag;
	unsigned int count;
	void *obj;
	u64 old;

	if (!DSLAB_LOCKLESS_FAST_PATH()) {
		if (unlikely(!dslab_mag_take(class, &obj, 1, false)))
			return dslab_alloc_slow(class, size, gfp);
		return dslab_alloc_finish(obj, size, gfp);
	}
	/* might_alloc() runs in dslab_alloc_finish_slow() for blocking gfp. */
	do {
		/*
		 * Both reads through one CPU's pointer: the commit succeeds
		 * only on that CPU, with its magazine unchanged.  Another
		 * CPU may be changing what we read meanwhile; then the
		 * commit fails and the value is dropped.
		 */
		mag = raw_cpu_ptr(pmag);
		/* data_race(): may be another CPU's, checked by the commit */
		old = data_race(READ_ONCE(mag->state));
		count = dslab_mag_count(old);
		if (unlikely(!count))
			return dslab_alloc_slow(class, size, gfp);
		barrier();
		/* data_race(): as above */
		obj = data_race(READ_ONCE(mag->objs[count - 1]));
	} while (unlikely(this_cpu_cmpxchg(pmag->state, old,
					   dslab_mag_popped(old)) != old));
	this_cpu_inc(dslab_cpu_stats.item[DSLAB_STAT_ALLOC]);
	/* The magazine's counter: pmag is at hand, no index to compute. */
	this_cpu_inc(pmag->inuse);
	return dslab_alloc_finish(obj, size, gfp);
}

static noinline void *dslab_alloc_large(size_t size, gfp_t gfp, int node)
{
	struct dslab_span *span = NULL;

	might_alloc(gfp);
	/* As kmalloc: the page allocator's largest block is the limit. */
	if (likely(size <= KMALLOC_MAX_SIZE))
		span = dslab_span_new(DSLAB_CLASS_LARGE, size, gfp, node);
	if (!span) {
		dslab_stat_inc(DSLAB_STAT_ALLOC_FAIL);
		return NULL;
	}
	this_cpu_inc(dslab_cpu_stats.item[DSLAB_STAT_ALLOC]);
	dslab_inuse_add(DSLAB_CLASS_LARGE, 1);
	return dslab_alloc_finish(span->base, size, gfp);
}

/*
 * The class of a request, with room for the debug red zone, in *@classp;
 * false for a large one, and for 0 (which the caller tells apart off the
 * fast path).  Requests above KMALLOC_MAX_SIZE are refused by
 * dslab_alloc_large(), and checked first so that adding the red zone
 * cannot wrap around.
 */
static __always_inline bool dslab_request_small(size_t size,
						unsigned int *classp)
{
	if (static_branch_unlikely(&dslab_debug_key)) {
		if (unlikely(!size || size > KMALLOC_MAX_SIZE))
			return false;
		size += DSLAB_REDZONE;
	}
	return dslab_small_class(size, classp);
}

enum dslab_bad_free {
	DSLAB_FREE_OK,
	DSLAB_FREE_FOREIGN,
	DSLAB_FREE_INTERIOR,
	DSLAB_FREE_DOUBLE,
};

/*
 * A bad free is a caller's bug, never a user's: the first one WARNs (its
 * stack trace is the caller's), unless warn_bad_free=0; every one is
 * counted and reported, rate-limited, naming the caller.
 */
bool dslab_warn_bad_free = true;
EXPORT_SYMBOL_IF_KUNIT(dslab_warn_bad_free);
/* The caller of the last bad free, for the KUnit suites. */
unsigned long dslab_bad_free_caller;
EXPORT_SYMBOL_IF_KUNIT(dslab_bad_free_caller);

/*
 * Report a bad free by @caller.  Called from the free's section, an RCU
 * reader, so @span (when not NULL) is still safe to read.
 */
static noinline void dslab_report_bad_free(enum dslab_bad_free why,
					   const void *p,
					   const struct dslab_span *span,
					   unsigned long caller)
{
	static const char *const what[] = {
		[DSLAB_FREE_FOREIGN] = "not a dslab object",
		[DSLAB_FREE_INTERIOR] = "interior pointer",
		[DSLAB_FREE_DOUBLE] = "double free (object not live)",
	};
	static const enum dslab_stat_item item[] = {
		[DSLAB_FREE_FOREIGN] = DSLAB_STAT_FOREIGN_FREE,
		[DSLAB_FREE_INTERIOR] = DSLAB_STAT_INTERIOR_FREE,
		[DSLAB_FREE_DOUBLE] = DSLAB_STAT_DOUBLE_FREE,
	};

	unsigned long off;
	unsigned int idx;

	dslab_stat_inc(DSLAB_STAT_BAD_FREE);
	dslab_stat_inc(item[why]);
	WRITE_ONCE(dslab_bad_free_caller, caller);
	WARN_ONCE(READ_ONCE(dslab_warn_bad_free),
		  "dslab: bad free of %p by %pS: %s\n", p, (void *)caller,
		  what[why]);
	if (!dslab_debug_report())
		return;
	if (!span) {
		pr_err("bad free of %p by %pS: %s%s\n", p, (void *)caller,
		       what[why], why == DSLAB_FREE_FOREIGN ?
		       " (kmalloc memory goes to kfree())" : "");
		return;
	}
	idx = dslab_span_locate(span, p, &off);
	if (idx >= span->nelems || off >= span->size) {
		pr_err("bad free of %p by %pS: %s (class %u, %u bytes, past the last object)\n",
		       p, (void *)caller, what[why], span->class, span->size);
		return;
	}
	pr_err("bad free of %p by %pS: %s (class %u, %u bytes, object %p, offset %lu)\n",
	       p, (void *)caller, what[why], span->class, span->size,
	       p - off, off);
	/* Debug mode: where the object was last allocated and freed. */
	dslab_debug_print_tracks(span, p - off);
}

/*
 * Is @p a live object's start?  Fills @spanp and @idxp; on a bad free
 * @spanp is the span found (or NULL), for the report.  The caller's
 * section (preemption off, or dslab_mag_lock, whose spinlock_t is an RCU
 * reader on PREEMPT_RT) keeps a span descriptor valid even for a bogus
 * pointer into a span being freed.
 */
static __always_inline enum dslab_bad_free
dslab_free_check(const void *p, struct dslab_span **spanp, unsigned int *idxp)
{
	struct dslab_span *span = dslab_span_probe(p);
	unsigned long off;
	unsigned int idx;

	*spanp = span;
	/* dslab_no_span's offset is the address, never 0 here (pagemap.c). */
	idx = dslab_span_locate(span, p, &off);
	if (unlikely(off)) {
		if (span != &dslab_no_span)
			return DSLAB_FREE_INTERIOR;
		*spanp = NULL;
		return DSLAB_FREE_FOREIGN;
	}
	/*
	 * Pairs with set_bit() at allocation; one of two racing frees wins.
	 * The tail's index, nelems, has a bit that is always clear (struct
	 * dslab_span): no compare before, a reclassification after.
	 */
	if (unlikely(!test_and_clear_bit(idx, span->live)))
		return idx < span->nelems ? DSLAB_FREE_DOUBLE :
					    DSLAB_FREE_INTERIOR;
	*idxp = idx;
	return DSLAB_FREE_OK;
}

/*
 * What a free does first once it owns the dead object, with preemption
 * off or under dslab_mag_lock: queue it for the runner if it has to wait
 * (for its destructors and cleanups, or a grace period).  Returns false
 * when the caller releases it.
 * @dtor_inline: queue an object with a destructor without a call.  The
 * bulk free does not: inlined into its loop, that path slows every bulk
 * free (Documentation/benchmarks.rst, "History").
 */
static __always_inline bool dslab_free_queue(struct dslab_span *span,
					     unsigned int idx, void *obj,
					     bool rcu, bool dtor_inline)
{
	this_cpu_inc(dslab_cpu_stats.item[DSLAB_STAT_FREE]);
	trace_dslab_free(obj);
	if (static_branch_unlikely(&dslab_debug_key))
		dslab_debug_freed(span, obj);
	if (unlikely(READ_ONCE(span->meta)) &&
	    (dtor_inline ? dslab_dtor_on_free(span, idx, obj, rcu) :
	     dslab_dtor_on_free_slow(span, idx, obj, rcu)))
		return true;
	if (unlikely(rcu)) {
		dslab_finq_enqueue_rcu_plain(span, idx, obj);
		return true;
	}
	return false;
}

/*
 * A whole free under dslab_mag_lock: the bulk free's, which keeps the
 * lock across several objects, and every free on PREEMPT_RT.
 */
static __always_inline void dslab_free_locked(const void *p, bool rcu,
					      bool dtor_inline,
					      unsigned long caller)
{
	struct dslab_span *span;
	enum dslab_bad_free bad;
	unsigned int idx;

	dslab_mag_lock_held();
	bad = dslab_free_check(p, &span, &idx);
	if (unlikely(bad)) {
		dslab_report_bad_free(bad, p, span, caller);
		return;
	}
	if (!dslab_free_queue(span, idx, (void *)p, rcu, dtor_inline))
		dslab_release_locked(span, (void *)p);
}

/* Every free on PREEMPT_RT (see the header). */
static noinline void dslab_free_rt(const void *p, bool rcu,
				   unsigned long caller)
{
	unsigned long flags;

	local_lock_irqsave(&dslab_mag_lock, flags);
	dslab_free_locked(p, rcu, true, caller);
	local_unlock_irqrestore(&dslab_mag_lock, flags);
}

/*
 * Off the single-object fast path.  Each is reached by a tail call with
 * preemption still off and enables it itself, so that the fast path below
 * makes no call and needs no stack frame.
 */
static noinline void dslab_free_bad(enum dslab_bad_free bad, const void *p,
				    const struct dslab_span *span,
				    unsigned long caller)
{
	dslab_report_bad_free(bad, p, span, caller);
	preempt_enable();
}

static noinline void dslab_free_slow(struct dslab_span *span, unsigned int idx,
				     void *obj, bool rcu)
{
	unsigned long flags;

	if (dslab_free_queue(span, idx, obj, rcu, true)) {
		preempt_enable();
		return;
	}
	/*
	 * An object of another node or of a cgroup pool needs no magazine,
	 * so no dslab_mag_lock.
	 */
	if ((span->pool || dslab_remote(span)) &&
	    span->class != DSLAB_CLASS_LARGE &&
	    !static_branch_unlikely(&dslab_debug_key)) {
		dslab_hooks_release(span, obj);
		dslab_release_home(span, obj);
	} else {
		local_lock_irqsave(&dslab_mag_lock, flags);
		dslab_release_locked(span, obj);
		local_unlock_irqrestore(&dslab_mag_lock, flags);
	}
	preempt_enable();
}

static noinline void dslab_free_flush(unsigned int class, void *obj)
{
	unsigned long flags;

	local_lock_irqsave(&dslab_mag_lock, flags);
	dslab_mag_push_locked(class, obj);
	this_cpu_inc(dslab_cpu_stats.item[DSLAB_STAT_FREE]);
	dslab_inuse_add(class, -1);
	local_unlock_irqrestore(&dslab_mag_lock, flags);
	preempt_enable();
}

static __always_inline void dslab_free_common(const void *p, bool rcu)
{
	struct dslab_mag __percpu *pmag;
	struct dslab_span *span;
	enum dslab_bad_free bad;
	struct dslab_mag *mag;
	unsigned int idx, count;
	u64 old;

	if (!DSLAB_LOCKLESS_FAST_PATH()) {
		dslab_free_rt(p, rcu, _RET_IP_);
		return;
	}
	/* An RCU reader for the span, and on this CPU's magazine. */
	preempt_disable();
	bad = dslab_free_check(p, &span, &idx);
	if (unlikely(bad)) {
		dslab_free_bad(bad, p, span, _RET_IP_);
		return;
	}
	if (unlikely(rcu || READ_ONCE(span->free_slow) ||
		     dslab_free_rare(span) || DSLAB_OBJ_HOOKS)) {
		dslab_free_slow(span, idx, (void *)p, rcu);
		return;
	}
	/* Interrupting this CPU's writer: the flush path goes around it. */
	if (unlikely(!dslab_mag_write_begin())) {
		dslab_free_flush(span->class, (void *)p);
		return;
	}
	pmag = dslab_mags[span->class];
	mag = this_cpu_ptr(pmag);
	do {
		old = READ_ONCE(mag->state);
		count = dslab_mag_count(old);
		if (unlikely(count == mag->cap)) {
			dslab_mag_write_end();
			dslab_free_flush(span->class, (void *)p);
			return;
		}
		/*
		 * Above the top.  Only a pop (or a drain) can interrupt us
		 * here, and it leaves this slot above the top; our commit then
		 * fails and we write again at the new top.
		 */
		WRITE_ONCE(mag->objs[count], (void *)p);
	} while (unlikely(this_cpu_cmpxchg(pmag->state, old,
					   dslab_mag_pushed(old)) != old));
	dslab_mag_write_end();
	this_cpu_inc(dslab_cpu_stats.item[DSLAB_STAT_FREE]);
	this_cpu_dec(pmag->inuse);
	preempt_enable();
}

/*
 * === Internals: bulk ===
 *
 * A bulk call works in runs: consecutive objects of one span whose live
 * bits share one bitmap word.  A run's bits change with one atomic
 * operation on that word, and the loop that finds the run also copies
 * it, out of the magazine or into it, so the per-object work is a load,
 * a store, an address compare and the index arithmetic.  Objects come
 * back out of a magazine in the order they went in, mostly a span's free
 * list order, so runs are long.  Anything that needs one object's
 * attention (debug mode, tracing, destructors, another node, large
 * objects, a bad free, a full magazine) goes through the single-object
 * paths; zeroing, kmemleak and KASAN are done object by object after a
 * run.
 */

/*
 * How many objects from @objs on (at least the first, of index @first)
 * are @span's with their live bits in the word of @first's; their bits
 * in *@maskp, and the objects copied to @dst.  With @check (a free), an
 * interior pointer or an object already in the run ends it too.  A run's
 * objects lie in one range of the span, so each is an offset compare and
 * a division by the object size (Go's divMagic, exact inside a span).
 */
static __always_inline unsigned int
dslab_bulk_run(const struct dslab_span *span, void *const *objs,
	       unsigned int n, unsigned int first, unsigned long *maskp,
	       void **dst, bool check)
{
	unsigned int size = span->size, magic = span->div_magic;
	unsigned long lo = (unsigned long)(first & ~(BITS_PER_LONG - 1)) * size;
	unsigned long len = min((unsigned long)span->nelems * size - lo,
				(unsigned long)BITS_PER_LONG * size);
	const void *start = span->base + lo;
	unsigned long mask = BIT_MASK(first);
	unsigned int j;

	dst[0] = objs[0];
	for (j = 1; j < n; j++) {
		void *obj = objs[j];
		unsigned long off = obj - start;
		unsigned int bit = (off * magic) >> 32;

		if (off >= len)
			break;
		if (check && ((unsigned long)bit * size != off ||
			      (mask & BIT(bit))))
			break;
		mask |= BIT(bit);
		dst[j] = obj;
	}
	*maskp = mask;
	return j;
}

/*
 * Publish the @n objects at @src as dslab_alloc_finish() does one at a
 * time, run by run, copying them to @dst (which may be @src).
 */
static __always_inline void dslab_bulk_publish(void *const *src, void **dst,
					       unsigned int n)
{
	unsigned int i, k;

	for (i = 0; i < n; i += k) {
		struct dslab_span *span = dslab_own_span(src[i]);
		unsigned int idx = dslab_own_index(span, src[i]);
		unsigned long mask;

		k = dslab_bulk_run(span, src + i, n - i, idx, &mask, dst + i,
				   false);
		/* Publishes the run; pairs with test_and_clear_bit() at free. */
		set_mask_bits(&span->live[BIT_WORD(idx)], 0, mask);
	}
}

/*
 * Take up to @n objects off this CPU's magazine of @class into @objs in
 * one locked section, counted as allocated; with @publish, also marked
 * live, run by run (the bulk allocation's), else left to
 * dslab_alloc_finish().  Returns how many.
 */
static unsigned int dslab_mag_take(unsigned int class, void **objs,
				   unsigned int n, bool publish)
{
	struct dslab_mag *mag;
	unsigned long flags;
	unsigned int count;

	local_lock_irqsave(&dslab_mag_lock, flags);
	mag = this_cpu_ptr(dslab_mags[class]);
	count = dslab_mag_get(mag);
	n = min(n, count);
	if (publish)
		dslab_bulk_publish(&mag->objs[count - n], objs, n);
	else
		memcpy(objs, &mag->objs[count - n], n * sizeof(void *));
	dslab_mag_set(mag, count - n);
	local_unlock_irqrestore(&dslab_mag_lock, flags);
	this_cpu_add(dslab_cpu_stats.item[DSLAB_STAT_ALLOC], n);
	dslab_inuse_add(class, n);
	return n;
}

/*
 * What follows the publishing of @n bulk objects of @class, asked for
 * @req bytes each: zeroing, and the object trackers.
 */
static __always_inline void dslab_bulk_prepare(void *const *objs,
					       unsigned int n, size_t req,
					       unsigned int class, gfp_t gfp)
{
	unsigned int size = dslab_classes[class].size, i;

	if (likely(!(gfp & __GFP_ZERO) && !DSLAB_OBJ_HOOKS))
		return;
	if (gfp & __GFP_ZERO)
		for (i = 0; i < n; i++)
			memset(objs[i], 0, size);
	if (DSLAB_OBJ_HOOKS)
		for (i = 0; i < n; i++)
			dslab_hooks_alloc(dslab_own_span(objs[i]), objs[i],
					  req, gfp);
}

/*
 * Free a run whose @n objects dslab_bulk_run() copied above the top of
 * @mag (at @count), @mask their bits in @span's live word @word.  All
 * were live, normally, and the run joins the magazine; an object that
 * was not is a double free, reported and left out.  Returns false, with
 * the magazine untouched and the word's bits before the clear in *@oldp,
 * when a registration has published the span's metadata meanwhile: the
 * run's objects then go the single free's way (dslab_free_run_meta()).
 */
static bool dslab_free_run(struct dslab_span *span, struct dslab_mag *mag,
			   unsigned int count, unsigned int word,
			   unsigned long mask, unsigned int n,
			   unsigned long caller, unsigned long *oldp)
{
	void **slots = &mag->objs[count];
	unsigned int k, kept = 0;
	unsigned long old;

	/* Pairs with set_bit() at allocation; one of two racing frees wins. */
	old = set_mask_bits(&span->live[word], mask, 0);
	/*
	 * The caller saw no metadata before the bits were cleared; the
	 * store-buffering pair with a registration (design.rst) needs the
	 * read after the clear, which set_mask_bits() orders fully.
	 */
	if (unlikely(READ_ONCE(span->free_slow))) {
		*oldp = old;
		return false;
	}
	this_cpu_add(dslab_cpu_stats.item[DSLAB_STAT_FREE], n);
	if (likely((old & mask) == mask)) {
		if (DSLAB_OBJ_HOOKS)
			for (k = 0; k < n; k++)
				dslab_hooks_release(span, slots[k]);
		kept = n;
	} else {
		for (k = 0; k < n; k++) {
			void *obj = slots[k];

			if (!(old & BIT_MASK(dslab_own_index(span, obj)))) {
				this_cpu_dec(dslab_cpu_stats.item[DSLAB_STAT_FREE]);
				dslab_report_bad_free(DSLAB_FREE_DOUBLE, obj,
						      span, caller);
				continue;
			}
			dslab_hooks_release(span, obj);
			slots[kept++] = obj;
		}
	}
	dslab_inuse_add(span->class, -(long)kept);
	dslab_mag_set(mag, count + kept);
	return true;
}

/*
 * The rest of the single free for @n objects of @span whose live bits
 * dslab_free_run() cleared (@old: the word before), after a registration
 * published the span's metadata: queue what was attached, release the
 * others.  Under dslab_mag_lock, outside the magazine's writer section.
 */
static void dslab_free_run_meta(struct dslab_span *span, void **objs,
				unsigned int n, unsigned long old,
				unsigned long caller)
{
	unsigned int k, idx;

	for (k = 0; k < n; k++) {
		idx = dslab_own_index(span, objs[k]);
		if (!(old & BIT_MASK(idx))) {
			dslab_report_bad_free(DSLAB_FREE_DOUBLE, objs[k], span,
					      caller);
			continue;
		}
		if (!dslab_free_queue(span, idx, objs[k], false, false))
			dslab_release_locked(span, objs[k]);
	}
}

/* Up to @nr objects of dslab_free_bulk(), under dslab_mag_lock. */
static void dslab_free_bulk_locked(void **objs, unsigned int nr,
				   unsigned long caller)
{
	unsigned int i, k, idx, count;
	unsigned long mask, off, old;
	struct dslab_span *span;
	struct dslab_mag *mag;

	dslab_mag_lock_held();
	for (i = 0; i < nr; i += k) {
		k = 1;
		if (unlikely(ZERO_OR_NULL_PTR(objs[i])))
			continue;
		/* dslab_no_span has no_mag set, like a large span. */
		span = dslab_span_probe(objs[i]);
		if (unlikely(READ_ONCE(span->free_slow) || dslab_remote(span)))
			goto one;
		idx = dslab_span_locate(span, objs[i], &off);
		if (unlikely(off || idx >= span->nelems))
			goto one;
		mag = this_cpu_ptr(dslab_mags[span->class]);
		count = dslab_mag_get(mag);
		/* A full magazine: the single path flushes half of it. */
		if (unlikely(count == mag->cap || !dslab_mag_write_begin()))
			goto one;
		k = dslab_bulk_run(span, objs + i, min(nr - i, mag->cap - count),
				   idx, &mask, &mag->objs[count], true);
		if (likely(dslab_free_run(span, mag, count, BIT_WORD(idx), mask,
					  k, caller, &old))) {
			dslab_mag_write_end();
			continue;
		}
		dslab_mag_write_end();
		dslab_free_run_meta(span, objs + i, k, old, caller);
		continue;
one:
		dslab_free_locked(objs[i], false, false, caller);
	}
}

/* === Public interface === */

/**
 * dslab_alloc() - allocate an object
 * @size: bytes wanted; above 32 KiB the object gets a span of its own,
 *	up to KMALLOC_MAX_SIZE (4 MiB on x86-64 with 6.1 and 6.12)
 * @flags: GFP flags: GFP_KERNEL may sleep, GFP_ATOMIC works from any
 *	context including hardirq (not on PREEMPT_RT, like kmalloc()),
 *	__GFP_ZERO zeroes the object
 *
 * Objects are at least 8-byte aligned; power-of-two sizes up to PAGE_SIZE
 * are naturally aligned (not in debug mode, which adds a red zone).
 *
 * Context: Any context with GFP_ATOMIC or GFP_NOWAIT; process context
 * with GFP_KERNEL.  On PREEMPT_RT, as kmalloc(): not in hard interrupt
 * context or with preemption or interrupts disabled.
 * Return: the object, ZERO_SIZE_PTR for @size 0, or NULL.
 */
void *dslab_alloc(size_t size, gfp_t flags)
{
	unsigned int class;

	/* Size 0 is not small either: one test on the fast path. */
	if (unlikely(!dslab_request_small(size, &class)))
		return size ? dslab_alloc_large(size, flags, NUMA_NO_NODE) :
			      ZERO_SIZE_PTR;
	return dslab_alloc_fast(class, size, flags);
}
EXPORT_SYMBOL_GPL(dslab_alloc);

/**
 * dslab_alloc_node() - allocate an object on a memory node
 * @size: as for dslab_alloc()
 * @flags: as for dslab_alloc(); with __GFP_THISNODE, the object is on
 *	@node or the allocation fails
 * @node: the node, or NUMA_NO_NODE for the calling CPU's (dslab_alloc())
 *
 * As kmalloc_node(): without __GFP_THISNODE, @node is a preference, and
 * when it has no memory to spare the object may come from the nearest
 * node that has.  An object of another node than the caller's does not
 * go through the per-CPU magazines: it comes from @node's own lists,
 * and goes back there when it is freed, wherever that happens.
 *
 * Context: As for dslab_alloc().
 * Return: the object, ZERO_SIZE_PTR for @size 0, or NULL; NULL also,
 * changing nothing, when @node is neither NUMA_NO_NODE nor an online
 * node.
 */
void *dslab_alloc_node(size_t size, gfp_t flags, int node)
{
	unsigned int class;

	if (node == NUMA_NO_NODE)
		return dslab_alloc(size, flags);
	if (unlikely(node < 0 || node >= nr_node_ids || !node_online(node)))
		return NULL;
	if (unlikely(!size))
		return ZERO_SIZE_PTR;
	if (unlikely(!dslab_request_small(size, &class)))
		return dslab_alloc_large(size, flags, node);
	if (node == numa_mem_id() && !(flags & __GFP_THISNODE))
		return dslab_alloc_fast(class, size, flags);
	return dslab_alloc_node_slow(class, size, flags, node);
}
EXPORT_SYMBOL_GPL(dslab_alloc_node);

/**
 * dslab_free() - free an object
 * @obj: an object from dslab_alloc() or dslab_new(), NULL or ZERO_SIZE_PTR
 *
 * An object with a destructor or cleanups is queued for the runner and
 * its memory is reused only after they have returned; this never
 * allocates and never fails.  A double free, an interior pointer or a
 * pointer dslab did not allocate (kmalloc's included) is a bug of the
 * caller: the first one WARNs (module parameter warn_bad_free), each is
 * reported rate-limited with its caller and counted, and otherwise
 * ignored.  Never pass a dslab object to kfree().
 *
 * Context: Any context but NMI (like kfree()), hardirq included; on
 * PREEMPT_RT, as kfree(): not in hard interrupt context or with
 * preemption or interrupts disabled.
 */
void dslab_free(const void *obj)
{
	if (unlikely(ZERO_OR_NULL_PTR(obj)))
		return;
	dslab_free_common(obj, false);
}
EXPORT_SYMBOL_GPL(dslab_free);

/**
 * dslab_free_rcu() - free an object after an RCU grace period
 * @obj: as for dslab_free()
 *
 * Like dslab_free(), but destructors, cleanups and the reuse of the
 * memory wait for a grace period that starts after this call, so readers
 * inside rcu_read_lock() may keep using @obj.  dslab writes nothing into
 * @obj before that grace period ends, not even a list link (an
 * &struct hlist_node at offset 0 stays as readers left it), and never
 * allocates.  One grace period covers a whole batch.  The object is no
 * longer live for its owner at once.
 *
 * Context: Any context but NMI (like kfree()), hardirq included; on
 * PREEMPT_RT, as kfree(): not in hard interrupt context or with
 * preemption or interrupts disabled.
 */
void dslab_free_rcu(const void *obj)
{
	if (unlikely(ZERO_OR_NULL_PTR(obj)))
		return;
	dslab_free_common(obj, true);
}
EXPORT_SYMBOL_GPL(dslab_free_rcu);

/**
 * dslab_alloc_bulk() - allocate several objects of one size
 * @size: bytes per object
 * @flags: GFP flags, as for dslab_alloc()
 * @nr: number of objects
 * @objs: filled with @nr objects
 *
 * Context: As for dslab_alloc().
 * Return: @nr, or 0 having allocated nothing.
 */
int dslab_alloc_bulk(size_t size, gfp_t flags, size_t nr, void **objs)
{
	unsigned int class;
	bool one_by_one;
	size_t i = 0;

	if (unlikely(!nr || nr > INT_MAX))
		return 0;
	if (unlikely(!size)) {
		for (i = 0; i < nr; i++)
			objs[i] = ZERO_SIZE_PTR;
		return nr;
	}
	if (unlikely(!dslab_request_small(size, &class))) {
		for (i = 0; i < nr; i++) {
			objs[i] = dslab_alloc_large(size, flags, NUMA_NO_NODE);
			if (!objs[i])
				goto err_free;
		}
		return nr;
	}

	/*
	 * A magazine object may be remote (a refill fell back to another
	 * node), and __GFP_THISNODE trades such an object for another in
	 * dslab_alloc_finish(), as a charge to a cgroup trades it for a
	 * pool's: one at a time, then.
	 */
	if (unlikely((flags & __GFP_THISNODE) || dslab_memcg_wanted(flags))) {
		for (i = 0; i < nr; i++) {
			objs[i] = dslab_alloc(size, flags);
			if (!objs[i])
				goto err_free;
		}
		return nr;
	}

	might_alloc(flags);
	one_by_one = static_branch_unlikely(&dslab_debug_key) ||
		     trace_dslab_alloc_enabled();
	while (i < nr) {
		unsigned int n;
		size_t j;

		/* As many as the magazine has, in one section; then the list. */
		n = dslab_mag_take(class, &objs[i], nr - i, !one_by_one);
		if (!n) {
			n = dslab_central_get(numa_mem_id(), class, &objs[i],
					      min_t(size_t, nr - i, UINT_MAX),
					      flags);
			if (!n) {
				dslab_stat_inc(DSLAB_STAT_ALLOC_FAIL);
				goto err_free;
			}
			this_cpu_add(dslab_cpu_stats.item[DSLAB_STAT_ALLOC], n);
			dslab_inuse_add(class, n);
			if (likely(!one_by_one))
				dslab_bulk_publish(&objs[i], &objs[i], n);
		}
		if (unlikely(one_by_one))
			for (j = i; j < i + n; j++)
				dslab_alloc_finish(objs[j], size, flags);
		else
			dslab_bulk_prepare(&objs[i], n, size, class, flags);
		i += n;
	}
	return nr;

err_free:
	dslab_free_bulk(i, objs);
	return 0;
}
EXPORT_SYMBOL_GPL(dslab_alloc_bulk);

/**
 * dslab_free_bulk() - free several objects
 * @nr: number of objects
 * @objs: the objects, each as for dslab_free()
 *
 * Context: Any context but NMI (like kfree()), hardirq included; on
 * PREEMPT_RT, as kfree(): not in hard interrupt context or with
 * preemption or interrupts disabled.
 */
void dslab_free_bulk(size_t nr, void **objs)
{
	bool one_by_one = static_branch_unlikely(&dslab_debug_key) ||
			  trace_dslab_free_enabled();
	unsigned long flags;
	size_t i, n;

	for (i = 0; i < nr; i += n) {
		/* The lock is dropped every 32 objects. */
		n = min_t(size_t, nr - i, 32);
		local_lock_irqsave(&dslab_mag_lock, flags);
		if (likely(!one_by_one)) {
			dslab_free_bulk_locked(&objs[i], n, _RET_IP_);
		} else {
			size_t j;

			for (j = i; j < i + n; j++)
				if (likely(!ZERO_OR_NULL_PTR(objs[j])))
					dslab_free_locked(objs[j], false, false,
							  _RET_IP_);
		}
		local_unlock_irqrestore(&dslab_mag_lock, flags);
	}
}
EXPORT_SYMBOL_GPL(dslab_free_bulk);

/**
 * dslab_ksize() - usable size of a live object
 * @obj: any pointer
 *
 * Context: Any context.
 * Return: the usable size (the class size, or less in debug mode) when
 * @obj is the start of a live dslab object, 0 for anything else.
 */
size_t dslab_ksize(const void *obj)
{
	struct dslab_span *span;
	unsigned long off;
	unsigned int idx;
	size_t ret = 0;

	/* A preempt-disabled section is an RCU reader (consolidated RCU). */
	preempt_disable();
	/*
	 * dslab_no_span has index 0 at an offset that is the address, with
	 * a clear live bit for NULL; a tail address's bit is clear too
	 * (struct dslab_span).
	 */
	span = dslab_span_probe(obj);
	idx = dslab_span_locate(span, obj, &off);
	if (!off && test_bit(idx, span->live))
		ret = dslab_usable(span);
	/* As ksize(): the caller may use all of it now. */
	if (IS_ENABLED(CONFIG_KASAN_GENERIC) && ret)
		dslab_kasan_alloc(span, (void *)obj, ret);
	preempt_enable();
	return ret;
}
EXPORT_SYMBOL_GPL(dslab_ksize);

/**
 * __dslab_find_object() - the lookup behind dslab_find_object()
 * @ptr: any pointer value: interior, foreign, NULL or ERR_PTR alike
 *
 * Context: Any context.
 * Return: the live object holding @ptr and its usable size, or a NULL
 * base when there is none.
 */
struct dslab_found __dslab_find_object(const void *ptr)
{
	struct dslab_found found;
	struct dslab_span *span;
	unsigned long off, start;
	unsigned int idx;

	/* A preempt-disabled section is an RCU reader (consolidated RCU). */
	preempt_disable();
	/*
	 * dslab_no_span's usable size is 0, and a tail address's bit is
	 * clear (struct dslab_span): neither needs a test of its own.
	 */
	span = dslab_span_probe(ptr);
	off = ptr - span->base;
	idx = (off * span->div_magic) >> 32;
	start = (unsigned long)idx * span->size;
	found.size = dslab_usable(span);
	if (unlikely(off - start >= found.size || !test_bit(idx, span->live)))
		goto none;
	found.base = span->base + start;
out:
	preempt_enable();
	return found;
none:
	found = (struct dslab_found){ };
	goto out;
}
EXPORT_SYMBOL_GPL(__dslab_find_object);

/* === Test hooks === */

/**
 * dslab_test_mag_writer() - pretend this CPU's magazine writer is busy
 * @busy: set or clear this CPU's writer flag
 *
 * For KUnit: what an interrupt on top of a push finds.  The caller keeps
 * preemption off between setting and clearing it.
 *
 * Context: Preemption disabled.
 */
void dslab_test_mag_writer(bool busy)
{
	lockdep_assert_preemption_disabled();
	__this_cpu_write(dslab_mag_writer, busy);
}
EXPORT_SYMBOL_IF_KUNIT(dslab_test_mag_writer);

/**
 * dslab_test_mag_count() - objects in this CPU's magazine of a class
 * @class: the size class
 *
 * Context: On one CPU: migration or preemption disabled (PREEMPT_RT's
 * tests cannot allocate with preemption off).
 * Return: the count.
 */
unsigned int dslab_test_mag_count(unsigned int class)
{
	unsigned int n;

	cant_migrate();
	preempt_disable();
	n = dslab_mag_get(this_cpu_ptr(dslab_mags[class]));
	preempt_enable();
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(dslab_test_mag_count);

/* === Cache draining and init === */

static void dslab_drain_one(int cpu)
{
	unsigned int class;

	for (class = 0; class < DSLAB_NR_CLASSES; class++) {
		struct dslab_mag *mag = per_cpu_ptr(dslab_mags[class], cpu);
		unsigned int count = dslab_mag_get(mag);

		if (count) {
			dslab_mag_set(mag, 0);
			dslab_central_put(mag->objs, count);
		}
	}
}

/*
 * Each CPU drains its own magazines from a work item bound to it, under
 * dslab_mag_lock (as for the magazines' writers on that CPU), rather than
 * from an IPI: in hard interrupt context only raw spinlocks may be taken
 * (PREEMPT_RT, and lockdep's raw-lock nesting check elsewhere), and the
 * central lists' lock is not one.
 */
static DEFINE_PER_CPU(struct work_struct, dslab_drain_works);
static DEFINE_MUTEX(dslab_drain_mutex);

static void dslab_drain_work_fn(struct work_struct *work)
{
	unsigned long flags;

	local_lock_irqsave(&dslab_mag_lock, flags);
	dslab_drain_one(smp_processor_id());
	local_unlock_irqrestore(&dslab_mag_lock, flags);
}

/**
 * dslab_drain_cpu_caches() - give every CPU's magazines back
 *
 * Context: Process context; sleeps (waits for a work item on every
 * online CPU).
 */
void dslab_drain_cpu_caches(void)
{
	int cpu;

	mutex_lock(&dslab_drain_mutex);
	cpus_read_lock();
	for_each_online_cpu(cpu)
		schedule_work_on(cpu, per_cpu_ptr(&dslab_drain_works, cpu));
	for_each_online_cpu(cpu)
		flush_work(per_cpu_ptr(&dslab_drain_works, cpu));
	/*
	 * An offline CPU cannot run its own drain, and nothing touches its
	 * magazines until it comes back, which cpus_read_lock() holds off.
	 */
	for_each_possible_cpu(cpu)
		if (!cpu_online(cpu))
			dslab_drain_one(cpu);
	cpus_read_unlock();
	mutex_unlock(&dslab_drain_mutex);
}

/**
 * dslab_drain_dead_cpu() - give a dead CPU's magazines back
 * @cpu: the CPU, offline now
 *
 * The CPU hotplug callback (main.c), like SLUB's slub_cpu_dead(): nothing
 * touches a dead CPU's magazines, and hotplug holds cpus_write_lock(), so
 * dslab_drain_cpu_caches() is not draining them at the same time.
 *
 * Context: Process context, CPU hotplug.
 */
void dslab_drain_dead_cpu(unsigned int cpu)
{
	dslab_drain_one(cpu);
}

/**
 * dslab_shrink() - drain every CPU cache and free every empty span
 *
 * Context: Process context.
 * Return: pages given back to the page allocator.
 */
unsigned long dslab_shrink(void)
{
	dslab_drain_cpu_caches();
	return dslab_span_trim(0) + dslab_finq_trim();
}
EXPORT_SYMBOL_NS_GPL(dslab_shrink, DSLAB_NS);

int dslab_alloc_init(void)
{
	unsigned int class, cap;
	int cpu;

	dslab_debug_init();
	if (static_key_enabled(&dslab_debug_key)) {
		static_branch_inc(&dslab_alloc_rare_key);
		static_branch_inc(&dslab_free_rare_key);
	}
	if (num_possible_nodes() > 1) {
		static_branch_enable(&dslab_numa_key);
		static_branch_inc(&dslab_free_rare_key);
	}
	for_each_possible_cpu(cpu)
		INIT_WORK(per_cpu_ptr(&dslab_drain_works, cpu), dslab_drain_work_fn);
	for (class = 0; class < DSLAB_NR_CLASSES; class++) {
		cap = dslab_mag_cap(class);
		dslab_mags[class] = __alloc_percpu(struct_size_t(struct dslab_mag, objs, cap),
						   __alignof__(struct dslab_mag));
		if (!dslab_mags[class])
			goto err_free;
		for_each_possible_cpu(cpu) {
			struct dslab_mag *mag = per_cpu_ptr(dslab_mags[class], cpu);

			mag->cap = cap;
			/* The id is the CPU number modulo DSLAB_MAG_CPUS. */
			mag->state = (u64)cpu << 16;
		}
	}
	return 0;

err_free:
	while (class--)
		free_percpu(dslab_mags[class]);
	return -ENOMEM;
}

void dslab_alloc_exit(void)
{
	unsigned int class;

	dslab_drain_cpu_caches();
	for (class = 0; class < DSLAB_NR_CLASSES; class++)
		free_percpu(dslab_mags[class]);
}
