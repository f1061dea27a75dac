// SPDX-License-Identifier: GPL-2.0
/*
 * Suite dslab_watch: the runner's instruments (mm/watch.c).
 *
 * While a destructor runs, the runner's watch names it; every call is
 * counted and exactly every DSLAB_WATCH_SAMPLE-th lands in the histogram;
 * a run of slow_dtor_ms or more is counted and reported once per function;
 * the longest recent run is kept with its symbol; and slow_dtor_ms=0
 * switches the slow count off.
 */
#include <linux/delay.h>
#include <linux/string.h>

#include "dslab_test.h"

struct dslab_watch_case {
	atomic_t runs;
	atomic_t saw_self;	/* the watch named the running destructor */
	unsigned int sleep_ms;
};

static struct dslab_watch_case *dslab_watch_cur;
static unsigned int dslab_watch_saved_ms;

static void dslab_watch_sleep_fn(void *obj)
{
	struct dslab_watch_case *c = READ_ONCE(dslab_watch_cur);

	if (!c)
		return;
	/* The watch of the runner calling us names us. */
	if (READ_ONCE(dslab_current_watch()->fn) == (void *)dslab_watch_sleep_fn)
		atomic_inc(&c->saw_self);
	if (c->sleep_ms)
		msleep(c->sleep_ms);
	atomic_inc(&c->runs);
}

static const struct dslab_dtor dslab_watch_sleep_dtor = {
	.fn = dslab_watch_sleep_fn,
};

/* Allocate, register, free and wait for @n objects' destructors. */
static void dslab_watch_run(struct kunit *test, unsigned int n)
{
	unsigned int i;
	void *p;

	for (i = 0; i < n; i++) {
		p = dslab_alloc(32, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_ASSERT_EQ(test, dslab_set_destructor(p, &dslab_watch_sleep_dtor), 0);
		dslab_free(p);
	}
	dslab_dtor_barrier();
}

/* Every runner's watch added up (watch.c); a static: it is large. */
static struct dslab_watch dslab_watch_total;

static struct dslab_watch *dslab_watch_summed(void)
{
	dslab_watch_sum(&dslab_watch_total);
	return &dslab_watch_total;
}

static unsigned long dslab_watch_hist_total(void)
{
	struct dslab_watch *w = dslab_watch_summed();
	unsigned long n = 0;
	unsigned int b;

	for (b = 0; b < DSLAB_WATCH_BUCKETS; b++)
		n += w->hist[b];
	return n;
}

/* Reads for the expectations, so that a failure names them plainly. */
static unsigned long dslab_watch_slow_runs(void)
{
	return dslab_watch_summed()->slow;
}

static unsigned long dslab_watch_calls(void)
{
	return dslab_watch_summed()->calls;
}

static const void *dslab_watch_running(void)
{
	return dslab_watch_summed()->fn;
}

/*
 * Each runner times its own calls 16, 32, ...: the sum over runners of
 * calls / 16 now; a case subtracts the same sum taken before.
 */
static unsigned long dslab_watch_sampled(void)
{
	struct dslab_watch *w;
	unsigned long n = 0;
	unsigned int i;

	for (i = 0; (w = dslab_runner_watch(i)); i++)
		n += READ_ONCE(w->calls) / DSLAB_WATCH_SAMPLE;
	return n;
}

/* Forget every runner's longest run, so that the next one replaces it. */
static void dslab_watch_forget_longest(void)
{
	struct dslab_watch *w;
	unsigned long flags;
	unsigned int i;

	for (i = 0; (w = dslab_runner_watch(i)); i++) {
		spin_lock_irqsave(&w->lock, flags);
		w->longest_ns = 0;
		spin_unlock_irqrestore(&w->lock, flags);
	}
}

static int dslab_watch_test_init(struct kunit *test)
{
	struct dslab_watch_case *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);

	if (!c)
		return -ENOMEM;
	dslab_test_drain();
	dslab_watch_saved_ms = READ_ONCE(dslab_slow_dtor_ms);
	test->priv = c;
	WRITE_ONCE(dslab_watch_cur, c);
	return 0;
}

static void dslab_watch_test_exit(struct kunit *test)
{
	dslab_test_drain();
	WRITE_ONCE(dslab_watch_cur, NULL);
	WRITE_ONCE(dslab_slow_dtor_ms, dslab_watch_saved_ms);
}

/* Quick runs: each is counted, the sampled ones timed, none is slow. */
static void dslab_watch_histogram(struct kunit *test)
{
	struct dslab_watch_case *c = test->priv;
	unsigned long h0 = dslab_watch_hist_total();
	unsigned long slow0 = dslab_watch_slow_runs();
	unsigned long calls0 = dslab_watch_calls(), calls;
	unsigned long sampled0 = dslab_watch_sampled();
	u64 run0 = dslab_test_stat(DTOR_RUN) + dslab_test_stat(CLEANUP_RUN);
	u64 runs;

	WRITE_ONCE(dslab_slow_dtor_ms, 1000);
	dslab_watch_run(test, 40);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->runs), 40);
	runs = dslab_test_stat(DTOR_RUN) + dslab_test_stat(CLEANUP_RUN) - run0;
	KUNIT_EXPECT_EQ(test, runs, 40ULL);
	calls = dslab_watch_calls();
	KUNIT_EXPECT_EQ(test, (u64)(calls - calls0), runs);
	/* Each runner's calls number 16, 32, ... were timed. */
	KUNIT_EXPECT_EQ(test, dslab_watch_hist_total() - h0,
			dslab_watch_sampled() - sampled0);
	KUNIT_EXPECT_EQ(test, dslab_watch_slow_runs(), slow0);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->saw_self), 40);
	KUNIT_EXPECT_NULL(test, dslab_watch_running());
}

/* A slow destructor: counted each time, reported once, the longest. */
static void dslab_watch_slow(struct kunit *test)
{
	struct dslab_watch_case *c = test->priv;
	unsigned long slow0 = dslab_watch_slow_runs();
	char want[KSYM_SYMBOL_LEN];
	struct dslab_watch *w;

	/* Forget the longest run so far: this one must take its place. */
	dslab_watch_forget_longest();

	WRITE_ONCE(dslab_slow_dtor_ms, 20);
	c->sleep_ms = 60;
	dslab_watch_run(test, 2);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->runs), 2);
	KUNIT_EXPECT_EQ(test, dslab_watch_slow_runs(), slow0 + 2);
	KUNIT_EXPECT_TRUE(test, dslab_watch_reported(dslab_watch_sleep_fn, false));

	w = dslab_watch_summed();
	/* Exact if sampled, else at most two ticks short (watch.c). */
	KUNIT_EXPECT_GE(test, w->longest_ns, 60ULL * NSEC_PER_MSEC - 2 * TICK_NSEC);
	snprintf(want, sizeof(want), "%ps", dslab_watch_sleep_fn);
	KUNIT_EXPECT_STREQ(test, w->longest_sym, want);

	/* slow_dtor_ms=0: no longer counted. */
	WRITE_ONCE(dslab_slow_dtor_ms, 0);
	dslab_watch_run(test, 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->runs), 3);
	KUNIT_EXPECT_EQ(test, dslab_watch_slow_runs(), slow0 + 2);
}

static struct kunit_case dslab_watch_cases[] = {
	KUNIT_CASE(dslab_watch_histogram),
	KUNIT_CASE(dslab_watch_slow),
	{}
};

static struct kunit_suite dslab_watch_suite = {
	.name = "dslab_watch",
	.init = dslab_watch_test_init,
	.exit = dslab_watch_test_exit,
	.test_cases = dslab_watch_cases,
};

kunit_test_suite(dslab_watch_suite);
