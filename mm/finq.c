// SPDX-License-Identifier: GPL-2.0
/*
 * dslab FinBlock queue and the destructor runner.
 *
 * This is the Go runtime's finq/finc/allfin and runfinq (mfinal.go's
 * queuefinalizer, createfing and runfinq), in the kernel.  A FinBlock is a
 * page of records, one per freed object with destructors or cleanups (its
 * detached list of specials) or per plain object freed through
 * dslab_free_rcu().  Records are placed on an open block of the freeing
 * CPU with no lock and without disabling interrupts: each CPU has its
 * open blocks per context level (task, softirq, hardirq), a level never
 * interrupts itself, and an append marks its level busy while it runs.
 * Full blocks go to a pending list.  The runner steals partial ones by
 * running the steal on their CPU (an IPI, which takes no lock), which
 * skips a level it interrupted in an append, so no record
 * waits long for a block to fill and the free path takes no per-CPU lock.
 *
 * No loss.  Registration reserves a record slot (dslab_finq_reserve()),
 * and the pool of blocks is kept at least
 *	ceil(reserved / records per block) + (3 * L + 1) * nr_cpu_ids + 3
 * blocks, L = 3 context levels.  Partly filled blocks are the only waste:
 * each CPU's open and open-RCU block at each level (2Ln), the immediate
 * blocks the runner stole and is running (Ln; stolen RCU blocks are
 * compacted into their generation before anything runs), and the last
 * block of the next and the in-flight RCU generation (2), plus one for
 * rounding: 3Ln + 3, with n blocks to spare.  So dslab_finq_enqueue()
 * always finds a block and never allocates.  Plain dslab_free_rcu()
 * records use a separate pool that the runner tops up in process context.
 *
 * Limbo.  When that pool is dry, a plain dslab_free_rcu() must still not
 * write the object: RCU readers may be reading it until the grace period
 * ends.  So nothing is linked through it.  The free sets the object's bit
 * in its span's limbo bitmap (allocated with the span, after live[]) and
 * puts the span, once, on a lock-free list.  The runner takes the list
 * and moves each bit to a record of the next RCU generation, in blocks it
 * may allocate in process context; when even that fails it waits for a
 * grace period itself and releases those objects.  No link, no
 * allocation, no loss.  The ordering argument is at dslab_limbo_add().
 *
 * The runner is one kthread, created once at load.  It runs full blocks as
 * soon as they are pending; records in open blocks wait up to a jiffy from
 * when it first saw them (unless a barrier is waiting), then a pass steals
 * every CPU's open blocks too.  So a stream of frees costs one wake-up and
 * one steal per jiffy at most, not one per object, while the runner works
 * alongside the freeing CPUs.  A pass runs the immediate records
 * (dslab_dtor_run_records(): cond_resched() between them when one is
 * due), gives their objects back to the central lists a run of one class
 * at a time (dslab_release_objects()), and moves RCU records to a generation
 * that waits for one grace period (one call_rcu() for the whole
 * generation, like kvfree_rcu()'s page-sized bulk blocks).
 *
 * No lost wake-up (Go's fingwait/fingwake).  The runner sets its task
 * state, then dslab_runner_sleeping = true, then smp_mb(), then checks
 * for work, and only then schedule()s.  An enqueuer that puts the first
 * record into an open block publishes it, then smp_mb(), then reads
 * dslab_runner_sleeping and, if set, clears it with xchg() and wakes the
 * runner.  Both sides store then load with a full barrier between, so at
 * least one sees the other's store: either the runner sees the record and
 * does not sleep, or the enqueuer sees the flag and wakes it; a wake-up
 * between the check and schedule() leaves the task runnable, so
 * schedule() returns at once.  Only the first record of a block kicks
 * (which, after a block filled, also announces the full one): the runner
 * that kick wakes or keeps awake takes the whole block, open (after the
 * batching delay) or pending, with every record it holds by then, and a
 * steal closes the block, so a later record goes into a new block and
 * kicks again.
 *
 * Lock order: dslab_finq.lock is a raw spinlock, taken with interrupts
 * off: a block fills inside an append, which runs with preemption off
 * even on PREEMPT_RT, so a sleeping lock cannot be taken there.  Its
 * sections are short list and counter updates that never allocate or
 * free, and it nests inside nothing of this file.  The runner holds no
 * lock while it runs a record.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <linux/cpu.h>
#include <linux/kthread.h>
#include <linux/llist.h>
#include <linux/rcupdate.h>
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
	struct list_head pending;	/* Q: full blocks, run now */
	struct list_head pending_rcu;	/* Q: full blocks, run after a GP */
	struct list_head pending_plain;	/* Q: full plain blocks */
	unsigned long nr_blocks;	/* Q: reserved-pool blocks */
	unsigned long nr_free;		/* Q */
	unsigned long nr_plain;		/* Q: plain-pool blocks */
	unsigned long nr_free_plain;	/* Q */
	unsigned long nr_pending;	/* Q: blocks on the pending lists */
	unsigned long pending_records;	/* Q: records in those blocks */
	unsigned long reserved;		/* Q: record slots promised */
	unsigned long barrier_req;	/* Q: barrier requests issued */
} dslab_finq;

/* Written by the runner only; read by stats and barrier waiters. */
static unsigned long dslab_barrier_done;
static unsigned long dslab_largest_batch;
static unsigned long dslab_runner_held;	/* stolen, not yet run */
static u64 dslab_dtor_ns;
static const char *dslab_runner_state = "starting";
static DECLARE_WAIT_QUEUE_HEAD(dslab_barrier_wq);

static struct task_struct *dslab_runner;
static int dslab_runner_sleeping;	/* see the wake-up argument above */
static unsigned long dslab_runner_ran;	/* runner: records since it woke */

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
	       (3 * DSLAB_FLEVELS + 1) * nr_cpu_ids + 3;
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
	blk->plain = plain;
	return blk;
}

static void dslab_block_put(struct dslab_finblock *blk)
{
	lockdep_assert_held(&dslab_finq.lock);
	blk->nr = 0;
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

static void dslab_runner_kick(void)
{
	/* Pairs with smp_mb() in dslab_runner_wait(); see the header. */
	smp_mb();
	if (READ_ONCE(dslab_runner_sleeping) &&
	    xchg(&dslab_runner_sleeping, 0))
		wake_up_process(dslab_runner);
}

/* === Queueing (any context but NMI) === */

/* A full open block goes to @pending; its records leave the CPU's count. */
static void dslab_block_pend(struct dslab_fcpu *fc, struct dslab_finblock *blk,
			     struct list_head *pending)
{
	lockdep_assert_held(&dslab_finq.lock);
	list_add_tail(&blk->list, pending);
	WRITE_ONCE(dslab_finq.nr_pending, dslab_finq.nr_pending + 1);
	dslab_finq.pending_records += blk->nr;
	WRITE_ONCE(fc->nr, fc->nr - blk->nr);
}

/*
 * The open block at @slot, with room for a record: a full one goes to
 * @pending and a new one comes from the pool (@plain: the plain-RCU pool).
 * NULL when that pool is empty.
 */
static struct dslab_finblock *dslab_fcpu_block(struct dslab_fcpu *fc,
					       struct dslab_finblock **slot,
					       struct list_head *pending,
					       bool plain)
{
	struct dslab_finblock *blk = *slot;
	unsigned long flags;

	if (blk && blk->nr < DSLAB_FINBLOCK_RECORDS)
		return blk;
	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	if (blk)
		dslab_block_pend(fc, blk, pending);
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

	blk = dslab_fcpu_block(fc, rcu ? &fc->open_rcu : &fc->open,
			       rcu ? &dslab_finq.pending_rcu : &dslab_finq.pending,
			       false);
	/* The reservation guarantees a block; see the header. */
	if (!WARN_ON_ONCE(!blk))
		dslab_fcpu_put(fc, blk, obj, list);
	dslab_fcpu_exit(fc);
	/* The block's first record, and maybe a full block pending. */
	dslab_runner_kick();
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
	bool kick = true;

	dslab_stat_inc(DSLAB_STAT_RCU_FREED);
	/* Fault injection (dslab_fault_fail_all()) makes the pool look dry. */
	if (likely(!dslab_fault_all_failing()))
		blk = dslab_fcpu_block(fc, &fc->open_plain,
				       &dslab_finq.pending_plain, true);
	if (blk)
		kick = dslab_fcpu_put(fc, blk, obj, NULL);
	else
		dslab_limbo_add(span, idx);
	dslab_fcpu_exit(fc);
	if (kick)
		dslab_runner_kick();
}

/**
 * dslab_finq_reserve() - promise one record slot
 * @gfp: flags for growing the pool
 *
 * Context: As @gfp allows.
 * Return: 0, or -ENOMEM with nothing reserved.
 */
int dslab_finq_reserve(gfp_t gfp)
{
	unsigned long flags;

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

/* === Runner === */

/* What one pass takes from the CPUs. */
struct dslab_loot {
	struct list_head now, rcu, plain;
	unsigned long records;
};

/* Take one level's open blocks: on its CPU, or while that is offline. */
static void dslab_steal_level(struct dslab_fcpu *fc, struct dslab_loot *loot)
{
	/* Interrupted in an append: its records wait for the next steal. */
	if (READ_ONCE(fc->busy) || !fc->nr)
		return;
	if (fc->open && fc->open->nr) {
		list_add_tail(&fc->open->list, &loot->now);
		fc->open = NULL;
	}
	if (fc->open_rcu && fc->open_rcu->nr) {
		list_add_tail(&fc->open_rcu->list, &loot->rcu);
		fc->open_rcu = NULL;
	}
	if (fc->open_plain && fc->open_plain->nr) {
		list_add_tail(&fc->open_plain->list, &loot->plain);
		fc->open_plain = NULL;
	}
	loot->records += fc->nr;
	WRITE_ONCE(fc->nr, 0);
}

static void dslab_steal_cpu(int cpu, struct dslab_loot *loot)
{
	unsigned int lvl;

	/* On @cpu itself (an IPI), or for an offline @cpu: see the header. */
	lockdep_assert_irqs_disabled();
	for (lvl = 0; lvl < DSLAB_FLEVELS; lvl++)
		dslab_steal_level(dslab_fcpu_of(cpu, lvl), loot);
}

/* IPI handler (or a direct call with interrupts off on the runner's CPU). */
static void dslab_steal_local(void *loot)
{
	dslab_steal_cpu(smp_processor_id(), loot);
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

/* Take the pending lists and, with @open, every CPU's open blocks. */
static void dslab_steal(struct dslab_loot *loot, bool open)
{
	unsigned long flags;
	int cpu;

	if (!open)
		goto pending;
	cpus_read_lock();
	for_each_possible_cpu(cpu) {
		if (!dslab_cpu_records(cpu))
			continue;
		if (cpu_online(cpu)) {
			smp_call_function_single(cpu, dslab_steal_local, loot, 1);
		} else {
			/* Nobody queues on an offline CPU; it stays offline. */
			local_irq_save(flags);
			dslab_steal_cpu(cpu, loot);
			local_irq_restore(flags);
		}
	}
	cpus_read_unlock();
	WRITE_ONCE(dslab_runner_held, dslab_runner_held + loot->records);

pending:
	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	list_splice_tail_init(&dslab_finq.pending, &loot->now);
	list_splice_tail_init(&dslab_finq.pending_rcu, &loot->rcu);
	list_splice_tail_init(&dslab_finq.pending_plain, &loot->plain);
	WRITE_ONCE(dslab_finq.nr_pending, 0);
	WRITE_ONCE(dslab_runner_held,
		   dslab_runner_held + dslab_finq.pending_records);
	dslab_finq.pending_records = 0;
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
}

/* Give a block's objects back to the allocator, a few at a time. */
static void dslab_release_block(struct dslab_finblock *blk)
{
	void *batch[32];
	unsigned int i, j, k;

	for (i = 0; i < blk->nr; i += k) {
		k = min_t(unsigned int, blk->nr - i, ARRAY_SIZE(batch));
		for (j = 0; j < k; j++) {
			batch[j] = blk->rec[i + j].obj;
			blk->rec[i + j].obj = NULL;
		}
		dslab_release_objects(batch, k);
	}
}

/*
 * Run every record of every block on @blocks and recycle the blocks.  A
 * block's objects go back to the allocator together, after their
 * destructors and cleanups have returned.
 */
static unsigned long dslab_run_blocks(struct list_head *blocks)
{
	struct dslab_finblock *blk, *tmp;
	unsigned long n = 0, flags;
	u64 t0 = ktime_get_ns();

	list_for_each_entry_safe(blk, tmp, blocks, list) {
		unsigned int nr = blk->nr;

		if (!blk->plain)
			dslab_dtor_run_records(blk->rec, nr,
					       &dslab_runner_watch);
		/* Clears every reference the block holds. */
		dslab_release_block(blk);
		WRITE_ONCE(dslab_runner_held, dslab_runner_held - nr);
		n += nr;
		cond_resched();
		list_del_init(&blk->list);
		raw_spin_lock_irqsave(&dslab_finq.lock, flags);
		/* The block's records ran: their slots are free again. */
		if (!blk->plain && !WARN_ON_ONCE(dslab_finq.reserved < nr))
			dslab_finq.reserved -= nr;
		dslab_block_put(blk);
		raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
	}
	WRITE_ONCE(dslab_dtor_ns, dslab_dtor_ns + ktime_get_ns() - t0);
	return n;
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
	WRITE_ONCE(dslab_runner_held, dslab_runner_held + 1);
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
	dslab_runner_kick();
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

static unsigned long dslab_run_rcu_inflight(void)
{
	unsigned long n = dslab_run_blocks(&dslab_rcu_inflight);

	return n + dslab_run_blocks(&dslab_plain_inflight);
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

/* Queued work to do now: full blocks, an RCU generation to advance. */
static bool dslab_ready_work(void)
{
	/* nr_pending is written under dslab_finq.lock with WRITE_ONCE(). */
	return dslab_rcu_ready() || dslab_rcu_can_start() ||
	       READ_ONCE(dslab_finq.nr_pending) || !llist_empty(&dslab_limbo);
}

/* What ends the runner's sleep at once. */
static bool dslab_wake_now(void)
{
	return dslab_barrier_pending() || kthread_should_stop() ||
	       dslab_ready_work();
}

/* Records in some CPU's open blocks, worth a batching delay. */
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
	return dslab_ready_work() || dslab_open_records();
}

/*
 * Publish that we are about to sleep and check for work after the full
 * barrier; see the header.  Leaves the task state set when it returns
 * false.
 */
static bool dslab_runner_arm(bool (*work)(void))
{
	set_current_state(TASK_IDLE);
	WRITE_ONCE(dslab_runner_sleeping, 1);
	/* Pairs with smp_mb() in dslab_runner_kick(); see the header. */
	smp_mb();
	if (!work())
		return false;
	WRITE_ONCE(dslab_runner_sleeping, 0);
	__set_current_state(TASK_RUNNING);
	return true;
}

/*
 * Batching.  Records in open blocks wait up to a jiffy from when the runner
 * first saw them, so a stream of frees does not cost one pass (and one
 * steal on every CPU) per handful of records; full blocks are run as soon
 * as they are pending.  The deadline holds across passes, so a CPU that
 * queues a trickle is served within a jiffy however busy the others keep
 * the runner.  Runner-private.
 */
static bool dslab_open_armed;
static unsigned long dslab_open_deadline;

/* Are records in open blocks due to be taken?  Starts the clock. */
static bool dslab_open_due(void)
{
	if (!dslab_open_armed) {
		if (!dslab_open_records())
			return false;
		dslab_open_armed = true;
		dslab_open_deadline = jiffies + 1;
	}
	return time_after_eq(jiffies, dslab_open_deadline);
}

/*
 * Wait for work.  Returns true when the next pass should also take the
 * CPUs' open blocks.  A block that fills, an RCU generation, a barrier and
 * kthread_stop() end the wait at once: each sets what dslab_wake_now()
 * checks before it wakes us, and we check after publishing
 * dslab_runner_sleeping.  A kick for a new open block wakes us from an
 * idle sleep to start the batching clock.
 */
static bool dslab_runner_wait(void)
{
	for (;;) {
		if (dslab_runner_arm(dslab_wake_now))
			return dslab_open_due();
		if (dslab_open_due()) {
			WRITE_ONCE(dslab_runner_sleeping, 0);
			__set_current_state(TASK_RUNNING);
			return true;
		}
		if (dslab_open_armed) {
			schedule_timeout(max_t(long, dslab_open_deadline - jiffies, 1));
		} else {
			WRITE_ONCE(dslab_runner_state, "sleeping");
			trace_dslab_runner_stop(0, dslab_runner_ran);
			dslab_runner_ran = 0;
			schedule();
			trace_dslab_runner_start(0);
			dslab_stat_inc(DSLAB_STAT_RUNNER_WAKEUPS);
		}
		WRITE_ONCE(dslab_runner_sleeping, 0);
	}
}

/*
 * One pass: steal (the open blocks too with @open), run, advance the RCU
 * generations.  A flush takes everything and waits for a grace period.
 */
static unsigned long dslab_runner_pass(bool flush, bool open)
{
	struct dslab_loot loot = {
		.now = LIST_HEAD_INIT(loot.now),
		.rcu = LIST_HEAD_INIT(loot.rcu),
		.plain = LIST_HEAD_INIT(loot.plain),
	};
	unsigned long n;

	if (open || flush)
		dslab_open_armed = false;	/* taking them all now */
	dslab_steal(&loot, open || flush);
	/* Compact first: the pool bound in the header relies on it. */
	dslab_gen_append_all(&dslab_rcu_next, &loot.rcu);
	dslab_gen_append_all(&dslab_plain_next, &loot.plain);
	n = dslab_limbo_take();
	n += dslab_run_blocks(&loot.now);

	if (flush && (!dslab_inflight_empty() || !dslab_next_empty())) {
		/* A grace period from now covers both generations. */
		synchronize_rcu();
		n += dslab_run_rcu_inflight();
		dslab_gen_advance();
		n += dslab_run_rcu_inflight();
	} else {
		if (dslab_rcu_ready())
			n += dslab_run_rcu_inflight();
		if (dslab_rcu_can_start())
			dslab_rcu_start();
	}
	if (n > dslab_largest_batch)
		WRITE_ONCE(dslab_largest_batch, n);
	return n;
}

static int dslab_runner_fn(void *unused)
{
	bool open = false;

	for (;;) {
		unsigned long req, flags, n;
		bool stop = kthread_should_stop();
		int i;

		WRITE_ONCE(dslab_runner_state, "running");
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
			WRITE_ONCE(dslab_runner_state, "flushing");
			for (i = 0; i < 64; i++) {
				n = dslab_runner_pass(true, true);
				dslab_runner_ran += n;
				if (!n && !dslab_queued_work())
					break;
			}
			/* Pairs with READ_ONCE() in dslab_dtor_barrier(). */
			smp_store_release(&dslab_barrier_done, req);
			wake_up_all(&dslab_barrier_wq);
			if (stop)
				break;
		} else {
			dslab_runner_ran += dslab_runner_pass(false, open);
		}
		dslab_plain_pool_fill(GFP_KERNEL);
		cond_resched();
		open = dslab_runner_wait();
	}
	WRITE_ONCE(dslab_runner_state, "stopped");
	return 0;
}

/* === Public interface === */

/**
 * dslab_dtor_barrier() - wait for every queued destructor and cleanup
 *
 * Returns once every destructor and cleanup queued before the call,
 * RCU-deferred ones included, has returned (and what they queued in turn,
 * within a bound of 64 passes), like kvfree_rcu_barrier().  Called from a
 * destructor it returns at once: the runner cannot wait for itself.
 *
 * Context: Process context.  May sleep.
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
	dslab_runner_kick();
	/* Also cut short the runner's batching delay, if it is in one. */
	wake_up_process(dslab_runner);
	wait_event(dslab_barrier_wq,
		   /* Pairs with smp_store_release() in dslab_runner_fn(). */
		   smp_load_acquire(&dslab_barrier_done) >= req);
}
EXPORT_SYMBOL_GPL(dslab_dtor_barrier);

/**
 * dslab_in_runner() - is the caller a destructor run by the runner?
 *
 * Context: Any context.
 * Return: true in the runner thread.
 */
bool dslab_in_runner(void)
{
	return current == dslab_runner;
}

/**
 * dslab_finq_stats() - the FinBlock queue's state
 * @st: filled in
 *
 * Context: Any context.
 */
void dslab_finq_stats(struct dslab_finq_stats *st)
{
	unsigned long flags, queued = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		queued += dslab_cpu_records(cpu);
	raw_spin_lock_irqsave(&dslab_finq.lock, flags);
	queued += dslab_finq.pending_records;
	queued += atomic_long_read(&dslab_limbo_nr);
	st->blocks_total = dslab_finq.nr_blocks + dslab_finq.nr_plain;
	st->blocks_free = dslab_finq.nr_free + dslab_finq.nr_free_plain;
	st->blocks_pending = dslab_finq.nr_pending;
	st->records_reserved = dslab_finq.reserved;
	raw_spin_unlock_irqrestore(&dslab_finq.lock, flags);
	/* In open or pending blocks, or taken by the runner, not yet run. */
	st->records_pending = queued + READ_ONCE(dslab_runner_held);
	st->largest_batch = READ_ONCE(dslab_largest_batch);
	st->dtor_ns = READ_ONCE(dslab_dtor_ns);
	st->runner_state = READ_ONCE(dslab_runner_state);
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
	seq_puts(m, "runners 1\n");
	seq_puts(m, "runner 0\n");
	dslab_watch_show(m, &dslab_runner_watch, READ_ONCE(dslab_runner_state));
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

int dslab_finq_init(void)
{
	int ret;

	raw_spin_lock_init(&dslab_finq.lock);
	INIT_LIST_HEAD(&dslab_finq.free);
	INIT_LIST_HEAD(&dslab_finq.free_plain);
	INIT_LIST_HEAD(&dslab_finq.pending);
	INIT_LIST_HEAD(&dslab_finq.pending_rcu);
	INIT_LIST_HEAD(&dslab_finq.pending_plain);

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
	dslab_runner = kthread_run(dslab_runner_fn, NULL, "dslab_runner");
	if (IS_ERR(dslab_runner)) {
		ret = PTR_ERR(dslab_runner);
		goto err_shrinker;
	}
	set_user_nice(dslab_runner, dslab_runner_nice);
	return 0;

err_shrinker:
	dslab_compat_shrinker_destroy(dslab_finq_shrinker);
err_free:
	dslab_finq_exit_blocks();
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
	dslab_compat_shrinker_destroy(dslab_finq_shrinker);
	/* The runner's last pass is a full flush; see dslab_runner_fn(). */
	kthread_stop(dslab_runner);
	dslab_runner = NULL;
	/* The last generation's callback may still be pending. */
	rcu_barrier();
	dslab_finq_exit_blocks();
}
