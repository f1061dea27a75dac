#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kunit.sh - run dslab's KUnit suites alone in the Linux 6.12 debug kernel,
# for a quick look while working on one of them (make check runs them all).
#
# Usage: kunit.sh [glob] [extra kernel command line...]
#   glob     kunit.filter_glob, e.g. "dslab_numa" or "dslab_hotplug.*memory"
#            (default: every suite)
# DSLAB_CACHE, DSLAB_SRC and DSLAB_RUN_KERNEL as for run.sh.
set -euo pipefail
# shellcheck source=tools/testing/vm/lib.sh
. "$(dirname "$0")/lib.sh"

glob=${1:-}
shift || true
# The suites the glob selects, for lib.sh's kunit_results.
suites=${glob%%.*}
KUNIT_SUITES_RE="^${suites//\*/.*}\$"
[ -n "$glob" ] || KUNIT_SUITES_RE=.
export KUNIT_SUITES_RE
ver=${DSLAB_RUN_KERNEL:-6.12}
ledger_init "$CACHE/logs/kunit"
install_deps

section "building the Linux $ver debug kernel (first time: about 4 minutes)"
mapfile -t frags < <(debug_fragments "$ver")
build_kernel "$ver" "${frags[@]}" || { summary; exit 1; }
section "building dslab for it"
build_modules "$ver-debug" "$KBUILD_DIR" || { summary; exit 1; }
make_initramfs "$LOGS/initramfs-kunit.cpio"

section "booting (qemu, ${DSLAB_VM_ACCEL:-tcg})"
boot_vm kunit "$KBUILD_DIR/arch/x86/boot/bzImage" "$LOGS/initramfs-kunit.cpio" \
	kunit "${glob:+kunit.filter_glob=$glob }$*"
check_console kunit "$CONSOLE" "$CACHE/src/linux-source-$ver" noshell
summary
