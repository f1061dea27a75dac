/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dslab destructors: the free path's side, inline.
 *
 * Internal to dslab: dtor.c has the design and the argument for how a
 * free and a registration of the same object agree (the store-buffering
 * pattern on span->reg_busy).  This header lets the free path of an
 * object with a destructor queue it without a call; an object with
 * cleanups, or one whose span a registration is changing, leaves through
 * dslab_dtor_on_free_slow(), which handles every case.
 */
#ifndef _DSLAB_DTOR_H
#define _DSLAB_DTOR_H

#include <trace/events/dslab.h>

#include "dslab.h"
#include "finq.h"

bool dslab_dtor_on_free_slow(struct dslab_span *span, unsigned int idx,
			     void *obj, bool rcu);

/* The steps both versions share: forget the type, then queue. */
static __always_inline void dslab_dtor_forget_type(struct dslab_objmeta *m)
{
	/* Write only what is set: fewer dirty lines on the runner's side. */
	if (m->type)
		WRITE_ONCE(m->type, NULL);
}

static __always_inline void dslab_dtor_queue(void *obj,
					     struct hlist_head *list,
					     bool rcu)
{
	trace_dslab_dtor_queue(obj, rcu);
	dslab_stat_inc(DSLAB_STAT_OBJ_QUEUED);
	dslab_finq_enqueue(obj, list, rcu);
}

/**
 * dslab_dtor_on_free() - queue a freed object that has a destructor
 * @span: its span, which has metadata
 * @idx: its index there; the object is already not live
 * @obj: the object
 * @rcu: its destructor runs only after an RCU grace period
 *
 * Detaches the object's cleanups (their handles stop working) and queues
 * it.  The destructor stays in the metadata for the runner.
 *
 * Context: The free paths: any context but NMI, preemption off or under
 * dslab_mag_lock.
 * Return: true when the object was queued, false when it has neither
 * destructor nor cleanups and the caller releases it.
 */
static __always_inline bool dslab_dtor_on_free(struct dslab_span *span,
					       unsigned int idx, void *obj,
					       bool rcu)
{
	struct dslab_objmeta *m = &dslab_meta_of(span)[idx];

	/* The acquire comes first: it orders the reads of the entry. */
	if (unlikely(smp_load_acquire(&span->reg_busy) ||
		     !hlist_empty(&m->specials)))
		return dslab_dtor_on_free_slow(span, idx, obj, rcu);
	dslab_dtor_forget_type(m);
	if (!m->dtor)
		return false;
	dslab_dtor_queue(obj, NULL, rcu);
	return true;
}

#endif /* _DSLAB_DTOR_H */
