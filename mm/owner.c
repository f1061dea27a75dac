// SPDX-License-Identifier: GPL-2.0
/*
 * dslab owner pins: the modules whose destructors and cleanups are
 * registered or queued, and what happens when such a module goes away.
 *
 * A destructor's code must not be unloaded before it has run.  dslab does
 * not hold module references for that: a client that keeps objects until
 * its module_exit frees them (the kernel's usual pattern, compare
 * kmem_cache_destroy() in exit) could then never be unloaded, since exit
 * only runs once the references are gone.  Instead dslab counts pins,
 * one struct dslab_owner per module that has any, and watches the module
 * notifier: at MODULE_STATE_GOING (after the module's exit ran, before
 * its memory is freed) dslab_owner_going()
 *  1. waits for registrations that found the module live to attach
 *     (synchronize_rcu(): the commit step checks liveness under RCU);
 *  2. drops the module's destructors and cleanups still registered on
 *     live objects (it leaked them; reported like kmem_cache_destroy()'s
 *     "objects remaining"), and forgets types defined in its memory;
 *  3. runs, with dslab_dtor_barrier(), every destructor and cleanup of
 *     the module already queued, while its code is still there.
 * A module with no pins gets step 2 for its types only: it may have typed
 * objects without ever registering anything.
 * So no destructor runs after its module's code is gone, and rmmod works
 * whatever the module still has registered.  From MODULE_STATE_GOING on
 * (set before the module's exit runs) registrations for the module are
 * refused with -EBUSY.
 *
 * The pin count is per owner.  The two transitions, 0 -> 1 (creating the
 * owner) and 1 -> 0 (removing it), happen under dslab_owner_lock, and the
 * table holds only owners with pins > 0 (but for the instant of the
 * 1 -> 0 step, under the lock).  Every other change is lockless: an
 * increment only from a count already above zero
 * (atomic_long_inc_not_zero() on an owner found under RCU), a decrement
 * only when it does not reach zero (atomic_long_add_unless()).  The
 * runner gives back a whole block's pins of one owner with one atomic
 * operation.  Owners are freed with kfree_rcu(), since lookups run under
 * RCU only.  A hashed owner's module is not freed: its GOING
 * notification waits until the owner's last pin is gone.
 *
 * Lock order: dslab_owner_lock (irq-safe: pins are taken and dropped in
 * any context) nests inside nothing else of dslab and takes nothing.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <kunit/visibility.h>
#include <linux/hashtable.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "dslab.h"

/* === Data === */

struct dslab_owner {
	struct module *mod;		/* I */
	atomic_long_t pins;		/* see the header; > 0 while hashed */
	struct hlist_node node;		/* O: in dslab_owners */
	struct rcu_head rcu;
};

#define DSLAB_OWNER_HASH_BITS	5

static DEFINE_SPINLOCK(dslab_owner_lock);
static DEFINE_HASHTABLE(dslab_owners, DSLAB_OWNER_HASH_BITS); /* O */

/* === Internals === */

static struct dslab_owner *dslab_owner_find(struct module *mod)
{
	struct dslab_owner *o;

	hash_for_each_possible_rcu(dslab_owners, o, node, (unsigned long)mod)
		if (o->mod == mod)
			return o;
	return NULL;
}

/* The 0 -> 1 step: a new owner for @mod. */
static struct dslab_owner *dslab_owner_pin_slow(struct module *mod, gfp_t gfp)
{
	struct dslab_owner *o, *fresh = NULL;
	unsigned long flags;

	if (!dslab_should_fail(gfp, sizeof(*fresh)))
		fresh = kmalloc(sizeof(*fresh), (gfp & DSLAB_GFP_META) |
				__GFP_NOWARN);

	spin_lock_irqsave(&dslab_owner_lock, flags);
	o = dslab_owner_find(mod);
	if (o) {
		/* Hashed, so above zero: another CPU made it meanwhile. */
		atomic_long_inc(&o->pins);
	} else if (!module_is_live(mod)) {
		o = ERR_PTR(-EBUSY);
	} else if (!fresh) {
		o = ERR_PTR(-ENOMEM);
	} else {
		o = fresh;
		fresh = NULL;
		o->mod = mod;
		atomic_long_set(&o->pins, 1);
		hash_add_rcu(dslab_owners, &o->node, (unsigned long)mod);
	}
	spin_unlock_irqrestore(&dslab_owner_lock, flags);
	kfree(fresh);
	return o;
}

/* === Interface to the rest of dslab === */

/**
 * dslab_owner_pin() - pin @mod for one destructor or cleanup
 * @mod: the module whose code will be called, or NULL
 * @gfp: flags for the owner record, needed when @mod has no pins yet
 *
 * Built-in code (NULL) and dslab itself, which cannot unload while it
 * holds anything, need no pin.
 *
 * Context: Any context with a matching @gfp.
 * Return: the owner to give to dslab_owner_unpin(), NULL when nothing
 * was pinned, ERR_PTR(-EBUSY) when @mod is being unloaded, or
 * ERR_PTR(-ENOMEM).
 */
struct dslab_owner *dslab_owner_pin(struct module *mod, gfp_t gfp)
{
	struct dslab_owner *o;

	if (!mod || mod == THIS_MODULE)
		return NULL;
	rcu_read_lock();
	o = dslab_owner_find(mod);
	if (o && atomic_long_inc_not_zero(&o->pins)) {
		rcu_read_unlock();
		return o;
	}
	rcu_read_unlock();
	return dslab_owner_pin_slow(mod, gfp);
}

/**
 * dslab_owner_unpin() - drop pins taken by dslab_owner_pin()
 * @o: the owner, or NULL (nothing was pinned)
 * @n: how many of its pins
 *
 * Context: Any context.
 */
void dslab_owner_unpin(struct dslab_owner *o, unsigned long n)
{
	unsigned long flags;

	if (!o || !n)
		return;
	/* Not the last pins: the module reference stays. */
	if (atomic_long_add_unless(&o->pins, -(long)n, n))
		return;
	spin_lock_irqsave(&dslab_owner_lock, flags);
	if (atomic_long_sub_return(n, &o->pins)) {
		/* Pinned again meanwhile. */
		spin_unlock_irqrestore(&dslab_owner_lock, flags);
		return;
	}
	hash_del_rcu(&o->node);
	spin_unlock_irqrestore(&dslab_owner_lock, flags);
	kfree_rcu(o, rcu);
}

/**
 * dslab_owner_live() - may @o's module still get registrations?
 * @o: a pinned owner, or NULL (built-in code and dslab itself)
 *
 * The commit step of a registration asks this under rcu_read_lock(), so
 * dslab_owner_going() can wait for every registration that saw the
 * module live (synchronize_rcu()) before it drops what is registered.
 *
 * Context: Any context, under rcu_read_lock().
 * Return: false once the module is going away.
 */
bool dslab_owner_live(const struct dslab_owner *o)
{
	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "owner liveness checked outside RCU");
	/* Written by the module loader before the module's exit runs. */
	return !o || READ_ONCE(o->mod->state) != MODULE_STATE_GOING;
}

/**
 * dslab_owner_batch_flush() - drop the pins a batch collected
 * @b: the batch; zeroed again on return
 *
 * Context: Any context.
 */
void dslab_owner_batch_flush(struct dslab_owner_batch *b)
{
	dslab_owner_unpin(b->owner, b->n);
	b->owner = NULL;
	b->n = 0;
}

/* === Module unload === */

/*
 * The module @mod is going away: see the header.  With @report, a module
 * that left registrations on live objects gets one error line; the
 * counts are returned either way.
 */
void dslab_owner_going(struct module *mod, bool report,
		       struct dslab_forgotten *f)
{
	struct dslab_owner *o;
	unsigned long flags;
	unsigned int rounds;

	*f = (struct dslab_forgotten) {
		.report = report ? module_name(mod) : NULL,
	};
	/*
	 * Under the lock, so an owner created after this lookup was created
	 * by a registration that sees the module's GOING state (written
	 * before its exit ran, so before this notifier) and refuses.
	 */
	spin_lock_irqsave(&dslab_owner_lock, flags);
	o = dslab_owner_find(mod);
	if (o)
		atomic_long_inc(&o->pins);	/* ours, for the walk below */
	spin_unlock_irqrestore(&dslab_owner_lock, flags);
	if (!o) {
		/*
		 * Nothing registered, but its typed objects may still name
		 * its types.  The walk visits the spans that have metadata:
		 * cheap for a module that never used dslab.
		 */
		dslab_dtor_forget_owner(NULL, mod, f);
		goto report;
	}

	/* Registrations that saw the module live have attached by now. */
	synchronize_rcu();
	dslab_dtor_forget_owner(o, mod, f);
	/*
	 * What is left of the module's pins is queued records (and frees
	 * that cleared an object's live bit before the walk and are about to
	 * queue it).  Run them while the module's code is still there.
	 */
	for (rounds = 0; atomic_long_read(&o->pins) > 1; rounds++) {
		dslab_dtor_barrier();
		if (rounds)
			schedule_timeout_uninterruptible(1);
	}
	dslab_owner_unpin(o, 1);
report:
	if (report && (f->dtors || f->cleanups || f->types))
		pr_err("module %s went away with %lu destructors and %lu cleanups still registered on live objects (dropped, they will not run) and %lu live objects of its types (now untyped)\n",
		       module_name(mod), f->dtors, f->cleanups, f->types);
}

static int dslab_owner_notify(struct notifier_block *nb, unsigned long action,
			      void *data)
{
	struct dslab_forgotten f;

	if (action == MODULE_STATE_GOING && data != THIS_MODULE)
		dslab_owner_going(data, true, &f);
	return NOTIFY_DONE;
}

static struct notifier_block dslab_owner_nb = {
	.notifier_call = dslab_owner_notify,
};

/**
 * dslab_test_owner_going() - what a module's unload does, for a test
 * @mod: the module (a test may pass a fake one that has pins)
 * @f: set to what was dropped
 *
 * Context: Process context; sleeps.
 */
void dslab_test_owner_going(struct module *mod, struct dslab_forgotten *f)
{
	dslab_owner_going(mod, false, f);
}
EXPORT_SYMBOL_IF_KUNIT(dslab_test_owner_going);

/**
 * dslab_owner_init() - watch modules going away
 *
 * Context: Process context, at module init.
 * Return: 0 or -errno.
 */
int dslab_owner_init(void)
{
	return register_module_notifier(&dslab_owner_nb);
}

/**
 * dslab_owner_stop() - stop watching modules
 *
 * At dslab's unload no client is left: each depends on dslab's symbols,
 * and its GOING notification ran before that dependency went.
 *
 * Context: Process context, at module exit (or a failed init).
 */
void dslab_owner_stop(void)
{
	unregister_module_notifier(&dslab_owner_nb);
}

/**
 * dslab_owner_show() - the debugfs "owners" file
 * @m: the seq_file
 *
 * One line per pinned module: its name and how many destructors and
 * cleanups of it are registered or queued.  A hashed owner's module is
 * not freed (see the header), so its name is safe to read under the lock.
 *
 * Context: Process context.
 * Return: 0.
 */
int dslab_owner_show(struct seq_file *m)
{
	struct dslab_owner *o;
	unsigned long flags;
	unsigned int bkt;

	spin_lock_irqsave(&dslab_owner_lock, flags);
	hash_for_each(dslab_owners, bkt, o, node)
		seq_printf(m, "%s %ld\n", module_name(o->mod),
			   atomic_long_read(&o->pins));
	spin_unlock_irqrestore(&dslab_owner_lock, flags);
	return 0;
}

/**
 * dslab_test_owner_pins() - how many pins dslab holds on a module
 * @mod: the module
 *
 * Context: Any context.
 * Return: its destructors and cleanups registered or queued; 0 when it
 * has none.
 */
long dslab_test_owner_pins(struct module *mod)
{
	struct dslab_owner *o;
	long pins = 0;

	rcu_read_lock();
	o = dslab_owner_find(mod);
	if (o)
		pins = atomic_long_read(&o->pins);
	rcu_read_unlock();
	return pins;
}
EXPORT_SYMBOL_IF_KUNIT(dslab_test_owner_pins);

/**
 * dslab_owner_exit() - check at unload that no module is still pinned
 *
 * By then every destructor and cleanup has run or was forgotten with its
 * pin, so the table is empty; an owner left is a dslab bug, reported and
 * freed.
 *
 * Context: Process context, at module exit.
 */
void dslab_owner_exit(void)
{
	struct dslab_owner *o;
	struct hlist_node *tmp;
	unsigned long flags;
	unsigned int bkt;
	HLIST_HEAD(left);

	spin_lock_irqsave(&dslab_owner_lock, flags);
	hash_for_each_safe(dslab_owners, bkt, tmp, o, node) {
		hash_del_rcu(&o->node);
		hlist_add_head(&o->node, &left);
	}
	spin_unlock_irqrestore(&dslab_owner_lock, flags);
	hlist_for_each_entry_safe(o, tmp, &left, node) {
		pr_err("unload: module %s still pinned %ld times\n",
		       module_name(o->mod), atomic_long_read(&o->pins));
		kfree_rcu(o, rcu);
	}
}
