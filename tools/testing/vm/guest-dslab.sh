#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-dslab.sh - what the test VM does with dslab (runs as /dslab/guest.sh).
#
# Usage: guest.sh <mode>
#   check     debug kernel: load dslab and dslab_test (KUnit runs on load),
#             dump every dslab* KUnit suite's results, run the sample,
#             connection-table and torture modules if present, run the
#             shell tests (with the test module dslab_ctl), unload, scan
#             for leaks.
#   stock     Debian kernel (no KUnit): load dslab, sample, connection
#             table, shell tests, unload.
#   selftest  load with the harness self-test faults switched on
#             (dslab_ctl.selftest_warn=1 and selftest_uaf=1,
#             dslab_test.selftest_fail=1); the host expects its checker
#             to turn red.
#   run       load dslab and dslab_ctl, run tools/testing/dslab/demo.sh,
#             unload.
#   kunit     load dslab and dslab_test, dump the KUnit results, unload
#             (tools/testing/vm/kunit.sh: one suite, quickly).
#
# Everything the host parses is printed between markers on the console:
#   DSLAB-STEP: ok|not ok|skip <name> [# detail]
#   DSLAB-KTAP-BEGIN <suite> ... DSLAB-KTAP-END <suite>
#   DSLAB-SHTEST-BEGIN <test> ... DSLAB-SHTEST-END <test> rc=<n>
# Output of tests is collected in files first and printed when the kernel
# is quiet, so printk lines do not land in the middle of it.

mode=${1:-check}
D=/dslab
KMEMLEAK=/sys/kernel/debug/kmemleak
export DSLAB_KO=$D/dslab.ko
export DSLAB_CTL_KO=$D/dslab_ctl.ko
export DSLAB_DEBUGFS=/sys/kernel/debug/dslab
export DSLAB_MODE=$mode
SHTEST_TIMEOUT=600

step() {	# step <ok|not ok|skip> <name> [detail]
	echo "DSLAB-STEP: $1 $2${3:+ # $3}"
}

loaded() {
	[ -d "/sys/module/$1" ]
}

# The KUnit module is loaded from a memory cgroup of its own when the
# kernel has the controller: suite dslab_memcg charges the loader's
# cgroup (its cases skip in the root cgroup), up to its memory.max.
KUNIT_CG=/sys/fs/cgroup/dslab_kunit
kunit_cg() {
	grep -q cgroup2 /proc/mounts ||
		mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null
	grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null ||
		return 1
	echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
	mkdir -p $KUNIT_CG && echo 16M >$KUNIT_CG/memory.max
}

insmod_in() {	# insmod_in <cgroup directory | -> <file> [args...]
	if [ "$1" = - ]; then
		shift
		insmod "$@"
		return
	fi
	sh -c 'echo $$ >"$0/cgroup.procs" && exec insmod "$@"' "$@"
}

load() {	# load <name> <file> [args...]
	name=$1
	file=$2
	shift 2
	if [ ! -f "$file" ]; then
		step skip "insmod-$name" "$file not built"
		return 1
	fi
	cg=-
	if [ "$name" = dslab_test ] && kunit_cg; then
		cg=$KUNIT_CG
	fi
	if insmod_in "$cg" "$file" "$@" >/tmp/insmod.out 2>&1; then
		step ok "insmod-$name"
		return 0
	fi
	step "not ok" "insmod-$name" "$(tr '\n' ' ' </tmp/insmod.out)"
	return 1
}

unload() {	# unload <name>
	if ! loaded "$1"; then
		return 0
	fi
	if rmmod "$1" >/tmp/rmmod.out 2>&1; then
		step ok "rmmod-$1"
	else
		step "not ok" "rmmod-$1" "$(tr '\n' ' ' </tmp/rmmod.out)"
	fi
}

kmemleak_scan() {
	[ -w $KMEMLEAK ] || return 0
	echo scan >$KMEMLEAK
	echo scan >$KMEMLEAK
}

# KUnit suites of the test module have run by the time insmod returns.
dump_kunit() {
	found=0
	for dir in /sys/kernel/debug/kunit/dslab*; do
		[ -f "$dir/results" ] || continue
		suite=${dir##*/}
		cat "$dir/results" >/tmp/ktap
		echo "DSLAB-KTAP-BEGIN $suite"
		cat /tmp/ktap
		echo "DSLAB-KTAP-END $suite"
		found=$((found + 1))
	done
	echo "DSLAB-KUNIT-SUITES: $found"
}

run_shell_tests() {
	n=0
	for t in $D/tests/test_*.sh; do
		[ -e "$t" ] || continue
		name=${t##*/}
		if [ ! -x "$t" ]; then
			step skip "shell test $name" "not executable"
			continue
		fi
		n=$((n + 1))
		(cd $D/tests && timeout $SHTEST_TIMEOUT sh "$t") \
			>/tmp/shtest.out 2>&1
		rc=$?
		echo "DSLAB-SHTEST-BEGIN $name"
		cat /tmp/shtest.out
		echo "DSLAB-SHTEST-END $name rc=$rc"
		# A test may unload dslab; the next one expects it loaded.
		loaded dslab || insmod $DSLAB_KO >/dev/null 2>&1
		loaded dslab_ctl || insmod $DSLAB_CTL_KO >/dev/null 2>&1
	done
	# The shell tests' command language goes before dslab does.
	! loaded dslab_ctl || unload dslab_ctl
	echo "DSLAB-SHTESTS: $n"
}

run_torture() {
	if [ ! -f $D/dslab_torture.ko ]; then
		step skip torture "dslab_torture.ko not built"
		return
	fi
	# The torture module prints "... SUCCESS" or "... FAILURE"; the host
	# checks for it.
	load dslab_torture $D/dslab_torture.ko && unload dslab_torture
}

run_sample() {	# run_sample [module args...]; verdict is its last line
	if [ ! -f $D/dslab_sample.ko ]; then
		step skip sample "samples/dslab_sample.ko not built"
		return
	fi
	load dslab_sample $D/dslab_sample.ko "$@" && unload dslab_sample
	verdict=$(dmesg | grep 'dslab_sample: ' | tail -n 1)
	verdict=${verdict#*dslab_sample: }
	case $verdict in
	*" ... ok") step ok sample "$verdict" ;;
	*) step "not ok" sample "${verdict:-no verdict line}" ;;
	esac
}

# The connection-table client (samples/dslab_conn.c): load, unload, load
# again, unload; each unload prints a verdict.  A marker in the kernel log
# before each run keeps a run that printed nothing from reading the
# previous one's verdict.
run_conn() {	# run_conn [module args...]
	if [ ! -f $D/dslab_conn.ko ]; then
		step skip conn "samples/dslab_conn.ko not built"
		return
	fi
	for run in conn conn-reload; do
		echo "dslab-guest: start $run" >/dev/kmsg
		load dslab_conn $D/dslab_conn.ko "$@" && unload dslab_conn
		verdict=$(dmesg | sed -n "/dslab-guest: start $run\$/,\$p" |
			grep 'dslab_conn: ' | tail -n 1)
		verdict=${verdict#*dslab_conn: }
		case $verdict in
		*" ... ok") step ok $run "$verdict" ;;
		*) step "not ok" $run "${verdict:-no verdict line}" ;;
		esac
	done
}

# Every benchmark once with tiny counts: proves make bench still works.
# The load fails when a benchmark fails its own check.
run_bench_smoke() {
	if [ ! -f $D/dslab_bench.ko ]; then
		step skip bench-smoke "dslab_bench.ko not built"
		return
	fi
	load dslab_bench $D/dslab_bench.ko smoke=1 && unload dslab_bench
}

print_taint() {
	echo "DSLAB-TAINT: $(cat /proc/sys/kernel/tainted)"
}

# The KCSAN kernel boots with kcsan.early_enable=0 (check.sh): data races
# in the kernel's own boot code (x86 APIC calibration under KCSAN_STRICT)
# are not ours.  Watch from here on, before dslab is loaded.
if [ -w /sys/kernel/debug/kcsan ]; then
	echo on >/sys/kernel/debug/kcsan && step ok kcsan-on
fi

# Only check and selftest look for leaks (a scan takes seconds under TCG).
case $mode in
check | selftest) ;;
*) KMEMLEAK=/nonexistent ;;
esac

# Forget what the kernel itself leaked while booting.
if [ -w $KMEMLEAK ]; then
	echo scan >$KMEMLEAK
	echo clear >$KMEMLEAK
fi

case $mode in
check)
	load dslab $DSLAB_KO || exit 1
	if load dslab_test $D/dslab_test.ko; then
		dump_kunit
		unload dslab_test
	fi
	run_sample
	run_conn
	run_shell_tests
	run_torture
	run_bench_smoke
	kmemleak_scan	# leaks while dslab is loaded
	unload dslab
	;;
stock)
	load dslab $DSLAB_KO || exit 1
	run_sample
	run_conn
	run_shell_tests
	unload dslab
	;;
selftest)
	load dslab $DSLAB_KO || exit 1
	load dslab_ctl $DSLAB_CTL_KO selftest_warn=1 selftest_uaf=1 &&
		unload dslab_ctl
	if load dslab_test $D/dslab_test.ko selftest_fail=1; then
		dump_kunit
		unload dslab_test
	fi
	# kmemleak positive control: the torture module leaks one object,
	# with dslab in debug mode: the reports of the leaked object when
	# the torture module goes, then dslab, carry its allocation stack.
	if [ -f $D/dslab_torture.ko ]; then
		unload dslab
		load dslab $DSLAB_KO debug=1 || exit 1
		load dslab_torture $D/dslab_torture.ko duration_s=1 nthreads=1 \
			leak_one=1 && unload dslab_torture
		# kmemleak ignores objects younger than 5 s; scan while dslab
		# (which forgets leaked objects at unload) is still loaded, and
		# print this report first: the host reads the first block.
		sleep 6
		kmemleak_scan
		if [ -r $KMEMLEAK ]; then
			echo "DSLAB-KMEMLEAK-BEGIN"
			cat $KMEMLEAK
			echo "DSLAB-KMEMLEAK-END"
		fi
	fi
	unload dslab
	;;
kunit)
	load dslab $DSLAB_KO || exit 1
	if load dslab_test $D/dslab_test.ko; then
		dump_kunit
		unload dslab_test
	fi
	unload dslab
	;;
run)
	load dslab $DSLAB_KO || exit 1
	if [ -x $D/tests/demo.sh ]; then
		(cd $D/tests && sh ./demo.sh)
	else
		echo "(tools/testing/dslab/demo.sh not written yet; showing stats)"
		for f in stats classes; do
			echo "== $DSLAB_DEBUGFS/$f"
			cat $DSLAB_DEBUGFS/$f
		done
	fi
	! loaded dslab_ctl || unload dslab_ctl
	unload dslab
	;;
*)
	echo "guest.sh: unknown mode $mode"
	exit 1
	;;
esac

# Leaks left behind by unloading (objects only module memory pointed to).
# kmemleak does not report objects younger than 5 s.
if [ -w $KMEMLEAK ]; then
	sleep 6
	kmemleak_scan
	echo "DSLAB-KMEMLEAK-BEGIN"
	cat $KMEMLEAK
	echo "DSLAB-KMEMLEAK-END"
fi
print_taint
exit 0
