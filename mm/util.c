// SPDX-License-Identifier: GPL-2.0
/*
 * dslab's twins of the kmalloc helpers of the kernel's util.c and
 * <linux/slab.h>: dslab_alloc_array() and dslab_calloc() for kmalloc_array() and
 * kcalloc(), dslab_realloc() for krealloc(), dslab_memdup() and
 * dslab_strdup() for kmemdup() and kstrdup().  The typed allocation with
 * a flexible array, dslab_new_size(), lives with dslab_new() in dtor.c.
 * Documentation/api.rst ("kmalloc-style helpers") is the contract.
 *
 * They are built on the public allocator and keep their twins' contracts,
 * with two differences.  Input a kmalloc helper would crash on (a pointer
 * dslab does not own given to dslab_realloc(), a NULL source with a
 * length) gets NULL and one rate-limited line instead.  And
 * dslab_realloc() never moves an object that has a dynamic type, a
 * destructor or cleanups: they belong to the object's address (dtor.c),
 * and a copy would either lose them or run the destructor on the old
 * contents while the new object still refers to what it releases.
 * Growing such an object in place is fine; moving it is refused.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <linux/overflow.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dslab.h"

/* === Internals === */

/*
 * Is the live object @obj bound to its address: does it have a dynamic
 * type, a destructor or cleanups?  The metadata entry is read under
 * special_lock, as every registration path writes it (dtor.c).
 */
static bool dslab_util_bound(const void *obj)
{
	const struct dslab_objmeta *m;
	struct dslab_span *span;
	unsigned int idx, off;
	unsigned long flags;
	bool bound = false;

	rcu_read_lock();
	span = dslab_span_lookup(obj);
	if (span) {
		idx = dslab_span_index(span, obj, &off);
		spin_lock_irqsave(&span->special_lock, flags);
		if (span->meta && idx < span->nelems) {
			m = &span->meta[idx];
			bound = m->type || m->dtor || !hlist_empty(&m->specials);
		}
		spin_unlock_irqrestore(&span->special_lock, flags);
	}
	rcu_read_unlock();
	return bound;
}

/* === Public interface === */

/**
 * dslab_alloc_array() - allocate an array
 * @n: number of elements
 * @size: bytes per element
 * @flags: GFP flags, as for dslab_alloc()
 *
 * The twin of kmalloc_array(): dslab_alloc() of @n * @size bytes, checked
 * for overflow.
 *
 * Context: As for dslab_alloc().
 * Return: the object, ZERO_SIZE_PTR when @n or @size is 0, or NULL when
 * @n * @size overflows (nothing is allocated then) or memory ran out.
 */
void *dslab_alloc_array(size_t n, size_t size, gfp_t flags)
{
	size_t bytes;

	if (unlikely(check_mul_overflow(n, size, &bytes)))
		return NULL;
	return dslab_alloc(bytes, flags);
}
EXPORT_SYMBOL_GPL(dslab_alloc_array);

/**
 * dslab_calloc() - allocate a zeroed array
 * @n: number of elements
 * @size: bytes per element
 * @flags: GFP flags, as for dslab_alloc(); __GFP_ZERO is added
 *
 * The twin of kcalloc(): dslab_alloc_array() with __GFP_ZERO.
 *
 * Context: As for dslab_alloc().
 * Return: as for dslab_alloc_array().
 */
void *dslab_calloc(size_t n, size_t size, gfp_t flags)
{
	return dslab_alloc_array(n, size, flags | __GFP_ZERO);
}
EXPORT_SYMBOL_GPL(dslab_calloc);

/**
 * dslab_realloc() - resize an object
 * @p: an object from dslab_alloc() or its twins, NULL or ZERO_SIZE_PTR
 * @new_size: bytes wanted; 0 frees @p
 * @flags: GFP flags, as for dslab_alloc()
 *
 * The twin of krealloc().  NULL or ZERO_SIZE_PTR for @p allocates.  When
 * @new_size fits in dslab_ksize(@p), @p stays where it is (a shrink never
 * moves).  Otherwise a new object is allocated, @p's dslab_ksize() bytes
 * are copied into it and @p is freed.  With __GFP_ZERO the bytes from
 * @new_size up to dslab_ksize() are zeroed when @p stays, and the grown
 * part of a new object is zeroed; as with krealloc(), the bytes between
 * the size last asked for and dslab_ksize() are only zero if every
 * allocation and reallocation of the object passed __GFP_ZERO.
 *
 * An object with a dynamic type (dslab_new()), a destructor or cleanups
 * is never moved: they belong to its address.  Growing one beyond
 * dslab_ksize() is refused with NULL and one rate-limited line, and @p is
 * left as it was; allocate a new object (dslab_new_size()) and copy
 * instead.  A pointer that is not the start of a live dslab object is
 * refused the same way.
 *
 * Context: As for dslab_alloc().
 * Return: the object, which may be @p or a new one; ZERO_SIZE_PTR when
 * @new_size is 0 (@p is freed then); NULL when memory ran out or @p was
 * refused, and @p is then untouched and still the caller's.
 */
void *dslab_realloc(const void *p, size_t new_size, gfp_t flags)
{
	const char *why;
	size_t ks;
	void *ret;

	if (ZERO_OR_NULL_PTR(p))
		return dslab_alloc(new_size, flags);
	if (unlikely(!new_size)) {
		dslab_free(p);
		return ZERO_SIZE_PTR;
	}
	ks = dslab_ksize(p);
	if (unlikely(!ks)) {
		why = "not the start of a live dslab object";
		goto refuse;
	}
	if (new_size <= ks) {
		if (flags & __GFP_ZERO)
			memset((void *)p + new_size, 0, ks - new_size);
		/* dslab_ksize() opened it all: as krealloc(), to the new size. */
		if (IS_ENABLED(CONFIG_KASAN_GENERIC))
			dslab_kasan_alloc(dslab_own_span(p), (void *)p, new_size);
		return (void *)p;
	}
	if (unlikely(dslab_util_bound(p))) {
		why = "an object with a type, destructor or cleanups cannot move";
		goto refuse;
	}
	ret = dslab_alloc(new_size, flags);
	if (!ret)
		return NULL;
	memcpy(ret, p, ks);
	dslab_free(p);
	return ret;

refuse:
	pr_err_ratelimited("realloc of %p to %zu bytes from %pS: %s\n", p, new_size,
			   __builtin_return_address(0), why);
	return NULL;
}
EXPORT_SYMBOL_GPL(dslab_realloc);

/**
 * dslab_memdup() - duplicate a region of memory
 * @src: the memory to copy
 * @len: bytes to copy
 * @flags: GFP flags, as for dslab_alloc()
 *
 * The twin of kmemdup().
 *
 * Context: As for dslab_alloc().
 * Return: a new object holding a copy of @len bytes of @src,
 * ZERO_SIZE_PTR when @len is 0, or NULL when memory ran out or @src is
 * NULL while @len is not 0.
 */
void *dslab_memdup(const void *src, size_t len, gfp_t flags)
{
	void *p;

	if (unlikely(!src && len)) {
		pr_err_ratelimited("memdup of NULL (%zu bytes) from %pS\n", len,
				   __builtin_return_address(0));
		return NULL;
	}
	p = dslab_alloc(len, flags);
	if (!ZERO_OR_NULL_PTR(p))
		memcpy(p, src, len);
	return p;
}
EXPORT_SYMBOL_GPL(dslab_memdup);

/**
 * dslab_strdup() - duplicate a string
 * @s: the string, or NULL
 * @flags: GFP flags, as for dslab_alloc()
 *
 * The twin of kstrdup().
 *
 * Context: As for dslab_alloc().
 * Return: a new object holding a copy of @s with its NUL, or NULL when @s
 * is NULL or memory ran out.
 */
char *dslab_strdup(const char *s, gfp_t flags)
{
	if (!s)
		return NULL;
	return dslab_memdup(s, strlen(s) + 1, flags);
}
EXPORT_SYMBOL_GPL(dslab_strdup);
