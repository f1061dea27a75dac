// SPDX-License-Identifier: GPL-2.0
/*
 * dslab_sample - how another module uses dslab.
 *
 * A client module of its own, built against dslab's Module.symvers
 * (samples/Makefile, Documentation/api.rst "Using dslab from another
 * module").  It shows:
 *
 *  - a typed object (DSLAB_TYPE) whose destructor (DSLAB_DTOR, checked at
 *    compile time) releases a second allocation the object owns, a payload
 *    buffer from dslab_alloc();
 *  - cleanups (dslab_add_cleanup) that release a kmalloc'd "ticket" each,
 *    some of them cancelled again (dslab_cleanup_cancel), in which case the
 *    canceller frees the ticket itself;
 *  - objects freed from a timer_list (softirq) and an hrtimer (hardirq);
 *  - unloading: dslab takes no module reference for what a module has
 *    registered (rmmod works whenever the module's own users are gone);
 *    while it is being unloaded, registration is refused with -EBUSY,
 *    and what it leaves queued runs before its code goes away;
 *  - dslab_dtor_barrier() before the verdict and in the exit path.
 *
 * Everything is counted and checked; the last line, printed at unload, is
 * "dslab_sample: ... ok" or "dslab_sample: ... FAILED".  Load with
 * selftest_fail=1 to see it fail (one destructor run goes uncounted).
 *
 * Build with -DDSLAB_SAMPLE_WRONG_DTOR to see DSLAB_DTOR() reject a
 * destructor written for another C type: that build must fail.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/dslab.h>
#include <linux/err.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timer.h>

/*
 * The sample builds on every kernel dslab supports, so it borrows dslab's
 * compat header for the timer API (hrtimer_setup() is 6.13); a client of
 * your own needs only <linux/dslab.h>.
 */
#include "compat.h"

/* === Types === */

#define DSLAB_SAMPLE_NR		64	/* objects per run */
#define DSLAB_SAMPLE_PAYLOAD	96	/* bytes in each object's payload */
#define DSLAB_SAMPLE_MAGIC	0xd51ab0b7U
#define DSLAB_SAMPLE_FILL	0x5a

struct dslab_sample_obj {
	u32 magic;
	unsigned int id;
	u8 *payload;		/* owned; released by the destructor */
	size_t len;
};

struct dslab_sample_ticket {
	u32 magic;
	unsigned int id;
};

DSLAB_TYPE(dslab_sample_type, struct dslab_sample_obj);

/* === Data === */

static bool dslab_sample_selftest_fail;
module_param_named(selftest_fail, dslab_sample_selftest_fail, bool, 0444);
MODULE_PARM_DESC(selftest_fail, "Harness self-test only: leave one destructor run uncounted so the sample reports FAILED");

static struct dslab_sample_obj *dslab_sample_objs[DSLAB_SAMPLE_NR];

static atomic_t dslab_sample_freed_timer = ATOMIC_INIT(0);
static atomic_t dslab_sample_freed_hrtimer = ATOMIC_INIT(0);
static atomic_t dslab_sample_dtor_runs = ATOMIC_INIT(0);
static atomic_t dslab_sample_cleanup_runs = ATOMIC_INIT(0);
static atomic_t dslab_sample_payloads = ATOMIC_INIT(0);	/* allocated, not released */
static atomic_t dslab_sample_tickets = ATOMIC_INIT(0);	/* allocated, not released */
static atomic_t dslab_sample_bad = ATOMIC_INIT(0);	/* a check inside a callback failed */

static unsigned int dslab_sample_freed_late;	/* freed by exit/init fallback */
static unsigned int dslab_sample_cleanups_added;
static unsigned int dslab_sample_cancelled;
static bool dslab_sample_failed;

static struct timer_list dslab_sample_timer;
static struct hrtimer dslab_sample_hrtimer;
static DECLARE_COMPLETION(dslab_sample_timer_done);
static DECLARE_COMPLETION(dslab_sample_hrtimer_done);

#define dslab_sample_check(cond, fmt, ...)				\
	({								\
		bool __ok = (cond);					\
		if (!__ok) {						\
			pr_err("check failed: " fmt "\n", ##__VA_ARGS__); \
			dslab_sample_failed = true;			\
		}							\
		__ok;							\
	})

/* === Destructor and cleanups (run by dslab's runner thread) === */

/*
 * The destructor gets the object with its contents intact.  It is no longer
 * live (dslab_find_object() says so, its memory is not reused until this
 * returns), but the payload it owns is, and this is where it goes.
 */
static void dslab_sample_release(struct dslab_sample_obj *obj)
{
	size_t i;

	if (obj->magic != DSLAB_SAMPLE_MAGIC || !in_task() ||
	    dslab_find_object(obj, NULL, NULL) ||
	    dslab_ksize(obj->payload) < obj->len) {
		atomic_inc(&dslab_sample_bad);
		return;
	}
	for (i = 0; i < obj->len; i++) {
		if (obj->payload[i] != DSLAB_SAMPLE_FILL) {
			atomic_inc(&dslab_sample_bad);
			break;
		}
	}
	dslab_free(obj->payload);
	obj->payload = NULL;
	atomic_dec(&dslab_sample_payloads);
	if (dslab_sample_selftest_fail && obj->id == 0)
		return;		/* deliberately uncounted */
	atomic_inc(&dslab_sample_dtor_runs);
}

/* Compile-time checked: dslab_sample_release() takes the type's C type. */
DSLAB_DTOR(dslab_sample_dtor, dslab_sample_type, dslab_sample_release);

#ifdef DSLAB_SAMPLE_WRONG_DTOR
/* Must not compile: the destructor takes a ticket, the type is an object. */
static void dslab_sample_wrong(struct dslab_sample_ticket *t)
{
}

DSLAB_DTOR(dslab_sample_wrong_dtor, dslab_sample_type, dslab_sample_wrong);
#endif

/* A cleanup gets its own argument, never the object. */
static void dslab_sample_cleanup(void *arg)
{
	struct dslab_sample_ticket *t = arg;

	if (t->magic != DSLAB_SAMPLE_MAGIC || !in_task())
		atomic_inc(&dslab_sample_bad);
	kfree(t);
	atomic_dec(&dslab_sample_tickets);
	atomic_inc(&dslab_sample_cleanup_runs);
}

static struct dslab_sample_ticket *dslab_sample_ticket_new(unsigned int id)
{
	struct dslab_sample_ticket *t = kmalloc(sizeof(*t), GFP_KERNEL);

	if (!t)
		return NULL;
	t->magic = DSLAB_SAMPLE_MAGIC;
	t->id = id;
	atomic_inc(&dslab_sample_tickets);
	return t;
}

static void dslab_sample_ticket_free(struct dslab_sample_ticket *t)
{
	if (!t)
		return;
	kfree(t);
	atomic_dec(&dslab_sample_tickets);
}

/* === Freeing from timers === */

/* The first half is freed from a timer_list, in softirq context. */
static void dslab_sample_timer_fn(struct timer_list *timer)
{
	unsigned int i;

	for (i = 0; i < DSLAB_SAMPLE_NR / 2; i++) {
		dslab_free(dslab_sample_objs[i]);
		dslab_sample_objs[i] = NULL;
		atomic_inc(&dslab_sample_freed_timer);
	}
	complete(&dslab_sample_timer_done);
}

/* The second half from an hrtimer, in hardirq context (non-RT kernels). */
static enum hrtimer_restart dslab_sample_hrtimer_fn(struct hrtimer *timer)
{
	unsigned int i;

	for (i = DSLAB_SAMPLE_NR / 2; i < DSLAB_SAMPLE_NR; i++) {
		dslab_free(dslab_sample_objs[i]);
		dslab_sample_objs[i] = NULL;
		atomic_inc(&dslab_sample_freed_hrtimer);
	}
	complete(&dslab_sample_hrtimer_done);
	return HRTIMER_NORESTART;
}

/* Stop both timers; free whatever they did not (only after a failure). */
static void dslab_sample_stop_timers(void)
{
	unsigned int i;

	timer_delete_sync(&dslab_sample_timer);
	hrtimer_cancel(&dslab_sample_hrtimer);
	for (i = 0; i < DSLAB_SAMPLE_NR; i++) {
		if (!dslab_sample_objs[i])
			continue;
		dslab_free(dslab_sample_objs[i]);
		dslab_sample_objs[i] = NULL;
		dslab_sample_freed_late++;
	}
}

/* === Setting up one object === */

static int dslab_sample_refs(void)
{
#ifdef CONFIG_MODULE_UNLOAD
	return module_refcount(THIS_MODULE);
#else
	return 0;
#endif
}

static int dslab_sample_setup(unsigned int id)
{
	struct dslab_sample_ticket *keep, *drop;
	struct dslab_cleanup *c;
	struct dslab_sample_obj *obj;
	int ret;

	obj = dslab_new_typed(dslab_sample_type, GFP_KERNEL);
	if (!obj)
		return -ENOMEM;
	obj->magic = DSLAB_SAMPLE_MAGIC;
	obj->id = id;
	obj->len = DSLAB_SAMPLE_PAYLOAD;
	obj->payload = dslab_alloc(obj->len, GFP_KERNEL);
	if (!obj->payload) {
		ret = -ENOMEM;
		goto err_free_obj;
	}
	memset(obj->payload, DSLAB_SAMPLE_FILL, obj->len);
	atomic_inc(&dslab_sample_payloads);

	ret = dslab_set_destructor(obj, &dslab_sample_dtor);
	if (ret)
		goto err_free_payload;
	/* Like Go's SetFinalizer, a second destructor is refused (once). */
	if (id == 0)
		dslab_sample_check(dslab_set_destructor(obj, &dslab_sample_dtor) == -EEXIST,
				   "second destructor not refused");

	/* Every object gets a cleanup; every other one a second, cancelled. */
	keep = dslab_sample_ticket_new(id);
	if (!keep) {
		ret = -ENOMEM;
		goto err_free_obj;	/* the destructor releases the payload */
	}
	c = dslab_add_cleanup(obj, dslab_sample_cleanup, keep, GFP_KERNEL);
	if (IS_ERR(c)) {
		dslab_sample_ticket_free(keep);
		ret = PTR_ERR(c);
		goto err_free_obj;
	}
	dslab_sample_cleanups_added++;

	if (id % 2) {
		drop = dslab_sample_ticket_new(id);
		if (!drop) {
			ret = -ENOMEM;
			goto err_free_obj;
		}
		c = dslab_add_cleanup(obj, dslab_sample_cleanup, drop, GFP_KERNEL);
		if (IS_ERR(c)) {
			dslab_sample_ticket_free(drop);
			ret = PTR_ERR(c);
			goto err_free_obj;
		}
		dslab_sample_cleanups_added++;
		/* The object is live, so the cancel wins; the ticket is ours. */
		if (dslab_cleanup_cancel(c)) {
			dslab_sample_ticket_free(drop);
			dslab_sample_cancelled++;
		}
	}
	dslab_sample_objs[id] = obj;
	return 0;

err_free_payload:
	dslab_free(obj->payload);
	atomic_dec(&dslab_sample_payloads);
err_free_obj:
	dslab_free(obj);
	return ret;
}

/* === Init and exit === */

static int __init dslab_sample_init(void)
{
	struct dslab_sample_ticket *ticket;
	struct dslab_cleanup *late;
	int ret, refs0, refs;
	unsigned int i;

	timer_setup(&dslab_sample_timer, dslab_sample_timer_fn, 0);
	hrtimer_setup(&dslab_sample_hrtimer, dslab_sample_hrtimer_fn,
		      CLOCK_MONOTONIC, HRTIMER_MODE_REL);

	refs0 = dslab_sample_refs();
	for (i = 0; i < DSLAB_SAMPLE_NR; i++) {
		ret = dslab_sample_setup(i);
		if (ret) {
			pr_err("setting up object %u failed: %d\n", i, ret);
			goto err_free_objs;
		}
	}

	/*
	 * dslab takes no reference on this module for its destructors and
	 * cleanups: rmmod must keep working, and the module's unload runs
	 * what is queued (or drops what is still registered) first.
	 */
	refs = dslab_sample_refs();
	dslab_sample_check(refs == refs0, "module referenced %d times by dslab",
			   refs - refs0);

	/* A cleanup handle kept past the free: cancelling it is a no-op. */
	ticket = dslab_sample_ticket_new(DSLAB_SAMPLE_NR);
	if (!ticket) {
		ret = -ENOMEM;
		goto err_free_objs;
	}
	late = dslab_add_cleanup(dslab_sample_objs[0], dslab_sample_cleanup,
				 ticket, GFP_KERNEL);
	if (IS_ERR(late)) {
		dslab_sample_ticket_free(ticket);
		ret = PTR_ERR(late);
		pr_err("late cleanup: %d\n", ret);
		goto err_free_objs;
	}
	dslab_sample_cleanups_added++;

	mod_timer(&dslab_sample_timer, jiffies + msecs_to_jiffies(20));
	hrtimer_start(&dslab_sample_hrtimer, ms_to_ktime(30), HRTIMER_MODE_REL);
	/* TCG guests are slow; the timers normally fire within 50 ms. */
	dslab_sample_check(wait_for_completion_timeout(&dslab_sample_timer_done, 30 * HZ),
			   "timer_list did not fire");
	dslab_sample_check(wait_for_completion_timeout(&dslab_sample_hrtimer_done, 30 * HZ),
			   "hrtimer did not fire");
	dslab_sample_stop_timers();

	/* The objects are freed; wait until their destructors returned. */
	dslab_dtor_barrier();
	/* Already run: the cancel loses and changes nothing. */
	dslab_sample_check(!dslab_cleanup_cancel(late),
			   "cancel of a cleanup that has run won");

	dslab_sample_check(atomic_read(&dslab_sample_dtor_runs) == DSLAB_SAMPLE_NR,
			   "%d destructors run for %u objects freed",
			   atomic_read(&dslab_sample_dtor_runs), DSLAB_SAMPLE_NR);
	dslab_sample_check(atomic_read(&dslab_sample_cleanup_runs) ==
			   dslab_sample_cleanups_added - dslab_sample_cancelled,
			   "%d cleanups run, expected %u",
			   atomic_read(&dslab_sample_cleanup_runs),
			   dslab_sample_cleanups_added - dslab_sample_cancelled);
	dslab_sample_check(!atomic_read(&dslab_sample_payloads),
			   "%d payloads not released", atomic_read(&dslab_sample_payloads));
	dslab_sample_check(!atomic_read(&dslab_sample_tickets),
			   "%d tickets not released", atomic_read(&dslab_sample_tickets));
	dslab_sample_check(!atomic_read(&dslab_sample_bad),
			   "%d destructor or cleanup checks failed",
			   atomic_read(&dslab_sample_bad));
	pr_info("init: %u objects freed from timers, destructors and cleanups run\n",
		atomic_read(&dslab_sample_freed_timer) +
		atomic_read(&dslab_sample_freed_hrtimer));
	return 0;

err_free_objs:
	dslab_sample_stop_timers();
	/* Nothing of ours may stay queued once init fails: wait for it. */
	dslab_dtor_barrier();
	return ret;
}

/*
 * The module is now going away, so dslab refuses new registrations with
 * -EBUSY.  Whatever of ours is still queued when exit returns, dslab runs
 * before the module's code is freed; the barrier here makes the counts
 * below final first.
 */
static void __exit dslab_sample_exit(void)
{
	struct dslab_sample_ticket *ticket;
	struct dslab_sample_obj *obj;
	struct dslab_cleanup *c;
	unsigned int freed, refused = 0;
	int ret, dtors, cleanups;

	dslab_sample_stop_timers();

	obj = dslab_new_typed(dslab_sample_type, GFP_KERNEL);
	ticket = dslab_sample_ticket_new(0);
	if (dslab_sample_check(obj && ticket, "allocation in exit failed")) {
		ret = dslab_set_destructor(obj, &dslab_sample_dtor);
		if (dslab_sample_check(ret == -EBUSY,
				       "set_destructor while unloading: %d", ret))
			refused++;
		else if (!ret)
			dslab_sample_check(!dslab_set_destructor(obj, NULL),
					   "destructor could not be removed");
		c = dslab_add_cleanup(obj, dslab_sample_cleanup, ticket, GFP_KERNEL);
		if (dslab_sample_check(c == ERR_PTR(-EBUSY),
				       "add_cleanup while unloading: %ld",
				       IS_ERR(c) ? PTR_ERR(c) : 0L))
			refused++;
		else if (!IS_ERR(c))
			dslab_cleanup_cancel(c);
	}
	/* Nothing is registered on it: a plain free, nothing runs. */
	dslab_free(obj);
	dslab_sample_ticket_free(ticket);

	dslab_dtor_barrier();

	freed = atomic_read(&dslab_sample_freed_timer) +
		atomic_read(&dslab_sample_freed_hrtimer) + dslab_sample_freed_late;
	dtors = atomic_read(&dslab_sample_dtor_runs);
	cleanups = atomic_read(&dslab_sample_cleanup_runs);
	dslab_sample_check(dtors == freed, "%d destructors run for %u objects freed",
			   dtors, freed);
	dslab_sample_check(cleanups == dslab_sample_cleanups_added -
			   dslab_sample_cancelled,
			   "%d cleanups run, expected %u", cleanups,
			   dslab_sample_cleanups_added - dslab_sample_cancelled);
	dslab_sample_check(!atomic_read(&dslab_sample_payloads) &&
			   !atomic_read(&dslab_sample_tickets) &&
			   !atomic_read(&dslab_sample_bad),
			   "payloads %d, tickets %d outstanding, %d bad",
			   atomic_read(&dslab_sample_payloads),
			   atomic_read(&dslab_sample_tickets),
			   atomic_read(&dslab_sample_bad));

	pr_info("%u objects freed (%d timer, %d hrtimer), %d destructors run, %d cleanups run, %u cancelled, %u/2 refused while unloading ... %s\n",
		freed, atomic_read(&dslab_sample_freed_timer),
		atomic_read(&dslab_sample_freed_hrtimer), dtors, cleanups,
		dslab_sample_cancelled, refused,
		dslab_sample_failed ? "FAILED" : "ok");
}

module_init(dslab_sample_init);
module_exit(dslab_sample_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("dslab sample client: typed objects, destructors, cleanups, timers");
MODULE_AUTHOR("dslab developers");
