#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - "make run": see dslab work in a VM.
#
# Builds (or reuses) the 6.12 debug kernel and dslab for it, boots it under
# qemu with dslab loaded and runs tools/testing/dslab/demo.sh (or, until
# that exists, prints the debugfs stats and classes files), then powers
# the VM off.  Shows the guest's console from the moment /init starts.
# Exits non-zero when something failed or the kernel printed a report.
#
# Environment: as check.sh (DSLAB_CACHE, DSLAB_VM_ACCEL, ...);
# DSLAB_RUN_KERNEL picks the kernel version (default 6.12).

set -euo pipefail
# shellcheck source=tools/testing/vm/lib.sh
. "$(dirname "$0")/lib.sh"

ver=${DSLAB_RUN_KERNEL:-6.12}
ledger_init "$CACHE/logs/run"
install_deps

section "building the Linux $ver debug kernel (first time: about 4 minutes)"
build_kernel "$ver" "$SRC/kunit/debug.config" || { summary; exit 1; }
section "building dslab for it"
build_modules "$ver-debug" "$KBUILD_DIR" || { summary; exit 1; }
make_initramfs "$LOGS/initramfs-run.cpio"

section "booting (qemu, ${DSLAB_VM_ACCEL:-tcg})"
boot_vm run "$KBUILD_DIR/arch/x86/boot/bzImage" "$LOGS/initramfs-run.cpio" run
sed -n '/^DSLAB-GUEST: start/,$p' "$CONSOLE" | grep -v '^DSLAB-GUEST: end'

section "result"
check_console run "$CONSOLE" "" noshell
summary
