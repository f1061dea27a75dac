// SPDX-License-Identifier: GPL-2.0
/*
 * Instantiates dslab's tracepoints (include/trace/events/dslab.h).
 *
 * Every other file includes the header without CREATE_TRACE_POINTS and
 * only calls trace_dslab_*(); this is the one translation unit that emits
 * the tracepoint definitions and their tracefs metadata.
 * Documentation/debugfs.rst describes the events.
 */
#define CREATE_TRACE_POINTS
#include <trace/events/dslab.h>
