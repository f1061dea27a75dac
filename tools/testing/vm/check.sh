#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh - "make check": every test of dslab, one summary line.
#
# Usage: check.sh            all layers (what .ci/run runs)
#        check.sh --static   only the static gates (no kernels, no VMs)
#        check.sh --kcsan    6.12 KCSAN kernel only (kunit/kcsan.config;
#                            make check runs it too, DSLAB_SKIP_KCSAN=1 skips)
#
# Layers, in order (see Documentation/testing.rst):
#  1. apt dependencies (installed when root, else a message and exit 2)
#  2. the newest kernel Debian packages (newest-kernel.sh: the newest
#     linux-source-X.Y of trixie-backports and its stock kernels, amd64
#     and rt-amd64, fetched with a private apt state into $DSLAB_CACHE),
#     then debug kernels from Debian's linux-source-<v> for 6.1, 6.12 and
#     that X.Y (tinyconfig + kunit/debug.config; X.Y's with PREEMPT_RT,
#     kunit/rt.config), cached in $DSLAB_CACHE/build/ by build-kernel.sh
#  3. static gates: mm/sizeclasses.h regenerates identically, the
#     userspace size-class test, checkpatch --strict, kernel-doc, dkms
#     build for Debian 12's stock 6.1, the 6.12 debug tree and the newest
#     stock kernel; make install and dkms install into private roots, and
#     a client built from the installed header and Module.symvers alone
#  4. per debug kernel: modules with W=1 (no warnings), then a TCG VM that
#     loads dslab and dslab_test (KUnit), the sample and torture modules,
#     runs tools/testing/dslab/test_*.sh, unloads, scans for leaks; the
#     console must be free of kernel reports; the 6.12 debug kernel a
#     second time with two memory nodes (numa=fake=2)
#  5. harness self-test: the same checker must turn red on
#     dslab_test.selftest_fail=1, on dslab_ctl.selftest_warn=1, on
#     dslab_ctl.selftest_uaf=1 (KASAN) and (when the torture module
#     exists) on dslab_torture.leak_one=1 (kmemleak)
#  6. Debian's stock kernels, 6.1 (Debian 12's linux-headers-amd64), the
#     newest and the newest's PREEMPT_RT flavour: dslab built against
#     their headers, then insmod, the sample, the shell tests and rmmod
#  7. arm64 (arm64.sh): a cross-built 6.12 debug kernel under
#     qemu-system-aarch64 with the same guest, checker and self-test
#
# Each KUnit case, shell test line and gate is one result; the last line
# is "dslab: N passed, N failed, N skipped" and any failure exits 1.
# Logs and console captures: $DSLAB_CACHE/logs/<mode>/.

set -euo pipefail
# shellcheck source=tools/testing/vm/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tools/testing/vm/arm64.sh
. "$(dirname "$0")/arm64.sh"

mode=check
case ${1:-} in
"") ;;
--static) mode=static ;;
--kcsan) mode=kcsan ;;
*) echo "usage: $0 [--static|--kcsan]" >&2; exit 2 ;;
esac

T0=$(date +%s)
ledger_init "$CACHE/logs/$mode"
install_deps
if [ "$mode" = check ]; then
	if newest_kernel; then
		pass "newest kernel: linux-source-$NEWEST_VER and stock $NEWEST_KREL fetched"
	else
		fail "newest kernel: not found (newest-kernel.sh; see $CACHE/apt/)"
	fi
	if newest_rt_kernel; then
		pass "newest kernel: stock PREEMPT_RT $NEWEST_RT_KREL fetched"
	else
		fail "newest kernel: no stock rt-amd64 (newest-kernel.sh rt-amd64)"
	fi
fi

#
# === Static gates ===
#

gate_sizeclasses() {
	local out=$LOGS/sizeclasses.h
	if [ ! -f "$SRC/scripts/mksizeclasses.py" ]; then
		skip "static: sizeclasses.h (no scripts/mksizeclasses.py)"
		return
	fi
	if python3 "$SRC/scripts/mksizeclasses.py" >"$out" 2>"$out.err" &&
	   diff -u "$SRC/mm/sizeclasses.h" "$out" >"$out.diff"; then
		pass "static: mm/sizeclasses.h matches scripts/mksizeclasses.py"
	else
		head -n 20 "$out.diff" "$out.err" | sed 's/^/    /'
		fail "static: mm/sizeclasses.h differs from its generator ($out.diff)"
	fi
}

gate_sizeclass_userspace() {
	local dir=$CACHE/mod/userspace/tools/testing/sizeclass
	local log=$LOGS/sizeclass-test.log
	if [ ! -f "$SRC/tools/testing/sizeclass/Makefile" ]; then
		skip "static: userspace size-class test (no tools/testing/sizeclass/Makefile)"
		return
	fi
	# Built in a copy of the tree: nothing is written into the repository.
	sync_tree "$CACHE/mod/userspace"
	if make -C "$dir" run >"$log" 2>&1; then
		pass "static: userspace size-class test (make -C tools/testing/sizeclass run)"
	else
		tail -n 20 "$log" | sed 's/^/    /'
		fail "static: userspace size-class test ($log)"
	fi
}

# Sources checkpatch covers, minus "# dslab-exclude: <path>" lines of
# .checkpatch.conf (checkpatch reads the rest of that file as options).
checkpatch_files() {
	local f excl
	excl=$(sed -n 's/^#[[:space:]]*dslab-exclude:[[:space:]]*\([^[:space:]]*\).*/\1/p' \
		"$SRC/.checkpatch.conf" 2>/dev/null || true)
	(
		cd "$SRC"
		shopt -s nullglob globstar
		for f in mm/*.[ch] include/**/*.h kunit/*.c bench/*.c \
			 samples/*.c tools/testing/torture/*.c \
			 tools/testing/control/*.c; do
			grep -qx "$f" <<<"$excl" || echo "$f"
		done
	)
}

gate_checkpatch() {
	local ksrc=$1 log=$LOGS/checkpatch.log files
	mapfile -t files < <(checkpatch_files)
	if [ ${#files[@]} -eq 0 ]; then
		skip "static: checkpatch (no sources yet)"
		return
	fi
	# Run from the repository so checkpatch picks up .checkpatch.conf.
	if (cd "$SRC" && perl "$ksrc/scripts/checkpatch.pl" --no-tree -f \
			--strict --terse --show-types "${files[@]}") >"$log" 2>&1; then
		pass "static: checkpatch --strict clean (${#files[@]} files)"
	else
		grep -E ': (ERROR|WARNING|CHECK):' "$log" | head -n 20 | sed 's/^/    /'
		fail "static: checkpatch --strict: $(grep -cE ': (ERROR|WARNING|CHECK):' "$log") problems ($log)"
	fi
}

gate_kerneldoc() {
	local ksrc=$1 log=$LOGS/kernel-doc.log files
	mapfile -t files < <(cd "$SRC" && ls include/linux/dslab.h mm/*.c mm/*.h 2>/dev/null)
	if [ ${#files[@]} -eq 0 ]; then
		skip "static: kernel-doc (no sources yet)"
		return
	fi
	(cd "$SRC" && perl "$ksrc/scripts/kernel-doc" -none -Wall "${files[@]}") \
		>"$log" 2>&1 || true
	if [ -s "$log" ]; then
		head -n 20 "$log" | sed 's/^/    /'
		fail "static: kernel-doc -Wall: $(wc -l <"$log") lines of warnings ($log)"
	else
		pass "static: kernel-doc -none -Wall clean (${#files[@]} files)"
	fi
}

# dkms add/build into a private dkms tree: nothing under /var/lib/dkms.
# One build per supported line: Debian 12's stock headers (6.1), the
# 6.12 debug kernel's build tree (Debian 12 packages no 6.12 headers) and
# the newest stock headers.
gate_dkms() {
	local conf=$SRC/dkms.conf log name ver kver hdr tree
	if [ ! -f "$conf" ]; then
		skip "static: dkms build (no dkms.conf)"
		return
	fi
	name=$(sed -n 's/^PACKAGE_NAME="\{0,1\}\([^"]*\)"\{0,1\}/\1/p' "$conf")
	ver=$(sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}/\1/p' "$conf")
	for hdr in $(stock_headers) ${KDIRS[6.12]:-} ${NEWEST_HDR:-}; do
		case $hdr in
		*/linux-headers-*) kver=${hdr##*/linux-headers-} ;;
		*) kver=$(cat "$hdr/include/config/kernel.release") ;;
		esac
		log=$LOGS/dkms-$kver.log
		tree=$CACHE/dkms
		rm -rf "$tree"
		mkdir -p "$tree/src" "$tree/tree"
		rsync -a --exclude=.git "$SRC/" "$tree/src/$name-$ver/"
		if { dkms add -m "$name" -v "$ver" --sourcetree "$tree/src" \
			--dkmstree "$tree/tree" &&
		     dkms build -m "$name" -v "$ver" -k "$kver" \
			--kernelsourcedir "$hdr" \
			--sourcetree "$tree/src" --dkmstree "$tree/tree"; } >"$log" 2>&1; then
			pass "static: dkms build $name/$ver for $kver"
		else
			tail -n 20 "$log" | sed 's/^/    /'
			fail "static: dkms build for $kver ($log)"
		fi
	done
}

# install_files <what> <root> <kver>: what "make install" or "dkms install"
# put under <root> for kernel <kver>: dslab.ko must be the only module, the
# header and Module.symvers must be where Documentation/api.rst says.
# (Debian's DKMS puts modules in updates/dkms/, whatever dkms.conf says.)
install_files() {
	local what=$1 root=$2 kver=$3 kos symvers
	local want="^\./lib/modules/${kver//./\\.}/updates/(dkms/)?dslab\.ko(\.(gz|xz|zst))? \$"
	symvers=$root/usr/share/dslab/$kver/Module.symvers
	kos=$(cd "$root" && find . -name '*.ko*' | sort | tr '\n' ' ') || kos=
	if ! [[ $kos =~ $want ]]; then
		fail "static: $what installed modules: ${kos:-none}; want dslab.ko alone"
	elif ! cmp -s "$SRC/include/linux/dslab.h" "$root/usr/include/dslab/linux/dslab.h"; then
		fail "static: $what: no /usr/include/dslab/linux/dslab.h like include/linux/dslab.h"
	elif ! grep -q '[[:space:]]dslab_alloc[[:space:]]' "$symvers" 2>/dev/null; then
		fail "static: $what: no /usr/share/dslab/$kver/Module.symvers exporting dslab_alloc"
	else
		pass "static: $what for $kver: dslab.ko alone, dslab.h, Module.symvers"
	fi
}

# install_client <what> <root> <kver> <hdr>: the sample client built as
# a module of its own from <root>'s dslab.h and Module.symvers alone, W=1.
# The sample borrows dslab's mm/compat.h for the kernel's timer API, not
# for dslab's: that one is copied with it, nothing else of the tree.
install_client() {
	local what=$1 root=$2 kver=$3 hdr=$4 dir log
	dir=$CACHE/install/client-${what// /-}
	log=$LOGS/install-client-${what// /-}.log
	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$SRC/samples/dslab_sample.c" "$SRC/mm/compat.h" "$dir/"
	printf 'ccflags-y += -I%s\nobj-m += dslab_sample.o\n' \
		"$root/usr/include/dslab" >"$dir/Kbuild"
	if ! make -C "$hdr" M="$dir" W=1 \
		KBUILD_EXTRA_SYMBOLS="$root/usr/share/dslab/$kver/Module.symvers" \
		modules >"$log" 2>&1; then
		grep -iE 'error|undefined' "$log" | sed -n '1,20s/^/    /p' || true
		fail "static: client module against the $what files does not build ($log)"
	elif grep -qiE 'warning|undefined' "$log"; then
		grep -iE 'warning|undefined' "$log" | sed -n '1,20s/^/    /p' || true
		fail "static: client module against the $what files: warnings ($log)"
	elif ! grep -qE 'MODULE_INFO\(depends, "([^"]*,)?dslab(,[^"]*)?"\)' \
		"$dir/dslab_sample.mod.c"; then
		fail "static: client module against the $what files: modpost did not tie it to dslab ($dir/dslab_sample.mod.c)"
	else
		pass "static: client module builds with W=1 from the $what dslab.h and Module.symvers alone"
	fi
}

# "make install" and "dkms install" for Debian 12's stock 6.1 headers (as
# gate_dkms), each into a private root under $CACHE/install (DESTDIR,
# dkms --installtree): nothing under /usr, /lib/modules or /var/lib/dkms.
gate_install() {
	local hdr kver dir=$CACHE/install log=$LOGS/install.log root
	local conf=$SRC/dkms.conf name ver tree f before='' dk
	hdr=$(stock_headers)
	if [ -z "$hdr" ]; then
		fail "static: make install (no /usr/src/linux-headers-*-amd64)"
		return
	fi
	kver=${hdr##*/linux-headers-}
	for f in /usr/include/dslab /usr/share/dslab/$kver /var/lib/dkms/dslab \
		 /lib/modules/$kver/updates/dslab.ko \
		 /lib/modules/$kver/updates/dkms/dslab.ko; do
		[ -e "$f" ] || before+=" $f"
	done
	rm -rf "$dir"
	sync_tree "$dir/src"
	root=$dir/make-root
	if make -C "$dir/src" KDIR="$hdr" DESTDIR="$root" install >"$log" 2>&1; then
		install_files "make install" "$root" "$kver"
		install_client "make install" "$root" "$kver" "$hdr"
	else
		tail -n 20 "$log" | sed 's/^/    /'
		fail "static: make install for $kver ($log)"
	fi

	name=$(sed -n 's/^PACKAGE_NAME="\{0,1\}\([^"]*\)"\{0,1\}/\1/p' "$conf")
	ver=$(sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}/\1/p' "$conf")
	tree=$dir/dkms
	root=$tree/root
	log=$LOGS/install-dkms.log
	mkdir -p "$tree/src" "$tree/tree" "$root/lib/modules/$kver"
	rsync -a --exclude=.git "$SRC/" "$tree/src/$name-$ver/"
	dk=(-m "$name" -v "$ver" --sourcetree "$tree/src" --dkmstree "$tree/tree")
	if { dkms add "${dk[@]}" &&
	     dkms install "${dk[@]}" -k "$kver" --kernelsourcedir "$hdr" \
		--installtree "$root/lib/modules" --no-depmod; } >"$log" 2>&1; then
		install_files "dkms install" "$root" "$kver"
		install_client "dkms install" "$root" "$kver" "$hdr"
		# Same source, same kernel: the same CRCs as make install's.
		f=$dir/make-root/usr/share/dslab/$kver/Module.symvers
		if [ -f "$f" ] && [ -f "$root/usr/share/dslab/$kver/Module.symvers" ]; then
			if diff <(cut -f 1,2,4,5 "$f") \
				<(cut -f 1,2,4,5 "$root/usr/share/dslab/$kver/Module.symvers") \
				>>"$log" 2>&1; then
				pass "static: dkms install's Module.symvers has make install's CRCs"
			else
				fail "static: dkms install's Module.symvers differs from make install's ($log)"
			fi
		fi
		if dkms remove "${dk[@]}" -k "$kver" --installtree "$root/lib/modules" \
			--no-depmod >>"$log" 2>&1 &&
		   [ -z "$(find "$root" -type f)" ]; then
			pass "static: dkms remove takes dslab.ko, dslab.h and Module.symvers away"
		else
			find "$root" -type f | sed 's/^/    left: /'
			fail "static: dkms remove for $kver ($log)"
		fi
	else
		tail -n 20 "$log" | sed 's/^/    /'
		fail "static: dkms install for $kver ($log)"
	fi

	for f in $before; do
		[ -e "$f" ] && fail "static: the install gates wrote $f outside $dir"
	done
	return 0
}

# DSLAB_DTOR() must reject a destructor of the wrong type at compile time:
# kunit/build_fail/run.sh and the sample's wrong-dtor target both build
# deliberately mismatched code and pass only when the build fails.
gate_build_fail() {
	local hdr log=$LOGS/build-fail.log
	hdr=$(stock_headers)
	if bash "$SRC/kunit/build_fail/run.sh" "$hdr" >"$log" 2>&1; then
		pass "static: DSLAB_DTOR rejects mismatched destructors (kunit/build_fail)"
	else
		tail -n 20 "$log" | sed 's/^/    /'
		fail "static: kunit/build_fail ($log)"
	fi
	if make -C "$SRC/samples" KDIR="$hdr" wrong-dtor >>"$log" 2>&1; then
		pass "static: the sample's wrong-dtor variant does not compile"
	else
		tail -n 20 "$log" | sed 's/^/    /'
		fail "static: samples wrong-dtor ($log)"
	fi
}

static_gates() {
	local ksrc=$1
	section "static gates"
	gate_sizeclasses
	gate_sizeclass_userspace
	if [ -n "$ksrc" ]; then
		gate_checkpatch "$ksrc"
		gate_kerneldoc "$ksrc"
	else
		fail "static: checkpatch (no 6.12 source tree)"
		fail "static: kernel-doc (no 6.12 source tree)"
	fi
	gate_dkms
	gate_install
	gate_build_fail
}

#
# === VM layers ===
#

# test_debug_kernel <version> <fragment>...: build, boot, check.
declare -A KDIRS=()
# test_debug_kernel <version> <flavour> <fragments...>
test_debug_kernel() {
	local ver=$1 flavour=$2 id rt=
	shift 2
	id=$ver-$flavour
	case "$*" in *rt.config*) rt=" (PREEMPT_RT)" ;; esac
	section "Linux $ver $flavour kernel$rt"
	build_kernel "$ver" "$@" || return 0
	if [ "$flavour" = debug ]; then
		KDIRS[$ver]=$KBUILD_DIR
	fi
	build_modules "$id" "$KBUILD_DIR" || return 0
	make_initramfs "$LOGS/initramfs-$id.cpio"
	# KCSAN starts watching from the guest script, after boot.
	boot_vm "$id" "$KBUILD_DIR/arch/x86/boot/bzImage" \
		"$LOGS/initramfs-$id.cpio" check \
		"$([ "$flavour" = kcsan ] && echo kcsan.early_enable=0)"
	check_console "$id" "$CONSOLE" "$CACHE/src/linux-source-$ver"
}

# test_numa_layer <version>: the debug kernel and modules just tested,
# booted again with two memory nodes (NUMA emulation, numa=fake=2), the
# same guest; dslab_numa's remote-free case must then run, not skip.
test_numa_layer() {
	local ver=$1 id=$1-numa
	section "Linux $ver debug kernel, two NUMA nodes (numa=fake=2)"
	if [ -z "${KDIRS[$ver]:-}" ]; then
		fail "$id: no $ver debug kernel and modules"
		return
	fi
	make_initramfs "$LOGS/initramfs-$id.cpio"
	boot_vm "$id" "${KDIRS[$ver]}/arch/x86/boot/bzImage" \
		"$LOGS/initramfs-$id.cpio" check numa=fake=2
	check_console "$id" "$CONSOLE" "$CACHE/src/linux-source-$ver"
	if grep -Eq 'ok [0-9]+ dslab_numa_remote_free[[:space:]]*$' "$CONSOLE"; then
		pass "$id: two nodes: remote frees went home"
	else
		fail "$id: dslab_numa_remote_free did not run on two nodes"
	fi
}

# The self-test of the x86 debug kernel (lib.sh's selftest_boot).
harness_selftest() {
	local ver=$1
	section "harness self-test (Linux $ver)"
	if [ -z "${KDIRS[$ver]:-}" ]; then
		fail "selftest: no $ver debug kernel and modules"
		return
	fi
	MOD_DIR=$CACHE/mod/$ver-debug
	selftest_boot selftest "$ver" "${KDIRS[$ver]}/arch/x86/boot/bzImage"
}

# test_stock_kernel <headers> <image>: a Debian stock kernel as shipped.
test_stock_kernel() {
	local hdr=$1 image=$2 kver id
	kver=${hdr##*/linux-headers-}
	id=stock-$kver
	section "Debian stock kernel $kver"
	if [ ! -f "$image" ]; then
		fail "stock: $image missing"
		return
	fi
	build_modules "$id" "$hdr" || return 0
	make_initramfs "$LOGS/initramfs-$id.cpio"
	boot_vm "$id" "$image" "$LOGS/initramfs-$id.cpio" stock
	check_console "$id" "$CONSOLE" ""
}

case $mode in
static)
	ksrc=$("$VM_DIR/build-kernel.sh" --source 6.12) || ksrc=
	static_gates "$ksrc"
	;;
kcsan)
	test_debug_kernel 6.12 kcsan "$SRC/kunit/debug.config" "$SRC/kunit/kcsan.config"
	;;
check)
	for ver in $KERNELS; do
		mapfile -t frags < <(debug_fragments "$ver")
		test_debug_kernel "$ver" debug "${frags[@]}"
		# The two-node layer, while MOD_DIR holds its modules.
		if [ "$ver" = 6.12 ]; then
			test_numa_layer 6.12
		fi
	done
	# KCSAN cannot share a kernel with KASAN: a third kernel runs the
	# same guest (KUnit, shell tests, torture) with the race detector.
	if [ "${DSLAB_SKIP_KCSAN:-0}" = 1 ]; then
		skip "kcsan: 6.12 KCSAN kernel (DSLAB_SKIP_KCSAN=1)"
	else
		test_debug_kernel 6.12 kcsan "$SRC/kunit/debug.config" \
			"$SRC/kunit/kcsan.config"
	fi
	# The newest headers' host tools come from its debug build (a cache
	# hit unless DSLAB_KERNELS left the newest out).
	if [ -n "${NEWEST_VER:-}" ]; then
		mapfile -t frags < <(debug_fragments "$NEWEST_VER")
		if bld=$("$VM_DIR/build-kernel.sh" "$NEWEST_VER" "${frags[@]}"); then
			newest_host_tools "$NEWEST_HDR" "$bld"
			[ -z "${NEWEST_RT_HDR:-}" ] ||
				newest_host_tools "$NEWEST_RT_HDR" "$bld"
		else
			fail "newest kernel: no $NEWEST_VER build for the host tools"
		fi
	fi
	ksrc=
	for ver in 6.12 $KERNELS; do
		if [ -f "$CACHE/src/linux-source-$ver/.dslab-extracted" ]; then
			ksrc=$CACHE/src/linux-source-$ver
			break
		fi
	done
	static_gates "$ksrc"
	selftest_ver=6.12
	grep -qw 6.12 <<<"$KERNELS" || selftest_ver=${KERNELS%% *}
	harness_selftest "$selftest_ver"
	if [ "${DSLAB_SKIP_STOCK:-0}" = 1 ]; then
		skip "stock: Debian stock kernels (DSLAB_SKIP_STOCK=1)"
	else
		hdr=$(stock_headers)
		if [ -n "$hdr" ]; then
			test_stock_kernel "$hdr" "/boot/vmlinuz-${hdr#/usr/src/linux-headers-}"
		else
			fail "stock: no /usr/src/linux-headers-*-amd64"
		fi
		if [ -n "${NEWEST_HDR:-}" ]; then
			test_stock_kernel "$NEWEST_HDR" "$NEWEST_IMAGE"
		fi
		if [ -n "${NEWEST_RT_HDR:-}" ]; then
			test_stock_kernel "$NEWEST_RT_HDR" "$NEWEST_RT_IMAGE"
		fi
	fi
	# The same debug-kernel layer on arm64: a weakly ordered CPU.
	if [ "${DSLAB_SKIP_ARM64:-0}" = 1 ]; then
		skip "arm64: 6.12 arm64 debug kernel (DSLAB_SKIP_ARM64=1)"
	else
		arm64_layer
	fi
	;;
esac

echo
echo "dslab: $mode took $(( $(date +%s) - T0 ))s; logs in $LOGS"
summary
