#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-bench.sh - what the benchmark VM does (runs as /dslab/guest.sh).
#
# Usage: guest.sh bench|bench_quick
#
# Loads dslab and dslab_bench, describes the machine, runs every
# benchmark through /sys/kernel/debug/dslab_bench/run, then prints the
# results (one JSON object per line) between markers for bench/run.sh:
#   DSLAB-BENCH-INFO <key>=<value>
#   DSLAB-BENCH-RUN <command>          (before each benchmark)
#   DSLAB-BENCH-FAIL <command> rc=<n>  (a benchmark failed its own check)
#   DSLAB-BENCH-SKIP <command> skipped: <why>  (nothing to run here:
#                                      remote_free on one node)
#   DSLAB-BENCH-RESULTS-BEGIN / -END   (results, printed when quiet)
# Documentation/benchmarks.rst describes the benchmarks.

mode=${1:-bench}
D=/dslab
B=/sys/kernel/debug/dslab_bench
quick=0
[ "$mode" = bench_quick ] && quick=1

info() {
	echo "DSLAB-BENCH-INFO $1=$2"
}

# DSLAB_BENCH_DSLAB_ARGS (bench/run.sh) arrives as dslab_args=<a=1,b=2>.
dargs=$(sed -n 's/.*dslab_args=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' ')
# shellcheck disable=SC2086 # one word per parameter
if ! insmod $D/dslab.ko $dargs; then
	echo "DSLAB-BENCH-FAIL insmod-dslab rc=1"
	exit 1
fi
# With the memory controller (DSLAB_BENCH_MEMCG=1), dslab_bench is
# loaded from a cgroup of its own, which the account benchmark charges.
ins="insmod $D/dslab_bench.ko quick=$quick"
CG=/sys/fs/cgroup
if grep -qw memory $CG/cgroup.controllers 2>/dev/null ||
   { mount -t cgroup2 none $CG 2>/dev/null &&
     grep -qw memory $CG/cgroup.controllers; }; then
	echo +memory >$CG/cgroup.subtree_control
	mkdir -p $CG/bench
	ins="sh -c 'echo \$\$ >$CG/bench/cgroup.procs && exec $ins'"
fi
if ! eval "$ins"; then
	echo "DSLAB-BENCH-FAIL insmod-dslab_bench rc=1"
	rmmod dslab
	exit 1
fi

info kernel "$(uname -r)"
info cpus "$(nproc)"
info clocksource "$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
info cpu_model "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
info cmdline "$(cat /proc/cmdline)"
info dslab_args "${dargs:-none}"
info kasan "$(grep -qw kasan_poison /proc/kallsyms 2>/dev/null && echo yes || echo no)"
info memcg "$(grep -qw memory $CG/cgroup.controllers 2>/dev/null && echo yes || echo no)"
info preempt "$(cat /sys/kernel/debug/sched/preempt 2>/dev/null)"
while IFS= read -r line; do
	info "module_${line%%=*}" "${line#*=}"
done <$B/info

# Order: fast micro-benchmarks first, the long end-to-end ones last.
set -- \
	"alloc_free size=8" "alloc_free size=16" "alloc_free size=64" \
	"alloc_free size=96" "alloc_free size=256" "alloc_free size=1024" \
	"alloc_free size=4096" \
	"bulk n=16" "bulk n=128" \
	"find size=64" "find size=1024" \
	"dtor_free size=64" \
	"parallel size=64 batch=1" "parallel size=64 batch=64" \
	"remote_free size=64" \
	"account size=64" \
	"dtor_e2e size=64" \
	"memory"

# DSLAB_BENCH_ONLY (bench/run.sh) arrives as dslab_only=<name,name,...>;
# dslab_skip=<name,...> leaves benchmarks out (the main boot's
# remote_free: bench/run.sh runs it in a second boot with two nodes).
only=$(sed -n 's/.*dslab_only=\([^ ]*\).*/\1/p' /proc/cmdline)
leave=$(sed -n 's/.*dslab_skip=\([^ ]*\).*/\1/p' /proc/cmdline)

fails=0
for cmd in "$@"; do
	case ",$only," in
	,,) ;;
	*",${cmd%% *},"*) ;;
	*) continue ;;
	esac
	case ",$leave," in
	*",${cmd%% *},"*) continue ;;
	esac
	echo "DSLAB-BENCH-RUN $cmd"
	n0=$(wc -l <$B/results)
	t0=$(date +%s)
	if ! echo "$cmd" >$B/run; then
		echo "DSLAB-BENCH-FAIL $cmd rc=1"
		fails=$((fails + 1))
	fi
	echo "DSLAB-BENCH-TIME $cmd $(( $(date +%s) - t0 ))s"
	# A benchmark this machine cannot run says why in its result line.
	tail -n +$((n0 + 1)) $B/results |
		sed -n "s/.*\"skipped\":\"\([^\"]*\)\".*/DSLAB-BENCH-SKIP $cmd skipped: \1/p"
done

cat $B/results >/tmp/results
# dslab's own view after the runs: runner wake-ups, batches, time.
sed 's/^/DSLAB-BENCH-STATS /' /sys/kernel/debug/dslab/finq
grep -E '^(runner_wakeups|finq_handovers) ' /sys/kernel/debug/dslab/stats |
	sed 's/^/DSLAB-BENCH-STATS /'
grep -E '^(runner [0-9]|calls) ' /sys/kernel/debug/dslab/runners |
	sed 's/^/DSLAB-BENCH-STATS /'
sleep 1
echo "DSLAB-BENCH-RESULTS-BEGIN"
cat /tmp/results
echo "DSLAB-BENCH-RESULTS-END"

rmmod dslab_bench || echo "DSLAB-BENCH-FAIL rmmod-dslab_bench rc=1"
rmmod dslab || echo "DSLAB-BENCH-FAIL rmmod-dslab rc=1"
echo "DSLAB-TAINT: $(cat /proc/sys/kernel/tainted)"
[ $fails -eq 0 ]
