// SPDX-License-Identifier: GPL-2.0
/*
 * dslab_ctl - drive dslab from a shell: a test module, and a client of
 * dslab's API like any other (lib/test_hmm.c and lib/test_vmalloc.c are
 * the kernel's pattern).  The shell tests and "make run" load it.
 *
 * /sys/kernel/debug/dslab_ctl/:
 *   control   (0200) a small command language, one command per write(2)
 *   last      (0444) result of the last command (any writer)
 *   handles   (0444) objects held through control
 *   stats     (0444) ctl_handles and the test destructors' counters
 *
 * The command language:
 *
 *   alloc <size> [count]        new <type> [count]
 *   alloc_account <size> [count] (GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL:
 *                               charged to the writer's memory cgroup)
 *   alloc_atomic <size> [count] (GFP_ATOMIC: the allocation's fast path)
 *   free <h> | <h1>-<h2> | all  free_rcu <h>
 *   dtor <h> count|sleep <ms>|realloc|free <h2>|point|shape|clear
 *   cleanup <h> [count]         cancel <cleanup-id>
 *   barrier  shrink  reset
 *   uaf <size> <offset>         redzone <size>   dfree <size>
 *                               (debug mode's checks)
 *
 * Objects are named by handles, small integers from an allocating xarray,
 * never by address; cleanups get ids the same way.  The outcome of the
 * last command ("ok handles 3-7", "error -22 unknown command") is kept in
 * one global buffer shown by debugfs `last`: a shell cannot read a result
 * back through the file descriptor it wrote, so per-open state would be
 * useless.  Concurrent writers each see the latest result of anyone.
 *
 * Input is parsed strictly, as kmemleak_write() does: a bounded copy of at
 * most DSLAB_CTL_LINE_MAX bytes, no NUL or control characters, kstrto*()
 * for numbers, exact argument counts.  A command that fails changes
 * nothing it could undo (objects, handles, destructors, cleanups).
 *
 * Documentation/debugfs.rst describes every command with an example.
 *
 * Lock order:
 *   1. dslab_ctl_mutex
 *   2. dslab core locks (taken inside dslab_alloc() and friends)
 *   3. dslab_ctl_rec_lock, the xa_lock of dslab_ctl_cleanups (leaves)
 *
 * dslab_ctl_mutex protects the handle table, the handle count and the
 * `last` buffer.  It is never held across dslab_dtor_barrier(): the
 * destructor kind "free <h2>" takes it from the runner thread, so a
 * barrier under it would wait for a destructor waiting for the mutex.
 *
 * dslab_ctl_rec_lock protects the destructor argument records, which the
 * runner consumes without the mutex.  The cleanup id table is an xarray
 * whose own lock makes lookup-and-erase atomic: whoever erases an id
 * (the cleanup when it runs, or `cancel`) owns the entry.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/hashtable.h>
#include <linux/kasan.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include <linux/dslab.h>
#include "dslab.h"

/* === Limits === */

/* Longest command accepted by one write, newline included. */
#define DSLAB_CTL_LINE_MAX	256

#define DSLAB_CTL_MAX_ARGS	4		/* words including the command */
#define DSLAB_CTL_MAX_COUNT	4096		/* objects per command */
#define DSLAB_CTL_MAX_SIZE	SZ_1M		/* bytes per object */
#define DSLAB_CTL_MAX_BYTES	SZ_64M		/* bytes per command */
#define DSLAB_CTL_MAX_HANDLES	65536		/* live handles */
#define DSLAB_CTL_MAX_CLEANUPS	256		/* cleanups per command */
#define DSLAB_CTL_MAX_SLEEP_MS	10000
#define DSLAB_CTL_REALLOC_SIZE	64
#define DSLAB_CTL_MAGIC		0xd51ab0b7U
#define DSLAB_CTL_RES_LEN	128

/* === Built-in test types === */

/* The interface: every shape starts with one. */
struct dslab_ctl_shape {
	u32 magic;
	u32 sides;
};

struct dslab_ctl_point {
	struct dslab_ctl_shape shape;
	s32 x, y;
};

struct dslab_ctl_rect {
	struct dslab_ctl_shape shape;
	s32 x, y, w, h;
};

/* Not a shape: shape destructors must be refused for it. */
struct dslab_ctl_blob {
	u32 magic;
	u8 data[196];
};

DSLAB_INTERFACE(dslab_ctl_shape_iface, struct dslab_ctl_shape);
DSLAB_TYPE_IMPL(dslab_ctl_point_type, struct dslab_ctl_point,
		&dslab_ctl_shape_iface);
DSLAB_TYPE_IMPL(dslab_ctl_rect_type, struct dslab_ctl_rect,
		&dslab_ctl_shape_iface);
DSLAB_TYPE(dslab_ctl_blob_type, struct dslab_ctl_blob);

/*
 * The entry of @table, an array of structs whose .name is a word of the
 * language, called @word; NULL if none.  match_string() wants an array of
 * strings; these tables carry more than the name.
 */
#define dslab_ctl_find(table, word) ({					\
	typeof(&(table)[0]) __entry = NULL;				\
	size_t __i;							\
									\
	for (__i = 0; __i < ARRAY_SIZE(table); __i++) {			\
		if (!strcmp((word), (table)[__i].name)) {		\
			__entry = &(table)[__i];			\
			break;						\
		}							\
	}								\
	__entry;							\
})

struct dslab_ctl_type {
	const char *name;		/* as typed after `new` */
	const struct dslab_type *type;
	u32 sides;			/* 0: not a shape */
};

static const struct dslab_ctl_type dslab_ctl_types[] = {
	{ "point", &dslab_ctl_point_type, 1 },
	{ "rect", &dslab_ctl_rect_type, 4 },
	{ "blob", &dslab_ctl_blob_type, 0 },
};

/* === Counters shown in `stats` === */

enum dslab_ctl_counter {
	DSLAB_CTL_RUN_COUNT,
	DSLAB_CTL_RUN_SLEEP,
	DSLAB_CTL_RUN_REALLOC,
	DSLAB_CTL_RUN_FREE,
	DSLAB_CTL_RUN_FREE_GONE,
	DSLAB_CTL_RUN_POINT,
	DSLAB_CTL_RUN_SHAPE,
	DSLAB_CTL_RUN_CLEANUP,
	DSLAB_CTL_BAD_CONTENTS,
	DSLAB_CTL_NR_COUNTERS,
};

static const char *const dslab_ctl_counter_names[] = {
	[DSLAB_CTL_RUN_COUNT]		= "ctl_dtor_count_runs",
	[DSLAB_CTL_RUN_SLEEP]		= "ctl_dtor_sleep_runs",
	[DSLAB_CTL_RUN_REALLOC]		= "ctl_dtor_realloc_runs",
	[DSLAB_CTL_RUN_FREE]		= "ctl_dtor_free_runs",
	[DSLAB_CTL_RUN_FREE_GONE]	= "ctl_dtor_free_gone",
	[DSLAB_CTL_RUN_POINT]		= "ctl_dtor_point_runs",
	[DSLAB_CTL_RUN_SHAPE]		= "ctl_dtor_shape_runs",
	[DSLAB_CTL_RUN_CLEANUP]		= "ctl_cleanup_runs",
	[DSLAB_CTL_BAD_CONTENTS]	= "ctl_bad_contents",
};

static_assert(ARRAY_SIZE(dslab_ctl_counter_names) == DSLAB_CTL_NR_COUNTERS);

static atomic_long_t dslab_ctl_counters[DSLAB_CTL_NR_COUNTERS];

static void dslab_ctl_count(enum dslab_ctl_counter c)
{
	atomic_long_inc(&dslab_ctl_counters[c]);
}

/* === Handles, cleanups and destructor records === */

enum dslab_ctl_dtor_kind {
	DSLAB_CTL_DTOR_NONE,
	DSLAB_CTL_DTOR_COUNT,
	DSLAB_CTL_DTOR_SLEEP,
	DSLAB_CTL_DTOR_REALLOC,
	DSLAB_CTL_DTOR_FREE,
	DSLAB_CTL_DTOR_POINT,
	DSLAB_CTL_DTOR_SHAPE,
};

/* An object allocated through `control`.  M: dslab_ctl_mutex. */
struct dslab_ctl_handle {
	void *obj;				/* I */
	size_t size;				/* I: bytes requested */
	const struct dslab_ctl_type *type;	/* I: NULL if untyped */
	enum dslab_ctl_dtor_kind dtor;		/* M */
	u32 dtor_arg;				/* M: ms or handle */
	unsigned int ncleanups;			/* M: not cancelled */
};

/* A cleanup added through `control`; owned by whoever erases its id. */
struct dslab_ctl_cleanup {
	struct dslab_cleanup *cleanup;
	u32 handle;
};

/*
 * What a destructor needs beyond the object: the sleep time or the handle
 * to free.  Keyed by object address (an object's address is not reused
 * before its destructor has returned); taken by the destructor.
 */
struct dslab_ctl_rec {
	struct hlist_node node;		/* R: dslab_ctl_rec_lock */
	const void *obj;
	u32 arg;
};

static DEFINE_MUTEX(dslab_ctl_mutex);
static DEFINE_XARRAY_ALLOC1(dslab_ctl_handles);	/* M: id -> handle */
static u32 dslab_ctl_next_handle = 1;		/* M: xa_alloc_cyclic */
static unsigned int dslab_ctl_nr_handles;	/* M */
static char dslab_ctl_last_buf[DSLAB_CTL_RES_LEN + 16] = "none"; /* M */

static DEFINE_XARRAY_ALLOC1(dslab_ctl_cleanups);	/* id -> cleanup */
static u32 dslab_ctl_next_cleanup = 1;		/* M */

static DEFINE_SPINLOCK(dslab_ctl_rec_lock);
static DEFINE_HASHTABLE(dslab_ctl_recs, 6);	/* R */

static void dslab_ctl_rec_insert(struct dslab_ctl_rec *rec)
{
	spin_lock(&dslab_ctl_rec_lock);
	hash_add(dslab_ctl_recs, &rec->node, (unsigned long)rec->obj);
	spin_unlock(&dslab_ctl_rec_lock);
}

static struct dslab_ctl_rec *dslab_ctl_rec_take(const void *obj)
{
	struct dslab_ctl_rec *rec;

	spin_lock(&dslab_ctl_rec_lock);
	hash_for_each_possible(dslab_ctl_recs, rec, node, (unsigned long)obj) {
		if (rec->obj == obj) {
			hash_del(&rec->node);
			break;
		}
	}
	spin_unlock(&dslab_ctl_rec_lock);
	return rec;
}

/* === Destructors and cleanups run by the runner === */

static void dslab_ctl_count_fn(void *obj)
{
	dslab_ctl_count(DSLAB_CTL_RUN_COUNT);
}

static void dslab_ctl_sleep_fn(void *obj)
{
	struct dslab_ctl_rec *rec = dslab_ctl_rec_take(obj);

	if (rec) {
		msleep(rec->arg);
		kfree(rec);
	}
	dslab_ctl_count(DSLAB_CTL_RUN_SLEEP);
}

static void dslab_ctl_realloc_fn(void *obj)
{
	void *p = dslab_alloc(DSLAB_CTL_REALLOC_SIZE, GFP_KERNEL);

	if (p) {
		memset(p, 0x5a, DSLAB_CTL_REALLOC_SIZE);
		dslab_free(p);
	}
	dslab_ctl_count(DSLAB_CTL_RUN_REALLOC);
}

static void dslab_ctl_free_fn(void *obj)
{
	struct dslab_ctl_rec *rec = dslab_ctl_rec_take(obj);
	struct dslab_ctl_handle *h = NULL;

	if (rec) {
		mutex_lock(&dslab_ctl_mutex);
		h = xa_erase(&dslab_ctl_handles, rec->arg);
		if (h)
			dslab_ctl_nr_handles--;
		mutex_unlock(&dslab_ctl_mutex);
		kfree(rec);
	}
	if (!h) {
		dslab_ctl_count(DSLAB_CTL_RUN_FREE_GONE);
		return;
	}
	/* Outside the mutex: this free may queue more destructors. */
	dslab_free(h->obj);
	kfree(h);
	dslab_ctl_count(DSLAB_CTL_RUN_FREE);
}

static void dslab_ctl_check_shape(const struct dslab_ctl_shape *s)
{
	if (s->magic != DSLAB_CTL_MAGIC || !s->sides)
		dslab_ctl_count(DSLAB_CTL_BAD_CONTENTS);
}

static void dslab_ctl_point_fn(struct dslab_ctl_point *p)
{
	dslab_ctl_check_shape(&p->shape);
	if (p->shape.sides != 1)
		dslab_ctl_count(DSLAB_CTL_BAD_CONTENTS);
	dslab_ctl_count(DSLAB_CTL_RUN_POINT);
}

static void dslab_ctl_shape_fn(struct dslab_ctl_shape *s)
{
	dslab_ctl_check_shape(s);
	dslab_ctl_count(DSLAB_CTL_RUN_SHAPE);
}

static void dslab_ctl_cleanup_fn(void *arg)
{
	struct dslab_ctl_cleanup *c;

	c = xa_erase(&dslab_ctl_cleanups, (unsigned long)arg);
	kfree(c);
	dslab_ctl_count(DSLAB_CTL_RUN_CLEANUP);
}

static const struct dslab_dtor dslab_ctl_count_dtor = {
	.fn = dslab_ctl_count_fn,
};

static const struct dslab_dtor dslab_ctl_sleep_dtor = {
	.fn = dslab_ctl_sleep_fn,
};

static const struct dslab_dtor dslab_ctl_realloc_dtor = {
	.fn = dslab_ctl_realloc_fn,
};

static const struct dslab_dtor dslab_ctl_free_dtor = {
	.fn = dslab_ctl_free_fn,
};

DSLAB_DTOR(dslab_ctl_point_dtor, dslab_ctl_point_type, dslab_ctl_point_fn);
DSLAB_DTOR(dslab_ctl_shape_dtor, dslab_ctl_shape_iface, dslab_ctl_shape_fn);

static const struct dslab_ctl_dtor_info {
	const char *name;
	const struct dslab_dtor *dtor;	/* NULL: clear */
	bool has_arg;
} dslab_ctl_dtors[] = {
	[DSLAB_CTL_DTOR_NONE]		= { "clear", NULL, false },
	[DSLAB_CTL_DTOR_COUNT]		= { "count", &dslab_ctl_count_dtor, false },
	[DSLAB_CTL_DTOR_SLEEP]		= { "sleep", &dslab_ctl_sleep_dtor, true },
	[DSLAB_CTL_DTOR_REALLOC]	= { "realloc", &dslab_ctl_realloc_dtor, false },
	[DSLAB_CTL_DTOR_FREE]		= { "free", &dslab_ctl_free_dtor, true },
	[DSLAB_CTL_DTOR_POINT]		= { "point", &dslab_ctl_point_dtor, false },
	[DSLAB_CTL_DTOR_SHAPE]		= { "shape", &dslab_ctl_shape_dtor, false },
};

/* === Parsing helpers === */

struct dslab_ctl_ctx {
	int argc;
	char *argv[DSLAB_CTL_MAX_ARGS];
	char res[DSLAB_CTL_RES_LEN];	/* "handles 3-7" or the error reason */
};

#define dslab_ctl_res(ctx, fmt, ...) \
	scnprintf((ctx)->res, sizeof((ctx)->res), fmt, ##__VA_ARGS__)

static int dslab_ctl_u32(struct dslab_ctl_ctx *ctx, const char *s,
			 const char *what, u32 min, u32 max, u32 *out)
{
	int ret = kstrtou32(s, 10, out);

	if (ret) {
		dslab_ctl_res(ctx, "bad %s '%.24s'", what, s);
		return ret;
	}
	if (*out < min || *out > max) {
		dslab_ctl_res(ctx, "%s %u out of range %u-%u", what, *out,
			      min, max);
		return -ERANGE;
	}
	return 0;
}

/* Optional [count] argument at argv[i]. */
static int dslab_ctl_count_arg(struct dslab_ctl_ctx *ctx, int i, u32 max,
			       u32 *count)
{
	*count = 1;
	if (ctx->argc <= i)
		return 0;
	return dslab_ctl_u32(ctx, ctx->argv[i], "count", 1, max, count);
}

static struct dslab_ctl_handle *dslab_ctl_lookup(struct dslab_ctl_ctx *ctx,
						 const char *s, u32 *id,
						 int *err)
{
	struct dslab_ctl_handle *h;

	lockdep_assert_held(&dslab_ctl_mutex);
	*err = dslab_ctl_u32(ctx, s, "handle", 1, INT_MAX, id);
	if (*err)
		return NULL;
	h = xa_load(&dslab_ctl_handles, *id);
	if (!h) {
		dslab_ctl_res(ctx, "no handle %u", *id);
		*err = -ENOENT;
	}
	return h;
}

/* "3-7", "3" or "3,5,9" (truncated with "...") into ctx->res after @pfx. */
static void dslab_ctl_res_ids(struct dslab_ctl_ctx *ctx, const char *pfx,
			      const u32 *ids, u32 n)
{
	size_t len, size = sizeof(ctx->res);
	bool contiguous = true;
	u32 i;

	for (i = 1; i < n; i++)
		if (ids[i] != ids[0] + i)
			contiguous = false;
	if (n == 1) {
		dslab_ctl_res(ctx, "%s %u", pfx, ids[0]);
		return;
	}
	if (contiguous) {
		dslab_ctl_res(ctx, "%s %u-%u", pfx, ids[0], ids[n - 1]);
		return;
	}
	len = dslab_ctl_res(ctx, "%s %u", pfx, ids[0]);
	for (i = 1; i < n; i++) {
		if (len + 16 >= size) {
			scnprintf(ctx->res + len, size - len, ",...");
			return;
		}
		len += scnprintf(ctx->res + len, size - len, ",%u", ids[i]);
	}
}

/* === Handle table === */

/* Take @h out of the table; the caller frees h->obj and @h. */
static void dslab_ctl_unlink(u32 id)
{
	lockdep_assert_held(&dslab_ctl_mutex);
	xa_erase(&dslab_ctl_handles, id);
	dslab_ctl_nr_handles--;
}

static void dslab_ctl_destroy(struct dslab_ctl_handle *h)
{
	dslab_free(h->obj);
	kfree(h);
}

/* Undo dslab_ctl_make() for ids[0..n-1]. */
static void dslab_ctl_unmake(const u32 *ids, u32 n)
{
	struct dslab_ctl_handle *h;
	u32 i;

	for (i = 0; i < n; i++) {
		h = xa_load(&dslab_ctl_handles, ids[i]);
		dslab_ctl_unlink(ids[i]);
		dslab_ctl_destroy(h);
	}
}

/*
 * Allocate @count objects (typed if @type, untyped with @gfp) and give
 * each a handle; all or nothing.
 */
static int dslab_ctl_make(struct dslab_ctl_ctx *ctx, size_t size,
			  const struct dslab_ctl_type *type, u32 count,
			  gfp_t gfp)
{
	struct dslab_ctl_handle *h;
	u32 *ids, n;
	int ret = 0;

	lockdep_assert_held(&dslab_ctl_mutex);
	if (count > DSLAB_CTL_MAX_HANDLES - dslab_ctl_nr_handles) {
		dslab_ctl_res(ctx, "too many handles (limit %u)",
			      DSLAB_CTL_MAX_HANDLES);
		return -ENOSPC;
	}
	ids = kmalloc_array(count, sizeof(*ids), GFP_KERNEL);
	if (!ids)
		goto err_nomem;

	for (n = 0; n < count; n++) {
		h = kzalloc(sizeof(*h), GFP_KERNEL);
		if (!h)
			goto err_unmake;
		h->size = size;
		h->type = type;
		if (type) {
			struct dslab_ctl_shape *s;

			h->obj = dslab_new(type->type, GFP_KERNEL);
			s = h->obj;
			if (s && type->sides) {
				s->magic = DSLAB_CTL_MAGIC;
				s->sides = type->sides;
			} else if (s) {
				((struct dslab_ctl_blob *)s)->magic =
					DSLAB_CTL_MAGIC;
			}
		} else {
			h->obj = dslab_alloc(size, gfp);
			if (h->obj)
				memset(h->obj, 0x6b, size);
		}
		if (!h->obj) {
			kfree(h);
			goto err_unmake;
		}
		ret = xa_alloc_cyclic(&dslab_ctl_handles, &ids[n], h,
				      XA_LIMIT(1, INT_MAX),
				      &dslab_ctl_next_handle, GFP_KERNEL);
		if (ret < 0) {
			dslab_ctl_destroy(h);
			goto err_unmake;
		}
		dslab_ctl_nr_handles++;
	}
	dslab_ctl_res_ids(ctx, "handles", ids, count);
	kfree(ids);
	return 0;

err_unmake:
	dslab_ctl_unmake(ids, n);
	kfree(ids);
err_nomem:
	dslab_ctl_res(ctx, "out of memory");
	return -ENOMEM;
}

/* === Commands === */

/* alloc, alloc_account and alloc_atomic <size> [count] */
static int dslab_ctl_alloc(struct dslab_ctl_ctx *ctx, gfp_t gfp)
{
	u32 size, count;
	int ret;

	ret = dslab_ctl_u32(ctx, ctx->argv[1], "size", 1, DSLAB_CTL_MAX_SIZE,
			    &size);
	if (ret)
		return ret;
	ret = dslab_ctl_count_arg(ctx, 2, DSLAB_CTL_MAX_COUNT, &count);
	if (ret)
		return ret;
	if ((u64)size * count > DSLAB_CTL_MAX_BYTES) {
		dslab_ctl_res(ctx, "more than %u bytes in one command",
			      DSLAB_CTL_MAX_BYTES);
		return -ERANGE;
	}
	return dslab_ctl_make(ctx, size, NULL, count, gfp);
}

static int dslab_ctl_cmd_alloc(struct dslab_ctl_ctx *ctx)
{
	return dslab_ctl_alloc(ctx, GFP_KERNEL);
}

/*
 * Charged to the writer's memory cgroup; at its limit the command fails
 * with -ENOMEM rather than wake the cgroup's OOM killer.
 */
static int dslab_ctl_cmd_alloc_account(struct dslab_ctl_ctx *ctx)
{
	return dslab_ctl_alloc(ctx, GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL);
}

/*
 * Without __GFP_DIRECT_RECLAIM, the allocation keeps to its fast path
 * (where no kernel hook sends it to the slow one), as the tracepoint
 * test needs.
 */
static int dslab_ctl_cmd_alloc_atomic(struct dslab_ctl_ctx *ctx)
{
	return dslab_ctl_alloc(ctx, GFP_ATOMIC);
}

/* new <type> [count] */
static int dslab_ctl_cmd_new(struct dslab_ctl_ctx *ctx)
{
	const struct dslab_ctl_type *type;
	u32 count;
	int ret;

	type = dslab_ctl_find(dslab_ctl_types, ctx->argv[1]);
	if (!type) {
		dslab_ctl_res(ctx, "unknown type '%.24s'", ctx->argv[1]);
		return -EINVAL;
	}
	ret = dslab_ctl_count_arg(ctx, 2, DSLAB_CTL_MAX_COUNT, &count);
	if (ret)
		return ret;
	return dslab_ctl_make(ctx, type->type->size, type, count, GFP_KERNEL);
}

/* Parse "<h>" or "<h1>-<h2>" into an inclusive range. */
static int dslab_ctl_range(struct dslab_ctl_ctx *ctx, char *s, u32 *first,
			   u32 *last)
{
	char *dash = strchr(s, '-');
	int ret;

	if (dash)
		*dash = '\0';
	ret = dslab_ctl_u32(ctx, s, "handle", 1, INT_MAX, first);
	if (ret)
		return ret;
	*last = *first;
	if (!dash)
		return 0;
	ret = dslab_ctl_u32(ctx, dash + 1, "handle", 1, INT_MAX, last);
	if (ret)
		return ret;
	if (*last < *first) {
		dslab_ctl_res(ctx, "empty range %u-%u", *first, *last);
		return -EINVAL;
	}
	return 0;
}

/* free <h> | <h1>-<h2> | all */
static int dslab_ctl_cmd_free(struct dslab_ctl_ctx *ctx)
{
	struct dslab_ctl_handle *h;
	unsigned long id;
	u32 first, last, n = 0;
	int ret;

	if (!strcmp(ctx->argv[1], "all")) {
		first = 1;
		last = INT_MAX;
	} else {
		ret = dslab_ctl_range(ctx, ctx->argv[1], &first, &last);
		if (ret)
			return ret;
		/* All or nothing: every handle in the range must exist. */
		xa_for_each_range(&dslab_ctl_handles, id, h, first, last)
			n++;
		if (n != last - first + 1) {
			dslab_ctl_res(ctx, "%u of %u handles in %u-%u missing",
				      last - first + 1 - n, last - first + 1,
				      first, last);
			return -ENOENT;
		}
		n = 0;
	}
	xa_for_each_range(&dslab_ctl_handles, id, h, first, last) {
		dslab_ctl_unlink(id);
		dslab_ctl_destroy(h);
		n++;
	}
	dslab_ctl_res(ctx, "freed %u", n);
	return 0;
}

/* free_rcu <h> */
static int dslab_ctl_cmd_free_rcu(struct dslab_ctl_ctx *ctx)
{
	struct dslab_ctl_handle *h;
	int ret;
	u32 id;

	h = dslab_ctl_lookup(ctx, ctx->argv[1], &id, &ret);
	if (!h)
		return ret;
	dslab_ctl_unlink(id);
	dslab_free_rcu(h->obj);
	kfree(h);
	dslab_ctl_res(ctx, "freed %u rcu", id);
	return 0;
}

/* dtor <h> count|sleep <ms>|realloc|free <h2>|point|shape|clear */
static int dslab_ctl_cmd_dtor(struct dslab_ctl_ctx *ctx)
{
	const struct dslab_ctl_dtor_info *info;
	struct dslab_ctl_rec *rec = NULL, *old;
	struct dslab_ctl_handle *h;
	enum dslab_ctl_dtor_kind kind;
	u32 id, arg = 0, id2;
	bool got_arg;
	int ret;

	h = dslab_ctl_lookup(ctx, ctx->argv[1], &id, &ret);
	if (!h)
		return ret;
	info = dslab_ctl_find(dslab_ctl_dtors, ctx->argv[2]);
	if (!info) {
		dslab_ctl_res(ctx, "unknown destructor '%.24s'", ctx->argv[2]);
		return -EINVAL;
	}
	kind = info - dslab_ctl_dtors;
	got_arg = ctx->argc > 3;
	if (info->has_arg != got_arg) {
		dslab_ctl_res(ctx, "destructor %s takes %s argument",
			      info->name, info->has_arg ? "one" : "no");
		return -EINVAL;
	}
	if (kind == DSLAB_CTL_DTOR_SLEEP) {
		ret = dslab_ctl_u32(ctx, ctx->argv[3], "ms", 0,
				    DSLAB_CTL_MAX_SLEEP_MS, &arg);
		if (ret)
			return ret;
	} else if (kind == DSLAB_CTL_DTOR_FREE) {
		if (!dslab_ctl_lookup(ctx, ctx->argv[3], &id2, &ret))
			return ret;
		if (id2 == id) {
			dslab_ctl_res(ctx, "handle %u cannot free itself", id);
			return -EINVAL;
		}
		arg = id2;
	}
	if (info->has_arg) {
		rec = kmalloc(sizeof(*rec), GFP_KERNEL);
		if (!rec) {
			dslab_ctl_res(ctx, "out of memory");
			return -ENOMEM;
		}
		rec->obj = h->obj;
		rec->arg = arg;
	}

	ret = dslab_set_destructor(h->obj, info->dtor);
	if (ret) {
		kfree(rec);
		dslab_ctl_res(ctx, "dslab_set_destructor refused %s on %u",
			      info->name, id);
		return ret;
	}
	/* The object is live and we hold the mutex: its destructor cannot run. */
	old = dslab_ctl_rec_take(h->obj);
	kfree(old);
	if (rec)
		dslab_ctl_rec_insert(rec);
	h->dtor = kind;
	h->dtor_arg = arg;
	dslab_ctl_res(ctx, "dtor %u %s", id, info->name);
	return 0;
}

/* cleanup <h> [count] */
static int dslab_ctl_cmd_cleanup(struct dslab_ctl_ctx *ctx)
{
	struct dslab_ctl_cleanup *c;
	struct dslab_ctl_handle *h;
	u32 id, count, *ids, n;
	int ret;

	h = dslab_ctl_lookup(ctx, ctx->argv[1], &id, &ret);
	if (!h)
		return ret;
	ret = dslab_ctl_count_arg(ctx, 2, DSLAB_CTL_MAX_CLEANUPS, &count);
	if (ret)
		return ret;
	ids = kmalloc_array(count, sizeof(*ids), GFP_KERNEL);
	if (!ids)
		goto err_nomem;

	for (n = 0; n < count; n++) {
		struct dslab_cleanup *dc;

		c = kzalloc(sizeof(*c), GFP_KERNEL);
		if (!c)
			goto err_cancel;
		c->handle = id;
		/*
		 * The id is stored before the cleanup exists; it cannot run
		 * early, the object is live and freeing it needs the mutex.
		 */
		ret = xa_alloc_cyclic(&dslab_ctl_cleanups, &ids[n], c,
				      XA_LIMIT(1, INT_MAX),
				      &dslab_ctl_next_cleanup, GFP_KERNEL);
		if (ret < 0) {
			kfree(c);
			goto err_cancel;
		}
		dc = dslab_add_cleanup(h->obj, dslab_ctl_cleanup_fn,
				       (void *)(unsigned long)ids[n],
				       GFP_KERNEL);
		if (IS_ERR_OR_NULL(dc)) {
			ret = dc ? PTR_ERR(dc) : -ENOMEM;
			xa_erase(&dslab_ctl_cleanups, ids[n]);
			kfree(c);
			goto err_cancel_ret;
		}
		c->cleanup = dc;
	}
	h->ncleanups += count;
	dslab_ctl_res_ids(ctx, "cleanups", ids, count);
	kfree(ids);
	return 0;

err_cancel:
	ret = -ENOMEM;
err_cancel_ret:
	while (n--) {
		c = xa_erase(&dslab_ctl_cleanups, ids[n]);
		dslab_cleanup_cancel(c->cleanup);
		kfree(c);
	}
	kfree(ids);
	dslab_ctl_res(ctx, "dslab_add_cleanup failed on %u", id);
	return ret;
err_nomem:
	dslab_ctl_res(ctx, "out of memory");
	return -ENOMEM;
}

/* cancel <cleanup-id> */
static int dslab_ctl_cmd_cancel(struct dslab_ctl_ctx *ctx)
{
	struct dslab_ctl_cleanup *c;
	struct dslab_ctl_handle *h;
	u32 cid;
	int ret;

	ret = dslab_ctl_u32(ctx, ctx->argv[1], "cleanup id", 1, INT_MAX, &cid);
	if (ret)
		return ret;
	/* Erasing the id claims the entry against the cleanup running. */
	c = xa_erase(&dslab_ctl_cleanups, cid);
	if (!c) {
		dslab_ctl_res(ctx, "no cleanup %u", cid);
		return -ENOENT;
	}
	dslab_cleanup_cancel(c->cleanup);
	h = xa_load(&dslab_ctl_handles, c->handle);
	if (h && h->ncleanups)
		h->ncleanups--;
	kfree(c);
	dslab_ctl_res(ctx, "cancelled %u", cid);
	return 0;
}

/* barrier: wait until every queued destructor and cleanup has run */
static int dslab_ctl_cmd_barrier(struct dslab_ctl_ctx *ctx)
{
	dslab_dtor_barrier();
	dslab_ctl_res(ctx, "barrier");
	return 0;
}

/* shrink: drain per-CPU caches, free empty spans */
static int dslab_ctl_cmd_shrink(struct dslab_ctl_ctx *ctx)
{
	unsigned long pages = dslab_shrink();

	dslab_ctl_res(ctx, "shrink pages %lu", pages);
	return 0;
}

/*
 * Debug mode's checks, set off on purpose (dslab loaded with debug=1;
 * refused otherwise, when nothing would catch the damage).  Test use
 * only, as lib/test_kasan.c's cases: they corrupt dslab memory.
 */
static int dslab_ctl_debug_only(struct dslab_ctl_ctx *ctx, u32 *size)
{
	if (!READ_ONCE(dslab_debug)) {
		dslab_ctl_res(ctx, "%s needs dslab's debug mode (debug=1)",
			      ctx->argv[0]);
		return -EPERM;
	}
	/* Large objects get no poison and no red zone. */
	return dslab_ctl_u32(ctx, ctx->argv[1], "size", 1,
			     DSLAB_MAX_SMALL_SIZE / 2, size);
}

/*
 * uaf <size> <offset>: allocate an object, free it, write one byte at
 * @offset of the freed object, and allocate again with migration
 * disabled: this CPU's magazine gives the same object back, and debug
 * mode finds its poison broken.  "ok uaf same" when it did.
 */
static int dslab_ctl_cmd_uaf(struct dslab_ctl_ctx *ctx)
{
	u32 size, off;
	u8 *obj, *again;
	int ret;

	ret = dslab_ctl_debug_only(ctx, &size);
	if (ret)
		return ret;
	/* The first word of a free object holds a link: not poisoned. */
	ret = dslab_ctl_u32(ctx, ctx->argv[2], "offset", sizeof(void *),
			    size - 1, &off);
	if (ret)
		return ret;
	migrate_disable();
	obj = dslab_alloc(size, GFP_KERNEL);
	if (obj) {
		dslab_free(obj);
		/* Debug mode's check is the one under test, not KASAN's. */
		kasan_disable_current();
		obj[off] ^= 0xff;	/* the use after free */
		kasan_enable_current();
	}
	again = obj ? dslab_alloc(size, GFP_KERNEL) : NULL;
	migrate_enable();
	if (!again) {
		dslab_ctl_res(ctx, "out of memory");
		return -ENOMEM;
	}
	dslab_free(again);
	dslab_ctl_res(ctx, "uaf %s", again == obj ? "same" : "other");
	return 0;
}

/*
 * redzone <size>: allocate an object, write the first byte of its red
 * zone (the byte after dslab_ksize()), free it: debug mode's check at
 * free finds the damage.  "ok redzone offset N".
 */
static int dslab_ctl_cmd_redzone(struct dslab_ctl_ctx *ctx)
{
	size_t usable;
	u32 size;
	u8 *obj;
	int ret;

	ret = dslab_ctl_debug_only(ctx, &size);
	if (ret)
		return ret;
	obj = dslab_alloc(size, GFP_KERNEL);
	if (!obj) {
		dslab_ctl_res(ctx, "out of memory");
		return -ENOMEM;
	}
	usable = dslab_ksize(obj);
	kasan_disable_current();	/* as in uaf */
	obj[usable] ^= 0xff;		/* the overflow */
	kasan_enable_current();
	dslab_free(obj);
	dslab_ctl_res(ctx, "redzone offset %zu", usable);
	return 0;
}

/*
 * dfree <size>: allocate an object and free it twice.  dslab refuses and
 * reports the second free (with the object's stacks in debug mode);
 * "ok dfree" when it was counted as a double free.
 */
static int dslab_ctl_cmd_dfree(struct dslab_ctl_ctx *ctx)
{
	u64 before = dslab_stat_read(DSLAB_STAT_DOUBLE_FREE);
	u32 size;
	void *obj;
	int ret;

	ret = dslab_ctl_debug_only(ctx, &size);
	if (ret)
		return ret;
	/* Keep this CPU's magazine from handing the object out in between. */
	migrate_disable();
	obj = dslab_alloc(size, GFP_KERNEL);
	if (obj) {
		dslab_free(obj);
		dslab_free(obj);	/* the double free */
	}
	migrate_enable();
	if (!obj) {
		dslab_ctl_res(ctx, "out of memory");
		return -ENOMEM;
	}
	if (dslab_stat_read(DSLAB_STAT_DOUBLE_FREE) == before) {
		dslab_ctl_res(ctx, "dfree not counted");
		return -EIO;
	}
	dslab_ctl_res(ctx, "dfree");
	return 0;
}

/* reset: zero the event counters (dslab's and the ctl_* ones) */
static int dslab_ctl_cmd_reset(struct dslab_ctl_ctx *ctx)
{
	unsigned int i;

	dslab_stats_reset();
	for (i = 0; i < DSLAB_CTL_NR_COUNTERS; i++)
		atomic_long_set(&dslab_ctl_counters[i], 0);
	dslab_ctl_res(ctx, "reset");
	return 0;
}

static const struct dslab_ctl_cmd {
	const char *name;
	int min_args, max_args;		/* words after the command */
	bool locked;			/* runs under dslab_ctl_mutex */
	int (*fn)(struct dslab_ctl_ctx *ctx);
} dslab_ctl_cmds[] = {
	{ "alloc",	1, 2, true,  dslab_ctl_cmd_alloc },
	{ "alloc_account", 1, 2, true, dslab_ctl_cmd_alloc_account },
	{ "alloc_atomic", 1, 2, true, dslab_ctl_cmd_alloc_atomic },
	{ "new",	1, 2, true,  dslab_ctl_cmd_new },
	{ "free",	1, 1, true,  dslab_ctl_cmd_free },
	{ "free_rcu",	1, 1, true,  dslab_ctl_cmd_free_rcu },
	{ "dtor",	2, 3, true,  dslab_ctl_cmd_dtor },
	{ "cleanup",	1, 2, true,  dslab_ctl_cmd_cleanup },
	{ "cancel",	1, 1, true,  dslab_ctl_cmd_cancel },
	{ "uaf",	2, 2, true,  dslab_ctl_cmd_uaf },
	{ "redzone",	1, 1, true,  dslab_ctl_cmd_redzone },
	{ "dfree",	1, 1, true,  dslab_ctl_cmd_dfree },
	/* Never under the mutex: see the "free <h2>" destructor. */
	{ "barrier",	0, 0, false, dslab_ctl_cmd_barrier },
	{ "shrink",	0, 0, false, dslab_ctl_cmd_shrink },
	{ "reset",	0, 0, false, dslab_ctl_cmd_reset },
};

/* === Parsing and dispatch === */

static void dslab_ctl_set_last(int ret, const char *res)
{
	lockdep_assert_held(&dslab_ctl_mutex);
	if (ret)
		scnprintf(dslab_ctl_last_buf, sizeof(dslab_ctl_last_buf),
			  "error %d %s", ret, res);
	else
		scnprintf(dslab_ctl_last_buf, sizeof(dslab_ctl_last_buf),
			  "ok %s", res);
}

/* Split @line (NUL-terminated, printable) into ctx->argv. */
static int dslab_ctl_split(struct dslab_ctl_ctx *ctx, char *line)
{
	char *word;

	ctx->argc = 0;
	while ((word = strsep(&line, " \t"))) {
		if (!*word)
			continue;
		if (ctx->argc == DSLAB_CTL_MAX_ARGS) {
			dslab_ctl_res(ctx, "too many arguments");
			return -EINVAL;
		}
		ctx->argv[ctx->argc++] = word;
	}
	if (!ctx->argc) {
		dslab_ctl_res(ctx, "empty command");
		return -EINVAL;
	}
	return 0;
}

static int dslab_ctl_parse(struct dslab_ctl_ctx *ctx, char *line,
			   size_t len, const struct dslab_ctl_cmd **cmdp)
{
	const struct dslab_ctl_cmd *cmd;
	unsigned int i;
	int ret, nargs;

	if (len > DSLAB_CTL_LINE_MAX) {
		dslab_ctl_res(ctx, "command longer than %d bytes",
			      DSLAB_CTL_LINE_MAX);
		return -E2BIG;
	}
	if (memchr(line, '\0', len)) {
		dslab_ctl_res(ctx, "NUL byte in command");
		return -EINVAL;
	}
	if (len && line[len - 1] == '\n')
		len--;
	line[len] = '\0';
	for (i = 0; i < len; i++) {
		if (!isprint(line[i]) && line[i] != '\t') {
			dslab_ctl_res(ctx, "control character in command");
			return -EINVAL;
		}
	}
	ret = dslab_ctl_split(ctx, line);
	if (ret)
		return ret;

	cmd = dslab_ctl_find(dslab_ctl_cmds, ctx->argv[0]);
	if (!cmd) {
		dslab_ctl_res(ctx, "unknown command '%.24s'", ctx->argv[0]);
		return -EINVAL;
	}
	nargs = ctx->argc - 1;
	if (nargs < cmd->min_args || nargs > cmd->max_args) {
		dslab_ctl_res(ctx, "%s takes %d to %d arguments, got %d",
			      cmd->name, cmd->min_args, cmd->max_args, nargs);
		return -EINVAL;
	}
	*cmdp = cmd;
	return 0;
}

/*
 * Run one `control` command, what a write does: @line holds @len bytes
 * and room for a NUL after them (memdup_user_nul()), or is NULL when
 * @len is over DSLAB_CTL_LINE_MAX, which is refused unread.  The result
 * is kept for `last`.  Not from a dslab destructor or cleanup (barrier
 * would wait for itself).
 *
 * Returns 0; -E2BIG for an overlong command, -EINVAL for bad syntax,
 * -ERANGE for a number out of range, -ENOENT for an unknown handle or
 * cleanup id, -ENOMEM, -ENOSPC (too many handles), -EINTR if killed while
 * waiting for another writer, or what dslab refused with.
 */
static int dslab_ctl_exec(char *line, size_t len)
{
	const struct dslab_ctl_cmd *cmd = NULL;
	struct dslab_ctl_ctx *ctx;
	int ret;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ret = dslab_ctl_parse(ctx, line, len, &cmd);

	if (!ret && !cmd->locked)
		ret = cmd->fn(ctx);
	if (mutex_lock_killable(&dslab_ctl_mutex)) {
		ret = -EINTR;
		goto out_free;
	}
	if (!ret && cmd->locked)
		ret = cmd->fn(ctx);
	dslab_ctl_set_last(ret, ctx->res);
	mutex_unlock(&dslab_ctl_mutex);
out_free:
	kfree(ctx);
	return ret;
}

/* === debugfs files === */

static ssize_t dslab_ctl_write(struct file *file, const char __user *ubuf,
			       size_t count, loff_t *ppos)
{
	char *line = NULL;
	int ret;

	/* An overlong command is refused, and recorded, without a copy. */
	if (count <= DSLAB_CTL_LINE_MAX) {
		line = memdup_user_nul(ubuf, count);
		if (IS_ERR(line))
			return PTR_ERR(line);
	}
	ret = dslab_ctl_exec(line, count);
	kfree(line);
	return ret ? ret : count;
}

static int dslab_ctl_last_show(struct seq_file *m, void *v)
{
	if (mutex_lock_killable(&dslab_ctl_mutex))
		return -EINTR;
	seq_printf(m, "%s\n", dslab_ctl_last_buf);
	mutex_unlock(&dslab_ctl_mutex);
	return 0;
}

DEFINE_SHOW_ATTRIBUTE(dslab_ctl_last);

static int dslab_ctl_handles_show(struct seq_file *m, void *v)
{
	struct dslab_ctl_handle *h;
	unsigned long id;

	if (mutex_lock_killable(&dslab_ctl_mutex))
		return -EINTR;
	seq_puts(m, "handle size type dtor cleanups\n");
	xa_for_each(&dslab_ctl_handles, id, h) {
		seq_printf(m, "%lu %zu %s ", id, h->size,
			   h->type ? h->type->name : "-");
		if (h->dtor == DSLAB_CTL_DTOR_NONE)
			seq_puts(m, "-");
		else if (dslab_ctl_dtors[h->dtor].has_arg)
			seq_printf(m, "%s:%u", dslab_ctl_dtors[h->dtor].name,
				   h->dtor_arg);
		else
			seq_puts(m, dslab_ctl_dtors[h->dtor].name);
		seq_printf(m, " %u\n", h->ncleanups);
	}
	mutex_unlock(&dslab_ctl_mutex);
	return 0;
}

DEFINE_SHOW_ATTRIBUTE(dslab_ctl_handles);

static int dslab_ctl_stats_show(struct seq_file *m, void *v)
{
	unsigned int i;

	/* A snapshot; writers change it under dslab_ctl_mutex. */
	seq_printf(m, "ctl_handles %u\n", data_race(dslab_ctl_nr_handles));
	for (i = 0; i < DSLAB_CTL_NR_COUNTERS; i++)
		seq_printf(m, "%s %ld\n", dslab_ctl_counter_names[i],
			   atomic_long_read(&dslab_ctl_counters[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dslab_ctl_stats);

static const struct file_operations dslab_ctl_control_fops = {
	.owner		= THIS_MODULE,
	.open		= nonseekable_open,
	.write		= dslab_ctl_write,
};

/* === Init and exit === */

static struct dentry *dslab_ctl_dir;

static bool selftest_warn;
module_param(selftest_warn, bool, 0444);
MODULE_PARM_DESC(selftest_warn, "Harness self-test only: WARN once at load so make check must turn red");

static bool selftest_uaf;
module_param(selftest_uaf, bool, 0444);
MODULE_PARM_DESC(selftest_uaf, "Harness self-test only: read a freed dslab object at load, for KASAN to report");

/*
 * The KASAN control: a read of a freed dslab object.  Its memory stays
 * mapped (dslab keeps the span), so only KASAN's shadow can see it.
 */
static void dslab_ctl_selftest_uaf(void)
{
	u8 *obj = dslab_alloc(64, GFP_KERNEL);

	if (!obj)
		return;
	dslab_free(obj);
	OPTIMIZER_HIDE_VAR(obj);
	pr_info("selftest_uaf set: read %#x from a freed object\n",
		READ_ONCE(obj[8]));
}

static int __init dslab_ctl_init(void)
{
	struct dentry *dir = debugfs_create_dir(KBUILD_MODNAME, NULL);

	if (IS_ERR_OR_NULL(dir))
		return dir ? PTR_ERR(dir) : -ENODEV;
	debugfs_create_file("control", 0200, dir, NULL, &dslab_ctl_control_fops);
	debugfs_create_file("last", 0444, dir, NULL, &dslab_ctl_last_fops);
	debugfs_create_file("handles", 0444, dir, NULL, &dslab_ctl_handles_fops);
	debugfs_create_file("stats", 0444, dir, NULL, &dslab_ctl_stats_fops);
	dslab_ctl_dir = dir;
	WARN(selftest_warn, "dslab_ctl: selftest_warn set: deliberate warning for the harness self-test\n");
	if (selftest_uaf)
		dslab_ctl_selftest_uaf();
	return 0;
}

/*
 * Free everything `control` still holds.  The debugfs files go first
 * (debugfs_remove_recursive() waits for writers in them), so no command
 * runs concurrently.  Frees every object still named by a handle (which may
 * queue destructors), waits for those destructors, then frees what they
 * did not consume: destructor records and cleanup ids whose cleanups ran
 * or were dropped.
 */
static void __exit dslab_ctl_exit(void)
{
	struct dslab_ctl_cleanup *c;
	struct dslab_ctl_handle *h;
	struct dslab_ctl_rec *rec;
	struct hlist_node *tmp;
	unsigned long id;
	unsigned int bkt;
	u32 n = 0;

	debugfs_remove_recursive(dslab_ctl_dir);
	mutex_lock(&dslab_ctl_mutex);
	xa_for_each(&dslab_ctl_handles, id, h) {
		dslab_ctl_unlink(id);
		dslab_ctl_destroy(h);
		n++;
	}
	mutex_unlock(&dslab_ctl_mutex);
	if (n)
		pr_info("freed %u objects still held through control\n", n);

	/* Their destructors take records and cleanup ids; let them run. */
	dslab_dtor_barrier();

	xa_for_each(&dslab_ctl_cleanups, id, c) {
		xa_erase(&dslab_ctl_cleanups, id);
		kfree(c);
	}
	spin_lock(&dslab_ctl_rec_lock);
	hash_for_each_safe(dslab_ctl_recs, bkt, tmp, rec, node) {
		hash_del(&rec->node);
		kfree(rec);
	}
	spin_unlock(&dslab_ctl_rec_lock);
}

module_init(dslab_ctl_init);
module_exit(dslab_ctl_exit);
MODULE_DESCRIPTION("dslab's debugfs command language, for the shell tests");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(DSLAB_NS);
