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
 * can say what runs now and for how long; it reads local_clock() before
 * and after; it counts the time in a histogram of powers of two; it keeps
 * the longest run of the last minute with its symbol; and it reports a run
 * longer than slow_dtor_ms once per function, rate-limited.
 *
 * Locks: a watch belongs to one runner, which writes everything but the
 * longest run with WRITE_ONCE(); debugfs reads those fields without a lock.
 * The longest run carries a symbol string, so it is written and read under
 * watch->lock, a leaf, which the runner takes only for a new longest run.
 *
 * No kernel address leaves this file: a function is printed as its symbol,
 * and one whose module has gone since prints as "(gone)", not as the
 * address sprint_symbol() would give.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <kunit/visibility.h>
#include <linux/jiffies.h>
#include <linux/kallsyms.h>
#include <linux/log2.h>
#include <linux/ratelimit.h>
#include <linux/sched/clock.h>
#include <linux/seq_file.h>
#include <linux/string.h>

#include "dslab.h"

/* The longest run is forgotten after this long: "recent". */
#define DSLAB_WATCH_RECENT	(60 * HZ)

unsigned int dslab_slow_dtor_ms = 10;
EXPORT_SYMBOL_IF_KUNIT(dslab_slow_dtor_ms);

struct dslab_watch dslab_runner_watch = {
	.lock = __SPIN_LOCK_UNLOCKED(dslab_runner_watch.lock),
};
EXPORT_SYMBOL_IF_KUNIT(dslab_runner_watch);

static DEFINE_RATELIMIT_STATE(dslab_slow_rs, 5 * HZ, 10);

/* Histogram bucket of a run of @ns: below 1024 ns, then powers of two. */
static unsigned int dslab_watch_bucket(u64 ns)
{
	unsigned int b = fls64(ns);

	if (b <= DSLAB_WATCH_SHIFT)
		return 0;
	return min_t(unsigned int, b - DSLAB_WATCH_SHIFT,
		     DSLAB_WATCH_BUCKETS - 1);
}

/* @fn's symbol in @buf (KSYM_SYMBOL_LEN), never its address. */
static void dslab_watch_sym(char *buf, const void *fn)
{
	sprint_symbol_no_offset(buf, (unsigned long)fn);
	/* Not found (its module went), or no kallsyms: no address. */
	if (!buf[0] || !strncmp(buf, "0x", 2))
		strscpy(buf, "(gone)", KSYM_SYMBOL_LEN);
}

/* Has @fn been reported before?  Remembers it if not (runner only). */
static bool dslab_watch_reported(struct dslab_watch *w, const void *fn)
{
	unsigned int i;

	for (i = 0; i < w->nr_reported; i++)
		if (w->reported[i] == fn)
			return true;
	/* A full table reports every slow run, still rate-limited. */
	if (w->nr_reported < ARRAY_SIZE(w->reported))
		w->reported[w->nr_reported++] = fn;
	return false;
}

static void dslab_watch_slow(struct dslab_watch *w, const void *fn,
			     int kind, u64 ns)
{
	WRITE_ONCE(w->slow, w->slow + 1);
	if (dslab_watch_reported(w, fn) || !__ratelimit(&dslab_slow_rs))
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

	dslab_watch_sym(sym, fn);
	spin_lock_irqsave(&w->lock, flags);
	w->longest_ns = ns;
	w->longest_at = jiffies;
	strscpy(w->longest_sym, sym, sizeof(w->longest_sym));
	spin_unlock_irqrestore(&w->lock, flags);
}

/**
 * dslab_watch_stop() - account a destructor or cleanup that returned
 * @w: the runner's watch
 * @fn: the function, as given to dslab_watch_start()
 * @kind: DSLAB_SPECIAL_DTOR or DSLAB_SPECIAL_CLEANUP
 * @t0: dslab_watch_start()'s result
 *
 * Context: The runner, which owns @w; process context.
 * Return: how long @fn ran, in nanoseconds.
 */
u64 dslab_watch_stop(struct dslab_watch *w, const void *fn, int kind, u64 t0)
{
	u64 ns = local_clock() - t0;
	unsigned int b = dslab_watch_bucket(ns);
	unsigned int slow_ms = READ_ONCE(dslab_slow_dtor_ms);

	WRITE_ONCE(w->fn, NULL);
	WRITE_ONCE(w->hist[b], w->hist[b] + 1);
	if (unlikely(slow_ms && ns >= (u64)slow_ms * NSEC_PER_MSEC))
		dslab_watch_slow(w, fn, kind, ns);
	/* Only the runner writes them: reading without the lock is fine. */
	if (unlikely(ns > w->longest_ns ||
		     time_after(jiffies, w->longest_at + DSLAB_WATCH_RECENT)))
		dslab_watch_longest(w, fn, ns);
	return ns;
}

/**
 * dslab_watch_show() - print a runner's watch
 * @m: the debugfs file
 * @w: the watch
 * @state: what the runner does, for the "state" line
 *
 * Context: Process context.
 */
void dslab_watch_show(struct seq_file *m, struct dslab_watch *w,
		      const char *state)
{
	char sym[KSYM_SYMBOL_LEN];
	unsigned long flags, at;
	const void *fn;
	unsigned int b;
	u64 ns;

	seq_printf(m, "state %s\n", state);
	fn = READ_ONCE(w->fn);
	if (fn) {
		ns = local_clock() - READ_ONCE(w->t0);
		dslab_watch_sym(sym, fn);
		seq_printf(m, "running %s\n", sym);
		seq_printf(m, "running_ms %llu\n", div_u64(ns, NSEC_PER_MSEC));
	} else {
		seq_puts(m, "running -\n");
		seq_puts(m, "running_ms 0\n");
	}
	seq_printf(m, "slow_runs %lu\n", READ_ONCE(w->slow));
	seq_printf(m, "slow_dtor_ms %u\n", READ_ONCE(dslab_slow_dtor_ms));

	spin_lock_irqsave(&w->lock, flags);
	ns = w->longest_ns;
	at = w->longest_at;
	strscpy(sym, w->longest_sym[0] ? w->longest_sym : "-", sizeof(sym));
	spin_unlock_irqrestore(&w->lock, flags);
	seq_printf(m, "longest_ns %llu\n", ns);
	seq_printf(m, "longest_fn %s\n", sym);
	seq_printf(m, "longest_age_s %lu\n", ns ? (jiffies - at) / HZ : 0);

	for (b = 0; b < DSLAB_WATCH_BUCKETS - 1; b++)
		seq_printf(m, "run_ns_lt_%llu %lu\n",
			   1ULL << (b + DSLAB_WATCH_SHIFT), READ_ONCE(w->hist[b]));
	seq_printf(m, "run_ns_ge_%llu %lu\n",
		   1ULL << (b - 1 + DSLAB_WATCH_SHIFT), READ_ONCE(w->hist[b]));
}
