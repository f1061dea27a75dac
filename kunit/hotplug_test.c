// SPDX-License-Identifier: GPL-2.0
/*
 * Suite dslab_hotplug: a CPU that goes offline (mm/main.c's CPU hotplug
 * callback).
 *
 * Its magazines go back to the central lists at once, so that freeing
 * the empty spans (dslab_span_trim(), which drains no CPU cache) returns
 * every page, and it comes back with empty magazines; while CPUs go
 * offline and come back in a loop, objects with destructors allocated
 * and freed on every CPU have each destructor run exactly once, and the
 * pages held return to where they were.
 *
 * Memory that comes online above the page map's range (mm/pagemap.c's
 * memory notifier): the notifier is called directly, as memory hotplug
 * would call it, since the test kernels have no hot-pluggable memory.
 */
#include <linux/cpu.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/memory.h>

#include "dslab_test.h"

/* The last online CPU, which the cases take offline; 0 when alone. */
static unsigned int dslab_hotplug_victim(void)
{
	unsigned int cpu, last = 0;

	for_each_online_cpu(cpu)
		last = cpu;
	return last;
}

struct dslab_hotplug_fill {
	unsigned int cpu;
	atomic_t failed;
};

/* On the victim: take objects through its magazine and free them there. */
static void dslab_hotplug_fill_fn(void *data, unsigned int idx, unsigned int nr)
{
	struct dslab_hotplug_fill *f = data;
	void *objs[16];
	unsigned int i;

	if (smp_processor_id() != f->cpu)
		return;
	for (i = 0; i < ARRAY_SIZE(objs); i++) {
		objs[i] = dslab_alloc(4096, GFP_KERNEL);
		if (!objs[i])
			atomic_inc(&f->failed);
	}
	for (i = 0; i < ARRAY_SIZE(objs); i++)
		dslab_free(objs[i]);
}

/* Pages held once every empty span is freed, CPU caches left alone. */
static long dslab_hotplug_pages(void)
{
	dslab_span_trim(0);
	return atomic_long_read(&dslab_pages_held);
}

/* A dead CPU's magazines go back at once: its spans empty out. */
static void dslab_hotplug_magazines(struct kunit *test)
{
	struct dslab_hotplug_fill f = { .cpu = dslab_hotplug_victim() };
	long base, filled, after;
	int ret;

	if (!f.cpu)
		kunit_skip(test, "one CPU online: none to take offline");
	dslab_shrink();
	base = dslab_hotplug_pages();
	ret = dslab_test_on_cpus(dslab_hotplug_fill_fn, &f, 0);
	KUNIT_ASSERT_GT(test, ret, 0);
	KUNIT_ASSERT_EQ(test, atomic_read(&f.failed), 0);
	filled = dslab_hotplug_pages();
	/* The objects wait in the victim's magazine: their spans stay. */
	KUNIT_EXPECT_GT(test, filled, base);

	ret = remove_cpu(f.cpu);
	if (ret)
		kunit_skip(test, "remove_cpu(%u): %d", f.cpu, ret);
	after = dslab_hotplug_pages();
	KUNIT_EXPECT_EQ(test, add_cpu(f.cpu), 0);
	KUNIT_EXPECT_EQ_MSG(test, after, base,
			    "pages: %ld before, %ld in the magazine, %ld once CPU %u died",
			    base, filled, after, f.cpu);
}

/* === Destructors while CPUs come and go === */

#define DSLAB_HOTPLUG_ROUNDS	4
#define DSLAB_HOTPLUG_PER_CPU	4000

struct dslab_hotplug_load {
	atomic_t *runs;
	unsigned int nr;
	atomic_t bad, failed;
};

static struct dslab_hotplug_load *dslab_hotplug_cur;

struct dslab_hotplug_obj {
	u32 idx;
};

static void dslab_hotplug_dtor_fn(void *obj)
{
	struct dslab_hotplug_load *l = READ_ONCE(dslab_hotplug_cur);
	struct dslab_hotplug_obj *o = obj;

	if (!l || o->idx >= l->nr) {
		if (l)
			atomic_inc(&l->bad);
		return;
	}
	atomic_inc(&l->runs[o->idx]);
}

static const struct dslab_dtor dslab_hotplug_dtor = {
	.fn = dslab_hotplug_dtor_fn,
};

/* A kthread per CPU (unbound: the victim's is moved when it goes). */
static int dslab_hotplug_load_fn(void *arg)
{
	struct dslab_hotplug_load *l = dslab_hotplug_cur;
	unsigned int base = (uintptr_t)arg * DSLAB_HOTPLUG_PER_CPU, i;
	struct dslab_hotplug_obj *o;

	for (i = 0; i < DSLAB_HOTPLUG_PER_CPU; i++) {
		o = dslab_alloc(64, GFP_KERNEL);
		if (!o) {
			atomic_inc(&l->failed);
			continue;
		}
		o->idx = base + i;
		if (dslab_set_destructor_gfp(o, &dslab_hotplug_dtor, GFP_KERNEL))
			atomic_inc(&l->failed);
		dslab_free(o);
		if (!(i % 64))
			cond_resched();
	}
	return 0;
}

/*
 * Two threads allocate, register and free while the last CPU goes
 * offline and comes back four times: every destructor runs exactly once,
 * and the pages go back.
 */
static void dslab_hotplug_cycles(struct kunit *test)
{
	unsigned int victim = dslab_hotplug_victim(), i, rounds, once = 0;
	struct task_struct *t[2];
	struct dslab_hotplug_load *l;
	long base;
	int ret;

	if (!victim)
		kunit_skip(test, "one CPU online: none to take offline");
	l = kunit_kzalloc(test, sizeof(*l), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, l);
	l->nr = ARRAY_SIZE(t) * DSLAB_HOTPLUG_PER_CPU;
	l->runs = kunit_kcalloc(test, l->nr, sizeof(*l->runs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, l->runs);
	dslab_shrink();
	base = dslab_hotplug_pages();
	WRITE_ONCE(dslab_hotplug_cur, l);

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		t[i] = kthread_run(dslab_hotplug_load_fn, (void *)(uintptr_t)i,
				   "dslab_hotplug/%u", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(t[i]));
		get_task_struct(t[i]);
	}
	for (rounds = 0; rounds < DSLAB_HOTPLUG_ROUNDS; rounds++) {
		ret = remove_cpu(victim);
		if (ret)
			break;
		usleep_range(5000, 10000);
		ret = add_cpu(victim);
		if (ret)
			break;
		usleep_range(5000, 10000);
	}
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		kthread_stop(t[i]);
		put_task_struct(t[i]);
	}
	dslab_dtor_barrier();
	/* Every destructor has run: none can look at @l any more. */
	WRITE_ONCE(dslab_hotplug_cur, NULL);
	if (!cpu_online(victim))
		add_cpu(victim);
	/* Some machines cannot take a CPU offline (arm64 under qemu). */
	if (ret && !rounds)
		kunit_skip(test, "remove_cpu(%u): %d", victim, ret);
	KUNIT_EXPECT_EQ_MSG(test, ret, 0, "CPU %u offline/online failed in round %u",
			    victim, rounds);
	KUNIT_EXPECT_EQ(test, atomic_read(&l->failed), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&l->bad), 0);
	for (i = 0; i < l->nr; i++)
		once += atomic_read(&l->runs[i]) == 1;
	KUNIT_EXPECT_EQ(test, once, l->nr);
	dslab_shrink();
	KUNIT_EXPECT_LE(test, dslab_hotplug_pages(), base);
}

/* The span at @addr, looked up as a free would (an RCU reader). */
static struct dslab_span *dslab_hotplug_lookup(const void *addr)
{
	struct dslab_span *span;

	rcu_read_lock();
	span = dslab_span_lookup(addr);
	rcu_read_unlock();
	return span;
}

/*
 * Memory going online above the map: before the notifier, a span there
 * cannot be entered; after it, the map covers the new range, the span's
 * page resolves to it and the page after it to nothing.  Other actions
 * change nothing.  Past the end of memory, so nothing there is ever read:
 * the lookup is arithmetic.
 */
static void dslab_hotplug_memory(struct kunit *test)
{
	unsigned long pages = dslab_map_pages();
	/* A page in the second leaf above the map's range. */
	unsigned long idx = round_up(pages, DSLAB_LEAF_ENTRIES) +
			    DSLAB_LEAF_ENTRIES + 1;
	void *addr = (void *)(PAGE_OFFSET + (idx << PAGE_SHIFT));
	struct memory_notify mn = {
		.start_pfn = PHYS_PFN(__pa(addr)) - 1,
		.nr_pages = 4,
	};
	struct dslab_span *span, *before;
	void *obj;

	obj = dslab_alloc(64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, obj);
	before = dslab_hotplug_lookup(obj);
	KUNIT_EXPECT_NOT_NULL(test, before);
	span = kunit_kzalloc(test, sizeof(*span), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, span);
	span->base = addr;
	span->npages = 1;

	KUNIT_EXPECT_EQ(test, dslab_map_set(span, span, GFP_KERNEL), -ERANGE);
	KUNIT_EXPECT_NULL(test, dslab_hotplug_lookup(addr));

	KUNIT_EXPECT_EQ(test, dslab_map_memory_notify(NULL, MEM_ONLINE, &mn),
			NOTIFY_OK);
	KUNIT_EXPECT_EQ(test, dslab_map_pages(), pages);

	KUNIT_EXPECT_EQ(test, dslab_map_memory_notify(NULL, MEM_GOING_ONLINE,
						      &mn), NOTIFY_OK);
	KUNIT_EXPECT_GE(test, dslab_map_pages(), idx + 3);
	/* The new top holds the old leaves. */
	KUNIT_EXPECT_PTR_EQ(test, dslab_hotplug_lookup(obj), before);
	KUNIT_EXPECT_NULL(test, dslab_hotplug_lookup(addr));

	KUNIT_ASSERT_EQ(test, dslab_map_set(span, span, GFP_KERNEL), 0);
	KUNIT_EXPECT_PTR_EQ(test, dslab_hotplug_lookup(addr + 100), span);
	KUNIT_EXPECT_NULL(test, dslab_hotplug_lookup(addr + PAGE_SIZE));
	KUNIT_EXPECT_NULL(test, dslab_hotplug_lookup(addr - PAGE_SIZE));

	KUNIT_EXPECT_EQ(test, dslab_map_set(span, NULL, GFP_KERNEL), 0);
	KUNIT_EXPECT_NULL(test, dslab_hotplug_lookup(addr + 100));
	dslab_free(obj);
}

static int dslab_hotplug_test_init(struct kunit *test)
{
	dslab_test_drain();
	return 0;
}

static void dslab_hotplug_test_exit(struct kunit *test)
{
	dslab_test_drain();
}

static struct kunit_case dslab_hotplug_cases[] = {
	KUNIT_CASE(dslab_hotplug_magazines),
	KUNIT_CASE_SLOW(dslab_hotplug_cycles),
	KUNIT_CASE(dslab_hotplug_memory),
	{}
};

static struct kunit_suite dslab_hotplug_suite = {
	.name = "dslab_hotplug",
	.init = dslab_hotplug_test_init,
	.exit = dslab_hotplug_test_exit,
	.test_cases = dslab_hotplug_cases,
};

kunit_test_suite(dslab_hotplug_suite);
