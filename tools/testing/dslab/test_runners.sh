#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# test_runners.sh - what /sys/kernel/debug/dslab/runners tells an
# administrator: the queued and executed totals, what the runner is
# running now and for how long, a histogram of run times, the longest
# recent run and the slow-destructor report (slow_dtor_ms), all as
# symbols, never as addresses; one call in 16 is timed for the
# histogram.  dslab_ctl's "sleep" destructor is the slow one.  Also: a CPU
# that frees a trickle takes no IPI for it, and the FinBlocks a backlog
# needed go back under memory pressure.  Prints TAP.

. "$(dirname "$0")/lib.sh"
need_dslab

R=$D/runners
P=/sys/module/dslab/parameters/slow_dtor_ms

# rval <name>: a value of the runners file.
rval() {
	awk -v n="$1" '$1 == n { $1 = ""; sub(/^ /, ""); print; exit }' "$R"
}

# sleep_one <ms> <what>: an object whose destructor sleeps <ms>, freed,
# and waited for.
sleep_one() {
	ctl alloc 8
	s_h=$(last_id)
	ctl dtor "$s_h" sleep "$1"
	expect_ok "free $2" free "$s_h"
	expect_ok "barrier" barrier
}

# with_dtors <size> <n>: <n> objects with the counting destructor, as
# handles $h to $h2.
with_dtors() {
	ctl alloc "$1" "$2"
	h=$(last_id)
	h2=$(last_id2)
	w_i=$h
	while [ "$w_i" -le "$h2" ]; do
		ctl dtor "$w_i" count
		w_i=$((w_i + 1))
	done
}

# of_running <symbol> <name>: a value in the section of the runner that
# runs <symbol> now.
of_running() {
	awk -v f="$1" -v k="$2" '
		function section_end() { if (run == f) { print v[k]; found = 1; exit } }
		$1 == "runner" { section_end(); split("", v); run = ""; next }
		{ n = $1; $1 = ""; sub(/^ /, ""); v[n] = $0; if (n == "running") run = $0 }
		END { if (!found) section_end() }' "$R"
}

# Calls due to be timed: each runner's calls 16, 32, ..., added up.
sampled() {
	awk '$1 == "runner" { in_runner = 1 }
		in_runner && $1 == "calls" { n += int($2 / 16) }
		END { print n + 0 }' "$R"
}

# The histogram's total.
hist_total() {
	awk '$1 ~ /^run_ns_/ { n += $2 } END { print n + 0 }' "$R"
}

# A fresh dslab: no function has been reported yet.
t_check "reload dslab" reload_dslab
mark_kmsg runners

t_check "runners file exists" test -r "$R"
for k in objects_queued destructors_run cleanups_run runners \
	 runners_at_once leader blocks_ready blocks_running runner state \
	 running running_ms calls slow_runs slow_dtor_ms longest_ns longest_fn \
	 longest_age_s histogram_one_call_in run_ns_lt_1024 \
	 run_ns_ge_4294967296; do
	t_check "runners shows $k" sh -c "grep -q '^$k ' '$R'"
done
n=$(rval runners)
t_check "several runners ($n), more than run at once ($(rval runners_at_once))" \
	sh -c "[ $n -gt $(rval runners_at_once) ]"
t_eq "one section per runner" "$n" "$(grep -c '^runner [0-9]' "$R")"
t_check "... each idle" \
	wait_for 5 sh -c "[ \$(grep -c '^state idle\$' '$R') = $n ]"
t_eq "the default threshold is the workqueue's 10 ms" 10 "$(cat $P)"

# Quick destructors: counted in the totals, sampled in the histogram.
q0=$(rval objects_queued)
r0=$(rval destructors_run)
c0=$(rval calls)
h0=$(hist_total)
sm0=$(sampled)
with_dtors 32 8
expect_ok "free 8 objects with destructors" free "$h-$h2"
expect_ok "barrier" barrier
t_eq "objects_queued counts them" $((q0 + 8)) "$(rval objects_queued)"
t_eq "destructors_run counts them" $((r0 + 8)) "$(rval destructors_run)"
t_eq "calls counts every run" $((c0 + 8)) "$(rval calls)"
t_eq "the histogram has calls 16, 32, ... of them" \
	$((h0 + $(sampled) - sm0)) "$(hist_total)"

# A slow destructor: seen while it runs, then reported once.
echo 100 >"$P"
t_eq "slow_dtor_ms is writable" 100 "$(rval slow_dtor_ms)"
s0=$(rval slow_runs)
ctl alloc 8
h=$(last_id)
expect_ok "dtor <h> sleep 1500" dtor "$h" sleep 1500
expect_ok "free it" free "$h"
t_check "the runner is seen running it" \
	wait_for 5 sh -c "grep -q '^running dslab_ctl_sleep_fn \[dslab_ctl\]$' '$R'"
ms=$(of_running "dslab_ctl_sleep_fn [dslab_ctl]" running_ms)
t_check "... with its time so far ($ms ms)" [ "${ms:-0}" -gt 0 ]
t_eq "... in state running" running \
	"$(of_running "dslab_ctl_sleep_fn [dslab_ctl]" state)"
expect_ok "barrier waits for it" barrier
t_eq "nothing runs after the barrier" - "$(rval running)"
t_eq "it counts as slow" $((s0 + 1)) "$(rval slow_runs)"
t_eq "it is the longest recent run" "dslab_ctl_sleep_fn [dslab_ctl]" \
	"$(rval longest_fn)"
t_check "... of 1.5 s, give or take two ticks" \
	sh -c "[ $(rval longest_ns) -ge 1400000000 ]"
t_eq "reported once on the console" 1 \
	"$(kmsg_since runners | grep -c 'slow destructor dslab_ctl_sleep_fn \[dslab_ctl\] ran')"

# Again: counted, not reported again.
sleep_one 150 "a second slow one"
t_eq "the second counts as slow" $((s0 + 2)) "$(rval slow_runs)"
t_eq "... and is not reported again" 1 \
	"$(kmsg_since runners | grep -c 'slow destructor dslab_ctl_sleep_fn')"

# 0 switches the report off; bad input changes nothing.
echo 0 >"$P"
sleep_one 150 "a slow one with slow_dtor_ms=0"
t_eq "slow_dtor_ms=0: not counted" $((s0 + 2)) "$(rval slow_runs)"
t_check "slow_dtor_ms refuses a word" sh -c "! echo ten >'$P' 2>/dev/null"
t_check "... and a negative number" sh -c "! echo -1 >'$P' 2>/dev/null"
t_eq "... and keeps its value" 0 "$(cat $P)"
echo 10 >"$P"

# backlog_max: the backpressure bound (KUnit dslab_runners tests it).
B=/sys/module/dslab/parameters/backlog_max
t_eq "backlog_max defaults to 65536" 65536 "$(cat $B)"
t_check "backlog_max refuses a word" sh -c "! echo lots >'$B' 2>/dev/null"
t_eq "... and keeps its value" 65536 "$(cat $B)"
echo 4096 >"$B"
t_eq "backlog_max is writable" 4096 "$(cat $B)"
echo 65536 >"$B"

# No IPIs: a CPU that frees a trickle hands its partly filled blocks over
# itself, from its own timer; dslab interrupts no CPU for them.  The
# csd:csd_queue_cpu tracepoint (6.6 on) names the function every
# cross-CPU call queues (smp_call_function*(), the scheduler's wake-ups
# through an IPI): none may be dslab's.  The function-call line of
# /proc/interrupts is printed too; it counts the scheduler's wake-ups of
# an idle CPU as well (on 6.1 every one), so it is not the check.
TR=/sys/kernel/tracing
[ -d "$TR/events" ] || TR=/sys/kernel/debug/tracing
CSD=$TR/events/csd/csd_queue_cpu
ipis() {
	awk -v c="$1" '/Function call interrupts/ { print $(c + 2); exit }' \
		/proc/interrupts
}

# trickle <first> <last>: "free <id>" for each id, 50 ms apart, from one
# shell bound to CPU 1; prints the function-call IPIs CPU 1 took.
trickle() {
	tr_0=$(ipis 1)
	taskset 2 sh -c "i=$1; while [ \$i -le $2 ]; do
		echo \"free \$i\" >$CTL/control 2>/dev/null; sleep 0.05
		i=\$((i + 1)); done"
	echo $(($(ipis 1) - tr_0))
}
if [ "$(nproc)" -lt 2 ]; then
	t_skip "no IPIs" "one CPU"
elif [ ! -f "$CSD/enable" ]; then
	t_skip "no IPIs" "no csd:csd_queue_cpu tracepoint (it came in 6.6)"
else
	with_dtors 32 30
	r0=$(rval destructors_run)
	echo 0 >"$TR/tracing_on"
	echo >"$TR/trace"
	echo 1 >"$CSD/enable"
	echo 1 >"$TR/tracing_on"
	got=$(trickle "$h" "$h2")
	t_check "30 objects freed one by one on CPU 1: their destructors ran" \
		wait_for 5 sh -c "[ \$(awk '\$1 == \"destructors_run\" { print \$2 }' '$R') -ge $((r0 + 30)) ]"
	echo 0 >"$TR/tracing_on"
	echo 0 >"$CSD/enable"
	n=$(grep -c 'csd_queue_cpu:' "$TR/trace")
	ours=$(grep 'csd_queue_cpu:' "$TR/trace" | grep -c 'func=[^ ]* \[dslab\]')
	echo >"$TR/trace"
	echo 1 >"$TR/tracing_on"
	t_eq "... and dslab queued no cross-CPU call meanwhile ($n traced, $got function-call IPIs on CPU 1)" \
		0 "$ours"
fi

# A backlog's FinBlocks go back under memory pressure: drop_caches runs
# every shrinker, dslab's "dslab-finblocks" among them.
if [ -w /proc/sys/vm/drop_caches ]; then
	b0=$(finq blocks_total)
	with_dtors 8 3000
	b1=$(finq blocks_total)
	t_check "3000 destructors grow the FinBlock pool ($b0 -> $b1)" \
		[ "$b1" -gt "$b0" ]
	expect_ok "free them" free "$h-$h2"
	expect_ok "barrier" barrier
	b2=$(finq blocks_total)
	echo 2 >/proc/sys/vm/drop_caches
	b3=$(finq blocks_total)
	t_check "drop_caches gives the surplus back ($b2 -> $b3, was $b0)" \
		sh -c "[ $b3 -lt $b2 ] && [ $b3 -le $b0 ]"
else
	t_skip "the FinBlock shrinker" "no writable /proc/sys/vm/drop_caches"
fi

t_check "no kernel address in runners" \
	sh -c "! grep -E -q '0x[0-9a-f]{8}|ffff[0-9a-f]{12}' '$R'"
t_check "no kernel report" kmsg_clean runners
t_done
