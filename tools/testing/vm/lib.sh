# SPDX-License-Identifier: GPL-2.0
#
# lib.sh - shared code of check.sh and run.sh (sourced, not run).
#
# Holds the result ledger (pass/fail/skip, one line per counted step),
# the apt dependency step, the module builds (one rsync'ed copy of the
# tree per target kernel, so their .o files never mix), the initramfs and
# the console checker that turns a VM's console log into results.
#
# Environment: DSLAB_CACHE (~/.cache/dslab), DSLAB_KERNELS ("6.1 6.12"
# and the newest, see newest_kernel),
# DSLAB_VM_ACCEL (tcg), DSLAB_VM_TIMEOUT (900 s per boot),
# DSLAB_SKIP_STOCK=1 (skip the Debian stock kernel), DSLAB_SRC (the tree
# to test; defaults to this repository).

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$VM_DIR/../../.." && pwd)
SRC=$(cd "${DSLAB_SRC:-$REPO}" && pwd)
CACHE=${DSLAB_CACHE:-$HOME/.cache/dslab}
KERNELS=${DSLAB_KERNELS:-6.1 6.12}
export DSLAB_CACHE=$CACHE

APT_PACKAGES="qemu-system-x86 busybox-static linux-source-6.1 linux-source-6.12
	linux-headers-amd64 linux-image-amd64 bc flex bison libelf-dev libssl-dev
	cpio python3 dkms rsync make gcc perl xz-utils sparse"

# Kernel reports that fail a boot.  Matched (grep -E) on the console.
REPORT_RE='WARNING:|BUG:|KASAN|UBSAN:|Oops|Kernel panic|kernel BUG|'
REPORT_RE+='general protection fault|possible recursive locking|'
REPORT_RE+='circular locking dependency|inconsistent lock state|'
REPORT_RE+='possible irq lock inversion|suspicious RCU usage|lockdep|'
REPORT_RE+='DEBUG_LOCKS_WARN_ON|ODEBUG:|'
REPORT_RE+='sleeping function called from invalid context|'
REPORT_RE+='kmemleak: [0-9]+ new suspected memory leaks|unreferenced object|'
REPORT_RE+='soft lockup|hard LOCKUP|rcu_.*detected stalls|blocked for more than|'
REPORT_RE+='list_(add|del) corruption|refcount_t:|'
# dslab's own leak checks: at its unload, and at a client's.
REPORT_RE+='dslab: .*[0-9]+ objects remaining|dslab: module .* went away with'
# Boot messages that match the above but are not reports.
REPORT_OK_RE='Lock dependency validator|lockdep: fixing up alternatives|'
REPORT_OK_RE+='RCU lockdep checking is enabled|'
REPORT_OK_RE+='KernelAddressSANitizer initialized|kmemleak: Kernel memory leak detector initialized|'
REPORT_OK_RE+='kmemleak: Automatic memory scanning thread started'

# Taint bits that mean a kernel report: B bad page (5), D die (7),
# W warning (9), L soft lockup (14).
TAINT_BAD=$(( (1 << 5) | (1 << 7) | (1 << 9) | (1 << 14) ))

#
# === Result ledger ===
#

ledger_init() {	# ledger_init <logdir>
	LOGS=$1
	rm -rf "$LOGS"
	mkdir -p "$LOGS"
	RESULTS=$LOGS/results.txt
	: >"$RESULTS"
}

pass() { echo "PASS $*" >>"$RESULTS"; echo "  ok   $*"; }
fail() { echo "FAIL $*" >>"$RESULTS"; echo "  FAIL $*"; }
skip() { echo "SKIP $*" >>"$RESULTS"; echo "  skip $*"; }

# note <text>: not a result, but the summary repeats it (a boot retried).
note() { echo "NOTE $*" >>"$RESULTS"; echo "  note $*"; }

summary() {
	local p f s
	p=$(grep -c '^PASS' "$RESULTS" || true)
	f=$(grep -c '^FAIL' "$RESULTS" || true)
	s=$(grep -c '^SKIP' "$RESULTS" || true)
	if grep -q '^NOTE' "$RESULTS"; then
		echo
		echo "Notes:"
		grep '^NOTE' "$RESULTS" | sed 's/^NOTE /  /'
	fi
	if [ "$f" -gt 0 ]; then
		echo
		echo "Failures (logs in $LOGS):"
		grep '^FAIL' "$RESULTS" | sed 's/^FAIL /  /'
	fi
	echo "dslab: $p passed, $f failed, $s skipped"
	[ "$f" -eq 0 ]
}

section() { echo; echo "== $*"; }

#
# === Dependencies ===
#

# install_deps [packages...]: apt-get installs what is missing of them
# (default $APT_PACKAGES) when root; otherwise says what and exits 2.
install_deps() {
	local pkg missing=()
	for pkg in ${@:-$APT_PACKAGES}; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
			grep -q 'ok installed' || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "dslab: missing packages: ${missing[*]}" >&2
		echo "dslab: run as root, or: sudo apt-get install ${missing[*]}" >&2
		exit 2
	fi
	echo "dslab: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# newest_kernel: the newest kernel Debian packages (newest-kernel.sh):
# sets NEWEST_VER, NEWEST_KREL, NEWEST_HDR, NEWEST_IMAGE, and adds
# NEWEST_VER to KERNELS unless DSLAB_KERNELS says otherwise.  Returns 1
# (NEWEST_VER empty) when it cannot be had.
newest_kernel() {
	local env
	NEWEST_VER=
	env=$("$VM_DIR/newest-kernel.sh") || return 1
	eval "$env"
	echo "dslab: newest kernel: linux-source-$NEWEST_VER ($NEWEST_PKGVER)," \
		"stock $NEWEST_KREL, from ${DSLAB_NEWEST_SUITE:-trixie-backports}"
	if [ -z "${DSLAB_KERNELS:-}" ] && ! grep -qw "$NEWEST_VER" <<<"$KERNELS"; then
		KERNELS="$KERNELS $NEWEST_VER"
	fi
}

# newest_rt_kernel: Debian's stock PREEMPT_RT kernel of the same suite
# (newest-kernel.sh rt-amd64): sets NEWEST_RT_KREL, NEWEST_RT_HDR and
# NEWEST_RT_IMAGE.  Returns 1 (NEWEST_RT_HDR empty) when it cannot be had.
newest_rt_kernel() {
	local env
	NEWEST_RT_HDR=
	env=$("$VM_DIR/newest-kernel.sh" rt-amd64) || return 1
	NEWEST_RT_KREL=$(sed -n 's/^NEWEST_KREL=//p' <<<"$env")
	NEWEST_RT_IMAGE=$(sed -n 's/^NEWEST_IMAGE=//p' <<<"$env")
	NEWEST_RT_HDR=$(sed -n 's/^NEWEST_HDR=//p' <<<"$env")
	echo "dslab: newest PREEMPT_RT kernel: stock $NEWEST_RT_KREL"
}

# debug_fragments <version>: the Kconfig fragments of <version>'s debug
# kernel, one per line.  The newest kernel's is also make check's
# PREEMPT_RT kernel (kunit/rt.config): one kernel for both keeps a cold
# run in its time budget, and 6.1 and 6.12 stay without PREEMPT_RT.
debug_fragments() {
	echo "$SRC/kunit/debug.config"
	if [ "$1" = "${NEWEST_VER:-}" ]; then
		echo "$SRC/kunit/rt.config"
	fi
}

# newest_host_tools <headers> <kernel build dir>: the newest headers'
# modpost and objtool are built for trixie's glibc (2.38); where they do
# not run, use the ones a debug build of the same source made here.
newest_host_tools() {
	local hdr=$1 bld=$2 real built out
	while read -r real built; do
		real=$(readlink -f "$hdr/$real")
		[ -f "$real" ] || continue
		# Not "| grep -q": under pipefail its early exit fails the pipe.
		out=$("$real" --version 2>&1 || true)
		grep -q 'GLIBC_[0-9.]*. not found' <<<"$out" || continue
		cp "$bld/$built" "$real"
		echo "dslab: replaced ${real##*/} of the newest headers (glibc)"
	done <<-EOF
	scripts/mod/modpost.real-lsb-64 scripts/mod/modpost
	tools/objtool/objtool.real-x86 tools/objtool/objtool
	EOF
}

# Newest Debian 12 stock headers, e.g. /usr/src/linux-headers-6.1.0-56-amd64.
stock_headers() {
	ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1
}

#
# === Builds ===
#

# build_kernel <version> <fragment>... : sets KBUILD_DIR, records result.
build_kernel() {
	local ver=$1 t0
	shift
	t0=$(date +%s)
	if KBUILD_DIR=$("$VM_DIR/build-kernel.sh" "$ver" "$@"); then
		pass "kernel $ver: build ($(( $(date +%s) - t0 ))s, $KBUILD_DIR)"
		return 0
	fi
	fail "kernel $ver: build (see above)"
	return 1
}

# sync_tree <dir>: copy of $SRC in dir.  Build products are excluded,
# hence kept in dir: rebuilds there are incremental.  Files are compared
# by content and a changed one gets the time of the copy, not its own:
# a tree checked out at an older commit must still look newer than the
# objects built from another one.
sync_tree() {
	mkdir -p "$1"
	rsync -rlpgoD --checksum --delete --exclude=.git --exclude='*.o' --exclude='*.ko' \
		--exclude='*.mod' --exclude='*.mod.c' --exclude='.*.cmd' \
		--exclude=Module.symvers --exclude=modules.order \
		--exclude='*.a' --exclude='.cache.mk' "$SRC/" "$1/"
}

# build_modules <id> <kdir>: builds a copy of $SRC against kdir with W=1
# in $CACHE/mod/<id>/ and sets MOD_DIR.  Any compiler warning is a
# failure; returns 1 only when there are no modules to test.  Against a
# kernel tree built here (its "source" link leads to the whole tree; a
# headers package has too little of scripts/ for it) sparse runs too
# (C=1), and its warnings fail the same way.
build_modules() {
	local id=$1 kdir=$2 log=$LOGS/build-$1.log rc=0 checker= what="W=1"
	MOD_DIR=$CACHE/mod/$id
	sync_tree "$MOD_DIR"
	# No stale module may stand in for one that no longer builds, and
	# no stale symbol version: the client dirs' modpost does not depend
	# on KBUILD_EXTRA_SYMBOLS (6.1), so an unchanged client would keep
	# the CRCs of an older dslab.ko and fail to load ("disagrees about
	# version of symbol").  Without its Module.symvers, modpost reruns.
	find "$MOD_DIR" \( -name '*.ko' -o -name Module.symvers \) -delete
	if [ -f "$kdir/source/scripts/checkpatch.pl" ]; then
		checker=C=1
		what="W=1 and sparse"
	fi
	make -C "$kdir" M="$MOD_DIR" W=1 $checker modules >"$log" 2>&1 || rc=$?
	# The sample client is its own kbuild dir using dslab's Module.symvers.
	if [ $rc -eq 0 ] && ls "$MOD_DIR"/samples/*.c >/dev/null 2>&1 &&
	   { [ -f "$MOD_DIR/samples/Kbuild" ] || [ -f "$MOD_DIR/samples/Makefile" ]; }; then
		make -C "$kdir" M="$MOD_DIR/samples" W=1 $checker \
			KBUILD_EXTRA_SYMBOLS="$MOD_DIR/Module.symvers" \
			modules >>"$log" 2>&1 || rc=$?
	fi
	# The module-pinning test client, also built against Module.symvers.
	if [ $rc -eq 0 ] && [ -f "$MOD_DIR/tools/testing/lifecycle/Kbuild" ]; then
		make -C "$kdir" M="$MOD_DIR/tools/testing/lifecycle" W=1 $checker \
			KBUILD_EXTRA_SYMBOLS="$MOD_DIR/Module.symvers" \
			modules >>"$log" 2>&1 || rc=$?
	fi
	if [ $rc -ne 0 ]; then
		grep -iE 'error' "$log" | head -n 20 | sed 's/^/    /'
		fail "$id: module build failed (log: $log)"
		return 1
	fi
	# The kernel's Makefile drops C=1 when this sparse is too old for it
	# (7.x wants one that knows __typeof_unqual__): say so, not "sparse".
	if grep -q 'is not available or not up to date' "$log"; then
		what="W=1 (sparse too old for this kernel, not run)"
	fi
	if grep -qi 'warning:' "$log"; then
		grep -i 'warning:' "$log" | head -n 20 | sed 's/^/    /'
		fail "$id: module build has warnings with $what (log: $log)"
		return 0	# the modules exist: still worth testing them
	fi
	pass "$id: modules build with $what, no warnings"
}

# make_initramfs <out.cpio>: busybox, guest scripts, modules from MOD_DIR
# and the shell tests.
make_initramfs() {
	"$VM_DIR/mkinitramfs.sh" "$1" "$VM_DIR/guest-dslab.sh" \
		"$MOD_DIR/dslab.ko" "$MOD_DIR/dslab_test.ko" \
		"$MOD_DIR/dslab_torture.ko" "$MOD_DIR/samples/dslab_sample.ko" \
		"$MOD_DIR/samples/dslab_conn.ko" "$MOD_DIR/dslab_bench.ko" \
		"$MOD_DIR/dslab_ctl.ko" \
		"$MOD_DIR/tools/testing/dslab:/dslab/tests" \
		"$MOD_DIR/tools/testing/lifecycle/dslab_client.ko:/dslab/tests/dslab_client.ko" \
		"$MOD_DIR/tools/testing/lifecycle/test_pin.sh:/dslab/tests/test_pin.sh"
}

# Suites the test module should produce: the .name of every
# "struct kunit_suite ... = {" initializer in kunit/*.c.
expected_suites() {
	cat "$SRC"/kunit/*.c 2>/dev/null | awk '
		/struct kunit_suite [a-z0-9_]+ = \{/ { on = 1 }
		on && match($0, /\.name *= *"[^"]*"/) {
			s = substr($0, RSTART, RLENGTH)
			sub(/^[^"]*"/, "", s)
			sub(/"$/, "", s)
			print s
			on = 0
		}
		on && /^\};/ { on = 0 }' | sort -u
}

# boot_vm <id> <bzImage> <cpio> <mode> [cmdline]: sets CONSOLE and BOOT_RC.
#
# A kernel that dies before the guest's /init prints its start line has
# run none of our code (the modules load from /init), so that boot is
# tried once more and the summary says so; its console is kept as
# console-<id>-try1.log.  Seen once on the stock 7.3 rt kernel under TCG:
# "Oops: int3" while the kernel patched its own text at 1.25 s.
boot_vm() {
	local id=$1 t0 try
	CONSOLE=$LOGS/console-$id.log
	t0=$(date +%s)
	for try in 1 2; do
		BOOT_RC=0
		"$VM_DIR/boot.sh" -a "dslab_mode=$4${5:+ $5}" "$2" "$3" \
			"$CONSOLE" || BOOT_RC=$?
		[ "$BOOT_RC" -eq 1 ] && [ $try -eq 1 ] &&
			! grep -q '^DSLAB-GUEST: start' "$CONSOLE" || break
		mv "$CONSOLE" "$LOGS/console-$id-try1.log"
		note "$id: kernel died before the guest started, booted again ($(grep -m1 -E "$REPORT_RE" \
			"$LOGS/console-$id-try1.log" || echo "no report")); first console: $LOGS/console-$id-try1.log"
	done
	BOOT_SECS=$(( $(date +%s) - t0 ))
}

#
# === Console checker ===
#

# selftest_boot <id> <version> <image>: the harness self-test.  Boots the
# modules of MOD_DIR with the guest's "selftest" faults switched on
# (boot.sh's DSLAB_VM_ARCH and mkinitramfs.sh's DSLAB_BUSYBOX apply), runs
# the checker on that console into a side ledger, and passes only where
# the checker turned red for each fault.
selftest_boot() {
	local id=$1 ver=$2 image=$3 saved=$RESULTS by
	make_initramfs "$LOGS/initramfs-$id.cpio"
	boot_vm "$id" "$image" "$LOGS/initramfs-$id.cpio" selftest
	RESULTS=$LOGS/selftest-results.txt
	: >"$RESULTS"
	check_console "$id" "$CONSOLE" "$CACHE/src/linux-source-$ver" noshell \
		>"$LOGS/selftest-checker.txt"
	RESULTS=$saved
	if [ "$ver" = 6.1 ]; then
		# 6.1 runs a module's suites at MODULE_STATE_COMING, before
		# load_module() parses the module's parameters.
		skip "$id: dslab_test.selftest_fail=1 (Linux 6.1 runs KUnit before parsing module parameters; needs 6.12)"
	elif grep -q "^FAIL $id: kunit .*(FAIL)" "$LOGS/selftest-results.txt"; then
		pass "$id: dslab_test.selftest_fail=1 turns the checker red"
	else
		fail "$id: dslab_test.selftest_fail=1 not caught ($LOGS/selftest-checker.txt)"
	fi
	if grep -q "^FAIL $id: kernel reports" "$LOGS/selftest-results.txt" &&
	   grep -q 'WARNING:' "$CONSOLE"; then
		pass "$id: dslab_ctl.selftest_warn=1 turns the checker red"
	else
		fail "$id: dslab_ctl.selftest_warn=1 not caught ($LOGS/selftest-checker.txt)"
	fi
	# The KASAN control reads a freed dslab object: only dslab's
	# poisoning of its shadow makes that a report.  (Self-test kernels
	# are debug kernels, which have KASAN_GENERIC.)
	if grep -q "^FAIL $id: kernel reports" "$LOGS/selftest-results.txt" &&
	     kernel_reports "$CONSOLE" | grep -Eq 'BUG: KASAN: [a-z-]*use-after-free'; then
		pass "$id: dslab_ctl.selftest_uaf=1 turns the checker red (KASAN)"
	else
		fail "$id: dslab_ctl.selftest_uaf=1 not caught ($LOGS/selftest-checker.txt)"
	fi
	# The leak shows in kmemleak's report, or in dslab's own count of
	# objects left over when it is unloaded.
	by=
	grep -q "^FAIL $id: kmemleak found leaks" \
		"$LOGS/selftest-results.txt" && by="kmemleak"
	kernel_reports "$CONSOLE" | grep -q 'objects remaining' &&
		by="${by:+$by, }dslab's unload check"
	if ! grep -q 'DSLAB-STEP: ok insmod-dslab_torture' "$CONSOLE"; then
		skip "$id: leak control (dslab_torture.ko leak_one=1 not loaded)"
	elif [ -n "$by" ]; then
		pass "$id: dslab_torture.leak_one=1 turns the checker red ($by)"
	else
		fail "$id: dslab_torture.leak_one=1 not caught ($CONSOLE)"
	fi
	# The leaked object, one line each time its owner goes (the torture
	# module: with its type; dslab: the type forgotten), each followed
	# by the stack that allocated it (debug mode).
	if ! grep -q 'DSLAB-STEP: ok insmod-dslab_torture' "$CONSOLE"; then
		skip "$id: leak reports (dslab_torture.ko leak_one=1 not loaded)"
	elif leak_report "$CONSOLE" 'dslab_torture: live object [^ ]+: class [0-9]+ [(][0-9]+ bytes[)], type struct dslab_t_leaked$' dslab_t_leak &&
	     leak_report "$CONSOLE" 'unload: live object [^ ]+: class [0-9]+ [(][0-9]+ bytes[)], type untyped$' do_one_initcall; then
		pass "$id: the leaked object is reported with its class, type and allocation stack"
	else
		fail "$id: the leaked object's reports lack its class, type or stack ($CONSOLE)"
	fi
}

# leak_report <console> <line-re> <function>: a kernel line matching
# <line-re> is followed by "allocated by:" and a stack with <function> in
# it (the torture module's leaking function while the module is there;
# once it has gone, its frames print as "(gone)", so a frame below it).
leak_report() {
	sed 's/^\[ *[0-9.]*\] //' "$1" | awk -v r="dslab: $2" -v f="$3" '
		$0 ~ r { on = 1; st = 0; next }
		on && /^dslab: allocated by:$/ { st = 1; next }
		on && /^dslab: [^ ]/ { on = 0 }
		on && st && index($0, f) { hit = 1 }
		END { exit !hit }'
}

# marker_block <file> <begin-line> <end-prefix>: lines strictly between.
marker_block() {
	awk -v b="$2" -v e="$3" '
		$0 == b { on = 1; next }
		on && index($0, e) == 1 { exit }
		on { print }' "$1"
}

# kunit_results <id> <console> <kernel-src>: one result per KUnit case,
# parsed by the kernel's own kunit.py from the same source tree.
kunit_results() {
	local id=$1 console=$2 ksrc=$3 suite ktap json rc out
	local want got
	# kunit.sh runs the suites its glob selects (KUNIT_SUITES_RE).
	want=$(expected_suites | grep -E "${KUNIT_SUITES_RE:-.}" || true)
	got=$(sed -n 's/^DSLAB-KTAP-BEGIN //p' "$console" | sort -u)
	for suite in $want; do
		grep -qx "$suite" <<<"$got" ||
			fail "$id: kunit suite $suite missing (not run or not registered)"
	done
	if [ -z "$want$got" ]; then
		skip "$id: kunit (no dslab suites in kunit/*.c)"
		return
	fi
	for suite in $got; do
		ktap=$LOGS/ktap-$id-$suite.txt
		json=$LOGS/ktap-$id-$suite.json
		# Linux 6.1's debugfs log keeps only the last result line of a
		# parameterized case, without its subtest header; kunit.py
		# calls such orphans errors.  Drop them: the case's own line
		# still carries the verdict of all its parameters.
		marker_block "$console" "DSLAB-KTAP-BEGIN $suite" \
			"DSLAB-KTAP-END $suite" | awk '
			/^        (KTAP version|# Subtest:)/ { open = 1 }
			/^    (ok|not ok) / { open = 0 }
			/^        (ok|not ok) / && !open { next }
			{ print }' >"$ktap"
		rc=0
		python3 "$ksrc/tools/testing/kunit/kunit.py" parse \
			--json="$json" "$ktap" >"$ktap.parsed" 2>&1 || rc=$?
		if [ ! -s "$json" ]; then
			fail "$id: kunit.py parse of $suite failed (see $ktap.parsed)"
			continue
		fi
		out=$(python3 - "$json" <<-'EOF'
		import json, sys
		def walk(group, path):
		    for case in group.get("test_cases", []):
		        print(case["status"], ".".join(path + [case["name"]]))
		    for sub in group.get("sub_groups", []):
		        walk(sub, path + [sub["name"]])
		walk(json.load(open(sys.argv[1])), [])
		EOF
		)
		if [ -z "$out" ]; then
			fail "$id: kunit suite $suite reported no test cases"
			continue
		fi
		while read -r status name; do
			case $status in
			PASS) pass "$id: kunit $name" ;;
			SKIP) skip "$id: kunit $name" ;;
			*) fail "$id: kunit $name ($status)" ;;
			esac
		done <<<"$out"
		# kunit.py also exits 1 when every case skipped (a suite of
		# CPU hotplug cases where no CPU can go offline): no failure.
		if [ $rc -ne 0 ] && ! grep -q '^FAIL' <<<"$out" &&
		   grep -qv '^SKIP' <<<"$out"; then
			fail "$id: kunit.py parse of $suite exited $rc (see $ktap.parsed)"
		elif grep -Eq '(errors|crashed): [1-9]' "$ktap.parsed"; then
			fail "$id: kunit.py: $suite crashed or is malformed (see $ktap.parsed)"
		fi
	done
}

# shell_results <id> <console>: each "ok N" / "not ok N" line counts.
shell_results() {
	local id=$1 console=$2 n t rc body line
	n=$(sed -n 's/^DSLAB-SHTESTS: //p' "$console" | tail -n 1)
	if [ -z "$n" ]; then
		fail "$id: shell tests did not run"
		return
	fi
	if [ "$n" -eq 0 ]; then
		skip "$id: shell tests (no tools/testing/dslab/test_*.sh yet)"
		return
	fi
	for t in $(sed -n 's/^DSLAB-SHTEST-BEGIN //p' "$console"); do
		# The digits only: a kernel message may follow on the same
		# console line ("rc=0[   24.49] random: crng init done").
		rc=$(sed -n "s/^DSLAB-SHTEST-END $t rc=\([0-9]*\).*/\1/p" "$console")
		body=$(marker_block "$console" "DSLAB-SHTEST-BEGIN $t" \
			"DSLAB-SHTEST-END $t")
		body=$(grep -E '^(not )?ok [0-9]+' <<<"$body" || true)
		while IFS= read -r line; do
			[ -n "$line" ] || continue
			case $line in
			*"# SKIP"* | *"# skip"*) skip "$id: $t: $line" ;;
			"not ok"*) fail "$id: $t: $line" ;;
			*) pass "$id: $t: $line" ;;
			esac
		done <<<"$body"
		if [ -z "$body" ]; then
			fail "$id: $t printed no ok/not ok lines (rc=${rc:-none})"
		elif [ "${rc:-1}" != 0 ] && ! grep -q '^not ok' <<<"$body"; then
			fail "$id: $t exited rc=${rc:-none} (124: timed out)"
		fi
	done
}

# kernel_reports <console>: the kernel's own report lines.  Only lines
# with a printk timestamp count (boot.sh sets printk.time=1), so test
# output such as "ok 7 - no WARNING after reload" is not a report.
kernel_reports() {
	grep -v '^#' "$1" | grep -E '\[ *[0-9]+\.[0-9]{6}\]' |
		grep -E "$REPORT_RE" | grep -Ev "$REPORT_OK_RE" || true
}

# check_console <id> <console> <kernel-src or ""> [noshell]: everything
# a boot proves; KUnit only with a kernel source (for kunit.py), shell
# tests unless "noshell".  Uses BOOT_RC and BOOT_SECS from boot_vm.
check_console() {
	local id=$1 console=$2 ksrc=$3 shell=${4:-shell} reports taint line
	case $BOOT_RC in
	0) pass "$id: VM boot and guest run (${BOOT_SECS}s)" ;;
	124) fail "$id: VM TIMEOUT after ${BOOT_SECS}s (console: $console)" ;;
	*) fail "$id: VM did not finish (console: $console)" ;;
	esac
	# Steps the guest reported itself (insmod, rmmod, skipped modules).
	while IFS= read -r line; do
		case $line in
		"ok "*) pass "$id: ${line#ok }" ;;
		"not ok "*) fail "$id: ${line#not ok }" ;;
		"skip "*) skip "$id: ${line#skip }" ;;
		esac
	done < <(sed -n 's/^.*DSLAB-STEP: //p' "$console")
	if [ -n "$ksrc" ]; then
		kunit_results "$id" "$console" "$ksrc"
	fi
	if [ "$shell" = shell ]; then
		shell_results "$id" "$console"
	fi
	if grep -q 'DSLAB-STEP: ok insmod-dslab_torture' "$console"; then
		if grep -Eq 'torture.*FAILURE' "$console"; then
			fail "$id: torture reported FAILURE"
		elif grep -Eq 'torture.*SUCCESS' "$console"; then
			pass "$id: torture reported SUCCESS"
		else
			fail "$id: torture printed no SUCCESS/FAILURE verdict"
		fi
	fi
	if grep -q '^DSLAB-KMEMLEAK-BEGIN' "$console"; then
		if marker_block "$console" DSLAB-KMEMLEAK-BEGIN DSLAB-KMEMLEAK-END |
				grep -q 'unreferenced object'; then
			fail "$id: kmemleak found leaks (console: $console)"
		else
			pass "$id: kmemleak scan clean"
		fi
	fi
	check_reports "$id" "$console"
}

# check_reports <id> <console>: one result for kernel reports and taint.
check_reports() {
	local id=$1 console=$2 reports taint
	reports=$(kernel_reports "$console")
	taint=$(sed -n 's/^DSLAB-TAINT: //p' "$console" | tail -n 1)
	if [ -n "$taint" ] && (( taint & TAINT_BAD )); then
		reports+=$'\n'"kernel tainted: $taint"
	fi
	if [ -n "$reports" ]; then
		head -n 10 <<<"$reports" | sed 's/^/    /'
		fail "$id: kernel reports on the console (console: $console)"
	else
		pass "$id: no kernel reports (WARNING/BUG/KASAN/lockdep/...)"
	fi
}
