// SPDX-License-Identifier: GPL-2.0
/*
 * dslab typed objects, destructors and cleanups.
 *
 * dslab_set_destructor() is the Go runtime's SetFinalizer for C: before it
 * records anything it checks its arguments one by one and refuses, with a
 * precise error code and one rate-limited line naming the case and the
 * types, anything that could not work (Documentation/api.rst has the
 * table).  dslab_add_cleanup() is Go 1.24's AddCleanup: several per
 * object, each called with its own argument and never with the object.
 *
 * Where things live.  A span gets an array of per-object metadata (the
 * dynamic type and a list of "specials", as Go calls them) the first time
 * one of its objects is typed or given a destructor.  The list holds the
 * destructor first, then the cleanups.  Registration allocates the record
 * and reserves the FinBlock slot the object will need when freed, so
 * dslab_free() only has to move the list into that slot: it never
 * allocates and cannot lose a destructor.
 *
 * Cleanup handles are small integers in an xarray (encoded so they can
 * never be mistaken for a pointer or an ERR_PTR); cancelling looks the
 * handle up, so cancelling after the cleanup was queued or ran is a no-op,
 * not a use after free.
 *
 * Lock order: span->special_lock -> dslab_cleanup_ids.xa_lock.
 *
 * special_lock (irq-safe) protects a span's meta[] contents and the
 * attachment of records.  It is what serialises registration against
 * free: a registration tests the object's live bit under the lock after a
 * full barrier that follows publishing span->meta; the free path clears
 * the live bit with a fully ordered test_and_clear_bit() and then reads
 * span->meta, taking the lock when it is set.  By the store-buffering
 * argument one of the two sees the other: either the registration sees
 * the object dead and refuses with -EFAULT, or the free sees the meta
 * array and, under the lock, the attached record.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include <trace/events/dslab.h>

#include "dslab.h"

/* === Data === */

/* Cleanup handle ids; entries are the attached records. */
static DEFINE_XARRAY_FLAGS(dslab_cleanup_ids, XA_FLAGS_ALLOC1 | XA_FLAGS_LOCK_IRQ);
static u32 dslab_cleanup_next;		/* xa_lock: cyclic id cursor */

/* === Internals === */

static inline struct dslab_cleanup *dslab_cleanup_encode(u32 id)
{
	return (struct dslab_cleanup *)(((unsigned long)id << 1) | 1);
}

static inline u32 dslab_cleanup_decode(struct dslab_cleanup *c)
{
	unsigned long v = (unsigned long)c;

	if (!(v & 1) || v > ((unsigned long)U32_MAX << 1 | 1))
		return 0;
	return v >> 1;
}

static struct dslab_objmeta *dslab_span_meta(struct dslab_span *span,
					     gfp_t gfp)
{
	struct dslab_objmeta *meta = READ_ONCE(span->meta), *fresh;
	unsigned long flags;

	if (meta)
		return meta;
	/* Allocate outside the lock, recheck under it. */
	if (dslab_should_fail(gfp, span->nelems * sizeof(*fresh)))
		return NULL;
	fresh = kcalloc(span->nelems, sizeof(*fresh), gfp & DSLAB_GFP_META);
	if (!fresh)
		return NULL;
	spin_lock_irqsave(&span->special_lock, flags);
	meta = span->meta;
	if (!meta) {
		meta = fresh;
		fresh = NULL;
		/* Pairs with READ_ONCE() in dslab_free_common(). */
		WRITE_ONCE(span->meta, meta);
	}
	spin_unlock_irqrestore(&span->special_lock, flags);
	kfree(fresh);
	return meta;
}

/* Does an object of type @t satisfy a destructor taking @want? */
static bool dslab_type_accepts(const struct dslab_type *want,
			       const struct dslab_type *t)
{
	const struct dslab_type *const *i;

	if (!want || want == t)
		return true;
	if (!t || want->size || !t->implements)
		return false;
	for (i = t->implements; *i; i++)
		if (*i == want)
			return true;
	return false;
}

static const char *dslab_type_name(const struct dslab_type *t)
{
	if (!t)
		return "untyped";
	return t->name ? t->name : "(unnamed)";
}

/* Result of looking an object up for registration. */
struct dslab_target {
	struct dslab_span *span;
	unsigned int idx;
};

/*
 * The "is this a live object, and its start?" checks shared by every
 * registration path.  Returns 0, -EFAULT (not a live dslab object) or
 * -EINVAL (interior pointer), and names the case in *why.
 */
static int dslab_target_find(const void *obj, struct dslab_target *t,
			     const char **why)
{
	unsigned int off;
	int ret = 0;

	if (IS_ERR(obj)) {
		*why = "pointer is an ERR_PTR";
		return -EFAULT;
	}
	rcu_read_lock();
	t->span = dslab_span_lookup(obj);
	if (!t->span) {
		*why = "pointer not in a dslab block";
		ret = -EFAULT;
		goto out;
	}
	t->idx = dslab_span_index(t->span, obj, &off);
	if (t->idx >= t->span->nelems || !test_bit(t->idx, t->span->live)) {
		*why = "pointer not in an allocated block";
		ret = -EFAULT;
	} else if (off) {
		*why = "pointer not at beginning of allocated block";
		ret = -EINVAL;
	}
out:
	rcu_read_unlock();
	return ret;
}

/* Is the target still live?  Call with special_lock held. */
static bool dslab_target_live(struct dslab_target *t)
{
	lockdep_assert_held(&t->span->special_lock);
	/* Pairs with test_and_clear_bit() in dslab_free_common(). */
	smp_mb();
	return test_bit(t->idx, t->span->live);
}

static void dslab_special_free(struct dslab_special *sp)
{
	if (sp->owner && sp->owner != THIS_MODULE)
		module_put(sp->owner);
	kfree_rcu(sp, rcu);
}

static int dslab_pin_owner(struct module *owner)
{
	if (!owner || owner == THIS_MODULE)
		return 0;
	return try_module_get(owner) ? 0 : -EBUSY;
}

/* === Public interface: typed allocation === */

/**
 * dslab_new() - allocate a zeroed object of a dslab type
 * @type: the type; must not be an interface (size 0)
 * @flags: GFP flags, as for dslab_alloc()
 *
 * Records @type as the object's dynamic type, which typed destructors
 * are checked against.
 *
 * Context: As for dslab_alloc().
 * Return: the object, or NULL when @type is NULL or an interface, or
 * memory ran out.
 */
void *dslab_new(const struct dslab_type *type, gfp_t flags)
{
	struct dslab_objmeta *meta;
	struct dslab_span *span;
	unsigned int idx, off;
	unsigned long irqflags;
	void *obj;

	if (!type || !type->size) {
		dslab_report("dslab_new: %s type %s cannot be allocated\n",
			     type ? "interface" : "NULL", dslab_type_name(type));
		return NULL;
	}
	obj = dslab_alloc(type->size, flags | __GFP_ZERO);
	if (!obj)
		return NULL;
	span = dslab_span_lookup(obj);
	meta = dslab_span_meta(span, flags);
	if (!meta) {
		dslab_free(obj);
		return NULL;
	}
	idx = dslab_span_index(span, obj, &off);
	spin_lock_irqsave(&span->special_lock, irqflags);
	meta[idx].type = type;
	spin_unlock_irqrestore(&span->special_lock, irqflags);
	return obj;
}
EXPORT_SYMBOL_GPL(dslab_new);

/* === Public interface: destructors === */

static int dslab_clear_destructor(const void *obj, struct dslab_target *t)
{
	struct dslab_special *sp = NULL;
	struct dslab_objmeta *m;
	bool unreserve = false;
	unsigned long flags;
	int ret = 0;

	spin_lock_irqsave(&t->span->special_lock, flags);
	if (!dslab_target_live(t)) {
		ret = -EFAULT;
	} else if (t->span->meta) {
		m = &t->span->meta[t->idx];
		if (m->specials && m->specials->kind == DSLAB_SPECIAL_DTOR) {
			sp = m->specials;
			m->specials = sp->next;
			unreserve = !m->specials;
		}
	}
	spin_unlock_irqrestore(&t->span->special_lock, flags);

	if (unreserve)
		dslab_finq_unreserve();
	if (sp) {
		dslab_stat_inc(DSLAB_STAT_DTOR_CLEARED);
		dslab_special_free(sp);
	}
	return ret;
}

/**
 * __dslab_set_destructor() - set or remove an object's destructor
 * @obj: the start of a live dslab object
 * @dtor: the destructor and the type it accepts, or NULL to remove
 * @owner: the module whose code @dtor->fn is; pinned until it has run or
 *	was removed.  Use the dslab_set_destructor() wrapper, which passes
 *	THIS_MODULE.
 *
 * Validated like Go's runtime.SetFinalizer; after a refusal nothing has
 * changed.  Static data (kernel image or module .data/.bss) cannot be told
 * apart from other foreign memory and gets -EFAULT.
 *
 * Context: Any context; takes no sleeping lock.
 * Return: 0 when set or removed (removing when none is set also returns
 * 0, and a zero-size object ZERO_SIZE_PTR is silently accepted);
 * -EINVAL for a NULL @obj, an interior pointer, a NULL @dtor->fn, a
 * @dtor->arg the object's type does not satisfy, or a typed destructor on
 * an untyped object; -EFAULT when @obj is not a live dslab object
 * (foreign, ERR_PTR, freed); -EEXIST when a destructor is already set;
 * -ENOMEM when the FinBlock slot or record could not be allocated;
 * -EBUSY when @owner is being unloaded.
 */
int __dslab_set_destructor(const void *obj, const struct dslab_dtor *dtor,
			   struct module *owner)
{
	const struct dslab_type *otype = NULL;
	struct dslab_special *sp = NULL;
	struct dslab_target t;
	struct dslab_objmeta *meta;
	const char *why = NULL;
	unsigned long flags;
	bool first;
	int ret;

	if (!obj) {
		why = "first argument is NULL";
		ret = -EINVAL;
		goto refuse;
	}
	if (obj == ZERO_SIZE_PTR)
		return 0;
	ret = dslab_target_find(obj, &t, &why);
	if (ret)
		goto refuse;
	if (!dtor)
		return dslab_clear_destructor(obj, &t);
	if (!dtor->fn) {
		why = "destructor is not a function (fn is NULL)";
		ret = -EINVAL;
		goto refuse;
	}

	/* Check the type before allocating anything. */
	meta = READ_ONCE(t.span->meta);
	if (meta) {
		spin_lock_irqsave(&t.span->special_lock, flags);
		otype = meta[t.idx].type;
		spin_unlock_irqrestore(&t.span->special_lock, flags);
	}
	if (dtor->arg && !otype) {
		why = "typed destructor on an untyped object";
		ret = -EINVAL;
		goto refuse_types;
	}
	if (!dslab_type_accepts(dtor->arg, otype)) {
		why = "cannot pass object to destructor";
		ret = -EINVAL;
		goto refuse_types;
	}

	meta = dslab_span_meta(t.span, GFP_ATOMIC);
	if (!meta)
		goto err_nomem;
	ret = dslab_finq_reserve(GFP_ATOMIC);
	if (ret)
		goto err_nomem;
	if (dslab_should_fail(GFP_ATOMIC, sizeof(*sp)))
		goto err_unreserve;
	sp = kmalloc(sizeof(*sp), GFP_ATOMIC | __GFP_NOWARN);
	if (!sp)
		goto err_unreserve;
	ret = dslab_pin_owner(owner);
	if (ret) {
		why = "owner module is going away";
		kfree(sp);
		dslab_finq_unreserve();
		goto refuse;
	}
	*sp = (struct dslab_special) {
		.span = t.span, .idx = t.idx, .kind = DSLAB_SPECIAL_DTOR,
		.fn = dtor->fn, .type = dtor->arg, .owner = owner,
	};

	spin_lock_irqsave(&t.span->special_lock, flags);
	if (!dslab_target_live(&t)) {
		why = "pointer not in an allocated block";
		ret = -EFAULT;
	} else if (meta[t.idx].type != otype) {
		why = "object changed type";
		ret = -EFAULT;
	} else if (meta[t.idx].specials &&
		   meta[t.idx].specials->kind == DSLAB_SPECIAL_DTOR) {
		why = "destructor already set";
		ret = -EEXIST;
	} else {
		first = !meta[t.idx].specials;
		sp->next = meta[t.idx].specials;
		meta[t.idx].specials = sp;
		sp = NULL;
	}
	spin_unlock_irqrestore(&t.span->special_lock, flags);

	if (sp) {
		dslab_special_free(sp);
		dslab_finq_unreserve();
		goto refuse_types;
	}
	if (!first)
		dslab_finq_unreserve();	/* the object already had its slot */
	dslab_stat_inc(DSLAB_STAT_DTOR_SET);
	trace_dslab_set_destructor(obj, dtor->arg ? dslab_type_name(dtor->arg) : NULL, 0);
	return 0;

err_unreserve:
	dslab_finq_unreserve();
err_nomem:
	why = "out of memory";
	ret = -ENOMEM;
refuse:
	dslab_stat_inc(DSLAB_STAT_DTOR_REFUSED);
	dslab_report("set_destructor: %s (%d)\n", why, ret);
	trace_dslab_set_destructor(obj, NULL, ret);
	return ret;
refuse_types:
	dslab_stat_inc(DSLAB_STAT_DTOR_REFUSED);
	dslab_report("set_destructor: %s: object type %s, destructor %ps takes %s (%d)\n",
		     why, dslab_type_name(otype), dtor->fn,
		     dtor->arg ? dslab_type_name(dtor->arg) : "any object", ret);
	trace_dslab_set_destructor(obj, dtor->arg ? dslab_type_name(dtor->arg) : NULL, ret);
	return ret;
}
EXPORT_SYMBOL_GPL(__dslab_set_destructor);

/* === Public interface: cleanups === */

static int dslab_cleanup_id_alloc(u32 *id, gfp_t gfp)
{
	unsigned long flags;
	int ret;

	if (dslab_should_fail(gfp, sizeof(void *)))
		return -ENOMEM;
	if (gfpflags_allow_blocking(gfp) && !irqs_disabled())
		return xa_alloc_cyclic_irq(&dslab_cleanup_ids, id, NULL,
					   xa_limit_31b, &dslab_cleanup_next,
					   gfp) < 0 ? -ENOMEM : 0;
	/* A non-blocking gfp never drops the lock inside the xarray. */
	xa_lock_irqsave(&dslab_cleanup_ids, flags);
	ret = __xa_alloc_cyclic(&dslab_cleanup_ids, id, NULL, xa_limit_31b,
				&dslab_cleanup_next, gfp);
	xa_unlock_irqrestore(&dslab_cleanup_ids, flags);
	return ret < 0 ? -ENOMEM : 0;
}

static void dslab_cleanup_id_free(u32 id)
{
	unsigned long flags;

	xa_lock_irqsave(&dslab_cleanup_ids, flags);
	__xa_erase(&dslab_cleanup_ids, id);
	xa_unlock_irqrestore(&dslab_cleanup_ids, flags);
}

/**
 * __dslab_add_cleanup() - run a function after an object is freed
 * @obj: the start of a live dslab object
 * @fn: called with @arg, in process context, once @obj was freed
 * @arg: the argument; must not be @obj (a cleanup cannot resurrect it)
 * @flags: GFP flags for the record
 * @owner: the module whose code @fn is, pinned meanwhile; use the
 *	dslab_add_cleanup() wrapper, which passes THIS_MODULE
 *
 * Like Go 1.24's runtime.AddCleanup.  An object may have several
 * cleanups and a destructor; at free they run after the destructor.
 *
 * Context: Any context with a matching @flags.
 * Return: a handle for dslab_cleanup_cancel(); ERR_PTR(-EINVAL) for a
 * NULL or zero-size @obj, a NULL @fn, @arg == @obj or an interior
 * pointer; ERR_PTR(-EFAULT) when @obj is not a live dslab object;
 * ERR_PTR(-ENOMEM); ERR_PTR(-EBUSY) when @owner is being unloaded.
 */
struct dslab_cleanup *__dslab_add_cleanup(const void *obj,
					  void (*fn)(void *arg), void *arg,
					  gfp_t flags, struct module *owner)
{
	struct dslab_special *sp, **pp;
	struct dslab_objmeta *meta;
	struct dslab_target t;
	const char *why = NULL;
	unsigned long irqflags;
	bool first = false;
	u32 id;
	int ret;

	if (ZERO_OR_NULL_PTR(obj)) {
		why = obj ? "object has zero size" : "first argument is NULL";
		ret = -EINVAL;
		goto refuse;
	}
	if (!fn) {
		why = "cleanup is not a function (fn is NULL)";
		ret = -EINVAL;
		goto refuse;
	}
	if (arg == obj) {
		why = "cleanup argument is the object itself";
		ret = -EINVAL;
		goto refuse;
	}
	ret = dslab_target_find(obj, &t, &why);
	if (ret)
		goto refuse;

	ret = -ENOMEM;
	why = "out of memory";
	meta = dslab_span_meta(t.span, flags);
	if (!meta)
		goto refuse;
	if (dslab_finq_reserve(flags))
		goto refuse;
	if (dslab_should_fail(flags, sizeof(*sp)))
		goto err_unreserve;
	sp = kmalloc(sizeof(*sp), (flags & DSLAB_GFP_META) | __GFP_NOWARN);
	if (!sp)
		goto err_unreserve;
	if (dslab_cleanup_id_alloc(&id, flags))
		goto err_free_sp;
	ret = dslab_pin_owner(owner);
	if (ret) {
		why = "owner module is going away";
		goto err_free_id;
	}
	*sp = (struct dslab_special) {
		.span = t.span, .idx = t.idx, .kind = DSLAB_SPECIAL_CLEANUP,
		.id = id, .fn = fn, .arg = arg, .owner = owner,
	};

	spin_lock_irqsave(&t.span->special_lock, irqflags);
	if (dslab_target_live(&t)) {
		first = !meta[t.idx].specials;
		/* Keep the destructor first; cleanups run in order added. */
		for (pp = &meta[t.idx].specials; *pp; pp = &(*pp)->next)
			;
		*pp = sp;
		xa_lock(&dslab_cleanup_ids);
		__xa_store(&dslab_cleanup_ids, id, sp, GFP_ATOMIC);
		xa_unlock(&dslab_cleanup_ids);
		sp = NULL;
	}
	spin_unlock_irqrestore(&t.span->special_lock, irqflags);

	if (sp) {
		why = "pointer not in an allocated block";
		ret = -EFAULT;
		dslab_cleanup_id_free(id);
		dslab_special_free(sp);
		dslab_finq_unreserve();
		goto refuse;
	}
	if (!first)
		dslab_finq_unreserve();
	dslab_stat_inc(DSLAB_STAT_CLEANUP_ADDED);
	return dslab_cleanup_encode(id);

err_free_id:
	dslab_cleanup_id_free(id);
err_free_sp:
	kfree(sp);
err_unreserve:
	dslab_finq_unreserve();
refuse:
	dslab_stat_inc(DSLAB_STAT_DTOR_REFUSED);
	dslab_report("add_cleanup: %s (%d)\n", why, ret);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_GPL(__dslab_add_cleanup);

/**
 * dslab_cleanup_cancel() - stop a cleanup that has not been queued yet
 * @cleanup: a handle from dslab_add_cleanup(); NULL and ERR_PTR values
 *	are ignored
 *
 * Once the object was freed the cleanup is queued and this is a no-op,
 * as is a second cancel.
 *
 * Context: Any context.
 */
void dslab_cleanup_cancel(struct dslab_cleanup *cleanup)
{
	struct dslab_special *sp, **pp;
	struct dslab_span *span;
	u32 id = dslab_cleanup_decode(cleanup);
	bool unreserve = false, found = false;
	unsigned long flags;

	if (!id)
		return;
	rcu_read_lock();
	sp = xa_load(&dslab_cleanup_ids, id);
	if (!sp)
		goto out;
	/* The span outlives this RCU section: freed through call_rcu(). */
	span = sp->span;
	spin_lock_irqsave(&span->special_lock, flags);
	if (xa_load(&dslab_cleanup_ids, id) == sp) {
		for (pp = &span->meta[sp->idx].specials; *pp; pp = &(*pp)->next) {
			if (*pp == sp) {
				*pp = sp->next;
				found = true;
				break;
			}
		}
		if (!WARN_ON_ONCE(!found)) {
			unreserve = !span->meta[sp->idx].specials;
			xa_lock(&dslab_cleanup_ids);
			__xa_erase(&dslab_cleanup_ids, id);
			xa_unlock(&dslab_cleanup_ids);
		}
	}
	spin_unlock_irqrestore(&span->special_lock, flags);
out:
	rcu_read_unlock();
	if (!found)
		return;
	if (unreserve)
		dslab_finq_unreserve();
	dslab_stat_inc(DSLAB_STAT_CLEANUP_CANCELLED);
	dslab_special_free(sp);
}
EXPORT_SYMBOL_GPL(dslab_cleanup_cancel);

/* === Internals: free and run === */

/*
 * From the free paths, interrupts off, object @idx already not live.
 * Detach its specials and queue them; its cleanup handles stop working.
 */
bool dslab_dtor_on_free(struct dslab_span *span, unsigned int idx,
			void *obj, bool rcu)
{
	struct dslab_objmeta *m = &span->meta[idx];
	struct dslab_special *list, *sp;

	spin_lock(&span->special_lock);
	list = m->specials;
	m->specials = NULL;
	m->type = NULL;
	if (list) {
		xa_lock(&dslab_cleanup_ids);
		for (sp = list; sp; sp = sp->next)
			if (sp->kind == DSLAB_SPECIAL_CLEANUP)
				__xa_erase(&dslab_cleanup_ids, sp->id);
		xa_unlock(&dslab_cleanup_ids);
	}
	spin_unlock(&span->special_lock);

	if (!list)
		return false;
	trace_dslab_dtor_queue(obj, rcu);
	dslab_stat_inc(DSLAB_STAT_OBJ_QUEUED);
	dslab_finq_enqueue(obj, list, rcu);
	return true;
}

/**
 * dslab_dtor_run_object() - run a dead object's specials, release it
 * @obj: the object
 * @list: its detached specials, destructor first
 *
 * Context: Process context (the runner); may sleep.
 */
void dslab_dtor_run_object(void *obj, struct dslab_special *list)
{
	struct dslab_span *span = list->span;

	while (list) {
		struct dslab_special *sp = list;
		u64 t0 = ktime_get_ns();

		list = sp->next;
		if (sp->kind == DSLAB_SPECIAL_DTOR) {
			sp->fn(obj);
			dslab_stat_inc(DSLAB_STAT_DTOR_RUN);
		} else {
			sp->fn(sp->arg);
			dslab_stat_inc(DSLAB_STAT_CLEANUP_RUN);
		}
		trace_dslab_dtor_run(obj, sp->kind, ktime_get_ns() - t0);
		dslab_special_free(sp);
		cond_resched();
	}
	dslab_finq_unreserve();
	dslab_release_object(span, obj);
}

/* Unload with leaked objects: drop their records without running them. */
void dslab_dtor_forget_span(struct dslab_span *span)
{
	unsigned int idx;

	for (idx = 0; idx < span->nelems; idx++) {
		struct dslab_special *list = span->meta[idx].specials;

		if (!list)
			continue;
		span->meta[idx].specials = NULL;
		pr_err("unload: leaked object in class %u had a destructor or cleanups that will not run\n",
		       span->class);
		while (list) {
			struct dslab_special *sp = list;

			list = sp->next;
			if (sp->kind == DSLAB_SPECIAL_CLEANUP)
				dslab_cleanup_id_free(sp->id);
			dslab_special_free(sp);
		}
		dslab_finq_unreserve();
	}
}

int dslab_dtor_init(void)
{
	return 0;
}

void dslab_dtor_exit(void)
{
	WARN_ON_ONCE(!xa_empty(&dslab_cleanup_ids));
	xa_destroy(&dslab_cleanup_ids);
}
