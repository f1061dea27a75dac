// SPDX-License-Identifier: GPL-2.0
/*
 * dslab owner pins: the modules whose destructors and cleanups are
 * registered or queued.
 *
 * A destructor's code must not be unloaded before it has run, so its
 * module is pinned while the destructor is registered or queued.  Taking
 * a module reference per destructor works, but then the runner drops one
 * per record, and module_put() is an atomic read-modify-write on a line
 * every registering CPU also writes: it was a third of the runner's time
 * per record.  So dslab counts its own pins, one struct dslab_owner per
 * module that has any, and holds a single module reference for all of
 * them.  The runner gives back a whole block's pins of one owner with one
 * atomic operation.
 *
 * An owner holds its module reference exactly while pins > 0.  The two
 * transitions, 0 -> 1 (creating the owner and taking the reference) and
 * 1 -> 0 (dropping the reference and removing the owner), happen under
 * dslab_owner_lock, and the table holds only owners with pins > 0 (but
 * for the instant of the 1 -> 0 step, under the lock).  Every other
 * change is lockless: an increment only from a count already above zero
 * (atomic_long_inc_not_zero() on an owner found under RCU), a decrement
 * only when it does not reach zero (atomic_long_add_unless()).  So a pin
 * taken on the fast path always rides on the module reference.  Owners
 * are freed with kfree_rcu(), since lookups run under RCU only.
 *
 * A module being unloaded fails try_module_get(), so a registration for it
 * gets -EBUSY; while dslab holds pins, the module cannot start to unload.
 *
 * Lock order: dslab_owner_lock (irq-safe: pins are taken and dropped in
 * any context) nests inside nothing else of dslab and takes nothing.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <linux/hashtable.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
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

/* The 0 -> 1 step: a new owner holding a reference to @mod. */
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
	} else if (!try_module_get(mod)) {
		o = ERR_PTR(-EBUSY);
	} else if (!fresh) {
		module_put(mod);
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
	module_put(o->mod);
	kfree_rcu(o, rcu);
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

/**
 * dslab_owner_show() - the debugfs "owners" file
 * @m: the seq_file
 *
 * One line per pinned module: its name and how many destructors and
 * cleanups of it are registered or queued.  Every module listed holds a
 * reference from dslab, so its name is safe to read.
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
 * Return: its destructors and cleanups registered or queued; 0 when dslab
 * holds no reference to it.
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
EXPORT_SYMBOL_NS_GPL(dslab_test_owner_pins, DSLAB_NS);

/**
 * dslab_owner_exit() - check at unload that no module is still pinned
 *
 * By then every destructor and cleanup has run or was forgotten with its
 * pin, so the table is empty; an owner left is a dslab bug, reported and
 * released so that its module can unload.
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
		module_put(o->mod);
		kfree_rcu(o, rcu);
	}
}
