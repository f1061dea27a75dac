// SPDX-License-Identifier: GPL-2.0
/*
 * dslab's debugfs directory, /sys/kernel/debug/dslab/:
 *
 *   stats     (0444) global counters, one "name value" per line
 *   classes   (0444) one row per size class, after a header line
 *   nodes     (0444) one row per possible memory node, after a header line
 *   finq      (0444) the FinBlock queue and the runner
 *   runners   (0444) what each runner runs, run times, slow destructors
 *   owners    (0444) modules with destructors or cleanups registered
 *   alloc_traces (0444) debug mode: per class, where live objects were
 *             allocated (slub's alloc_traces)
 *   pools     (0444) memory cgroups charged by __GFP_ACCOUNT, their pages
 *   shrink    (0200) "1": drain every CPU cache, free every empty span
 *   barrier   (0200) "1": wait until every queued destructor has run
 *   fail/             fault injection (fault.c)
 *
 * Read-only files are single seq_file records (DEFINE_SHOW_ATTRIBUTE), in
 * the spirit of zsmalloc's per-class table.  The two write-only files
 * take one boolean, as kmemleak's takes one command; anything else is
 * -EINVAL and does nothing.  Nothing here prints a kernel address.
 * debugfs_remove_recursive() waits for readers and writers in flight, so
 * unloading while a shell uses the files is safe.  The test module
 * dslab_ctl (tools/testing/control/) has the command language the shell
 * tests drive dslab with.
 *
 * Documentation/debugfs.rst describes every file.
 */
#define pr_fmt(fmt) "dslab: " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/seq_file.h>

#include "dslab.h"

/* === Data === */

/* Set at init, cleared at exit; NULL when debugfs is unavailable. */
static struct dentry *dslab_debugfs_dir;

/* === Read-only files === */

static int dslab_dbg_stats_show(struct seq_file *m, void *v)
{
	struct dslab_finq_stats fs;
	unsigned int i;

	for (i = 0; i < DSLAB_NR_STATS; i++)
		seq_printf(m, "%s %llu\n", dslab_stat_names[i],
			   dslab_stat_read(i));
	seq_printf(m, "pages_held %ld\n", atomic_long_read(&dslab_pages_held));
	seq_printf(m, "objects_inuse %ld\n", dslab_objects_inuse());

	dslab_finq_stats(&fs);
	seq_printf(m, "finq_blocks_total %lu\n", fs.blocks_total);
	seq_printf(m, "finq_blocks_free %lu\n", fs.blocks_free);
	seq_printf(m, "finq_blocks_pending %lu\n", fs.blocks_pending);
	seq_printf(m, "finq_records_pending %lu\n", fs.records_pending);
	seq_printf(m, "finq_records_reserved %lu\n", fs.records_reserved);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dslab_dbg_stats);

static int dslab_dbg_classes_show(struct seq_file *m, void *v)
{
	struct dslab_class_stats st;
	unsigned int c;

	seq_printf(m, "%5s %7s %5s %7s %7s %9s %9s %9s %12s\n",
		   "class", "size", "pages", "objects", "spans", "inuse",
		   "free", "maxwaste%", "wasted");
	for (c = 0; c < DSLAB_NR_CLASSES; c++) {
		const struct dslab_class_info *ci = &dslab_classes[c];

		dslab_class_stats(c, &st);
		seq_printf(m, "%5u %7u %5u %7u %7lu %9lu %9lu %6u.%02u %12lu\n",
			   c, ci->size, ci->npages, ci->nobjs, st.spans,
			   st.inuse, st.free, ci->max_waste / 100,
			   ci->max_waste % 100, st.wasted);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dslab_dbg_classes);

static int dslab_dbg_nodes_show(struct seq_file *m, void *v)
{
	struct dslab_node_stats st;
	int node;

	seq_printf(m, "%4s %6s %10s %8s %8s\n", "node", "online", "pages",
		   "spans", "empty");
	for_each_node(node) {
		dslab_node_stats(node, &st);
		seq_printf(m, "%4d %6d %10lu %8lu %8lu\n", node,
			   node_online(node), st.pages, st.spans, st.empty);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dslab_dbg_nodes);

static int dslab_dbg_finq_show(struct seq_file *m, void *v)
{
	struct dslab_finq_stats fs;

	dslab_finq_stats(&fs);
	seq_printf(m, "blocks_total %lu\n", fs.blocks_total);
	seq_printf(m, "blocks_free %lu\n", fs.blocks_free);
	seq_printf(m, "blocks_pending %lu\n", fs.blocks_pending);
	seq_printf(m, "records_pending %lu\n", fs.records_pending);
	seq_printf(m, "records_reserved %lu\n", fs.records_reserved);
	seq_printf(m, "largest_batch %lu\n", fs.largest_batch);
	seq_printf(m, "dtor_ns %llu\n", fs.dtor_ns);
	seq_printf(m, "runner %s\n", fs.runner_state ?: "unknown");
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dslab_dbg_finq);

static int dslab_dbg_runners_show(struct seq_file *m, void *v)
{
	static const enum dslab_stat_item totals[] = {
		DSLAB_STAT_OBJ_QUEUED, DSLAB_STAT_DTOR_RUN, DSLAB_STAT_CLEANUP_RUN,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(totals); i++)
		seq_printf(m, "%s %llu\n", dslab_stat_names[totals[i]],
			   dslab_stat_read(totals[i]));
	dslab_runner_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dslab_dbg_runners);

static int dslab_dbg_owners_show(struct seq_file *m, void *v)
{
	return dslab_owner_show(m);
}
DEFINE_SHOW_ATTRIBUTE(dslab_dbg_owners);

static int dslab_dbg_alloc_traces_show(struct seq_file *m, void *v)
{
	return dslab_debug_alloc_traces(m);
}
DEFINE_SHOW_ATTRIBUTE(dslab_dbg_alloc_traces);

static int dslab_dbg_pools_show(struct seq_file *m, void *v)
{
	if (!IS_ENABLED(CONFIG_MEMCG)) {
		seq_puts(m, "memory cgroups: not in this kernel\n");
		return 0;
	}
	return dslab_pool_show(m);
}
DEFINE_SHOW_ATTRIBUTE(dslab_dbg_pools);

/* === Write-only files === */

/* shrink and barrier: a write of one true boolean runs the action. */
struct dslab_dbg_action {
	void (*run)(void);
};

static void dslab_dbg_shrink(void)
{
	dslab_shrink();
}

static const struct dslab_dbg_action dslab_dbg_shrink_action = {
	.run = dslab_dbg_shrink,
};

static const struct dslab_dbg_action dslab_dbg_barrier_action = {
	.run = dslab_dtor_barrier,
};

static ssize_t dslab_dbg_action_write(struct file *file,
				      const char __user *ubuf, size_t count,
				      loff_t *ppos)
{
	const struct dslab_dbg_action *action = file->private_data;
	bool on;
	int ret;

	ret = kstrtobool_from_user(ubuf, count, &on);
	if (ret)
		return ret;
	/* "0" asks for nothing: refused like any other bad input. */
	if (!on)
		return -EINVAL;
	action->run();
	return count;
}

static const struct file_operations dslab_dbg_action_fops = {
	.owner		= THIS_MODULE,
	.open		= simple_open,
	.write		= dslab_dbg_action_write,
};

/* === Init and exit === */

/**
 * dslab_debugfs_init() - create /sys/kernel/debug/dslab/
 *
 * A kernel without debugfs (or with it locked down) gets no files; the
 * module works without them.
 *
 * Context: Process context (module init).
 */
void dslab_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("dslab", NULL);

	if (IS_ERR_OR_NULL(dir)) {
		pr_info("debugfs unavailable, no /sys/kernel/debug/dslab\n");
		return;
	}
	debugfs_create_file("stats", 0444, dir, NULL, &dslab_dbg_stats_fops);
	debugfs_create_file("classes", 0444, dir, NULL, &dslab_dbg_classes_fops);
	debugfs_create_file("nodes", 0444, dir, NULL, &dslab_dbg_nodes_fops);
	debugfs_create_file("finq", 0444, dir, NULL, &dslab_dbg_finq_fops);
	debugfs_create_file("runners", 0444, dir, NULL, &dslab_dbg_runners_fops);
	debugfs_create_file("owners", 0444, dir, NULL, &dslab_dbg_owners_fops);
	debugfs_create_file("alloc_traces", 0444, dir, NULL,
			    &dslab_dbg_alloc_traces_fops);
	debugfs_create_file("pools", 0444, dir, NULL, &dslab_dbg_pools_fops);
	debugfs_create_file("shrink", 0200, dir, (void *)&dslab_dbg_shrink_action,
			    &dslab_dbg_action_fops);
	debugfs_create_file("barrier", 0200, dir, (void *)&dslab_dbg_barrier_action,
			    &dslab_dbg_action_fops);
	dslab_fault_debugfs_init(dir);
	dslab_debugfs_dir = dir;
}

/**
 * dslab_debugfs_exit() - remove the files
 *
 * Waits for readers and writers in flight.
 *
 * Context: Process context (module exit), before the runner stops.
 */
void dslab_debugfs_exit(void)
{
	debugfs_remove_recursive(dslab_debugfs_dir);
	dslab_debugfs_dir = NULL;
}
