// SPDX-License-Identifier: GPL-2.0
/*
 * dslab objects in KASAN's shadow (CONFIG_KASAN_GENERIC only; Kbuild
 * leaves this file out otherwise, and dslab.h has empty stubs).
 *
 * Span pages come from the page allocator, which unpoisons them, so
 * without this file KASAN takes every byte of a span for valid memory.
 * Here dslab tells KASAN what SLUB's hooks tell it about slab objects,
 * with the same shadow values, so a report reads like one about a slab
 * object ("slab-use-after-free", "slab-out-of-bounds"):
 *
 *  - a new span is poisoned whole: its objects are free (KASAN_SLAB_FREE),
 *    the tail after the last one is red zone (KASAN_SLAB_REDZONE), as is
 *    a large span's every page until its object is handed out;
 *  - an allocation of @req bytes unpoisons [0, req) and poisons the rest
 *    of the slot as red zone, as kmalloc() does with its request;
 *    dslab_ksize() unpoisons the whole usable size, as ksize() does;
 *  - an object is poisoned when its memory is released, where kmemleak
 *    forgets it, not when dslab_free() is called: an object that waits
 *    for its destructors, its cleanups or a grace period stays accessible
 *    to the runner until they have run;
 *  - a span's pages are unpoisoned before they go back to the page
 *    allocator, which poisons free pages itself.
 *
 * Only KASAN's shadow poisoner is exported, kasan_poison() (6.1 to 7.3,
 * declared in dslab.h); a generic-KASAN shadow byte 1-7 says how many
 * bytes of its granule are accessible, so the same call unpoisons the
 * partial granule at the end of a request.
 *
 * dslab's own code reads and writes free objects: the central freelist
 * link in word 0 (span.c), zeroing before the unpoisoning (alloc.c),
 * debug mode's poison and red zone (debug.c).  Those three files are
 * built without KASAN instrumentation (Kbuild), as mm/Makefile builds
 * slub.o, and debug.c's call to memchr_inv() (instrumented library code)
 * suppresses reports as slub's metadata_access_enable() does; everything
 * else, and every client, is checked.
 *
 * Documentation/debugging.rst shows the reports.
 */
#include <linux/kasan.h>
#include <linux/mm.h>

#include "dslab.h"

/* KASAN's shadow values for slab objects (mm/kasan/kasan.h). */
#define DSLAB_KASAN_FREE	0xFB	/* KASAN_SLAB_FREE */
#define DSLAB_KASAN_REDZONE	0xFC	/* KASAN_SLAB_REDZONE */
#define DSLAB_KASAN_GRANULE	BIT(KASAN_SHADOW_SCALE_SHIFT)

static size_t dslab_kasan_span_bytes(const struct dslab_span *span)
{
	return (size_t)span->npages << PAGE_SHIFT;
}

/**
 * dslab_kasan_span_new() - poison a new span before any object is out
 * @span: the span, its freelist (if any) already threaded
 *
 * Context: Any context.
 */
void dslab_kasan_span_new(const struct dslab_span *span)
{
	size_t objs = 0;

	if (span->class != DSLAB_CLASS_LARGE) {
		objs = (size_t)span->nelems * span->size;
		kasan_poison(span->base, objs, DSLAB_KASAN_FREE, false);
	}
	kasan_poison(span->base + objs, dslab_kasan_span_bytes(span) - objs,
		     DSLAB_KASAN_REDZONE, false);
}

/**
 * dslab_kasan_span_free() - unpoison a span's pages before they go back
 * @span: the span
 *
 * Context: Any context.
 */
void dslab_kasan_span_free(const struct dslab_span *span)
{
	kasan_poison(span->base, dslab_kasan_span_bytes(span), 0, false);
}

/**
 * dslab_kasan_alloc() - make an object being handed out accessible
 * @span: its span
 * @obj: the object
 * @req: bytes the caller asked for; the rest of the slot is red zone
 *
 * Context: Any context.
 */
void dslab_kasan_alloc(const struct dslab_span *span, void *obj, size_t req)
{
	size_t full = round_down(req, DSLAB_KASAN_GRANULE);
	size_t end = round_up(req, DSLAB_KASAN_GRANULE);
	size_t slot = round_up((size_t)span->size, DSLAB_KASAN_GRANULE);

	kasan_poison(obj, full, 0, false);
	/* A partial granule: its shadow byte counts the accessible bytes. */
	if (end != full)
		kasan_poison(obj + full, DSLAB_KASAN_GRANULE, req - full, false);
	if (slot > end)
		kasan_poison(obj + end, slot - end, DSLAB_KASAN_REDZONE, false);
}

/**
 * dslab_kasan_release() - poison an object whose memory is released
 * @span: its span
 * @obj: the object, no longer live and past its destructors
 *
 * A large object's pages go back to the page allocator with it, and
 * dslab_kasan_span_free() sees to them.
 *
 * Context: Any context.
 */
void dslab_kasan_release(const struct dslab_span *span, void *obj)
{
	if (span->class != DSLAB_CLASS_LARGE)
		kasan_poison(obj, span->size, DSLAB_KASAN_FREE, false);
}
