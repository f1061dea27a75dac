// SPDX-License-Identifier: GPL-2.0
/*
 * Compile-time check of DSLAB_DTOR(): never part of the normal build.
 *
 * kunit/build_fail/run.sh compiles this file once per variant:
 *   DSLAB_BF_VARIANT=0  destructors that match their types (one taking a
 *                       const pointer): must compile
 *   DSLAB_BF_VARIANT=1  destructor for another struct: must not compile
 *   DSLAB_BF_VARIANT=2  destructor taking void *: must not compile
 *   DSLAB_BF_VARIANT=3  destructor for another interface: must not compile
 *   DSLAB_BF_VARIANT=4  destructor returning int: must not compile
 * and checks that each failure is DSLAB_DTOR()'s static_assert, the way
 * Go's type checker rejects a finalizer the object cannot be passed to.
 */
#include <linux/module.h>
#include <linux/dslab.h>

struct dslab_bf_hdr {
	int kind;
};

struct dslab_bf_foo {
	struct dslab_bf_hdr hdr;
	int foo;
};

struct dslab_bf_bar {
	struct dslab_bf_hdr hdr;
	long bar;
};

DSLAB_INTERFACE(dslab_bf_iface, struct dslab_bf_hdr);
DSLAB_TYPE(dslab_bf_foo_type, struct dslab_bf_foo);
DSLAB_TYPE_IMPL(dslab_bf_bar_type, struct dslab_bf_bar, &dslab_bf_iface);

static void __maybe_unused dslab_bf_foo_fn(struct dslab_bf_foo *f)
{
	f->foo = 0;
}

static void __maybe_unused dslab_bf_bar_fn(struct dslab_bf_bar *b)
{
	b->bar = 0;
}

static void __maybe_unused dslab_bf_hdr_fn(struct dslab_bf_hdr *h)
{
	h->kind = 0;
}

static void __maybe_unused dslab_bf_foo_const_fn(const struct dslab_bf_foo *f)
{
}

#ifndef DSLAB_BF_VARIANT
#define DSLAB_BF_VARIANT 0
#endif

#if DSLAB_BF_VARIANT == 0
DSLAB_DTOR(dslab_bf_foo_dtor, dslab_bf_foo_type, dslab_bf_foo_fn);
DSLAB_DTOR(dslab_bf_bar_dtor, dslab_bf_bar_type, dslab_bf_bar_fn);
DSLAB_DTOR(dslab_bf_iface_dtor, dslab_bf_iface, dslab_bf_hdr_fn);
DSLAB_DTOR(dslab_bf_const_dtor, dslab_bf_foo_type, dslab_bf_foo_const_fn);
static const struct dslab_dtor *const dslab_bf_dtors[] __used = {
	&dslab_bf_foo_dtor, &dslab_bf_bar_dtor, &dslab_bf_iface_dtor,
	&dslab_bf_const_dtor,
};
#elif DSLAB_BF_VARIANT == 1
/* a destructor for struct dslab_bf_bar on the foo type */
DSLAB_DTOR(dslab_bf_bad_dtor, dslab_bf_foo_type, dslab_bf_bar_fn);
#elif DSLAB_BF_VARIANT == 2
static void dslab_bf_void_fn(void *obj)
{
}

DSLAB_DTOR(dslab_bf_bad_dtor, dslab_bf_foo_type, dslab_bf_void_fn);
#elif DSLAB_BF_VARIANT == 3
/* the interface's destructor takes the header, not the whole bar */
DSLAB_DTOR(dslab_bf_bad_dtor, dslab_bf_iface, dslab_bf_bar_fn);
#elif DSLAB_BF_VARIANT == 4
static int dslab_bf_int_fn(struct dslab_bf_foo *f)
{
	return f->foo;
}

DSLAB_DTOR(dslab_bf_bad_dtor, dslab_bf_foo_type, dslab_bf_int_fn);
#endif

#if DSLAB_BF_VARIANT != 0
static const struct dslab_dtor *const dslab_bf_dtors[] __used = {
	&dslab_bf_bad_dtor,
};
#endif

static int __init dslab_bf_init(void)
{
	return 0;
}
module_init(dslab_bf_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("dslab: DSLAB_DTOR() compile-time check (must not build when mismatched)");
