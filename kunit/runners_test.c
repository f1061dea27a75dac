// SPDX-License-Identifier: GPL-2.0
/*
 * Suite dslab_runners: several runners, none held back by another
 * (mm/finq.c, "Runners").
 *
 * One destructor that sleeps 3 s holds back neither the 200 quick ones
 * queued after it on the same CPU, most likely in the same FinBlock, nor
 * the release of their memory; with destructors that sleep now and then,
 * thousands of objects freed from every CPU have each destructor run
 * exactly once, by more than one runner; and the barrier waits for a
 * runner that sleeps as for any other.  A CPU hands its partly filled
 * blocks over by itself, with no barrier and no other CPU's help, and
 * when it goes offline with records in them, they still run.  A task
 * that registers destructors faster than they run is held back once the
 * backlog passes backlog_max, unless its registration is atomic.
 */
#include <linux/cpu.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/mutex.h>

#include "dslab_test.h"
#include "finq.h"

struct dslab_runners_ctx {
	unsigned int nr;
	atomic_t *runs;			/* [nr] runs per object */
	atomic_t bad;			/* an object the case did not make */
	atomic_t sleeping;		/* sleepers asleep now */
	atomic_t slept;			/* sleepers that returned */
	unsigned int sleep_ms;
	unsigned int serial_us;		/* every destructor sleeps this long */
	struct mutex serial;		/* ... one at a time */
};

static struct dslab_runners_ctx *dslab_runners_cur;

/* An object: its index, and whether its destructor sleeps. */
struct dslab_runners_obj {
	u32 idx;
	bool sleeper;
};

static void dslab_runners_dtor_fn(void *obj)
{
	struct dslab_runners_ctx *c = READ_ONCE(dslab_runners_cur);
	struct dslab_runners_obj *o = obj;

	if (!c || o->idx >= c->nr) {
		if (c)
			atomic_inc(&c->bad);
		return;
	}
	if (c->serial_us) {
		mutex_lock(&c->serial);
		usleep_range(c->serial_us, c->serial_us + 50);
		mutex_unlock(&c->serial);
	}
	if (o->sleeper) {
		atomic_inc(&c->sleeping);
		msleep(c->sleep_ms);
		atomic_dec(&c->sleeping);
		atomic_inc(&c->slept);
	}
	atomic_inc(&c->runs[o->idx]);
}

static const struct dslab_dtor dslab_runners_dtor = {
	.fn = dslab_runners_dtor_fn,
};

static struct dslab_runners_obj *dslab_runners_new(struct kunit *test,
						   size_t size, u32 idx,
						   bool sleeper)
{
	struct dslab_runners_obj *o = dslab_alloc(size, GFP_KERNEL);

	if (!o)
		return NULL;
	o->idx = idx;
	o->sleeper = sleeper;
	if (dslab_set_destructor(o, &dslab_runners_dtor)) {
		dslab_free(o);
		return NULL;
	}
	return o;
}

/* Objects of the case whose destructors ran @times times. */
static unsigned int dslab_runners_count(struct dslab_runners_ctx *c, int times)
{
	unsigned int i, n = 0;

	for (i = 0; i < c->nr; i++)
		n += atomic_read(&c->runs[i]) == times;
	return n;
}

static int dslab_runners_test_init(struct kunit *test)
{
	struct dslab_runners_ctx *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);

	if (!c)
		return -ENOMEM;
	dslab_test_drain();
	mutex_init(&c->serial);
	test->priv = c;
	WRITE_ONCE(dslab_runners_cur, c);
	return 0;
}

static void dslab_runners_test_exit(struct kunit *test)
{
	WRITE_ONCE(dslab_handover_held, false);
	dslab_test_drain();
	WRITE_ONCE(dslab_runners_cur, NULL);
}

static int dslab_runners_alloc_runs(struct kunit *test, unsigned int nr)
{
	struct dslab_runners_ctx *c = test->priv;

	c->runs = kunit_kcalloc(test, nr, sizeof(*c->runs), GFP_KERNEL);
	if (!c->runs)
		return -ENOMEM;
	c->nr = nr;
	return 0;
}

#define DSLAB_RUNNERS_QUICK	200
#define DSLAB_RUNNERS_QSIZE	4096	/* a page each: their pages show */

/*
 * One destructor sleeps 3 s; the 200 freed after it, on the same CPU,
 * all run within a second, and their pages go back while it sleeps.
 */
static void dslab_runners_sleeper(struct kunit *test)
{
	struct dslab_runners_ctx *c = test->priv;
	struct dslab_runners_obj *sleeper, *q[DSLAB_RUNNERS_QUICK];
	long pages0, pages1, pages2;
	unsigned long t0, waited;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, dslab_runners_alloc_runs(test, DSLAB_RUNNERS_QUICK + 1), 0);
	c->sleep_ms = 3000;
	pages0 = atomic_long_read(&dslab_pages_held);
	sleeper = dslab_runners_new(test, 64, DSLAB_RUNNERS_QUICK, true);
	KUNIT_ASSERT_NOT_NULL(test, sleeper);
	for (i = 0; i < DSLAB_RUNNERS_QUICK; i++) {
		q[i] = dslab_runners_new(test, DSLAB_RUNNERS_QSIZE, i, false);
		KUNIT_ASSERT_NOT_NULL(test, q[i]);
	}
	pages1 = atomic_long_read(&dslab_pages_held);

	/* One CPU, one context level: the same open FinBlock, in order. */
	migrate_disable();
	dslab_free(sleeper);
	for (i = 0; i < DSLAB_RUNNERS_QUICK; i++)
		dslab_free(q[i]);
	migrate_enable();
	t0 = jiffies;

	while (dslab_runners_count(c, 1) < DSLAB_RUNNERS_QUICK &&
	       time_before(jiffies, t0 + 2 * HZ))
		usleep_range(10000, 20000);
	waited = jiffies - t0;
	pages2 = atomic_long_read(&dslab_pages_held);
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&c->sleeping), 1,
			    "the sleeper is not asleep after %u ms",
			    jiffies_to_msecs(waited));
	KUNIT_EXPECT_EQ(test, dslab_runners_count(c, 1), DSLAB_RUNNERS_QUICK);
	KUNIT_EXPECT_LE_MSG(test, jiffies_to_msecs(waited), 1000U,
			    "the quick destructors waited for the sleeper");
	/* Their spans are empty and given back, but a reserve per class. */
	KUNIT_EXPECT_LT_MSG(test, pages2, pages0 + (pages1 - pages0) / 2,
			    "pages: %ld before, %ld allocated, %ld while it sleeps",
			    pages0, pages1, pages2);

	dslab_dtor_barrier();
	KUNIT_EXPECT_EQ(test, atomic_read(&c->slept), 1);
	KUNIT_EXPECT_EQ(test, dslab_runners_count(c, 1), DSLAB_RUNNERS_QUICK + 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->bad), 0);
}

/* The barrier returns only after a sleeping destructor has returned. */
static void dslab_runners_barrier(struct kunit *test)
{
	struct dslab_runners_ctx *c = test->priv;
	struct dslab_runners_obj *o;
	unsigned long t0;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, dslab_runners_alloc_runs(test, 64), 0);
	c->sleep_ms = 300;
	for (i = 0; i < 64; i++) {
		o = dslab_runners_new(test, 32, i, i % 16 == 3);
		KUNIT_ASSERT_NOT_NULL(test, o);
		dslab_free(o);
	}
	t0 = jiffies;
	dslab_dtor_barrier();
	KUNIT_EXPECT_EQ(test, atomic_read(&c->slept), 4);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->sleeping), 0);
	KUNIT_EXPECT_EQ(test, dslab_runners_count(c, 1), 64U);
	/* They sleep side by side, not one after the other. */
	KUNIT_EXPECT_LT(test, jiffies_to_msecs(jiffies - t0), 4 * 300U);
}

#define DSLAB_RUNNERS_PER_CPU	3000

struct dslab_runners_par {
	struct dslab_runners_ctx *c;
	atomic_t failed;
};

static void dslab_runners_par_fn(void *data, unsigned int idx, unsigned int nr)
{
	struct dslab_runners_par *p = data;
	struct dslab_runners_obj *o;
	unsigned int i;
	u32 k;

	for (i = 0; i < DSLAB_RUNNERS_PER_CPU; i++) {
		k = idx * DSLAB_RUNNERS_PER_CPU + i;
		/* Now and then one sleeps: another runner takes the rest. */
		o = dslab_alloc(48, GFP_KERNEL);
		if (!o) {
			atomic_inc(&p->failed);
			continue;
		}
		o->idx = k;
		o->sleeper = k % 997 == 1;
		if (dslab_set_destructor(o, &dslab_runners_dtor))
			atomic_inc(&p->failed);
		dslab_free(o);
	}
}

/* Calls made by each runner, to see how many took part. */
static unsigned int dslab_runners_calls(unsigned long *calls, unsigned int max)
{
	struct dslab_watch *w;
	unsigned int i;

	for (i = 0; i < max && (w = dslab_runner_watch(i)); i++)
		calls[i] = READ_ONCE(w->calls);
	return i;
}

/* From every CPU at once: each destructor exactly once, several runners. */
static void dslab_runners_parallel(struct kunit *test)
{
	struct dslab_runners_ctx *c = test->priv;
	struct dslab_runners_par p = { .c = c };
	unsigned long before[64] = { }, after[64] = { };
	unsigned int cpus = num_online_cpus(), n, i, took_part = 0;
	int ret;

	KUNIT_ASSERT_EQ(test, dslab_runners_alloc_runs(test,
						       cpus * DSLAB_RUNNERS_PER_CPU), 0);
	c->sleep_ms = 20;
	n = dslab_runners_calls(before, ARRAY_SIZE(before));
	ret = dslab_test_on_cpus(dslab_runners_par_fn, &p, 0);
	KUNIT_ASSERT_EQ(test, ret, (int)cpus);
	dslab_dtor_barrier();
	KUNIT_ASSERT_EQ(test, atomic_read(&p.failed), 0);
	KUNIT_EXPECT_EQ(test, dslab_runners_count(c, 1), c->nr);
	KUNIT_EXPECT_EQ(test, dslab_runners_count(c, 0), 0U);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->bad), 0);
	KUNIT_EXPECT_GT(test, atomic_read(&c->slept), 0);

	dslab_runners_calls(after, n);
	for (i = 0; i < n; i++)
		took_part += after[i] != before[i];
	KUNIT_EXPECT_GE_MSG(test, took_part, 2U,
			    "one runner of %u ran every destructor", n);
}

/* Free @nr objects of the case with the counting destructor, from here. */
struct dslab_runners_few {
	unsigned int nr;
	atomic_t failed;
};

static void dslab_runners_few_fn(void *data, unsigned int idx, unsigned int nr)
{
	struct dslab_runners_few *f = data;
	struct dslab_runners_obj *o;
	unsigned int i;

	for (i = 0; i < f->nr; i++) {
		o = dslab_alloc(64, GFP_KERNEL);
		if (!o) {
			atomic_inc(&f->failed);
			continue;
		}
		o->idx = idx * f->nr + i;
		o->sleeper = false;
		if (dslab_set_destructor(o, &dslab_runners_dtor))
			atomic_inc(&f->failed);
		dslab_free(o);
	}
}

/* Wait up to @ms for @n objects' destructors, with no barrier. */
static bool dslab_runners_wait_runs(struct dslab_runners_ctx *c,
				    unsigned int n, unsigned int ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(ms);

	while (dslab_runners_count(c, 1) < n && time_before(jiffies, end))
		usleep_range(5000, 10000);
	return dslab_runners_count(c, 1) == n;
}

/*
 * A few records on every CPU, then nothing: each CPU's open block is
 * partly filled, and its own timer hands it over.  No barrier.
 */
static void dslab_runners_handover(struct kunit *test)
{
	struct dslab_runners_ctx *c = test->priv;
	struct dslab_runners_few f = { .nr = 5 };
	unsigned int cpus = num_online_cpus();
	u64 handovers0 = dslab_test_stat(HANDOVERS);
	int ret;

	KUNIT_ASSERT_EQ(test, dslab_runners_alloc_runs(test, cpus * f.nr), 0);
	ret = dslab_test_on_cpus(dslab_runners_few_fn, &f, 0);
	KUNIT_ASSERT_EQ(test, ret, (int)cpus);
	KUNIT_ASSERT_EQ(test, atomic_read(&f.failed), 0);
	KUNIT_EXPECT_TRUE_MSG(test, dslab_runners_wait_runs(c, c->nr, 1000),
			      "%u of %u destructors ran within 1 s, with no barrier",
			      dslab_runners_count(c, 1), c->nr);
	/* One hand-over per CPU at least: each had a partly filled block. */
	KUNIT_EXPECT_GE(test, dslab_test_stat(HANDOVERS) - handovers0, (u64)cpus);
}

/*
 * A CPU goes offline with records in its open block (its hand-over held
 * back until then): they run all the same, exactly once.
 */
static void dslab_runners_offline(struct kunit *test)
{
	struct dslab_runners_ctx *c = test->priv;
	struct dslab_runners_few f = { .nr = 7 };
	struct dslab_finq_stats st;
	unsigned int cpu = 0, i;
	int threads, ret;

	for_each_online_cpu(i)
		cpu = i;
	if (!cpu)
		kunit_skip(test, "one CPU online: none to take offline");
	KUNIT_ASSERT_EQ(test, dslab_runners_alloc_runs(test, f.nr * nr_cpu_ids), 0);

	WRITE_ONCE(dslab_handover_held, true);
	/* Thread k runs on the k-th online CPU: the last one is @cpu. */
	threads = dslab_test_on_cpus(dslab_runners_few_fn, &f, 0);
	KUNIT_ASSERT_GT(test, threads, 1);
	KUNIT_ASSERT_EQ(test, atomic_read(&f.failed), 0);
	/* Every record waits in an open block, @cpu's among them. */
	dslab_finq_stats(&st);
	KUNIT_EXPECT_EQ(test, st.records_pending, (unsigned long)f.nr * threads);

	ret = remove_cpu(cpu);
	WRITE_ONCE(dslab_handover_held, false);
	if (ret)
		kunit_skip(test, "remove_cpu(%u): %d", cpu, ret);
	/* The other CPUs hand theirs over; the leader takes @cpu's. */
	KUNIT_EXPECT_TRUE_MSG(test, dslab_runners_wait_runs(c, f.nr * threads, 2000),
			      "CPU %u offline: %u of %u destructors ran",
			      cpu, dslab_runners_count(c, 1), f.nr * threads);
	KUNIT_EXPECT_EQ(test, add_cpu(cpu), 0);
	dslab_dtor_barrier();
	KUNIT_EXPECT_EQ(test, dslab_runners_count(c, 1), f.nr * threads);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->bad), 0);
}

#define DSLAB_RUNNERS_FLOOD	6000
#define DSLAB_RUNNERS_BACKLOG	1000

static unsigned long dslab_runners_backlog(void)
{
	struct dslab_finq_stats st;

	dslab_finq_stats(&st);
	return st.records_pending;
}

/*
 * One task registers (GFP_KERNEL) and frees 6000 objects whose
 * destructors sleep 500 us each, one at a time (a mutex): 2000 a second
 * at most, however many runners join, and without taking the CPU from
 * the task.  With backlog_max at 1000 the backlog stays within it, give
 * or take the open blocks and what was freed since the last look; an
 * atomic registration is not held back even beyond it.
 */
static void dslab_runners_throttle(struct kunit *test)
{
	struct dslab_runners_ctx *c = test->priv;
	unsigned int saved = READ_ONCE(dslab_backlog_max), i;
	unsigned long most = 0, slack, t0;
	struct dslab_runners_obj *o;
	u64 held0, held1;

	KUNIT_ASSERT_EQ(test, dslab_runners_alloc_runs(test, DSLAB_RUNNERS_FLOOD + 1), 0);
	c->serial_us = 500;
	held0 = dslab_test_stat(THROTTLED);
	WRITE_ONCE(dslab_backlog_max, DSLAB_RUNNERS_BACKLOG);
	for (i = 0; i < DSLAB_RUNNERS_FLOOD; i++) {
		o = dslab_alloc(32, GFP_KERNEL);
		if (!o)
			break;
		o->idx = i;
		o->sleeper = false;
		if (dslab_set_destructor_gfp(o, &dslab_runners_dtor, GFP_KERNEL)) {
			dslab_free(o);
			break;
		}
		dslab_free(o);
		if (i % 32 == 0)
			most = max(most, dslab_runners_backlog());
	}
	KUNIT_EXPECT_EQ(test, i, DSLAB_RUNNERS_FLOOD);
	held1 = dslab_test_stat(THROTTLED);

	/* Beyond the bound now; an atomic registration goes through. */
	WRITE_ONCE(dslab_backlog_max, 1);
	o = dslab_alloc(32, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, o);
	o->idx = DSLAB_RUNNERS_FLOOD;
	o->sleeper = false;
	t0 = jiffies;
	KUNIT_EXPECT_EQ(test, dslab_set_destructor(o, &dslab_runners_dtor), 0);
	KUNIT_EXPECT_LE(test, jiffies - t0, 1UL);
	KUNIT_EXPECT_EQ(test, dslab_test_stat(THROTTLED), held1);
	dslab_free(o);
	WRITE_ONCE(dslab_backlog_max, saved);

	dslab_dtor_barrier();
	KUNIT_EXPECT_EQ(test, dslab_runners_count(c, 1), DSLAB_RUNNERS_FLOOD + 1);
	KUNIT_EXPECT_GT(test, held1, held0);
	/* Open blocks of every CPU, and 32 frees since the last look. */
	slack = num_online_cpus() * DSLAB_FINBLOCK_RECORDS + 32;
	KUNIT_EXPECT_LE_MSG(test, most, DSLAB_RUNNERS_BACKLOG + slack,
			    "backlog reached %lu, bound %u + %lu",
			    most, DSLAB_RUNNERS_BACKLOG, slack);
}

static struct kunit_case dslab_runners_cases[] = {
	KUNIT_CASE_SLOW(dslab_runners_sleeper),
	KUNIT_CASE(dslab_runners_barrier),
	KUNIT_CASE(dslab_runners_parallel),
	KUNIT_CASE(dslab_runners_handover),
	KUNIT_CASE(dslab_runners_offline),
	KUNIT_CASE_SLOW(dslab_runners_throttle),
	{}
};

static struct kunit_suite dslab_runners_suite = {
	.name = "dslab_runners",
	.init = dslab_runners_test_init,
	.exit = dslab_runners_test_exit,
	.test_cases = dslab_runners_cases,
};

kunit_test_suite(dslab_runners_suite);
