// SPDX-License-Identifier: GPL-2.0
/*
 * dslab's runner instruments: what a runner is running, how long
 * destructors and cleanups take, and which of them are slow.
 *
 * Go counts queued and executed cleanups (/gc/cleanups/queued and
 * /gc/cleanups/executed), and users of its single finalizer goroutine ask
 * which finalizer holds the others up (golang/go#72948).  The workqueue
 * reports a work function that hogs its CPU past wq_cpu_intensive_thresh_us
 * (10 ms), once per function.  dslab's runner does the same around every
 * destructor and cleanup it calls: it notes the function, so that debugfs
 * can say what runs now and for how long, with the jiffy it started in;
 * one call in DSLAB_WATCH_SAMPLE is timed with local_clock() and counted in
 * a histogram of powers of two; a call that ends in a later jiffy than it
 * began is measured in jiffies; the longest run of the last minute is
 * kept with its symbol; and a run of slow_dtor_ms or more is reported once
 * per function, rate-limited.
 *
 * Cost decides the shape.  A clock read per call cost the runner a fifth
 * of its end-to-end throughput under the benchmark, so the common
 * case, inline in dslab.h (dslab_watch_start(), dslab_watch_stop()), is a
 * counter, two jiffies reads and the function pointer; this file has the
 * rare case and the reader.  The workqueue makes the same trade: it looks
 * for CPU hogs from the scheduler tick, not around each work item.
 *
 * Locks: a watch belongs to one runner, which writes everything but the
 * longest run with WRITE_ONCE(); debugfs reads those fields without a lock.
 * The longest run carries a symbol string, so it is written and read under
 * watch->lock, a leaf, which the runner takes only for a new longest run.
 * Each runner has its own watch (finq.c); debugfs adds them up.  Which
 * functions were reported slow is one table for all runners, under
 * dslab_reported_lock, another leaf, taken only for a slow run.
 *
 * No kernel address leaves this file: a function is printed as its symbol,
 * and one whose module has gone since prints as "(gone)", not as the
 * address sprint_symbol() would give.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <kunit/visibility.h>
#include <linux/bitops.h>
#include <linux/jiffies.h>
#include <linux/kallsyms.h>
#include <linux/ratelimit.h>
#include <linux/sched/clock.h>
#include <linux/slab.h>
#include <linux/seq_file.h>
#include <linux/string.h>

#include "dslab.h"

/* The longest run is forgotten after this long: "recent". */
#define DSLAB_WATCH_RECENT	(60 * HZ)

unsigned int dslab_slow_dtor_ms = 10;
EXPORT_SYMBOL_IF_KUNIT(dslab_slow_dtor_ms);

static DEFINE_RATELIMIT_STATE(dslab_slow_rs, 5 * HZ, 10);

/* Functions reported slow: each once, whichever runner ran it. */
static DEFINE_SPINLOCK(dslab_reported_lock);	/* a leaf */
static const void *dslab_reported[16];		/* dslab_reported_lock */
static unsigned int dslab_nr_reported;		/* dslab_reported_lock */

/**
 * dslab_watch_init() - a runner's watch, before its first call
 * @w: the watch
 *
 * Context: Process context.
 */
void dslab_watch_init(struct dslab_watch *w)
{
	memset(w, 0, sizeof(*w));
	w->slow_ns = U64_MAX;
	spin_lock_init(&w->lock);
}

/**
 * dslab_sym() - a code address as its symbol, never as the address
 * @buf: KSYM_SYMBOL_LEN bytes
 * @addr: the address
 * @offset: with "+offset/size" and the module, as %pS prints it
 *
 * Context: Any context.
 */
void dslab_sym(char *buf, unsigned long addr, bool offset)
{
	if (offset)
		sprint_symbol(buf, addr);
	else
		sprint_symbol_no_offset(buf, addr);
	/* Not found (its module went), or no kallsyms: no address. */
	if (!buf[0] || !strncmp(buf, "0x", 2))
		strscpy(buf, "(gone)", KSYM_SYMBOL_LEN);
}

/**
 * dslab_watch_reported() - has @fn been reported slow?
 * @fn: a destructor or cleanup
 * @add: remember it if not
 *
 * A full table reports every slow run, still rate-limited.
 *
 * Context: Process context (a runner, or KUnit).
 * Return: true if @fn was reported before.
 */
bool dslab_watch_reported(const void *fn, bool add)
{
	unsigned long flags;
	bool found = false;
	unsigned int i;

	spin_lock_irqsave(&dslab_reported_lock, flags);
	for (i = 0; i < dslab_nr_reported && !found; i++)
		found = dslab_reported[i] == fn;
	if (!found && add && dslab_nr_reported < ARRAY_SIZE(dslab_reported))
		dslab_reported[dslab_nr_reported++] = fn;
	spin_unlock_irqrestore(&dslab_reported_lock, flags);
	return found;
}
EXPORT_SYMBOL_IF_KUNIT(dslab_watch_reported);

static void dslab_watch_slow(struct dslab_watch *w, const void *fn,
			     int kind, u64 ns)
{
	WRITE_ONCE(w->slow, w->slow + 1);
	if (dslab_watch_reported(fn, true) || !__ratelimit(&dslab_slow_rs))
		return;
	/* @fn returned but its owner's pin is still held: %ps is safe. */
	pr_warn("slow %s %ps ran %llu ms (slow_dtor_ms=%u)\n",
		kind == DSLAB_SPECIAL_DTOR ? "destructor" : "cleanup",
		fn, div_u64(ns, NSEC_PER_MSEC), READ_ONCE(dslab_slow_dtor_ms));
}

static void dslab_watch_longest(struct dslab_watch *w, const void *fn, u64 ns)
{
	char sym[KSYM_SYMBOL_LEN];
	unsigned long flags;

	dslab_sym(sym, (unsigned long)fn, false);
	spin_lock_irqsave(&w->lock, flags);
	w->longest_ns = ns;
	w->longest_at = jiffies;
	strscpy(w->longest_sym, sym, sizeof(w->longest_sym));
	spin_unlock_irqrestore(&w->lock, flags);
}

/**
 * dslab_watch_note() - a sampled call, or one that ended in a later jiffy
 * @w: the runner's watch
 * @fn: the function, which returned
 * @kind: DSLAB_SPECIAL_DTOR or DSLAB_SPECIAL_CLEANUP
 *
 * dslab_watch_stop()'s rare case.  A sampled call is timed exactly and
 * counted in the histogram; any other is taken at the lower bound its
 * jiffies give (one tick less than they span), so a quick call that
 * straddles a tick is never called slow.
 *
 * Context: The runner, which owns @w; process context.
 */
void dslab_watch_note(struct dslab_watch *w, const void *fn, int kind)
{
	unsigned long ticks = jiffies - w->start;
	unsigned int b;
	u64 ns;

	if (!(w->calls % DSLAB_WATCH_SAMPLE)) {
		ns = local_clock() - w->t0;
		b = fls64(ns);
		b = b <= DSLAB_WATCH_SHIFT ? 0 :
		    min_t(unsigned int, b - DSLAB_WATCH_SHIFT,
			  DSLAB_WATCH_BUCKETS - 1);
		WRITE_ONCE(w->hist[b], w->hist[b] + 1);
	} else {
		ns = ticks > 1 ? jiffies_to_nsecs(ticks - 1) : 0;
	}
	if (ns >= w->slow_ns)
		dslab_watch_slow(w, fn, kind, ns);
	if (ns > w->longest_ns)
		dslab_watch_longest(w, fn, ns);
}

/**
 * dslab_watch_begin() - the runner starts calling destructors
 * @w: its watch
 *
 * Takes slow_dtor_ms for the calls that follow, and forgets a longest run
 * older than a minute, so that the next run replaces it.
 *
 * Context: The runner, which owns @w; process context.
 */
void dslab_watch_begin(struct dslab_watch *w)
{
	unsigned int ms = READ_ONCE(dslab_slow_dtor_ms);
	unsigned long flags;

	w->slow_ns = ms ? (u64)ms * NSEC_PER_MSEC : U64_MAX;
	if (w->longest_ns &&
	    time_after(jiffies, w->longest_at + DSLAB_WATCH_RECENT)) {
		spin_lock_irqsave(&w->lock, flags);
		w->longest_ns = 0;
		w->longest_sym[0] = '\0';
		spin_unlock_irqrestore(&w->lock, flags);
	}
}

/**
 * dslab_watch_sum() - every runner's watch added up
 * @sum: filled in: calls, slow runs and the histogram added, the longest
 *	recent run of any, and a function running now, if any
 *
 * Context: Process context.
 */
void dslab_watch_sum(struct dslab_watch *sum)
{
	struct dslab_watch *w;
	unsigned long flags;
	unsigned int i, b;

	dslab_watch_init(sum);
	for (i = 0; (w = dslab_runner_watch(i)); i++) {
		/* Pairs with smp_store_release() in dslab_watch_start(). */
		const void *fn = smp_load_acquire(&w->fn);

		if (fn && !sum->fn) {
			sum->fn = fn;
			sum->start = READ_ONCE(w->start);
		}
		sum->calls += READ_ONCE(w->calls);
		sum->slow += READ_ONCE(w->slow);
		for (b = 0; b < DSLAB_WATCH_BUCKETS; b++)
			sum->hist[b] += READ_ONCE(w->hist[b]);
		spin_lock_irqsave(&w->lock, flags);
		if (w->longest_ns > sum->longest_ns) {
			sum->longest_ns = w->longest_ns;
			sum->longest_at = w->longest_at;
			strscpy(sum->longest_sym, w->longest_sym,
				sizeof(sum->longest_sym));
		}
		spin_unlock_irqrestore(&w->lock, flags);
	}
}
EXPORT_SYMBOL_IF_KUNIT(dslab_watch_sum);

/**
 * dslab_watch_show_running() - print what one runner runs now
 * @m: the debugfs file
 * @w: its watch
 * @state: what the runner does, for the "state" line
 *
 * Context: Process context.
 */
void dslab_watch_show_running(struct seq_file *m, struct dslab_watch *w,
			      const char *state)
{
	char sym[KSYM_SYMBOL_LEN];
	const void *fn;
	unsigned long at;

	seq_printf(m, "state %s\n", state);
	/* Pairs with smp_store_release() in dslab_watch_start(). */
	fn = smp_load_acquire(&w->fn);
	if (fn) {
		at = READ_ONCE(w->start);
		dslab_sym(sym, (unsigned long)fn, false);
		seq_printf(m, "running %s\n", sym);
		seq_printf(m, "running_ms %u\n", jiffies_to_msecs(jiffies - at));
	} else {
		seq_puts(m, "running -\n");
		seq_puts(m, "running_ms 0\n");
	}
	seq_printf(m, "calls %lu\n", READ_ONCE(w->calls));
	seq_printf(m, "slow_runs %lu\n", READ_ONCE(w->slow));
}

/**
 * dslab_watch_show() - print every runner's watch added up
 * @m: the debugfs file
 *
 * Context: Process context.
 */
void dslab_watch_show(struct seq_file *m)
{
	struct dslab_watch *sum = kmalloc(sizeof(*sum), GFP_KERNEL);
	unsigned int b;

	if (!sum)
		return;
	dslab_watch_sum(sum);
	seq_printf(m, "calls %lu\n", sum->calls);
	seq_printf(m, "slow_runs %lu\n", sum->slow);
	seq_printf(m, "slow_dtor_ms %u\n", READ_ONCE(dslab_slow_dtor_ms));
	seq_printf(m, "longest_ns %llu\n", sum->longest_ns);
	seq_printf(m, "longest_fn %s\n",
		   sum->longest_sym[0] ? sum->longest_sym : "-");
	seq_printf(m, "longest_age_s %lu\n",
		   sum->longest_ns ? (jiffies - sum->longest_at) / HZ : 0);

	seq_printf(m, "histogram_one_call_in %u\n", DSLAB_WATCH_SAMPLE);
	for (b = 0; b < DSLAB_WATCH_BUCKETS - 1; b++)
		seq_printf(m, "run_ns_lt_%llu %lu\n",
			   1ULL << (b + DSLAB_WATCH_SHIFT), sum->hist[b]);
	seq_printf(m, "run_ns_ge_%llu %lu\n",
		   1ULL << (b - 1 + DSLAB_WATCH_SHIFT), sum->hist[b]);
	kfree(sum);
}
