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
 * runner that sleeps as for any other.
 */
#include <linux/delay.h>
#include <linux/jiffies.h>

#include "dslab_test.h"

struct dslab_runners_ctx {
	unsigned int nr;
	atomic_t *runs;			/* [nr] runs per object */
	atomic_t bad;			/* an object the case did not make */
	atomic_t sleeping;		/* sleepers asleep now */
	atomic_t slept;			/* sleepers that returned */
	unsigned int sleep_ms;
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
	test->priv = c;
	WRITE_ONCE(dslab_runners_cur, c);
	return 0;
}

static void dslab_runners_test_exit(struct kunit *test)
{
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

static struct kunit_case dslab_runners_cases[] = {
	KUNIT_CASE_SLOW(dslab_runners_sleeper),
	KUNIT_CASE(dslab_runners_barrier),
	KUNIT_CASE(dslab_runners_parallel),
	{}
};

static struct kunit_suite dslab_runners_suite = {
	.name = "dslab_runners",
	.init = dslab_runners_test_init,
	.exit = dslab_runners_test_exit,
	.test_cases = dslab_runners_cases,
};

kunit_test_suite(dslab_runners_suite);
