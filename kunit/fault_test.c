// SPDX-License-Identifier: GPL-2.0
/*
 * Suite dslab_fault: dslab under injected allocation failures.
 *
 * The sweep (after the kernel's fail-nth, Documentation/fault-injection/
 * fault-injection.rst): for each API path it makes the calling task's
 * 1st, 2nd, 3rd ... dslab-internal allocation fail (mm/fault.c,
 * dslab_fault_fail_nth()) until the call gets through without reaching
 * the armed failure.  Every time the failure fired the call must have
 * failed cleanly (NULL, 0, -ENOMEM or ERR_PTR(-ENOMEM)) and, after a
 * barrier and a shrink, everything must be as before: objects in use,
 * span pages held, FinBlocks, reserved FinBlock slots, this module's
 * reference count (the owner pin) and every event counter except the one
 * that records the failure.  Objects a failed registration was aimed at
 * are then freed: their destructor must not run (nothing half attached);
 * after the successful call it must run exactly once.
 *
 * The no-loss case frees objects carrying destructors and cleanups, from
 * process context, through RCU, in bulk and in hardirq, while every dslab
 * allocation fails (dslab_fault_fail_all(), every task, the runner
 * included) and the fail-nth countdown is armed in the freeing task: the
 * free path must not even try to allocate, and every destructor and
 * cleanup must still run exactly once.
 *
 * Documentation/testing.rst describes the suites.
 */
#include <linux/err.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dslab_test.h"

/* Bound on failure points per call; a sweep that reaches it fails. */
#define DSLAB_FAULT_MAX_NTH	64
#define DSLAB_FAULT_MAGIC	0xfa17fa17u
#define DSLAB_FAULT_LARGE	(40 * 1024)	/* above DSLAB_MAX_SMALL_SIZE */
#define DSLAB_FAULT_NOLOSS_N	1024
#define DSLAB_FAULT_NOLOSS_LARGE 8

/* === Objects, destructors, cleanups === */

struct dslab_fault_hdr {
	u32 magic;
	u32 idx;
};

struct dslab_fault_small {
	struct dslab_fault_hdr hdr;
	u8 payload[1000];
};

struct dslab_fault_large {
	struct dslab_fault_hdr hdr;
	u8 payload[DSLAB_FAULT_LARGE];
};

DSLAB_TYPE(dslab_fault_small_type, struct dslab_fault_small);
DSLAB_TYPE(dslab_fault_large_type, struct dslab_fault_large);

/* Destructor and cleanup runs, per object index; one case at a time. */
struct dslab_fault_rec {
	atomic_t dtor[DSLAB_FAULT_NOLOSS_N + DSLAB_FAULT_NOLOSS_LARGE];
	atomic_t cleanup[DSLAB_FAULT_NOLOSS_N + DSLAB_FAULT_NOLOSS_LARGE];
	atomic_t bad;			/* header not intact, bad index */
};

static struct dslab_fault_rec *dslab_fault_cur;

static void dslab_fault_record(struct dslab_fault_hdr *h)
{
	struct dslab_fault_rec *rec = READ_ONCE(dslab_fault_cur);

	if (WARN_ON_ONCE(!rec))
		return;
	if (h->magic != (DSLAB_FAULT_MAGIC ^ h->idx) ||
	    h->idx >= ARRAY_SIZE(rec->dtor)) {
		atomic_inc(&rec->bad);
		return;
	}
	atomic_inc(&rec->dtor[h->idx]);
}

static void dslab_fault_any_fn(void *obj)
{
	dslab_fault_record(obj);
}

static void dslab_fault_small_fn(struct dslab_fault_small *s)
{
	dslab_fault_record(&s->hdr);
}

static const struct dslab_dtor dslab_fault_any = { .fn = dslab_fault_any_fn };
DSLAB_DTOR(dslab_fault_small_dtor, dslab_fault_small_type, dslab_fault_small_fn);

static void dslab_fault_cleanup_fn(void *arg)
{
	atomic_inc(arg);
}

static void dslab_fault_stamp(void *obj, u32 idx)
{
	struct dslab_fault_hdr *h = obj;

	h->idx = idx;
	h->magic = DSLAB_FAULT_MAGIC ^ idx;
}

/* === Snapshots === */

/* Items that a clean failure must leave exactly as they were. */
static const enum dslab_stat_item dslab_fault_exact[] = {
	DSLAB_STAT_BAD_FREE, DSLAB_STAT_DOUBLE_FREE, DSLAB_STAT_INTERIOR_FREE,
	DSLAB_STAT_FOREIGN_FREE, DSLAB_STAT_DEBUG_CORRUPTION,
	DSLAB_STAT_DTOR_SET, DSLAB_STAT_DTOR_CLEARED, DSLAB_STAT_CLEANUP_ADDED,
	DSLAB_STAT_CLEANUP_CANCELLED, DSLAB_STAT_OBJ_QUEUED,
	DSLAB_STAT_DTOR_RUN, DSLAB_STAT_CLEANUP_RUN, DSLAB_STAT_RCU_FREED,
};

struct dslab_fault_snap {
	u64 stat[DSLAB_NR_STATS];
	long inuse;
	long pages;
	unsigned long blocks;
	unsigned long reserved;
	int modref;
};

static void dslab_fault_snap(struct dslab_fault_snap *s)
{
	struct dslab_finq_stats fs;
	unsigned int i;

	dslab_dtor_barrier();
	dslab_shrink();
	for (i = 0; i < DSLAB_NR_STATS; i++)
		s->stat[i] = dslab_stat_read(i);
	s->inuse = dslab_objects_inuse();
	s->pages = atomic_long_read(&dslab_pages_held);
	dslab_finq_stats(&fs);
	s->blocks = fs.blocks_total;
	s->reserved = fs.records_reserved;
	s->modref = module_refcount(THIS_MODULE);
}

static inline s64 dslab_fault_delta(const struct dslab_fault_snap *a,
				    const struct dslab_fault_snap *b,
				    enum dslab_stat_item item)
{
	return (s64)(b->stat[item] - a->stat[item]);
}

#define DSLAB_FAULT_DELTA(a, b, item)	dslab_fault_delta(a, b, item)

/*
 * Everything as before a failed call?  @fail_item is the counter that
 * records the failure (it may grow by at most one); -1 for none.
 */
static void dslab_fault_expect_same(struct kunit *test, const char *path,
				    unsigned int nth,
				    const struct dslab_fault_snap *a,
				    const struct dslab_fault_snap *b,
				    int fail_item)
{
	unsigned int i;
	s64 d;

	for (i = 0; i < ARRAY_SIZE(dslab_fault_exact); i++)
		KUNIT_EXPECT_EQ_MSG(test, DSLAB_FAULT_DELTA(a, b, dslab_fault_exact[i]), 0LL,
				    "%s, fault %u: counter %s changed", path, nth,
				    dslab_stat_names[dslab_fault_exact[i]]);
	/* What was allocated was freed again. */
	KUNIT_EXPECT_EQ_MSG(test, DSLAB_FAULT_DELTA(a, b, DSLAB_STAT_ALLOC),
			    DSLAB_FAULT_DELTA(a, b, DSLAB_STAT_FREE),
			    "%s, fault %u: allocations and frees do not balance", path, nth);
	KUNIT_EXPECT_EQ_MSG(test, DSLAB_FAULT_DELTA(a, b, DSLAB_STAT_SPANS_ALLOCATED),
			    DSLAB_FAULT_DELTA(a, b, DSLAB_STAT_SPANS_FREED),
			    "%s, fault %u: spans created and freed do not balance", path, nth);
	d = DSLAB_FAULT_DELTA(a, b, DSLAB_STAT_ALLOC_FAIL);
	KUNIT_EXPECT_TRUE_MSG(test, d == 0 || (fail_item == DSLAB_STAT_ALLOC_FAIL && d == 1),
			      "%s, fault %u: failed_allocations grew by %lld", path, nth, d);
	d = DSLAB_FAULT_DELTA(a, b, DSLAB_STAT_DTOR_REFUSED);
	KUNIT_EXPECT_TRUE_MSG(test, fail_item == DSLAB_STAT_DTOR_REFUSED ? d == 1 : d == 0,
			      "%s, fault %u: registrations_refused grew by %lld", path, nth, d);
	KUNIT_EXPECT_EQ_MSG(test, b->inuse, a->inuse,
			    "%s, fault %u: objects in use changed", path, nth);
	KUNIT_EXPECT_EQ_MSG(test, b->pages, a->pages,
			    "%s, fault %u: span pages held changed", path, nth);
	KUNIT_EXPECT_EQ_MSG(test, b->blocks, a->blocks,
			    "%s, fault %u: FinBlocks changed", path, nth);
	KUNIT_EXPECT_EQ_MSG(test, b->reserved, a->reserved,
			    "%s, fault %u: reserved FinBlock slots changed", path, nth);
	KUNIT_EXPECT_EQ_MSG(test, b->modref, a->modref,
			    "%s, fault %u: owner module reference leaked or dropped", path, nth);
}

/* === The sweep === */

struct dslab_fault_run;

/*
 * One API path.  prepare() runs before the snapshot, unarmed (it makes
 * the object a registration is aimed at); call() runs armed and returns
 * 0 on success, -ENOMEM on a clean failure, anything else when the
 * failure was not clean; undo() releases what a successful call made;
 * release() what prepare() made, after every attempt.
 */
struct dslab_fault_path {
	const char *name;
	size_t size;
	unsigned int nr;		/* bulk count */
	int fail_item;			/* counter a failure grows, or -1 */
	unsigned int min_points;	/* failure points the path must have */
	int (*prepare)(struct dslab_fault_run *r);
	int (*call)(struct dslab_fault_run *r);
	void (*undo)(struct dslab_fault_run *r);
	void (*release)(struct dslab_fault_run *r);
};

struct dslab_fault_run {
	struct kunit *test;
	const struct dslab_fault_path *p;
	void *obj;			/* made by prepare() or call() */
	void **objs;			/* bulk */
	struct dslab_cleanup *handle;
	atomic_t cleanup_runs;
};

static int dslab_fault_call_alloc(struct dslab_fault_run *r)
{
	r->obj = dslab_alloc(r->p->size, GFP_KERNEL);
	return r->obj ? 0 : -ENOMEM;
}

static void dslab_fault_undo_free(struct dslab_fault_run *r)
{
	dslab_free(r->obj);
	r->obj = NULL;
}

static int dslab_fault_call_bulk(struct dslab_fault_run *r)
{
	unsigned int i;
	int n;

	memset(r->objs, 0, r->p->nr * sizeof(void *));
	n = dslab_alloc_bulk(r->p->size, GFP_KERNEL, r->p->nr, r->objs);
	if (n == r->p->nr) {
		for (i = 0; i < r->p->nr; i++)
			if (!r->objs[i])
				return -EINVAL;
		return 0;
	}
	return n == 0 ? -ENOMEM : -EINVAL;
}

static void dslab_fault_undo_bulk(struct dslab_fault_run *r)
{
	unsigned int bad;

	bad = dslab_test_overlaps(r->objs, r->p->nr, r->p->size);
	KUNIT_EXPECT_EQ_MSG(r->test, bad, 0u, "%s: bulk objects overlap", r->p->name);
	dslab_free_bulk(r->p->nr, r->objs);
}

static int dslab_fault_call_new(struct dslab_fault_run *r)
{
	const struct dslab_type *t = r->p->size > DSLAB_MAX_SMALL_SIZE ?
				     &dslab_fault_large_type : &dslab_fault_small_type;

	r->obj = dslab_new(t, GFP_KERNEL);
	return r->obj ? 0 : -ENOMEM;
}

static int dslab_fault_prepare_obj(struct dslab_fault_run *r)
{
	r->obj = dslab_alloc(r->p->size, GFP_KERNEL);
	if (!r->obj)
		return -ENOMEM;
	dslab_fault_stamp(r->obj, 0);
	return 0;
}

static int dslab_fault_prepare_typed(struct dslab_fault_run *r)
{
	r->obj = dslab_new_typed(dslab_fault_small_type, GFP_KERNEL);
	if (!r->obj)
		return -ENOMEM;
	dslab_fault_stamp(r->obj, 0);
	return 0;
}

/* Free the target and wait: its destructor runs once or not at all. */
static void dslab_fault_release_obj(struct dslab_fault_run *r)
{
	dslab_free(r->obj);
	r->obj = NULL;
	dslab_dtor_barrier();
}

static int dslab_fault_call_dtor(struct dslab_fault_run *r)
{
	return dslab_set_destructor(r->obj, &dslab_fault_any);
}

static int dslab_fault_call_typed_dtor(struct dslab_fault_run *r)
{
	return dslab_set_destructor(r->obj, &dslab_fault_small_dtor);
}

static int dslab_fault_call_cleanup(struct dslab_fault_run *r)
{
	r->handle = dslab_add_cleanup(r->obj, dslab_fault_cleanup_fn,
				      &r->cleanup_runs, GFP_KERNEL);
	if (IS_ERR(r->handle))
		return PTR_ERR(r->handle);
	return r->handle ? 0 : -EINVAL;
}

static int dslab_fault_call_cleanup_atomic(struct dslab_fault_run *r)
{
	r->handle = dslab_add_cleanup(r->obj, dslab_fault_cleanup_fn,
				      &r->cleanup_runs, GFP_ATOMIC);
	if (IS_ERR(r->handle))
		return PTR_ERR(r->handle);
	return r->handle ? 0 : -EINVAL;
}

/* Nothing to undo: release() frees the object, which runs it. */
static void dslab_fault_undo_none(struct dslab_fault_run *r)
{
}

static const struct dslab_fault_path dslab_fault_paths[] = {
	{ .name = "dslab_alloc small", .size = 3000, .min_points = 2,
	  .fail_item = DSLAB_STAT_ALLOC_FAIL,
	  .call = dslab_fault_call_alloc, .undo = dslab_fault_undo_free },
	{ .name = "dslab_alloc large", .size = DSLAB_FAULT_LARGE, .min_points = 2,
	  .fail_item = DSLAB_STAT_ALLOC_FAIL,
	  .call = dslab_fault_call_alloc, .undo = dslab_fault_undo_free },
	{ .name = "dslab_alloc_bulk small", .size = 2000, .nr = 40, .min_points = 4,
	  .fail_item = DSLAB_STAT_ALLOC_FAIL,
	  .call = dslab_fault_call_bulk, .undo = dslab_fault_undo_bulk },
	{ .name = "dslab_alloc_bulk large", .size = DSLAB_FAULT_LARGE, .nr = 3,
	  .min_points = 6, .fail_item = DSLAB_STAT_ALLOC_FAIL,
	  .call = dslab_fault_call_bulk, .undo = dslab_fault_undo_bulk },
	{ .name = "dslab_new small", .size = sizeof(struct dslab_fault_small),
	  .min_points = 3, .fail_item = DSLAB_STAT_ALLOC_FAIL,
	  .call = dslab_fault_call_new, .undo = dslab_fault_undo_free },
	{ .name = "dslab_new large", .size = sizeof(struct dslab_fault_large),
	  .min_points = 3, .fail_item = DSLAB_STAT_ALLOC_FAIL,
	  .call = dslab_fault_call_new, .undo = dslab_fault_undo_free },
	{ .name = "dslab_set_destructor small", .size = 3000, .min_points = 2,
	  .fail_item = DSLAB_STAT_DTOR_REFUSED,
	  .prepare = dslab_fault_prepare_obj, .call = dslab_fault_call_dtor,
	  .undo = dslab_fault_undo_none, .release = dslab_fault_release_obj },
	{ .name = "dslab_set_destructor large", .size = DSLAB_FAULT_LARGE,
	  .min_points = 2, .fail_item = DSLAB_STAT_DTOR_REFUSED,
	  .prepare = dslab_fault_prepare_obj, .call = dslab_fault_call_dtor,
	  .undo = dslab_fault_undo_none, .release = dslab_fault_release_obj },
	{ .name = "dslab_set_destructor typed", .size = sizeof(struct dslab_fault_small),
	  .min_points = 1, .fail_item = DSLAB_STAT_DTOR_REFUSED,
	  .prepare = dslab_fault_prepare_typed, .call = dslab_fault_call_typed_dtor,
	  .undo = dslab_fault_undo_none, .release = dslab_fault_release_obj },
	{ .name = "dslab_add_cleanup", .size = 3000, .min_points = 3,
	  .fail_item = DSLAB_STAT_DTOR_REFUSED,
	  .prepare = dslab_fault_prepare_obj, .call = dslab_fault_call_cleanup,
	  .undo = dslab_fault_undo_none, .release = dslab_fault_release_obj },
	{ .name = "dslab_add_cleanup GFP_ATOMIC", .size = DSLAB_FAULT_LARGE,
	  .min_points = 3, .fail_item = DSLAB_STAT_DTOR_REFUSED,
	  .prepare = dslab_fault_prepare_obj, .call = dslab_fault_call_cleanup_atomic,
	  .undo = dslab_fault_undo_none, .release = dslab_fault_release_obj },
};

static void dslab_fault_path_desc(const struct dslab_fault_path *p, char *desc)
{
	strscpy(desc, p->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(dslab_fault_path, dslab_fault_paths, dslab_fault_path_desc);

/* Is @ret what a call of @p returns when it failed cleanly? */
static bool dslab_fault_clean(int ret)
{
	return ret == -ENOMEM;
}

static void dslab_fault_sweep(struct kunit *test)
{
	const struct dslab_fault_path *p = test->param_value;
	struct dslab_fault_rec *rec = test->priv;
	struct dslab_fault_snap *before, *after;
	struct dslab_fault_run r = { .test = test, .p = p };
	unsigned long hits0, hits1;
	unsigned int nth, pending;
	int runs;
	bool done = false;
	int ret;

	before = kunit_kzalloc(test, sizeof(*before), GFP_KERNEL);
	after = kunit_kzalloc(test, sizeof(*after), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, before);
	KUNIT_ASSERT_NOT_NULL(test, after);
	if (p->nr) {
		r.objs = kunit_kcalloc(test, p->nr, sizeof(void *), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, r.objs);
	}

	for (nth = 1; nth <= DSLAB_FAULT_MAX_NTH && !done; nth++) {
		atomic_set(&r.cleanup_runs, 0);
		runs = atomic_read(&rec->dtor[0]);
		if (p->prepare)
			KUNIT_ASSERT_EQ_MSG(test, p->prepare(&r), 0,
					    "%s: unarmed preparation failed", p->name);
		/* Barrier and shrink: the call must reach the span allocator. */
		dslab_fault_snap(before);

		hits0 = dslab_fault_fail_nth(nth);
		ret = p->call(&r);
		pending = dslab_fault_pending();
		hits1 = dslab_fault_fail_nth(0);

		if (pending == 0) {
			/* The armed failure fired: a clean failure, no trace. */
			KUNIT_EXPECT_EQ_MSG(test, hits1, hits0 + 1,
					    "%s, fault %u: injection count", p->name, nth);
			KUNIT_EXPECT_TRUE_MSG(test, dslab_fault_clean(ret),
					      "%s, fault %u: returned %d, not a clean failure",
					      p->name, nth, ret);
			if (ret == 0 && p->undo)
				p->undo(&r);	/* leaked otherwise */
			dslab_fault_snap(after);
			dslab_fault_expect_same(test, p->name, nth, before, after,
						p->fail_item);
			if (p->release) {
				p->release(&r);
				KUNIT_EXPECT_EQ_MSG(test, atomic_read(&rec->dtor[0]), runs,
						    "%s, fault %u: destructor of a refused registration ran",
						    p->name, nth);
				KUNIT_EXPECT_EQ_MSG(test, atomic_read(&r.cleanup_runs), 0,
						    "%s, fault %u: cleanup of a refused registration ran",
						    p->name, nth);
			}
			continue;
		}

		/* Not reached: the call had fewer allocations; it succeeded. */
		KUNIT_EXPECT_EQ_MSG(test, hits1, hits0,
				    "%s: injected a failure without firing", p->name);
		KUNIT_EXPECT_EQ_MSG(test, ret, 0, "%s: failed (%d) with no fault injected",
				    p->name, ret);
		if (ret == 0)
			p->undo(&r);
		if (p->release) {
			bool cleanup = p->call == dslab_fault_call_cleanup ||
				       p->call == dslab_fault_call_cleanup_atomic;

			p->release(&r);
			KUNIT_EXPECT_EQ_MSG(test, cleanup ? atomic_read(&r.cleanup_runs) :
					    atomic_read(&rec->dtor[0]) - runs, 1,
					    "%s: %s did not run exactly once", p->name,
					    cleanup ? "cleanup" : "destructor");
		}
		done = true;
	}
	if (r.obj && p->release)
		p->release(&r);
	KUNIT_EXPECT_TRUE_MSG(test, done, "%s: still failing after %u injected faults",
			      p->name, DSLAB_FAULT_MAX_NTH);
	/* A sweep that never failed anything tested nothing. */
	KUNIT_EXPECT_GE_MSG(test, nth - 2, p->min_points,
			    "%s: only %u failure points reached", p->name, nth - 2);
	kunit_info(test, "%s: %u failure points, each failed cleanly\n", p->name, nth - 2);
	KUNIT_EXPECT_EQ(test, atomic_read(&rec->bad), 0);
}

/* === No loss while every allocation fails === */

/*
 * Make every dslab allocation fail, in every task (the runner included),
 * when dslab has the test hook for it; mm/fault.c.
 */
static bool dslab_fault_all(bool on)
{
#ifdef DSLAB_HAVE_FAULT_FAIL_ALL
	dslab_fault_fail_all(on);
	return true;
#else
	return false;
#endif
}

struct dslab_fault_noloss {
	void *objs[DSLAB_FAULT_NOLOSS_N + DSLAB_FAULT_NOLOSS_LARGE];
	unsigned int first, n;		/* range freed in hardirq */
};

static void dslab_fault_free_range(void *data)
{
	struct dslab_fault_noloss *nl = data;
	unsigned int i;

	for (i = nl->first; i < nl->first + nl->n; i++)
		dslab_free(nl->objs[i]);
}

static void dslab_fault_noloss(struct kunit *test)
{
	struct dslab_fault_rec *rec = test->priv;
	struct dslab_fault_noloss *nl;
	const unsigned int total = ARRAY_SIZE(nl->objs);
	unsigned int i, q = DSLAB_FAULT_NOLOSS_N / 4, bad = 0, cbad = 0;
	struct dslab_cleanup *ph;
	u64 run0, crun0, fail0;
	long inuse0;
	bool hard, all;
	void *probe;
	int ret;

	nl = kunit_kzalloc(test, sizeof(*nl), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, nl);
	dslab_dtor_barrier();
	inuse0 = dslab_objects_inuse();
	run0 = dslab_test_stat(DTOR_RUN);
	crun0 = dslab_test_stat(CLEANUP_RUN);

	/* Objects of many classes, and large ones, each with a destructor. */
	for (i = 0; i < total; i++) {
		size_t size = i < DSLAB_FAULT_NOLOSS_N ?
			      sizeof(struct dslab_fault_hdr) + (i * 37) % 4000 :
			      DSLAB_FAULT_LARGE + i;
		struct dslab_cleanup *h;

		nl->objs[i] = dslab_alloc(size, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, nl->objs[i]);
		dslab_fault_stamp(nl->objs[i], i);
		KUNIT_ASSERT_EQ(test, dslab_set_destructor(nl->objs[i], &dslab_fault_any), 0);
		if (i % 3 == 0) {
			h = dslab_add_cleanup(nl->objs[i], dslab_fault_cleanup_fn,
					      &rec->cleanup[i], GFP_KERNEL);
			KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(h));
		}
	}

	probe = dslab_alloc(64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, probe);
	all = dslab_fault_all(true);
	if (all) {
		/*
		 * Proof that it is in force: a cleanup cannot get its record.
		 * (A destructor needs no allocation once its span has
		 * metadata and the pool covers its slot.)
		 */
		ph = dslab_add_cleanup(probe, dslab_fault_cleanup_fn,
				       &rec->bad, GFP_KERNEL);
		ret = IS_ERR(ph) ? PTR_ERR(ph) : 0;
		KUNIT_EXPECT_EQ_MSG(test, ret, -ENOMEM,
				    "registration succeeded with every allocation failing");
	} else {
		kunit_info(test, "dslab has no dslab_fault_fail_all(): only this task's allocations are watched\n");
	}
	fail0 = dslab_fault_fail_nth(1);

	/*
	 * Process context, plain and RCU, then bulk, then hardirq (a softirq
	 * on PREEMPT_RT, which has no dslab call in hardirq).
	 */
	for (i = 0; i < q; i++)
		dslab_free(nl->objs[i]);
	for (; i < 2 * q; i++)
		dslab_free_rcu(nl->objs[i]);
	dslab_free_bulk(q, &nl->objs[2 * q]);
	nl->first = 3 * q;
	nl->n = total - 3 * q;
	if (DSLAB_TEST_NO_HARDIRQ)
		hard = dslab_test_in_softirq(dslab_fault_free_range, nl);
	else
		hard = dslab_test_in_hardirq(dslab_fault_free_range, nl);

	KUNIT_EXPECT_EQ_MSG(test, dslab_fault_pending(), 1u,
			    "the free path tried to allocate");
	KUNIT_EXPECT_EQ(test, dslab_fault_fail_nth(0), fail0);
	KUNIT_EXPECT_TRUE_MSG(test, hard, "the last frees did not run in %s",
			      DSLAB_TEST_NO_HARDIRQ ? "softirq" : "hardirq");
	/* The runner has to get by without allocating, too. */
	dslab_dtor_barrier();
	dslab_fault_all(false);
	dslab_free(probe);
	/* Had the probe's cleanup been attached, it runs (and counts) here. */
	dslab_dtor_barrier();

	for (i = 0; i < total; i++) {
		if (atomic_read(&rec->dtor[i]) != 1)
			bad++;
		if (atomic_read(&rec->cleanup[i]) != (i % 3 == 0))
			cbad++;
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, 0u, "destructors lost or run twice");
	KUNIT_EXPECT_EQ_MSG(test, cbad, 0u, "cleanups lost or run twice");
	KUNIT_EXPECT_EQ(test, atomic_read(&rec->bad), 0);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(DTOR_RUN) - run0, (u64)total);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(CLEANUP_RUN) - crun0,
			(u64)DIV_ROUND_UP(total, 3));
	KUNIT_EXPECT_EQ(test, dslab_objects_inuse(), inuse0);
}

/* === Fixture === */

static int dslab_fault_test_init(struct kunit *test)
{
	struct dslab_fault_rec *rec;

	dslab_test_quiet_bad_frees(true);
	rec = kunit_kzalloc(test, sizeof(*rec), GFP_KERNEL);
	if (!rec)
		return -ENOMEM;
	dslab_test_drain();
	WRITE_ONCE(dslab_fault_cur, rec);
	test->priv = rec;
	return 0;
}

static void dslab_fault_test_exit(struct kunit *test)
{
	dslab_test_quiet_bad_frees(false);
	/* Disarm whatever a failed assertion left armed. */
	dslab_fault_fail_nth(0);
	dslab_fault_all(false);
	dslab_test_drain();
	WRITE_ONCE(dslab_fault_cur, NULL);
}

static struct kunit_case dslab_fault_cases[] = {
	KUNIT_CASE_PARAM(dslab_fault_sweep, dslab_fault_path_gen_params),
	KUNIT_CASE(dslab_fault_noloss),
	{}
};

static struct kunit_suite dslab_fault_suite = {
	.name = "dslab_fault",
	.init = dslab_fault_test_init,
	.exit = dslab_fault_test_exit,
	.test_cases = dslab_fault_cases,
};

kunit_test_suite(dslab_fault_suite);

MODULE_IMPORT_NS(DSLAB_NS);
