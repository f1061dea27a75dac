#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# test_debug.sh - dslab's debug mode (debug=1): a free object's poison is
# checked when it is allocated again, a red zone when its object is freed,
# and each damage is counted (debug_corruptions) and reported with its
# offset and the stacks of the object's last allocation and free;
# debugfs alloc_traces lists where live objects were allocated.
# dslab_ctl's "uaf", "redzone" and "dfree" commands do the damage on
# purpose; without debug mode they are refused and change nothing.
#
# Reloads dslab with debug=1, and without it at the end.  Prints TAP.

. "$(dirname "$0")/lib.sh"
need_dslab

EPERM=1

debug_param() {
	cat /sys/module/dslab/parameters/debug
}

# stack_names <report> <stack> <function>: the last kernel message
# matching <report> is followed by "<stack>:" (e.g. "last freed by") and a
# stack with <function> in it, before the next stack or report.
stack_names() {
	dmesg | awk -v r="$1" -v h="$2:" -v f="$3" '
		$0 ~ r { rep = 1; st = 0; hit = 0; next }
		rep && / by:$/ { st = index($0, h) > 0; next }
		rep && / by: no stack recorded$/ { st = 0; next }
		rep && st && index($0, f) { hit = 1 }
		END { exit !hit }'
}

mark_kmsg debug

if [ "$(debug_param)" = N ]; then
	expect_err $EPERM "uaf refused without debug mode" uaf 64 16
	expect_err $EPERM "redzone refused without debug mode" redzone 64
	expect_err $EPERM "dfree refused without debug mode" dfree 64
	t_check "alloc_traces says it needs debug mode" \
		grep -q 'in debug mode only' "$D/alloc_traces"
fi

# warn_bad_free=0: dfree's double free is meant, not a WARN.
t_check "reload dslab with debug=1" reload_dslab debug=1 warn_bad_free=0
t_eq "debug mode is on" Y "$(debug_param)"
c0=$(sval debug_corruptions)

expect_ok "uaf 64 16: write into a freed object" uaf 64 16
t_eq "the same object came back" "ok uaf same" "$(last)"
t_eq "the use after free is counted" $((c0 + 1)) "$(sval debug_corruptions)"
t_check "... and reported with its offset" sh -c \
	"dmesg | grep -q 'use after free: class [0-9]* ([0-9]* bytes) written at offset 16'"
t_check "... with the stack that allocated it" \
	stack_names 'use after free: class' 'last allocated by' dslab_ctl_cmd_uaf
t_check "... and the stack that freed it" \
	stack_names 'use after free: class' 'last freed by' dslab_ctl_cmd_uaf

expect_ok "redzone 64: write past the usable size" redzone 64
off=$(sed -n 's/^ok redzone offset \([0-9]*\)$/\1/p' "$CTL/last")
t_check "the red zone starts at the usable size ($off)" [ -n "$off" ]
t_eq "the red zone damage is counted" $((c0 + 2)) "$(sval debug_corruptions)"
t_check "... and reported with its offset" sh -c \
	"dmesg | grep -q 'red zone overwritten: class [0-9]* ([0-9]* bytes) at offset $off'"
t_check "... with the stack that allocated it" \
	stack_names 'red zone overwritten: class' 'last allocated by' \
	dslab_ctl_cmd_redzone

d0=$(sval double_frees)
expect_ok "dfree 64: free an object twice" dfree 64
t_eq "the double free is counted" $((d0 + 1)) "$(sval double_frees)"
t_check "... reported naming the object's class and offset" sh -c \
	"dmesg | grep -q 'bad free of .* by dslab_ctl_cmd_dfree.*: double free (object not live) (class [0-9]*, [0-9]* bytes, object .*, offset 0)'"
t_check "... with the stack of its first free" \
	stack_names 'double free \\(object not live\\)' 'last freed by' \
	dslab_ctl_cmd_dfree

expect_err 34 "uaf offset 7 (the free list link) is refused" uaf 64 7

# alloc_traces: dslab_ctl's allocation site holds exactly its live
# objects, and none once they are freed.
expect_ok "alloc 200 37" alloc 200 37
t_check "alloc_traces counts the 37 objects at dslab_ctl's site" \
	grep -Eq '^ +37 dslab_ctl_[a-z_.0-9]+\+0x' "$D/alloc_traces"
t_diag "alloc_traces: $(grep -B1 ' dslab_ctl_' "$D/alloc_traces" | tr '\n' '|')"
expect_ok "free all" free all
t_check "... and none once they are freed" \
	sh -c "! grep -q ' dslab_ctl_' '$D/alloc_traces'"
expect_ok "alloc 100 8" alloc 100 8
expect_ok "free all" free all
expect_ok "alloc 24 8 after the damage" alloc 24 8
expect_ok "free all" free all
t_eq "clean objects report nothing" $((c0 + 2)) "$(sval debug_corruptions)"

t_check "reload dslab without debug" reload_dslab
t_eq "debug mode is off" N "$(debug_param)"
t_check "no kernel report" kmsg_clean debug

t_done
