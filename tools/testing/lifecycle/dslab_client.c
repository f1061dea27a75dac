// SPDX-License-Identifier: GPL-2.0
/*
 * dslab_client.ko - a client module that keeps its objects until unload.
 *
 * dslab_set_destructor() and dslab_add_cleanup() pass THIS_MODULE; dslab
 * counts them as pins on the module but takes no module reference, so
 * rmmod works while they are registered, and the module's unload runs
 * whatever of its destructors is queued before its code goes away
 * (mm/owner.c).  This module is what test_pin.sh checks that with: at
 * load it allocates @nobjs objects, gives each a destructor (and every
 * other one a cleanup) and holds them, like a table of connections.
 * Then, through its parameters:
 *
 *   echo 1 > /sys/module/dslab_client/parameters/release
 *	frees every held object; their destructors are queued (each sleeps
 *	@dtor_sleep_ms, so they stay queued or running for a while)
 *   echo 1 > /sys/module/dslab_client/parameters/barrier
 *	waits with dslab_dtor_barrier() until they have all run
 *   cat /sys/module/dslab_client/parameters/dtor_runs (and cleanup_runs)
 *
 * Its exit frees what it still holds, the usual kernel pattern, and with
 * @exit_barrier waits for the destructors itself and prints how many
 * ran; without, dslab runs them after exit, before rmmod returns.
 */
#define pr_fmt(fmt) "dslab_client: " fmt

#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/dslab.h>
#include <linux/err.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/slab.h>

#define DSLAB_CLIENT_MAGIC	0xc11e47u
#define DSLAB_CLIENT_MAX	4096

static unsigned int nobjs = 16;
module_param(nobjs, uint, 0444);
MODULE_PARM_DESC(nobjs, "Objects with destructors held at load (max 4096)");

static bool exit_barrier;
module_param(exit_barrier, bool, 0444);
MODULE_PARM_DESC(exit_barrier, "Exit waits for the destructors (dslab_dtor_barrier) and reports");

static unsigned int dtor_sleep_ms = 100;
module_param(dtor_sleep_ms, uint, 0444);
MODULE_PARM_DESC(dtor_sleep_ms, "Each destructor sleeps this long");

struct dslab_client_obj {
	u32 magic;
	u32 idx;
	char payload[120];
};

DSLAB_TYPE(dslab_client_type, struct dslab_client_obj);

static struct dslab_client_obj **dslab_client_objs;
static unsigned int dslab_client_held;		/* dslab_client_lock */
static DEFINE_MUTEX(dslab_client_lock);
static atomic_t dslab_client_dtor_runs = ATOMIC_INIT(0);
static atomic_t dslab_client_cleanup_runs = ATOMIC_INIT(0);
static atomic_t dslab_client_bad = ATOMIC_INIT(0);
static unsigned int dslab_client_cleanups;

static void dslab_client_dtor_fn(struct dslab_client_obj *o)
{
	if (o->magic != DSLAB_CLIENT_MAGIC || o->idx >= nobjs)
		atomic_inc(&dslab_client_bad);
	msleep(dtor_sleep_ms);
	atomic_inc(&dslab_client_dtor_runs);
}

DSLAB_DTOR(dslab_client_dtor, dslab_client_type, dslab_client_dtor_fn);

static void dslab_client_cleanup_fn(void *arg)
{
	atomic_inc(arg);
}

/* Free every held object: their destructors are queued. */
static int dslab_client_release_set(const char *val, const struct kernel_param *kp)
{
	unsigned int i;
	bool v;
	int ret = kstrtobool(val, &v);

	if (ret)
		return ret;
	if (!v)
		return 0;
	mutex_lock(&dslab_client_lock);
	for (i = 0; i < dslab_client_held; i++)
		dslab_free(dslab_client_objs[i]);
	pr_info("freed %u objects with destructors\n", dslab_client_held);
	dslab_client_held = 0;
	mutex_unlock(&dslab_client_lock);
	return 0;
}

static const struct kernel_param_ops dslab_client_release_ops = {
	.set = dslab_client_release_set,
};
module_param_cb(release, &dslab_client_release_ops, NULL, 0200);
MODULE_PARM_DESC(release, "Write 1: free the held objects");

static int dslab_client_barrier_set(const char *val, const struct kernel_param *kp)
{
	bool v;
	int ret = kstrtobool(val, &v);

	if (ret)
		return ret;
	if (v)
		dslab_dtor_barrier();
	return 0;
}

static const struct kernel_param_ops dslab_client_barrier_ops = {
	.set = dslab_client_barrier_set,
};
module_param_cb(barrier, &dslab_client_barrier_ops, NULL, 0200);
MODULE_PARM_DESC(barrier, "Write 1: wait for every queued destructor (dslab_dtor_barrier)");

static int dslab_client_atomic_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read(kp->arg));
}

static const struct kernel_param_ops dslab_client_count_ops = {
	.get = dslab_client_atomic_get,
};
module_param_cb(dtor_runs, &dslab_client_count_ops, &dslab_client_dtor_runs, 0444);
MODULE_PARM_DESC(dtor_runs, "Destructors run so far");
module_param_cb(cleanup_runs, &dslab_client_count_ops, &dslab_client_cleanup_runs, 0444);
MODULE_PARM_DESC(cleanup_runs, "Cleanups run so far");

static int __init dslab_client_init(void)
{
	struct dslab_client_obj *o;
	struct dslab_cleanup *c;
	int ret;

	if (!nobjs || nobjs > DSLAB_CLIENT_MAX)
		return -EINVAL;
	dslab_client_objs = kcalloc(nobjs, sizeof(*dslab_client_objs), GFP_KERNEL);
	if (!dslab_client_objs)
		return -ENOMEM;
	for (dslab_client_held = 0; dslab_client_held < nobjs; dslab_client_held++) {
		o = dslab_new_typed(dslab_client_type, GFP_KERNEL);
		if (!o) {
			ret = -ENOMEM;
			goto err_free;
		}
		o->magic = DSLAB_CLIENT_MAGIC;
		o->idx = dslab_client_held;
		ret = dslab_set_destructor(o, &dslab_client_dtor);
		if (ret) {
			dslab_free(o);
			goto err_free;
		}
		dslab_client_objs[dslab_client_held] = o;
		if (dslab_client_held % 2)
			continue;
		c = dslab_add_cleanup(o, dslab_client_cleanup_fn,
				      &dslab_client_cleanup_runs, GFP_KERNEL);
		if (IS_ERR(c)) {
			/* The object and its destructor go with the rest. */
			ret = PTR_ERR(c);
			dslab_client_held++;
			goto err_free;
		}
		dslab_client_cleanups++;
	}
	pr_info("holding %u objects: %u destructors, %u cleanups registered\n",
		nobjs, nobjs, dslab_client_cleanups);
	return 0;

err_free:
	dslab_client_release_set("1", NULL);
	/* Our code runs in them: wait before the module goes away. */
	dslab_dtor_barrier();
	kfree(dslab_client_objs);
	return ret;
}

static void __exit dslab_client_exit(void)
{
	/* Empty the table: the destructors are queued, not run yet. */
	dslab_client_release_set("1", NULL);
	kfree(dslab_client_objs);
	if (!exit_barrier) {
		/* dslab runs them once exit returns, before our code goes. */
		pr_info("exit: objects freed, destructors left to the unload\n");
		return;
	}
	dslab_dtor_barrier();
	pr_info("unloaded: %d of %u destructors and %d of %u cleanups ran, %d bad objects\n",
		atomic_read(&dslab_client_dtor_runs), nobjs,
		atomic_read(&dslab_client_cleanup_runs), dslab_client_cleanups,
		atomic_read(&dslab_client_bad));
}

module_init(dslab_client_init);
module_exit(dslab_client_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("dslab test client: a module that keeps objects with destructors until unload");
