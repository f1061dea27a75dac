// SPDX-License-Identifier: GPL-2.0
/*
 * dslab_torture.ko - a stress test of dslab, in the spirit of
 * kernel/locking/locktorture.c and lib/test_objpool.c.
 *
 * Loading it runs the test synchronously (insmod returns when it is
 * over): one kthread per online CPU (nthreads=) for duration_s= seconds
 * does a random mix of dslab_alloc / dslab_new / set, clear and refused
 * destructors / add and cancel cleanups / dslab_free / dslab_free_rcu /
 * bulk alloc and free / hand-off to a hardirq free, on objects it tracks
 * in slots; an hrtimer (hard mode) frees the handed-off objects in
 * hardirq and allocates, registers and frees some of its own there.
 *
 * Every object starts with a header (magic, owner slot, generation,
 * sequence stamp) followed by a fill pattern.  Destructors and cleanups
 * check that they run once, destructor first, on intact contents, for an
 * object that was freed.  Each object's address is entered in a hash
 * table from allocation until its last destructor or cleanup has
 * returned (or until it is freed, when it has none): an allocation that
 * returns an address still in the table means dslab handed out memory
 * that was live or awaiting its destructor, and is a failure.
 *
 * At the end: a destructor barrier, then every destructor and cleanup
 * expected must have run exactly once, objects in use, reserved FinBlock
 * slots and this module's reference count must be back to where they
 * were, and after dslab_shrink() so must the span pages held.  One line
 * sums it up, ending in SUCCESS or FAILURE; insmod succeeds either way
 * so the module can be removed.
 *
 * leak_one=1 then leaks one object on purpose, after the checks, as the
 * kmemleak positive control (see Documentation/testing.rst).
 */
#define pr_fmt(fmt) "dslab_torture: " fmt

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/dslab.h>
#include <linux/hash.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/llist.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/prandom.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "dslab.h"

static unsigned int duration_s = 10;
module_param(duration_s, uint, 0444);
MODULE_PARM_DESC(duration_s, "Seconds to run (default 10)");

static unsigned int nthreads;
module_param(nthreads, uint, 0444);
MODULE_PARM_DESC(nthreads, "Worker threads (default: one per online CPU)");

static bool verbose;
module_param(verbose, bool, 0444);
MODULE_PARM_DESC(verbose, "Print per-thread statistics");

static u64 seed;
module_param(seed, ullong, 0444);
MODULE_PARM_DESC(seed, "Random seed (default 0: pick one and print it)");

static bool leak_one;
module_param(leak_one, bool, 0444);
MODULE_PARM_DESC(leak_one, "Leak one object after the run (kmemleak positive control)");

/* === Data === */

#define DSLAB_T_SLOTS		256	/* objects a thread tracks */
#define DSLAB_T_IRQ_SLOTS	64	/* objects the hrtimer tracks */
#define DSLAB_T_CLEANUPS	3	/* cleanups per object at most */
#define DSLAB_T_BULK_MAX	32
#define DSLAB_T_HASH_BITS	12
#define DSLAB_T_MAGIC		0xd51ab70u
#define DSLAB_T_DEAD		0xdeadd51bu
#define DSLAB_T_PERIOD_NS	(200 * NSEC_PER_USEC)
#define DSLAB_T_MAX_REPORTS	20

/* What every torture object starts with. */
struct dslab_t_hdr {
	u32 magic;		/* DSLAB_T_MAGIC ^ gen */
	u16 owner;		/* thread index; nthreads for the hrtimer */
	u16 slot;
	u32 gen;		/* slot generation */
	u32 size;		/* requested size */
	u64 seq;		/* global allocation stamp */
	struct llist_node irq_node;	/* hand-off to the hrtimer */
	bool rcu;			/* the hrtimer frees it with free_rcu */
};

/* A typed object for dslab_new() and typed destructors. */
struct dslab_t_typed {
	struct dslab_t_hdr hdr;
	u8 payload[200];
};

DSLAB_TYPE(dslab_t_type, struct dslab_t_typed);

/* Address tracking: an entry per object from allocation to the end. */
struct dslab_t_track {
	struct hlist_node node;
	const void *obj;
	struct dslab_t_slot *slot;	/* NULL for untracked temporaries */
};

static struct dslab_t_bucket {
	spinlock_t lock;		/* irq-safe: protects head */
	struct hlist_head head;
} dslab_t_hash[1 << DSLAB_T_HASH_BITS];

enum dslab_t_state {
	DSLAB_T_FREE,		/* no object */
	DSLAB_T_LIVE,		/* allocated, owned by the slot's owner */
	DSLAB_T_PENDING,	/* freed, destructor/cleanups not all run */
};

struct dslab_t_cleanup {
	struct dslab_t_slot *slot;
	u32 gen;			/* slot generation when added */
	bool active;			/* owner: added and not cancelled */
	struct dslab_cleanup *handle;	/* owner */
	atomic_t runs;
};

struct dslab_t_slot {
	struct dslab_t_track track;
	void *obj;			/* owner */
	size_t size;			/* owner */
	u32 gen;			/* written by the owner while FREE */
	u64 seq;
	bool typed;			/* owner */
	bool has_dtor;			/* owner */
	atomic_t state;			/* enum dslab_t_state */
	atomic_t pending;		/* specials still to run */
	atomic_t dtor_runs;
	struct dslab_t_cleanup cl[DSLAB_T_CLEANUPS];
};

struct dslab_t_thread {
	struct task_struct *task;
	unsigned int idx;
	struct rnd_state rnd;
	struct dslab_t_slot *slots;
	unsigned int nslots;
	unsigned long ops, allocs, news, frees, rcu_frees, irq_handoffs;
	unsigned long bulk, dtors_set, dtors_cleared, refusals_ok;
	unsigned long cleanups_added, cleanups_cancelled, enomem;
	/* dslab_t_bulk()'s scratch: too big for a KASAN stack frame */
	struct dslab_t_track bulk_tr[DSLAB_T_BULK_MAX];
	void *bulk_objs[DSLAB_T_BULK_MAX];
};

static struct dslab_t_thread *dslab_t_threads;	/* nthreads + 1 (hrtimer) */
static unsigned int dslab_t_nthreads;
static atomic64_t dslab_t_seq;
static bool dslab_t_stop;		/* threads and hrtimer stop */
static struct completion dslab_t_done;
static atomic_t dslab_t_running;

static struct hrtimer dslab_t_timer;
static LLIST_HEAD(dslab_t_irq_queue);

/* Global results. */
static atomic_long_t dslab_t_errors;
static atomic_long_t dslab_t_reuse;		/* handed out while tracked */
static atomic_long_t dslab_t_dtor_expected, dslab_t_dtor_runs;
static atomic_long_t dslab_t_cl_expected, dslab_t_cl_runs;
static atomic_long_t dslab_t_chain_expected, dslab_t_chain_runs;
static atomic_long_t dslab_t_irq_frees, dslab_t_irq_allocs;
static atomic_t dslab_t_reports;

#define dslab_t_error(fmt, ...)						\
	do {								\
		atomic_long_inc(&dslab_t_errors);			\
		if (atomic_inc_return(&dslab_t_reports) <= DSLAB_T_MAX_REPORTS) \
			pr_err("error: " fmt "\n", ##__VA_ARGS__);	\
	} while (0)

/* === Address tracking === */

static struct dslab_t_bucket *dslab_t_bucket(const void *obj)
{
	return &dslab_t_hash[hash_ptr((void *)obj, DSLAB_T_HASH_BITS)];
}

/* Enter a fresh allocation; a clash means dslab handed it out twice. */
static void dslab_t_track(struct dslab_t_track *t, const void *obj,
			  struct dslab_t_slot *slot)
{
	struct dslab_t_bucket *b = dslab_t_bucket(obj);
	struct dslab_t_track *old;
	unsigned long flags;
	int state = -1;

	t->obj = obj;
	t->slot = slot;
	spin_lock_irqsave(&b->lock, flags);
	hlist_for_each_entry(old, &b->head, node) {
		if (old->obj == obj) {
			state = old->slot ? atomic_read(&old->slot->state) : DSLAB_T_LIVE;
			break;
		}
	}
	hlist_add_head(&t->node, &b->head);
	spin_unlock_irqrestore(&b->lock, flags);
	if (state >= 0) {
		atomic_long_inc(&dslab_t_reuse);
		dslab_t_error("allocation returned %p, which is still %s", obj,
			      state == DSLAB_T_PENDING ?
			      "awaiting its destructor or cleanups" : "live");
	}
}

static void dslab_t_untrack(struct dslab_t_track *t)
{
	struct dslab_t_bucket *b = dslab_t_bucket(t->obj);
	unsigned long flags;

	spin_lock_irqsave(&b->lock, flags);
	hlist_del_init(&t->node);
	spin_unlock_irqrestore(&b->lock, flags);
}

/* === Object contents === */

static u8 dslab_t_fill(const struct dslab_t_hdr *h)
{
	return (u8)(h->seq * 131 + h->gen) | 1;
}

/* Check at most this much of the fill, start and end, per check. */
#define DSLAB_T_CHECK_SPAN	256

static void dslab_t_write(void *obj, size_t size, struct dslab_t_slot *s,
			  unsigned int owner, unsigned int slot)
{
	struct dslab_t_hdr *h = obj;

	memset(h, 0, sizeof(*h));
	h->owner = owner;
	h->slot = slot;
	h->gen = s->gen;
	h->size = size;
	h->seq = s->seq;
	h->magic = DSLAB_T_MAGIC ^ h->gen;
	memset(h + 1, dslab_t_fill(h), size - sizeof(*h));
}

static bool dslab_t_intact(const void *obj, size_t size)
{
	const struct dslab_t_hdr *h = obj;
	const u8 *p = (const u8 *)(h + 1);
	size_t n = size - sizeof(*h), k = min_t(size_t, n, DSLAB_T_CHECK_SPAN);
	u8 fill;

	if (h->magic != (DSLAB_T_MAGIC ^ h->gen) || h->size != size)
		return false;
	fill = dslab_t_fill(h);
	return !memchr_inv(p, fill, k) && !memchr_inv(p + n - k, fill, k);
}

/* The slot an object's header names, or NULL when the header is bad. */
static struct dslab_t_slot *dslab_t_slot_of(const struct dslab_t_hdr *h)
{
	struct dslab_t_thread *t;

	if (h->magic != (DSLAB_T_MAGIC ^ h->gen) || h->owner > dslab_t_nthreads)
		return NULL;
	t = &dslab_t_threads[h->owner];
	if (h->slot >= t->nslots)
		return NULL;
	return &t->slots[h->slot];
}

/* === Destructors and cleanups (runner context) === */

/* One of the object's specials has run; the last one ends tracking. */
static void dslab_t_special_done(struct dslab_t_slot *s)
{
	if (atomic_dec_return(&s->pending) == 0) {
		dslab_t_untrack(&s->track);
		/* Pairs with atomic_read_acquire() in dslab_t_slot_ready(). */
		atomic_set_release(&s->state, DSLAB_T_FREE);
	}
}

static void dslab_t_chain_fn(void *obj);
static const struct dslab_dtor dslab_t_chain_dtor = { .fn = dslab_t_chain_fn };

/* A destructor that allocates and frees, with a destructor of its own. */
static void dslab_t_reenter(void)
{
	struct dslab_t_track tr;
	u32 *p = dslab_alloc(64, GFP_KERNEL);

	if (!p)
		return;
	dslab_t_track(&tr, p, NULL);
	*p = DSLAB_T_MAGIC;
	if (dslab_set_destructor(p, &dslab_t_chain_dtor) == 0)
		atomic_long_inc(&dslab_t_chain_expected);
	dslab_t_untrack(&tr);
	dslab_free(p);
}

static void dslab_t_chain_fn(void *obj)
{
	if (*(u32 *)obj != DSLAB_T_MAGIC)
		dslab_t_error("chained destructor: contents not intact");
	atomic_long_inc(&dslab_t_chain_runs);
}

static void dslab_t_dtor_common(void *obj)
{
	const struct dslab_t_hdr *h = obj;
	struct dslab_t_slot *s = dslab_t_slot_of(h);
	unsigned int i;

	might_sleep();
	if (!s) {
		dslab_t_error("destructor: object %p has a corrupt header", obj);
		return;
	}
	if (h->gen != s->gen || h->seq != s->seq) {
		dslab_t_error("destructor: stale object %p (gen %u/%u)", obj, h->gen, s->gen);
		return;
	}
	if (atomic_read(&s->state) != DSLAB_T_PENDING) {
		dslab_t_error("destructor ran on %p, which was not freed", obj);
		return;
	}
	if (atomic_inc_return(&s->dtor_runs) != 1) {
		dslab_t_error("destructor of %p ran twice", obj);
		return;
	}
	if (!dslab_t_intact(obj, h->size))
		dslab_t_error("destructor: contents of %p not intact", obj);
	for (i = 0; i < DSLAB_T_CLEANUPS; i++)
		if (atomic_read(&s->cl[i].runs))
			dslab_t_error("a cleanup of %p ran before its destructor", obj);
	atomic_long_inc(&dslab_t_dtor_runs);
	/* Some destructors allocate, register and free in turn. */
	if ((h->seq & 15) == 0)
		dslab_t_reenter();
	/*
	 * Some sleep, so that memory released too early would be handed out
	 * again while they still run (the address check then fires).
	 */
	if ((h->seq & 31) == 1)
		usleep_range(100, 200);
	dslab_t_special_done(s);
}

static void dslab_t_typed_fn(struct dslab_t_typed *t)
{
	dslab_t_dtor_common(t);
}

static const struct dslab_dtor dslab_t_any_dtor = { .fn = dslab_t_dtor_common };
DSLAB_DTOR(dslab_t_typed_dtor, dslab_t_type, dslab_t_typed_fn);

static void dslab_t_cleanup_fn(void *arg)
{
	struct dslab_t_cleanup *c = arg;
	struct dslab_t_slot *s = c->slot;

	might_sleep();
	if (c->gen != s->gen || atomic_read(&s->state) != DSLAB_T_PENDING) {
		dslab_t_error("cleanup ran for an object that was not freed (gen %u/%u)",
			      c->gen, s->gen);
		return;
	}
	if (!READ_ONCE(c->active)) {
		dslab_t_error("a cancelled cleanup ran");
		return;
	}
	if (atomic_inc_return(&c->runs) != 1) {
		dslab_t_error("cleanup ran twice");
		return;
	}
	atomic_long_inc(&dslab_t_cl_runs);
	dslab_t_special_done(s);
}

/* === Slots (owner side) === */

static bool dslab_t_slot_ready(struct dslab_t_slot *s)
{
	/* Pairs with atomic_set_release() in dslab_t_special_done(). */
	return atomic_read_acquire(&s->state) == DSLAB_T_FREE;
}

/* Give @s a fresh object @obj of @size. */
static void dslab_t_slot_fill(struct dslab_t_thread *t, struct dslab_t_slot *s,
			      void *obj, size_t size, bool typed)
{
	unsigned int i;

	s->gen++;
	s->seq = atomic64_inc_return(&dslab_t_seq);
	s->obj = obj;
	s->size = size;
	s->typed = typed;
	s->has_dtor = false;
	atomic_set(&s->dtor_runs, 0);
	for (i = 0; i < DSLAB_T_CLEANUPS; i++) {
		s->cl[i].active = false;
		s->cl[i].handle = NULL;
		atomic_set(&s->cl[i].runs, 0);
	}
	dslab_t_write(obj, size, s, t->idx, s - t->slots);
	dslab_t_track(&s->track, obj, s);
	atomic_set(&s->state, DSLAB_T_LIVE);
}

static size_t dslab_t_rand_size(struct rnd_state *rnd)
{
	u32 r = prandom_u32_state(rnd);
	size_t min = sizeof(struct dslab_t_hdr);

	switch (r & 15) {
	case 0:		/* large: a span of its own */
		return DSLAB_MAX_SMALL_SIZE + 1 + (r >> 4) % (40 * 1024);
	case 1:
	case 2:		/* the larger small classes */
		return min + (r >> 4) % (DSLAB_MAX_SMALL_SIZE - min);
	default:
		return min + (r >> 4) % 1024;
	}
}

static void dslab_t_alloc(struct dslab_t_thread *t, struct dslab_t_slot *s,
			  gfp_t gfp)
{
	bool typed = !(prandom_u32_state(&t->rnd) & 3);
	size_t size;
	void *obj;

	if (typed) {
		size = sizeof(struct dslab_t_typed);
		obj = dslab_new(&dslab_t_type, gfp);
	} else {
		size = dslab_t_rand_size(&t->rnd);
		obj = dslab_alloc(size, gfp);
	}
	if (!obj) {
		t->enomem++;
		return;
	}
	if (dslab_ksize(obj) < size)
		dslab_t_error("dslab_ksize(%p) = %zu < %zu", obj, dslab_ksize(obj), size);
	if (typed)
		t->news++;
	else
		t->allocs++;
	dslab_t_slot_fill(t, s, obj, size, typed);
}

/* Registered specials the object will run when freed. */
static unsigned int dslab_t_expected(struct dslab_t_slot *s)
{
	unsigned int i, n = s->has_dtor;

	for (i = 0; i < DSLAB_T_CLEANUPS; i++)
		n += s->cl[i].active;
	return n;
}

enum dslab_t_free_how { DSLAB_T_FREE_NOW, DSLAB_T_FREE_RCU, DSLAB_T_FREE_IRQ };

static void dslab_t_free(struct dslab_t_thread *t, struct dslab_t_slot *s,
			 enum dslab_t_free_how how)
{
	struct dslab_t_hdr *h = s->obj;
	unsigned int n = dslab_t_expected(s);

	if (!dslab_t_intact(s->obj, s->size))
		dslab_t_error("contents of live object %p changed", s->obj);
	if (n) {
		atomic_long_add(s->has_dtor, &dslab_t_dtor_expected);
		atomic_long_add(n - s->has_dtor, &dslab_t_cl_expected);
		atomic_set(&s->pending, n);
		atomic_set(&s->state, DSLAB_T_PENDING);
	} else {
		/* No specials: the memory may be reused as soon as freed. */
		dslab_t_untrack(&s->track);
		atomic_set(&s->state, DSLAB_T_FREE);
	}
	switch (how) {
	case DSLAB_T_FREE_NOW:
		t->frees++;
		dslab_free(h);
		break;
	case DSLAB_T_FREE_RCU:
		t->rcu_frees++;
		dslab_free_rcu(h);
		break;
	case DSLAB_T_FREE_IRQ:
		t->irq_handoffs++;
		h->rcu = prandom_u32_state(&t->rnd) & 1;
		llist_add(&h->irq_node, &dslab_t_irq_queue);
		break;
	}
	s->obj = NULL;
}

static void dslab_t_set_dtor(struct dslab_t_thread *t, struct dslab_t_slot *s)
{
	const struct dslab_dtor *d = &dslab_t_any_dtor;
	int ret;

	if (s->has_dtor) {
		/* Sometimes check a second one is refused; clearing works. */
		if ((prandom_u32_state(&t->rnd) & 7) == 0) {
			ret = dslab_set_destructor(s->obj, d);
			if (ret != -EEXIST)
				dslab_t_error("second destructor on %p: %d, not -EEXIST",
					      s->obj, ret);
			else
				t->refusals_ok++;
		}
		ret = dslab_set_destructor(s->obj, NULL);
		if (ret)
			dslab_t_error("clearing the destructor of %p: %d", s->obj, ret);
		else
			s->has_dtor = false;
		t->dtors_cleared++;
		return;
	}
	if (!s->typed && (prandom_u32_state(&t->rnd) & 31) == 0) {
		/* A typed destructor on an untyped object is refused. */
		ret = dslab_set_destructor(s->obj, &dslab_t_typed_dtor);
		if (ret != -EINVAL)
			dslab_t_error("typed destructor on untyped %p: %d, not -EINVAL",
				      s->obj, ret);
		else
			t->refusals_ok++;
	}
	if (s->typed && (prandom_u32_state(&t->rnd) & 1))
		d = &dslab_t_typed_dtor;
	ret = dslab_set_destructor(s->obj, d);
	if (ret == -ENOMEM) {
		t->enomem++;
		return;
	}
	if (ret) {
		dslab_t_error("dslab_set_destructor(%p): %d", s->obj, ret);
		return;
	}
	s->has_dtor = true;
	t->dtors_set++;
}

static void dslab_t_cleanup_op(struct dslab_t_thread *t, struct dslab_t_slot *s,
			       gfp_t gfp)
{
	unsigned int i = prandom_u32_state(&t->rnd) % DSLAB_T_CLEANUPS;
	struct dslab_t_cleanup *c = &s->cl[i];
	struct dslab_cleanup *h;

	if (c->active) {
		h = c->handle;
		dslab_cleanup_cancel(h);
		WRITE_ONCE(c->active, false);
		c->handle = NULL;
		t->cleanups_cancelled++;
		/* Cancelling twice is a no-op. */
		if (prandom_u32_state(&t->rnd) & 1)
			dslab_cleanup_cancel(h);
		return;
	}
	c->slot = s;
	c->gen = s->gen;
	h = dslab_add_cleanup(s->obj, dslab_t_cleanup_fn, c, gfp);
	if (IS_ERR(h)) {
		if (PTR_ERR(h) == -ENOMEM)
			t->enomem++;
		else
			dslab_t_error("dslab_add_cleanup(%p): %ld", s->obj, PTR_ERR(h));
		return;
	}
	c->handle = h;
	WRITE_ONCE(c->active, true);
	t->cleanups_added++;
}

static void dslab_t_check_live(struct dslab_t_slot *s)
{
	void *base = NULL;
	size_t size = 0;

	if (!dslab_t_intact(s->obj, s->size))
		dslab_t_error("contents of live object %p changed", s->obj);
	if (!dslab_find_object(s->obj + s->size / 2, &base, &size) ||
	    base != s->obj || size < s->size)
		dslab_t_error("dslab_find_object() does not find live %p", s->obj);
}

static void dslab_t_bulk(struct dslab_t_thread *t)
{
	struct dslab_t_track *tr = t->bulk_tr;
	void **objs = t->bulk_objs;
	unsigned int n = 1 + prandom_u32_state(&t->rnd) % DSLAB_T_BULK_MAX;
	size_t size = dslab_t_rand_size(&t->rnd);
	unsigned int i;

	if (dslab_alloc_bulk(size, GFP_KERNEL, n, objs) != n) {
		t->enomem++;
		return;
	}
	t->bulk++;
	for (i = 0; i < n; i++) {
		dslab_t_track(&tr[i], objs[i], NULL);
		memset(objs[i], i, min_t(size_t, size, 64));
	}
	for (i = 0; i < n; i++) {
		if (memchr_inv(objs[i], i, min_t(size_t, size, 64)))
			dslab_t_error("bulk object %p overwritten", objs[i]);
		dslab_t_untrack(&tr[i]);
	}
	dslab_free_bulk(n, objs);
}

/* One random operation on one random slot. */
static void dslab_t_op(struct dslab_t_thread *t)
{
	u32 r = prandom_u32_state(&t->rnd);
	struct dslab_t_slot *s = &t->slots[r % t->nslots];
	unsigned int op = (r >> 16) % 100;

	t->ops++;
	if ((r >> 8 & 63) == 0) {
		dslab_t_bulk(t);
		return;
	}
	if (!s->obj) {
		if (dslab_t_slot_ready(s))
			dslab_t_alloc(t, s, GFP_KERNEL);
		return;
	}
	if (op < 20)
		dslab_t_free(t, s, DSLAB_T_FREE_NOW);
	else if (op < 28)
		dslab_t_free(t, s, DSLAB_T_FREE_RCU);
	else if (op < 36)
		dslab_t_free(t, s, DSLAB_T_FREE_IRQ);
	else if (op < 52)
		dslab_t_set_dtor(t, s);
	else if (op < 72)
		dslab_t_cleanup_op(t, s, (r & 1) ? GFP_KERNEL : GFP_ATOMIC);
	else
		dslab_t_check_live(s);
}

static int dslab_t_thread_fn(void *arg)
{
	struct dslab_t_thread *t = arg;
	unsigned int i;

	while (!READ_ONCE(dslab_t_stop)) {
		dslab_t_op(t);
		cond_resched();
	}
	/* Free what is left, each way. */
	for (i = 0; i < t->nslots; i++)
		if (t->slots[i].obj)
			dslab_t_free(t, &t->slots[i], i % 3);
	if (atomic_dec_and_test(&dslab_t_running))
		complete(&dslab_t_done);
	/* Stay until kthread_stop(), so the task cannot vanish under it. */
	set_current_state(TASK_INTERRUPTIBLE);
	while (!kthread_should_stop()) {
		schedule();
		set_current_state(TASK_INTERRUPTIBLE);
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

/* === The hrtimer: frees in hardirq === */

static void dslab_t_irq_drain(void)
{
	struct llist_node *list = llist_del_all(&dslab_t_irq_queue);
	struct dslab_t_hdr *h, *tmp;

	llist_for_each_entry_safe(h, tmp, list, irq_node) {
		if (h->rcu)
			dslab_free_rcu(h);
		else
			dslab_free(h);
		atomic_long_inc(&dslab_t_irq_frees);
	}
}

/* The hrtimer's own objects: allocated, registered and freed in hardirq. */
static void dslab_t_irq_own(void)
{
	struct dslab_t_thread *t = &dslab_t_threads[dslab_t_nthreads];
	struct dslab_t_slot *s = &t->slots[prandom_u32_state(&t->rnd) % t->nslots];
	size_t size = sizeof(struct dslab_t_hdr) + prandom_u32_state(&t->rnd) % 512;
	void *obj;

	if (s->obj || !dslab_t_slot_ready(s))
		return;
	obj = dslab_alloc(size, GFP_ATOMIC);
	if (!obj) {
		t->enomem++;
		return;
	}
	atomic_long_inc(&dslab_t_irq_allocs);
	dslab_t_slot_fill(t, s, obj, size, false);
	dslab_t_set_dtor(t, s);
	if (prandom_u32_state(&t->rnd) & 1)
		dslab_t_cleanup_op(t, s, GFP_ATOMIC);
	dslab_t_free(t, s, (prandom_u32_state(&t->rnd) & 1) ?
		     DSLAB_T_FREE_NOW : DSLAB_T_FREE_RCU);
}

static enum hrtimer_restart dslab_t_timer_fn(struct hrtimer *timer)
{
	struct dslab_t_thread *t = &dslab_t_threads[dslab_t_nthreads];

	/* PREEMPT_RT expires a plain hrtimer in a thread: no dslab in hardirq. */
	if (!in_hardirq() && !IS_ENABLED(CONFIG_PREEMPT_RT))
		dslab_t_error("hrtimer callback not in hardirq");
	dslab_t_irq_drain();
	if ((prandom_u32_state(&t->rnd) & 3) == 0)
		dslab_t_irq_own();
	if (READ_ONCE(dslab_t_stop))
		return HRTIMER_NORESTART;
	hrtimer_forward_now(timer, ns_to_ktime(DSLAB_T_PERIOD_NS));
	return HRTIMER_RESTART;
}

/* === Run and check === */

/* This module's reference count: the pins its destructors hold. */
static int dslab_t_modref(void)
{
#ifdef CONFIG_MODULE_UNLOAD
	return module_refcount(THIS_MODULE);
#else
	return 0;
#endif
}

struct dslab_t_baseline {
	long inuse;
	long pages;
	unsigned long reserved;
	int modref;
};

static void dslab_t_baseline(struct dslab_t_baseline *b)
{
	struct dslab_finq_stats fs;

	dslab_dtor_barrier();
	dslab_shrink();
	b->inuse = dslab_objects_inuse();
	b->pages = atomic_long_read(&dslab_pages_held);
	dslab_finq_stats(&fs);
	b->reserved = fs.records_reserved;
	b->modref = dslab_t_modref();
}

static int dslab_t_setup(void)
{
	unsigned int i, n = dslab_t_nthreads + 1;

	for (i = 0; i < ARRAY_SIZE(dslab_t_hash); i++) {
		spin_lock_init(&dslab_t_hash[i].lock);
		INIT_HLIST_HEAD(&dslab_t_hash[i].head);
	}
	dslab_t_threads = kcalloc(n, sizeof(*dslab_t_threads), GFP_KERNEL);
	if (!dslab_t_threads)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct dslab_t_thread *t = &dslab_t_threads[i];

		t->idx = i;
		t->nslots = i < dslab_t_nthreads ? DSLAB_T_SLOTS : DSLAB_T_IRQ_SLOTS;
		t->slots = kvcalloc(t->nslots, sizeof(*t->slots), GFP_KERNEL);
		if (!t->slots)
			return -ENOMEM;
		prandom_seed_state(&t->rnd, seed + i);
	}
	return 0;
}

static void dslab_t_teardown(void)
{
	unsigned int i;

	if (!dslab_t_threads)
		return;
	for (i = 0; i <= dslab_t_nthreads; i++)
		kvfree(dslab_t_threads[i].slots);
	kfree(dslab_t_threads);
	dslab_t_threads = NULL;
}

static int dslab_t_start_threads(void)
{
	unsigned int i, cpu = cpumask_first(cpu_online_mask);

	init_completion(&dslab_t_done);
	atomic_set(&dslab_t_running, dslab_t_nthreads);
	for (i = 0; i < dslab_t_nthreads; i++) {
		struct task_struct *task;

		task = kthread_create(dslab_t_thread_fn, &dslab_t_threads[i],
				      "dslab_torture/%u", i);
		if (IS_ERR(task)) {
			/* Account for the threads that will never run. */
			if (atomic_sub_and_test(dslab_t_nthreads - i, &dslab_t_running))
				complete(&dslab_t_done);
			return PTR_ERR(task);
		}
		kthread_bind(task, cpu);
		cpu = cpumask_next(cpu, cpu_online_mask);
		if (cpu >= nr_cpu_ids)
			cpu = cpumask_first(cpu_online_mask);
		dslab_t_threads[i].task = task;
		wake_up_process(task);
	}
	return 0;
}

static void dslab_t_stop_threads(void)
{
	unsigned int i;

	for (i = 0; i < dslab_t_nthreads; i++)
		if (dslab_t_threads[i].task)
			kthread_stop(dslab_t_threads[i].task);
}

/* Every slot idle, every address untracked? */
static void dslab_t_check_slots(void)
{
	unsigned long pending = 0, tracked = 0;
	unsigned int i, j;

	for (i = 0; i <= dslab_t_nthreads; i++) {
		struct dslab_t_thread *t = &dslab_t_threads[i];

		for (j = 0; j < t->nslots; j++)
			if (atomic_read(&t->slots[j].state) != DSLAB_T_FREE)
				pending++;
	}
	for (i = 0; i < ARRAY_SIZE(dslab_t_hash); i++)
		if (!hlist_empty(&dslab_t_hash[i].head))
			tracked++;
	if (pending)
		dslab_t_error("%lu objects still await destructors or cleanups after the barrier",
			      pending);
	if (tracked)
		dslab_t_error("%lu hash buckets still track objects", tracked);
}

static void dslab_t_print_thread(struct dslab_t_thread *t)
{
	pr_info("thread %u: ops=%lu alloc=%lu new=%lu free=%lu rcu=%lu irq=%lu bulk=%lu dtor_set=%lu dtor_cleared=%lu refused_ok=%lu cleanup_add=%lu cancel=%lu enomem=%lu\n",
		t->idx, t->ops, t->allocs, t->news, t->frees, t->rcu_frees,
		t->irq_handoffs, t->bulk, t->dtors_set, t->dtors_cleared,
		t->refusals_ok, t->cleanups_added, t->cleanups_cancelled, t->enomem);
}

/*
 * A kmemleak positive control: one object nothing points to, typed, so
 * that the leak reports can name its type.
 */
struct dslab_t_leaked {
	char msg[128];
};

DSLAB_TYPE(dslab_t_leaked_type, struct dslab_t_leaked);

static noinline void dslab_t_leak(void)
{
	struct dslab_t_leaked *p = dslab_new(&dslab_t_leaked_type, GFP_KERNEL);

	if (!p)
		return;
	strscpy(p->msg, "dslab_torture leak_one", sizeof(p->msg));
	pr_info("leaked one 128-byte object on purpose (leak_one=1)\n");
}

/* Overwrite the dead stack slots that may still hold the leaked pointer. */
static noinline void dslab_t_scrub_stack(void)
{
	char buf[512];

	memzero_explicit(buf, sizeof(buf));
}

static int __init dslab_t_init(void)
{
	struct dslab_t_baseline before, after;
	unsigned long ops = 0, frees = 0, rcu = 0, irq = 0, bulk = 0, enomem = 0;
	unsigned long allocs = 0;
	bool ok;
	unsigned int i;
	int ret;

	dslab_t_nthreads = nthreads ? nthreads : num_online_cpus();
	if (!seed)
		seed = get_random_u64() | 1;
	ret = dslab_t_setup();
	if (ret)
		goto out_free;
	dslab_t_baseline(&before);
	pr_info("start: %u threads, %u s, seed %llu\n", dslab_t_nthreads,
		duration_s, seed);

	/*
	 * Not _HARD: dslab takes spinlock_t locks from interrupts, which
	 * PREEMPT_RT (and lockdep's raw-lock nesting check) allow in a plain
	 * hrtimer's callback, not in a hard one's.
	 */
	hrtimer_setup(&dslab_t_timer, dslab_t_timer_fn, CLOCK_MONOTONIC,
		      HRTIMER_MODE_REL);
	hrtimer_start(&dslab_t_timer, ns_to_ktime(DSLAB_T_PERIOD_NS),
		      HRTIMER_MODE_REL);

	ret = dslab_t_start_threads();
	if (!ret)
		msleep_interruptible(duration_s * MSEC_PER_SEC);
	WRITE_ONCE(dslab_t_stop, true);
	wait_for_completion(&dslab_t_done);
	dslab_t_stop_threads();
	hrtimer_cancel(&dslab_t_timer);
	dslab_t_irq_drain();		/* what the last tick did not take */
	if (ret) {
		dslab_t_error("could not start the threads: %d", ret);
		ret = 0;
	}

	dslab_dtor_barrier();
	dslab_t_check_slots();
	dslab_t_baseline(&after);
	if (atomic_long_read(&dslab_t_dtor_runs) != atomic_long_read(&dslab_t_dtor_expected))
		dslab_t_error("destructors: %ld ran, %ld expected",
			      atomic_long_read(&dslab_t_dtor_runs),
			      atomic_long_read(&dslab_t_dtor_expected));
	if (atomic_long_read(&dslab_t_cl_runs) != atomic_long_read(&dslab_t_cl_expected))
		dslab_t_error("cleanups: %ld ran, %ld expected",
			      atomic_long_read(&dslab_t_cl_runs),
			      atomic_long_read(&dslab_t_cl_expected));
	if (atomic_long_read(&dslab_t_chain_runs) != atomic_long_read(&dslab_t_chain_expected))
		dslab_t_error("chained destructors: %ld ran, %ld expected",
			      atomic_long_read(&dslab_t_chain_runs),
			      atomic_long_read(&dslab_t_chain_expected));
	if (after.inuse != before.inuse)
		dslab_t_error("objects in use: %ld before, %ld after (allocated - freed != 0)",
			      before.inuse, after.inuse);
	if (after.pages != before.pages)
		dslab_t_error("span pages held after a shrink: %ld before, %ld after",
			      before.pages, after.pages);
	if (after.reserved != before.reserved)
		dslab_t_error("reserved FinBlock slots: %lu before, %lu after",
			      before.reserved, after.reserved);
	if (after.modref != before.modref)
		dslab_t_error("module references: %d before, %d after (owner pin leaked)",
			      before.modref, after.modref);

	for (i = 0; i <= dslab_t_nthreads; i++) {
		struct dslab_t_thread *t = &dslab_t_threads[i];

		if (verbose)
			dslab_t_print_thread(t);
		ops += t->ops;
		allocs += t->allocs + t->news;
		frees += t->frees;
		rcu += t->rcu_frees;
		irq += t->irq_handoffs;
		bulk += t->bulk;
		enomem += t->enomem;
	}
	ok = atomic_long_read(&dslab_t_errors) == 0;
	pr_info("%u threads %u s seed %llu: ops=%lu allocs=%lu frees=%lu rcu_frees=%lu irq_frees=%ld irq_allocs=%ld bulk=%lu dtors=%ld/%ld cleanups=%ld/%ld chained=%ld/%ld reuse=%ld enomem=%lu errors=%ld %s\n",
		dslab_t_nthreads, duration_s, seed, ops, allocs, frees, rcu,
		atomic_long_read(&dslab_t_irq_frees),
		atomic_long_read(&dslab_t_irq_allocs), bulk,
		atomic_long_read(&dslab_t_dtor_runs),
		atomic_long_read(&dslab_t_dtor_expected),
		atomic_long_read(&dslab_t_cl_runs),
		atomic_long_read(&dslab_t_cl_expected),
		atomic_long_read(&dslab_t_chain_runs),
		atomic_long_read(&dslab_t_chain_expected),
		atomic_long_read(&dslab_t_reuse), enomem,
		atomic_long_read(&dslab_t_errors), ok ? "SUCCESS" : "FAILURE");

	if (leak_one) {
		dslab_t_leak();
		dslab_t_scrub_stack();
	}
out_free:
	dslab_t_teardown();
	return ret;
}

static void __exit dslab_t_exit(void)
{
}

module_init(dslab_t_init);
module_exit(dslab_t_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("dslab torture test: random mix of every API under load");
MODULE_IMPORT_NS(DSLAB_NS);
