# SPDX-License-Identifier: GPL-2.0
#
# lib.sh - helpers shared by the dslab debugfs shell tests (busybox ash).
#
# Source it from a test with:  . "$(dirname "$0")/lib.sh"
#
# Environment:
#   DSLAB_DEBUGFS  the debugfs directory (default /sys/kernel/debug/dslab)
#   DSLAB_KO       dslab.ko for tests that reload it (default: dslab.ko
#                  next to the tests, ../dslab.ko, else /modules/dslab.ko)
#   DSLAB_CTL_KO   the test module dslab_ctl.ko, whose debugfs directory
#                  (/sys/kernel/debug/dslab_ctl) has the command language
#                  (default: found like dslab.ko)
#
# Output is TAP: "ok N - desc" / "not ok N - desc", the plan "1..N" last.
# t_done exits 1 when any check failed.

D=${DSLAB_DEBUGFS:-/sys/kernel/debug/dslab}
CTL=/sys/kernel/debug/dslab_ctl
T_DIR=$(cd "$(dirname "$0")" && pwd)
# t_find_ko <name>: <name>.ko next to the tests, one up, else /modules.
t_find_ko() {
	for f in "$T_DIR/$1.ko" "$T_DIR/../$1.ko"; do
		if [ -f "$f" ]; then
			echo "$f"
			return
		fi
	done
	echo "/modules/$1.ko"
}
DSLAB_KO=${DSLAB_KO:-$(t_find_ko dslab)}
DSLAB_CTL_KO=${DSLAB_CTL_KO:-$(t_find_ko dslab_ctl)}
T_TMP=${TMPDIR:-/tmp}/dslab-test.$$
mkdir -p "$T_TMP"
T_N=0
T_FAILED=0

# === TAP ===

t_ok() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $*"
}

t_fail() {
	T_N=$((T_N + 1))
	T_FAILED=$((T_FAILED + 1))
	echo "not ok $T_N - $*"
}

t_skip() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $1 # SKIP ${2:-}"
}

t_diag() {
	echo "# $*"
}

# t_check <desc> <command...>: ok when the command succeeds.
t_check() {
	t_desc=$1
	shift
	if "$@"; then
		t_ok "$t_desc"
	else
		t_fail "$t_desc"
	fi
}

# t_eq <desc> <expected> <actual>
t_eq() {
	if [ "$2" = "$3" ]; then
		t_ok "$1"
	else
		t_fail "$1"
		t_diag "expected '$2', got '$3'"
	fi
}

t_done() {
	echo "1..$T_N"
	rm -rf "$T_TMP"
	if [ $T_FAILED -ne 0 ]; then
		t_diag "$T_FAILED of $T_N checks failed"
		exit 1
	fi
	exit 0
}

# === dslab ===

dslab_loaded() {
	[ -d /sys/module/dslab ]
}

ctl_loaded() {
	[ -d /sys/module/dslab_ctl ]
}

# load_dslab [dslab args...]: insmod dslab, then dslab_ctl; errors in
# $T_TMP/insmod.err.
load_dslab() {
	insmod "$DSLAB_KO" "$@" 2>"$T_TMP/insmod.err" &&
		insmod "$DSLAB_CTL_KO" 2>>"$T_TMP/insmod.err"
}

# unload_dslab <tries>: rmmod dslab_ctl, then dslab (those loaded),
# retrying while a shell holds a file, <tries> times in all.
unload_dslab() {
	u_left=$1
	for u_mod in dslab_ctl dslab; do
		[ -d /sys/module/$u_mod ] || continue
		while ! rmmod $u_mod 2>"$T_TMP/rmmod.err"; do
			u_left=$((u_left - 1))
			[ $u_left -le 0 ] && return 1
			sleep 0.1
		done
	done
	return 0
}

# reload_dslab [dslab args...]: dslab_ctl and dslab out, then back in.
reload_dslab() {
	unload_dslab 1 && load_dslab "$@"
}

# Bail out (TAP "Bail out!") unless dslab, dslab_ctl and their debugfs
# files are there.
need_dslab() {
	if ! dslab_loaded; then
		insmod "$DSLAB_KO" >/dev/null 2>&1
	fi
	if ! ctl_loaded; then
		insmod "$DSLAB_CTL_KO" >/dev/null 2>&1
	fi
	if [ ! -w "$CTL/control" ]; then
		echo "Bail out! no $CTL/control (dslab_ctl loaded? debugfs mounted? root?)"
		exit 1
	fi
}

# ctl <command...>: one write of "<command>\n" to control; the exit status
# is that of the write.  The shell's error message lands in $T_TMP/ctl.err.
ctl() {
	echo "$*" 2>"$T_TMP/ctl.err" >"$CTL/control"
}

# ctlraw <file>: write a file's bytes to control in one write(2).
ctlraw() {
	t_sz=$(wc -c <"$1")
	dd if="$1" of="$CTL/control" bs="$t_sz" count=1 2>"$T_TMP/ctl.err" \
		>/dev/null
}

last() {
	cat "$CTL/last"
}

# The handle (or first of a range) from "ok handles 3-7" / "ok cleanups 4".
last_id() {
	sed -n 's/^ok [a-z]* \([0-9][0-9]*\).*/\1/p' "$CTL/last"
}

last_is_handles() {
	last | grep -E -q '^ok handles [0-9]+(-[0-9]+)?$'
}

# Last id of a range "ok handles 3-7" (or the single id).
last_id2() {
	sed -n -e 's/^ok [a-z]* [0-9]*-\([0-9][0-9]*\)$/\1/p' \
	       -e 's/^ok [a-z]* \([0-9][0-9]*\)$/\1/p' "$CTL/last"
}

# sval <name>: a value from dslab's stats or dslab_ctl's (ctl_*).
sval() {
	awk -v n="$1" '$1 == n { print $2 }' "$D/stats" "$CTL/stats"
}

# finq <name>: a value from finq.
finq() {
	awk -v n="$1" '$1 == n { print $2 }' "$D/finq"
}

# class_col <size> <column>: a column of the classes row for object size.
class_col() {
	awk -v s="$1" -v c="$2" 'NR > 1 && $2 == s { print $c }' "$D/classes"
}

# class_size <bytes>: object size of the class a request of <bytes> gets.
class_size() {
	awk -v s="$1" 'NR > 1 && $2 >= s { print $2; exit }' "$D/classes"
}

# handle_row <h>: the handles line of handle h (empty if gone).
handle_row() {
	awk -v h="$1" 'NR > 1 && $1 == h' "$CTL/handles"
}

# A fingerprint of everything a refused command must leave alone: the
# handles and the counters of objects, destructors and cleanups.  One
# process each (under emulation every fork costs a lot).
SNAP_RE='^(allocations|frees|objects_inuse|destructors_registered|destructors_removed|cleanups_added|cleanups_cancelled|objects_queued|ctl_handles)$'

snapshot() {
	awk -v re="$SNAP_RE" 'FILENAME ~ /handles$/ || $1 ~ re' \
		"$CTL/handles" "$D/stats" "$CTL/stats"
}

# snapshot_same <file>: the fingerprint now equals the one in <file>;
# prints the first difference as TAP diagnostics.
snapshot_same() {
	awk -v re="$SNAP_RE" -v old="$1" '
		BEGIN { while ((getline l <old) > 0) b[++nb] = l }
		FILENAME ~ /handles$/ || $1 ~ re { a[++na] = $0 }
		END {
			for (i = 1; i <= na || i <= nb; i++)
				if (a[i] != b[i]) {
					print "# before: " b[i]
					print "# after:  " a[i]
					exit 1
				}
		}' "$CTL/handles" "$D/stats" "$CTL/stats"
}

# expect_ok <desc> <command...>: the write succeeds and last says "ok".
expect_ok() {
	e_desc=$1
	shift
	if ctl "$@" && read -r e_word e_rest <"$CTL/last" && [ "$e_word" = ok ]
	then
		t_ok "$e_desc"
	else
		t_fail "$e_desc"
		t_diag "'$*': $(cat "$T_TMP/ctl.err") last: $(last)"
	fi
}

# expect_err <errno> <desc> <command...>: the write fails, last reports
# "error -<errno>", and nothing observable changed.
expect_err() {
	e_code=$1
	e_desc=$2
	shift 2
	expect_err_by "$e_code" "$e_desc" ctl "$@"
}

# expect_err_by <errno> <desc> <writer...>: as expect_err, the write done
# by a command of its own (ctlraw <file>, dd, ...).
expect_err_by() {
	e_code=$1
	e_desc=$2
	shift 2
	# A harmless command first, so `last` cannot show a stale error.
	ctl barrier
	snapshot >"$T_TMP/before"
	if "$@"; then
		t_fail "$e_desc: write succeeded"
		t_diag "'$*' -> $(last)"
		return
	fi
	read -r e_word e_got e_rest <"$CTL/last"
	[ "$e_word" = error ] || e_got=none
	if [ "$e_got" != "-$e_code" ]; then
		t_fail "$e_desc: error $e_got, expected -$e_code"
		t_diag "'$*' -> $(last)"
	elif ! snapshot_same "$T_TMP/before"; then
		t_fail "$e_desc: state changed"
	else
		t_ok "$e_desc (-$e_code)"
	fi
}

# wait_for <secs> <command...>: poll until the command succeeds.
wait_for() {
	w_left=$(($1 * 10))
	shift
	while ! "$@"; do
		w_left=$((w_left - 1))
		[ $w_left -le 0 ] && return 1
		sleep 0.1
	done
	return 0
}

# Kernel log lines since mark_kmsg <tag> was called with the same tag.
mark_kmsg() {
	echo "dslab-test: mark $1" >/dev/kmsg
}

kmsg_since() {
	dmesg | awk -v m="dslab-test: mark $1" 'f { print } index($0, m) { f = 1 }'
}

# No kernel report (WARNING, BUG, Oops, lockdep, KASAN, ...) since mark.
kmsg_clean() {
	! kmsg_since "$1" | grep -E -q \
		'WARNING:|BUG:|Oops|Call Trace:|possible circular|INFO: task|UBSAN|KCSAN|general protection'
}
