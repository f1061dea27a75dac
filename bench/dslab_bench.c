// SPDX-License-Identifier: GPL-2.0
/*
 * dslab_bench - dslab measured next to the kernel's own allocators and
 * deferred-free paths, in the same boot.
 *
 * Each benchmark is a group of implementations of one operation: dslab
 * and its anchors (kmem_cache_alloc() on a dedicated cache, kmalloc(),
 * SLUB's ksize(), queue_work(), call_rcu(), kfree_rcu()).  A group is run
 * as: set-up, one warm-up run of every implementation, calibration of the
 * iteration count on the anchor so one timed run lasts target_us, then
 * "rounds" rounds in which every implementation runs once, interleaved
 * A B C A B C.  Per implementation the median, minimum and maximum time
 * per operation over the rounds are reported, with the ratio of its
 * median to the median of every other implementation of the group.
 *
 * Timed loops of the micro-benchmarks run with preemption disabled, so
 * they allocate with GFP_NOWAIT, dslab and anchors alike (on PREEMPT_RT,
 * which allows no allocation with preemption off, with migration
 * disabled: dslab_bench_pin()).  The end-to-end
 * destructor benchmark sleeps (barriers) and runs with preemption
 * enabled; each result line says which ("timing").
 *
 * remote_free times frees of objects allocated on a CPU of another memory
 * node (dslab's remote free next to SLUB's), its two halves on two CPUs
 * by work_on_cpu().  Where no two online CPUs are on different nodes
 * it runs nothing and its result is a line with "skipped": "needs two
 * NUMA nodes" instead of times; "make bench" boots a second time with
 * numa=fake=2 for it (bench/run.sh).
 *
 * account times the alloc+free pair with __GFP_ACCOUNT, charged to the
 * memory cgroup the module was loaded from (set_active_memcg()), next to
 * a SLAB_ACCOUNT kmem_cache.  Loaded from the root cgroup, or on a kernel
 * without CONFIG_MEMCG, it is skipped; "make bench" with
 * DSLAB_BENCH_MEMCG=1 builds the kernel with it and loads the module from
 * a cgroup.
 *
 * Interface (debugfs, /sys/kernel/debug/dslab_bench/):
 *   run      write "<benchmark> [key=value]...": runs it, returns when
 *            done (EINVAL: bad command, EBUSY: one already running,
 *            EIO: a benchmark's own check failed).
 *   results  one JSON object per line and measurement (or skipped
 *            benchmark) since load or the last "reset" written to run.
 *   info     key=value lines describing the kernel and the parameters.
 * Module parameters: quick=1 (short run for "make bench" smoke use),
 * smoke=1 (tiny run of every benchmark at load; load fails if one fails:
 * what "make check" uses).
 *
 * Documentation/benchmarks.rst describes every benchmark, the method and
 * how to read the results.
 */
#define pr_fmt(fmt) "dslab: bench: " fmt

#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/math64.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/topology.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#include <linux/vmstat.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <linux/dslab.h>
#include "dslab.h"

/*
 * Timed loops stay on one CPU, unpreempted.  PREEMPT_RT allows neither
 * dslab nor kmalloc with preemption off: there they only stay on one CPU.
 */
#ifndef CONFIG_PREEMPT_RT
#define dslab_bench_pin()	preempt_disable()
#define dslab_bench_unpin()	preempt_enable()
#define DSLAB_BENCH_PINNED	"preempt_disabled"
#else
#define dslab_bench_pin()	migrate_disable()
#define dslab_bench_unpin()	migrate_enable()
#define DSLAB_BENCH_PINNED	"migrate_disabled"
#endif

/* === Data === */

#define DSLAB_BENCH_MAX_ROUNDS	31
#define DSLAB_BENCH_MAX_IMPLS	6
#define DSLAB_BENCH_MAX_CMD	256
#define DSLAB_BENCH_FIND_OBJS	4096	/* live objects per side, power of 2 */
#define DSLAB_BENCH_FREE_BATCH	1024	/* dtor_free: objects per timed batch */
#define DSLAB_BENCH_MAX_BATCH	128	/* bulk n, parallel batch */
#define DSLAB_BENCH_E2E_MAX	1000000
#define DSLAB_BENCH_MEM_MAX	1000000

static bool dslab_bench_quick;
module_param_named(quick, dslab_bench_quick, bool, 0444);
MODULE_PARM_DESC(quick, "Short rounds and counts (make bench with DSLAB_BENCH_QUICK=1)");

static bool dslab_bench_smoke;
module_param_named(smoke, dslab_bench_smoke, bool, 0444);
MODULE_PARM_DESC(smoke, "Run every benchmark once with tiny counts at load; fail the load on error (make check)");

/* Parameters of one run, from the mode's defaults and the command. */
struct dslab_bench_params {
	unsigned int size;	/* object size */
	unsigned int n;		/* bulk count, e2e or memory objects */
	unsigned int batch;	/* parallel: allocations before the frees */
	unsigned int rounds;
	unsigned int target_us;	/* length of one timed run */
};

/* State shared by a group's implementations; set up once per group. */
struct dslab_bench_ctx {
	struct dslab_bench_params p;
	unsigned int ops_per_iter;	/* operations one iteration does */
	struct kmem_cache *cache;	/* dedicated cache of p.size */
	char cache_name[32];
	void **objs;			/* dslab objects or scratch */
	void **objs2;			/* kmalloc objects (find) */
	void **inner;			/* find: a pointer inside each of objs */
	unsigned int nobjs;
	size_t usable, usable2;		/* find: dslab_ksize(), ksize() */
	unsigned long dtors_expected;	/* dtor_free: destructors to run */
	int alloc_cpu, free_cpu;	/* remote_free: on two nodes */
	const char *skipped;		/* why setup found nothing to run */
};

struct dslab_bench_impl {
	const char *name;
	/* Run @iters iterations; *ns is the time measured. */
	int (*run)(struct dslab_bench_ctx *ctx, unsigned long iters, u64 *ns);
};

struct dslab_bench_def {
	const char *name;
	const struct dslab_bench_impl *impls;
	unsigned int nr_impls;
	unsigned int anchor;		/* index into impls */
	bool preempt_on;		/* timed part runs preemptible */
	bool fixed_iters;		/* iterations = p.n, no calibration */
	bool per_cpu;			/* runs on every online CPU at once */
	bool check_dtors;		/* every destructor set must have run */
	bool uses_n;			/* p.n is a parameter of the benchmark */
	bool two_nodes;			/* runs on CPUs of two nodes */
	int (*setup)(struct dslab_bench_ctx *ctx);
	void (*teardown)(struct dslab_bench_ctx *ctx);
};

/* Result lines; M: dslab_bench_mutex. */
struct dslab_bench_line {
	struct list_head list;
	char text[];
};

static DEFINE_MUTEX(dslab_bench_mutex);
static LIST_HEAD(dslab_bench_lines);		/* M */
static unsigned int dslab_bench_nr_lines;	/* M */
static struct dentry *dslab_bench_dir;
static u64 dslab_bench_clock_res;		/* ns; set at load */

/* Destructor and deferred-callback counters; one benchmark at a time. */
static atomic_long_t dslab_bench_done_count;
static unsigned long dslab_bench_done_target;
static DECLARE_COMPLETION(dslab_bench_done);

/* === Internals: helpers === */

/* Deterministic xorshift32: the same sequence on every kernel. */
static u32 dslab_bench_rand(u32 *state)
{
	u32 x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

static void dslab_bench_shuffle(void **a, unsigned int n, u32 seed)
{
	unsigned int i, j;

	for (i = n - 1; i > 0; i--) {
		j = dslab_bench_rand(&seed) % (i + 1);
		swap(a[i], a[j]);
	}
}

static int dslab_bench_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * A result line is one JSON object, built member by member.  Numbers
 * with a fractional part are carried as thousandths (u64) and printed
 * with three decimals.
 */
struct dslab_bench_json {
	char buf[768];
	unsigned int len;
	bool more;			/* a member precedes in this object */
};

static void __printf(2, 3) dslab_bench_jadd(struct dslab_bench_json *j,
					    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	j->len += vscnprintf(j->buf + j->len, sizeof(j->buf) - j->len, fmt, ap);
	va_end(ap);
}

static void dslab_bench_jkey(struct dslab_bench_json *j, const char *key)
{
	dslab_bench_jadd(j, "%s\"%s\":", j->more ? "," : "", key);
	j->more = true;
}

static void dslab_bench_jstr(struct dslab_bench_json *j, const char *key,
			     const char *val)
{
	dslab_bench_jkey(j, key);
	dslab_bench_jadd(j, "\"%s\"", val);
}

static void dslab_bench_juint(struct dslab_bench_json *j, const char *key,
			      u64 val)
{
	dslab_bench_jkey(j, key);
	dslab_bench_jadd(j, "%llu", val);
}

/* @milli thousandths, printed as a decimal number */
static void dslab_bench_jfix(struct dslab_bench_json *j, const char *key,
			     u64 milli)
{
	u32 frac;
	u64 whole = div_u64_rem(milli, 1000, &frac);

	dslab_bench_jkey(j, key);
	dslab_bench_jadd(j, "%llu.%03u", whole, frac);
}

static void dslab_bench_jopen(struct dslab_bench_json *j, const char *key)
{
	if (key)
		dslab_bench_jkey(j, key);
	dslab_bench_jadd(j, "{");
	j->more = false;
}

static void dslab_bench_jclose(struct dslab_bench_json *j)
{
	dslab_bench_jadd(j, "}");
	j->more = true;
}

/* Append the finished object to the results. */
static int dslab_bench_emit(const struct dslab_bench_json *j)
{
	struct dslab_bench_line *line;

	lockdep_assert_held(&dslab_bench_mutex);
	if (j->len >= sizeof(j->buf) - 1)
		return -EOVERFLOW;	/* truncated: never emit broken JSON */
	line = kmalloc(sizeof(*line) + j->len + 1, GFP_KERNEL);
	if (!line)
		return -ENOMEM;
	memcpy(line->text, j->buf, j->len + 1);
	list_add_tail(&line->list, &dslab_bench_lines);
	dslab_bench_nr_lines++;
	return 0;
}

static void dslab_bench_reset(void)
{
	struct dslab_bench_line *line, *tmp;

	lockdep_assert_held(&dslab_bench_mutex);
	list_for_each_entry_safe(line, tmp, &dslab_bench_lines, list) {
		list_del(&line->list);
		kfree(line);
	}
	dslab_bench_nr_lines = 0;
}

static int dslab_bench_cache_create(struct dslab_bench_ctx *ctx)
{
	snprintf(ctx->cache_name, sizeof(ctx->cache_name), "dslab_bench_%u",
		 ctx->p.size);
	ctx->cache = kmem_cache_create(ctx->cache_name, ctx->p.size, 0,
				       SLAB_NO_MERGE, NULL);
	return ctx->cache ? 0 : -ENOMEM;
}

static void dslab_bench_cache_destroy(struct dslab_bench_ctx *ctx)
{
	kmem_cache_destroy(ctx->cache);
	ctx->cache = NULL;
}

/* === Benchmark 1: alloc+free pair of one object === */

/* The pair with @gfp; the account benchmark's too (__GFP_ACCOUNT). */
static __always_inline int dslab_bench_pairs(struct dslab_bench_ctx *ctx,
					     unsigned long iters, u64 *ns,
					     gfp_t gfp)
{
	size_t size = ctx->p.size;
	unsigned long i;
	u64 t0, t1;
	void *p;

	dslab_bench_pin();
	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		p = dslab_alloc(size, gfp);
		if (unlikely(!p))
			break;
		OPTIMIZER_HIDE_VAR(p);
		dslab_free(p);
	}
	t1 = ktime_get_ns();
	dslab_bench_unpin();
	*ns = t1 - t0;
	return i == iters ? 0 : -ENOMEM;
}

static int dslab_bench_pair_dslab(struct dslab_bench_ctx *ctx,
				  unsigned long iters, u64 *ns)
{
	return dslab_bench_pairs(ctx, iters, ns, GFP_NOWAIT);
}

/* The account benchmark's too, on a SLAB_ACCOUNT cache. */
static int dslab_bench_pair_cache(struct dslab_bench_ctx *ctx,
				  unsigned long iters, u64 *ns)
{
	struct kmem_cache *s = ctx->cache;
	unsigned long i;
	u64 t0, t1;
	void *p;

	dslab_bench_pin();
	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		p = kmem_cache_alloc(s, GFP_NOWAIT);
		if (unlikely(!p))
			break;
		OPTIMIZER_HIDE_VAR(p);
		kmem_cache_free(s, p);
	}
	t1 = ktime_get_ns();
	dslab_bench_unpin();
	*ns = t1 - t0;
	return i == iters ? 0 : -ENOMEM;
}

static int dslab_bench_pair_kmalloc(struct dslab_bench_ctx *ctx,
				    unsigned long iters, u64 *ns)
{
	size_t size = ctx->p.size;
	unsigned long i;
	u64 t0, t1;
	void *p;

	/* A run-time size, as dslab_alloc() gets: the __kmalloc() path. */
	OPTIMIZER_HIDE_VAR(size);
	dslab_bench_pin();
	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		p = kmalloc(size, GFP_NOWAIT);
		if (unlikely(!p))
			break;
		OPTIMIZER_HIDE_VAR(p);
		kfree(p);
	}
	t1 = ktime_get_ns();
	dslab_bench_unpin();
	*ns = t1 - t0;
	return i == iters ? 0 : -ENOMEM;
}

static int dslab_bench_pair_setup(struct dslab_bench_ctx *ctx)
{
	ctx->ops_per_iter = 1;
	return dslab_bench_cache_create(ctx);
}

static const struct dslab_bench_impl dslab_bench_pair_impls[] = {
	{ "dslab", dslab_bench_pair_dslab },
	{ "kmem_cache", dslab_bench_pair_cache },
	{ "kmalloc", dslab_bench_pair_kmalloc },
};

/* === Benchmark 2: bulk alloc+free === */

static int dslab_bench_bulk_dslab(struct dslab_bench_ctx *ctx,
				  unsigned long iters, u64 *ns)
{
	void *objs[DSLAB_BENCH_MAX_BATCH];
	size_t size = ctx->p.size;
	int n = ctx->p.n;
	unsigned long i;
	u64 t0, t1;

	dslab_bench_pin();
	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		if (unlikely(dslab_alloc_bulk(size, GFP_NOWAIT, n, objs) != n))
			break;
		dslab_free_bulk(n, objs);
	}
	t1 = ktime_get_ns();
	dslab_bench_unpin();
	*ns = t1 - t0;
	return i == iters ? 0 : -ENOMEM;
}

static int dslab_bench_bulk_cache(struct dslab_bench_ctx *ctx,
				  unsigned long iters, u64 *ns)
{
	void *objs[DSLAB_BENCH_MAX_BATCH];
	struct kmem_cache *s = ctx->cache;
	int n = ctx->p.n;
	unsigned long i;
	u64 t0, t1;

	dslab_bench_pin();
	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		/* Returns n or 0 before 7.x, true or false since: both "not 0". */
		if (unlikely(!kmem_cache_alloc_bulk(s, GFP_NOWAIT, n, objs)))
			break;
		kmem_cache_free_bulk(s, n, objs);
	}
	t1 = ktime_get_ns();
	dslab_bench_unpin();
	*ns = t1 - t0;
	return i == iters ? 0 : -ENOMEM;
}

static int dslab_bench_bulk_setup(struct dslab_bench_ctx *ctx)
{
	ctx->ops_per_iter = ctx->p.n;
	return dslab_bench_cache_create(ctx);
}

static const struct dslab_bench_impl dslab_bench_bulk_impls[] = {
	{ "dslab_bulk", dslab_bench_bulk_dslab },
	{ "kmem_cache_bulk", dslab_bench_bulk_cache },
};

/* === Benchmark 3: pointer -> object === */

/*
 * DSLAB_BENCH_FIND_OBJS live objects on each side, visited in a shuffled
 * order: dslab_find_object() from the start and from inside the object,
 * dslab_ksize(), and SLUB's ksize() on kmalloc() objects of the same size.
 * Every timed loop has the same shape (load a pointer, call, add what
 * came back), so the ratios compare the calls; the interior pointers are
 * computed at setup, and the bases found from them checked after the
 * timed loop.
 */
static int dslab_bench_find_dslab(struct dslab_bench_ctx *ctx,
				  unsigned long iters, u64 *ns)
{
	void **objs = ctx->objs;
	unsigned long i, sum = 0;
	size_t sz = 0;
	void *base;
	u64 t0, t1;

	dslab_bench_pin();
	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		if (dslab_find_object(objs[i & (DSLAB_BENCH_FIND_OBJS - 1)],
				      &base, &sz))
			sum += sz;
	}
	t1 = ktime_get_ns();
	dslab_bench_unpin();
	*ns = t1 - t0;
	return sum == iters * ctx->usable ? 0 : -EIO;
}

static int dslab_bench_find_interior(struct dslab_bench_ctx *ctx,
				     unsigned long iters, u64 *ns)
{
	void **inner = ctx->inner;
	unsigned long i, sum = 0;
	size_t sz = 0;
	void *base;
	u64 t0, t1;

	dslab_bench_pin();
	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		if (dslab_find_object(inner[i & (DSLAB_BENCH_FIND_OBJS - 1)],
				      &base, &sz))
			sum += sz;
	}
	t1 = ktime_get_ns();
	dslab_bench_unpin();
	*ns = t1 - t0;
	if (sum != iters * ctx->usable)
		return -EIO;
	/* Untimed: each interior pointer finds its own object. */
	for (i = 0; i < DSLAB_BENCH_FIND_OBJS; i++)
		if (!dslab_find_object(inner[i], &base, NULL) ||
		    base != ctx->objs[i])
			return -EIO;
	return 0;
}

static int dslab_bench_find_dksize(struct dslab_bench_ctx *ctx,
				   unsigned long iters, u64 *ns)
{
	void **objs = ctx->objs;
	unsigned long i, sum = 0;
	u64 t0, t1;

	dslab_bench_pin();
	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++)
		sum += dslab_ksize(objs[i & (DSLAB_BENCH_FIND_OBJS - 1)]);
	t1 = ktime_get_ns();
	dslab_bench_unpin();
	*ns = t1 - t0;
	return sum == iters * ctx->usable ? 0 : -EIO;
}

static int dslab_bench_find_ksize(struct dslab_bench_ctx *ctx,
				  unsigned long iters, u64 *ns)
{
	void **objs = ctx->objs2;
	unsigned long i, sum = 0;
	u64 t0, t1;

	dslab_bench_pin();
	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++)
		sum += ksize(objs[i & (DSLAB_BENCH_FIND_OBJS - 1)]);
	t1 = ktime_get_ns();
	dslab_bench_unpin();
	*ns = t1 - t0;
	return sum == iters * ctx->usable2 ? 0 : -EIO;
}

static void dslab_bench_find_teardown(struct dslab_bench_ctx *ctx)
{
	unsigned int i;

	for (i = 0; i < ctx->nobjs; i++) {
		dslab_free(ctx->objs[i]);
		kfree(ctx->objs2[i]);
	}
	kvfree(ctx->objs);
	kvfree(ctx->objs2);
	kvfree(ctx->inner);
	ctx->objs = NULL;
	ctx->objs2 = NULL;
	ctx->inner = NULL;
	ctx->nobjs = 0;
}

static int dslab_bench_find_setup(struct dslab_bench_ctx *ctx)
{
	unsigned int i;

	ctx->ops_per_iter = 1;
	ctx->objs = kvcalloc(DSLAB_BENCH_FIND_OBJS, sizeof(void *), GFP_KERNEL);
	ctx->objs2 = kvcalloc(DSLAB_BENCH_FIND_OBJS, sizeof(void *), GFP_KERNEL);
	ctx->inner = kvcalloc(DSLAB_BENCH_FIND_OBJS, sizeof(void *), GFP_KERNEL);
	if (!ctx->objs || !ctx->objs2 || !ctx->inner)
		goto err_free;
	for (i = 0; i < DSLAB_BENCH_FIND_OBJS; i++) {
		ctx->objs[i] = dslab_alloc(ctx->p.size, GFP_KERNEL);
		ctx->objs2[i] = kmalloc(ctx->p.size, GFP_KERNEL);
		ctx->nobjs = i + 1;
		if (!ctx->objs[i] || !ctx->objs2[i])
			goto err_free;
	}
	/* Each side's usable size, which the loops check they all report. */
	ctx->usable = dslab_ksize(ctx->objs[0]);
	ctx->usable2 = ksize(ctx->objs2[0]);
	dslab_bench_shuffle(ctx->objs, ctx->nobjs, 0x2545f491);
	dslab_bench_shuffle(ctx->objs2, ctx->nobjs, 0x2545f491);
	/* Offsets 0, 8, 16, ... inside each object, wrapping at its size. */
	for (i = 0; i < DSLAB_BENCH_FIND_OBJS; i++)
		ctx->inner[i] = ctx->objs[i] +
				((i * 8) & (rounddown_pow_of_two(ctx->p.size) - 1));
	return 0;

err_free:
	dslab_bench_find_teardown(ctx);
	return -ENOMEM;
}

static const struct dslab_bench_impl dslab_bench_find_impls[] = {
	{ "dslab_find_object", dslab_bench_find_dslab },
	{ "dslab_find_object_interior", dslab_bench_find_interior },
	{ "dslab_ksize", dslab_bench_find_dksize },
	{ "ksize", dslab_bench_find_ksize },
};

/* === Benchmark 4a: cost of freeing an object with a destructor === */

static void dslab_bench_count_fn(void *obj)
{
	unsigned long n = atomic_long_inc_return(&dslab_bench_done_count);

	if (n == READ_ONCE(dslab_bench_done_target))
		complete(&dslab_bench_done);
}

/* Accepts any object (arg NULL): the benchmark's objects are untyped. */
static const struct dslab_dtor dslab_bench_dtor = {
	.fn = dslab_bench_count_fn,
	.arg = NULL,
};

/* Free @iters objects in timed batches; destructors set beforehand. */
static int dslab_bench_free_batches(struct dslab_bench_ctx *ctx,
				    unsigned long iters, u64 *ns, bool dtor)
{
	unsigned long done = 0;
	unsigned int i, b;
	u64 t0, t1;
	int ret;

	*ns = 0;
	while (done < iters) {
		b = min_t(unsigned long, iters - done, DSLAB_BENCH_FREE_BATCH);
		for (i = 0; i < b; i++) {
			ctx->objs[i] = dslab_alloc(ctx->p.size, GFP_KERNEL);
			if (!ctx->objs[i]) {
				ret = -ENOMEM;
				goto err_free;
			}
			if (!dtor)
				continue;
			ret = dslab_set_destructor(ctx->objs[i], &dslab_bench_dtor);
			if (ret) {
				dslab_free(ctx->objs[i]);
				goto err_free;
			}
		}
		dslab_bench_pin();
		t0 = ktime_get_ns();
		for (i = 0; i < b; i++)
			dslab_free(ctx->objs[i]);
		t1 = ktime_get_ns();
		dslab_bench_unpin();
		*ns += t1 - t0;
		done += b;
		if (dtor) {
			ctx->dtors_expected += b;
			dslab_dtor_barrier();
		}
		cond_resched();
	}
	return 0;

err_free:
	/* The group fails; the destructor count is not checked then. */
	while (i--)
		dslab_free(ctx->objs[i]);
	dslab_dtor_barrier();
	return ret;
}

static int dslab_bench_free_dtor(struct dslab_bench_ctx *ctx,
				 unsigned long iters, u64 *ns)
{
	return dslab_bench_free_batches(ctx, iters, ns, true);
}

static int dslab_bench_free_plain(struct dslab_bench_ctx *ctx,
				  unsigned long iters, u64 *ns)
{
	return dslab_bench_free_batches(ctx, iters, ns, false);
}

static int dslab_bench_free_setup(struct dslab_bench_ctx *ctx)
{
	ctx->ops_per_iter = 1;
	ctx->dtors_expected = 0;
	atomic_long_set(&dslab_bench_done_count, 0);
	WRITE_ONCE(dslab_bench_done_target, ULONG_MAX);
	ctx->objs = kvcalloc(DSLAB_BENCH_FREE_BATCH, sizeof(void *), GFP_KERNEL);
	return ctx->objs ? 0 : -ENOMEM;
}

static void dslab_bench_free_teardown(struct dslab_bench_ctx *ctx)
{
	kvfree(ctx->objs);
	ctx->objs = NULL;
}

static const struct dslab_bench_impl dslab_bench_free_impls[] = {
	{ "dslab_free_dtor", dslab_bench_free_dtor },
	{ "dslab_free", dslab_bench_free_plain },
};

/* === Benchmark 4b: end-to-end deferred destruction === */

/* An object for the kernel's deferred paths. */
struct dslab_bench_wobj {
	union {
		struct work_struct work;
		struct rcu_head rcu;
	};
};

static void dslab_bench_e2e_arm(unsigned long n)
{
	atomic_long_set(&dslab_bench_done_count, 0);
	WRITE_ONCE(dslab_bench_done_target, n);
	reinit_completion(&dslab_bench_done);
}

static int dslab_bench_e2e_check(unsigned long n, const char *what)
{
	unsigned long got = atomic_long_read(&dslab_bench_done_count);

	if (got == n)
		return 0;
	pr_err("%s: %lu of %lu destructors/callbacks ran by the barrier\n",
	       what, got, n);
	return -EIO;
}

/* @n objects with the counting destructor in ctx->objs, and armed. */
static int dslab_bench_e2e_prepare(struct dslab_bench_ctx *ctx, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		ctx->objs[i] = dslab_alloc(ctx->p.size, GFP_KERNEL);
		if (!ctx->objs[i])
			goto err_free;
		if (dslab_set_destructor(ctx->objs[i], &dslab_bench_dtor)) {
			dslab_free(ctx->objs[i]);
			goto err_free;
		}
		if (!(i & 1023))
			cond_resched();
	}
	dslab_bench_e2e_arm(n);
	return 0;

err_free:
	while (i--)
		dslab_free(ctx->objs[i]);
	dslab_dtor_barrier();
	return -ENOMEM;
}

static int dslab_bench_e2e_dslab_common(struct dslab_bench_ctx *ctx,
					unsigned long n, u64 *ns, bool rcu)
{
	unsigned long i;
	u64 t0;

	if (dslab_bench_e2e_prepare(ctx, n))
		return -ENOMEM;
	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		if (rcu)
			dslab_free_rcu(ctx->objs[i]);
		else
			dslab_free(ctx->objs[i]);
	}
	dslab_dtor_barrier();
	*ns = ktime_get_ns() - t0;
	return dslab_bench_e2e_check(n, rcu ? "dslab_free_rcu" : "dslab_free");
}

static int dslab_bench_par_run(struct dslab_bench_ctx *ctx, unsigned long iters,
			       u64 *ns, bool use_dslab, void **objs);
static u64 dslab_bench_par_go_ns(void);

/* The same, the frees shared out among every online CPU at once. */
static int dslab_bench_e2e_dslab_cpus(struct dslab_bench_ctx *ctx,
				      unsigned long n, u64 *ns)
{
	u64 each;
	int ret;

	if (dslab_bench_e2e_prepare(ctx, n))
		return -ENOMEM;
	ret = dslab_bench_par_run(ctx, n, &each, true, ctx->objs);
	dslab_dtor_barrier();
	*ns = ktime_get_ns() - dslab_bench_par_go_ns();
	return ret ?: dslab_bench_e2e_check(n, "dslab_free on every CPU");
}

static int dslab_bench_e2e_dslab(struct dslab_bench_ctx *ctx,
				 unsigned long n, u64 *ns)
{
	return dslab_bench_e2e_dslab_common(ctx, n, ns, false);
}

static int dslab_bench_e2e_dslab_rcu(struct dslab_bench_ctx *ctx,
				     unsigned long n, u64 *ns)
{
	return dslab_bench_e2e_dslab_common(ctx, n, ns, true);
}

static int dslab_bench_e2e_alloc_wobjs(struct dslab_bench_ctx *ctx,
				       unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		ctx->objs[i] = kmalloc(ctx->p.size, GFP_KERNEL);
		if (!ctx->objs[i]) {
			while (i--)
				kfree(ctx->objs[i]);
			return -ENOMEM;
		}
		if (!(i & 1023))
			cond_resched();
	}
	return 0;
}

static void dslab_bench_work_fn(struct work_struct *work)
{
	kfree(container_of(work, struct dslab_bench_wobj, work));
	dslab_bench_count_fn(NULL);
}

static int dslab_bench_e2e_work(struct dslab_bench_ctx *ctx,
				unsigned long n, u64 *ns)
{
	struct dslab_bench_wobj *w;
	unsigned long i;
	u64 t0;

	if (dslab_bench_e2e_alloc_wobjs(ctx, n))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		w = ctx->objs[i];
		INIT_WORK(&w->work, dslab_bench_work_fn);
	}
	dslab_bench_e2e_arm(n);
	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		w = ctx->objs[i];
		queue_work(system_wq, &w->work);
	}
	wait_for_completion(&dslab_bench_done);
	*ns = ktime_get_ns() - t0;
	return dslab_bench_e2e_check(n, "queue_work");
}

static void dslab_bench_rcu_fn(struct rcu_head *rcu)
{
	kfree(container_of(rcu, struct dslab_bench_wobj, rcu));
	dslab_bench_count_fn(NULL);
}

static int dslab_bench_e2e_call_rcu(struct dslab_bench_ctx *ctx,
				    unsigned long n, u64 *ns)
{
	struct dslab_bench_wobj *w;
	unsigned long i;
	u64 t0;

	if (dslab_bench_e2e_alloc_wobjs(ctx, n))
		return -ENOMEM;
	dslab_bench_e2e_arm(n);
	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		w = ctx->objs[i];
		call_rcu(&w->rcu, dslab_bench_rcu_fn);
	}
	rcu_barrier();
	*ns = ktime_get_ns() - t0;
	return dslab_bench_e2e_check(n, "call_rcu");
}

#if DSLAB_HAVE_KVFREE_RCU_BARRIER
static int dslab_bench_e2e_kfree_rcu(struct dslab_bench_ctx *ctx,
				     unsigned long n, u64 *ns)
{
	struct dslab_bench_wobj *w;
	unsigned long i;
	u64 t0;

	if (dslab_bench_e2e_alloc_wobjs(ctx, n))
		return -ENOMEM;
	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		w = ctx->objs[i];
		kfree_rcu(w, rcu);
	}
	kvfree_rcu_barrier();
	*ns = ktime_get_ns() - t0;
	return 0;
}
#endif

static int dslab_bench_e2e_setup(struct dslab_bench_ctx *ctx)
{
	ctx->ops_per_iter = 1;
	/* kmalloc() objects hold a work_struct or an rcu_head. */
	ctx->p.size = max_t(unsigned int, ctx->p.size,
			    sizeof(struct dslab_bench_wobj));
	ctx->objs = kvcalloc(ctx->p.n, sizeof(void *), GFP_KERNEL);
	return ctx->objs ? 0 : -ENOMEM;
}

static const struct dslab_bench_impl dslab_bench_e2e_impls[] = {
	{ "dslab", dslab_bench_e2e_dslab },
	{ "dslab_all_cpus", dslab_bench_e2e_dslab_cpus },
	{ "dslab_free_rcu", dslab_bench_e2e_dslab_rcu },
	{ "queue_work", dslab_bench_e2e_work },
	{ "call_rcu", dslab_bench_e2e_call_rcu },
#if DSLAB_HAVE_KVFREE_RCU_BARRIER
	{ "kfree_rcu", dslab_bench_e2e_kfree_rcu },
#endif
};

/* === Benchmark 5: every CPU at once === */

struct dslab_bench_par {
	struct task_struct *task;
	struct dslab_bench_ctx *ctx;
	bool use_dslab;
	unsigned long iters;
	void **objs;		/* dtor_e2e: free these nobjs, nothing else */
	unsigned long nobjs;
	u64 ns;
	int ret;
};

/* Start line and finish line of one parallel run. */
static struct {
	atomic_t ready;			/* threads waiting for go */
	atomic_t running;		/* threads not finished */
	unsigned int nr;
	bool go;			/* set once, read by the threads */
	u64 go_ns;			/* ktime_get_ns() just before go */
	struct completion all_ready;
	struct completion all_done;
	wait_queue_head_t go_wq;
} dslab_bench_race;

static int dslab_bench_par_loop(struct dslab_bench_par *p)
{
	void *objs[DSLAB_BENCH_MAX_BATCH];
	struct kmem_cache *s = p->ctx->cache;
	size_t size = p->ctx->p.size;
	unsigned int b = p->ctx->p.batch, j;
	unsigned long i;
	u64 t0, t1;
	int ret = 0;

	if (p->objs) {
		for (i = 0; i < p->nobjs; i++)
			dslab_free(p->objs[i]);
		return 0;
	}
	dslab_bench_pin();
	t0 = ktime_get_ns();
	for (i = 0; i < p->iters && !ret; i++) {
		for (j = 0; j < b; j++) {
			objs[j] = p->use_dslab ? dslab_alloc(size, GFP_NOWAIT) :
				  kmem_cache_alloc(s, GFP_NOWAIT);
			if (unlikely(!objs[j])) {
				ret = -ENOMEM;
				break;
			}
		}
		while (j--) {
			if (p->use_dslab)
				dslab_free(objs[j]);
			else
				kmem_cache_free(s, objs[j]);
		}
	}
	t1 = ktime_get_ns();
	dslab_bench_unpin();
	p->ns = t1 - t0;
	return ret;
}

static int dslab_bench_par_fn(void *arg)
{
	struct dslab_bench_par *p = arg;

	if (atomic_inc_return(&dslab_bench_race.ready) == dslab_bench_race.nr)
		complete(&dslab_bench_race.all_ready);
	/* Pairs with WRITE_ONCE() + wake_up_all() in dslab_bench_par_run(). */
	wait_event(dslab_bench_race.go_wq, READ_ONCE(dslab_bench_race.go));
	p->ret = dslab_bench_par_loop(p);
	if (atomic_dec_and_test(&dslab_bench_race.running))
		complete(&dslab_bench_race.all_done);

	/* Stay until kthread_stop() so the task outlives our use of it. */
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop())
			break;
		schedule();
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

/*
 * Run @iters iterations of the alloc/free loop on every online CPU at
 * once; or, with @objs, free an equal share of the @iters objects there.
 */
static int dslab_bench_par_run(struct dslab_bench_ctx *ctx, unsigned long iters,
			       u64 *ns, bool use_dslab, void **objs)
{
	struct dslab_bench_par *par;
	unsigned int nr = 0, i, cpu;
	u64 sum = 0;
	int ret = 0;

	par = kcalloc(nr_cpu_ids, sizeof(*par), GFP_KERNEL);
	if (!par)
		return -ENOMEM;
	cpus_read_lock();
	dslab_bench_race.nr = num_online_cpus();
	atomic_set(&dslab_bench_race.ready, 0);
	atomic_set(&dslab_bench_race.running, dslab_bench_race.nr);
	WRITE_ONCE(dslab_bench_race.go, false);
	reinit_completion(&dslab_bench_race.all_ready);
	reinit_completion(&dslab_bench_race.all_done);

	for_each_online_cpu(cpu) {
		struct dslab_bench_par *p = &par[nr];

		p->ctx = ctx;
		p->use_dslab = use_dslab;
		p->iters = iters;
		if (objs) {
			p->objs = objs + iters * nr / dslab_bench_race.nr;
			p->nobjs = iters * (nr + 1) / dslab_bench_race.nr -
				   iters * nr / dslab_bench_race.nr;
		}
		p->task = kthread_create(dslab_bench_par_fn, p, "dslab_bench/%u",
					 cpu);
		if (IS_ERR(p->task)) {
			ret = PTR_ERR(p->task);
			p->task = NULL;
			break;
		}
		kthread_bind(p->task, cpu);
		nr++;
	}
	if (ret) {
		/* Never woken: they exit at kthread_stop() without running. */
		for (i = 0; i < nr; i++)
			kthread_stop(par[i].task);
		goto out;
	}
	for (i = 0; i < nr; i++)
		wake_up_process(par[i].task);
	wait_for_completion(&dslab_bench_race.all_ready);
	dslab_bench_race.go_ns = ktime_get_ns();
	WRITE_ONCE(dslab_bench_race.go, true);
	wake_up_all(&dslab_bench_race.go_wq);
	wait_for_completion(&dslab_bench_race.all_done);
	for (i = 0; i < nr; i++) {
		kthread_stop(par[i].task);
		sum += par[i].ns;
		if (par[i].ret)
			ret = par[i].ret;
	}
	/* The mean over CPUs of each CPU's own time for @iters iterations. */
	*ns = div_u64(sum, nr);
out:
	cpus_read_unlock();
	kfree(par);
	return ret;
}

static u64 dslab_bench_par_go_ns(void)
{
	return dslab_bench_race.go_ns;
}

static int dslab_bench_par_dslab(struct dslab_bench_ctx *ctx,
				 unsigned long iters, u64 *ns)
{
	return dslab_bench_par_run(ctx, iters, ns, true, NULL);
}

static int dslab_bench_par_cache(struct dslab_bench_ctx *ctx,
				 unsigned long iters, u64 *ns)
{
	return dslab_bench_par_run(ctx, iters, ns, false, NULL);
}

static int dslab_bench_par_setup(struct dslab_bench_ctx *ctx)
{
	ctx->ops_per_iter = ctx->p.batch;
	return dslab_bench_cache_create(ctx);
}

static const struct dslab_bench_impl dslab_bench_par_impls[] = {
	{ "dslab", dslab_bench_par_dslab },
	{ "kmem_cache", dslab_bench_par_cache },
};

/* === Benchmark 5b: free on a CPU of another node === */

/*
 * DSLAB_BENCH_FREE_BATCH objects allocated on ctx->alloc_cpu (untimed),
 * so their memory is that CPU's node's, then freed on ctx->free_cpu, a
 * CPU of another node (timed), by work_on_cpu(): dslab sends each
 * one home to its node's list, SLUB gives it back to its slab there.
 * Each free is checked to be remote: the object's page is not on the
 * freeing CPU's node, and for dslab the remote frees counted went up by
 * as many.  On one node (or one CPU) there is nothing remote: the
 * benchmark is skipped, not failed.
 */
struct dslab_bench_remote {
	struct dslab_bench_ctx *ctx;
	unsigned int n;
	bool use_dslab;
	int cpu;		/* where the work must run */
	u64 ns;
	unsigned int local;	/* objects of the freeing CPU's node */
	bool freed;		/* the free work ran */
};

static long dslab_bench_remote_alloc_fn(void *arg)
{
	struct dslab_bench_remote *r = arg;
	struct dslab_bench_ctx *ctx = r->ctx;
	unsigned int i;

	if (raw_smp_processor_id() != r->cpu)
		return -EIO;
	for (i = 0; i < r->n; i++) {
		ctx->objs[i] = r->use_dslab ?
			       dslab_alloc(ctx->p.size, GFP_KERNEL) :
			       kmem_cache_alloc(ctx->cache, GFP_KERNEL);
		if (!ctx->objs[i])
			goto err_free;
	}
	return 0;

err_free:
	while (i--) {
		if (r->use_dslab)
			dslab_free(ctx->objs[i]);
		else
			kmem_cache_free(ctx->cache, ctx->objs[i]);
	}
	return -ENOMEM;
}

static long dslab_bench_remote_free_fn(void *arg)
{
	struct dslab_bench_remote *r = arg;
	struct dslab_bench_ctx *ctx = r->ctx;
	struct kmem_cache *s = ctx->cache;
	void **objs = ctx->objs;
	unsigned int n = r->n, i;
	int node, cpu;
	u64 t0, t1;

	dslab_bench_pin();
	cpu = raw_smp_processor_id();
	node = numa_mem_id();
	r->local = 0;
	for (i = 0; i < n; i++)
		r->local += page_to_nid(virt_to_page(objs[i])) == node;
	t0 = ktime_get_ns();
	if (r->use_dslab) {
		for (i = 0; i < n; i++)
			dslab_free(objs[i]);
	} else {
		for (i = 0; i < n; i++)
			kmem_cache_free(s, objs[i]);
	}
	t1 = ktime_get_ns();
	dslab_bench_unpin();
	r->ns = t1 - t0;
	r->freed = true;
	/* Freed all the same: a batch that failed leaks nothing. */
	return cpu == r->cpu ? 0 : -EIO;
}

/* work_on_cpu_safe(), which 7.x no longer has. */
static long dslab_bench_on_cpu(int cpu, long (*fn)(void *), void *arg)
{
	long ret = -ENODEV;

	cpus_read_lock();
	if (cpu_online(cpu))
		ret = work_on_cpu(cpu, fn, arg);
	cpus_read_unlock();
	return ret;
}

static int dslab_bench_remote_run(struct dslab_bench_ctx *ctx,
				  unsigned long iters, u64 *ns, bool use_dslab)
{
	struct dslab_bench_remote r = { .ctx = ctx, .use_dslab = use_dslab };
	unsigned long done = 0;
	u64 remote = 0;
	long ret;

	*ns = 0;
	while (done < iters) {
		r.n = min_t(unsigned long, iters - done, DSLAB_BENCH_FREE_BATCH);
		r.cpu = ctx->alloc_cpu;
		ret = dslab_bench_on_cpu(r.cpu, dslab_bench_remote_alloc_fn, &r);
		if (ret)
			return ret;
		if (use_dslab)
			remote = dslab_stat_read(DSLAB_STAT_REMOTE_FREES);
		r.cpu = ctx->free_cpu;
		r.freed = false;
		ret = dslab_bench_on_cpu(r.cpu, dslab_bench_remote_free_fn, &r);
		if (use_dslab)
			remote = dslab_stat_read(DSLAB_STAT_REMOTE_FREES) - remote;
		if (!r.freed) {
			/* The CPU went offline: free them here. */
			r.cpu = raw_smp_processor_id();
			dslab_bench_remote_free_fn(&r);
		}
		if (ret)
			return ret;
		if (r.local || (use_dslab && remote < r.n)) {
			pr_err("remote_free: %s: of %u objects freed on CPU %d (node %d), %u were of its node, %llu counted remote\n",
			       use_dslab ? "dslab" : "kmem_cache", r.n,
			       ctx->free_cpu, cpu_to_mem(ctx->free_cpu),
			       r.local, use_dslab ? remote : 0ULL);
			return -EIO;
		}
		*ns += r.ns;
		done += r.n;
		cond_resched();
	}
	return 0;
}

static int dslab_bench_remote_dslab(struct dslab_bench_ctx *ctx,
				    unsigned long iters, u64 *ns)
{
	return dslab_bench_remote_run(ctx, iters, ns, true);
}

static int dslab_bench_remote_cache(struct dslab_bench_ctx *ctx,
				    unsigned long iters, u64 *ns)
{
	return dslab_bench_remote_run(ctx, iters, ns, false);
}

/* Two online CPUs of different memory nodes, the lowest such pair. */
static bool dslab_bench_remote_cpus(int *a, int *b)
{
	int i, k;

	for_each_online_cpu(i) {
		for_each_online_cpu(k) {
			if (cpu_to_mem(i) != cpu_to_mem(k)) {
				*a = i;
				*b = k;
				return true;
			}
		}
	}
	return false;
}

static int dslab_bench_remote_setup(struct dslab_bench_ctx *ctx)
{
	int ret;

	ctx->ops_per_iter = 1;
	cpus_read_lock();
	if (!dslab_bench_remote_cpus(&ctx->alloc_cpu, &ctx->free_cpu)) {
		pr_info("remote_free: skipped: needs two NUMA nodes (%u online CPUs, all of node %d)\n",
			num_online_cpus(),
			cpu_to_mem(cpumask_first(cpu_online_mask)));
		cpus_read_unlock();
		ctx->skipped = "needs two NUMA nodes";
		return -EOPNOTSUPP;
	}
	cpus_read_unlock();
	ctx->objs = kvcalloc(DSLAB_BENCH_FREE_BATCH, sizeof(void *), GFP_KERNEL);
	if (!ctx->objs)
		return -ENOMEM;
	ret = dslab_bench_cache_create(ctx);
	if (ret)
		dslab_bench_free_teardown(ctx);
	return ret;
}

static void dslab_bench_remote_teardown(struct dslab_bench_ctx *ctx)
{
	dslab_bench_cache_destroy(ctx);
	dslab_bench_free_teardown(ctx);
}

static const struct dslab_bench_impl dslab_bench_remote_impls[] = {
	{ "dslab", dslab_bench_remote_dslab },
	{ "kmem_cache", dslab_bench_remote_cache },
};

/* === Benchmark: accounted alloc+free pair (memory cgroups) === */

/*
 * The cgroup the pairs charge: the one dslab_bench was loaded from, with
 * a css reference (make bench with DSLAB_BENCH_MEMCG=1 loads it from
 * one), as set_active_memcg() for the timed loops.  NULL: skipped.
 */
static struct mem_cgroup *dslab_bench_memcg;

static int dslab_bench_account_dslab(struct dslab_bench_ctx *ctx,
				     unsigned long iters, u64 *ns)
{
	struct mem_cgroup *old = set_active_memcg(dslab_bench_memcg);
	int ret = dslab_bench_pairs(ctx, iters, ns, GFP_NOWAIT | __GFP_ACCOUNT);

	set_active_memcg(old);
	return ret;
}

static int dslab_bench_account_cache(struct dslab_bench_ctx *ctx,
				     unsigned long iters, u64 *ns)
{
	struct mem_cgroup *old = set_active_memcg(dslab_bench_memcg);
	int ret = dslab_bench_pair_cache(ctx, iters, ns);

	set_active_memcg(old);
	return ret;
}

static int dslab_bench_account_setup(struct dslab_bench_ctx *ctx)
{
	ctx->ops_per_iter = 1;
	if (!dslab_bench_memcg) {
		ctx->skipped = "needs dslab_bench loaded from a memory cgroup";
		return -EOPNOTSUPP;
	}
	snprintf(ctx->cache_name, sizeof(ctx->cache_name),
		 "dslab_bench_acct_%u", ctx->p.size);
	ctx->cache = kmem_cache_create(ctx->cache_name, ctx->p.size, 0,
				       SLAB_NO_MERGE | SLAB_ACCOUNT, NULL);
	return ctx->cache ? 0 : -ENOMEM;
}

static const struct dslab_bench_impl dslab_bench_account_impls[] = {
	{ "dslab_account", dslab_bench_account_dslab },
	{ "kmem_cache_account", dslab_bench_account_cache },
};

/* The loading task's cgroup, unless it is the root (module init). */
static void dslab_bench_memcg_get(void)
{
#ifdef CONFIG_MEMCG
	struct mem_cgroup *memcg;

	rcu_read_lock();
	memcg = mem_cgroup_from_task(current);
	if (memcg && memcg->css.parent && css_tryget(&memcg->css))
		dslab_bench_memcg = memcg;
	rcu_read_unlock();
#endif
}

static void dslab_bench_memcg_put(void)
{
#ifdef CONFIG_MEMCG
	if (dslab_bench_memcg)
		css_put(&dslab_bench_memcg->css);
#endif
}

/* === The benchmarks === */

static void dslab_bench_teardown_cache(struct dslab_bench_ctx *ctx)
{
	dslab_bench_cache_destroy(ctx);
}

static const struct dslab_bench_def dslab_bench_defs[] = {
	{
		.name = "alloc_free",
		.impls = dslab_bench_pair_impls,
		.nr_impls = ARRAY_SIZE(dslab_bench_pair_impls),
		.anchor = 1,
		.setup = dslab_bench_pair_setup,
		.teardown = dslab_bench_teardown_cache,
	}, {
		.name = "bulk",
		.impls = dslab_bench_bulk_impls,
		.nr_impls = ARRAY_SIZE(dslab_bench_bulk_impls),
		.anchor = 1,
		.uses_n = true,
		.setup = dslab_bench_bulk_setup,
		.teardown = dslab_bench_teardown_cache,
	}, {
		.name = "find",
		.impls = dslab_bench_find_impls,
		.nr_impls = ARRAY_SIZE(dslab_bench_find_impls),
		.anchor = 3,
		.setup = dslab_bench_find_setup,
		.teardown = dslab_bench_find_teardown,
	}, {
		.name = "dtor_free",
		.impls = dslab_bench_free_impls,
		.nr_impls = ARRAY_SIZE(dslab_bench_free_impls),
		.anchor = 1,
		.check_dtors = true,
		.setup = dslab_bench_free_setup,
		.teardown = dslab_bench_free_teardown,
	}, {
		.name = "dtor_e2e",
		.impls = dslab_bench_e2e_impls,
		.nr_impls = ARRAY_SIZE(dslab_bench_e2e_impls),
		.anchor = 3,
		.preempt_on = true,
		.fixed_iters = true,
		.uses_n = true,
		.setup = dslab_bench_e2e_setup,
		.teardown = dslab_bench_free_teardown,
	}, {
		.name = "parallel",
		.impls = dslab_bench_par_impls,
		.nr_impls = ARRAY_SIZE(dslab_bench_par_impls),
		.anchor = 1,
		.per_cpu = true,
		.setup = dslab_bench_par_setup,
		.teardown = dslab_bench_teardown_cache,
	}, {
		.name = "remote_free",
		.impls = dslab_bench_remote_impls,
		.nr_impls = ARRAY_SIZE(dslab_bench_remote_impls),
		.anchor = 1,
		.two_nodes = true,
		.setup = dslab_bench_remote_setup,
		.teardown = dslab_bench_remote_teardown,
	}, {
		.name = "account",
		.impls = dslab_bench_account_impls,
		.nr_impls = ARRAY_SIZE(dslab_bench_account_impls),
		.anchor = 1,
		.setup = dslab_bench_account_setup,
		.teardown = dslab_bench_teardown_cache,
	},
};

static_assert(ARRAY_SIZE(dslab_bench_pair_impls) <= DSLAB_BENCH_MAX_IMPLS);
static_assert(ARRAY_SIZE(dslab_bench_find_impls) <= DSLAB_BENCH_MAX_IMPLS);
static_assert(ARRAY_SIZE(dslab_bench_e2e_impls) <= DSLAB_BENCH_MAX_IMPLS);

/* === Running a group === */

/* Iterations for one timed run of about target_us on the anchor. */
static int dslab_bench_calibrate(const struct dslab_bench_def *def,
				 struct dslab_bench_ctx *ctx,
				 unsigned long *iters)
{
	const struct dslab_bench_impl *anchor = &def->impls[def->anchor];
	u64 target = (u64)ctx->p.target_us * NSEC_PER_USEC, ns;
	unsigned long it = 16;
	int ret;

	for (;;) {
		ret = anchor->run(ctx, it, &ns);
		if (ret)
			return ret;
		if (ns >= target / 8 || it >= (1UL << 30) / 8)
			break;
		it *= 8;
	}
	*iters = max_t(u64, 1, div64_u64((u64)it * target, max_t(u64, ns, 1)));
	return 0;
}

/*
 * Turns each implementation's round times in @t into picoseconds per
 * operation, sorted (in place: @t is the caller's scratch), and emits one
 * JSON line per implementation.
 */
static int dslab_bench_report(const struct dslab_bench_def *def,
			      struct dslab_bench_ctx *ctx, unsigned long iters,
			      u64 t[][DSLAB_BENCH_MAX_ROUNDS])
{
	u64 med[DSLAB_BENCH_MAX_IMPLS];
	unsigned int rounds = ctx->p.rounds, i, k, r;
	u64 ops = (u64)iters * ctx->ops_per_iter;
	struct dslab_bench_json *j;
	u64 *ps;
	int ret = 0;

	j = kmalloc(sizeof(*j), GFP_KERNEL);
	if (!j)
		return -ENOMEM;
	for (i = 0; i < def->nr_impls; i++) {
		ps = t[i];
		/* picoseconds per operation */
		for (r = 0; r < rounds; r++)
			ps[r] = div64_u64(ps[r] * 1000, ops);
		sort(ps, rounds, sizeof(u64), dslab_bench_cmp_u64, NULL);
		med[i] = rounds & 1 ? ps[rounds / 2] :
			 (ps[rounds / 2 - 1] + ps[rounds / 2]) / 2;
	}
	for (i = 0; i < def->nr_impls && !ret; i++) {
		u64 m = max_t(u64, med[i], 1);

		j->len = 0;
		dslab_bench_jopen(j, NULL);
		dslab_bench_jstr(j, "benchmark", def->name);
		dslab_bench_juint(j, "size", ctx->p.size);
		dslab_bench_juint(j, "n", def->uses_n ? ctx->p.n : 0);
		dslab_bench_juint(j, "batch", def->per_cpu ? ctx->p.batch : 0);
		dslab_bench_jstr(j, "implementation", def->impls[i].name);
		dslab_bench_jstr(j, "anchor", def->impls[def->anchor].name);
		dslab_bench_jopen(j, "ns_per_op");
		dslab_bench_jfix(j, "median", med[i]);
		dslab_bench_jfix(j, "min", t[i][0]);
		dslab_bench_jfix(j, "max", t[i][rounds - 1]);
		dslab_bench_jclose(j);
		dslab_bench_juint(j, "rounds", rounds);
		dslab_bench_juint(j, "ops_per_round", ops);
		dslab_bench_jfix(j, "ratio",
				 div64_u64(med[i] * 1000,
					   max_t(u64, med[def->anchor], 1)));
		/* This median over every other implementation's. */
		dslab_bench_jopen(j, "ratios");
		for (k = 0; k < def->nr_impls; k++)
			if (k != i)
				dslab_bench_jfix(j, def->impls[k].name,
						 div64_u64(med[i] * 1000,
							   max_t(u64, med[k], 1)));
		dslab_bench_jclose(j);
		/* 1e12 ps per second; per CPU for the parallel benchmark */
		dslab_bench_juint(j, "ops_per_sec", div64_u64(1000000000000ULL, m));
		dslab_bench_juint(j, "cpus", def->per_cpu ? num_online_cpus() : 1);
		dslab_bench_jstr(j, "timing", def->preempt_on ? "preemptible" :
				 DSLAB_BENCH_PINNED);
		if (def->two_nodes) {
			dslab_bench_juint(j, "alloc_cpu", ctx->alloc_cpu);
			dslab_bench_juint(j, "alloc_node",
					  cpu_to_mem(ctx->alloc_cpu));
			dslab_bench_juint(j, "free_cpu", ctx->free_cpu);
			dslab_bench_juint(j, "free_node",
					  cpu_to_mem(ctx->free_cpu));
		}
		dslab_bench_jclose(j);
		ret = dslab_bench_emit(j);
	}
	kfree(j);
	return ret;
}

/* A benchmark this machine cannot run: one line that says why. */
static int dslab_bench_skip(const struct dslab_bench_def *def,
			    const struct dslab_bench_ctx *ctx)
{
	struct dslab_bench_json *j;
	int ret;

	j = kzalloc(sizeof(*j), GFP_KERNEL);
	if (!j)
		return -ENOMEM;
	dslab_bench_jopen(j, NULL);
	dslab_bench_jstr(j, "benchmark", def->name);
	dslab_bench_juint(j, "size", ctx->p.size);
	dslab_bench_juint(j, "n", def->uses_n ? ctx->p.n : 0);
	dslab_bench_juint(j, "batch", def->per_cpu ? ctx->p.batch : 0);
	dslab_bench_jstr(j, "skipped", ctx->skipped);
	dslab_bench_jclose(j);
	ret = dslab_bench_emit(j);
	kfree(j);
	return ret;
}

static int dslab_bench_group(const struct dslab_bench_def *def,
			     const struct dslab_bench_params *p)
{
	u64 (*t)[DSLAB_BENCH_MAX_ROUNDS];
	struct dslab_bench_ctx *ctx;
	unsigned long iters, warm;
	unsigned int i, r;
	u64 ns;
	int ret;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	t = kcalloc(DSLAB_BENCH_MAX_IMPLS, sizeof(*t), GFP_KERNEL);
	if (!ctx || !t) {
		ret = -ENOMEM;
		goto out_free;
	}
	ctx->p = *p;
	ret = def->setup(ctx);
	if (ret == -EOPNOTSUPP && ctx->skipped) {
		/* Not this machine's: a skip line, no failure. */
		ret = dslab_bench_skip(def, ctx);
		goto out_free;
	}
	if (ret)
		goto out_free;

	if (def->fixed_iters) {
		iters = ctx->p.n;
		warm = max(iters / 10, 1UL);
	} else {
		ret = dslab_bench_calibrate(def, ctx, &iters);
		if (ret)
			goto out_teardown;
		warm = iters;
	}
	for (i = 0; i < def->nr_impls; i++) {
		ret = def->impls[i].run(ctx, warm, &ns);
		if (ret)
			goto out_fail;
	}
	for (r = 0; r < ctx->p.rounds; r++) {
		for (i = 0; i < def->nr_impls; i++) {
			ret = def->impls[i].run(ctx, iters, &t[i][r]);
			if (ret)
				goto out_fail;
			cond_resched();
		}
	}
	if (def->check_dtors) {
		unsigned long ran = atomic_long_read(&dslab_bench_done_count);

		/* Every destructor set in the runs must have run. */
		if (ran != ctx->dtors_expected) {
			pr_err("%s: %lu destructors ran, %lu expected\n",
			       def->name, ran, ctx->dtors_expected);
			ret = -EIO;
			goto out_teardown;
		}
	}
	ret = dslab_bench_report(def, ctx, iters, t);
	goto out_teardown;

out_fail:
	pr_err("%s size=%u: %s failed (%d)\n", def->name, ctx->p.size,
	       def->impls[i].name, ret);
out_teardown:
	def->teardown(ctx);
out_free:
	kfree(t);
	kfree(ctx);
	return ret;
}

/* === Benchmark 6: memory for a mixed workload === */

/*
 * Request sizes: a range is picked with the weight below (percent), then a
 * size uniformly inside it, from a fixed xorshift32 seed.  The same
 * sequence is allocated from dslab and from kmalloc().
 */
static const struct {
	u16 lo, hi, weight;
} dslab_bench_mix[] = {
	{ 1, 16, 10 }, { 17, 32, 20 }, { 33, 64, 20 }, { 65, 128, 18 },
	{ 129, 256, 14 }, { 257, 512, 8 }, { 513, 1024, 5 },
	{ 1025, 2048, 3 }, { 2049, 4096, 2 },
};

#define DSLAB_BENCH_MIX_SEED	0x9e3779b9

static void dslab_bench_mix_sizes(u16 *sizes, unsigned int n, u64 *bytes)
{
	u32 seed = DSLAB_BENCH_MIX_SEED;
	unsigned int i, k, w;

	*bytes = 0;
	for (i = 0; i < n; i++) {
		w = dslab_bench_rand(&seed) % 100;
		for (k = 0; w >= dslab_bench_mix[k].weight; k++)
			w -= dslab_bench_mix[k].weight;
		sizes[i] = dslab_bench_mix[k].lo + dslab_bench_rand(&seed) %
			   (dslab_bench_mix[k].hi - dslab_bench_mix[k].lo + 1);
		*bytes += sizes[i];
	}
}

/* Descriptor bytes of the spans dslab holds now, by class. */
static u64 dslab_bench_span_meta(unsigned long *spans)
{
	struct dslab_class_stats st;
	unsigned int c;
	u64 bytes = 0;

	*spans = 0;
	for (c = 0; c < DSLAB_NR_CLASSES; c++) {
		size_t d = sizeof(struct dslab_span) + sizeof(unsigned long) *
			   BITS_TO_LONGS(dslab_classes[c].nobjs);

		dslab_class_stats(c, &st);
		*spans += st.spans;
		bytes += (u64)st.spans * kmalloc_size_roundup(d);
	}
	return bytes;
}

/* SLUB's pages, folded from the per-CPU vmstat deltas by vmstat_update. */
static unsigned long dslab_bench_slab_pages(void)
{
	/* vmstat_update folds per-CPU counts every second (stat_interval). */
	msleep(2100);
	return global_node_page_state_pages(NR_SLAB_UNRECLAIMABLE_B);
}

struct dslab_bench_mem {
	unsigned long pages;
	u64 usable;		/* sum of the objects' usable sizes */
	u64 meta;		/* dslab: span descriptors + page map */
};

static int dslab_bench_mem_dslab(void **objs, const u16 *sizes,
				 unsigned int n, struct dslab_bench_mem *m)
{
	unsigned long p0, p1, spans0, spans1;
	u64 meta0, meta1;
	unsigned int i;
	int ret = 0;

	dslab_shrink();
	p0 = atomic_long_read(&dslab_pages_held);
	meta0 = dslab_bench_span_meta(&spans0);
	for (i = 0; i < n; i++) {
		objs[i] = dslab_alloc(sizes[i], GFP_KERNEL);
		if (!objs[i]) {
			ret = -ENOMEM;
			break;
		}
		m->usable += dslab_ksize(objs[i]);
		if (!(i & 1023))
			cond_resched();
	}
	/* Cached free objects go back to their spans, empty spans go. */
	dslab_shrink();
	p1 = atomic_long_read(&dslab_pages_held);
	meta1 = dslab_bench_span_meta(&spans1);
	m->pages = p1 - p0;
	/* A page-map entry (one pointer) per page of span. */
	m->meta = meta1 - meta0 + (u64)m->pages * sizeof(void *);
	while (i--)
		dslab_free(objs[i]);
	dslab_shrink();
	return ret;
}

static int dslab_bench_mem_kmalloc(void **objs, const u16 *sizes,
				   unsigned int n, struct dslab_bench_mem *m)
{
	unsigned long s0, s1;
	unsigned int i;
	int ret = 0;

	s0 = dslab_bench_slab_pages();
	for (i = 0; i < n; i++) {
		objs[i] = kmalloc(sizes[i], GFP_KERNEL);
		if (!objs[i]) {
			ret = -ENOMEM;
			break;
		}
		m->usable += ksize(objs[i]);
		if (!(i & 1023))
			cond_resched();
	}
	s1 = dslab_bench_slab_pages();
	m->pages = s1 > s0 ? s1 - s0 : 0;
	m->meta = 0;
	while (i--)
		kfree(objs[i]);
	return ret;
}

static int dslab_bench_mem_emit(const struct dslab_bench_params *p, u64 bytes,
				const char *impl, const struct dslab_bench_mem *m,
				const u64 *pages, unsigned int rounds,
				u64 meta_mpo, u64 ratio, u64 ratio_meta)
{
	struct dslab_bench_json *j;
	int ret;

	j = kzalloc(sizeof(*j), GFP_KERNEL);
	if (!j)
		return -ENOMEM;
	dslab_bench_jopen(j, NULL);
	dslab_bench_jstr(j, "benchmark", "memory");
	dslab_bench_juint(j, "size", 0);
	dslab_bench_juint(j, "n", p->n);
	dslab_bench_jstr(j, "implementation", impl);
	dslab_bench_jstr(j, "anchor", "kmalloc");
	dslab_bench_juint(j, "bytes_requested", bytes);
	dslab_bench_juint(j, "bytes_usable", m->usable);
	dslab_bench_jopen(j, "pages");
	dslab_bench_juint(j, "median", pages[rounds / 2]);
	dslab_bench_juint(j, "min", pages[0]);
	dslab_bench_juint(j, "max", pages[rounds - 1]);
	dslab_bench_jclose(j);
	dslab_bench_juint(j, "rounds", rounds);
	dslab_bench_jfix(j, "metadata_bytes_per_object", meta_mpo);
	dslab_bench_jfix(j, "ratio", ratio);
	dslab_bench_jfix(j, "ratio_with_metadata", ratio_meta);
	dslab_bench_jclose(j);
	ret = dslab_bench_emit(j);
	kfree(j);
	return ret;
}

static int dslab_bench_memory(const struct dslab_bench_params *p)
{
	u64 pd[DSLAB_BENCH_MAX_ROUNDS], pk[DSLAB_BENCH_MAX_ROUNDS];
	unsigned int rounds = min(p->rounds, 5U), r;
	struct dslab_bench_mem md = { }, mk = { };
	u64 bytes, meta_mpo, ratio, ratio_meta;
	u64 dmed, kmed;
	void **objs;
	u16 *sizes;
	int ret = -ENOMEM;

	sizes = kvcalloc(p->n, sizeof(*sizes), GFP_KERNEL);
	objs = kvcalloc(p->n, sizeof(*objs), GFP_KERNEL);
	if (!sizes || !objs)
		goto out_free;
	dslab_bench_mix_sizes(sizes, p->n, &bytes);

	for (r = 0; r < rounds; r++) {
		md.usable = 0;
		mk.usable = 0;
		ret = dslab_bench_mem_kmalloc(objs, sizes, p->n, &mk);
		if (ret)
			goto out_free;
		ret = dslab_bench_mem_dslab(objs, sizes, p->n, &md);
		if (ret)
			goto out_free;
		pk[r] = mk.pages;
		pd[r] = md.pages;
	}
	sort(pd, rounds, sizeof(pd[0]), dslab_bench_cmp_u64, NULL);
	sort(pk, rounds, sizeof(pk[0]), dslab_bench_cmp_u64, NULL);
	/* Upper median: the memory figures are integers. */
	dmed = pd[rounds / 2];
	kmed = max_t(u64, pk[rounds / 2], 1);
	meta_mpo = div_u64(md.meta * 1000, p->n);
	ratio = div64_u64(dmed * 1000, kmed);
	ratio_meta = div64_u64((dmed * PAGE_SIZE + md.meta) * 1000,
			       kmed * PAGE_SIZE);
	ret = dslab_bench_mem_emit(p, bytes, "dslab", &md, pd, rounds,
				   meta_mpo, ratio, ratio_meta);
	if (!ret)
		ret = dslab_bench_mem_emit(p, bytes, "kmalloc", &mk, pk, rounds,
					   0, 1000, 1000);
out_free:
	if (ret)
		pr_err("memory: failed (%d)\n", ret);
	kvfree(objs);
	kvfree(sizes);
	return ret;
}

/* === Commands === */

static void dslab_bench_defaults(struct dslab_bench_params *p,
				 const char *bench)
{
	bool e2e = !strcmp(bench, "dtor_e2e"), mem = !strcmp(bench, "memory");

	*p = (struct dslab_bench_params) {
		.size = 64,
		.n = 16,
		.batch = 1,
		.rounds = 9,
		.target_us = 20000,
	};
	if (e2e || mem)
		p->n = 100000;
	if (e2e)
		p->rounds = 5;		/* each round frees 100000 objects */
	if (mem)
		p->rounds = 3;
	if (dslab_bench_quick) {
		p->rounds = mem ? 1 : 3;
		p->target_us = 2000;
		if (e2e || mem)
			p->n = 10000;
	}
}

/* "name key=value ..." -> run it.  Called with dslab_bench_mutex held. */
static int dslab_bench_command(char *cmd)
{
	struct dslab_bench_params p;
	char *tok, *name;
	unsigned int i, v;
	int ret;

	lockdep_assert_held(&dslab_bench_mutex);
	cmd = strim(cmd);
	name = strsep(&cmd, " \t");
	if (!name || !*name)
		return -EINVAL;
	if (!strcmp(name, "reset")) {
		dslab_bench_reset();
		return 0;
	}
	dslab_bench_defaults(&p, name);
	while ((tok = strsep(&cmd, " \t"))) {
		char *val;

		if (!*tok)
			continue;
		val = strchr(tok, '=');
		if (!val)
			return -EINVAL;
		*val++ = '\0';
		ret = kstrtouint(val, 0, &v);
		if (ret)
			return ret;
		if (!strcmp(tok, "size") && v >= 1 && v <= PAGE_SIZE)
			p.size = v;
		else if (!strcmp(tok, "n") && v >= 1 && v <= DSLAB_BENCH_MEM_MAX)
			p.n = v;
		else if (!strcmp(tok, "batch") && v >= 1 && v <= DSLAB_BENCH_MAX_BATCH)
			p.batch = v;
		else if (!strcmp(tok, "rounds") && v >= 1 && v <= DSLAB_BENCH_MAX_ROUNDS)
			p.rounds = v;
		else if (!strcmp(tok, "target_us") && v >= 10 && v <= 10000000)
			p.target_us = v;
		else
			return -EINVAL;
	}
	if (!strcmp(name, "memory"))
		return dslab_bench_memory(&p);
	for (i = 0; i < ARRAY_SIZE(dslab_bench_defs); i++) {
		if (strcmp(name, dslab_bench_defs[i].name))
			continue;
		if (!strcmp(name, "bulk") && p.n > DSLAB_BENCH_MAX_BATCH)
			return -EINVAL;
		if (!strcmp(name, "dtor_e2e") && p.n > DSLAB_BENCH_E2E_MAX)
			return -EINVAL;
		return dslab_bench_group(&dslab_bench_defs[i], &p) ? -EIO : 0;
	}
	return -EINVAL;
}

/* === DebugFS interface === */

static ssize_t dslab_bench_run_write(struct file *file, const char __user *ubuf,
				     size_t len, loff_t *ppos)
{
	char buf[DSLAB_BENCH_MAX_CMD];
	int ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (!mutex_trylock(&dslab_bench_mutex))
		return -EBUSY;
	ret = dslab_bench_command(buf);
	mutex_unlock(&dslab_bench_mutex);
	return ret ? ret : len;
}

static const struct file_operations dslab_bench_run_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = dslab_bench_run_write,
};

static void *dslab_bench_results_start(struct seq_file *m, loff_t *pos)
{
	mutex_lock(&dslab_bench_mutex);
	return seq_list_start(&dslab_bench_lines, *pos);
}

static void *dslab_bench_results_next(struct seq_file *m, void *v, loff_t *pos)
{
	return seq_list_next(v, &dslab_bench_lines, pos);
}

static void dslab_bench_results_stop(struct seq_file *m, void *v)
{
	mutex_unlock(&dslab_bench_mutex);
}

static int dslab_bench_results_show(struct seq_file *m, void *v)
{
	struct dslab_bench_line *line = list_entry(v, struct dslab_bench_line,
						   list);

	seq_printf(m, "%s\n", line->text);
	return 0;
}

static const struct seq_operations dslab_bench_results_sops = {
	.start = dslab_bench_results_start,
	.next = dslab_bench_results_next,
	.stop = dslab_bench_results_stop,
	.show = dslab_bench_results_show,
};
DEFINE_SEQ_ATTRIBUTE(dslab_bench_results);

/*
 * The smallest step ktime_get_ns() takes.  A guest that found no usable
 * clock source runs on jiffies (a step of 1/HZ s), and then no result of
 * the micro-benchmarks means anything; "make bench" reports it.
 */
static u64 dslab_bench_clock_resolution(void)
{
	u64 best = U64_MAX, a, b = 0;
	unsigned int i, k;

	for (i = 0; i < 5; i++) {
		a = ktime_get_ns();
		for (k = 0; k < 10000000; k++) {
			b = ktime_get_ns();
			if (b != a)
				break;
		}
		if (b > a)
			best = min(best, b - a);
	}
	return best;
}

static int dslab_bench_info_show(struct seq_file *m, void *v)
{
	const char *sep = "";
	int cpu;

	seq_printf(m, "kernel=%s\n", init_utsname()->release);
	seq_printf(m, "cpus_online=%u\n", num_online_cpus());
	seq_printf(m, "memory_nodes=%u\n", num_node_state(N_MEMORY));
	/* cpu:node of memory, for remote_free */
	seq_puts(m, "cpu_nodes=");
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		seq_printf(m, "%s%d:%d", sep, cpu, cpu_to_mem(cpu));
		sep = ",";
	}
	cpus_read_unlock();
	seq_putc(m, '\n');
	seq_printf(m, "hz=%u\n", HZ);
	seq_printf(m, "clock_resolution_ns=%llu\n", dslab_bench_clock_res);
	seq_printf(m, "page_size=%lu\n", PAGE_SIZE);
	seq_printf(m, "mode=%s\n", dslab_bench_smoke ? "smoke" :
		   dslab_bench_quick ? "quick" : "full");
	seq_printf(m, "dslab_classes=%u\n", DSLAB_NR_CLASSES);
	seq_printf(m, "dslab_span_desc_bytes=%zu\n", sizeof(struct dslab_span));
	seq_printf(m, "kfree_rcu_barrier=%s\n",
		   DSLAB_HAVE_KVFREE_RCU_BARRIER ? "kvfree_rcu_barrier" :
		   "none");
	seq_printf(m, "dedicated_cache_no_merge=%s\n",
		   SLAB_NO_MERGE ? "yes" : "no");
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dslab_bench_info);

/* === Smoke run and init === */

/* One of everything with tiny counts: proves the benchmarks still work. */
static int dslab_bench_smoke_run(void)
{
	static const char *const cmds[] = {
		"alloc_free size=64", "alloc_free size=4096", "bulk n=16",
		"find size=64", "dtor_free", "dtor_e2e n=1000",
		"parallel batch=8", "remote_free", "memory n=2000 rounds=1",
		"account size=64",
	};
	char buf[64];
	unsigned int i;
	int ret = 0;

	mutex_lock(&dslab_bench_mutex);
	for (i = 0; i < ARRAY_SIZE(cmds) && !ret; i++) {
		snprintf(buf, sizeof(buf), "%s rounds=1 target_us=200", cmds[i]);
		ret = dslab_bench_command(buf);
		if (ret)
			pr_err("smoke: \"%s\" failed (%d)\n", cmds[i], ret);
	}
	if (!ret)
		pr_info("smoke: %u benchmarks, %u result lines, all ran\n",
			(unsigned int)ARRAY_SIZE(cmds), dslab_bench_nr_lines);
	mutex_unlock(&dslab_bench_mutex);
	return ret;
}

static int __init dslab_bench_init(void)
{
	int ret;

	dslab_bench_clock_res = dslab_bench_clock_resolution();
	dslab_bench_memcg_get();
	init_completion(&dslab_bench_race.all_ready);
	init_completion(&dslab_bench_race.all_done);
	init_waitqueue_head(&dslab_bench_race.go_wq);

	dslab_bench_dir = debugfs_create_dir("dslab_bench", NULL);
	debugfs_create_file("run", 0200, dslab_bench_dir, NULL,
			    &dslab_bench_run_fops);
	debugfs_create_file("results", 0400, dslab_bench_dir, NULL,
			    &dslab_bench_results_fops);
	debugfs_create_file("info", 0444, dslab_bench_dir, NULL,
			    &dslab_bench_info_fops);

	if (dslab_bench_smoke) {
		ret = dslab_bench_smoke_run();
		if (ret) {
			debugfs_remove_recursive(dslab_bench_dir);
			mutex_lock(&dslab_bench_mutex);
			dslab_bench_reset();
			mutex_unlock(&dslab_bench_mutex);
			dslab_bench_memcg_put();
			return ret;
		}
	}
	return 0;
}

static void __exit dslab_bench_exit(void)
{
	debugfs_remove_recursive(dslab_bench_dir);
	mutex_lock(&dslab_bench_mutex);
	dslab_bench_reset();
	mutex_unlock(&dslab_bench_mutex);
	dslab_bench_memcg_put();
}

module_init(dslab_bench_init);
module_exit(dslab_bench_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("dslab benchmarks next to SLUB and the kernel's deferred-free paths");
MODULE_AUTHOR("dslab developers");
MODULE_IMPORT_NS(DSLAB_NS);
