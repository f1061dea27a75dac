#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# arm64.sh - dslab's debug-kernel layer on arm64 (issue 15): the same
# guest and checker as check.sh's debug kernels, on a weakly ordered CPU.
#
# Usage: arm64.sh            (make check-arm64: this layer alone)
#        . arm64.sh; arm64_layer   (check.sh: one layer of make check)
#
# x86 forgives a missing release/acquire; arm64 does not.  This runs, end
# to end:
#  1. the cross tools and qemu from Debian 12 (crossbuild-essential-arm64,
#     qemu-system-arm; installed when root, as lib.sh's install_deps);
#  2. Debian 12's arm64 busybox-static, fetched through a private apt
#     state under $DSLAB_CACHE/apt-arm64/ (suite bookworm, architecture
#     arm64: the machine's apt configuration is not read or changed, no
#     foreign architecture is added, nothing is installed) and unpacked
#     with dpkg-deb -x into $DSLAB_CACHE/arm64/busybox/;
#  3. a debug kernel cross-built from Debian's linux-source (tinyconfig +
#     kunit/debug-arm64.config) by build-kernel.sh with DSLAB_ARCH=arm64,
#     cached in $DSLAB_CACHE/build/<version>-arm64-<hash>/;
#  4. dslab's modules against it, W=1 and sparse, no warnings (lib.sh's
#     build_modules with ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-);
#  5. a TCG VM, qemu-system-aarch64 -M virt -cpu max (boot.sh with
#     DSLAB_VM_ARCH=arm64), running guest-dslab.sh in "check" mode from an
#     initramfs with the arm64 busybox, whose console lib.sh's
#     check_console turns into results under the id <version>-arm64;
#  6. the harness self-test on that kernel (guest mode "selftest", as
#     check.sh's): the checker must turn red on a failed KUnit case, an
#     arm64 WARNING and a leak, or a green arm64 run proves nothing.
#
# The last line is "dslab: N passed, N failed, N skipped"; any failure
# exits 1.  Logs and the console: $DSLAB_CACHE/logs/arm64/.
#
# Environment: as check.sh (DSLAB_CACHE, DSLAB_VM_TIMEOUT, DSLAB_SRC,
# ...); DSLAB_ARM64_KERNEL, the linux-source version to build (6.12);
# DSLAB_ARM64_MIRROR (http://deb.debian.org/debian).

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	# shellcheck source=tools/testing/vm/lib.sh
	. "$(dirname "$0")/lib.sh"
fi

ARM64_VER=${DSLAB_ARM64_KERNEL:-6.12}
ARM64_PACKAGES="crossbuild-essential-arm64 qemu-system-arm"

# arm64_busybox: sets ARM64_BUSYBOX to Debian 12's static arm64 busybox,
# downloaded once (newest-kernel.sh's private apt state, for bookworm and
# arm64).  Returns 1 when it cannot be had.
arm64_busybox() {
	local apt_dir=$CACHE/apt-arm64 root=$CACHE/arm64/busybox mirror
	local opts deb machine
	mirror=${DSLAB_ARM64_MIRROR:-http://deb.debian.org/debian}
	ARM64_BUSYBOX=$root/bin/busybox
	if [ ! -f "$root/.dslab-unpacked" ]; then
		mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" \
			 "$apt_dir/debs"
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror%/} bookworm main" \
			>"$apt_dir/sources.list"
		opts=(-q -o "Dir::Etc::sourcelist=$apt_dir/sources.list"
		      -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$apt_dir/lists"
		      -o "Dir::Cache=$apt_dir/cache" -o APT::Sandbox::User=root
		      -o APT::Architecture=arm64 -o APT::Architectures::=arm64)
		if ! { apt-get "${opts[@]}" update &&
		       (cd "$apt_dir/debs" && rm -f ./*.deb &&
			apt-get "${opts[@]}" download busybox-static); } \
				>"$LOGS/apt-arm64.log" 2>&1; then
			tail -n 5 "$LOGS/apt-arm64.log" | sed 's/^/    /'
			return 1
		fi
		rm -rf "$root"
		mkdir -p "$root"
		for deb in "$apt_dir"/debs/*.deb; do
			dpkg-deb -x "$deb" "$root"
		done
		rm -f "$apt_dir"/debs/*.deb
		touch "$root/.dslab-unpacked"
	fi
	# ELF e_machine (offset 18, little endian): 0xb7 is AArch64.
	machine=$(od -An -tx1 -j18 -N2 "$ARM64_BUSYBOX" 2>/dev/null | tr -d ' \n')
	[ "$machine" = b700 ]
}

# arm64_layer: steps 1-6 above, into the current ledger.  Returns 0 when
# it could run them (the ledger says how they went).
arm64_layer() {
	local id=$ARM64_VER-arm64
	install_deps $ARM64_PACKAGES
	section "arm64 busybox (Debian 12, private apt state)"
	if arm64_busybox; then
		pass "$id: static arm64 busybox from Debian 12 ($ARM64_BUSYBOX)"
	else
		fail "$id: no static arm64 busybox (see $LOGS/apt-arm64.log)"
		return 0
	fi

	section "Linux $ARM64_VER arm64 debug kernel"
	DSLAB_ARCH=arm64 build_kernel "$ARM64_VER" "$SRC/kunit/debug-arm64.config" ||
		return 0
	# The kbuild variables reach every make of build_modules from here.
	ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- \
		build_modules "$id" "$KBUILD_DIR" || return 0
	DSLAB_BUSYBOX=$ARM64_BUSYBOX make_initramfs "$LOGS/initramfs-$id.cpio"
	DSLAB_VM_ARCH=arm64 boot_vm "$id" "$KBUILD_DIR/arch/arm64/boot/Image" \
		"$LOGS/initramfs-$id.cpio" check
	check_console "$id" "$CONSOLE" "$CACHE/src/linux-source-$ARM64_VER"
	section "harness self-test (arm64)"
	DSLAB_BUSYBOX=$ARM64_BUSYBOX DSLAB_VM_ARCH=arm64 \
		selftest_boot "$id-selftest" "$ARM64_VER" \
		"$KBUILD_DIR/arch/arm64/boot/Image"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	T0=$(date +%s)
	ledger_init "$CACHE/logs/arm64"
	install_deps
	arm64_layer
	echo
	echo "dslab: arm64 took $(( $(date +%s) - T0 ))s; logs in $LOGS"
	summary
fi
