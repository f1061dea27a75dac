#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# test_debug.sh - dslab's debug mode (debug=1): a free object's poison is
# checked when it is allocated again, a red zone when its object is freed,
# and each damage is counted (debug_corruptions) and reported with its
# offset.  dslab_ctl's "uaf" and "redzone" commands do the damage on
# purpose; without debug mode they are refused and change nothing.
#
# Reloads dslab with debug=1, and without it at the end.  Prints TAP.

. "$(dirname "$0")/lib.sh"
need_dslab

EPERM=1

debug_param() {
	cat /sys/module/dslab/parameters/debug
}

mark_kmsg debug

if [ "$(debug_param)" = N ]; then
	expect_err $EPERM "uaf refused without debug mode" uaf 64 16
	expect_err $EPERM "redzone refused without debug mode" redzone 64
fi

t_check "reload dslab with debug=1" reload_dslab debug=1
t_eq "debug mode is on" Y "$(debug_param)"
c0=$(sval debug_corruptions)

expect_ok "uaf 64 16: write into a freed object" uaf 64 16
t_eq "the same object came back" "ok uaf same" "$(last)"
t_eq "the use after free is counted" $((c0 + 1)) "$(sval debug_corruptions)"
t_check "... and reported with its offset" sh -c \
	"dmesg | grep -q 'use after free: class [0-9]* ([0-9]* bytes) written at offset 16'"

expect_ok "redzone 64: write past the usable size" redzone 64
off=$(sed -n 's/^ok redzone offset \([0-9]*\)$/\1/p' "$CTL/last")
t_check "the red zone starts at the usable size ($off)" [ -n "$off" ]
t_eq "the red zone damage is counted" $((c0 + 2)) "$(sval debug_corruptions)"
t_check "... and reported with its offset" sh -c \
	"dmesg | grep -q 'red zone overwritten: class [0-9]* ([0-9]* bytes) at offset $off'"

expect_err 34 "uaf offset 7 (the free list link) is refused" uaf 64 7
expect_ok "alloc 100 8" alloc 100 8
expect_ok "free all" free all
expect_ok "alloc 24 8 after the damage" alloc 24 8
expect_ok "free all" free all
t_eq "clean objects report nothing" $((c0 + 2)) "$(sval debug_corruptions)"

t_check "reload dslab without debug" reload_dslab
t_eq "debug mode is off" N "$(debug_param)"
t_check "no kernel report" kmsg_clean debug

t_done
