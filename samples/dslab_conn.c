// SPDX-License-Identifier: GPL-2.0
/*
 * dslab_conn - a connection table, as a driver keeps one, on dslab.
 *
 * A second client of dslab (the first, dslab_sample.c, shows each API
 * call on its own); this one uses them the way a network or storage
 * driver would, all at once:
 *
 *  - connections live in an RCU-protected hash table (linux/hashtable.h)
 *    keyed by an id.  The hlist_node is the first member, at offset 0, as
 *    in most structures of that kind;
 *  - a connection is a typed dslab object (DSLAB_TYPE) with a refcount_t;
 *    the table holds one reference, every lookup takes one with
 *    refcount_inc_not_zero() under rcu_read_lock(), and the last put
 *    frees it with dslab_free_rcu(), nothing else;
 *  - its destructor (DSLAB_DTOR) frees the kmalloc()'d buffer the
 *    connection owns;
 *  - its id comes from an IDA, and a cleanup (dslab_add_cleanup) gives it
 *    back once the object is gone: an id reused earlier could name a new
 *    connection while readers still find the old one under that key;
 *  - reader threads look connections up while the load path adds and
 *    removes them, and check the bytes they read inside rcu_read_lock()
 *    (magic, key and its bucket) and, holding a reference, the buffer.
 *
 * At unload about 1000 connections are still in the table; exit removes
 * them (hash_del_rcu() and a put each), waits with dslab_dtor_barrier()
 * (which covers dslab_free_rcu()) and checks that every destructor and
 * cleanup ran exactly once, every id is back in the IDA and no reader saw
 * a bad byte.  Its last line is "dslab_conn: ... ok" or "dslab_conn:
 * ... FAILED"; load with selftest_fail=1 to see it fail.  See
 * Documentation/api.rst for the contract and Documentation/testing.rst
 * for how make check runs it.
 *
 * Locking: one lock.  dslab_conn_lock serialises the writers of
 * dslab_conn_table (insertion, removal) and dslab_conn_nr_live; readers
 * walk the table under rcu_read_lock() only.  Counters set by the load
 * and unload paths alone (which never run at once) take no lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/dslab.h>
#include <linux/err.h>
#include <linux/hashtable.h>
#include <linux/idr.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/random.h>
#include <linux/rculist.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

/* === Types === */

#define DSLAB_CONN_HASH_BITS	8
#define DSLAB_CONN_KEEP		1000	/* connections left for exit */
#define DSLAB_CONN_EXTRA	500	/* more while churning */
#define DSLAB_CONN_ROUNDS	3000	/* remove one, add one */
#define DSLAB_CONN_READERS	2
#define DSLAB_CONN_BUFLEN	200
#define DSLAB_CONN_MAGIC	0xc0ecc7edU
#define DSLAB_CONN_DEAD		0xdeadc0ecU

struct dslab_conn {
	struct hlist_node node;	/* L: writes; RCU: reads. Offset 0. */
	u32 magic;		/* DSLAB_CONN_MAGIC until the destructor */
	u32 key;		/* the id from dslab_conn_ida */
	refcount_t ref;		/* the table's and lookups' references */
	u8 *buf;		/* owned, every byte (u8)key; the dtor frees it */
	size_t len;
};

static_assert(offsetof(struct dslab_conn, node) == 0);

DSLAB_TYPE(dslab_conn_type, struct dslab_conn);

struct dslab_conn_reader {
	struct task_struct *task;
	u32 next_key;
	/* Written by the reader; read once it has stopped. */
	unsigned long lookups;
	unsigned long hits;
	unsigned long violations;
};

/* === Data === */

static bool dslab_conn_selftest_fail;
module_param_named(selftest_fail, dslab_conn_selftest_fail, bool, 0444);
MODULE_PARM_DESC(selftest_fail, "Harness self-test only: leave one destructor run uncounted so the verdict is FAILED");

/* L: dslab_conn_lock */
static DEFINE_SPINLOCK(dslab_conn_lock);
static DEFINE_HASHTABLE(dslab_conn_table, DSLAB_CONN_HASH_BITS); /* L, RCU */
static unsigned int dslab_conn_nr_live;				  /* L */

static DEFINE_IDA(dslab_conn_ida);
/* Above every id handed out so far; the readers' key range. */
static u32 dslab_conn_keys;

static struct dslab_conn_reader dslab_conn_readers[DSLAB_CONN_READERS];

/* Load and unload paths only. */
static unsigned int dslab_conn_dtors_set;
static unsigned int dslab_conn_cleanups_added;
static unsigned int dslab_conn_removed;
static unsigned long dslab_conn_lookups, dslab_conn_hits;
static unsigned long dslab_conn_violations;
static bool dslab_conn_failed;

/* Destructors and cleanups, run by dslab's runner thread. */
static atomic_t dslab_conn_dtor_runs = ATOMIC_INIT(0);
static atomic_t dslab_conn_cleanup_runs = ATOMIC_INIT(0);
static atomic_t dslab_conn_bufs = ATOMIC_INIT(0);	/* allocated, not freed */
static atomic_t dslab_conn_bad = ATOMIC_INIT(0);	/* a callback's check failed */
static atomic_t dslab_conn_skipped = ATOMIC_INIT(0);	/* selftest_fail */

#define dslab_conn_check(cond, fmt, ...)				\
	({								\
		bool __ok = (cond);					\
		if (!__ok) {						\
			pr_err("check failed: " fmt "\n", ##__VA_ARGS__); \
			dslab_conn_failed = true;			\
		}							\
		__ok;							\
	})

/* === Destructor and cleanup === */

/*
 * Runs after the last put's dslab_free_rcu() and a grace period: no
 * reader can still see the connection, and its bytes are as it left them.
 */
static void dslab_conn_release(struct dslab_conn *c)
{
	if (c->magic != DSLAB_CONN_MAGIC || refcount_read(&c->ref) ||
	    !in_task() || dslab_find_object(c, NULL, NULL) || !c->buf ||
	    memchr_inv(c->buf, (u8)c->key, c->len))
		atomic_inc(&dslab_conn_bad);
	kfree(c->buf);
	c->buf = NULL;
	atomic_dec(&dslab_conn_bufs);
	/* A second run of this destructor on these bytes would see it. */
	c->magic = DSLAB_CONN_DEAD;
	if (dslab_conn_selftest_fail &&
	    atomic_inc_return(&dslab_conn_skipped) == 1)
		return;		/* deliberately uncounted */
	atomic_inc(&dslab_conn_dtor_runs);
}

DSLAB_DTOR(dslab_conn_dtor, dslab_conn_type, dslab_conn_release);

/* The cleanup gets the id, never the object (which is gone by now). */
static void dslab_conn_put_id(void *arg)
{
	if (!in_task())
		atomic_inc(&dslab_conn_bad);
	ida_free(&dslab_conn_ida, (unsigned long)arg);
	atomic_inc(&dslab_conn_cleanup_runs);
}

/* === Connections === */

static void dslab_conn_put(struct dslab_conn *c)
{
	if (refcount_dec_and_test(&c->ref))
		dslab_free_rcu(c);
}

static int dslab_conn_add(void)
{
	struct dslab_cleanup *cleanup;
	struct dslab_conn *c;
	int id, ret;

	id = ida_alloc(&dslab_conn_ida, GFP_KERNEL);
	if (id < 0)
		return id;
	c = dslab_new_typed(dslab_conn_type, GFP_KERNEL);
	if (!c) {
		ret = -ENOMEM;
		goto err_free_id;
	}
	c->magic = DSLAB_CONN_MAGIC;
	c->key = id;
	c->len = DSLAB_CONN_BUFLEN;
	c->buf = kmalloc(c->len, GFP_KERNEL);
	if (!c->buf) {
		ret = -ENOMEM;
		goto err_free_conn;
	}
	memset(c->buf, (u8)c->key, c->len);
	atomic_inc(&dslab_conn_bufs);

	ret = dslab_set_destructor_gfp(c, &dslab_conn_dtor, GFP_KERNEL);
	if (ret)
		goto err_free_buf;
	dslab_conn_dtors_set++;
	/* From here on the destructor frees the buffer. */

	cleanup = dslab_add_cleanup(c, dslab_conn_put_id,
				    (void *)(unsigned long)id, GFP_KERNEL);
	if (IS_ERR(cleanup)) {
		ret = PTR_ERR(cleanup);
		goto err_free_conn;
	}
	dslab_conn_cleanups_added++;
	/* From here on the cleanup frees the id. */

	refcount_set(&c->ref, 1);	/* the table's */
	spin_lock(&dslab_conn_lock);
	hash_add_rcu(dslab_conn_table, &c->node, c->key);
	dslab_conn_nr_live++;
	spin_unlock(&dslab_conn_lock);
	/* Only the load path writes it; readers tolerate a stale range. */
	if (id >= READ_ONCE(dslab_conn_keys))
		WRITE_ONCE(dslab_conn_keys, id + 1);
	return 0;

err_free_buf:
	kfree(c->buf);
	atomic_dec(&dslab_conn_bufs);
err_free_conn:
	dslab_free(c);
err_free_id:
	ida_free(&dslab_conn_ida, id);
	return ret;
}

/* Unpublish a connection and drop the table's reference. */
static void dslab_conn_remove_locked(struct dslab_conn *c)
{
	lockdep_assert_held(&dslab_conn_lock);
	hash_del_rcu(&c->node);
	dslab_conn_nr_live--;
	dslab_conn_removed++;
	dslab_conn_put(c);
}

/* Remove the connection with the first key present from @key on. */
static bool dslab_conn_remove_from(u32 key)
{
	u32 nkeys = READ_ONCE(dslab_conn_keys), i;
	struct dslab_conn *c;

	spin_lock(&dslab_conn_lock);
	for (i = 0; i < nkeys; i++, key = (key + 1) % nkeys) {
		hash_for_each_possible(dslab_conn_table, c, node, key) {
			if (c->key == key) {
				dslab_conn_remove_locked(c);
				spin_unlock(&dslab_conn_lock);
				return true;
			}
		}
	}
	spin_unlock(&dslab_conn_lock);
	return false;
}

static void dslab_conn_remove_random(void)
{
	u32 nkeys = READ_ONCE(dslab_conn_keys);

	if (nkeys)
		dslab_conn_remove_from(get_random_u32() % nkeys);
}

/* Empty the table, a bucket at a time: the usual exit path. */
static void dslab_conn_remove_all(void)
{
	struct hlist_node *tmp;
	struct dslab_conn *c;
	unsigned int bkt;

	for (bkt = 0; bkt < HASH_SIZE(dslab_conn_table); bkt++) {
		spin_lock(&dslab_conn_lock);
		hlist_for_each_entry_safe(c, tmp, &dslab_conn_table[bkt], node)
			dslab_conn_remove_locked(c);
		spin_unlock(&dslab_conn_lock);
		cond_resched();
	}
}

/* === Readers === */

/*
 * A driver's lookup: find @key under RCU and take a reference.  Every
 * entry the walk passes is still reachable, so its bytes must still be a
 * connection's, in the bucket of its own key: if the memory had been
 * reused or scribbled on before the grace period ended, this is where it
 * shows.  A bad entry ends the walk (its next pointer is not to be
 * trusted either).
 */
static struct dslab_conn *dslab_conn_get(struct dslab_conn_reader *r, u32 key)
{
	struct dslab_conn *c, *found = NULL;

	rcu_read_lock();
	hash_for_each_possible_rcu(dslab_conn_table, c, node, key) {
		if (c->magic != DSLAB_CONN_MAGIC ||
		    hash_min(c->key, DSLAB_CONN_HASH_BITS) !=
		    hash_min(key, DSLAB_CONN_HASH_BITS)) {
			r->violations++;
			break;
		}
		if (c->key == key && refcount_inc_not_zero(&c->ref)) {
			found = c;
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

static int dslab_conn_reader_fn(void *data)
{
	struct dslab_conn_reader *r = data;
	struct dslab_conn *c;
	u32 nkeys;

	while (!kthread_should_stop()) {
		nkeys = READ_ONCE(dslab_conn_keys);
		if (nkeys) {
			r->next_key = (r->next_key + 1) % nkeys;
			c = dslab_conn_get(r, r->next_key);
			r->lookups++;
			if (c) {
				/* Holding a reference, the buffer is ours too. */
				if (c->buf[0] != (u8)c->key ||
				    c->buf[c->len - 1] != (u8)c->key)
					r->violations++;
				r->hits++;
				dslab_conn_put(c);	/* may be the last */
			}
		}
		cond_resched();
	}
	return 0;
}

static void dslab_conn_readers_stop(void)
{
	struct dslab_conn_reader *r;
	unsigned int i;

	for (i = 0; i < DSLAB_CONN_READERS; i++) {
		r = &dslab_conn_readers[i];
		if (!r->task)
			continue;
		kthread_stop(r->task);
		r->task = NULL;
		dslab_conn_lookups += r->lookups;
		dslab_conn_hits += r->hits;
		dslab_conn_violations += r->violations;
	}
}

static int dslab_conn_readers_start(void)
{
	struct dslab_conn_reader *r;
	struct task_struct *t;
	unsigned int i;

	for (i = 0; i < DSLAB_CONN_READERS; i++) {
		r = &dslab_conn_readers[i];
		memset(r, 0, sizeof(*r));
		r->next_key = i * 7919;
		t = kthread_run(dslab_conn_reader_fn, r, "dslab_conn_rd/%u", i);
		if (IS_ERR(t)) {
			dslab_conn_readers_stop();
			return PTR_ERR(t);
		}
		r->task = t;
	}
	return 0;
}

/* === Init and exit === */

/* Empty the table with no reader left and wait for every destructor. */
static void dslab_conn_teardown(void)
{
	dslab_conn_remove_all();
	dslab_conn_readers_stop();
	dslab_dtor_barrier();
}

/*
 * Fill the table, then replace connections one at a time while the
 * readers look them up, and trim it to DSLAB_CONN_KEEP for exit.
 */
static int __init dslab_conn_init(void)
{
	unsigned int i, removed;
	int ret;

	ret = dslab_conn_readers_start();
	if (ret) {
		pr_err("starting the readers: %d\n", ret);
		return ret;
	}
	for (i = 0; i < DSLAB_CONN_KEEP + DSLAB_CONN_EXTRA; i++) {
		ret = dslab_conn_add();
		if (ret)
			goto err_teardown;
	}
	for (i = 0; i < DSLAB_CONN_ROUNDS; i++) {
		dslab_conn_remove_random();
		ret = dslab_conn_add();
		if (ret)
			goto err_teardown;
		cond_resched();
	}
	for (i = 0; i < DSLAB_CONN_EXTRA; i++)
		dslab_conn_remove_random();
	dslab_conn_readers_stop();

	/* Every connection removed so far is gone, its id back. */
	dslab_dtor_barrier();
	removed = dslab_conn_dtors_set - dslab_conn_nr_live;
	dslab_conn_check(dslab_conn_nr_live == DSLAB_CONN_KEEP,
			 "%u connections live, expected %u",
			 dslab_conn_nr_live, DSLAB_CONN_KEEP);
	dslab_conn_check(atomic_read(&dslab_conn_dtor_runs) == removed,
			 "init: %d destructors run for %u connections removed",
			 atomic_read(&dslab_conn_dtor_runs), removed);
	dslab_conn_check(atomic_read(&dslab_conn_cleanup_runs) ==
			 dslab_conn_cleanups_added - dslab_conn_nr_live,
			 "init: %d ids returned, expected %u",
			 atomic_read(&dslab_conn_cleanup_runs),
			 dslab_conn_cleanups_added - dslab_conn_nr_live);
	pr_info("init: %u connections made, %u removed, %u live; %lu lookups, %lu hits, %lu violations\n",
		dslab_conn_dtors_set, dslab_conn_removed, dslab_conn_nr_live,
		dslab_conn_lookups, dslab_conn_hits, dslab_conn_violations);
	return 0;

err_teardown:
	pr_err("adding a connection: %d\n", ret);
	/* Nothing of ours may stay queued once init fails. */
	dslab_conn_teardown();
	ida_destroy(&dslab_conn_ida);
	return ret;
}

static void __exit dslab_conn_exit(void)
{
	unsigned int live = dslab_conn_nr_live;
	int ret, dtors, cleanups;

	/* Readers again, while the table empties. */
	ret = dslab_conn_readers_start();
	dslab_conn_check(!ret, "starting the readers in exit: %d", ret);
	dslab_conn_teardown();

	dtors = atomic_read(&dslab_conn_dtor_runs);
	cleanups = atomic_read(&dslab_conn_cleanup_runs);
	dslab_conn_check(!dslab_conn_nr_live && hash_empty(dslab_conn_table),
			 "%u connections left in the table", dslab_conn_nr_live);
	dslab_conn_check(dtors == dslab_conn_dtors_set,
			 "%d destructors run for %u connections",
			 dtors, dslab_conn_dtors_set);
	dslab_conn_check(cleanups == dslab_conn_cleanups_added,
			 "%d cleanups run, %u added", cleanups,
			 dslab_conn_cleanups_added);
	dslab_conn_check(ida_is_empty(&dslab_conn_ida),
			 "ids still allocated in the IDA");
	dslab_conn_check(!atomic_read(&dslab_conn_bufs) &&
			 !atomic_read(&dslab_conn_bad),
			 "%d buffers not freed, %d destructor or cleanup checks failed",
			 atomic_read(&dslab_conn_bufs),
			 atomic_read(&dslab_conn_bad));
	dslab_conn_check(!dslab_conn_violations,
			 "readers saw %lu bad entries", dslab_conn_violations);
	ida_destroy(&dslab_conn_ida);

	pr_info("%u connections (%u live at unload), %d destructors run, %d ids returned, %lu lookups (%lu hits), %lu violations ... %s\n",
		dslab_conn_dtors_set, live, dtors, cleanups, dslab_conn_lookups,
		dslab_conn_hits, dslab_conn_violations,
		dslab_conn_failed ? "FAILED" : "ok");
}

module_init(dslab_conn_init);
module_exit(dslab_conn_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("dslab sample client: an RCU hash table of refcounted connections");
MODULE_AUTHOR("dslab developers");
