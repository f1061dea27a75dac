// SPDX-License-Identifier: GPL-2.0
/*
 * dslab statistics.
 *
 * Counters are per CPU and updated with this_cpu_*() operations, so the
 * allocation fast path never writes a shared cache line for them.  Readers
 * sum over all possible CPUs; a sum taken while other CPUs run is a
 * snapshot, not a consistent cut, which is all debugfs needs.  The enum in
 * dslab.h and the name table below are tied by a static_assert.  The
 * objects in use of each small class are counted in that class's per-CPU
 * magazines, where the fast paths reach them (alloc.c,
 * dslab_class_inuse()).
 */
#define pr_fmt(fmt) "dslab: " fmt

#include "dslab.h"

/* === Data === */

DEFINE_PER_CPU(struct dslab_cpu_stats, dslab_cpu_stats);

const char *const dslab_stat_names[DSLAB_NR_STATS] = {
	[DSLAB_STAT_ALLOC]		= "allocations",
	[DSLAB_STAT_FREE]		= "frees",
	[DSLAB_STAT_ALLOC_FAIL]		= "failed_allocations",
	[DSLAB_STAT_BAD_FREE]		= "bad_frees",
	[DSLAB_STAT_DOUBLE_FREE]	= "double_frees",
	[DSLAB_STAT_INTERIOR_FREE]	= "interior_frees",
	[DSLAB_STAT_FOREIGN_FREE]	= "foreign_frees",
	[DSLAB_STAT_PAGES_PUT_BEHIND]	= "span_pages_put_by_others",
	[DSLAB_STAT_DEBUG_CORRUPTION]	= "debug_corruptions",
	[DSLAB_STAT_DTOR_SET]		= "destructors_registered",
	[DSLAB_STAT_DTOR_CLEARED]	= "destructors_removed",
	[DSLAB_STAT_DTOR_REFUSED]	= "registrations_refused",
	[DSLAB_STAT_CLEANUP_ADDED]	= "cleanups_added",
	[DSLAB_STAT_CLEANUP_CANCELLED]	= "cleanups_cancelled",
	[DSLAB_STAT_OBJ_QUEUED]		= "objects_queued",
	[DSLAB_STAT_DTOR_RUN]		= "destructors_run",
	[DSLAB_STAT_CLEANUP_RUN]	= "cleanups_run",
	[DSLAB_STAT_RCU_FREED]		= "rcu_frees",
	[DSLAB_STAT_RCU_LIMBO]		= "rcu_frees_limbo",
	[DSLAB_STAT_RUNNER_WAKEUPS]	= "runner_wakeups",
	[DSLAB_STAT_HANDOVERS]		= "finq_handovers",
	[DSLAB_STAT_THROTTLED]		= "registrations_throttled",
	[DSLAB_STAT_SPANS_ALLOCATED]	= "spans_allocated",
	[DSLAB_STAT_SPANS_FREED]	= "spans_freed",
	[DSLAB_STAT_REMOTE_FREES]	= "remote_frees",
};
EXPORT_SYMBOL_NS_GPL(dslab_stat_names, DSLAB_NS);
static_assert(ARRAY_SIZE(dslab_stat_names) == DSLAB_NR_STATS);

/* Pages of spans currently held (not FinBlocks or metadata). */
atomic_long_t dslab_pages_held = ATOMIC_LONG_INIT(0);
EXPORT_SYMBOL_NS_GPL(dslab_pages_held, DSLAB_NS);

/* === Public interface (internal namespace) === */

/**
 * dslab_stat_read() - sum one counter over all CPUs
 * @item: the counter
 *
 * Context: Any context.
 * Return: the counter's value since load or the last dslab_stats_reset().
 */
u64 dslab_stat_read(enum dslab_stat_item item)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu) {
		/* Other CPUs update their counters meanwhile: a snapshot. */
		sum += data_race(per_cpu(dslab_cpu_stats, cpu).item[item]);
	}
	return sum;
}
EXPORT_SYMBOL_NS_GPL(dslab_stat_read, DSLAB_NS);

/**
 * dslab_objects_inuse() - objects allocated and not yet released
 *
 * Counts objects freed with destructors still pending as in use: their
 * memory is still held.
 *
 * Context: Any context.
 * Return: the number of objects.
 */
long dslab_objects_inuse(void)
{
	long sum = 0;
	unsigned int c;

	for (c = 0; c <= DSLAB_CLASS_LARGE; c++)
		sum += dslab_class_inuse(c);
	return sum;
}
EXPORT_SYMBOL_NS_GPL(dslab_objects_inuse, DSLAB_NS);

/**
 * dslab_stats_reset() - zero the event counters
 *
 * Gauges (objects in use, pages held) are not reset.
 *
 * Context: Process context.
 */
void dslab_stats_reset(void)
{
	int cpu, i;

	for_each_possible_cpu(cpu) {
		for (i = 0; i < DSLAB_NR_STATS; i++) {
			/* Racing an update may lose that one event: harmless. */
			data_race(per_cpu(dslab_cpu_stats, cpu).item[i] = 0);
		}
	}
}
EXPORT_SYMBOL_NS_GPL(dslab_stats_reset, DSLAB_NS);
