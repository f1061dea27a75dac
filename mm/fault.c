// SPDX-License-Identifier: GPL-2.0
/*
 * dslab fault injection.
 *
 * Every allocation dslab makes for itself (span pages, span descriptors,
 * page-map leaves, per-object metadata, destructor and cleanup records,
 * FinBlocks) first asks dslab_should_fail().  Two sources can say yes:
 *
 *  - the standard fault attribute "fail" under /sys/kernel/debug/dslab/
 *    (probability, interval, times, task-filter, and the per-task
 *    /proc/<pid>/fail-nth), where the kernel has CONFIG_FAULT_INJECTION;
 *  - a deterministic countdown for one task, used by the KUnit sweeps:
 *    dslab_fault_fail_nth(n) makes the calling task's n-th dslab
 *    allocation fail, on every kernel.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <kunit/visibility.h>
#include <linux/debugfs.h>
#include <linux/sched.h>

#include "dslab.h"

/* === Data === */

#ifdef CONFIG_FAULT_INJECTION
static DECLARE_FAULT_ATTR(dslab_fail_attr);
#endif

/* The task the countdown applies to, and its countdown; test use only. */
static struct task_struct *dslab_fail_task;	/* written by that task */
static unsigned int dslab_fail_countdown;	/* touched only by it */
static unsigned long dslab_fail_hits;
/* Every allocation by every task fails while set; test use only. */
static bool dslab_fail_all;

/* === Internals === */

bool dslab_should_fail(gfp_t gfp, size_t size)
{
	/* Interrupts on the armed task's CPU must not eat its countdown. */
	if (unlikely(READ_ONCE(dslab_fail_task) == current) && in_task() &&
	    dslab_fail_countdown) {
		if (--dslab_fail_countdown == 0) {
			dslab_fail_hits++;
			return true;
		}
	}
	/* After the countdown, so that it still counts every attempt. */
	if (unlikely(READ_ONCE(dslab_fail_all)) && !(gfp & __GFP_NOFAIL))
		return true;
#ifdef CONFIG_FAULT_INJECTION
	if (gfp & __GFP_NOFAIL)
		return false;
	return should_fail(&dslab_fail_attr, size);
#else
	return false;
#endif
}

/* === Test interface (internal namespace) === */

/**
 * dslab_fault_fail_nth() - fail the calling task's @nth dslab allocation
 * @nth: 1 for the next allocation, 2 for the one after, ...; 0 disarms
 *
 * Context: Process context.  Only the calling task is affected.
 * Return: the number of failures injected so far by this mechanism.
 */
unsigned long dslab_fault_fail_nth(unsigned int nth)
{
	dslab_fail_countdown = nth;
	WRITE_ONCE(dslab_fail_task, nth ? current : NULL);
	return dslab_fail_hits;
}
EXPORT_SYMBOL_IF_KUNIT(dslab_fault_fail_nth);

/**
 * dslab_fault_pending() - allocations left before the armed failure
 *
 * Context: Process context, the task that armed it.
 * Return: 0 once the failure fired (or when unarmed), else the countdown.
 */
unsigned int dslab_fault_pending(void)
{
	return READ_ONCE(dslab_fail_task) == current ? dslab_fail_countdown : 0;
}
EXPORT_SYMBOL_IF_KUNIT(dslab_fault_pending);

/**
 * dslab_fault_fail_all() - make every dslab allocation fail, in every task
 * @on: true to start failing, false to stop
 *
 * For tests of the no-loss guarantee: with every allocation failing,
 * freeing objects must still run every destructor.  __GFP_NOFAIL
 * requests are spared.
 *
 * Context: Any context.
 */
void dslab_fault_fail_all(bool on)
{
	WRITE_ONCE(dslab_fail_all, on);
}
EXPORT_SYMBOL_IF_KUNIT(dslab_fault_fail_all);

/**
 * dslab_fault_all_failing() - is dslab_fault_fail_all() in force?
 *
 * Besides failing allocations, it makes the plain-RCU pool look dry, so
 * that tests reach dslab_free_rcu()'s limbo (finq.c).
 *
 * Context: Any context.
 * Return: true while every allocation fails.
 */
bool dslab_fault_all_failing(void)
{
	return READ_ONCE(dslab_fail_all);
}

/* === DebugFS Interface === */

void dslab_fault_debugfs_init(struct dentry *root)
{
#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
	struct dentry *d = fault_create_debugfs_attr("fail", root,
						     &dslab_fail_attr);

	if (IS_ERR(d))
		pr_warn("fault-injection debugfs unavailable: %ld\n",
			PTR_ERR(d));
#endif
}
