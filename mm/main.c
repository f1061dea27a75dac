// SPDX-License-Identifier: GPL-2.0
/*
 * dslab module init and exit, the module parameters and CPU hotplug.
 *
 * Init brings the layers up bottom to top: spans and the page map, the
 * per-CPU caches, destructors, the FinBlock queue and its runners, the
 * CPU hotplug callback, then debugfs.  Exit goes the other way and is the
 * "kmem_cache_destroy" of the whole allocator: objects still held through
 * debugfs handles are freed, every queued destructor and cleanup runs (a
 * barrier, then the leader's final flush), the CPU caches are drained,
 * objects still live are reported per class, and every page goes back.
 *
 * See Documentation/design.rst for the design and the lock order, and
 * Documentation/api.rst for the parameters.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <linux/cpuhotplug.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>

#include "dslab.h"

/* === Module parameters === */

module_param_named(debug, dslab_debug, bool, 0444);
MODULE_PARM_DESC(debug, "Red zones and poisoning with checks, like slub_debug=PZ (load time only)");

module_param_named(warn_bad_free, dslab_warn_bad_free, bool, 0644);
MODULE_PARM_DESC(warn_bad_free, "WARN at the first bad free (default Y); each is also counted and reported");

static int dslab_param_set_reserve(const char *val, const struct kernel_param *kp)
{
	unsigned int v;
	int ret = kstrtouint(val, 0, &v);

	if (ret)
		return ret;
	if (v > 64)
		return -ERANGE;
	WRITE_ONCE(dslab_span_reserve, v);
	return 0;
}

static const struct kernel_param_ops dslab_reserve_ops = {
	.set = dslab_param_set_reserve,
	.get = param_get_uint,
};
module_param_cb(span_reserve, &dslab_reserve_ops, &dslab_span_reserve, 0644);
MODULE_PARM_DESC(span_reserve, "Empty spans kept per size class before pages go back (0-64, default 1)");

/* An unsigned int read locklessly elsewhere: written with WRITE_ONCE(). */
static int dslab_param_set_uint(const char *val, const struct kernel_param *kp)
{
	unsigned int v;
	int ret = kstrtouint(val, 0, &v);

	if (ret)
		return ret;
	WRITE_ONCE(*(unsigned int *)kp->arg, v);
	return 0;
}

static const struct kernel_param_ops dslab_uint_ops = {
	.set = dslab_param_set_uint,
	.get = param_get_uint,
};
module_param_cb(slow_dtor_ms, &dslab_uint_ops, &dslab_slow_dtor_ms, 0644);
MODULE_PARM_DESC(slow_dtor_ms, "Report a destructor or cleanup that runs this long, once per function (ms, default 10 like the workqueue's CPU hog report; 0: off)");
module_param_cb(backlog_max, &dslab_uint_ops, &dslab_backlog_max, 0644);
MODULE_PARM_DESC(backlog_max, "Queued destructors beyond which a registration that may sleep waits for the runners, up to 200 ms (default 65536; 0: never)");

static int dslab_param_set_nice(const char *val, const struct kernel_param *kp)
{
	int v;
	int ret = kstrtoint(val, 0, &v);

	if (ret)
		return ret;
	if (v < MIN_NICE || v > MAX_NICE)
		return -ERANGE;
	dslab_runner_nice = v;
	return 0;
}

static const struct kernel_param_ops dslab_nice_ops = {
	.set = dslab_param_set_nice,
	.get = param_get_int,
};
module_param_cb(runner_nice, &dslab_nice_ops, &dslab_runner_nice, 0444);
MODULE_PARM_DESC(runner_nice, "Nice level of the destructor runner threads (-20..19, load time)");

/* === CPU hotplug === */

/*
 * A CPU that went offline gives its magazines back to the central lists
 * and its open FinBlocks to the leader, as SLUB's slub_cpu_dead() does
 * for its per-CPU slabs; it comes back with empty ones.  A PREPARE state,
 * so the teardown runs on another CPU once this one is dead.
 */
static enum cpuhp_state dslab_cpuhp_state;

static int dslab_cpu_dead(unsigned int cpu)
{
	dslab_drain_dead_cpu(cpu);
	dslab_finq_cpu_dead(cpu);
	return 0;
}

/* === Init and exit === */

static int __init dslab_init(void)
{
	int ret;

	ret = dslab_map_init();
	if (ret)
		return ret;
	ret = dslab_span_init();
	if (ret)
		goto err_map;
	ret = dslab_alloc_init();
	if (ret)
		goto err_span;
	ret = dslab_finq_init();
	if (ret)
		goto err_alloc;
	ret = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "dslab:dead",
					NULL, dslab_cpu_dead);
	if (ret < 0)
		goto err_finq;
	dslab_cpuhp_state = ret;
	ret = dslab_owner_init();
	if (ret)
		goto err_cpuhp;
	dslab_debugfs_init();

	pr_info("loaded: %d size classes up to %d bytes%s\n", DSLAB_NR_CLASSES,
		DSLAB_MAX_SMALL_SIZE, dslab_debug ? ", debug mode" : "");
	return 0;

err_cpuhp:
	cpuhp_remove_state_nocalls(dslab_cpuhp_state);
err_finq:
	dslab_finq_exit();
err_alloc:
	dslab_alloc_exit();
err_span:
	dslab_span_exit();
err_map:
	dslab_map_exit();
	return ret;
}

static void __exit dslab_exit(void)
{
	dslab_debugfs_exit();
	dslab_owner_stop();
	dslab_dtor_barrier();
	cpuhp_remove_state_nocalls(dslab_cpuhp_state);
	dslab_finq_exit();
	dslab_alloc_exit();
	dslab_span_exit();
	dslab_map_exit();
	dslab_dtor_exit();
	dslab_owner_exit();
	pr_info("unloaded\n");
}

module_init(dslab_init);
module_exit(dslab_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Size-class slab allocator with destructors and cleanups");
MODULE_AUTHOR("dslab developers");
