// SPDX-License-Identifier: GPL-2.0
/*
 * dslab allocation and free: the per-CPU layer and the public allocator.
 *
 * Each CPU has a magazine per size class, an array of free objects (the Go
 * runtime's mcache; SLUB's "sheaves" since 6.18 are the same idea).  The
 * common alloc pops from it and the common free pushes onto it, with
 * interrupts disabled on the local CPU and no shared lock.  An empty
 * magazine is refilled with half a magazine from the class's central list
 * (span.c), a full one gives half back, so a CPU that frees objects another
 * CPU allocated (a remote free) only touches that class's central lock once
 * per half magazine.
 *
 * Every object has a "live" bit in its span, set at allocation and cleared
 * with test_and_clear_bit() at free.  The bit is what dslab_find_object()
 * and dslab_ksize() answer from, and the atomic clear is what detects a
 * double free (and lets one of two racing frees win).  Objects that carry
 * destructors or cleanups leave the free path through dtor.c and reach
 * dslab_release_object() only after the runner has run them.
 *
 * Debug mode (module parameter "debug") adds, like slub_debug=PZ, an 8-byte
 * red zone at the end of every small object, checked at free, and poisons
 * free objects (all but the first word, which may hold the freelist link),
 * checked at allocation.  Reports name the class and the offset.
 *
 * kmemleak: an object is registered at allocation and unregistered when its
 * memory is released, not when it is freed, so that whatever a queued
 * object still points to (what its destructor will release) is not
 * reported as leaked while the object waits for the runner.
 *
 * Locking: magazines are per-CPU data accessed with interrupts off; the
 * only lock taken inside such a section is class->lock (span.c).
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <linux/kcsan-checks.h>
#include <linux/kmemleak.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/string.h>

#include <trace/events/dslab.h>

#include "dslab.h"

/* === Data === */

#define DSLAB_MAG_MAX		32
#define DSLAB_REDZONE		8
#define DSLAB_POISON_FREE	0x6b
#define DSLAB_POISON_RED	0xbb

struct dslab_mag {
	unsigned int count;		/* objects in objs[] */
	unsigned int cap;		/* capacity for this class */
	void *objs[DSLAB_MAG_MAX];
};

struct dslab_cpu_cache {
	struct dslab_mag mag[DSLAB_NR_CLASSES];
};

/* Per-CPU: accessed only by the owning CPU with interrupts disabled. */
static struct dslab_cpu_cache __percpu *dslab_caches;

bool dslab_debug;
EXPORT_SYMBOL_NS_GPL(dslab_debug, DSLAB_INTERNAL);

/* === Internals: debug checks === */

static inline size_t dslab_usable(const struct dslab_span *span)
{
	if (dslab_debug && span->class != DSLAB_CLASS_LARGE)
		return span->size - DSLAB_REDZONE;
	return span->size;
}

static void dslab_debug_check_poison(struct dslab_span *span, void *obj)
{
	u8 *p = obj;
	unsigned int i;

	for (i = sizeof(void *); i < span->size; i++) {
		if (p[i] != DSLAB_POISON_FREE) {
			dslab_stat_inc(DSLAB_STAT_DEBUG_CORRUPTION);
			dslab_report("use after free: class %u (%u bytes) written at offset %u\n",
				     span->class, span->size, i);
			return;
		}
	}
}

static void dslab_debug_check_redzone(struct dslab_span *span, void *obj)
{
	u8 *p = obj;
	unsigned int i;

	for (i = span->size - DSLAB_REDZONE; i < span->size; i++) {
		if (p[i] != DSLAB_POISON_RED) {
			dslab_stat_inc(DSLAB_STAT_DEBUG_CORRUPTION);
			dslab_report("red zone overwritten: class %u (%u bytes) at offset %u\n",
				     span->class, span->size, i);
			return;
		}
	}
}

/* Poison every object of a new span; called before it is published. */
void dslab_debug_poison_span(struct dslab_span *span)
{
	unsigned int i;

	for (i = 0; i < span->nelems; i++)
		memset(dslab_span_obj(span, i) + sizeof(void *),
		       DSLAB_POISON_FREE, span->size - sizeof(void *));
}

/* === Internals: the per-CPU layer === */

static void dslab_mag_flush(unsigned int class, struct dslab_mag *mag)
{
	unsigned int half = mag->cap / 2;

	lockdep_assert_irqs_disabled();
	mag->count -= half;
	dslab_central_put(class, &mag->objs[mag->count], half);
}

/* Put a no-longer-live object back in the local magazine; irqs off. */
static void dslab_release_irqoff(struct dslab_span *span, void *obj)
{
	struct dslab_mag *mag;

	lockdep_assert_irqs_disabled();
	kmemleak_free(obj);
	if (unlikely(span->class == DSLAB_CLASS_LARGE)) {
		__this_cpu_dec(dslab_cpu_stats.inuse[DSLAB_CLASS_LARGE]);
		dslab_span_release(span);
		return;
	}
	if (unlikely(dslab_debug)) {
		dslab_debug_check_redzone(span, obj);
		memset(obj + sizeof(void *), DSLAB_POISON_FREE,
		       span->size - sizeof(void *));
	}
	mag = &this_cpu_ptr(dslab_caches)->mag[span->class];
	ASSERT_EXCLUSIVE_ACCESS(mag->count);
	if (unlikely(mag->count == mag->cap))
		dslab_mag_flush(span->class, mag);
	mag->objs[mag->count++] = obj;
	__this_cpu_dec(dslab_cpu_stats.inuse[span->class]);
}

/**
 * dslab_release_object() - return the memory of a dead object
 * @span: its span
 * @obj: the object, no longer live, whose destructors have all returned
 *
 * Context: Any context.
 */
void dslab_release_object(struct dslab_span *span, void *obj)
{
	unsigned long flags;

	local_irq_save(flags);
	dslab_release_irqoff(span, obj);
	local_irq_restore(flags);
}

/* Refill from the central list; returns one object, stocks the rest. */
static void *dslab_alloc_refill(unsigned int class, gfp_t gfp)
{
	void *batch[DSLAB_MAG_MAX];
	unsigned int n, k = 0;
	struct dslab_mag *mag;
	unsigned long flags;
	void *obj;

	n = dslab_central_get(class, batch,
			      max(1u, this_cpu_read(dslab_caches->mag[class].cap) / 2),
			      gfp);
	if (!n)
		return NULL;
	obj = batch[--n];
	if (n) {
		local_irq_save(flags);
		mag = &this_cpu_ptr(dslab_caches)->mag[class];
		k = min(n, mag->cap - mag->count);
		memcpy(&mag->objs[mag->count], batch, k * sizeof(void *));
		mag->count += k;
		local_irq_restore(flags);
		if (k < n)
			dslab_central_put(class, batch + k, n - k);
	}
	return obj;
}

/* Everything an allocation does once it owns @obj. */
static void *dslab_alloc_finish(void *obj, size_t req, gfp_t gfp)
{
	struct dslab_span *span = dslab_span_lookup(obj);
	unsigned int idx, off;
	size_t usable;

	idx = dslab_span_index(span, obj, &off);
	usable = dslab_usable(span);
	if (unlikely(dslab_debug) && span->class != DSLAB_CLASS_LARGE) {
		dslab_debug_check_poison(span, obj);
		memset(obj + usable, DSLAB_POISON_RED, DSLAB_REDZONE);
	}
	if (gfp & __GFP_ZERO)
		memset(obj, 0, usable);
	/* Publishes the object; pairs with test_and_clear_bit() at free. */
	set_bit(idx, span->live);
	kmemleak_alloc(obj, usable, 1, gfp);
	trace_dslab_alloc(obj, req, usable, gfp);
	return obj;
}

/**
 * dslab_alloc_class() - allocate one object of a size class
 * @class: the class, below DSLAB_NR_CLASSES
 * @size: the request, for tracing
 * @gfp: allocation flags
 *
 * Context: As @gfp allows.
 * Return: the object, or NULL.
 */
void *dslab_alloc_class(unsigned int class, size_t size, gfp_t gfp)
{
	struct dslab_mag *mag;
	unsigned long flags;
	void *obj;

	might_alloc(gfp);
	local_irq_save(flags);
	mag = &this_cpu_ptr(dslab_caches)->mag[class];
	/* No other CPU ever touches this magazine. */
	ASSERT_EXCLUSIVE_ACCESS(mag->count);
	if (likely(mag->count)) {
		obj = mag->objs[--mag->count];
		__this_cpu_inc(dslab_cpu_stats.item[DSLAB_STAT_ALLOC]);
		__this_cpu_inc(dslab_cpu_stats.inuse[class]);
		local_irq_restore(flags);
		return dslab_alloc_finish(obj, size, gfp);
	}
	local_irq_restore(flags);

	obj = dslab_alloc_refill(class, gfp);
	if (unlikely(!obj)) {
		dslab_stat_inc(DSLAB_STAT_ALLOC_FAIL);
		return NULL;
	}
	this_cpu_inc(dslab_cpu_stats.item[DSLAB_STAT_ALLOC]);
	this_cpu_inc(dslab_cpu_stats.inuse[class]);
	return dslab_alloc_finish(obj, size, gfp);
}

static void *dslab_alloc_large(size_t size, gfp_t gfp)
{
	struct dslab_span *span = NULL;

	might_alloc(gfp);
	/* As kmalloc: the page allocator's largest block is the limit. */
	if (likely(size <= KMALLOC_MAX_SIZE))
		span = dslab_span_new(DSLAB_CLASS_LARGE, size, gfp);
	if (!span) {
		dslab_stat_inc(DSLAB_STAT_ALLOC_FAIL);
		return NULL;
	}
	this_cpu_inc(dslab_cpu_stats.item[DSLAB_STAT_ALLOC]);
	this_cpu_inc(dslab_cpu_stats.inuse[DSLAB_CLASS_LARGE]);
	return dslab_alloc_finish(span->base, size, gfp);
}

/*
 * The class of a request, with room for the debug red zone.  Requests
 * above KMALLOC_MAX_SIZE are refused by dslab_alloc_large(), and checked
 * first so that adding the red zone cannot wrap around.
 */
static inline unsigned int dslab_request_class(size_t size)
{
	if (unlikely(size > KMALLOC_MAX_SIZE))
		return DSLAB_CLASS_LARGE;
	if (unlikely(dslab_debug))
		size += DSLAB_REDZONE;
	return dslab_size_class(size);
}

enum dslab_bad_free {
	DSLAB_FREE_OK,
	DSLAB_FREE_FOREIGN,
	DSLAB_FREE_INTERIOR,
	DSLAB_FREE_DOUBLE,
};

static void dslab_report_bad_free(enum dslab_bad_free why, const void *p,
				  int class, unsigned int size)
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

	dslab_stat_inc(DSLAB_STAT_BAD_FREE);
	dslab_stat_inc(item[why]);
	if (class >= 0)
		dslab_report("bad free of %p: %s (class %d, %u bytes)\n",
			     p, what[why], class, size);
	else
		dslab_report("bad free of %p: %s\n", p, what[why]);
}

/*
 * The free path.  Interrupts stay off from the page-map lookup to the
 * magazine push: that is the RCU read-side section that keeps a span
 * descriptor valid even for a bogus pointer into a span being freed.
 */
static void dslab_free_common(const void *p, bool rcu)
{
	enum dslab_bad_free bad = DSLAB_FREE_OK;
	struct dslab_span *span;
	void *obj = (void *)p;
	unsigned int idx, off;
	unsigned long flags;
	int bad_class = -1;
	unsigned int bad_size = 0;

	local_irq_save(flags);
	span = dslab_span_lookup(obj);
	if (unlikely(!span)) {
		bad = DSLAB_FREE_FOREIGN;
		goto out;
	}
	idx = dslab_span_index(span, obj, &off);
	if (unlikely(off || idx >= span->nelems)) {
		bad = DSLAB_FREE_INTERIOR;
		goto out;
	}
	if (unlikely(!test_and_clear_bit(idx, span->live))) {
		bad = DSLAB_FREE_DOUBLE;
		goto out;
	}
	__this_cpu_inc(dslab_cpu_stats.item[DSLAB_STAT_FREE]);
	trace_dslab_free(obj);

	/* Objects with destructors or cleanups go to the runner. */
	if (unlikely(READ_ONCE(span->meta)) &&
	    dslab_dtor_on_free(span, idx, obj, rcu))
		goto out;
	if (unlikely(rcu)) {
		dslab_finq_enqueue_rcu_plain(span, obj);
		goto out;
	}
	dslab_release_irqoff(span, obj);
out:
	/* The descriptor is only safe to read inside this section. */
	if (unlikely(bad) && span) {
		bad_class = span->class;
		bad_size = span->size;
	}
	local_irq_restore(flags);
	if (unlikely(bad))
		dslab_report_bad_free(bad, p, bad_class, bad_size);
}

/* === Public interface === */

/**
 * dslab_alloc() - allocate an object
 * @size: bytes wanted; above 32 KiB the object gets a span of its own,
 *	up to KMALLOC_MAX_SIZE (4 MiB on x86-64 with 6.1 and 6.12)
 * @flags: GFP flags: GFP_KERNEL may sleep, GFP_ATOMIC works from any
 *	context including hardirq, __GFP_ZERO zeroes the object
 *
 * Objects are at least 8-byte aligned; power-of-two sizes up to PAGE_SIZE
 * are naturally aligned (not in debug mode, which adds a red zone).
 *
 * Context: Any context with GFP_ATOMIC or GFP_NOWAIT; process context
 * with GFP_KERNEL.
 * Return: the object, ZERO_SIZE_PTR for @size 0, or NULL.
 */
void *dslab_alloc(size_t size, gfp_t flags)
{
	unsigned int class;

	if (unlikely(!size))
		return ZERO_SIZE_PTR;
	class = dslab_request_class(size);
	if (unlikely(class == DSLAB_CLASS_LARGE))
		return dslab_alloc_large(size, flags);
	return dslab_alloc_class(class, size, flags);
}
EXPORT_SYMBOL_GPL(dslab_alloc);

/**
 * dslab_free() - free an object
 * @obj: an object from dslab_alloc() or dslab_new(), NULL or ZERO_SIZE_PTR
 *
 * An object with a destructor or cleanups is queued for the runner and
 * its memory is reused only after they have returned; this never
 * allocates and never fails.  A double free, an interior pointer or a
 * pointer dslab did not allocate is reported (rate-limited), counted and
 * otherwise ignored.
 *
 * Context: Any context.
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
 * inside rcu_read_lock() may keep using @obj.  One grace period covers a
 * whole batch.  The object is no longer live for its owner at once.
 *
 * Context: Any context.
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
	size_t i = 0;

	if (unlikely(!nr || nr > INT_MAX))
		return 0;
	if (unlikely(!size)) {
		for (i = 0; i < nr; i++)
			objs[i] = ZERO_SIZE_PTR;
		return nr;
	}
	class = dslab_request_class(size);
	if (unlikely(class == DSLAB_CLASS_LARGE)) {
		for (i = 0; i < nr; i++) {
			objs[i] = dslab_alloc_large(size, flags);
			if (!objs[i])
				goto err_free;
		}
		return nr;
	}

	might_alloc(flags);
	while (i < nr) {
		struct dslab_mag *mag;
		unsigned long irqflags;
		unsigned int n;
		size_t j;

		local_irq_save(irqflags);
		mag = &this_cpu_ptr(dslab_caches)->mag[class];
		n = min_t(size_t, mag->count, nr - i);
		mag->count -= n;
		memcpy(&objs[i], &mag->objs[mag->count], n * sizeof(void *));
		__this_cpu_add(dslab_cpu_stats.item[DSLAB_STAT_ALLOC], n);
		__this_cpu_add(dslab_cpu_stats.inuse[class], n);
		local_irq_restore(irqflags);
		for (j = i; j < i + n; j++)
			dslab_alloc_finish(objs[j], size, flags);
		i += n;
		if (i < nr) {
			objs[i] = dslab_alloc_class(class, size, flags);
			if (!objs[i])
				goto err_free;
			i++;
		}
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
 * Context: Any context.
 */
void dslab_free_bulk(size_t nr, void **objs)
{
	size_t i;

	for (i = 0; i < nr; i++)
		dslab_free(objs[i]);
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
	unsigned int idx, off;
	size_t ret = 0;

	rcu_read_lock();
	span = dslab_span_lookup(obj);
	if (span) {
		idx = dslab_span_index(span, obj, &off);
		if (!off && idx < span->nelems && test_bit(idx, span->live))
			ret = dslab_usable(span);
	}
	rcu_read_unlock();
	return ret;
}
EXPORT_SYMBOL_GPL(dslab_ksize);

/**
 * dslab_find_object() - find the live object containing a pointer
 * @ptr: any pointer value: interior, foreign, NULL or ERR_PTR alike
 * @base: set to the object's start when found; may be NULL
 * @size: set to the object's usable size when found; may be NULL
 *
 * The Go runtime's findObject, answered from the page map in O(1).  @ptr
 * is never dereferenced.
 *
 * Context: Any context.
 * Return: true when @ptr points into a live object, false otherwise
 * (including free slots, objects awaiting destructors, span tails and one
 * past the end of an object).
 */
bool dslab_find_object(const void *ptr, void **base, size_t *size)
{
	struct dslab_span *span;
	unsigned int idx, off;
	bool ret = false;

	rcu_read_lock();
	span = dslab_span_lookup(ptr);
	if (span) {
		idx = dslab_span_index(span, ptr, &off);
		if (idx < span->nelems && off < dslab_usable(span) &&
		    test_bit(idx, span->live)) {
			if (base)
				*base = dslab_span_obj(span, idx);
			if (size)
				*size = dslab_usable(span);
			ret = true;
		}
	}
	rcu_read_unlock();
	return ret;
}
EXPORT_SYMBOL_GPL(dslab_find_object);

/* === Cache draining and init === */

static void dslab_drain_one(struct dslab_cpu_cache *cc)
{
	unsigned int class;

	for (class = 0; class < DSLAB_NR_CLASSES; class++) {
		struct dslab_mag *mag = &cc->mag[class];

		if (mag->count) {
			dslab_central_put(class, mag->objs, mag->count);
			mag->count = 0;
		}
	}
}

static void dslab_drain_local(void *unused)
{
	dslab_drain_one(this_cpu_ptr(dslab_caches));
}

/**
 * dslab_drain_cpu_caches() - give every CPU's magazines back
 *
 * Context: Process context; interrupts enabled.  Sends IPIs.
 */
void dslab_drain_cpu_caches(void)
{
	unsigned long flags;
	int cpu;

	cpus_read_lock();
	on_each_cpu(dslab_drain_local, NULL, 1);
	for_each_possible_cpu(cpu) {
		if (cpu_online(cpu))
			continue;
		/* An offline CPU cannot run its own drain. */
		local_irq_save(flags);
		dslab_drain_one(per_cpu_ptr(dslab_caches, cpu));
		local_irq_restore(flags);
	}
	cpus_read_unlock();
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
EXPORT_SYMBOL_NS_GPL(dslab_shrink, DSLAB_INTERNAL);

int dslab_alloc_init(void)
{
	unsigned int class;
	int cpu;

	dslab_caches = alloc_percpu(struct dslab_cpu_cache);
	if (!dslab_caches)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		struct dslab_cpu_cache *cc = per_cpu_ptr(dslab_caches, cpu);

		for (class = 0; class < DSLAB_NR_CLASSES; class++) {
			unsigned int size = dslab_classes[class].size;

			cc->mag[class].cap = size <= 512 ? 32 :
					     size <= 4096 ? 16 : 8;
		}
	}
	return 0;
}

void dslab_alloc_exit(void)
{
	dslab_drain_cpu_caches();
	free_percpu(dslab_caches);
}
