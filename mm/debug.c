// SPDX-License-Identifier: GPL-2.0
/*
 * dslab debug mode (module parameter "debug", load time), in the manner
 * of slub_debug=PZ.
 *
 * Every small object gets an 8-byte red zone at the end of its slot,
 * written when it is allocated and checked when it is freed.  A free
 * object is poisoned, all but its first word (which may hold the central
 * freelist's link), and the poison is checked when the object is
 * allocated again, so a write through a stale pointer shows then.  The
 * bytes are slub_debug's (POISON_FREE, SLUB_RED_INACTIVE), so a dump of
 * a dslab object reads like one of a slab object.  Damage is counted
 * (stat debug_corruptions) and reported, rate-limited, with the class
 * and the offset of the first bad byte.  Large objects (a span each)
 * have neither.
 *
 * The fast paths test dslab_debug_key, a static key set once at load,
 * and leave through their slow paths when it is on; those call in here.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <linux/jump_label.h>
#include <linux/poison.h>
#include <linux/string.h>

#include "dslab.h"

bool dslab_debug;
EXPORT_SYMBOL_NS_GPL(dslab_debug, DSLAB_NS);
DEFINE_STATIC_KEY_FALSE(dslab_debug_key);

#define DSLAB_POISON_FREE	POISON_FREE
#define DSLAB_POISON_RED	SLUB_RED_INACTIVE

/*
 * The offset of the first byte in [@from, @from + @len) of @obj that is
 * not @c, or 0 when there is none (@from is never 0).
 */
static unsigned int dslab_debug_bad(void *obj, unsigned int from,
				    unsigned int len, u8 c)
{
	u8 *bad = memchr_inv(obj + from, c, len);

	return bad ? bad - (u8 *)obj : 0;
}

/**
 * dslab_debug_alloc() - check a small object's poison, write its red zone
 * @span: its span
 * @obj: the object, just taken off a free list
 *
 * Context: Any context.
 */
void dslab_debug_alloc(const struct dslab_span *span, void *obj)
{
	unsigned int off = dslab_debug_bad(obj, sizeof(void *),
					   span->size - sizeof(void *),
					   DSLAB_POISON_FREE);

	if (unlikely(off)) {
		dslab_stat_inc(DSLAB_STAT_DEBUG_CORRUPTION);
		pr_err_ratelimited("use after free: class %u (%u bytes) written at offset %u\n",
				   span->class, span->size, off);
	}
	memset(obj + span->size - DSLAB_REDZONE, DSLAB_POISON_RED,
	       DSLAB_REDZONE);
}

/**
 * dslab_debug_free() - check a small object's red zone, poison it
 * @span: its span
 * @obj: the object, no longer live, on its way to a free list
 *
 * Context: Any context.
 */
void dslab_debug_free(const struct dslab_span *span, void *obj)
{
	unsigned int off = dslab_debug_bad(obj, span->size - DSLAB_REDZONE,
					   DSLAB_REDZONE, DSLAB_POISON_RED);

	if (unlikely(off)) {
		dslab_stat_inc(DSLAB_STAT_DEBUG_CORRUPTION);
		pr_err_ratelimited("red zone overwritten: class %u (%u bytes) at offset %u\n",
				   span->class, span->size, off);
	}
	memset(obj + sizeof(void *), DSLAB_POISON_FREE,
	       span->size - sizeof(void *));
}

/**
 * dslab_debug_poison_span() - poison every object of a new span
 * @span: the span, not yet published
 *
 * Context: Any context.
 */
void dslab_debug_poison_span(struct dslab_span *span)
{
	unsigned int i;

	for (i = 0; i < span->nelems; i++)
		memset(dslab_span_obj(span, i) + sizeof(void *),
		       DSLAB_POISON_FREE, span->size - sizeof(void *));
}

/**
 * dslab_debug_init() - turn debug mode on if the parameter asks for it
 *
 * Context: Process context, at module init, before any allocation.
 */
void dslab_debug_init(void)
{
	if (dslab_debug)
		static_branch_enable(&dslab_debug_key);
}
