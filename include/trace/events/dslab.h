/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of dslab: allocation, free, destructor registration, and
 * the runner queueing and running destructors and cleanups.
 *
 * Use them from tracefs (events/dslab/), trace-cmd or perf; a disabled
 * tracepoint costs one static branch (dslab_alloc and dslab_free share
 * their fast path's, which their registration turns on).  Object
 * addresses are printed with %p, so they are hashed unless the kernel
 * boots with no_hash_pointers.
 * Documentation/debugfs.rst lists the events and their fields.
 *
 * mm/trace.c is the one file that defines CREATE_TRACE_POINTS.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM dslab

#if !defined(_TRACE_DSLAB_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_DSLAB_H

#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/types.h>
#include <trace/events/mmflags.h>

/*
 * Type names are copied into a fixed array rather than __string(): the
 * __assign_str() macro changed arity in 6.10, a fixed array reads the same
 * on 6.1 and 6.12.  Longer names are truncated.
 */
#define DSLAB_TRACE_TYPE_LEN	32

/* alloc.c: these two tracepoints send dslab's fast paths to the slow ones. */
int dslab_trace_alloc_reg(void);
void dslab_trace_alloc_unreg(void);
int dslab_trace_free_reg(void);
void dslab_trace_free_unreg(void);

TRACE_EVENT_FN(dslab_alloc,
	       TP_PROTO(const void *obj, size_t req, size_t alloc, gfp_t gfp),
	       TP_ARGS(obj, req, alloc, gfp),
	       TP_STRUCT__entry(__field(const void *, obj)
				__field(size_t, req)
				__field(size_t, alloc)
				__field(unsigned long, gfp)),
	       TP_fast_assign(__entry->obj = obj;
			      __entry->req = req;
			      __entry->alloc = alloc;
			      __entry->gfp = (__force unsigned long)gfp;),
	       TP_printk("obj=%p bytes_req=%zu bytes_alloc=%zu gfp_flags=%s",
			 __entry->obj, __entry->req, __entry->alloc,
			 show_gfp_flags(__entry->gfp)),
	       dslab_trace_alloc_reg, dslab_trace_alloc_unreg
);

TRACE_EVENT_FN(dslab_free,
	       TP_PROTO(const void *obj),
	       TP_ARGS(obj),
	       TP_STRUCT__entry(__field(const void *, obj)),
	       TP_fast_assign(__entry->obj = obj;),
	       TP_printk("obj=%p", __entry->obj),
	       dslab_trace_free_reg, dslab_trace_free_unreg
);

/* @type: name of the type the destructor accepts, NULL for any object */
TRACE_EVENT(dslab_set_destructor,
	    TP_PROTO(const void *obj, const char *type, int ret),
	    TP_ARGS(obj, type, ret),
	    TP_STRUCT__entry(__field(const void *, obj)
			     __array(char, type, DSLAB_TRACE_TYPE_LEN)
			     __field(int, ret)),
	    TP_fast_assign(__entry->obj = obj;
			   strscpy(__entry->type, type ? type : "any",
				   DSLAB_TRACE_TYPE_LEN);
			   __entry->ret = ret;),
	    TP_printk("obj=%p type=%s ret=%d",
		      __entry->obj, __entry->type, __entry->ret)
);

/* @rcu: the object was freed with dslab_free_rcu() */
TRACE_EVENT(dslab_dtor_queue,
	    TP_PROTO(const void *obj, bool rcu),
	    TP_ARGS(obj, rcu),
	    TP_STRUCT__entry(__field(const void *, obj)
			     __field(bool, rcu)),
	    TP_fast_assign(__entry->obj = obj;
			   __entry->rcu = rcu;),
	    TP_printk("obj=%p rcu=%d", __entry->obj, __entry->rcu)
);

/* @kind: 0 destructor, 1 cleanup; @ns: how long the function ran */
TRACE_EVENT(dslab_dtor_run,
	    TP_PROTO(const void *obj, int kind, u64 ns),
	    TP_ARGS(obj, kind, ns),
	    TP_STRUCT__entry(__field(const void *, obj)
			     __field(int, kind)
			     __field(u64, ns)),
	    TP_fast_assign(__entry->obj = obj;
			   __entry->kind = kind;
			   __entry->ns = ns;),
	    TP_printk("obj=%p kind=%s ns=%llu", __entry->obj,
		      __print_symbolic(__entry->kind,
				       { 0, "destructor" },
				       { 1, "cleanup" }),
		      __entry->ns)
);

/* A runner wakes from its idle sleep to work. */
TRACE_EVENT(dslab_runner_start,
	    TP_PROTO(unsigned int runner),
	    TP_ARGS(runner),
	    TP_STRUCT__entry(__field(unsigned int, runner)),
	    TP_fast_assign(__entry->runner = runner;),
	    TP_printk("runner=%u", __entry->runner)
);

/* A runner goes idle; @records: what it ran since it started. */
TRACE_EVENT(dslab_runner_stop,
	    TP_PROTO(unsigned int runner, unsigned long records),
	    TP_ARGS(runner, records),
	    TP_STRUCT__entry(__field(unsigned int, runner)
			     __field(unsigned long, records)),
	    TP_fast_assign(__entry->runner = runner;
			   __entry->records = records;),
	    TP_printk("runner=%u records=%lu", __entry->runner,
		      __entry->records)
);

#endif /* _TRACE_DSLAB_H */

/*
 * No TRACE_INCLUDE_PATH: define_trace.h then includes <trace/events/dslab.h>
 * again, which Kbuild's -I$(src)/include resolves to this file out of tree.
 */

/* This part must be outside the include guard. */
#include <trace/define_trace.h>
