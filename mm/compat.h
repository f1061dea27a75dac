/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels dslab supports (6.1 to 7.3) lives
 * here, one block per API, each naming the release that changed it.  The
 * code is written against the newest kernel's API; a block gives older
 * kernels what they lack, under the newest kernel's name where the API
 * only moved (timers), or a dslab_compat_ helper where it changed shape
 * (shrinkers).  dslab.ko, dslab_test.ko, the torture and bench modules
 * and the sample client all include this file.
 */
#ifndef _DSLAB_COMPAT_H
#define _DSLAB_COMPAT_H

#include <linux/version.h>
#include <linux/hrtimer.h>
#include <linux/module.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/timer.h>

/*
 * Symbol namespaces: 6.13 made the namespace argument of
 * EXPORT_SYMBOL_NS_GPL() and MODULE_IMPORT_NS() a string literal; before,
 * it was a bare word that the macros stringified.  Both spellings of
 * dslab's internal namespace (test and bench modules only) expand to the
 * same string, "DSLAB_INTERNAL".  DSLAB_KUNIT_NS is the namespace of
 * EXPORT_SYMBOL_IF_KUNIT() (<kunit/visibility.h>), the test hooks that
 * only a kernel with KUnit exports.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#define DSLAB_NS	"DSLAB_INTERNAL"
#define DSLAB_KUNIT_NS	"EXPORTED_FOR_KUNIT_TESTING"
#else
#define DSLAB_NS	DSLAB_INTERNAL
#define DSLAB_KUNIT_NS	EXPORTED_FOR_KUNIT_TESTING
#endif

/*
 * hrtimers: 6.13 added hrtimer_setup() and hrtimer_setup_on_stack(),
 * which set the callback together with the clock and mode; 6.16 removed
 * hrtimer_init() and hrtimer_init_on_stack().
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
static inline void
hrtimer_setup(struct hrtimer *timer,
	      enum hrtimer_restart (*function)(struct hrtimer *),
	      clockid_t clock_id, enum hrtimer_mode mode)
{
	hrtimer_init(timer, clock_id, mode);
	timer->function = function;
}

static inline void
hrtimer_setup_on_stack(struct hrtimer *timer,
		       enum hrtimer_restart (*function)(struct hrtimer *),
		       clockid_t clock_id, enum hrtimer_mode mode)
{
	hrtimer_init_on_stack(timer, clock_id, mode);
	timer->function = function;
}
#endif

/*
 * timer_list: 6.16 renamed from_timer() to timer_container_of() and
 * destroy_timer_on_stack() to timer_destroy_on_stack().  (The 6.2
 * rename of del_timer_sync() to timer_delete_sync() is in both Debian
 * 6.1 and 6.12 already.)
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 16, 0)
#ifndef timer_container_of
#define timer_container_of(var, callback_timer, timer_fieldname)	\
	from_timer(var, callback_timer, timer_fieldname)
#endif
#define timer_destroy_on_stack(timer)	destroy_timer_on_stack(timer)
#endif

/*
 * kvfree_rcu_barrier() waits for kfree_rcu()'s batches.  6.12 added and
 * exported it; 6.1 has no such barrier (rcu_barrier() does not cover the
 * batches), and by 7.3 the kvfree_rcu code lives in mm/slab_common.c and
 * the barrier is no longer exported.  The releases in between are not
 * tested, so only 6.12.y counts as having it.  Only the benchmark's
 * kfree_rcu anchor needs it.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0) && \
	LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
#define DSLAB_HAVE_KVFREE_RCU_BARRIER	1
#else
#define DSLAB_HAVE_KVFREE_RCU_BARRIER	0
#endif

/*
 * struct module's memory: 6.4 replaced core_layout and init_layout with
 * one region per mod_mem_type, mem[].  Only a test that fakes a module
 * (a struct module of its own, to exercise what a module's unload does)
 * sets one.
 */
static inline void dslab_compat_module_set_data(struct module *mod,
						void *base, unsigned int size)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	mod->mem[MOD_DATA].base = base;
	mod->mem[MOD_DATA].size = size;
#else
	mod->core_layout.base = base;
	mod->core_layout.size = size;
#endif
}

/*
 * SLAB_NO_MERGE (6.5) keeps a new cache from being merged into another;
 * before it, only the benchmark's dedicated kmem_cache wants it, and can
 * do without.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0) && !defined(SLAB_NO_MERGE)
#define SLAB_NO_MERGE	0
#endif

/*
 * Shrinkers: 6.7 replaced register_shrinker() on a caller-owned struct
 * with shrinker_alloc() + shrinker_register() on an allocated one.
 */
typedef unsigned long (*dslab_shrink_fn)(struct shrinker *s,
					 struct shrink_control *sc);

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
static inline struct shrinker *
dslab_compat_shrinker_create(const char *name, dslab_shrink_fn count,
			     dslab_shrink_fn scan)
{
	struct shrinker *s = shrinker_alloc(0, "%s", name);

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
	shrinker_register(s);
	return s;
}

static inline void dslab_compat_shrinker_destroy(struct shrinker *s)
{
	shrinker_free(s);
}
#else
static inline struct shrinker *
dslab_compat_shrinker_create(const char *name, dslab_shrink_fn count,
			     dslab_shrink_fn scan)
{
	struct shrinker *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
	if (register_shrinker(s, "%s", name)) {
		kfree(s);
		return NULL;
	}
	return s;
}

static inline void dslab_compat_shrinker_destroy(struct shrinker *s)
{
	unregister_shrinker(s);
	kfree(s);
}
#endif

#endif /* _DSLAB_COMPAT_H */
