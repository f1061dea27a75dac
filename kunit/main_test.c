// SPDX-License-Identifier: GPL-2.0
/*
 * dslab_test.ko: the KUnit suites for dslab.ko, and suite dslab_main.
 *
 * dslab_main checks that the module under test is there and usable: its
 * exported API resolves by name to GPL-only symbols of a module other than
 * this one, the debugfs directory exists, and a first allocation works.
 * It also carries the harness self-test: loading dslab_test with
 * selftest_fail=1 makes one case fail on purpose, so the VM runner can
 * show that a failing KUnit case fails `make check`.
 *
 * The context helpers of dslab_test.h (every CPU, hardirq, softirq) live here
 * too.  Documentation/testing.rst describes the suites.
 */
#define pr_fmt(fmt) "dslab_test: " fmt

#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/timer.h>

#include "dslab_test.h"

static bool selftest_fail;
module_param(selftest_fail, bool, 0444);
MODULE_PARM_DESC(selftest_fail,
		 "make dslab_main.harness_selftest fail on purpose (harness self-test)");

/* === Helpers shared by the suites (dslab_test.h) === */

void dslab_test_class_desc(const struct dslab_class_info *ci, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "class %u (%u bytes)",
		 (unsigned int)(ci - dslab_classes), ci->size);
}

static int dslab_test_ptr_cmp(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

unsigned int dslab_test_overlaps(void **objs, unsigned int n, size_t size)
{
	unsigned int i, bad = 0;

	sort(objs, n, sizeof(*objs), dslab_test_ptr_cmp, NULL);
	for (i = 1; i < n; i++)
		if ((unsigned long)objs[i - 1] + size > (unsigned long)objs[i])
			bad++;
	return bad;
}

struct dslab_test_cpus {
	void (*fn)(void *data, unsigned int idx, unsigned int nr);
	void *data;
	unsigned int nr;
	bool abort;			/* set before go: do not run fn */
	struct completion go;		/* released when all threads exist */
	atomic_t running;
	struct completion all_done;
};

struct dslab_test_thread {
	struct dslab_test_cpus *ctl;
	struct task_struct *task;
	unsigned int idx;
};

static int dslab_test_thread_fn(void *arg)
{
	struct dslab_test_thread *t = arg;
	struct dslab_test_cpus *ctl = t->ctl;

	wait_for_completion(&ctl->go);
	if (!READ_ONCE(ctl->abort))
		ctl->fn(ctl->data, t->idx, ctl->nr);
	if (atomic_dec_and_test(&ctl->running))
		complete(&ctl->all_done);
	/* Stay until kthread_stop() so the task cannot vanish under it. */
	set_current_state(TASK_INTERRUPTIBLE);
	while (!kthread_should_stop()) {
		schedule();
		set_current_state(TASK_INTERRUPTIBLE);
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

int dslab_test_on_cpus(void (*fn)(void *data, unsigned int idx,
				  unsigned int nr),
		       void *data, unsigned int max_threads)
{
	struct dslab_test_thread *threads;
	struct dslab_test_cpus ctl = { .fn = fn, .data = data };
	unsigned int n = 0, i, cpu;
	int ret = 0;

	init_completion(&ctl.go);
	init_completion(&ctl.all_done);
	threads = kcalloc(nr_cpu_ids, sizeof(*threads), GFP_KERNEL);
	if (!threads)
		return -ENOMEM;

	cpus_read_lock();
	for_each_online_cpu(cpu) {
		struct task_struct *task;

		if (max_threads && n == max_threads)
			break;
		threads[n].ctl = &ctl;
		threads[n].idx = n;
		task = kthread_create(dslab_test_thread_fn, &threads[n],
				      "dslab_test/%u", cpu);
		if (IS_ERR(task)) {
			ret = PTR_ERR(task);
			break;
		}
		kthread_bind(task, cpu);
		threads[n].task = task;
		n++;
	}
	/*
	 * Not held while the threads run: they may take it themselves
	 * (dslab_shrink() does), and a hotplug writer queued in between
	 * would deadlock us.  The tests do not hotplug CPUs.
	 */
	cpus_read_unlock();
	ctl.nr = n;
	atomic_set(&ctl.running, n);
	for (i = 0; i < n; i++)
		wake_up_process(threads[i].task);
	if (ret) {
		/* Released with abort set: fn runs nowhere. */
		WRITE_ONCE(ctl.abort, true);
		complete_all(&ctl.go);
		for (i = 0; i < n; i++)
			kthread_stop(threads[i].task);
		kfree(threads);
		return ret;
	}
	complete_all(&ctl.go);
	if (n)
		wait_for_completion(&ctl.all_done);
	for (i = 0; i < n; i++)
		kthread_stop(threads[i].task);
	kfree(threads);
	return n;
}

struct dslab_test_irq {
	void (*fn)(void *data);
	void *data;
	bool right_context;
	struct completion done;
	struct hrtimer hrtimer;
	struct timer_list timer;
};

static enum hrtimer_restart dslab_test_hrtimer_fn(struct hrtimer *timer)
{
	struct dslab_test_irq *irq = container_of(timer, struct dslab_test_irq,
						  hrtimer);

	irq->right_context = in_hardirq();
	irq->fn(irq->data);
	complete(&irq->done);
	return HRTIMER_NORESTART;
}

/*
 * Not HRTIMER_MODE_REL_HARD: a _HARD timer's callback runs in hard
 * interrupt context on PREEMPT_RT too, where only raw spinlocks may be
 * taken and no memory allocated, and lockdep holds every kernel with
 * PROVE_RAW_LOCK_NESTING (on by default for x86 from 7.x) to that rule.
 * A plain hrtimer expires in hard interrupt context without PREEMPT_RT,
 * which is what the cases test; with it, in a softirq thread.
 */
bool dslab_test_in_hardirq(void (*fn)(void *data), void *data)
{
	struct dslab_test_irq irq = { .fn = fn, .data = data };

	init_completion(&irq.done);
	hrtimer_setup_on_stack(&irq.hrtimer, dslab_test_hrtimer_fn,
			       CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	hrtimer_start(&irq.hrtimer, ns_to_ktime(100 * NSEC_PER_USEC),
		      HRTIMER_MODE_REL);
	wait_for_completion(&irq.done);
	hrtimer_cancel(&irq.hrtimer);
	destroy_hrtimer_on_stack(&irq.hrtimer);
	return irq.right_context;
}

static void dslab_test_timer_fn(struct timer_list *t)
{
	struct dslab_test_irq *irq = timer_container_of(irq, t, timer);

	irq->right_context = in_serving_softirq();
	irq->fn(irq->data);
	complete(&irq->done);
}

bool dslab_test_in_softirq(void (*fn)(void *data), void *data)
{
	struct dslab_test_irq irq = { .fn = fn, .data = data };

	init_completion(&irq.done);
	timer_setup_on_stack(&irq.timer, dslab_test_timer_fn, 0);
	mod_timer(&irq.timer, jiffies + 1);
	wait_for_completion(&irq.done);
	timer_delete_sync(&irq.timer);
	timer_destroy_on_stack(&irq.timer);
	return irq.right_context;
}

/* === A type shared with dtor_test.c, and a file-private twin === */

DSLAB_TYPE(dslab_test_twin_type, struct dslab_test_shared);

struct dslab_test_shared *dslab_test_new_shared(gfp_t gfp)
{
	return dslab_new_typed(dslab_test_shared_type, gfp);
}

struct dslab_test_shared *dslab_test_new_twin(gfp_t gfp)
{
	return dslab_new_typed(dslab_test_twin_type, gfp);
}

/* === Suite dslab_main === */

/* The public API, by name: each must be a GPL-only export of dslab.ko. */
static const char *const dslab_test_api[] = {
	"dslab_alloc", "dslab_free", "dslab_alloc_bulk", "dslab_free_bulk",
	"dslab_ksize", "__dslab_find_object", "dslab_new",
	"__dslab_set_destructor", "__dslab_add_cleanup",
	"dslab_cleanup_cancel", "dslab_dtor_barrier", "dslab_free_rcu",
	"dslab_new_size", "dslab_alloc_array", "dslab_calloc", "dslab_realloc",
	"dslab_memdup", "dslab_strdup", "__dslab_new_dtor",
};

static void dslab_main_api_symbols(struct kunit *test)
{
	const void *direct[] = {
		dslab_alloc, dslab_free, dslab_alloc_bulk, dslab_free_bulk,
		dslab_ksize, __dslab_find_object, dslab_new,
		__dslab_set_destructor, __dslab_add_cleanup,
		dslab_cleanup_cancel, dslab_dtor_barrier, dslab_free_rcu,
		dslab_new_size, dslab_alloc_array, dslab_calloc, dslab_realloc,
		dslab_memdup, dslab_strdup, __dslab_new_dtor,
	};
	unsigned int i;

	BUILD_BUG_ON(ARRAY_SIZE(direct) != ARRAY_SIZE(dslab_test_api));
	for (i = 0; i < ARRAY_SIZE(dslab_test_api); i++) {
		/* __symbol_get() only finds GPL-only exports. */
		void *sym = __symbol_get(dslab_test_api[i]);

		KUNIT_EXPECT_NOT_NULL_MSG(test, sym,
					  "%s is not an EXPORT_SYMBOL_GPL symbol",
					  dslab_test_api[i]);
		if (!sym)
			continue;
		KUNIT_EXPECT_PTR_EQ_MSG(test, (const void *)sym, direct[i],
					"%s resolves to two addresses",
					dslab_test_api[i]);
		KUNIT_EXPECT_FALSE_MSG(test,
				       within_module((unsigned long)sym,
						     THIS_MODULE),
				       "%s is inside dslab_test itself",
				       dslab_test_api[i]);
		__symbol_put(dslab_test_api[i]);
	}
}

static void dslab_main_module_loaded(struct kunit *test)
{
	long inuse = dslab_objects_inuse();
	u64 allocs = dslab_test_stat(ALLOC);
	void *p, *base = NULL;
	size_t size = 0;

	KUNIT_EXPECT_GT(test, (int)DSLAB_NR_CLASSES, 0);
	KUNIT_EXPECT_EQ(test, dslab_classes[DSLAB_NR_CLASSES - 1].size,
			(u32)DSLAB_MAX_SMALL_SIZE);

	p = dslab_alloc(64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	KUNIT_EXPECT_TRUE(test, dslab_find_object(p, &base, &size));
	KUNIT_EXPECT_PTR_EQ(test, base, p);
	KUNIT_EXPECT_GE(test, size, (size_t)64);
	KUNIT_EXPECT_EQ(test, size, dslab_ksize(p));
	KUNIT_EXPECT_GE(test, dslab_test_stat(ALLOC), allocs + 1);
	KUNIT_EXPECT_GE(test, dslab_objects_inuse(), inuse + 1);
	dslab_free(p);
	KUNIT_EXPECT_FALSE(test, dslab_find_object(p, &base, &size));
}

static void dslab_main_debugfs(struct kunit *test)
{
	struct dentry *dir;

	if (!IS_ENABLED(CONFIG_DEBUG_FS))
		kunit_skip(test, "kernel built without CONFIG_DEBUG_FS");
	if (!debugfs_initialized())
		kunit_skip(test, "debugfs not registered (debugfs=off?)");
	dir = debugfs_lookup("dslab", NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL_MSG(test, dir,
					 "/sys/kernel/debug/dslab missing");
	KUNIT_EXPECT_TRUE(test, d_is_dir(dir));
	dput(dir);
}

static void dslab_main_harness_selftest(struct kunit *test)
{
	if (selftest_fail)
		KUNIT_FAIL(test,
			   "deliberate failure: dslab_test loaded with selftest_fail=1 (harness self-test)");
	KUNIT_SUCCEED(test);
}

static struct kunit_case dslab_main_cases[] = {
	KUNIT_CASE(dslab_main_module_loaded),
	KUNIT_CASE(dslab_main_api_symbols),
	KUNIT_CASE(dslab_main_debugfs),
	KUNIT_CASE(dslab_main_harness_selftest),
	{}
};

static struct kunit_suite dslab_main_suite = {
	.name = "dslab_main",
	.test_cases = dslab_main_cases,
};

kunit_test_suite(dslab_main_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit suites for the dslab allocator");
MODULE_IMPORT_NS(DSLAB_NS);
MODULE_IMPORT_NS(DSLAB_KUNIT_NS);
