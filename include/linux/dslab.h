/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dslab - a size-class slab allocator whose objects can carry destructors.
 *
 * This is the interface other kernel modules compile against.  Build a
 * client against dslab's Module.symvers (KBUILD_EXTRA_SYMBOLS) and include
 * this header.  See Documentation/api.rst for the full contract, the
 * destructor validation table and the context rules.
 */
#ifndef _LINUX_DSLAB_H
#define _LINUX_DSLAB_H

#include <linux/types.h>
#include <linux/gfp.h>
#include <linux/build_bug.h>
#include <linux/cleanup.h>
#include <linux/compiler.h>
#include <linux/err.h>
#include <linux/export.h>
#include <linux/overflow.h>

struct module;

/* === Allocation === */

/*
 * As for kmalloc(), the compiler (and FORTIFY_SOURCE) takes an object to
 * be the size requested, not dslab_ksize(): see Documentation/api.rst.
 */
void *dslab_alloc(size_t size, gfp_t flags) __alloc_size(1);
void *dslab_alloc_node(size_t size, gfp_t flags, int node) __alloc_size(1);
void dslab_free(const void *obj);
int dslab_alloc_bulk(size_t size, gfp_t flags, size_t nr, void **objs);
void dslab_free_bulk(size_t nr, void **objs);
size_t dslab_ksize(const void *obj);

/**
 * struct dslab_found - what __dslab_find_object() found
 * @base: the live object's start, NULL when there is none
 * @size: its usable size, when @base is set
 *
 * Two words, which the calling convention returns in registers (rax and
 * rdx on x86-64, x0 and x1 on arm64): the lookup stores nothing.
 */
struct dslab_found {
	void *base;
	size_t size;
};

struct dslab_found __dslab_find_object(const void *ptr);

/**
 * dslab_find_object() - find the live object containing a pointer
 * @ptr: any pointer value: interior, foreign, NULL or ERR_PTR alike
 * @base: set to the object's start when found; may be NULL
 * @size: set to the object's usable size when found; may be NULL
 *
 * The Go runtime's findObject, answered from the page map in O(1) by
 * __dslab_find_object().  @ptr is never dereferenced.  Inline, so that
 * the tests of @base and @size are the compiler's, not the call's.
 *
 * Context: Any context.
 * Return: true when @ptr points into a live object, false otherwise
 * (including free slots, objects awaiting destructors, span tails and one
 * past the end of an object), leaving *@base and *@size alone.
 */
static inline bool dslab_find_object(const void *ptr, void **base,
				     size_t *size)
{
	struct dslab_found found = __dslab_find_object(ptr);

	if (!found.base)
		return false;
	if (base)
		*base = found.base;
	if (size)
		*size = found.size;
	return true;
}

/*
 * void *p __free(dslab) = dslab_alloc(...) frees p when it goes out of
 * scope, unless it is NULL or an ERR_PTR; no_free_ptr(p) hands it on.
 * The test is kfree's "if (!IS_ERR_OR_NULL(_T))" as an expression:
 * checkpatch misreads an if statement in a macro argument.
 */
DEFINE_FREE(dslab, void *, IS_ERR_OR_NULL(_T) ? (void)0 : dslab_free(_T))

/* === The kmalloc helpers' twins (util.c) === */

void *dslab_alloc_array(size_t n, size_t size, gfp_t flags) __alloc_size(1, 2);
void *dslab_calloc(size_t n, size_t size, gfp_t flags) __alloc_size(1, 2);
void * __must_check dslab_realloc(const void *p, size_t new_size, gfp_t flags)
	__realloc_size(2);
void *dslab_memdup(const void *src, size_t len, gfp_t flags) __realloc_size(2);
char *dslab_strdup(const char *s, gfp_t flags) __malloc;

/* === Typed objects and destructors === */

/**
 * struct dslab_type - the dynamic type of a dslab object
 * @name: human-readable name, used in refusal messages and debugfs.
 * @size: object size in bytes; 0 declares an interface type, which
 *	cannot be allocated but can be named in @implements and in
 *	&struct dslab_dtor.arg.
 * @implements: NULL-terminated list of interface types this type
 *	implements, or NULL.
 *
 * Declare types with DSLAB_TYPE() or DSLAB_INTERFACE() so the C type they
 * describe is known to the compiler.  A type must outlive every object
 * allocated with it and every destructor that names it.
 */
struct dslab_type {
	const char *name;
	size_t size;
	const struct dslab_type *const *implements;
};

/**
 * struct dslab_dtor - a destructor and the type it accepts
 * @fn: called with the object, in process context, after dslab_free();
 *	it may sleep.  The object's contents are intact.
 * @arg: the type @fn accepts: the object's own type or an interface it
 *	implements.  NULL accepts any object, typed or not.
 *
 * Declare destructors with DSLAB_DTOR() so a mismatch between @fn's
 * parameter type and @arg is a compile-time error.
 */
struct dslab_dtor {
	void (*fn)(void *obj);
	const struct dslab_type *arg;
};

struct dslab_cleanup;

void *dslab_new(const struct dslab_type *type, gfp_t flags) __malloc;
void *dslab_new_size(const struct dslab_type *type, size_t size, gfp_t flags)
	__malloc;
void *__dslab_new_dtor(const struct dslab_type *type,
		       const struct dslab_dtor *dtor, gfp_t flags,
		       struct module *owner) __malloc;
int __must_check __dslab_set_destructor(const void *obj,
					const struct dslab_dtor *dtor,
					gfp_t flags, struct module *owner);
struct dslab_cleanup * __must_check
__dslab_add_cleanup(const void *obj, void (*fn)(void *arg), void *arg,
		    gfp_t flags, struct module *owner);
bool dslab_cleanup_cancel(struct dslab_cleanup *cleanup);

/*
 * The owner is the module whose code a destructor or cleanup is: when it
 * is unloaded, what it still has registered on live objects is dropped
 * and what is queued runs first (Documentation/api.rst, "Module pinning
 * and unload").  As with pci_register_driver(), the wrappers pass
 * THIS_MODULE.
 */

/**
 * dslab_set_destructor() - set or remove an object's destructor
 * @obj: the start of a live dslab object
 * @dtor: the destructor, usually defined with DSLAB_DTOR(); NULL removes it
 *
 * Calls __dslab_set_destructor() with GFP_ATOMIC and THIS_MODULE as the
 * owner.
 *
 * Context: Any context but NMI.
 * Return: as for __dslab_set_destructor().
 */
#define dslab_set_destructor(obj, dtor)					\
	__dslab_set_destructor((obj), (dtor), GFP_ATOMIC, THIS_MODULE)

/**
 * dslab_set_destructor_gfp() - dslab_set_destructor() with GFP flags
 * @obj: the start of a live dslab object
 * @dtor: the destructor, or NULL to remove it
 * @flags: GFP flags for what the registration allocates, e.g.
 *	GFP_KERNEL where the caller may sleep
 *
 * Context: Any context but NMI with a matching @flags.
 * Return: as for __dslab_set_destructor().
 */
#define dslab_set_destructor_gfp(obj, dtor, flags)			\
	__dslab_set_destructor((obj), (dtor), (flags), THIS_MODULE)

/**
 * dslab_add_cleanup() - run a function after an object is freed
 * @obj: the start of a live dslab object
 * @fn: the cleanup, called with @arg in process context
 * @arg: its argument; must not be @obj
 * @flags: GFP flags for the record
 *
 * Calls __dslab_add_cleanup() with THIS_MODULE as the owner, which stays
 * pinned until the cleanup has run or was cancelled.
 *
 * Context: Any context but NMI with a matching @flags.
 * Return: as for __dslab_add_cleanup().
 */
#define dslab_add_cleanup(obj, fn, arg, flags)				\
	__dslab_add_cleanup((obj), (fn), (arg), (flags), THIS_MODULE)

/* === Deferred work === */

void dslab_dtor_barrier(void);
void dslab_free_rcu(const void *obj);

/* === Compile-time typing === */

/*
 * The C type behind a dslab_type is carried in the name of a zero-size
 * "witness" pointer.  DSLAB_DTOR() compares the destructor's parameter
 * type against it with __same_type(), so passing a destructor written for
 * another type fails to compile, the way Go's type checker rejects a
 * finalizer whose argument the object cannot be assigned to.
 */
#define __dslab_witness(var) __dslab_witness_##var

/**
 * DSLAB_TYPE - define a dslab_type for a C type
 * @var: name of the &struct dslab_type variable to define
 * @ctype: the C type of the objects (e.g. struct foo)
 *
 * Defines ``static const struct dslab_type var`` with the size of @ctype
 * and a compile-time witness used by DSLAB_DTOR() and dslab_new_typed().
 * The type is private to the file; a type that several files use goes in
 * a header with DSLAB_TYPE_DECLARE() and in one file with
 * DSLAB_TYPE_DEFINE().
 */
#define DSLAB_TYPE(var, ctype)						\
	static typeof(ctype) *__dslab_witness(var) __maybe_unused;	\
	static const struct dslab_type var = {				\
		.name = #ctype,						\
		.size = sizeof(ctype),					\
	}

/**
 * DSLAB_TYPE_IMPL - define a dslab_type that implements interfaces
 * @var: name of the &struct dslab_type variable to define
 * @ctype: the C type of the objects
 * @...: the interface types it implements (pointers to dslab_type)
 */
#define DSLAB_TYPE_IMPL(var, ctype, ...)				\
	static typeof(ctype) *__dslab_witness(var) __maybe_unused;	\
	static const struct dslab_type *const __dslab_impl_##var[] = {	\
		__VA_ARGS__, NULL };					\
	static const struct dslab_type var = {				\
		.name = #ctype,						\
		.size = sizeof(ctype),					\
		.implements = __dslab_impl_##var,			\
	}

/**
 * DSLAB_INTERFACE - define an interface type
 * @var: name of the &struct dslab_type variable to define
 * @ctype: the C type a destructor for this interface takes a pointer to
 *	(usually the struct embedded first in every implementing type)
 */
#define DSLAB_INTERFACE(var, ctype)					\
	static typeof(ctype) *__dslab_witness(var) __maybe_unused;	\
	static const struct dslab_type var = {				\
		.name = #ctype,						\
		.size = 0,						\
	}

/**
 * DSLAB_TYPE_DECLARE - declare a dslab_type shared between files
 * @var: name of the &struct dslab_type
 * @ctype: the C type of the objects
 *
 * For a header: declares ``extern const struct dslab_type var`` and its
 * compile-time witness, so every file that includes the header names the
 * same type.  Exactly one file defines it with DSLAB_TYPE_DEFINE() (a
 * second definition is a link error).  DSLAB_TYPE() in a header would
 * instead make one type per file: dslab compares types by address, so an
 * object allocated in one file would be refused a typed destructor in
 * another.
 */
#define DSLAB_TYPE_DECLARE(var, ctype)					\
	extern typeof(ctype) *__dslab_witness_##var;			\
	extern const struct dslab_type var

/**
 * DSLAB_TYPE_DEFINE - define the dslab_type DSLAB_TYPE_DECLARE() declared
 * @var: name of the &struct dslab_type
 * @ctype: the C type of the objects, as in the declaration
 */
#define DSLAB_TYPE_DEFINE(var, ctype)					\
	DSLAB_TYPE_DECLARE(var, ctype);					\
	const struct dslab_type var = {					\
		.name = #ctype,						\
		.size = sizeof(ctype),					\
	}

/**
 * DSLAB_TYPE_DEFINE_IMPL - DSLAB_TYPE_DEFINE() for a type with interfaces
 * @var: name of the &struct dslab_type
 * @ctype: the C type of the objects
 * @...: the interface types it implements (pointers to dslab_type)
 */
#define DSLAB_TYPE_DEFINE_IMPL(var, ctype, ...)				\
	DSLAB_TYPE_DECLARE(var, ctype);					\
	static const struct dslab_type *const __dslab_impl_##var[] = {	\
		__VA_ARGS__, NULL };					\
	const struct dslab_type var = {					\
		.name = #ctype,						\
		.size = sizeof(ctype),					\
		.implements = __dslab_impl_##var,			\
	}

/*
 * DSLAB_DTOR()'s check.  A destructor may take a pointer to the type's C
 * type or a const one.  On a mismatch the static_assert names the
 * destructor and the type variable; the initialisation below it makes the
 * compiler name both C types too ("initialization of 'void (*)(struct
 * foo *)' from incompatible pointer type 'void (*)(struct bar *)'").
 */
#define __dslab_dtor_ok(tvar, func)					\
	(__same_type(&(func), (void (*)(typeof(__dslab_witness(tvar))))NULL) || \
	 __same_type(&(func),						\
		     (void (*)(const typeof(*__dslab_witness(tvar))*))NULL))

/**
 * DSLAB_DTOR - define a &struct dslab_dtor checked at compile time
 * @name: name of the ``static const struct dslab_dtor`` to define
 * @tvar: a type defined by DSLAB_TYPE(), DSLAB_TYPE_DECLARE() or
 *	DSLAB_INTERFACE()
 * @func: a function ``void func(ctype *obj)`` (or ``const ctype *``) for
 *	that type's C type
 *
 * Fails to compile when @func does not take a pointer to @tvar's C type.
 * The destructor is called through a trampoline of the exact type
 * ``void (*)(void *)``, so control-flow integrity checks hold.
 */
#define DSLAB_DTOR(name, tvar, func)					\
	static_assert(__dslab_dtor_ok(tvar, func),			\
		"destructor " #func " does not take the C type of " #tvar); \
	static void (*const __dslab_check_##name)(typeof(__dslab_witness(tvar))) \
		__maybe_unused = __builtin_choose_expr(			\
			__dslab_dtor_ok(tvar, func), NULL, &(func));	\
	static void __dslab_tramp_##name(void *obj)			\
	{								\
		func(obj);						\
	}								\
	static const struct dslab_dtor name = {				\
		.fn = __dslab_tramp_##name,				\
		.arg = &(tvar),						\
	}

/**
 * dslab_new_typed - typed allocation returning the C type
 * @var: a type defined by DSLAB_TYPE()
 * @flags: GFP flags, as for dslab_new()
 */
#define dslab_new_typed(var, flags)					\
	((typeof(__dslab_witness(var)))dslab_new(&(var), (flags)))

/**
 * dslab_new_dtor - typed allocation with its destructor set
 * @var: a type defined by DSLAB_TYPE()
 * @dtor: a destructor defined by DSLAB_DTOR() for @var (or an interface
 *	it implements)
 * @flags: GFP flags for the object and the registration
 *
 * Calls __dslab_new_dtor() with THIS_MODULE as the owner.
 *
 * Context: As for dslab_alloc().
 * Return: a pointer to @var's C type, zeroed, whose destructor is @dtor;
 * NULL when memory ran out or the destructor was refused (nothing is
 * left allocated then).
 */
#define dslab_new_dtor(var, dtor, flags)				\
	((typeof(__dslab_witness(var)))__dslab_new_dtor(&(var), &(dtor), \
							(flags), THIS_MODULE))

/**
 * dslab_new_flex_typed - typed allocation with a flexible array
 * @var: a type defined by DSLAB_TYPE() whose C type ends in @member[]
 * @member: the flexible array member
 * @count: the number of elements of @member to allocate room for
 * @flags: GFP flags, as for dslab_new()
 *
 * Like dslab_new_typed(), for a C type that ends in a flexible array:
 * calls dslab_new_size() with struct_size() of @var's C type, which
 * saturates on overflow, so a @count too large gives NULL.
 *
 * Context: As for dslab_alloc().
 * Return: a pointer to @var's C type, zeroed, with room for @count
 * elements of @member; NULL as for dslab_new_size().
 */
#define dslab_new_flex_typed(var, member, count, flags)			\
	((typeof(__dslab_witness(var)))dslab_new_size(&(var),		\
		struct_size(__dslab_witness(var), member, (count)), (flags)))

#endif /* _LINUX_DSLAB_H */
