/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels dslab supports (6.1 to 6.12) lives
 * here, one block per API, each naming the release that changed it.
 */
#ifndef _DSLAB_COMPAT_H
#define _DSLAB_COMPAT_H

#include <linux/version.h>
#include <linux/shrinker.h>
#include <linux/slab.h>

/*
 * Shrinkers: 6.7 replaced register_shrinker() on a caller-owned struct
 * with shrinker_alloc() + shrinker_register() on an allocated one.
 */
typedef unsigned long (*dslab_shrink_fn)(struct shrinker *s,
					 struct shrink_control *sc);

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
static inline struct shrinker *
dslab_compat_shrinker_create(dslab_shrink_fn count, dslab_shrink_fn scan)
{
	struct shrinker *s = shrinker_alloc(0, "dslab");

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
dslab_compat_shrinker_create(dslab_shrink_fn count, dslab_shrink_fn scan)
{
	struct shrinker *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
	if (register_shrinker(s, "dslab")) {
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
