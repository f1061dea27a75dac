#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# test_trace.sh - dslab's tracepoints through tracefs: each event fires
# with the right fields when driven through debugfs control, and object
# addresses come out hashed.  Skips when the kernel has no tracefs.
#
# Prints TAP.

. "$(dirname "$0")/lib.sh"
need_dslab

TR=${DSLAB_TRACEFS:-/sys/kernel/tracing}
[ -d "$TR/events" ] || TR=/sys/kernel/debug/tracing
EV=$TR/events/dslab

if [ ! -d "$EV" ]; then
	t_skip "dslab tracepoints" "no tracefs or no events/dslab"
	t_done
fi

for e in dslab_alloc dslab_free dslab_set_destructor dslab_dtor_queue \
	 dslab_dtor_run dslab_runner_start dslab_runner_stop; do
	t_check "event $e exists" [ -f "$EV/$e/enable" ]
done

echo 0 >"$TR/tracing_on"
echo >"$TR/trace"
echo 1 >"$EV/enable"
echo 1 >"$TR/tracing_on"

ctl free all
ctl barrier
# GFP_ATOMIC and no destructor: the fast paths, when no kernel hook
# (KASAN, kmemleak) sends every call to the slow ones, as on the stock
# kernels.  The tracepoints' registration must send them there.  Nothing
# else of dslab's runs meanwhile, so the trace holds these two alone.
echo >"$TR/trace"
ctl alloc_atomic 40
a=$(last_id)
ctl free "$a"
cat "$TR/trace" >"$T_TMP/fast"
ctl alloc 24
h=$(last_id)
ctl dtor "$h" count
ctl free "$h"
ctl barrier
ctl new point
p=$(last_id)
ctl dtor "$p" point
ctl dtor "$p" shape
ctl free "$p"
ctl barrier

echo 0 >"$TR/tracing_on"
echo 0 >"$EV/enable"
cat "$TR/trace" >"$T_TMP/trace"

# %p prints "(____ptrval____)" until the kernel's random pool is ready
# (6.1 in a VM may stay there for the whole run), a hash after.
P='(\(____ptrval____\)|[0-9a-f]+)'
has() {
	grep -E -q "$1" "$T_TMP/trace"
}
t_check "dslab_alloc of 24 bytes" \
	has "dslab_alloc: obj=$P bytes_req=24 bytes_alloc=24 gfp_flags=[A-Z_|]+"
t_check "dslab_free" has "dslab_free: obj=$P"
t_check "dslab_alloc of 40 bytes with GFP_ATOMIC (the fast path)" \
	grep -E -q "dslab_alloc: obj=$P bytes_req=40 bytes_alloc=[0-9]+ gfp_flags=GFP_ATOMIC" "$T_TMP/fast"
nfree=$(grep -c "dslab_free: obj=" "$T_TMP/fast")
t_eq "its dslab_free, with no destructor (the fast path)" 1 "$nfree"
t_check "dslab_set_destructor for any object" \
	has "dslab_set_destructor: obj=$P type=any ret=0"
t_check "dslab_set_destructor names the type" \
	has "dslab_set_destructor: obj=$P type=struct dslab_ctl_point ret=0"
t_check "dslab_set_destructor reports the refusal" \
	has "dslab_set_destructor: obj=$P type=struct dslab_ctl_shape ret=-17"
t_check "dslab_dtor_queue" has "dslab_dtor_queue: obj=$P rcu=0"
t_check "dslab_dtor_run of a destructor with its duration" \
	has "dslab_dtor_run: obj=$P kind=destructor ns=[0-9]+"

t_check "dslab_runner_start when the runner wakes" \
	has "dslab_runner_start: runner=0"
t_check "dslab_runner_stop with what it ran" \
	has "dslab_runner_stop: runner=0 records=[1-9][0-9]*"

# Hashed %p prints the upper half of a 64-bit hash: 8 zeros, 8 digits.
if grep -q no_hash_pointers /proc/cmdline; then
	t_skip "object addresses are hashed" "booted with no_hash_pointers"
else
	t_eq "object addresses are hashed" "" \
		"$(grep -E -o 'obj=[^ ]+' "$T_TMP/trace" |
		   grep -v -E '^obj=(00000000[0-9a-f]{8}|\(____ptrval____\))$')"
fi

# The same object shows up in alloc, set_destructor, free, queue and run.
obj=$(grep -E -o 'dslab_alloc: obj=[0-9a-f]+ bytes_req=24 ' "$T_TMP/trace" |
	head -n 1 | sed 's/.*obj=\([0-9a-f]*\).*/\1/')
if [ -n "$obj" ]; then
	t_eq "one object's life: alloc set free queue run" "5" \
		"$(grep -c -E "obj=$obj( |$)" "$T_TMP/trace")"
else
	t_skip "one object's life" "pointers not hashed yet: (____ptrval____)"
fi

echo >"$TR/trace"
t_done
