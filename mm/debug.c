// SPDX-License-Identifier: GPL-2.0
/*
 * dslab debug mode (module parameter "debug", load time), in the manner
 * of slub_debug=PZ.
 *
 * Every small object gets an 8-byte red zone at the end of its slot,
 * written when it is allocated and checked when it is freed.  A free
 * object is poisoned, all but its first word (which may hold the central
 * freelist's link), and the poison is checked when the object is
 * allocated again, so a write through a stale pointer shows then.  The
 * bytes are slub_debug's (POISON_FREE, SLUB_RED_INACTIVE), so a dump of
 * a dslab object reads like one of a slab object.  Damage is counted
 * (stat debug_corruptions) and reported, rate-limited, with the class
 * and the offset of the first bad byte.  Large objects (a span each)
 * have neither.
 *
 * Each small object's last allocation and last free (the caller's free,
 * not the release after its destructors) are recorded as stackdepot
 * handles, two per object after its span's bitmaps (as
 * slub_debug=U keeps them after the object), and every report about an
 * object (damage here, a double or interior free in alloc.c) prints
 * both stacks after its line, as slub's print_tracking() does.  The
 * reports share one rate limit, so a report is printed whole or not at
 * all.
 *
 * The fast paths test dslab_debug_key, a static key set once at load,
 * and leave through their slow paths when it is on; those call in here.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <linux/jump_label.h>
#include <linux/kallsyms.h>
#include <linux/kasan.h>
#include <linux/module.h>
#include <linux/poison.h>
#include <linux/ratelimit.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/stackdepot.h>
#include <linux/stacktrace.h>
#include <linux/string.h>

#include "dslab.h"

bool dslab_debug;
EXPORT_SYMBOL_NS_GPL(dslab_debug, DSLAB_NS);
DEFINE_STATIC_KEY_FALSE(dslab_debug_key);

#define DSLAB_POISON_FREE	POISON_FREE
#define DSLAB_POISON_RED	SLUB_RED_INACTIVE

/* Frames kept per stack, as slub_debug's TRACK_ADDRS_COUNT. */
#define DSLAB_TRACK_DEPTH	16U
/* Room for dslab's own frames, which are dropped. */
#define DSLAB_TRACK_OWN		8U

/* The stack depot is ready (debug mode, and stack_depot_init() worked). */
static bool dslab_debug_tracking;

/* One rate limit for every report about an object, stacks included. */
static DEFINE_RATELIMIT_STATE(dslab_debug_rs, DEFAULT_RATELIMIT_INTERVAL,
			      DEFAULT_RATELIMIT_BURST);

/**
 * dslab_debug_track_size() - room for the stacks of a new span's objects
 * @class: the span's class
 * @nelems: its objects
 *
 * Context: Any context.
 * Return: bytes to allocate after the span's bitmaps, 0 outside debug
 * mode and for large objects.
 */
size_t dslab_debug_track_size(unsigned int class, unsigned int nelems)
{
	if (!READ_ONCE(dslab_debug_tracking) || class == DSLAB_CLASS_LARGE)
		return 0;
	return array_size(2 * nelems, sizeof(depot_stack_handle_t));
}

/*
 * @obj's two handles, [0] its last allocation, [1] its last free: after
 * the bitmaps, in the descriptor's allocation, but not the descriptor's
 * own state (a const span's handles still change).
 */
static depot_stack_handle_t *dslab_debug_track(const struct dslab_span *span,
					       const void *obj)
{
	unsigned long end = (unsigned long)(span->live +
					    2 * BITS_TO_LONGS(span->nelems));

	return (depot_stack_handle_t *)end + 2 * dslab_own_index(span, obj);
}

/* @obj's handles when it has them (the depot is ready, a small object). */
static depot_stack_handle_t *dslab_debug_tracks(const struct dslab_span *span,
						const void *obj)
{
	if (!IS_ENABLED(CONFIG_STACKDEPOT) ||
	    !READ_ONCE(dslab_debug_tracking) ||
	    span->class == DSLAB_CLASS_LARGE)
		return NULL;
	return dslab_debug_track(span, obj);
}

/* Record the caller's stack as @obj's last allocation or free. */
static void dslab_debug_record(const struct dslab_span *span, const void *obj,
			       bool freed)
{
	unsigned long entries[DSLAB_TRACK_DEPTH + DSLAB_TRACK_OWN];
	depot_stack_handle_t *t = dslab_debug_tracks(span, obj);
	unsigned int n, own = 0;

	if (!t)
		return;
	n = stack_trace_save(entries, ARRAY_SIZE(entries), 0);
	/* The stack starts at dslab's caller, as kfence's does at its. */
	while (own < n && within_module(entries[own], THIS_MODULE))
		own++;
	/*
	 * Any context: the depot takes new memory only without sleeping.
	 * Pairs with READ_ONCE() in dslab_debug_count_span().
	 */
	WRITE_ONCE(t[freed],
		   stack_depot_save(entries + own,
				    min(n - own, DSLAB_TRACK_DEPTH),
				    GFP_NOWAIT));
}

/*
 * A recorded stack, a frame per line, as stack_depot_print() would print
 * it but for a frame whose module has gone since: "(gone)", never its
 * address.
 */
static void dslab_debug_print_stack(const char *what, depot_stack_handle_t h)
{
	char sym[KSYM_SYMBOL_LEN];
	unsigned long *entries;
	unsigned int i, n;

	n = h ? stack_depot_fetch(h, &entries) : 0;
	if (!n) {
		pr_err("%s: no stack recorded\n", what);
		return;
	}
	pr_err("%s:\n", what);
	for (i = 0; i < n; i++) {
		dslab_sym(sym, entries[i], true);
		pr_err(" %s\n", sym);
	}
}

/**
 * dslab_debug_report() - whether to print a report about an object now
 *
 * Context: Any context.
 * Return: true when the rate limit lets a report through.
 */
bool dslab_debug_report(void)
{
	return __ratelimit(&dslab_debug_rs);
}

/**
 * dslab_debug_print_tracks() - print where an object was last allocated
 *	and freed
 * @span: the small-object span holding @obj
 * @obj: the object's start
 *
 * Follows a report's first line; prints nothing outside debug mode.
 *
 * Context: Any context; @span's descriptor must stay valid.
 */
void dslab_debug_print_tracks(const struct dslab_span *span, const void *obj)
{
	const depot_stack_handle_t *t = dslab_debug_tracks(span, obj);

	if (!t)
		return;
	dslab_debug_print_stack("last allocated by", t[0]);
	dslab_debug_print_stack("last freed by", t[1]);
}

/**
 * dslab_report_live() - report a live object whose owner is going
 * @who: what is going: "unload" (dslab), or a client module's name
 * @span: the object's span
 * @idx: the object's index in it
 * @type: its type, or NULL
 *
 * One line with the object (hashed), its class and its type, and in
 * debug mode the stack that allocated it.  Callers list at most
 * DSLAB_LIVE_LISTED objects per event, so no rate limit applies.
 *
 * Context: Any context.
 */
void dslab_report_live(const char *who, struct dslab_span *span,
		       unsigned int idx, const struct dslab_type *type)
{
	const void *obj = dslab_span_obj(span, idx);
	const depot_stack_handle_t *t = dslab_debug_tracks(span, obj);

	if (span->class == DSLAB_CLASS_LARGE)
		pr_err("%s: live object %p: large (%u bytes), type %s\n",
		       who, obj, span->size, dslab_type_name(type));
	else
		pr_err("%s: live object %p: class %u (%u bytes), type %s\n",
		       who, obj, span->class, span->size,
		       dslab_type_name(type));
	/* Pairs with WRITE_ONCE() in dslab_debug_record(). */
	if (t)
		dslab_debug_print_stack("allocated by", READ_ONCE(t[0]));
}

/*
 * The offset of the first byte in [@from, @from + @len) of @obj that is
 * not @c, or 0 when there is none (@from is never 0).
 */
static unsigned int dslab_debug_bad(void *obj, unsigned int from,
				    unsigned int len, u8 c)
{
	u8 *bad;

	/* memchr_inv() is instrumented: as slub's metadata_access_enable(). */
	kasan_disable_current();
	bad = memchr_inv(obj + from, c, len);
	kasan_enable_current();
	return bad ? bad - (u8 *)obj : 0;
}

/**
 * dslab_debug_alloc() - check a small object's poison, write its red zone
 * @span: its span
 * @obj: the object, just taken off a free list
 *
 * Context: Any context.
 */
void dslab_debug_alloc(const struct dslab_span *span, void *obj)
{
	unsigned int off = dslab_debug_bad(obj, sizeof(void *),
					   span->size - sizeof(void *),
					   DSLAB_POISON_FREE);

	if (unlikely(off)) {
		dslab_stat_inc(DSLAB_STAT_DEBUG_CORRUPTION);
		if (dslab_debug_report()) {
			pr_err("use after free: class %u (%u bytes) written at offset %u, object %p\n",
			       span->class, span->size, off, obj);
			dslab_debug_print_tracks(span, obj);
		}
	}
	memset(obj + span->size - DSLAB_REDZONE, DSLAB_POISON_RED,
	       DSLAB_REDZONE);
	dslab_debug_record(span, obj, false);
}

/**
 * dslab_debug_free() - check a small object's red zone, poison it
 * @span: its span
 * @obj: the object, no longer live, on its way to a free list
 *
 * Context: Any context.
 */
void dslab_debug_free(const struct dslab_span *span, void *obj)
{
	unsigned int off = dslab_debug_bad(obj, span->size - DSLAB_REDZONE,
					   DSLAB_REDZONE, DSLAB_POISON_RED);

	if (unlikely(off)) {
		dslab_stat_inc(DSLAB_STAT_DEBUG_CORRUPTION);
		if (dslab_debug_report()) {
			pr_err("red zone overwritten: class %u (%u bytes) at offset %u, object %p\n",
			       span->class, span->size, off, obj);
			dslab_debug_print_tracks(span, obj);
		}
	}
	memset(obj + sizeof(void *), DSLAB_POISON_FREE,
	       span->size - sizeof(void *));
}

/**
 * dslab_debug_freed() - record where an object was freed
 * @span: its span
 * @obj: the object, no longer live from now on
 *
 * At the caller's free, before the object waits for its destructors or a
 * grace period, so that "last freed by" is the caller's stack, not the
 * runner's release.
 *
 * Context: Any context.
 */
void dslab_debug_freed(const struct dslab_span *span, const void *obj)
{
	if (span->class != DSLAB_CLASS_LARGE)
		dslab_debug_record(span, obj, true);
}

/**
 * dslab_debug_poison_span() - poison every object of a new span
 * @span: the span, not yet published
 *
 * Context: Any context.
 */
void dslab_debug_poison_span(struct dslab_span *span)
{
	unsigned int i;

	for (i = 0; i < span->nelems; i++)
		memset(dslab_span_obj(span, i) + sizeof(void *),
		       DSLAB_POISON_FREE, span->size - sizeof(void *));
}

/* === Allocation sites (debugfs alloc_traces) === */

/* Sites counted per read; the rest are counted as "other". */
#define DSLAB_SITES_MAX		1024U
/* Sites printed per class, the most frequent first. */
#define DSLAB_SITES_SHOWN	16U

struct dslab_site {
	unsigned long ip;	/* the caller's address; 0: no stack */
	unsigned long count;	/* live objects allocated there */
	unsigned int class;
};

struct dslab_sites {
	struct dslab_site *sites;	/* [0, nr) in use */
	unsigned int nr;
	unsigned long other;		/* objects not counted: sites[] full */
};

/* The site of a stack: its first frame, the dslab caller's. */
static unsigned long dslab_debug_site(depot_stack_handle_t h)
{
	unsigned long *entries;

	if (!h || !stack_depot_fetch(h, &entries))
		return 0;
	return entries[0];
}

static void dslab_debug_count(struct dslab_sites *t, unsigned int class,
			      unsigned long ip)
{
	unsigned int i;

	/* Linear: a class has few sites, and this is a debugfs read. */
	for (i = 0; i < t->nr; i++) {
		if (t->sites[i].ip == ip && t->sites[i].class == class) {
			t->sites[i].count++;
			return;
		}
	}
	if (t->nr == DSLAB_SITES_MAX) {
		t->other++;
		return;
	}
	t->sites[t->nr++] = (struct dslab_site){ ip, 1, class };
}

/* dslab_walk_spans() callback: the live objects of a small span. */
static void dslab_debug_count_span(struct dslab_span *span, void *arg)
{
	const depot_stack_handle_t *t;
	unsigned int idx;

	if (span->class == DSLAB_CLASS_LARGE)
		return;
	for (idx = 0; idx < span->nelems; idx++) {
		/* Atomic reads: live bits change under us. */
		if (!test_bit(idx, span->live))
			continue;
		t = dslab_debug_track(span, dslab_span_obj(span, idx));
		/* Pairs with WRITE_ONCE() in dslab_debug_record(). */
		dslab_debug_count(arg, span->class,
				  dslab_debug_site(READ_ONCE(t[0])));
	}
}

/* By class, then the most objects first. */
static int dslab_site_cmp(const void *a, const void *b)
{
	const struct dslab_site *x = a, *y = b;

	if (x->class != y->class)
		return x->class < y->class ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return 0;
}

/**
 * dslab_debug_alloc_traces() - list where live small objects were allocated
 * @m: the debugfs file being read
 *
 * Per class, the allocation sites of its live objects (symbol+offset and
 * count, the most frequent first, up to DSLAB_SITES_SHOWN; "(gone)" for
 * a module unloaded since, never an address), from the
 * stacks debug mode records, as slub's alloc_traces lists a cache's.
 * Without debug mode there is nothing to count and the file says so.
 * Objects allocated or freed during the walk may or may not be counted.
 *
 * Context: Process context; sleeps.
 * Return: 0, or -ENOMEM.
 */
int dslab_debug_alloc_traces(struct seq_file *m)
{
	struct dslab_sites t = { };
	char sym[KSYM_SYMBOL_LEN];
	unsigned long live, rest;
	unsigned int i, j, k;

	if (!IS_ENABLED(CONFIG_STACKDEPOT) || !READ_ONCE(dslab_debug_tracking)) {
		seq_puts(m, dslab_debug ?
			 "no allocation stacks: the stack depot is unavailable\n" :
			 "allocation sites are recorded in debug mode only (load dslab with debug=1)\n");
		return 0;
	}
	t.sites = kvmalloc_array(DSLAB_SITES_MAX, sizeof(*t.sites), GFP_KERNEL);
	if (!t.sites)
		return -ENOMEM;
	dslab_walk_spans(dslab_debug_count_span, &t);
	sort(t.sites, t.nr, sizeof(*t.sites), dslab_site_cmp, NULL);
	/* One block per class: sites [i, j). */
	for (i = 0; i < t.nr; i = j) {
		unsigned int class = t.sites[i].class;

		for (live = 0, j = i; j < t.nr && t.sites[j].class == class; j++)
			live += t.sites[j].count;
		seq_printf(m, "class %u (%u bytes): %lu live\n", class,
			   dslab_classes[class].size, live);
		for (k = i, rest = live; k < j && k < i + DSLAB_SITES_SHOWN; k++) {
			rest -= t.sites[k].count;
			if (t.sites[k].ip)
				dslab_sym(sym, t.sites[k].ip, true);
			else
				strscpy(sym, "(no stack recorded)", sizeof(sym));
			seq_printf(m, "%8lu %s\n", t.sites[k].count, sym);
		}
		if (k < j)
			seq_printf(m, "%8lu at %u more sites\n", rest, j - k);
	}
	if (t.other)
		seq_printf(m, "%lu live objects past the first %u sites, not counted\n",
			   t.other, DSLAB_SITES_MAX);
	kvfree(t.sites);
	return 0;
}

/**
 * dslab_debug_init() - turn debug mode on if the parameter asks for it
 *
 * Context: Process context, at module init, before any allocation.
 */
void dslab_debug_init(void)
{
	if (!dslab_debug)
		return;
	static_branch_enable(&dslab_debug_key);
	/* Without the depot's table, the reports just have no stacks. */
	if (IS_ENABLED(CONFIG_STACKDEPOT) && !stack_depot_init())
		WRITE_ONCE(dslab_debug_tracking, true);
}
