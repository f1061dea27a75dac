// SPDX-License-Identifier: GPL-2.0
/*
 * dslab FinBlock queue, its leader and the destructor runners.
 *
 * This is the Go runtime's finq/finc/allfin and runfinq (mfinal.go's
 * queuefinalizer, createfing and runfinq), in the kernel, with Go 1.25's
 * parallel cleanup queue (mcleanup.go) and the workqueue's answer to a
 * work item that sleeps.  A FinBlock is a
 * page of records, one per freed object with destructors or cleanups (its
 * detached list of specials) or per plain object freed through
 * dslab_free_rcu().  Records are placed on an open block of the freeing
 * CPU with no lock and without disabling interrupts: each CPU has its
 * open blocks per context level (task, softirq, hardirq), a level never
 * interrupts itself, and an append marks its level busy while it runs.
 * A full block goes straight to the runners' ready list (an RCU or plain
 * one to a pending list, for the leader).  Partly filled ones are handed over
 * by their own CPU, as kvfree_rcu()'s per-CPU page blocks are drained by
 * work of that CPU: the first record of an open block arms the CPU's
 * pinned hand-over timer, which a jiffy later, in softirq on that CPU
 * with interrupts off, moves the CPU's partly filled blocks to the
 * pending lists and kicks the leader.  It skips a level it interrupted
 * in an append and tries again a tick later.  So no record waits long
 * for a block to fill, a CPU that frees a trickle and goes idle is served
 * within a jiffy, the free path takes no per-CPU lock, and no CPU is ever
 * interrupted for another's records: no IPI, nothing for nohz_full or
 * isolated CPUs but their own timer after their own frees.  A barrier
 * hands its own CPU's blocks over at once and waits for the others'
 * timers.  A CPU that goes offline with records in its open blocks has
 * them handed over by the CPU hotplug callback (dslab_finq_cpu_dead(),
 * main.c) once it is dead, and comes back with none.
 *
 * No loss.  Registration reserves a record slot (dslab_finq_reserve()),
 * and the pool of blocks is kept at least
 *	ceil(reserved / records per block) + (6 * L + 1) * nr_cpu_ids + 3 + R
 * blocks, L = 3 context levels, R runners.  Partly filled blocks are the
 * only waste: each CPU's open and open-RCU block at each level (2Ln);
 * blocks handed over and not yet taken by the leader (2Ln at most:
 * dslab_handed_max holds a hand-over back beyond that); the immediate
 * blocks the leader took last and the runners have not claimed to their
 * last record (2Ln at most, what was handed over; taken RCU blocks are
 * compacted into their generation before anything runs); blocks the
 * runners still finish (R: the leader takes blocks handed over only once
 * every record taken before is claimed, and a runner works on one block
 * at a time); and the last block of the next and the in-flight RCU
 * generation (2), plus one for rounding: 6Ln + 3 + R, with n blocks to
 * spare.  So dslab_finq_enqueue()
 * always finds a block and never allocates.  Plain dslab_free_rcu()
 * records use a separate pool that the leader tops up in process context.
 *
 * Limbo.  When that pool is dry, a plain dslab_free_rcu() must still not
 * write the object: RCU readers may be reading it until the grace period
 * ends.  So nothing is linked through it.  The free sets the object's bit
 * in its span's limbo bitmap (allocated with the span, after live[]) and
 * puts the span, once, on a lock-free list.  The leader takes the list
 * and moves each bit to a record of the next RCU generation, in blocks it
 * may allocate in process context; when even that fails it waits for a
 * grace period itself and releases those objects.  No link, no
 * allocation, no loss.  The ordering argument is at dslab_limbo_add().
 *
 * The leader ("dslab_finq") is one kthread, created once at load.  It
 * takes blocks handed over partly filled as soon as the runners have
 * claimed what it gave them before, and RCU and plain blocks whenever it
 * runs.  So a stream of frees costs a CPU one timer per jiffy at most,
 * and a runner wake-up per full block when none is at work, not one per
 * object.  A pass hands the immediate blocks to the runners (the ready
 * list), moves RCU records to a generation that waits for one grace
 * period (one call_rcu() for the whole generation, like kvfree_rcu()'s
 * page-sized bulk blocks) and hands a generation whose grace period
 * ended to the runners too.  The leader calls no destructor, so nothing
 * a destructor does can stall it.
 *
 * Runners ("dslab_runner/N") run the records of ready blocks
 * (dslab_dtor_run_claimed(), cond_resched() between them when one is due)
 * and give their objects back to the central lists a batch at a time
 * (dslab_release_objects()).  Blocks are taken whole; a runner takes one
 * that no runner works on, and joins one only when each has runners.  The
 * runners on one block claim its records one at a time with an atomic
 * increment, so each runs exactly once, and one stuck in a record holds
 * back none of the others.  dslab_runners_at_once = max(nr_cpu_ids / 4, 1)
 * work at once, Go's bound for its cleanup goroutines (the destructors
 * are the rest of the system's overhead, not its work), and
 * DSLAB_RUNNERS_SPARE more stand by: a runner that has been on one block
 * for more than a tick, asleep in a destructor or just slow, does not
 * count as working, so the leader, which looks every tick while blocks
 * wait, wakes another to join that block or take the next.  Runners
 * sleep again when nothing is ready.  Order across runners, even within
 * one block, is unspecified.
 *
 * No lost wake-up (Go's fingwait/fingwake).  The leader sets its task
 * state, then dslab_leader_sleeping = true, then smp_mb(), then checks
 * for work, and only then schedule()s.  Whoever makes work for it (an
 * append that fills an RCU or plain block, a hand-over, the RCU callback,
 * a limbo free, a barrier) publishes it, then smp_mb(), then reads
 * dslab_leader_sleeping and, if set, clears it with xchg() and wakes the
 * leader.  Both sides store then load with a full barrier between, so at
 * least one sees the other's store: either the leader sees the work and
 * does not sleep, or the other side sees the flag and wakes it; a wake-up
 * between the check and schedule() leaves the task runnable, so
 * schedule() returns at once.  A record that does not fill its block
 * kicks nobody: the block's first record armed the hand-over timer,
 * which pends the block with every record it holds by then, and a later
 * record goes into a new block and arms it again.  Blocks handed over
 * become due when the ready list is empty: the runner that takes the
 * last block off it kicks the leader the same way, and so does the
 * runner that finishes the last dispatched block, for a flush waiting on
 * it.  A runner sleeps in
 * rcuwait_wait_event() until its busy flag is set: it clears the flag
 * under dslab_finq.lock only when it found no ready block there, and
 * whoever queues blocks there (the leader, an append that filled a block,
 * a runner that took a block with more waiting) sets it under the lock
 * after queueing them, then calls rcuwait_wake_up(), whose full barrier
 * pairs with the one in the runner's set_current_state().
 *
 * Lock order: dslab_finq.lock is a raw spinlock, taken with interrupts
 * off: a block fills inside an append, which runs with preemption off
 * even on PREEMPT_RT, so a sleeping lock cannot be taken there.  Its
 * sections are short list and counter updates that never allocate or
 * free, and it nests inside nothing of this file; the only call made
 * under it is the runners' wake-up (rcuwait_wake_up(), which takes the
 * scheduler's raw locks).  No runner holds a lock while it runs a record.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <kunit/visibility.h>
#include <linux/cpu.h>
#include <linux/kthread.h>
#include <linux/llist.h>
#include <linux/rcupdate.h>
#include <linux/rcuwait.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/seq_file.h>
#include <linux/smp.h>
#include <linux/wait.h>

#include <trace/events/dslab.h>

#include "dslab.h"
#include "finq.h"

/* === Data === */

DEFINE_PER_CPU(struct dslab_fcpu [DSLAB_FLEVELS], dslab_fcpu);

static struct dslab_fcpu *dslab_fcpu_of(int cpu, unsigned int lvl)
{
	return per_cpu_ptr(&dslab_fcpu[lvl], cpu);
}

/* The global block lists (legend in dslab.h). */
static struct {
	raw_spinlock_t lock;		/* Q: protects the fields below */
	struct list_head free;		/* Q: empty reserved-pool blocks */
	struct list_head free_plain;	/* Q: empty plain-pool blocks */
	struct list_head pending_rcu;	/* Q: full blocks, run after a GP */
	struct list_head pending_plain;	/* Q: full plain blocks */
	struct list_head pending_handed;	/* Q: handed over, run now */
	unsigned long nr_blocks;	/* Q: reserved-pool blocks */
	unsigned long nr_free;		/* Q */
	unsigned long nr_plain;		/* Q: plain-pool blocks */
	unsigned long nr_free_plain;	/* Q */
	unsigned long nr_pending;	/* Q: blocks on the pending lists */
	unsigned long pending_records;	/* Q: their records, but handed */
	unsigned long nr_handed;	/* Q: blocks on pending_handed */
	unsigned long handed_records;	/* Q: records in them */
	unsigned long handed_rcu;	/* Q: partly filled on pending_rcu */
	unsigned long reserved;		/* Q: record slots promised */
	unsigned long barrier_req;	/* Q: barrier requests issued */
	struct list_head ready;		/* Q: dispatched, records unclaimed */
	unsigned long nr_ready;		/* Q: blocks on it */
	unsigned long nr_running;	/* Q: dispatched, not yet recycled */
	unsigned long held;		/* Q: records taken, not yet run */
} dslab_finq;

/* Written by the leader only; read by stats and barrier waiters. */
static unsigned long dslab_barrier_done;
static unsigned long dslab_largest_batch;
static const char *dslab_leader_state = "starting";
static DECLARE_WAIT_QUEUE_HEAD(dslab_barrier_wq);

static struct task_struct *dslab_leader;
static int dslab_leader_sleeping;	/* see the wake-up argument above */

/* A CPU's hand-over timer; see dslab_handover_fn(). */
struct dslab_handover {
	struct timer_list timer;
	int cpu;			/* I: the CPU it serves */
};

static DEFINE_PER_CPU(struct dslab_handover, dslab_handover);
static unsigned int dslab_handed_max;	/* I: 2 * L * nr_cpu_ids */

/* KUnit: hand-overs wait, as if every level were busy. */
bool dslab_handover_held;
EXPORT_SYMBOL_IF_KUNIT(dslab_handover_held);

/*
 * Runners beyond dslab_runners_at_once, for destructors that sleep: up to
 * this many may be stalled before the rest of the backlog waits.
 */
#define DSLAB_RUNNERS_SPARE	4

/* A runner: a kthread that runs the records of dispatched blocks. */
struct dslab_runner {
	struct task_struct *task;	/* I */
	struct rcuwait wait;		/* it sleeps here while idle */
	bool busy;			/* Q: has a block or is woken for one */
	unsigned long since;		/* Q: jiffies it took its block */
	const char *state;		/* R */
	unsigned long ran;		/* R: records since it woke */
	u64 dtor_ns;			/* R: time in its blocks */
	struct dslab_watch watch;	/* R: see watch.c */
};

static struct dslab_runner *dslab_runners;	/* I: dslab_nr_runners */
static unsigned int dslab_nr_runners;		/* I */
static unsigned int dslab_runners_at_once;	/* I: not stalled, at most */

/* RCU generations: runner-private, except what the callback writes. */
static LIST_HEAD(dslab_rcu_next);		/* waiting for call_rcu() */
static LIST_HEAD(dslab_plain_next);
static LIST_HEAD(dslab_rcu_inflight);		/* waiting for its GP */
static LIST_HEAD(dslab_plain_inflight);
static unsigned long dslab_rcu_inflight_gen, dslab_rcu_issued;
static unsigned long dslab_rcu_cb_gen;		/* gen the callback completes */
static unsigned long dslab_rcu_done;		/* written by the callback */
static bool dslab_rcu_cb_pending;		/* runner sets, callback clears */
static struct rcu_head dslab_rcu_head;

/* Spans with limbo bits set; see the header and dslab_limbo_add(). */
static LLIST_HEAD(dslab_limbo);
static atomic_long_t dslab_limbo_nr;		/* objects in limbo */

int dslab_runner_nice;
static unsigned int dslab_plain_pool_min;

static void dslab_finq_exit_blocks(void);

/* === Internals: blocks === */

static unsigned long dslab_blocks_needed(unsigned long reserved)
{
	return DIV_ROUND_UP(reserved, DSLAB_FINBLOCK_RECORDS) +
	       (6 * DSLAB_FLEVELS + 1) * nr_cpu_ids + 3 + dslab_nr_runners;
}

static struct dslab_finblock *dslab_block_alloc(gfp_t gfp, bool plain)
{
	struct dslab_finblock *blk;

	if (dslab_should_fail(gfp, PAGE_SIZE))
		return NULL;
	blk = kmalloc(PAGE_SIZE, (gfp & DSLAB_GFP_META) | __GFP_NOWARN);
	if (!blk)
		return NULL;
	INIT_LIST_HEAD(&blk->list);
	blk->nr = 0;
	blk->users = 0;
	atomic_set(&blk->claim, 0);
	blk->plain = plain;
	return blk;
}

static void dslab_block_put(struct dslab_finblock *blk)
{
	lockdep_assert_held(&dslab_finq.lock);
	blk->nr = 0;
	atomic_set(&blk->claim, 0);
	/*
	 * At the tail: the block the runner just cleared is reused last, not
	 * first, so a freeing CPU rarely writes lines still dirty in the
	 * runner's cache.
	 */
	if (blk->plain) {
		list_add_tail(&blk->list, &dslab_finq.free_plain);
		dslab_finq.nr_free_plain++;
	} else {
		list_add_tail(&blk->list, &dslab_finq.free);
		dslab_finq.nr_free++;
	}
}

static struct dslab_finblock *dslab_block_get(bool plain)
{
	struct list_head *head = plain ? &dslab_finq.free_plain : &dslab_finq.free;
	struct dslab_finblock *blk;

	lockdep_assert_held(&dslab_finq.lock);
	blk = list_first_entry_or_null(head, struct dslab_finblock, list);
	if (!blk)
		return NULL;
	list_del_init(&blk->list);
	if (plain)
		dslab_finq.nr_free_plain--;
	else
		dslab_finq.nr_free--;
	return blk;
}

/* Grow the reserved pool until it covers the reservations. */
static int dslab_pool_fill(gfp_t gfp)
{
	struct dslab_finblock *blk;
	unsigned long flags;

	for (;;) {
		raw_spin_lock_irqsave(&dslab_finq.lock, flags);
		if (dslab_finq.nr_blocks >=
		    dslab_blocks_needed(dslab_finq.reserved)) {
			raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
			return 0;
		}
		raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);

		blk = dslab_block_alloc(gfp, false);
		if (!blk)
			return -ENOMEM;
		raw_spin_lock_irqsave(&dslab_finq.lock, flags);
		dslab_finq.nr_blocks++;
		dslab_block_put(blk);
		raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
	}
}

/* Top up the plain-RCU pool; runner and init only. */
static void dslab_plain_pool_fill(gfp_t gfp)
{
	struct dslab_finblock *blk;
	unsigned long flags;

	/* Unlocked peek; a stale value only changes how much we top up. */
	while (data_race(dslab_finq.nr_free_plain) < dslab_plain_pool_min) {
		blk = dslab_block_alloc(gfp, true);
		if (!blk)
			return;
		raw_spin_lock_irqsave(&dslab_finq.lock, flags);
		dslab_finq.nr_plain++;
		dslab_block_put(blk);
		raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
	}
}

/* === Internals: wake-up === */

static void dslab_leader_kick(void)
{
	/* Pairs with smp_mb() in dslab_leader_arm(); see the header. */
	smp_mb();
	if (READ_ONCE(dslab_leader_sleeping) &&
	    xchg(&dslab_leader_sleeping, 0))
		wake_up_process(dslab_leader);
}

/* === Queueing (any context but NMI) === */

/* A block's first record: its CPU hands it over within a jiffy. */
static void dslab_handover_arm(void)
{
	struct timer_list *t = this_cpu_ptr(&dslab_handover.timer);

	if (!timer_pending(t))
		mod_timer(t, jiffies + 1);
}

/* Arm @h's timer on its own CPU from another (CPU hotplug only). */
static void dslab_handover_rearm(struct dslab_handover *h)
{
	h->timer.expires = jiffies + 1;
	add_timer_on(&h->timer, h->cpu);
}

static void dslab_runners_balance(void);

/*
 * A full open block; its records leave the CPU's count.  An immediate one
 * (@pending NULL) goes straight to the runners, waking one if none is at
 * work: a full block wastes no slot, so it need not wait for the leader.
 * Others go to @pending, and the caller kicks the leader.
 */
static void dslab_block_full(struct dslab_fcpu *fc, struct dslab_finblock *blk,
			     struct list_head *pending)
{
	lockdep_assert_held(&dslab_finq.lock);
	WRITE_ONCE(fc->nr, fc->nr - blk->nr);
	if (!pending) {
		list_add_tail(&blk->list, &dslab_finq.ready);
		WRITE_ONCE(dslab_finq.nr_ready, dslab_finq.nr_ready + 1);
		WRITE_ONCE(dslab_finq.nr_running, dslab_finq.nr_running + 1);
		dslab_finq.held += blk->nr;
		dslab_runners_balance();
		return;
	}
	list_add_tail(&blk->list, pending);
	WRITE_ONCE(dslab_finq.nr_pending, dslab_finq.nr_pending + 1);
	dslab_finq.pending_records += blk->nr;
}

/*
 * The open block at @slot, with room for a record: a full one goes to the
 * runners, or with @pending to @pending (and *@kick is set), and a new
 * one comes from the pool (@plain: the plain-RCU pool).  NULL when that
 * pool is empty.
 */
static struct dslab_finblock *dslab_fcpu_block(struct dslab_fcpu *fc,
					       struct dslab_finblock **slot,
					       struct list_head *pending,
					       bool plain, bool *kick)
{
	struct dslab_finblock *blk = *slot;
	unsigned long flags;

	*kick = false;
	if (blk && blk->nr < DSLAB_FINBLOCK_RECORDS)
		return blk;
	*kick = blk && pending;
	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	if (blk)
		dslab_block_full(fc, blk, pending);
	blk = dslab_block_get(plain);
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
	*slot = blk;
	return blk;
}

/**
 * dslab_finq_enqueue_slow() - queue a record that needs a new open block
 * @fc: the caller's level, from dslab_fcpu_enter(); left by this function
 * @obj: the object, no longer live; its destructor stays in its metadata
 * @list: its detached cleanups, moved into the record; NULL for none
 * @rcu: run them only after an RCU grace period
 *
 * The out-of-line part of dslab_finq_enqueue() (finq.h): the open block is
 * full or missing.
 *
 * Context: Any context but NMI, preemption disabled or under
 * dslab_mag_lock.  Never allocates.
 */
void dslab_finq_enqueue_slow(struct dslab_fcpu *fc, void *obj,
			     struct hlist_head *list, bool rcu)
{
	struct dslab_finblock *blk;
	bool kick;

	blk = dslab_fcpu_block(fc, rcu ? &fc->open_rcu : &fc->open,
			       rcu ? &dslab_finq.pending_rcu : NULL, false, &kick);
	/* The reservation guarantees a block; see the header. */
	if (!WARN_ON_ONCE(!blk) && dslab_fcpu_put(fc, blk, obj, list))
		dslab_handover_arm();
	dslab_fcpu_exit(fc);
	if (kick)
		dslab_leader_kick();
}

/*
 * Put object @idx of @span in limbo (see the header).  The bit is set
 * before the span is queued, with a full barrier between, and
 * dslab_limbo_take_span() clears the queued flag before it reads the bits
 * again, with a full barrier between: so either this free sees the flag
 * clear and queues the span, or the runner sees the bit and queues it
 * again.  A queued span always has a bit set that only the runner clears,
 * after it took the span off the list: the object is not free, so the
 * span cannot go away while it is queued.
 */
static void dslab_limbo_add(struct dslab_span *span, unsigned int idx)
{
	atomic_long_inc(&dslab_limbo_nr);
	set_bit(idx, dslab_span_limbo(span));
	/* Bit before flag; pairs with the barrier in dslab_limbo_take_span(). */
	smp_mb__after_atomic();
	if (!test_and_set_bit(0, &span->limbo_queued))
		llist_add(&span->limbo_node, &dslab_limbo);
	dslab_stat_inc(DSLAB_STAT_RCU_LIMBO);
}

/**
 * dslab_finq_enqueue_rcu_plain() - free a plain object after a GP
 * @span: its span
 * @idx: its index in @span
 * @obj: the object, no longer live, with no specials
 *
 * Never writes @obj: readers may still be using it.
 *
 * Context: Any context but NMI, preemption disabled or under
 * dslab_mag_lock.  Never allocates.
 */
void dslab_finq_enqueue_rcu_plain(struct dslab_span *span, unsigned int idx,
				  void *obj)
{
	struct dslab_fcpu *fc = dslab_fcpu_enter();
	struct dslab_finblock *blk = NULL;
	bool kick = false;

	dslab_stat_inc(DSLAB_STAT_RCU_FREED);
	/* Fault injection (dslab_fault_fail_all()) makes the pool look dry. */
	if (likely(!dslab_fault_all_failing()))
		blk = dslab_fcpu_block(fc, &fc->open_plain,
				       &dslab_finq.pending_plain, true, &kick);
	if (!blk) {
		dslab_limbo_add(span, idx);
		kick = true;
	} else if (dslab_fcpu_put(fc, blk, obj, NULL)) {
		dslab_handover_arm();
	}
	dslab_fcpu_exit(fc);
	if (kick)
		dslab_leader_kick();
}

/*
 * Backpressure.  Go's finalizer queue has none (golang/go#1671): a task
 * that registers destructors faster than they run grows the backlog, and
 * the memory behind it, without bound.  Like balance_dirty_pages(), a
 * registration that may sleep waits, a tick at a time, while more than
 * backlog_max records wait for the runners, at most 200 ms (its
 * MAX_PAUSE), so a registrant holding something a destructor needs is
 * slowed, never deadlocked.  Atomic registrations and the runners' own
 * are never held.  The backlog counted is what the leader holds or has
 * pending; open blocks add at most a block per CPU, level and kind.
 */
unsigned int dslab_backlog_max = 65536;
EXPORT_SYMBOL_IF_KUNIT(dslab_backlog_max);

#define DSLAB_THROTTLE_MAX_PAUSE	(HZ / 5)

static bool dslab_backlog_over(void)
{
	unsigned int max = READ_ONCE(dslab_backlog_max);

	/* An estimate: the sum is read without dslab_finq.lock. */
	return max && data_race(dslab_finq.pending_records +
				dslab_finq.handed_records + dslab_finq.held) > max;
}

static void dslab_finq_throttle(void)
{
	unsigned long end = jiffies + DSLAB_THROTTLE_MAX_PAUSE;

	if (!dslab_backlog_over() || dslab_in_runner())
		return;
	dslab_stat_inc(DSLAB_STAT_THROTTLED);
	do {
		schedule_timeout_killable(1);
	} while (dslab_backlog_over() && time_before(jiffies, end) &&
		 !fatal_signal_pending(current));
}

/**
 * dslab_finq_reserve() - promise one record slot
 * @gfp: flags for growing the pool; when they allow sleeping, a backlog
 *	beyond backlog_max holds the caller up to 200 ms first
 *
 * Context: As @gfp allows.
 * Return: 0, or -ENOMEM with nothing reserved.
 */
int dslab_finq_reserve(gfp_t gfp)
{
	unsigned long flags;

	if (gfpflags_allow_blocking(gfp))
		dslab_finq_throttle();

	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	dslab_finq.reserved++;
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
	if (dslab_pool_fill(gfp)) {
		dslab_finq_unreserve();
		return -ENOMEM;
	}
	return 0;
}

/**
 * dslab_finq_unreserve() - give a record slot back
 *
 * Context: Any context.
 */
void dslab_finq_unreserve(void)
{
	dslab_finq_unreserve_n(1);
}

/**
 * dslab_finq_unreserve_n() - give @n record slots back
 * @n: how many
 *
 * Context: Any context.
 */
void dslab_finq_unreserve_n(unsigned long n)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	if (!WARN_ON_ONCE(dslab_finq.reserved < n))
		dslab_finq.reserved -= n;
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
}

/* === Hand-over: a CPU gives its open blocks to the leader === */

/* What the leader takes in one pass, or a hand-over gives. */
struct dslab_loot {
	struct list_head now, rcu, plain;
	unsigned long records;
	unsigned int partial;		/* reserved-pool blocks among them */
};

#define DSLAB_LOOT_INIT(name) {				\
	.now = LIST_HEAD_INIT(name.now),		\
	.rcu = LIST_HEAD_INIT(name.rcu),		\
	.plain = LIST_HEAD_INIT(name.plain),		\
}

/*
 * Take one level's open blocks: on its CPU with interrupts off, or while
 * that CPU is offline.  False when it has records it cannot give now.
 */
static bool dslab_steal_level(struct dslab_fcpu *fc, struct dslab_loot *loot)
{
	if (!fc->nr)
		return true;
	/* Interrupted in an append: its records wait for the next try. */
	if (READ_ONCE(fc->busy))
		return false;
	if (fc->open && fc->open->nr) {
		list_add_tail(&fc->open->list, &loot->now);
		fc->open = NULL;
		loot->partial++;
	}
	if (fc->open_rcu && fc->open_rcu->nr) {
		list_add_tail(&fc->open_rcu->list, &loot->rcu);
		fc->open_rcu = NULL;
		loot->partial++;
	}
	if (fc->open_plain && fc->open_plain->nr) {
		list_add_tail(&fc->open_plain->list, &loot->plain);
		fc->open_plain = NULL;
	}
	loot->records += fc->nr;
	WRITE_ONCE(fc->nr, 0);
	return true;
}

/* Records queued on @cpu, at any level. */
static unsigned long dslab_cpu_records(int cpu)
{
	unsigned long n = 0;
	unsigned int lvl;

	for (lvl = 0; lvl < DSLAB_FLEVELS; lvl++)
		n += READ_ONCE(dslab_fcpu_of(cpu, lvl)->nr);
	return n;
}

/* Put @loot on the pending lists (Q), for the leader. */
static void dslab_loot_pend(struct dslab_loot *loot)
{
	unsigned long k = 0, now = 0, now_records = 0;
	struct dslab_finblock *blk;

	lockdep_assert_held(&dslab_finq.lock);
	list_for_each_entry(blk, &loot->now, list) {
		now++;
		now_records += blk->nr;
	}
	list_for_each_entry(blk, &loot->rcu, list)
		k++;
	list_for_each_entry(blk, &loot->plain, list)
		k++;
	list_splice_tail_init(&loot->now, &dslab_finq.pending_handed);
	list_splice_tail_init(&loot->rcu, &dslab_finq.pending_rcu);
	list_splice_tail_init(&loot->plain, &dslab_finq.pending_plain);
	WRITE_ONCE(dslab_finq.nr_pending, dslab_finq.nr_pending + k + now);
	WRITE_ONCE(dslab_finq.nr_handed, dslab_finq.nr_handed + now);
	dslab_finq.handed_records += now_records;
	dslab_finq.pending_records += loot->records - now_records;
	dslab_finq.handed_rcu += loot->partial - now;
}

/* Pend @loot, drop dslab_finq.lock, then count it and tell the leader. */
static void dslab_loot_hand_over(struct dslab_loot *loot, unsigned long flags)
	__releases(&dslab_finq.lock)
{
	if (loot->records)
		dslab_loot_pend(loot);
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
	if (loot->records) {
		dslab_stat_inc(DSLAB_STAT_HANDOVERS);
		dslab_leader_kick();
	}
}

/* Partly filled blocks waiting for the leader (Q). */
static unsigned long dslab_handed_waiting(void)
{
	return dslab_finq.nr_handed + dslab_finq.handed_rcu;
}

/*
 * Hand this CPU's partly filled blocks over, skipping a busy level; the
 * caller runs on the CPU at task or softirq level, not inside an append.
 * False when some records had to stay (a busy level, or too many handed
 * over already): try again later.
 */
static bool dslab_handover_this_cpu(void)
{
	struct dslab_loot loot = DSLAB_LOOT_INIT(loot);
	struct dslab_fcpu *fc;
	unsigned long flags;
	bool later = false;
	unsigned int lvl;
	int cpu;

	/* Interrupts off: no append at hardirq level under our feet. */
	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	cpu = smp_processor_id();
	for (lvl = 0; lvl < DSLAB_FLEVELS; lvl++) {
		fc = dslab_fcpu_of(cpu, lvl);
		if (dslab_handed_waiting() + loot.partial >= dslab_handed_max ||
		    READ_ONCE(dslab_handover_held))
			later |= fc->nr != 0;
		else
			later |= !dslab_steal_level(fc, &loot);
	}
	dslab_loot_hand_over(&loot, flags);
	return !later;
}

/*
 * The hand-over timer of a CPU, armed by the first record of one of its
 * open blocks: a jiffy later it puts the CPU's partly filled blocks on
 * the pending lists, on the CPU itself, with interrupts off, skipping a
 * level it interrupted in an append (see the header).  No other CPU is
 * interrupted.  It tries again a jiffy later for a level it skipped, or
 * while dslab_handed_max partly filled blocks already wait for the
 * leader.  Pinned, so it runs where it was armed, unless its CPU went
 * offline: then dslab_finq_cpu_dead() has taken that CPU's blocks.
 */
static void dslab_handover_fn(struct timer_list *t)
{
	struct dslab_handover *h = timer_container_of(h, t, timer);

	if (h->cpu != raw_smp_processor_id()) {
		/*
		 * Moved here when its CPU died (dslab_finq_cpu_dead() took
		 * the blocks); back home if the CPU returned meanwhile.
		 */
		if (cpu_online(h->cpu))
			dslab_handover_rearm(h);
		return;
	}
	if (!dslab_handover_this_cpu())
		mod_timer(t, jiffies + 1);
}

/**
 * dslab_finq_cpu_dead() - hand a dead CPU's open blocks over
 * @cpu: the CPU, offline now
 *
 * The CPU hotplug callback (main.c): nobody appends on a dead CPU, so its
 * blocks are taken here, from another CPU, and go to the pending lists
 * like a hand-over; it comes back with no open block.
 *
 * Context: Process context, CPU hotplug (cpus_write_lock() held).
 */
void dslab_finq_cpu_dead(unsigned int cpu)
{
	struct dslab_loot loot = DSLAB_LOOT_INIT(loot);
	unsigned long flags;
	unsigned int lvl;

	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	for (lvl = 0; lvl < DSLAB_FLEVELS; lvl++)
		dslab_steal_level(dslab_fcpu_of(cpu, lvl), &loot);
	dslab_loot_hand_over(&loot, flags);
}

/* Take the pending lists, with @handed the blocks handed over too. */
static void dslab_take(struct dslab_loot *loot, bool handed)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	/* RCU blocks, full or not (compacted before anything runs). */
	list_splice_tail_init(&dslab_finq.pending_rcu, &loot->rcu);
	list_splice_tail_init(&dslab_finq.pending_plain, &loot->plain);
	dslab_finq.handed_rcu = 0;
	dslab_finq.held += dslab_finq.pending_records;
	dslab_finq.pending_records = 0;
	if (handed) {
		list_splice_tail_init(&dslab_finq.pending_handed, &loot->now);
		WRITE_ONCE(dslab_finq.nr_handed, 0);
		dslab_finq.held += dslab_finq.handed_records;
		dslab_finq.handed_records = 0;
	}
	WRITE_ONCE(dslab_finq.nr_pending, dslab_finq.nr_handed);
	dslab_finq.held += loot->records;
	loot->records = 0;
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
}

/* === Runners === */

/*
 * Is busy @r stuck: on one block, or woken for one, more than a tick ago
 * (Q)?  Asleep in a destructor, slow, or not given a CPU: all the same.
 */
static bool dslab_runner_stalled(struct dslab_runner *r)
{
	return time_after(jiffies, r->since + 1);
}

/*
 * Wake idle runners until as many are at work, not stalled, as there are
 * ready blocks, dslab_runners_at_once at most.  A stalled runner does not
 * count, so one that sleeps in a destructor, or has been on its block
 * for more than a tick, is joined by another (the workqueue's concurrency
 * management, by the clock rather than a scheduler hook).
 */
static void dslab_runners_balance(void)
{
	unsigned int i, at_work = 0, want;
	struct dslab_runner *r;

	lockdep_assert_held(&dslab_finq.lock);
	want = min_t(unsigned long, dslab_finq.nr_ready, dslab_runners_at_once);
	for (i = 0; i < dslab_nr_runners; i++) {
		r = &dslab_runners[i];
		at_work += r->busy && !dslab_runner_stalled(r);
	}
	for (i = 0; i < dslab_nr_runners && at_work < want; i++) {
		r = &dslab_runners[i];
		if (r->busy)
			continue;
		WRITE_ONCE(r->busy, true);
		r->since = jiffies;
		at_work++;
		/* Full barrier, then the waiter: pairs with rcuwait_wait_event(). */
		rcuwait_wake_up(&r->wait);
	}
}

/* Hand @blocks to the runners; returns the records they hold. */
static unsigned long dslab_dispatch(struct list_head *blocks)
{
	struct dslab_finblock *blk;
	unsigned long n = 0, k = 0, flags;

	if (list_empty(blocks))
		return 0;
	list_for_each_entry(blk, blocks, list) {
		n += blk->nr;
		k++;
	}
	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	list_splice_tail_init(blocks, &dslab_finq.ready);
	WRITE_ONCE(dslab_finq.nr_ready, dslab_finq.nr_ready + k);
	WRITE_ONCE(dslab_finq.nr_running, dslab_finq.nr_running + k);
	dslab_runners_balance();
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
	return n;
}

/*
 * Run records of @blk until none is left to claim.  Each record is
 * claimed with one atomic increment, so runners that share a block run
 * each record exactly once, and one stuck in a record holds back none of
 * the others.  An object goes back to the allocator once its destructors
 * have returned, a batch at a time; the last runner to leave the block
 * gives its slots back and recycles it.
 */
static void dslab_runner_run(struct dslab_runner *r, struct dslab_finblock *blk)
{
	struct dslab_owner_batch unpin = { };
	unsigned int nr = blk->nr, k;
	unsigned long flags, ran = 0;
	bool last, idle = false, kick = false;
	u64 t0 = ktime_get_ns();
	void *batch[32];

	dslab_watch_begin(&r->watch);
	do {
		k = dslab_dtor_run_claimed(blk, batch, ARRAY_SIZE(batch),
					   &unpin, &r->watch);
		if (k)
			dslab_release_objects(batch, k);
		ran += k;
	} while (k == ARRAY_SIZE(batch));
	dslab_owner_batch_flush(&unpin);
	WRITE_ONCE(r->ran, r->ran + ran);
	WRITE_ONCE(r->dtor_ns, r->dtor_ns + ktime_get_ns() - t0);

	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	/* Nothing left to claim: no other runner may join it. */
	if (!list_empty(&blk->list)) {
		list_del_init(&blk->list);
		WRITE_ONCE(dslab_finq.nr_ready, dslab_finq.nr_ready - 1);
		/* Pending blocks are due now: see dslab_pending_due(). */
		kick = !dslab_finq.nr_ready && dslab_finq.nr_handed;
	}
	last = !--blk->users;
	if (last) {
		/* The block's records ran: their slots are free again. */
		if (!blk->plain && !WARN_ON_ONCE(dslab_finq.reserved < nr))
			dslab_finq.reserved -= nr;
		dslab_finq.held -= nr;
		dslab_block_put(blk);
		WRITE_ONCE(dslab_finq.nr_running, dslab_finq.nr_running - 1);
		idle = !dslab_finq.nr_running;
	}
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
	/* A flush waits for the last block. */
	if (idle || kick)
		dslab_leader_kick();
}

/*
 * A ready block with records to claim: the first one no runner works on,
 * or else the first one, joined.  Blocks in work are at the head of the
 * list (taken in order, and left there until their last record is
 * claimed), so this looks at dslab_nr_runners blocks at most.  NULL makes
 * @r idle.
 */
static struct dslab_finblock *dslab_runner_take(struct dslab_runner *r)
{
	struct dslab_finblock *blk, *pick = NULL;
	unsigned long flags;

	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	list_for_each_entry(blk, &dslab_finq.ready, list) {
		if (!blk->users) {
			pick = blk;
			break;
		}
	}
	/* Every one has runners: join the oldest, whose runner may stall. */
	if (!pick)
		pick = list_first_entry_or_null(&dslab_finq.ready,
						struct dslab_finblock, list);
	WRITE_ONCE(r->busy, !!pick);
	if (pick) {
		pick->users++;
		r->since = jiffies;
		/* More ready blocks than runners at work: call another. */
		dslab_runners_balance();
	}
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
	return pick;
}

static bool dslab_runner_woken(struct dslab_runner *r)
{
	return READ_ONCE(r->busy) || kthread_should_stop();
}

static int dslab_runner_fn(void *arg)
{
	struct dslab_runner *r = arg;
	unsigned int id = r - dslab_runners;
	struct dslab_finblock *blk;

	for (;;) {
		blk = dslab_runner_take(r);
		if (blk) {
			WRITE_ONCE(r->state, "running");
			dslab_runner_run(r, blk);
			continue;
		}
		WRITE_ONCE(r->state, "idle");
		trace_dslab_runner_stop(id, r->ran);
		WRITE_ONCE(r->ran, 0);
		/*
		 * No lost wake-up: busy was cleared under dslab_finq.lock
		 * with the ready list empty; dslab_runners_balance() sets it
		 * under the lock, then wakes.  rcuwait orders our store of
		 * the task and load of busy against its store and load.
		 */
		rcuwait_wait_event(&r->wait, dslab_runner_woken(r), TASK_IDLE);
		if (kthread_should_stop())
			break;
		trace_dslab_runner_start(id);
		dslab_stat_inc(DSLAB_STAT_RUNNER_WAKEUPS);
	}
	WRITE_ONCE(r->state, "stopped");
	return 0;
}

/* Are the runners done with every block dispatched? */
static bool dslab_runners_idle(void)
{
	return !READ_ONCE(dslab_finq.nr_running);
}

/* === Runner: limbo === */

/* Append @obj to the next generation's plain blocks; false without one. */
static bool dslab_plain_stash(void *obj)
{
	struct dslab_finblock *blk;
	unsigned long flags;

	blk = list_empty(&dslab_plain_next) ? NULL :
	      list_last_entry(&dslab_plain_next, struct dslab_finblock, list);
	if (!blk || blk->nr == DSLAB_FINBLOCK_RECORDS) {
		blk = NULL;
		/* As in dslab_finq_enqueue_rcu_plain(). */
		if (likely(!dslab_fault_all_failing())) {
			raw_spin_lock_irqsave(&dslab_finq.lock, flags);
			blk = dslab_block_get(true);
			raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
		}
		if (!blk) {
			blk = dslab_block_alloc(GFP_KERNEL, true);
			if (!blk)
				return false;
			raw_spin_lock_irqsave(&dslab_finq.lock, flags);
			dslab_finq.nr_plain++;
			raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
		}
		list_add_tail(&blk->list, &dslab_plain_next);
	}
	blk->rec[blk->nr++] = (struct dslab_finrec){ .obj = obj };
	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	dslab_finq.held++;
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
	return true;
}

/*
 * Take the limbo bits of one span off the limbo list.  What cannot be
 * stashed waits for a grace period here; those objects are released only
 * once the span is no longer read, since the last of them may free it.
 * Returns how many were released.
 */
static unsigned long dslab_limbo_take_span(struct dslab_span *span)
{
	unsigned long left[BITS_TO_LONGS(DSLAB_SPAN_MAX_OBJS)] = { };
	unsigned long *limbo = dslab_span_limbo(span);
	unsigned int words = BITS_TO_LONGS(span->nelems), w, b;
	void *base = span->base;
	unsigned int size = span->size;
	unsigned long n = 0, bits;
	bool more = false;
	void *obj;

	for (w = 0; w < words; w++) {
		bits = xchg(&limbo[w], 0);
		atomic_long_sub(hweight_long(bits), &dslab_limbo_nr);
		for_each_set_bit(b, &bits, BITS_PER_LONG)
			if (!dslab_plain_stash(base + (size_t)(w * BITS_PER_LONG + b) *
						      size))
				left[w] |= BIT(b);
	}
	/* See dslab_limbo_add(): a bit set since is seen here or queued. */
	clear_bit(0, &span->limbo_queued);
	/* Flag before bits; pairs with the barrier in dslab_limbo_add(). */
	smp_mb__after_atomic();
	for (w = 0; w < words; w++)
		more |= READ_ONCE(limbo[w]) != 0;
	if (more && !test_and_set_bit(0, &span->limbo_queued))
		llist_add(&span->limbo_node, &dslab_limbo);

	if (!bitmap_weight(left, words * BITS_PER_LONG))
		return 0;
	/* No block even in process context: wait for readers here. */
	synchronize_rcu();
	for (w = 0; w < words; w++) {
		for_each_set_bit(b, &left[w], BITS_PER_LONG) {
			obj = base + (size_t)(w * BITS_PER_LONG + b) * size;
			dslab_release_objects(&obj, 1);
			n++;
		}
	}
	return n;
}

/* Move every object in limbo to the next RCU generation. */
static unsigned long dslab_limbo_take(void)
{
	struct llist_node *node = llist_del_all(&dslab_limbo), *next;
	unsigned long n = 0;

	for (; node; node = next) {
		/* Read first: once it is requeued, the span may move on. */
		next = READ_ONCE(node->next);
		n += dslab_limbo_take_span(llist_entry(node, struct dslab_span,
						       limbo_node));
	}
	return n;
}

static void dslab_rcu_cb(struct rcu_head *head)
{
	/* Pairs with smp_load_acquire() in dslab_rcu_ready(). */
	smp_store_release(&dslab_rcu_done, READ_ONCE(dslab_rcu_cb_gen));
	WRITE_ONCE(dslab_rcu_cb_pending, false);
	dslab_leader_kick();
}

static bool dslab_inflight_empty(void)
{
	return list_empty(&dslab_rcu_inflight) &&
	       list_empty(&dslab_plain_inflight);
}

static bool dslab_next_empty(void)
{
	return list_empty(&dslab_rcu_next) && list_empty(&dslab_plain_next);
}

static bool dslab_rcu_ready(void)
{
	if (dslab_inflight_empty())
		return false;
	/* Pairs with smp_store_release() in dslab_rcu_cb(). */
	return smp_load_acquire(&dslab_rcu_done) >= dslab_rcu_inflight_gen;
}

static bool dslab_rcu_can_start(void)
{
	return dslab_inflight_empty() && !dslab_next_empty() &&
	       !READ_ONCE(dslab_rcu_cb_pending);
}

static unsigned long dslab_dispatch_inflight(void)
{
	unsigned long n = dslab_dispatch(&dslab_rcu_inflight);

	return n + dslab_dispatch(&dslab_plain_inflight);
}

/* Move the next generation to inflight. */
static void dslab_gen_advance(void)
{
	list_splice_tail_init(&dslab_rcu_next, &dslab_rcu_inflight);
	list_splice_tail_init(&dslab_plain_next, &dslab_plain_inflight);
}

/*
 * Move @n records within or between blocks.  Each record's cleanup list
 * moves by value, so its first node's back pointer is set again.
 */
static void dslab_recs_move(struct dslab_finrec *dst,
			    struct dslab_finrec *src, unsigned int n)
{
	unsigned int i;

	memmove(dst, src, n * sizeof(*dst));
	for (i = 0; i < n; i++)
		if (!hlist_empty(&dst[i].list))
			dst[i].list.first->pprev = &dst[i].list.first;
}

/*
 * Append a stolen block's records to a generation, topping up its last
 * block first, so that every block of a generation but the last is full
 * and a generation waiting for its grace period holds no more blocks than
 * its records need (the pool bound in the header relies on it).
 */
static void dslab_gen_append(struct list_head *gen, struct dslab_finblock *blk)
{
	struct dslab_finblock *tail;
	unsigned long flags;
	unsigned int k;

	list_del_init(&blk->list);
	tail = list_empty(gen) ? NULL :
	       list_last_entry(gen, struct dslab_finblock, list);
	if (tail) {
		k = min(blk->nr, (unsigned int)DSLAB_FINBLOCK_RECORDS - tail->nr);
		dslab_recs_move(&tail->rec[tail->nr], blk->rec, k);
		tail->nr += k;
		blk->nr -= k;
		dslab_recs_move(blk->rec, &blk->rec[k], blk->nr);
	}
	if (blk->nr) {
		list_add_tail(&blk->list, gen);
		return;
	}
	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	dslab_block_put(blk);
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
}

static void dslab_gen_append_all(struct list_head *gen, struct list_head *blocks)
{
	struct dslab_finblock *blk, *tmp;

	list_for_each_entry_safe(blk, tmp, blocks, list)
		dslab_gen_append(gen, blk);
}

static void dslab_rcu_start(void)
{
	dslab_gen_advance();
	dslab_rcu_inflight_gen = ++dslab_rcu_issued;
	WRITE_ONCE(dslab_rcu_cb_gen, dslab_rcu_inflight_gen);
	WRITE_ONCE(dslab_rcu_cb_pending, true);
	call_rcu(&dslab_rcu_head, dslab_rcu_cb);
}

static bool dslab_barrier_pending(void)
{
	/* A stale barrier_req is caught by the pass after the next kick. */
	return data_race(dslab_finq.barrier_req) > READ_ONCE(dslab_barrier_done);
}

/*
 * Full pending blocks are taken at once.  Blocks handed over partly
 * filled are taken once every block taken before has been claimed to its
 * last record: the pool bound in the header relies on it.  Until then
 * the runners have work, and the one that empties the ready list kicks
 * us.
 */
static bool dslab_handed_due(void)
{
	/* Both are written under dslab_finq.lock with WRITE_ONCE(). */
	return !READ_ONCE(dslab_finq.nr_ready);
}

static bool dslab_pending_due(void)
{
	unsigned long handed = READ_ONCE(dslab_finq.nr_handed);

	return READ_ONCE(dslab_finq.nr_pending) > handed ||
	       (handed && dslab_handed_due());
}

/* Queued work to do now: pending blocks, an RCU generation to advance. */
static bool dslab_ready_work(void)
{
	return dslab_rcu_ready() || dslab_rcu_can_start() ||
	       dslab_pending_due() || !llist_empty(&dslab_limbo);
}

/* What ends the leader's sleep at once. */
static bool dslab_wake_now(void)
{
	return dslab_barrier_pending() || kthread_should_stop() ||
	       dslab_ready_work();
}

/* Records in some CPU's open blocks. */
static bool dslab_open_records(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		if (dslab_cpu_records(cpu))
			return true;
	return false;
}

static bool dslab_queued_work(void)
{
	return dslab_ready_work() || dslab_open_records() ||
	       READ_ONCE(dslab_finq.nr_pending);
}

/*
 * Publish that we are about to sleep and check for work after the full
 * barrier; see the header.  Leaves the task state set when it returns
 * false.
 */
static bool dslab_leader_arm(bool (*work)(void))
{
	set_current_state(TASK_IDLE);
	WRITE_ONCE(dslab_leader_sleeping, 1);
	/* Pairs with smp_mb() in dslab_leader_kick(); see the header. */
	smp_mb();
	if (!work())
		return false;
	WRITE_ONCE(dslab_leader_sleeping, 0);
	__set_current_state(TASK_RUNNING);
	return true;
}

/* Look for stalled runners; see dslab_runners_balance(). */
static void dslab_leader_balance(void)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	dslab_runners_balance();
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
}

/*
 * While blocks wait on the ready list, the leader looks at the runners
 * every tick, so that a stalled one is joined by another.
 */
static long dslab_leader_timeout(void)
{
	return READ_ONCE(dslab_finq.nr_ready) ? 1 : MAX_SCHEDULE_TIMEOUT;
}

/* Sleep until @done, looking at the runners each tick while blocks wait. */
static void dslab_leader_wait_for(bool (*done)(void))
{
	while (!dslab_leader_arm(done)) {
		schedule_timeout(dslab_leader_timeout());
		WRITE_ONCE(dslab_leader_sleeping, 0);
		dslab_leader_balance();
	}
}

/*
 * Wait for work.  A block that fills, a hand-over, an RCU generation, a
 * barrier and kthread_stop() end the wait at once: each sets what
 * dslab_wake_now() checks before it kicks us, and we check after
 * publishing dslab_leader_sleeping.
 */
static void dslab_leader_wait(void)
{
	long timeout;

	for (;;) {
		if (dslab_leader_arm(dslab_wake_now))
			return;
		timeout = dslab_leader_timeout();
		if (timeout == MAX_SCHEDULE_TIMEOUT) {
			WRITE_ONCE(dslab_leader_state, "sleeping");
			schedule();
			dslab_stat_inc(DSLAB_STAT_RUNNER_WAKEUPS);
		} else {
			schedule_timeout(timeout);
		}
		WRITE_ONCE(dslab_leader_sleeping, 0);
		dslab_leader_balance();
	}
}

/*
 * Has every CPU handed its open blocks over?  Under cpus_read_lock() a
 * CPU is online, or offline with its blocks handed over by
 * dslab_finq_cpu_dead(): hotplug runs under the write side.
 */
static bool dslab_handed_over(void)
{
	bool records;

	cpus_read_lock();
	records = dslab_open_records();
	cpus_read_unlock();
	return !records;
}

/*
 * One pass: take the pending blocks, dispatch them, advance the RCU
 * generations.  A flush first waits for the runners to finish what they
 * hold and for every CPU's hand-over, then takes everything and waits for
 * a grace period.  The barrier repeats flushes until one finds nothing,
 * then waits for the runners once more.
 */
static unsigned long dslab_leader_pass(bool flush)
{
	struct dslab_loot loot = DSLAB_LOOT_INIT(loot);
	unsigned long n;

	if (flush) {
		dslab_leader_wait_for(dslab_runners_idle);
		/*
		 * Each CPU's timer hands its open blocks over within a tick
		 * of their first record; taking what is pending meanwhile
		 * keeps dslab_handed_max from holding a hand-over back.
		 */
		while (!dslab_handed_over()) {
			dslab_take(&loot, true);
			schedule_timeout_idle(1);
		}
	}
	dslab_take(&loot, flush || dslab_handed_due());
	/* Compact first: the pool bound in the header relies on it. */
	dslab_gen_append_all(&dslab_rcu_next, &loot.rcu);
	dslab_gen_append_all(&dslab_plain_next, &loot.plain);
	n = dslab_limbo_take();
	n += dslab_dispatch(&loot.now);

	if (flush && (!dslab_inflight_empty() || !dslab_next_empty())) {
		/* A grace period from now covers both generations. */
		synchronize_rcu();
		n += dslab_dispatch_inflight();
		dslab_gen_advance();
		n += dslab_dispatch_inflight();
	} else {
		if (dslab_rcu_ready())
			n += dslab_dispatch_inflight();
		if (dslab_rcu_can_start())
			dslab_rcu_start();
	}
	if (n > dslab_largest_batch)
		WRITE_ONCE(dslab_largest_batch, n);
	return n;
}

static int dslab_leader_fn(void *unused)
{
	for (;;) {
		unsigned long req, flags, n;
		bool stop = kthread_should_stop();
		int i;

		WRITE_ONCE(dslab_leader_state, "running");
		raw_spin_lock_irqsave(&dslab_finq.lock, flags);
		req = dslab_finq.barrier_req;
		raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);

		if (req > dslab_barrier_done || stop) {
			/*
			 * Barrier: run everything queued so far, and what
			 * those destructors queue in turn (bounded, so a
			 * destructor that always frees another cannot hold a
			 * barrier forever).
			 */
			WRITE_ONCE(dslab_leader_state, "flushing");
			for (i = 0; i < 64; i++) {
				n = dslab_leader_pass(true);
				if (!n && !dslab_queued_work())
					break;
			}
			/* Even when the 64th pass handed records over. */
			dslab_leader_wait_for(dslab_runners_idle);
			/* Pairs with READ_ONCE() in dslab_dtor_barrier(). */
			smp_store_release(&dslab_barrier_done, req);
			wake_up_all(&dslab_barrier_wq);
			if (stop)
				break;
		} else {
			dslab_leader_pass(false);
		}
		dslab_plain_pool_fill(GFP_KERNEL);
		cond_resched();
		dslab_leader_wait();
	}
	WRITE_ONCE(dslab_leader_state, "stopped");
	return 0;
}

/* === Public interface === */

/**
 * dslab_dtor_barrier() - wait for every queued destructor and cleanup
 *
 * Returns once every destructor and cleanup queued before the call,
 * RCU-deferred ones included, has returned (and what they queued in turn,
 * within a bound of 64 passes), like kvfree_rcu_barrier().  Called from a
 * destructor it returns at once: a runner cannot wait for itself.
 *
 * Context: Process context.  May sleep.  Not from a CPU hotplug callback:
 * the leader's flush takes cpus_read_lock().
 */
void dslab_dtor_barrier(void)
{
	unsigned long req, flags;

	might_sleep();
	if (dslab_in_runner())
		return;
	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	req = ++dslab_finq.barrier_req;
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
	/* Ours at once; other CPUs' timers hand theirs over within a tick. */
	dslab_handover_this_cpu();
	dslab_leader_kick();
	/* Also cut short the leader's batching delay, if it is in one. */
	wake_up_process(dslab_leader);
	wait_event(dslab_barrier_wq,
		   /* Pairs with smp_store_release() in dslab_leader_fn(). */
		   smp_load_acquire(&dslab_barrier_done) >= req);
}
EXPORT_SYMBOL_GPL(dslab_dtor_barrier);

/**
 * dslab_in_runner() - is the caller a destructor run by a runner?
 *
 * Context: Any context.
 * Return: true in a runner or the leader.
 */
bool dslab_in_runner(void)
{
	return current == dslab_leader || dslab_current_watch();
}

/**
 * dslab_runner_watch() - a runner's watch
 * @i: the runner's number
 *
 * Context: Any context.
 * Return: its watch, or NULL past the last runner.
 */
struct dslab_watch *dslab_runner_watch(unsigned int i)
{
	return i < dslab_nr_runners ? &dslab_runners[i].watch : NULL;
}
EXPORT_SYMBOL_IF_KUNIT(dslab_runner_watch);

/**
 * dslab_current_watch() - the calling runner's watch
 *
 * Context: Any context.
 * Return: its watch, or NULL outside the runners.
 */
struct dslab_watch *dslab_current_watch(void)
{
	unsigned int i;

	for (i = 0; i < dslab_nr_runners; i++)
		if (dslab_runners[i].task == current)
			return &dslab_runners[i].watch;
	return NULL;
}
EXPORT_SYMBOL_IF_KUNIT(dslab_current_watch);

/**
 * dslab_finq_stats() - the FinBlock queue's state
 * @st: filled in
 *
 * Context: Any context.
 */
void dslab_finq_stats(struct dslab_finq_stats *st)
{
	unsigned long flags, queued = 0;
	unsigned int i;
	int cpu;

	for_each_possible_cpu(cpu)
		queued += dslab_cpu_records(cpu);
	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	queued += dslab_finq.pending_records + dslab_finq.handed_records;
	queued += atomic_long_read(&dslab_limbo_nr);
	st->blocks_total = dslab_finq.nr_blocks + dslab_finq.nr_plain;
	st->blocks_free = dslab_finq.nr_free + dslab_finq.nr_free_plain;
	st->blocks_pending = dslab_finq.nr_pending;
	st->records_reserved = dslab_finq.reserved;
	/* In open or pending blocks, or taken by the leader, not yet run. */
	st->records_pending = queued + dslab_finq.held;
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
	st->largest_batch = READ_ONCE(dslab_largest_batch);
	st->dtor_ns = 0;
	for (i = 0; i < dslab_nr_runners; i++)
		st->dtor_ns += READ_ONCE(dslab_runners[i].dtor_ns);
	st->runner_state = READ_ONCE(dslab_leader_state);
}
EXPORT_SYMBOL_NS_GPL(dslab_finq_stats, DSLAB_NS);

/**
 * dslab_runner_show() - print every runner for debugfs
 * @m: the file
 *
 * Context: Process context.
 */
void dslab_runner_show(struct seq_file *m)
{
	unsigned int i;

	seq_printf(m, "runners %u\n", dslab_nr_runners);
	seq_printf(m, "runners_at_once %u\n", dslab_runners_at_once);
	seq_printf(m, "leader %s\n", READ_ONCE(dslab_leader_state));
	seq_printf(m, "blocks_ready %lu\n", READ_ONCE(dslab_finq.nr_ready));
	seq_printf(m, "blocks_running %lu\n", READ_ONCE(dslab_finq.nr_running));
	dslab_watch_show(m);
	for (i = 0; i < dslab_nr_runners; i++) {
		seq_printf(m, "runner %u\n", i);
		dslab_watch_show_running(m, &dslab_runners[i].watch,
					 READ_ONCE(dslab_runners[i].state));
	}
}

/*
 * Free blocks the pools can spare: beyond what the reservations need (and
 * no more than are free), and beyond the plain pool's minimum.
 */
static unsigned long dslab_surplus_reserved(void)
{
	unsigned long needed = dslab_blocks_needed(dslab_finq.reserved);

	lockdep_assert_held(&dslab_finq.lock);
	if (dslab_finq.nr_blocks <= needed)
		return 0;
	return min(dslab_finq.nr_blocks - needed, dslab_finq.nr_free);
}

static unsigned long dslab_surplus_plain(void)
{
	lockdep_assert_held(&dslab_finq.lock);
	if (dslab_finq.nr_free_plain <= dslab_plain_pool_min)
		return 0;
	return dslab_finq.nr_free_plain - dslab_plain_pool_min;
}

/**
 * dslab_finq_trim() - free FinBlocks the reservations do not need
 *
 * Context: Process context.
 * Return: pages freed.
 */
unsigned long dslab_finq_trim(void)
{
	struct dslab_finblock *blk, *tmp;
	unsigned long flags, k, n = 0;
	LIST_HEAD(victims);

	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	for (k = dslab_surplus_reserved(); k; k--) {
		blk = dslab_block_get(false);
		list_add(&blk->list, &victims);
		dslab_finq.nr_blocks--;
	}
	for (k = dslab_surplus_plain(); k; k--) {
		blk = dslab_block_get(true);
		list_add(&blk->list, &victims);
		dslab_finq.nr_plain--;
	}
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
	list_for_each_entry_safe(blk, tmp, &victims, list) {
		kfree(blk);
		n++;
	}
	return n;
}

/* === Shrinker === */

/*
 * The pool grows with the reservations, so a burst of registrations (a
 * backlog of destructors, then their frees) leaves it larger than they
 * now need.  dslab_shrink() gives the surplus back on request; this
 * shrinker gives it back under memory pressure, as kfree_rcu()'s page
 * cache is given back through its shrinker.
 */
static struct shrinker *dslab_finq_shrinker;

static unsigned long dslab_finq_shrink_count(struct shrinker *s,
					     struct shrink_control *sc)
{
	unsigned long flags, n;

	/* What dslab_finq_trim() would free now. */
	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	n = dslab_surplus_reserved() + dslab_surplus_plain();
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
	return n ? n : SHRINK_EMPTY;
}

static unsigned long dslab_finq_shrink_scan(struct shrinker *s,
					    struct shrink_control *sc)
{
	unsigned long freed = dslab_finq_trim();

	return freed ? freed : SHRINK_STOP;
}

/* === Init and exit === */

/* Stop the runners started; they are idle: nothing is dispatched. */
static void dslab_runners_stop(void)
{
	unsigned int i;

	for (i = 0; i < dslab_nr_runners; i++) {
		if (dslab_runners[i].task)
			kthread_stop(dslab_runners[i].task);
		dslab_runners[i].task = NULL;
	}
}

static int dslab_runners_start(void)
{
	struct task_struct *t;
	unsigned int i;

	for (i = 0; i < dslab_nr_runners; i++) {
		struct dslab_runner *r = &dslab_runners[i];

		rcuwait_init(&r->wait);
		dslab_watch_init(&r->watch);
		r->state = "starting";
		t = kthread_create(dslab_runner_fn, r, "dslab_runner/%u", i);
		if (IS_ERR(t)) {
			dslab_runners_stop();
			return PTR_ERR(t);
		}
		set_user_nice(t, dslab_runner_nice);
		r->task = t;
		wake_up_process(t);
	}
	return 0;
}

int dslab_finq_init(void)
{
	int ret, cpu;

	raw_spin_lock_init(&dslab_finq.lock);
	INIT_LIST_HEAD(&dslab_finq.free);
	INIT_LIST_HEAD(&dslab_finq.free_plain);
	INIT_LIST_HEAD(&dslab_finq.pending_rcu);
	INIT_LIST_HEAD(&dslab_finq.pending_plain);
	INIT_LIST_HEAD(&dslab_finq.pending_handed);
	INIT_LIST_HEAD(&dslab_finq.ready);

	/* Before the pool: its bound counts the runners. */
	dslab_handed_max = 2 * DSLAB_FLEVELS * nr_cpu_ids;
	for_each_possible_cpu(cpu) {
		struct dslab_handover *h = per_cpu_ptr(&dslab_handover, cpu);

		timer_setup(&h->timer, dslab_handover_fn, TIMER_PINNED);
		h->cpu = cpu;
	}
	dslab_runners_at_once = max(nr_cpu_ids / 4, 1U);
	dslab_nr_runners = dslab_runners_at_once + DSLAB_RUNNERS_SPARE;
	dslab_runners = kcalloc(dslab_nr_runners, sizeof(*dslab_runners),
				GFP_KERNEL);
	if (!dslab_runners)
		return -ENOMEM;

	dslab_plain_pool_min = 2 * nr_cpu_ids;
	ret = dslab_pool_fill(GFP_KERNEL);
	if (ret)
		goto err_free;
	dslab_plain_pool_fill(GFP_KERNEL);

	dslab_finq_shrinker = dslab_compat_shrinker_create("dslab-finblocks",
							   dslab_finq_shrink_count,
							   dslab_finq_shrink_scan);
	if (!dslab_finq_shrinker) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = dslab_runners_start();
	if (ret)
		goto err_shrinker;
	dslab_leader = kthread_run(dslab_leader_fn, NULL, "dslab_finq");
	if (IS_ERR(dslab_leader)) {
		ret = PTR_ERR(dslab_leader);
		goto err_runners;
	}
	set_user_nice(dslab_leader, dslab_runner_nice);
	return 0;

err_runners:
	dslab_runners_stop();
err_shrinker:
	dslab_compat_shrinker_destroy(dslab_finq_shrinker);
err_free:
	dslab_finq_exit_blocks();
	kfree(dslab_runners);
	return ret;
}

/* Free every block; the runner is gone and nothing is queued. */
static void dslab_finq_exit_blocks(void)
{
	struct dslab_finblock *blk, *tmp;
	struct dslab_fcpu *fc;
	unsigned int lvl;
	int cpu;

	for_each_possible_cpu(cpu) {
		for (lvl = 0; lvl < DSLAB_FLEVELS; lvl++) {
			fc = dslab_fcpu_of(cpu, lvl);
			/* Drained by the runner's last pass; empty blocks remain. */
			if (fc->open)
				list_add(&fc->open->list, &dslab_finq.free);
			if (fc->open_rcu)
				list_add(&fc->open_rcu->list, &dslab_finq.free);
			if (fc->open_plain)
				list_add(&fc->open_plain->list,
					 &dslab_finq.free_plain);
			fc->open = NULL;
			fc->open_rcu = NULL;
			fc->open_plain = NULL;
		}
	}
	list_for_each_entry_safe(blk, tmp, &dslab_finq.free, list)
		kfree(blk);
	list_for_each_entry_safe(blk, tmp, &dslab_finq.free_plain, list)
		kfree(blk);
	INIT_LIST_HEAD(&dslab_finq.free);
	INIT_LIST_HEAD(&dslab_finq.free_plain);
}

void dslab_finq_exit(void)
{
	int cpu;

	dslab_compat_shrinker_destroy(dslab_finq_shrinker);
	/* The leader's last pass is a full flush; see dslab_leader_fn(). */
	kthread_stop(dslab_leader);
	dslab_leader = NULL;
	dslab_runners_stop();
	/* Nothing is queued: a timer still pending finds no record. */
	for_each_possible_cpu(cpu)
		timer_delete_sync(&per_cpu_ptr(&dslab_handover, cpu)->timer);
	/* The last generation's callback may still be pending. */
	rcu_barrier();
	dslab_finq_exit_blocks();
	kfree(dslab_runners);
	dslab_runners = NULL;
	dslab_nr_runners = 0;
}
