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
 * dynamic type, the destructor and its owner, and a list of cleanup
 * "specials", as Go calls them) the first time one of its objects is typed
 * or given a destructor.  A destructor needs no record of its own;
 * registration reserves the FinBlock slot the object will need when freed
 * (and allocates a cleanup's record), so dslab_free() only has to move the
 * object and its cleanup list into that slot: it never allocates and cannot
 * lose a destructor.  The destructor stays in the metadata until the
 * runner has called it: a dead object is refused by every registration
 * path before its entry is read, so the runner owns the entry.
 *
 * Cleanup handles are small integers in an xarray (xa_mk_value(), so they can
 * never be mistaken for a pointer or an ERR_PTR); cancelling looks the
 * handle up, so cancelling after the cleanup was queued or ran is a no-op,
 * not a use after free.
 *
 * Lock order: span->special_lock -> dslab_cleanup_ids.xa_lock.
 *
 * special_lock (irq-safe) protects a span's meta[] contents and
 * serialises the registration paths.  Against free they synchronise with
 * the store-buffering pattern rather than the lock, so that the free of
 * an object with a destructor takes no lock in the common case.  A path
 * that changes an entry (set, clear, add, cancel) takes the lock, sets
 * span->reg_busy, issues smp_mb() and only then tests the object's live
 * bit; it clears reg_busy with a release store before it unlocks.  The
 * free clears the live bit with a fully ordered test_and_clear_bit(),
 * then reads span->meta and reg_busy (acquire).  One of the two sees the
 * other: either the registration sees the object dead and changes
 * nothing, or the free sees reg_busy and waits for the registration by
 * taking the lock, or it sees reg_busy clear and, through the release and
 * acquire, everything the last registration wrote.  After the free, every
 * registration refuses the dead object, so its entry is the free's and
 * then the runner's.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include <trace/events/dslab.h>

#include "dslab.h"
#include "dtor.h"
#include "finq.h"

/* === Data === */

/* Cleanup handle ids; entries are the attached records. */
static DEFINE_XARRAY_FLAGS(dslab_cleanup_ids, XA_FLAGS_ALLOC1 | XA_FLAGS_LOCK_IRQ);
static u32 dslab_cleanup_next;		/* xa_lock: cyclic id cursor */

/* === Internals === */

/* A handle is an xarray value entry: bit 0 set, never a pointer. */
static inline struct dslab_cleanup *dslab_cleanup_encode(u32 id)
{
	return xa_mk_value(id);
}

static inline u32 dslab_cleanup_decode(struct dslab_cleanup *c)
{
	if (!xa_is_value(c) || xa_to_value(c) > U32_MAX)
		return 0;
	return xa_to_value(c);
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

static const char dslab_twins_hint[] =
	" (two types of that name: DSLAB_TYPE() in a header? see DSLAB_TYPE_DECLARE())";

/* Two distinct types of the same name and size: one header, two files? */
static bool dslab_type_twins(const struct dslab_type *a,
			     const struct dslab_type *b)
{
	return a && b && a != b && a->size == b->size && a->name && b->name &&
	       !strcmp(a->name, b->name);
}

/* Result of looking an object up for registration. */
struct dslab_target {
	struct dslab_span *span;
	unsigned int idx;
};

/*
 * The "is this a live object, and its start?" checks shared by every
 * registration path.  Returns 0, -EFAULT (not a live dslab object) or
 * -EINVAL (interior pointer), and names the case in *why.  The caller
 * holds rcu_read_lock(), which keeps t->span valid even if the object is
 * freed meanwhile (span descriptors are freed through call_rcu()).
 */
static int dslab_target_find(const void *obj, struct dslab_target *t,
			     const char **why)
{
	unsigned int off;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "registration lookup needs RCU");
	if (IS_ERR(obj)) {
		*why = "pointer is an ERR_PTR";
		return -EFAULT;
	}
	t->span = dslab_span_lookup(obj);
	if (!t->span) {
		*why = "pointer not in a dslab block";
		return -EFAULT;
	}
	t->idx = dslab_span_index(t->span, obj, &off);
	if (t->idx >= t->span->nelems || !test_bit(t->idx, t->span->live)) {
		*why = "pointer not in an allocated block";
		return -EFAULT;
	}
	if (off) {
		*why = "pointer not at beginning of allocated block";
		return -EINVAL;
	}
	return 0;
}

/* Take special_lock to change an entry; see the header. */
static void dslab_reg_lock(struct dslab_span *span, unsigned long *flags)
	__acquires(&span->special_lock)
{
	spin_lock_irqsave(&span->special_lock, *flags);
	WRITE_ONCE(span->reg_busy, true);
	/* Pairs with test_and_clear_bit() in dslab_free_check(). */
	smp_mb();
}

static void dslab_reg_unlock(struct dslab_span *span, unsigned long flags)
	__releases(&span->special_lock)
{
	/* Pairs with smp_load_acquire() in dslab_dtor_on_free(). */
	smp_store_release(&span->reg_busy, false);
	spin_unlock_irqrestore(&span->special_lock, flags);
}

/* Is the target still live?  Call between the two above. */
static bool dslab_target_live(struct dslab_target *t)
{
	lockdep_assert_held(&t->span->special_lock);
	return test_bit(t->idx, t->span->live);
}

/* Cleanup handles may still be looked up under RCU: kfree_rcu(). */
static void dslab_special_free(struct dslab_special *sp)
{
	dslab_owner_unpin(sp->owner, 1);
	kfree_rcu(sp, rcu);
}

/* Does the object hold a FinBlock slot (a destructor or a cleanup)? */
static bool dslab_meta_reserved(const struct dslab_objmeta *m)
{
	return m->dtor || !hlist_empty(&m->specials);
}

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

/*
 * A registration in two steps.  dslab_prep() validates what it can and
 * makes every allocation the registration may need (the FinBlock slot, a
 * cleanup's record and id, a metadata array for the span, the owner pin),
 * possibly sleeping.  The commit then runs under rcu_read_lock()
 * and special_lock, looks the object up again and attaches the record, or
 * refuses; dslab_prep_undo() gives back whatever was not used, so a
 * refusal changes nothing.
 */
struct dslab_prep {
	struct dslab_special *sp;
	struct dslab_objmeta *meta;	/* candidate for span->meta */
	unsigned int meta_n;		/* its length */
	struct dslab_owner *owner;	/* pinned */
	bool reserved;			/* holds a FinBlock slot */
	u32 id;				/* cleanup id, 0 for none */
};

static void dslab_prep_undo(struct dslab_prep *p)
{
	if (p->id)
		dslab_cleanup_id_free(p->id);
	kfree(p->sp);
	kfree(p->meta);
	if (p->reserved)
		dslab_finq_unreserve();
	dslab_owner_unpin(p->owner, 1);
}

static int dslab_prep(struct dslab_prep *p, unsigned int meta_n,
		      struct module *owner, bool cleanup, gfp_t gfp)
{
	gfp_t mgfp = (gfp & DSLAB_GFP_META) | __GFP_NOWARN;

	*p = (struct dslab_prep) { };
	p->owner = dslab_owner_pin(owner, gfp);
	if (IS_ERR(p->owner))
		return PTR_ERR(p->owner);
	if (meta_n) {
		if (dslab_should_fail(gfp, meta_n * sizeof(*p->meta)))
			goto err_nomem;
		p->meta = kcalloc(meta_n, sizeof(*p->meta), mgfp);
		if (!p->meta)
			goto err_nomem;
		p->meta_n = meta_n;
	}
	if (dslab_finq_reserve(gfp))
		goto err_nomem;
	p->reserved = true;
	if (!cleanup)
		return 0;
	if (dslab_should_fail(gfp, sizeof(*p->sp)))
		goto err_nomem;
	p->sp = kmalloc(sizeof(*p->sp), mgfp);
	if (!p->sp)
		goto err_nomem;
	if (dslab_cleanup_id_alloc(&p->id, gfp))
		goto err_nomem;
	return 0;

err_nomem:
	dslab_prep_undo(p);
	return -ENOMEM;
}

static const char *dslab_prep_why(int ret)
{
	return ret == -EBUSY ? "owner module is going away" : "out of memory";
}

/*
 * Commit step: the span's metadata array, installing the candidate from
 * dslab_prep() if there is none yet.  NULL when neither exists (the
 * object changed under us).  Called without special_lock, under RCU
 * (dslab_commit_find()) or by the owner of a live object of @span
 * (dslab_span_meta()): either keeps the span.
 */
static struct dslab_objmeta *dslab_commit_meta(struct dslab_span *span,
					       struct dslab_prep *p)
{
	struct dslab_objmeta *meta = dslab_meta_of(span);
	unsigned long flags;

	lockdep_assert_not_held(&span->special_lock);
	if (meta)
		return meta;
	if (!p->meta || p->meta_n != span->nelems)
		return NULL;
	spin_lock_irqsave(&span->special_lock, flags);
	meta = span->meta;
	if (!meta) {
		meta = p->meta;
		p->meta = NULL;
		/*
		 * Zeroed by kcalloc(): the release orders the zeroes before
		 * the pointer, for dslab_meta_of() on weakly ordered CPUs.
		 */
		smp_store_release(&span->meta, meta);
		/*
		 * The frees' fast paths test this flag, not the pointer:
		 * set before the registration's smp_mb(), so the pattern
		 * in the header holds for it as for span->meta.
		 */
		WRITE_ONCE(span->has_meta, true);
	}
	spin_unlock_irqrestore(&span->special_lock, flags);
	return meta;
}

/*
 * Commit step: find @obj again and its span's metadata.  Called under
 * rcu_read_lock(), which is what dslab_owner_going() waits for after the
 * owner's module started going away.  Returns the metadata array, or
 * NULL with *@ret and *@why saying why not.
 */
static struct dslab_objmeta *dslab_commit_find(const void *obj,
					       struct dslab_target *t,
					       struct dslab_prep *p,
					       const char **why, int *ret)
{
	struct dslab_objmeta *meta;

	if (!dslab_owner_live(p->owner)) {
		*why = dslab_prep_why(-EBUSY);
		*ret = -EBUSY;
		return NULL;
	}
	*ret = dslab_target_find(obj, t, why);
	if (*ret)
		return NULL;
	meta = dslab_commit_meta(t->span, p);
	if (!meta) {
		*why = "pointer not in an allocated block";
		*ret = -EFAULT;
	}
	return meta;
}

/* Metadata for a span the caller owns a live object of (dslab_new()). */
static struct dslab_objmeta *dslab_span_meta(struct dslab_span *span,
					     gfp_t gfp)
{
	struct dslab_prep p = { };
	struct dslab_objmeta *meta = dslab_meta_of(span);

	if (meta)
		return meta;
	if (dslab_should_fail(gfp, span->nelems * sizeof(*meta)))
		return NULL;
	p.meta = kcalloc(span->nelems, sizeof(*meta),
			 (gfp & DSLAB_GFP_META) | __GFP_NOWARN);
	if (!p.meta)
		return NULL;
	p.meta_n = span->nelems;
	meta = dslab_commit_meta(span, &p);
	kfree(p.meta);
	return meta;
}

/*
 * Look @obj up for the prepare step: its type, the meta length needed,
 * and (@has_dtor, may be NULL) whether it already has a destructor, so
 * that a duplicate is refused before anything is allocated.
 */
static int dslab_prep_lookup(const void *obj, const struct dslab_type **type,
			     unsigned int *meta_n, bool *has_dtor,
			     const char **why)
{
	struct dslab_target t;
	struct dslab_objmeta *meta;
	unsigned long flags;
	int ret;

	*type = NULL;
	*meta_n = 0;
	if (has_dtor)
		*has_dtor = false;
	rcu_read_lock();
	ret = dslab_target_find(obj, &t, why);
	if (!ret) {
		meta = dslab_meta_of(t.span);
		if (meta) {
			spin_lock_irqsave(&t.span->special_lock, flags);
			/* The free path clears it without the lock. */
			*type = READ_ONCE(meta[t.idx].type);
			if (has_dtor)
				*has_dtor = meta[t.idx].dtor;
			spin_unlock_irqrestore(&t.span->special_lock, flags);
		} else {
			*meta_n = t.span->nelems;
		}
	}
	rcu_read_unlock();
	return ret;
}

/* === Public interface: typed allocation === */

/**
 * dslab_new_size() - allocate a zeroed object of a dslab type, with room
 * @type: the type; must not be an interface (size 0)
 * @size: bytes wanted, for a type that ends in a flexible array; the
 *	object gets the larger of @size and @type->size
 * @flags: GFP flags, as for dslab_alloc()
 *
 * Records @type as the object's dynamic type, which typed destructors
 * are checked against.  dslab_new_flex_typed() computes @size with
 * struct_size().
 *
 * Context: As for dslab_alloc().
 * Return: the object, or NULL when @type is NULL or an interface, @size
 * is too large, or memory ran out.
 */
void *dslab_new_size(const struct dslab_type *type, size_t size, gfp_t flags)
{
	struct dslab_objmeta *meta;
	struct dslab_span *span;
	unsigned int idx, off;
	unsigned long irqflags;
	void *obj;

	if (!type || !type->size) {
		pr_err_ratelimited("new: %s type %s cannot be allocated\n",
				   type ? "interface" : "NULL", dslab_type_name(type));
		return NULL;
	}
	obj = dslab_alloc(max(size, type->size), flags | __GFP_ZERO);
	if (!obj)
		return NULL;
	/* The caller owns a live object: the span cannot go away. */
	span = dslab_own_span(obj);
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
EXPORT_SYMBOL_GPL(dslab_new_size);

/**
 * dslab_new() - allocate a zeroed object of a dslab type
 * @type: the type; must not be an interface (size 0)
 * @flags: GFP flags, as for dslab_alloc()
 *
 * dslab_new_size() for @type->size bytes.
 *
 * Context: As for dslab_alloc().
 * Return: the object, or NULL when @type is NULL or an interface, or
 * memory ran out.
 */
void *dslab_new(const struct dslab_type *type, gfp_t flags)
{
	return dslab_new_size(type, 0, flags);
}
EXPORT_SYMBOL_GPL(dslab_new);

/**
 * __dslab_new_dtor() - allocate a zeroed typed object with a destructor
 * @type: the type; must not be an interface
 * @dtor: the destructor; its @dtor->arg must accept @type
 * @flags: GFP flags for the object and the registration
 * @owner: the module whose code @dtor->fn is; use the dslab_new_dtor()
 *	wrapper, which passes THIS_MODULE
 *
 * dslab_new() then __dslab_set_destructor() with the same @flags; when
 * the destructor is refused the object is freed again (its destructor
 * does not run) and the refusal is reported as for
 * __dslab_set_destructor().
 *
 * Context: As for dslab_alloc().
 * Return: the object, or NULL.
 */
void *__dslab_new_dtor(const struct dslab_type *type,
		       const struct dslab_dtor *dtor, gfp_t flags,
		       struct module *owner)
{
	void *obj;

	if (!dtor) {
		pr_err_ratelimited("new_dtor: no destructor for type %s\n",
				   dslab_type_name(type));
		return NULL;
	}
	obj = dslab_new(type, flags);
	if (obj && __dslab_set_destructor(obj, dtor, flags, owner)) {
		dslab_free(obj);
		obj = NULL;
	}
	return obj;
}
EXPORT_SYMBOL_GPL(__dslab_new_dtor);

/* === Public interface: destructors === */

static int dslab_clear_destructor(const void *obj)
{
	struct dslab_owner *owner = NULL;
	bool cleared = false;
	struct dslab_target t;
	struct dslab_objmeta *m;
	bool unreserve = false;
	const char *why;
	unsigned long flags;
	int ret;

	rcu_read_lock();
	ret = dslab_target_find(obj, &t, &why);
	if (ret)
		goto out;
	dslab_reg_lock(t.span, &flags);
	if (!dslab_target_live(&t)) {
		why = "pointer not in an allocated block";
		ret = -EFAULT;
	} else if (t.span->meta) {
		m = &t.span->meta[t.idx];
		if (m->dtor) {
			owner = m->dtor_owner;
			m->dtor = NULL;
			m->dtor_owner = NULL;
			cleared = true;
			unreserve = !dslab_meta_reserved(m);
		}
	}
	dslab_reg_unlock(t.span, flags);
out:
	rcu_read_unlock();

	if (ret) {
		dslab_stat_inc(DSLAB_STAT_DTOR_REFUSED);
		pr_err_ratelimited("set_destructor(NULL): %s (%d)\n", why, ret);
		return ret;
	}
	if (unreserve)
		dslab_finq_unreserve();
	if (cleared) {
		dslab_stat_inc(DSLAB_STAT_DTOR_CLEARED);
		dslab_owner_unpin(owner, 1);
	}
	trace_dslab_set_destructor(obj, NULL, 0);
	return 0;
}

/**
 * __dslab_set_destructor() - set or remove an object's destructor
 * @obj: the start of a live dslab object
 * @dtor: the destructor and the type it accepts, or NULL to remove
 * @flags: GFP flags for what the registration allocates (a FinBlock slot,
 *	the span's metadata); only how hard to try matters, as for
 *	dslab_add_cleanup()
 * @owner: the module whose code @dtor->fn is.  Use the
 *	dslab_set_destructor() and dslab_set_destructor_gfp() wrappers,
 *	which pass THIS_MODULE.
 *
 * Validated like Go's runtime.SetFinalizer, and every check that needs no
 * memory (a destructor already set included) is made before anything is
 * allocated; after a refusal nothing has changed.  Static data (kernel
 * image or module .data/.bss) cannot be told apart from other foreign
 * memory and gets -EFAULT.
 *
 * Context: Any context but NMI with a matching @flags; takes no sleeping
 * lock unless @flags may block (on PREEMPT_RT its spinlock_t locks sleep:
 * not in hard interrupt context or with preemption or interrupts off).
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
			   gfp_t flags, struct module *owner)
{
	const struct dslab_type *otype = NULL;
	struct dslab_objmeta *meta;
	struct dslab_target t;
	struct dslab_prep p;
	const char *why = NULL;
	unsigned int meta_n;
	unsigned long irqflags;
	bool first = false, has_dtor;
	int ret;

	if (!obj) {
		why = "first argument is NULL";
		ret = -EINVAL;
		goto refuse;
	}
	if (obj == ZERO_SIZE_PTR)
		return 0;
	if (!dtor)
		return dslab_clear_destructor(obj);

	/*
	 * Every check Go makes, before anything is allocated.  The object's
	 * type may be another module's, freed a grace period after that
	 * module's objects forget it (owner.c): it is read in this RCU
	 * section only.
	 */
	rcu_read_lock();
	ret = dslab_prep_lookup(obj, &otype, &meta_n, &has_dtor, &why);
	if (ret) {
		rcu_read_unlock();
		goto refuse;
	}
	if (!dtor->fn) {
		rcu_read_unlock();
		why = "destructor is not a function (fn is NULL)";
		ret = -EINVAL;
		goto refuse;
	}
	if (dtor->arg && !otype) {
		why = "typed destructor on an untyped object";
		ret = -EINVAL;
	} else if (!dslab_type_accepts(dtor->arg, otype)) {
		why = "cannot pass object to destructor";
		ret = -EINVAL;
	} else if (has_dtor) {
		why = "destructor already set";
		ret = -EEXIST;
	}
	if (ret) {
		pr_err_ratelimited("set_destructor: %s: object type %s, destructor %ps takes %s%s (%d)\n",
				   why, dslab_type_name(otype), dtor->fn,
				   dtor->arg ? dslab_type_name(dtor->arg) : "any object",
				   dslab_type_twins(otype, dtor->arg) ? dslab_twins_hint : "",
				   ret);
		rcu_read_unlock();
		goto refuse_typed;
	}
	rcu_read_unlock();

	ret = dslab_prep(&p, meta_n, owner, false, flags);
	if (ret) {
		why = dslab_prep_why(ret);
		goto refuse;
	}
	rcu_read_lock();
	meta = dslab_commit_find(obj, &t, &p, &why, &ret);
	if (meta) {
		dslab_reg_lock(t.span, &irqflags);
		if (!dslab_target_live(&t)) {
			why = "pointer not in an allocated block";
			ret = -EFAULT;
		} else if (meta[t.idx].type != otype) {
			/* otype may be gone: compared, never read. */
			why = "object changed type";
			ret = -EFAULT;
		} else if (meta[t.idx].dtor) {
			why = "destructor already set";
			ret = -EEXIST;
		} else {
			first = !dslab_meta_reserved(&meta[t.idx]);
			meta[t.idx].dtor = dtor->fn;
			meta[t.idx].dtor_owner = p.owner;
			p.owner = NULL;		/* attached: owns the pin now */
			p.reserved = !first;	/* the object already had a slot */
		}
		dslab_reg_unlock(t.span, irqflags);
	}
	rcu_read_unlock();
	dslab_prep_undo(&p);
	if (ret) {
		pr_err_ratelimited("set_destructor: %s (%d)\n", why, ret);
		goto refuse_typed;
	}

	dslab_stat_inc(DSLAB_STAT_DTOR_SET);
	trace_dslab_set_destructor(obj, dtor->arg ? dslab_type_name(dtor->arg) : NULL, 0);
	return 0;

refuse:
	dslab_stat_inc(DSLAB_STAT_DTOR_REFUSED);
	pr_err_ratelimited("set_destructor: %s (%d)\n", why, ret);
	trace_dslab_set_destructor(obj, NULL, ret);
	return ret;
refuse_typed:
	dslab_stat_inc(DSLAB_STAT_DTOR_REFUSED);
	trace_dslab_set_destructor(obj, dtor->arg ? dslab_type_name(dtor->arg) : NULL, ret);
	return ret;
}
EXPORT_SYMBOL_GPL(__dslab_set_destructor);

/* === Public interface: cleanups === */

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
 * cleanups and a destructor; at free they run after the destructor, in
 * the order they were added.
 *
 * Context: Any context but NMI with a matching @flags.
 * Return: a handle for dslab_cleanup_cancel(); ERR_PTR(-EINVAL) for a
 * NULL or zero-size @obj, a NULL @fn, @arg == @obj or an interior
 * pointer; ERR_PTR(-EFAULT) when @obj is not a live dslab object;
 * ERR_PTR(-ENOMEM); ERR_PTR(-EBUSY) when @owner is being unloaded.
 */
struct dslab_cleanup *__dslab_add_cleanup(const void *obj,
					  void (*fn)(void *arg), void *arg,
					  gfp_t flags, struct module *owner)
{
	const struct dslab_type *otype;
	struct dslab_objmeta *meta;
	struct dslab_target t;
	struct dslab_prep p;
	const char *why = NULL;
	unsigned long irqflags;
	unsigned int meta_n;
	bool first = false;
	u32 id;
	int ret;

	if (ZERO_OR_NULL_PTR(obj)) {
		why = obj ? "object has zero size" : "first argument is NULL";
		ret = -EINVAL;
		goto refuse;
	}
	ret = dslab_prep_lookup(obj, &otype, &meta_n, NULL, &why);
	if (ret)
		goto refuse;
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

	ret = dslab_prep(&p, meta_n, owner, true, flags);
	if (ret) {
		why = dslab_prep_why(ret);
		goto refuse;
	}
	id = p.id;
	*p.sp = (struct dslab_special) {
		.id = id, .fn = fn, .arg = arg, .owner = p.owner,
	};

	rcu_read_lock();
	meta = dslab_commit_find(obj, &t, &p, &why, &ret);
	if (meta) {
		dslab_reg_lock(t.span, &irqflags);
		if (dslab_target_live(&t)) {
			first = !dslab_meta_reserved(&meta[t.idx]);
			p.sp->span = t.span;
			p.sp->idx = t.idx;
			/* Newest first; dslab_dtor_detach() turns it round. */
			hlist_add_head(&p.sp->node, &meta[t.idx].specials);
			xa_lock(&dslab_cleanup_ids);
			__xa_store(&dslab_cleanup_ids, id, p.sp, GFP_ATOMIC);
			xa_unlock(&dslab_cleanup_ids);
			p.sp = NULL;
			p.owner = NULL;
			p.id = 0;
			p.reserved = !first;
		} else {
			why = "pointer not in an allocated block";
			ret = -EFAULT;
		}
		dslab_reg_unlock(t.span, irqflags);
	}
	rcu_read_unlock();
	dslab_prep_undo(&p);
	if (ret)
		goto refuse;

	dslab_stat_inc(DSLAB_STAT_CLEANUP_ADDED);
	return dslab_cleanup_encode(id);

refuse:
	dslab_stat_inc(DSLAB_STAT_DTOR_REFUSED);
	pr_err_ratelimited("add_cleanup: %s (%d)\n", why, ret);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_GPL(__dslab_add_cleanup);

/**
 * dslab_cleanup_cancel() - stop a cleanup that has not been queued yet
 * @cleanup: a handle from dslab_add_cleanup(); NULL and ERR_PTR values
 *	are ignored
 *
 * Cancelling gives @arg back to the caller only while the object is
 * live: once the object was freed the cleanup is queued (or has run) and
 * this is a no-op that returns false, as is a second cancel.  Like
 * del_timer(), the result says whether the caller won.
 *
 * Context: Any context but NMI.
 * Return: true when the cleanup was cancelled and will never run (the
 * caller owns @arg again); false when it was already queued, had run,
 * was cancelled before, or @cleanup is NULL or an ERR_PTR.
 */
bool dslab_cleanup_cancel(struct dslab_cleanup *cleanup)
{
	struct dslab_special *sp;
	struct dslab_span *span;
	u32 id = dslab_cleanup_decode(cleanup);
	bool unreserve = false, found = false, live;
	unsigned long flags;

	if (!id)
		return false;
	rcu_read_lock();
	sp = xa_load(&dslab_cleanup_ids, id);
	if (!sp)
		goto out;
	/* The span outlives this RCU section: freed through call_rcu(). */
	span = sp->span;
	dslab_reg_lock(span, &flags);
	/*
	 * Once the object is dead the free owns its list: a no-op then.
	 * While the object lives and the id maps to @sp, @sp is on its list.
	 * The live bit first: a free that saw no reg_busy detaches without
	 * special_lock, so before we look the object may have been freed,
	 * its cleanup run, and the object allocated again.  That free
	 * erased the id (under xa_lock) before the object was released, so
	 * a bit set by the new allocation is seen with the id gone.
	 */
	live = test_bit(sp->idx, span->live);
	/* Orders the id's load after the bit's: see above. */
	smp_rmb();
	if (live && xa_load(&dslab_cleanup_ids, id) == sp) {
		hlist_del(&sp->node);
		found = true;
		unreserve = !dslab_meta_reserved(&span->meta[sp->idx]);
		xa_lock(&dslab_cleanup_ids);
		__xa_erase(&dslab_cleanup_ids, id);
		xa_unlock(&dslab_cleanup_ids);
	}
	dslab_reg_unlock(span, flags);
out:
	rcu_read_unlock();
	if (!found)
		return false;
	if (unreserve)
		dslab_finq_unreserve();
	dslab_stat_inc(DSLAB_STAT_CLEANUP_CANCELLED);
	dslab_special_free(sp);
	return true;
}
EXPORT_SYMBOL_GPL(dslab_cleanup_cancel);

/* === Internals: free and run === */

/*
 * dslab_dtor_on_free() (dtor.h) out of line: for an object with cleanups,
 * one whose span a registration may be changing, and the bulk free path.
 */
/*
 * Take a dead object's entry for the free: forget its type, detach its
 * cleanups (their handles stop working) onto @list, oldest first, the
 * order they run in.  Returns whether it has anything to run.
 */
static bool dslab_dtor_detach(struct dslab_objmeta *m, struct hlist_head *list)
{
	struct dslab_special *sp;
	struct hlist_node *tmp;
	unsigned long xflags;
	bool queue;

	dslab_dtor_forget_type(m);
	queue = dslab_meta_reserved(m);
	if (!hlist_empty(&m->specials)) {
		xa_lock_irqsave(&dslab_cleanup_ids, xflags);
		hlist_for_each_entry_safe(sp, tmp, &m->specials, node) {
			__xa_erase(&dslab_cleanup_ids, sp->id);
			hlist_del(&sp->node);
			hlist_add_head(&sp->node, list);
		}
		xa_unlock_irqrestore(&dslab_cleanup_ids, xflags);
	}
	return queue;
}

bool dslab_dtor_on_free_slow(struct dslab_span *span, unsigned int idx,
			     void *obj, bool rcu)
{
	struct dslab_objmeta *m = &dslab_meta_of(span)[idx];
	HLIST_HEAD(list);
	unsigned long flags;
	bool queue;

	/*
	 * The object is dead: no registration that starts now touches its
	 * entry.  One still running set reg_busy before it tested the live
	 * bit, so wait for it; see the header.
	 */
	if (unlikely(smp_load_acquire(&span->reg_busy))) {
		spin_lock_irqsave(&span->special_lock, flags);
		queue = dslab_dtor_detach(m, &list);
		spin_unlock_irqrestore(&span->special_lock, flags);
	} else {
		queue = dslab_dtor_detach(m, &list);
	}

	if (!queue)
		return false;
	dslab_dtor_queue(obj, &list, rcu);
	return true;
}

/*
 * Run a dead object's destructor, then its cleanups (@list, in the order
 * they were added), and empty @list.  Each is watched on @w (watch.c)
 * while its owner is still pinned; the destructor's pin goes to @unpin.
 */
static __always_inline void dslab_dtor_run_object(void *obj,
						  struct hlist_head *list,
						  struct dslab_owner_batch *unpin,
						  struct dslab_watch *w)
{
	struct dslab_span *span = dslab_own_span(obj);
	unsigned int idx = dslab_own_index(span, obj);
	struct dslab_objmeta *m = &dslab_meta_of(span)[idx];
	void (*dtor)(void *obj) = m->dtor;
	bool trace = trace_dslab_dtor_run_enabled();
	struct dslab_special *sp;
	struct hlist_node *tmp;
	u64 t0 = 0;

	if (dtor) {
		struct dslab_owner *owner = m->dtor_owner;

		/* The runner owns a queued object's entry: no lock. */
		m->dtor = NULL;
		m->dtor_owner = NULL;
		/* The clock is read only for the tracepoint. */
		if (trace)
			t0 = local_clock();
		dslab_watch_start(w, dtor);
		dtor(obj);
		dslab_watch_stop(w, dtor, DSLAB_SPECIAL_DTOR);
		if (trace)
			trace_dslab_dtor_run(obj, DSLAB_SPECIAL_DTOR,
					     local_clock() - t0);
		dslab_stat_inc(DSLAB_STAT_DTOR_RUN);
		dslab_owner_batch_add(unpin, owner);
	}
	hlist_for_each_entry_safe(sp, tmp, list, node) {
		if (dtor || &sp->node != list->first)
			cond_resched();
		if (trace)
			t0 = local_clock();
		dslab_watch_start(w, sp->fn);
		sp->fn(sp->arg);
		dslab_watch_stop(w, sp->fn, DSLAB_SPECIAL_CLEANUP);
		if (trace)
			trace_dslab_dtor_run(obj, DSLAB_SPECIAL_CLEANUP,
					     local_clock() - t0);
		dslab_stat_inc(DSLAB_STAT_CLEANUP_RUN);
		dslab_special_free(sp);
	}
	INIT_HLIST_HEAD(list);
}

/**
 * dslab_dtor_run_claimed() - claim records of a FinBlock and run them
 * @blk: the block; other runners may be claiming from it too
 * @objs: filled with the objects whose records ran
 * @max: room in @objs
 * @unpin: the caller's batch of owner pins, flushed by the caller
 * @w: the calling runner's watch (dslab_watch_begin() called)
 *
 * Claims one record at a time (an atomic increment of the block's
 * cursor, so each record runs once whichever runners share the block)
 * and runs it: the object's destructor, then its cleanups; the record's
 * cleanup list is cleared.  A plain dslab_free_rcu() block's records run
 * nothing, so @max of them are claimed at once.  The pins of consecutive
 * records of one owner collect in @unpin and are dropped together.  Between records
 * it gives way when a reschedule is due (need_resched() first, so that a
 * stream of short destructors does not pay a call per record; RCU asks
 * for its quiescent states through the same flag).  The caller releases
 * the objects and, once the block is done, gives its slots back.
 *
 * Context: Process context (a runner); may sleep.
 * Return: how many ran; fewer than @max when none is left to claim.
 */
unsigned int dslab_dtor_run_claimed(struct dslab_finblock *blk, void **objs,
				    unsigned int max,
				    struct dslab_owner_batch *unpin,
				    struct dslab_watch *w)
{
	unsigned int nr = blk->nr, i, k = 0;
	struct dslab_finrec *rec;

	/* Plain dslab_free_rcu() records run nothing: @max at once. */
	if (blk->plain) {
		for (i = atomic_fetch_add(max, &blk->claim); i < nr && k < max; i++)
			objs[k++] = blk->rec[i].obj;
		return k;
	}
	while (k < max && (i = atomic_inc_return(&blk->claim) - 1) < nr) {
		rec = &blk->rec[i];
		dslab_dtor_run_object(rec->obj, &rec->list, unpin, w);
		objs[k++] = rec->obj;
		if (need_resched())
			cond_resched();
	}
	return k;
}

/*
 * The destructor side's span hooks: span.c calls them and leaves the
 * metadata to this file.
 */

/* A span's descriptor is being freed (an RCU callback): its metadata. */
void dslab_dtor_span_free(struct dslab_span *span)
{
	kfree(span->meta);
}

/* Unload with leaked objects: drop their records without running them. */
void dslab_dtor_forget_span(struct dslab_span *span)
{
	unsigned int idx;

	if (!span->meta)
		return;

	for (idx = 0; idx < span->nelems; idx++) {
		struct dslab_objmeta *m = &span->meta[idx];
		struct dslab_special *sp;
		struct hlist_node *tmp;

		if (!dslab_meta_reserved(m))
			continue;
		pr_err("unload: leaked object in class %u had a destructor or cleanups that will not run\n",
		       span->class);
		dslab_owner_unpin(m->dtor_owner, 1);
		m->dtor = NULL;
		m->dtor_owner = NULL;
		hlist_for_each_entry_safe(sp, tmp, &m->specials, node) {
			dslab_cleanup_id_free(sp->id);
			dslab_special_free(sp);
		}
		INIT_HLIST_HEAD(&m->specials);
		dslab_finq_unreserve();
	}
}

/* dslab_dtor_forget_owner()'s state for dslab_walk_spans(). */
struct dslab_forget_owner {
	struct dslab_owner *owner;
	struct module *mod;
	struct dslab_forgotten *f;
	unsigned long unreserve;
	struct hlist_head dropped;	/* cleanups to free */
};

static void dslab_forget_owner_span(struct dslab_span *span, void *arg)
{
	struct dslab_forget_owner *fo = arg;
	struct dslab_objmeta *meta, *m;
	struct dslab_special *sp;
	struct hlist_node *tmp;
	unsigned long flags;
	unsigned int idx;
	bool reserved;

	meta = dslab_meta_of(span);
	if (!meta)
		return;
	dslab_reg_lock(span, &flags);
	for_each_set_bit(idx, span->live, span->nelems) {
		m = &meta[idx];
		if (m->type && within_module((unsigned long)m->type, fo->mod)) {
			/* The name is the module's: its last chance to show. */
			if (fo->f->report && fo->f->listed < DSLAB_LIVE_LISTED) {
				fo->f->listed++;
				dslab_report_live(fo->f->report, span, idx, m->type);
			}
			m->type = NULL;
			fo->f->types++;
		}
		/* No owner: built-in code's registrations are not ours. */
		if (!fo->owner)
			continue;
		reserved = dslab_meta_reserved(m);
		if (m->dtor && m->dtor_owner == fo->owner) {
			m->dtor = NULL;
			m->dtor_owner = NULL;
			fo->f->dtors++;
		}
		hlist_for_each_entry_safe(sp, tmp, &m->specials, node) {
			if (sp->owner != fo->owner)
				continue;
			hlist_del(&sp->node);
			xa_lock(&dslab_cleanup_ids);
			__xa_erase(&dslab_cleanup_ids, sp->id);
			xa_unlock(&dslab_cleanup_ids);
			hlist_add_head(&sp->node, &fo->dropped);
			fo->f->cleanups++;
		}
		if (reserved && !dslab_meta_reserved(m))
			fo->unreserve++;
	}
	dslab_reg_unlock(span, flags);
}

/**
 * dslab_dtor_forget_owner() - drop a going module's registrations
 * @o: the module's owner, pinned by the caller; NULL for a module with no
 *	pins, whose types only are forgotten
 * @mod: the module; its code and data are still there
 * @f: counts what was dropped
 *
 * For every live object: a destructor or cleanup of @o is removed
 * without running (the object outlives the code), and a type defined in
 * @mod's memory is forgotten (the object becomes untyped), so nothing in
 * dslab points into @mod once it is freed.  Dead objects are left alone:
 * their records are queued, and the caller runs them.
 *
 * Context: Process context; sleeps.
 */
void dslab_dtor_forget_owner(struct dslab_owner *o, struct module *mod,
			     struct dslab_forgotten *f)
{
	struct dslab_forget_owner fo = { .owner = o, .mod = mod, .f = f };
	struct dslab_special *sp;
	struct hlist_node *tmp;

	dslab_walk_spans(dslab_forget_owner_span, &fo);
	if (fo.unreserve)
		dslab_finq_unreserve_n(fo.unreserve);
	dslab_owner_unpin(o, f->dtors);
	hlist_for_each_entry_safe(sp, tmp, &fo.dropped, node)
		dslab_special_free(sp);
}

void dslab_dtor_exit(void)
{
	WARN_ON_ONCE(!xa_empty(&dslab_cleanup_ids));
	xa_destroy(&dslab_cleanup_ids);
}
