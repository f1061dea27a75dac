#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - "make bench": dslab next to SLUB and the kernel's deferred-free
# paths, in two boots of a performance kernel under qemu.
#
# Builds (or reuses) the Linux performance kernel from bench/perf.config
# with the harness's tools/testing/vm/build-kernel.sh, builds dslab.ko and
# dslab_bench.ko for it (W=1, no warnings), boots it with 2 vCPUs under
# TCG and runs bench/guest-bench.sh in the guest: every benchmark but
# remote_free, on one memory node.  Then it boots the same kernel and
# initramfs a second time with two emulated nodes (numa=fake=2, one vCPU
# per socket and node) for remote_free alone: frees on a CPU of another
# node than the objects'.  It prints the table of both boots and writes
# bench/results.json (bench/report.py over the two consoles, one after
# the other).  The console logs (console-bench.log, console-bench-numa.log)
# are kept in $DSLAB_CACHE/logs/bench/.  Exits non-zero when a benchmark
# failed its own check or the kernel printed a report (WARNING, BUG, ...).
#
# Environment:
#   DSLAB_BENCH_KERNEL   6.12 (default), 6.1, or the newest kernel's X.Y
#                        ("newest" picks it: tools/testing/vm/newest-kernel.sh)
#   DSLAB_BENCH_QUICK=1  short rounds and counts (15 s of TCG; the full run
#                        takes about a minute after the kernel is built)
#   DSLAB_BENCH_ICOUNT   off (default) | <shift> | auto: run qemu with
#                        -icount shift=<shift>,sleep=off, so guest time is
#                        proportional to instructions executed and ratios
#                        repeat from run to run; "1" means shift=1.  It
#                        runs both vCPUs on one host thread.
#   DSLAB_BENCH_OUT      results file (default bench/results.json)
#   DSLAB_BENCH_ONLY     comma-separated benchmark names (alloc_free,
#                        dtor_e2e, remote_free, ...): run only those; the
#                        second boot only when remote_free is one of them
#   DSLAB_BENCH_DSLAB_ARGS  dslab.ko's parameters in the guest, comma-
#                        separated (e.g. debug=1: debug mode's cost)
#   DSLAB_BENCH_KASAN=1  the performance kernel with generic KASAN
#                        (bench/kasan.config): what poisoning costs dslab
#                        next to SLUB, which pays it too
#   DSLAB_BENCH_MEMCG=1  the performance kernel with memory cgroups
#                        (bench/memcg.config), dslab_bench loaded from a
#                        cgroup: the account benchmark's __GFP_ACCOUNT
#                        pairs next to a SLAB_ACCOUNT cache.  With any
#                        variant, DSLAB_BENCH_OUT defaults to
#                        $DSLAB_CACHE/logs/bench/results-variant.json
#   and the harness's: DSLAB_CACHE, DSLAB_VM_ACCEL (tcg), DSLAB_VM_SMP
#   (two cores in one socket; the two-node boot: two sockets; when set,
#   both boots take it),
#   DSLAB_VM_MEM (1G), DSLAB_VM_TIMEOUT (default here 2400 s).
#
# Documentation/benchmarks.rst describes the method and the last results.

set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools/testing/vm/lib.sh
. "$HERE/../tools/testing/vm/lib.sh"

ver=${DSLAB_BENCH_KERNEL:-6.12}
quick=${DSLAB_BENCH_QUICK:-0}
icount=${DSLAB_BENCH_ICOUNT:-off}
kasan=${DSLAB_BENCH_KASAN:-0}
memcg=${DSLAB_BENCH_MEMCG:-0}
case $kasan$memcg in
00 | 01 | 10 | 11) ;;
*) echo "bench: DSLAB_BENCH_KASAN and DSLAB_BENCH_MEMCG must be 0 or 1" >&2
   exit 2 ;;
esac
out=${DSLAB_BENCH_OUT:-$SRC/bench/results.json}
export DSLAB_VM_ACCEL=${DSLAB_VM_ACCEL:-tcg}
# Two cores in one socket, as a real dual-core machine: the benchmark
# kernel has ACPI, so the guest finds both (the test kernels, without it,
# need one socket per CPU; tools/testing/vm/boot.sh).  The two-node boot
# has a socket per node, as a two-socket machine: cores that share a
# socket and its cache but not a node, the kernel warns about.
NUMA_SMP=${DSLAB_VM_SMP:-cpus=2,sockets=2,cores=1,threads=1}
export DSLAB_VM_SMP=${DSLAB_VM_SMP:-cpus=2,sockets=1,cores=2,threads=1}
export DSLAB_VM_TIMEOUT=${DSLAB_VM_TIMEOUT:-2400}

mode=bench
[ "$quick" = 1 ] && mode=bench_quick
case $icount in
off | 0 | "") icount=off ;;
auto | [0-9] | 10) ;;
*) echo "bench: DSLAB_BENCH_ICOUNT must be off, auto or a shift 0-10" >&2
   exit 2 ;;
esac

ledger_init "$CACHE/logs/bench"
install_deps

# Not one of Debian 12's own sources: the newest kernel's, fetched.
if [ "$ver" = newest ] || [ ! -f "/usr/src/linux-source-$ver.tar.xz" ]; then
	newest_kernel || { fail "bench: newest kernel not found"; summary; exit 1; }
	[ "$ver" = newest ] && ver=$NEWEST_VER
fi
fragments=("$SRC/bench/perf.config" "$SRC/bench/perf-7.config")
if [ "$(printf '%s\n' "$ver" 7.0 | sort -V | head -n 1)" != 7.0 ]; then
	fragments[1]=$SRC/bench/perf-6.config
fi
[ "$kasan" = 1 ] && fragments+=("$SRC/bench/kasan.config")
[ "$memcg" = 1 ] && fragments+=("$SRC/bench/memcg.config")
section "building the Linux $ver performance kernel (${fragments[*]#"$SRC/"})"
build_kernel "$ver" "${fragments[@]}" || { summary; exit 1; }
section "building dslab and dslab_bench for it"
build_modules "$ver-perf" "$KBUILD_DIR" || { summary; exit 1; }
if [ ! -f "$MOD_DIR/dslab_bench.ko" ]; then
	fail "dslab_bench.ko was not built (log: $LOGS/build-$ver-perf.log)"
	summary
	exit 1
fi
"$VM_DIR/mkinitramfs.sh" "$LOGS/initramfs-bench.cpio" \
	"$SRC/bench/guest-bench.sh" "$MOD_DIR/dslab.ko" "$MOD_DIR/dslab_bench.ko"

# Under TCG a jump into another guest page is not chained to its
# translation and costs a lookup, so a hot function that straddles a
# 4 KiB page runs measurably slower with identical code (dslab_find_object
# went from 47 to 64 ns that way).  Module text starts page-aligned, so
# the offsets nm prints decide it.  Say so next to the results.
layout_note() {
	local addr size type name s e
	nm -S --defined-only "$MOD_DIR/dslab.ko" | while read -r addr size type name; do
		case $type:$name in
		[tT]:dslab_alloc|[tT]:dslab_free|[tT]:dslab_find_object|\
		[tT]:dslab_ksize|[tT]:dslab_alloc_bulk|[tT]:dslab_free_bulk) ;;
		*) continue ;;
		esac
		s=$((16#$addr))
		e=$((s + 16#$size - 1))
		[ $((s / 4096)) -eq $((e / 4096)) ] ||
			echo "  note: $name straddles a 4 KiB page (text offset $((s % 4096)) to $((e % 4096))): its TCG time may be inflated"
	done
}
LAYOUT=$(layout_note)
[ -z "$LAYOUT" ] && LAYOUT="  layout: no exported fast path straddles a 4 KiB page"
echo "$LAYOUT"

# boot.sh takes no extra qemu arguments; -icount goes in through a
# wrapper named like qemu, first on PATH for this run only.
if [ "$icount" != off ]; then
	shim=$(mktemp -d)
	trap 'rm -rf "$shim"' EXIT
	real=$(command -v qemu-system-x86_64)
	printf '#!/bin/sh\nexec %s "$@" -icount shift=%s,sleep=off\n' \
		"$real" "$icount" >"$shim/qemu-system-x86_64"
	chmod +x "$shim/qemu-system-x86_64"
	export PATH=$shim:$PATH
fi

# Under TCG the guest's TSC check fails ("TSCs unsynchronized": both vCPUs
# read the host's TSC, but emulation skews the check) and the kernel falls
# back to the HPET, whose every read is an emulated MMIO access.  dslab's
# runner reads the clock twice per destructor, so that would tax it far
# beyond hardware.  tsc=reliable keeps the TSC, as on real machines.
cmdline="dslab_mode=$mode tsc=reliable"
dargs=${DSLAB_BENCH_DSLAB_ARGS:-}
case $dargs in
*[!a-z0-9_=,]*) echo "bench: DSLAB_BENCH_DSLAB_ARGS is a comma-separated list of name=value" >&2
   exit 2 ;;
esac
[ -n "$dargs" ] && cmdline+=" dslab_args=$dargs"
# A variant's results do not replace the standard ones by default.
if [ -z "${DSLAB_BENCH_OUT:-}" ] &&
   { [ "$kasan" = 1 ] || [ "$memcg" = 1 ] || [ -n "$dargs" ]; }; then
	out=$LOGS/results-variant.json
fi
only=${DSLAB_BENCH_ONLY:-}
case $only in
*[!a-z0-9_,]*) echo "bench: DSLAB_BENCH_ONLY is a comma-separated list of benchmark names" >&2
   exit 2 ;;
esac
# remote_free runs in the two-node boot only; the main boot runs the
# rest (all but remote_free, or what DSLAB_BENCH_ONLY names besides it).
main_args=
numa=0
case ",$only," in
,,)
	main_args="dslab_skip=remote_free"
	numa=1 ;;
*,remote_free,*)
	rest=$(tr ',' '\n' <<<"$only" | grep -vx -e remote_free -e '' |
	       paste -sd, - || true)
	[ -n "$rest" ] && main_args="dslab_only=$rest"
	numa=1 ;;
*) main_args="dslab_only=$only" ;;
esac

# bench_boot <id> <smp> <args>: one boot of the benchmark guest, console
# $LOGS/console-<id>.log; adds it to CONSOLES.
CONSOLES=()
bench_boot() {
	local id=$1 smp=$2 console=$LOGS/console-$1.log rc=0 t0 secs
	t0=$(date +%s)
	DSLAB_VM_SMP=$smp "$VM_DIR/boot.sh" -a "$cmdline $3" \
		"$KBUILD_DIR/arch/x86/boot/bzImage" "$LOGS/initramfs-bench.cpio" \
		"$console" || rc=$?
	secs=$(( $(date +%s) - t0 ))
	case $rc in
	0) pass "$id: VM boot and guest run (${secs}s)" ;;
	124) fail "$id: VM TIMEOUT after ${secs}s (console: $console)" ;;
	*) fail "$id: VM did not finish (console: $console)" ;;
	esac
	grep '^DSLAB-BENCH-TIME ' "$console" | sed 's/^DSLAB-BENCH-TIME /  ran /' || true
	grep '^DSLAB-BENCH-STATS ' "$console" | sed 's/^DSLAB-BENCH-STATS /  dslab finq: /' || true
	CONSOLES+=("$console")
}

if [ -n "$main_args" ]; then
	section "benchmarking (qemu $DSLAB_VM_ACCEL, -smp $DSLAB_VM_SMP, icount $icount, mode $mode)"
	echo "  about a minute of TCG (quick: 15 s); console: $LOGS/console-bench.log"
	bench_boot bench "$DSLAB_VM_SMP" "$main_args"
fi
if [ $numa = 1 ]; then
	section "benchmarking remote_free with two NUMA nodes (numa=fake=2, -smp $NUMA_SMP, icount $icount)"
	echo "  a few seconds of TCG; console: $LOGS/console-bench-numa.log"
	bench_boot bench-numa "$NUMA_SMP" "dslab_only=remote_free numa=fake=2"
fi

section "results"
# One console after the other: report.py takes the first boot's info
# for the run, and the results of both.
CONSOLE=$LOGS/console-bench-all.log
cat "${CONSOLES[@]}" >"$CONSOLE"
dirty=0
[ -n "$(git -C "$SRC" status --porcelain 2>/dev/null)" ] && dirty=1
if python3 "$SRC/bench/report.py" "$CONSOLE" "$out" \
	"accelerator=$DSLAB_VM_ACCEL" "icount=$icount" \
	"date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	"commit=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo none)" \
	"dirty=$dirty" \
	"qemu=$(qemu-system-x86_64 --version | head -n 1)" \
	"host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
	"config=${fragments[*]#"$SRC/"} on tinyconfig, Linux $ver ($KBUILD_DIR)"; then
	pass "bench: results parsed ($out)"
else
	fail "bench: no or unparsable results (console: $CONSOLE)"
fi
echo "$LAYOUT"
while IFS= read -r line; do
	fail "bench: benchmark failed: $line"
done < <(sed -n 's/^DSLAB-BENCH-FAIL //p' "$CONSOLE")
while IFS= read -r line; do
	skip "bench: $line"
done < <(sed -n 's/^DSLAB-BENCH-SKIP //p' "$CONSOLE")

for console in "${CONSOLES[@]}"; do
	id=$(basename "$console" .log)
	check_reports "${id#console-}" "$console"
done
summary
