/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dslab FinBlocks: the record types and the append fast path.
 *
 * Internal to dslab: finq.c owns the queue and the runner (its header
 * comment has the design, the no-loss bound and the wake-up argument);
 * this header lets the free path (dtor.c) append a record to its CPU's
 * open block inline, without a call, and leaves through
 * dslab_finq_enqueue_slow() only when that block is full or missing.
 */
#ifndef _DSLAB_FINQ_H
#define _DSLAB_FINQ_H

#include <linux/percpu.h>
#include <linux/preempt.h>

#include "dslab.h"

/* === Data === */

struct dslab_finrec {
	void *obj;
	struct hlist_head list;		/* its cleanups (none in plain blocks) */
};

struct dslab_finblock {
	struct list_head list;		/* Q: free, pending or ready list */
	unsigned int nr;		/* records used (its CPU, or the leader) */
	unsigned int users;		/* Q: runners working on it */
	atomic_t claim;			/* the next record a runner takes */
	bool plain;			/* I: from the plain-RCU pool */
	struct dslab_finrec rec[];
};

#define DSLAB_FINBLOCK_RECORDS						\
	((PAGE_SIZE - sizeof(struct dslab_finblock)) / sizeof(struct dslab_finrec))

/* Context levels records are queued from: task, softirq, hardirq. */
#define DSLAB_FLEVELS	3

/*
 * Records being filled on one CPU at one context level.  L: written only
 * by that CPU at that level, between dslab_fcpu_enter() and _exit() (busy
 * set), or by the CPU's hand-over timer: on the CPU itself with
 * interrupts off, skipping a level that is busy, or by the CPU hotplug
 * callback once the CPU is dead.  A level is never
 * interrupted by itself, and the hand-over never runs inside an append
 * it could disturb, so appending needs neither a lock nor interrupts off.
 */
struct dslab_fcpu {
	struct dslab_finblock *open;		/* L: run as soon as possible */
	struct dslab_finblock *open_rcu;	/* L: run after a grace period */
	struct dslab_finblock *open_plain;	/* L: plain RCU frees */
	unsigned int nr;			/* L: records in open blocks */
	bool busy;				/* L: an append is under way */
};

DECLARE_PER_CPU(struct dslab_fcpu [DSLAB_FLEVELS], dslab_fcpu);

/*
 * === Appending (any context but NMI, preemption disabled or under
 * dslab_mag_lock) ===
 *
 * An append must not be preempted: another task on the CPU would append
 * at the same level.  The free paths run it with preemption off, or
 * under dslab_mag_lock, which only PREEMPT_RT leaves preemptible: there
 * preempt_disable_nested() closes the gap.
 */

/* This CPU's records at the caller's context level, marked busy. */
static __always_inline struct dslab_fcpu *dslab_fcpu_enter(void)
{
	unsigned int lvl;
	struct dslab_fcpu *fc;

	preempt_disable_nested();
	lockdep_assert_preemption_disabled();
	lvl = min_t(unsigned int, interrupt_context_level(), DSLAB_FLEVELS - 1);
	fc = this_cpu_ptr(&dslab_fcpu[lvl]);
	WRITE_ONCE(fc->busy, true);
	/* The hand-over interrupts us on this CPU: program order is enough. */
	barrier();
	return fc;
}

static __always_inline void dslab_fcpu_exit(struct dslab_fcpu *fc)
{
	barrier();
	WRITE_ONCE(fc->busy, false);
	preempt_enable_nested();
}

void dslab_finq_enqueue_slow(struct dslab_fcpu *fc, void *obj,
			     struct hlist_head *list, bool rcu);

/*
 * Append a record to @blk, an open block of @fc with room, moving @list
 * (NULL for none) into it.  True when it is the block's first record,
 * which has to kick the runner.
 */
static __always_inline bool dslab_fcpu_put(struct dslab_fcpu *fc,
					   struct dslab_finblock *blk,
					   void *obj, struct hlist_head *list)
{
	struct dslab_finrec *rec = &blk->rec[blk->nr++];

	rec->obj = obj;
	if (list)
		hlist_move_list(list, &rec->list);
	else
		INIT_HLIST_HEAD(&rec->list);
	WRITE_ONCE(fc->nr, fc->nr + 1);
	return blk->nr == 1;
}

/**
 * dslab_finq_enqueue() - queue a dead object for the runner
 * @obj: the object, no longer live; its destructor stays in its metadata
 * @list: its detached cleanups, moved into the record; NULL for none.
 *	One reserved slot covers them all.
 * @rcu: run them only after an RCU grace period
 *
 * The common case appends to an open block that already holds a record,
 * so it never has to kick the runner (the block's first record did).
 *
 * Context: Any context but NMI, preemption disabled or under
 * dslab_mag_lock.  Never allocates or fails.
 */
static __always_inline void dslab_finq_enqueue(void *obj,
					       struct hlist_head *list,
					       bool rcu)
{
	struct dslab_fcpu *fc = dslab_fcpu_enter();
	struct dslab_finblock *blk = rcu ? fc->open_rcu : fc->open;

	if (unlikely(!blk || !blk->nr || blk->nr == DSLAB_FINBLOCK_RECORDS)) {
		dslab_finq_enqueue_slow(fc, obj, list, rcu);
		return;
	}
	dslab_fcpu_put(fc, blk, obj, list);
	dslab_fcpu_exit(fc);
}

#endif /* _DSLAB_FINQ_H */
