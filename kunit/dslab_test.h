/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by dslab's KUnit suites (module dslab_test.ko).
 *
 * The suites test dslab.ko from outside, through its public API
 * (include/linux/dslab.h) and the internal one (mm/dslab.h, symbols in
 * the DSLAB_INTERNAL namespace).  Everything here runs a piece of test
 * code in a particular context: on every CPU at once, in hardirq (an
 * hrtimer callback) or in softirq (a timer_list callback).  The helpers
 * are defined in main_test.c.
 */
#ifndef _DSLAB_KUNIT_TEST_H
#define _DSLAB_KUNIT_TEST_H

#include <kunit/test.h>
#include <linux/kallsyms.h>
#include <linux/dslab.h>

#include "dslab.h"

/* 6.1's KUnit has no attributes: a slow case is an ordinary one there. */
#ifndef KUNIT_CASE_SLOW
#define KUNIT_CASE_SLOW(test_name) KUNIT_CASE(test_name)
#endif

/*
 * KUNIT_ARRAY_PARAM generator over every size class: the parameter is a
 * pointer into dslab_classes[]; dslab_test_class_index() turns it back
 * into the class number.
 */
void dslab_test_class_desc(const struct dslab_class_info *ci, char *desc);
#define DSLAB_TEST_CLASS_PARAMS(name)					\
	KUNIT_ARRAY_PARAM(name, dslab_classes, dslab_test_class_desc)

static inline unsigned int dslab_test_class_index(struct kunit *test)
{
	const struct dslab_class_info *ci = test->param_value;

	return ci - dslab_classes;
}

/*
 * Run @fn(@data, idx, nr) in @nr kthreads, thread idx bound to the idx-th
 * online CPU (at most @max_threads of them; 0 means one per online CPU),
 * released together, and wait for all of them.  Returns @nr, or -errno
 * when a thread could not be created (then @fn ran nowhere).
 *
 * @fn must not use KUNIT_ASSERT_*() (an abort would kill the helper
 * thread, not the case): count errors in atomics and check them in the
 * case.
 */
int dslab_test_on_cpus(void (*fn)(void *data, unsigned int idx,
				  unsigned int nr),
		       void *data, unsigned int max_threads);

/* A reusable spinning barrier for the threads of dslab_test_on_cpus(). */
struct dslab_test_barrier {
	unsigned int n;
	atomic_t arrived;
	atomic_t gen;
};

static inline void dslab_test_barrier_init(struct dslab_test_barrier *b,
					   unsigned int n)
{
	b->n = n;
	atomic_set(&b->arrived, 0);
	atomic_set(&b->gen, 0);
}

static inline void dslab_test_barrier_wait(struct dslab_test_barrier *b)
{
	int gen = atomic_read(&b->gen);

	/* Fully ordered: the read of gen above happens before arriving. */
	if (atomic_inc_return(&b->arrived) == b->n) {
		atomic_set(&b->arrived, 0);
		/* Pairs with atomic_read_acquire() below. */
		atomic_inc_return_release(&b->gen);
		return;
	}
	while (atomic_read_acquire(&b->gen) == gen)
		cond_resched();
}

/* Threads the case would get from dslab_test_on_cpus(.., 0). */
static inline unsigned int dslab_test_nr_threads(void)
{
	return num_online_cpus();
}

/*
 * Number of overlapping pairs among @n objects of @size bytes each (0 when
 * all are distinct and disjoint).  Sorts @objs.
 */
unsigned int dslab_test_overlaps(void **objs, unsigned int n, size_t size);

/*
 * Usable size of an object of @class: the class size, minus the red zone
 * when dslab runs in debug mode.  dslab_alloc(dslab_test_usable(c)) lands
 * in class c in both modes.
 */
static inline size_t dslab_test_usable(unsigned int class)
{
	return dslab_classes[class].size - (dslab_debug ? DSLAB_REDZONE : 0);
}

/* Smallest request that lands in @class. */
static inline size_t dslab_test_min_request(unsigned int class)
{
	return class ? dslab_test_usable(class - 1) + 1 : 1;
}

/*
 * Run @fn(@data) once from an hrtimer callback in hardirq context and wait
 * for it.  Returns true when it really ran with in_hardirq() true.  Not
 * on PREEMPT_RT: see DSLAB_TEST_NO_HARDIRQ.
 */
bool dslab_test_in_hardirq(void (*fn)(void *data), void *data);

/*
 * PREEMPT_RT allows no dslab call in hard interrupt context, as it allows
 * no kmalloc() there (Documentation/api.rst, "Context"), and a plain
 * hrtimer expires in a thread: cases that need hardirq skip, saying so.
 */
#define DSLAB_TEST_NO_HARDIRQ_WHY \
	"PREEMPT_RT: no dslab call (like no kmalloc) in hard interrupt context"
#define DSLAB_TEST_NO_HARDIRQ	IS_ENABLED(CONFIG_PREEMPT_RT)

/*
 * Run @fn(@data) once from a timer_list callback (softirq) and wait for
 * it.  Returns true when it really ran with in_serving_softirq() true.
 */
bool dslab_test_in_softirq(void (*fn)(void *data), void *data);

/* Wait until dslab's runner has run everything queued so far. */
static inline void dslab_test_drain(void)
{
	dslab_dtor_barrier();
}

/*
 * The cases free badly on purpose and check the counters and the caller
 * dslab names (dslab_test_bad_free_caller()); the first bad free would
 * WARN (mm/alloc.c), which the harness takes for a kernel report.  The
 * suites' .init quiets it and .exit restores it.
 */
static inline void dslab_test_quiet_bad_frees(bool quiet)
{
	WRITE_ONCE(dslab_warn_bad_free, !quiet);
}

/* Does the caller dslab named for the last bad free print as @fn? */
static inline bool dslab_test_bad_free_by(const char *fn)
{
	char buf[KSYM_SYMBOL_LEN];

	size_t n = strlen(fn);

	snprintf(buf, sizeof(buf), "%ps", (void *)READ_ONCE(dslab_bad_free_caller));
	/* "fn [dslab_test]"; GCC may have moved the call into fn.cold. */
	return !strncmp(buf, fn, n) && (!buf[n] || buf[n] == ' ' || buf[n] == '.');
}

/* Read a counter; deltas of two reads are exact when nothing else runs. */
#define dslab_test_stat(item) dslab_stat_read(DSLAB_STAT_##item)

/* FinBlock records reserved by registrations (the cases' leak checks). */
static inline unsigned long dslab_test_reserved(void)
{
	struct dslab_finq_stats st;

	dslab_finq_stats(&st);
	return st.records_reserved;
}

/*
 * A type shared between the suites' files, as a client shares one through
 * a header: declared here, defined once in dtor_test.c.  main_test.c
 * allocates objects of it, and of a file-private twin of the same C type
 * (DSLAB_TYPE() in one file), for the dslab_dtor_shared_type case.
 */
struct dslab_test_shared {
	u64 magic;
	u8 payload[56];
};

DSLAB_TYPE_DECLARE(dslab_test_shared_type, struct dslab_test_shared);
struct dslab_test_shared *dslab_test_new_shared(gfp_t gfp);
struct dslab_test_shared *dslab_test_new_twin(gfp_t gfp);

#endif /* _DSLAB_KUNIT_TEST_H */
