#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# test_hostile.sh - bad input to debugfs control: overlong and 1 MiB
# writes, NUL and control bytes, overflowing and negative numbers, unknown
# commands and handles, every command with missing and extra arguments,
# and several writers at once.
#
# Every refusal must fail the write with the exact errno (checked through
# `last`), change nothing (handles and counters compared before and
# after), and leave no kernel report in dmesg.  Prints TAP.

. "$(dirname "$0")/lib.sh"
need_dslab

E2BIG=7
EINVAL=22
ENOENT=2
ERANGE=34

mark_kmsg hostile
ctl free all
ctl barrier

# A live object and a cleanup to aim at.
ctl alloc 64
H=$(last_id)
ctl cleanup "$H"
C=$(last_id)
ctl new blob
B=$(last_id)

# === Length ===

printf 'alloc 8%249s\n' '' >"$T_TMP/len257"
printf 'alloc 8%248s\n' '' >"$T_TMP/len256"
t_eq "257-byte payload built" 257 "$(wc -c <"$T_TMP/len257")"
t_eq "256-byte payload built" 256 "$(wc -c <"$T_TMP/len256")"
expect_err_by $E2BIG "257-byte write" ctlraw "$T_TMP/len257"
t_check "256-byte write accepted" ctlraw "$T_TMP/len256"
t_check "... and did allocate" last_is_handles
ctl free "$(last_id)"

write_1m() {
	dd if=/dev/zero of="$CTL/control" bs=1048576 count=1 2>/dev/null
}
expect_err_by $E2BIG "1 MiB write of zeros" write_1m
tr '\0' 'a' </dev/zero | dd of="$T_TMP/1m" bs=1024 count=1024 2>/dev/null
expect_err_by $E2BIG "1 MiB write of text" ctlraw "$T_TMP/1m"

# === Bytes ===

raw() {	# raw <printf format>: write exactly those bytes
	printf "$1" >"$T_TMP/raw"
	ctlraw "$T_TMP/raw"
}
printf 'alloc\0 8' >"$T_TMP/nul"
t_eq "NUL payload has 8 bytes" 8 "$(wc -c <"$T_TMP/nul")"
expect_err_by $EINVAL "embedded NUL" ctlraw "$T_TMP/nul"
expect_err_by $EINVAL "trailing NUL" raw 'alloc 8\0'
expect_err_by $EINVAL "NUL only" raw '\0'
expect_err_by $EINVAL "carriage return" raw 'alloc 8\r\n'
expect_err_by $EINVAL "two newlines" raw 'alloc 8\n\n'
expect_err_by $EINVAL "two commands in one write" raw 'alloc 8\nalloc 8\n'
expect_err_by $EINVAL "escape byte" raw 'alloc \0338'
expect_err_by $EINVAL "high byte" raw 'alloc 8\377'
expect_err $EINVAL "empty line" ""
expect_err $EINVAL "blanks only" "   "
t_check "tabs and repeated blanks separate words" ctl "	alloc   8 	"
t_check "... and did allocate" last_is_handles
ctl free "$(last_id)"
t_check "no trailing newline is fine" raw 'barrier'

# === Commands ===

expect_err $EINVAL "unknown command" frobnicate
expect_err $EINVAL "command is case-sensitive" ALLOC 8
expect_err $EINVAL "command prefix" allo 8
expect_err $EINVAL "unknown type" new widget
expect_err $EINVAL "unknown destructor kind" dtor "$H" explode

# === Numbers ===

expect_err $ERANGE "size 2^32" alloc 4294967296
expect_err $ERANGE "size 2^64" alloc 18446744073709551616
expect_err $ERANGE "size of 30 digits" alloc 999999999999999999999999999999
expect_err $EINVAL "negative size" alloc -1
expect_err $EINVAL "negative zero size" alloc -0
expect_err $EINVAL "hex size" alloc 0x10
expect_err $EINVAL "size with junk" alloc 8k
expect_err $EINVAL "size with a dot" alloc 8.0
expect_err $ERANGE "size 0" alloc 0
expect_err $ERANGE "size above 1 MiB" alloc 1048577
expect_err $ERANGE "count 0" alloc 8 0
expect_err $ERANGE "count above 4096" alloc 8 4097
expect_err $EINVAL "negative count" alloc 8 -1
expect_err $ERANGE "count 2^32+1 (wraps to 1 if truncated)" alloc 8 4294967297
expect_err $ERANGE "more than 64 MiB in one command" alloc 1048576 65
expect_err $ERANGE "new count 0" new point 0
expect_err $ERANGE "sleep above 10 s" dtor "$H" sleep 10001
expect_err $EINVAL "negative sleep" dtor "$H" sleep -5
expect_err $ERANGE "cleanup count 0" cleanup "$H" 0
expect_err $ERANGE "cleanup count 257" cleanup "$H" 257

# === Handles ===

expect_err $ENOENT "free of an unknown handle" free 999999
expect_err $ERANGE "free handle 0" free 0
expect_err $ERANGE "free handle 2^31" free 2147483648
expect_err $ERANGE "free handle 2^32 + h (wraps if truncated)" \
	free $((4294967296 + H))
expect_err $EINVAL "free of a negative handle" free -1
expect_err $EINVAL "free of a reversed range" free "$((H + 1))-$H"
expect_err $EINVAL "free range without end" free "$H-"
expect_err $EINVAL "free range of three parts" free "$H-$H-$H"
expect_err $ENOENT "free range with a hole frees nothing" \
	free "$H-$((H + 100))"
expect_err $EINVAL "free ALL" free ALL
expect_err $ENOENT "free_rcu of an unknown handle" free_rcu 999999
expect_err $ENOENT "dtor on an unknown handle" dtor 999999 count
expect_err $ENOENT "dtor free of an unknown handle" dtor "$H" free 999999
expect_err $EINVAL "dtor free of itself" dtor "$H" free "$H"
expect_err $ENOENT "cleanup on an unknown handle" cleanup 999999
expect_err $ENOENT "cancel of an unknown cleanup" cancel 999999
expect_err $ERANGE "cancel 0" cancel 0
expect_err $EINVAL "cancel of a negative id" cancel -1
expect_err $EINVAL "cancel by name" cancel all

# === Missing and extra arguments, every command ===

for cmd in alloc new free free_rcu dtor cleanup cancel; do
	expect_err $EINVAL "$cmd without arguments" $cmd
done
expect_err $EINVAL "dtor without a kind" dtor "$H"
expect_err $EINVAL "dtor sleep without ms" dtor "$H" sleep
expect_err $EINVAL "dtor free without a handle" dtor "$H" free
expect_err $EINVAL "alloc with 3 arguments" alloc 8 1 1
expect_err $EINVAL "new with 3 arguments" new point 1 1
expect_err $EINVAL "free with 2 arguments" free "$H" "$H"
expect_err $EINVAL "free_rcu with 2 arguments" free_rcu "$H" 1
expect_err $EINVAL "dtor count with an argument" dtor "$H" count 1
expect_err $EINVAL "dtor realloc with an argument" dtor "$H" realloc 1
expect_err $EINVAL "dtor clear with an argument" dtor "$H" clear 1
expect_err $EINVAL "dtor point with an argument" dtor "$B" point 1
expect_err $EINVAL "dtor sleep with 2 arguments" dtor "$H" sleep 1 1
expect_err $EINVAL "cleanup with 3 arguments" cleanup "$H" 1 1
expect_err $EINVAL "cancel with 2 arguments" cancel "$C" 1
for cmd in barrier shrink reset; do
	expect_err $EINVAL "$cmd with an argument" $cmd now
done
t_eq "the target object survived all of it" "$H 64 - - 1" \
	"$(handle_row "$H")"

# === Several writers at once ===

ctl free all
ctl barrier
ctl reset
inuse0=$(sval objects_inuse)

writer() {	# writer <id>: a random mix of good and bad commands
	RANDOM=$(($1 * 7919))
	i=0
	while [ $i -lt 60 ]; do
		i=$((i + 1))
		h=$(( (RANDOM % 40) + 1 + ${base:-0} ))
		case $((RANDOM % 14)) in
		0) echo "alloc $(( (RANDOM % 5000) + 1 )) 3" ;;
		1) echo "new point 2" ;;
		2) echo "new rect" ;;
		3) echo "dtor $h count" ;;
		4) echo "dtor $h sleep 5" ;;
		5) echo "dtor $h free $((h + 1))" ;;
		6) echo "dtor $h realloc" ;;
		7) echo "cleanup $h 2" ;;
		8) echo "cancel $(( (RANDOM % 40) + 1 ))" ;;
		9) echo "free $h" ;;
		10) echo "free_rcu $h" ;;
		11) echo "free $h-$((h + 3))" ;;
		12) echo "barrier" ;;
		*) echo "bogus $h" ;;
		esac 2>/dev/null >"$CTL/control"
	done
}
ctl alloc 8
base=$(last_id)
ctl free all
pids=
for w in 1 2 3 4; do
	writer $w &
	pids="$pids $!"
done
# Readers too, while they write.
(for i in 1 2 3 4 5 6 7 8 9 10; do
	cat "$CTL/handles" "$D/stats" "$CTL/last" "$D/finq" >/dev/null
	sleep 0.2
done) &
pids="$pids $!"
for p in $pids; do
	wait "$p"
done
t_ok "4 writers and a reader finished"
expect_ok "free all after the writers" free all
expect_ok "barrier after the writers" barrier
t_eq "no handles left" 0 "$(sval ctl_handles)"
t_eq "objects_inuse back to baseline" "$inuse0" "$(sval objects_inuse)"
t_eq "every destructor registered and not removed ran" \
	$(($(sval destructors_registered) - $(sval destructors_removed))) \
	"$(sval destructors_run)"
t_eq "every cleanup added and not cancelled ran" \
	$(($(sval cleanups_added) - $(sval cleanups_cancelled))) \
	"$(sval cleanups_run)"
t_eq "counted destructor runs match dslab's" "$(sval destructors_run)" \
	$(($(sval ctl_dtor_count_runs) + $(sval ctl_dtor_sleep_runs) + \
	   $(sval ctl_dtor_realloc_runs) + $(sval ctl_dtor_free_runs) + \
	   $(sval ctl_dtor_free_gone) + $(sval ctl_dtor_point_runs) + \
	   $(sval ctl_dtor_shape_runs)))
t_eq "cleanup runs match dslab's" "$(sval cleanups_run)" \
	"$(sval ctl_cleanup_runs)"
t_eq "no finq records pending" 0 "$(finq records_pending)"
t_diag "writers: $(sval allocations) allocations," \
	"$(sval destructors_run) destructors, $(sval cleanups_run) cleanups"

t_check "no kernel warning, BUG or lockdep report" kmsg_clean hostile
t_done
