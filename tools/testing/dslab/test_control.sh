#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# test_control.sh - every debugfs file and every control command of dslab,
# checked against the counters, the classes table and the handles file.
#
# Needs root, debugfs and dslab.ko loaded (or DSLAB_KO to load it).
# Prints TAP.  Documentation/debugfs.rst describes the interface.

. "$(dirname "$0")/lib.sh"
need_dslab

# The class table as the module announced it at load: "dslab: loaded:
# <n> size classes up to <bytes> bytes" (mm/main.c), independent of the
# classes file under test.
loaded=$(dmesg | sed -n 's/.*dslab: loaded: \([0-9]*\) size classes up to \([0-9]*\) bytes.*/\1 \2/p' |
	tail -n 1)
NR_CLASSES=${DSLAB_NR_CLASSES:-${loaded% *}}
MAX_SMALL=${loaded#* }

ctl free all
ctl barrier
ctl reset

readable() {
	cat "$1" >/dev/null
}

last_matches() {
	last | grep -E -q "$1"
}

# === The files ===

for f in "$D/stats" "$D/classes" "$D/finq" "$D/owners" "$D/pools" \
	 "$CTL/last" "$CTL/handles" "$CTL/stats"; do
	t_eq "$f is 0444" 444 "$(stat -c %a "$f")"
	t_check "$f is readable" readable "$f"
done
for f in "$CTL/control" "$D/shrink" "$D/barrier"; do
	t_eq "$f is 0200" 200 "$(stat -c %a "$f")"
	if cat "$f" >/dev/null 2>&1; then
		t_fail "reading $f fails"
	else
		t_ok "reading $f fails"
	fi
done

# stats: "name value" lines, every value a number, every name known.
t_check "stats: every line is 'name number'" \
	awk 'NF != 2 || $2 !~ /^-?[0-9]+$/ { exit 1 }' "$D/stats"
for s in allocations frees failed_allocations bad_frees double_frees \
	 interior_frees foreign_frees destructors_registered \
	 destructors_removed registrations_refused cleanups_added \
	 cleanups_cancelled objects_queued destructors_run cleanups_run \
	 rcu_frees rcu_frees_limbo span_pages_put_by_others runner_wakeups \
	 finq_handovers registrations_throttled \
	 spans_allocated spans_freed pages_held \
	 objects_inuse finq_blocks_total finq_blocks_free \
	 finq_blocks_pending finq_records_pending ctl_handles \
	 ctl_dtor_count_runs ctl_dtor_sleep_runs ctl_dtor_realloc_runs \
	 ctl_dtor_free_runs ctl_dtor_free_gone ctl_dtor_point_runs \
	 ctl_dtor_shape_runs ctl_cleanup_runs ctl_bad_contents; do
	t_check "stats has $s" [ -n "$(sval $s)" ]
done
t_eq "stats has no duplicate names" "" \
	"$(awk '{ print $1 }' "$D/stats" | sort | uniq -d)"

# classes: a header, then one row per class, numbered from 0, sizes rising.
t_eq "classes header" \
	"class size pages objects spans inuse free maxwaste% wasted" \
	"$(head -n 1 "$D/classes" | tr -s ' ' | sed 's/^ //')"
if [ -n "$NR_CLASSES" ]; then
	t_eq "classes has one row per size class" "$NR_CLASSES" \
		"$(($(wc -l <"$D/classes") - 1))"
else
	t_skip "classes has one row per size class" "load message not in dmesg"
fi
t_check "classes rows: 9 columns, class = row, sizes increasing" \
	awk 'NR > 1 { if (NF != 9 || $1 != NR - 2 || $2 <= prev) exit 1;
		      prev = $2 }' "$D/classes"
if [ -n "$MAX_SMALL" ]; then
	t_eq "largest class is $MAX_SMALL bytes" "$MAX_SMALL" \
		"$(tail -n 1 "$D/classes" | awk '{ print $2 }')"
else
	t_skip "largest class size" "load message not in dmesg"
fi
t_eq "class 8 bytes holds 512 objects in 1 page" "1 512" \
	"$(awk 'NR > 1 && $2 == 8 { print $3, $4 }' "$D/classes")"

# finq
for s in blocks_total blocks_free blocks_pending records_pending \
	 records_reserved largest_batch dtor_ns runner; do
	t_check "finq has $s" [ -n "$(finq $s)" ]
done

# === alloc and free ===

inuse0=$(sval objects_inuse)
c24=$(class_col 24 6)
c100=$(class_col "$(class_size 100)" 6)
expect_ok "alloc 24" alloc 24
h=$(last_id)
t_eq "last: ok handles <h>" "ok handles $h" "$(last)"
t_eq "objects_inuse +1" $((inuse0 + 1)) "$(sval objects_inuse)"
t_eq "allocations counted" 1 "$(sval allocations)"
t_eq "class 24 inuse +1" $((c24 + 1)) "$(class_col 24 6)"
t_eq "handles row" "$h 24 - - 0" "$(handle_row "$h")"
t_eq "ctl_handles 1" 1 "$(sval ctl_handles)"

expect_ok "alloc 100 5" alloc 100 5
a=$(last_id)
b=$(last_id2)
t_eq "five contiguous handles" "ok handles $a-$((a + 4))" "$(last)"
t_eq "objects_inuse +6" $((inuse0 + 6)) "$(sval objects_inuse)"
t_eq "class of 100 bytes: inuse +5" $((c100 + 5)) \
	"$(class_col "$(class_size 100)" 6)"

expect_ok "free <h>" free "$h"
t_eq "last: ok freed 1" "ok freed 1" "$(last)"
t_eq "handle gone" "" "$(handle_row "$h")"
t_eq "objects_inuse back by 1" $((inuse0 + 5)) "$(sval objects_inuse)"
t_eq "frees counted" 1 "$(sval frees)"
expect_err 2 "free of a freed handle" free "$h"

expect_ok "free <h1>-<h2>" free "$a-$b"
t_eq "last: ok freed 5" "ok freed 5" "$(last)"
t_eq "objects_inuse at baseline" "$inuse0" "$(sval objects_inuse)"

expect_ok "alloc 40000 (large object)" alloc 40000
expect_ok "alloc 1048576 (largest allowed)" alloc 1048576
expect_ok "alloc 1 3" alloc 1 3
t_eq "handles lists 5 objects" 5 "$(($(wc -l <"$CTL/handles") - 1))"
expect_ok "free all" free all
t_eq "last: ok freed 5" "ok freed 5" "$(last)"
t_eq "handles empty" 1 "$(wc -l <"$CTL/handles")"
expect_ok "free all with nothing held" free all
t_eq "last: ok freed 0" "ok freed 0" "$(last)"

# === typed objects ===

expect_ok "new point" new point
p=$(last_id)
expect_ok "new rect 2" new rect 2
r=$(last_id)
expect_ok "new blob" new blob
bl=$(last_id)
t_eq "point row" "$p 16 point - 0" "$(handle_row "$p")"
t_eq "rect row" "$r 24 rect - 0" "$(handle_row "$r")"
t_eq "blob row" "$bl 200 blob - 0" "$(handle_row "$bl")"
expect_err 22 "new of an unknown type" new circle

# === destructors ===

ctl free all
ctl barrier
ctl reset

# count
expect_ok "alloc for dtor count" alloc 64
h=$(last_id)
expect_ok "dtor <h> count" dtor "$h" count
t_eq "last: ok dtor <h> count" "ok dtor $h count" "$(last)"
t_eq "handles shows the destructor" "$h 64 - count 0" "$(handle_row "$h")"
t_eq "destructors_registered 1" 1 "$(sval destructors_registered)"
expect_err 17 "second destructor refused" dtor "$h" realloc
expect_ok "free it" free "$h"
expect_ok "barrier" barrier
t_eq "last: ok barrier" "ok barrier" "$(last)"
t_eq "count destructor ran once" 1 "$(sval ctl_dtor_count_runs)"
t_eq "destructors_run 1" 1 "$(sval destructors_run)"
t_eq "objects_queued 1" 1 "$(sval objects_queued)"

# clear
expect_ok "alloc for dtor clear" alloc 64
h=$(last_id)
expect_ok "dtor <h> count" dtor "$h" count
expect_ok "dtor <h> clear" dtor "$h" clear
t_eq "handles shows no destructor" "$h 64 - - 0" "$(handle_row "$h")"
t_eq "destructors_removed 1" 1 "$(sval destructors_removed)"
expect_ok "dtor <h> realloc after clear" dtor "$h" realloc
expect_ok "free it" free "$h"
expect_ok "barrier" barrier
t_eq "cleared count destructor did not run" 1 "$(sval ctl_dtor_count_runs)"
t_eq "realloc destructor ran" 1 "$(sval ctl_dtor_realloc_runs)"
# object + the realloc destructor's own object
t_eq "allocations: 2 + 1 by the destructor" 3 "$(sval allocations)"

# sleep
expect_ok "alloc for dtor sleep" alloc 8
h=$(last_id)
expect_ok "dtor <h> sleep 200" dtor "$h" sleep 200
t_eq "handles shows sleep:200" "$h 8 - sleep:200 0" "$(handle_row "$h")"
expect_ok "free it" free "$h"
expect_ok "barrier waits for the sleeping destructor" barrier
t_eq "sleep destructor ran" 1 "$(sval ctl_dtor_sleep_runs)"

# free <h2>
expect_ok "alloc two" alloc 32 2
h=$(last_id)
h2=$((h + 1))
expect_ok "dtor <h> free <h2>" dtor "$h" free "$h2"
t_eq "handles shows free:<h2>" "$h 32 - free:$h2 0" "$(handle_row "$h")"
inuse=$(sval objects_inuse)
expect_ok "free <h>" free "$h"
expect_ok "barrier" barrier
t_eq "free destructor freed <h2>" 1 "$(sval ctl_dtor_free_runs)"
t_eq "<h2> is gone" "" "$(handle_row "$h2")"
t_eq "both objects released" $((inuse - 2)) "$(sval objects_inuse)"

expect_ok "alloc two more" alloc 32 2
h=$(last_id)
h2=$((h + 1))
expect_ok "dtor <h> free <h2>" dtor "$h" free "$h2"
expect_ok "free <h2> first" free "$h2"
expect_ok "free <h>" free "$h"
expect_ok "barrier" barrier
t_eq "free destructor with <h2> gone does nothing" 1 \
	"$(sval ctl_dtor_free_gone)"

# typed destructors and their validation
expect_ok "new point" new point
p=$(last_id)
expect_ok "new rect" new rect
r=$(last_id)
expect_ok "new blob" new blob
bl=$(last_id)
expect_ok "alloc untyped" alloc 16
u=$(last_id)
refused=$(sval registrations_refused)
expect_err 22 "point destructor on a rect" dtor "$r" point
expect_err 22 "shape destructor on a blob" dtor "$bl" shape
expect_err 22 "point destructor on an untyped object" dtor "$u" point
expect_err 22 "shape destructor on an untyped object" dtor "$u" shape
t_eq "registrations_refused +4" $((refused + 4)) \
	"$(sval registrations_refused)"
expect_ok "point destructor on a point" dtor "$p" point
expect_ok "shape destructor on a rect (interface)" dtor "$r" shape
expect_ok "count destructor on a blob (any)" dtor "$bl" count
expect_ok "free point rect blob" free "$p-$bl"
expect_ok "barrier" barrier
t_eq "point destructor ran" 1 "$(sval ctl_dtor_point_runs)"
t_eq "shape destructor ran" 1 "$(sval ctl_dtor_shape_runs)"
t_eq "contents intact in destructors" 0 "$(sval ctl_bad_contents)"
expect_ok "free untyped" free "$u"

# free_rcu
expect_ok "alloc for free_rcu" alloc 48
h=$(last_id)
expect_ok "dtor <h> count" dtor "$h" count
runs=$(sval ctl_dtor_count_runs)
expect_ok "free_rcu <h>" free_rcu "$h"
t_eq "last: ok freed <h> rcu" "ok freed $h rcu" "$(last)"
t_eq "handle gone" "" "$(handle_row "$h")"
expect_ok "barrier" barrier
t_eq "destructor ran after the grace period" $((runs + 1)) \
	"$(sval ctl_dtor_count_runs)"
expect_ok "alloc plain for free_rcu" alloc 48
h=$(last_id)
inuse=$(sval objects_inuse)
expect_ok "free_rcu of a plain object" free_rcu "$h"
ctl barrier
if wait_for 10 [ "$(sval objects_inuse)" -eq $((inuse - 1)) ]; then
	t_ok "plain free_rcu object released"
else
	t_fail "plain free_rcu object released"
	t_diag "objects_inuse $(sval objects_inuse), expected $((inuse - 1))"
fi
t_check "rcu_frees counted" [ "$(sval rcu_frees)" -ge 1 ]

# === cleanups ===

ctl reset
expect_ok "alloc for cleanups" alloc 64
h=$(last_id)
expect_ok "cleanup <h> 3" cleanup "$h" 3
c=$(last_id)
t_eq "last: ok cleanups c-c+2" "ok cleanups $c-$((c + 2))" "$(last)"
t_eq "handles shows 3 cleanups" "$h 64 - - 3" "$(handle_row "$h")"
t_eq "cleanups_added 3" 3 "$(sval cleanups_added)"
expect_ok "cancel <c+1>" cancel $((c + 1))
t_eq "last: ok cancelled" "ok cancelled $((c + 1))" "$(last)"
t_eq "handles shows 2 cleanups" "$h 64 - - 2" "$(handle_row "$h")"
t_eq "cleanups_cancelled 1" 1 "$(sval cleanups_cancelled)"
expect_err 2 "cancel twice" cancel $((c + 1))
expect_ok "cleanup <h> (count 1)" cleanup "$h"
expect_ok "dtor <h> count too" dtor "$h" count
expect_ok "free <h>" free "$h"
expect_ok "barrier" barrier
t_eq "3 cleanups ran" 3 "$(sval ctl_cleanup_runs)"
t_eq "cleanups_run 3" 3 "$(sval cleanups_run)"
t_eq "and the destructor" 1 "$(sval ctl_dtor_count_runs)"
expect_err 2 "cancel after the cleanup ran" cancel "$c"

# === shrink, reset ===

ctl free all
ctl barrier
expect_ok "shrink" shrink
t_check "last: ok shrink pages N" last_matches '^ok shrink pages [0-9]+$'
if [ "$(sval objects_inuse)" -eq 0 ]; then
	t_eq "nothing in use: shrink leaves no span pages" 0 \
		"$(sval pages_held)"
else
	t_skip "shrink leaves no span pages" "other dslab users hold objects"
fi
expect_ok "alloc 8 after shrink" alloc 8
t_check "pages_held > 0 again" [ "$(sval pages_held)" -gt 0 ]
expect_ok "reset" reset
t_eq "allocations 0 after reset" 0 "$(sval allocations)"
t_eq "ctl counters 0 after reset" 0 "$(sval ctl_dtor_count_runs)"
t_eq "objects_inuse is a gauge, not reset" 1 "$(sval objects_inuse)"
ctl free all

# === dslab's own write-only files: shrink and barrier ===

ctl barrier
ctl alloc 8
pages=$(sval pages_held)
for v in 0 2 bogus; do
	if echo "$v" 2>/dev/null >"$D/shrink"; then
		t_fail "shrink refuses '$v'"
	else
		t_ok "shrink refuses '$v'"
	fi
done
t_eq "a refused shrink frees nothing" "$pages" "$(sval pages_held)"
ctl free all
t_check "echo 1 > shrink" sh -c "echo 1 >'$D/shrink'"
if [ "$(sval objects_inuse)" -eq 0 ]; then
	t_eq "shrink file: no span pages left" 0 "$(sval pages_held)"
else
	t_skip "shrink file: no span pages left" "other dslab users hold objects"
fi
ctl alloc 8
h=$(last_id)
ctl dtor "$h" sleep 300
runs=$(sval ctl_dtor_sleep_runs)
ctl free "$h"
if echo 0 2>/dev/null >"$D/barrier"; then
	t_fail "barrier refuses '0'"
else
	t_ok "barrier refuses '0'"
fi
t_check "echo 1 > barrier" sh -c "echo 1 >'$D/barrier'"
t_eq "the barrier file waited for the sleeping destructor" \
	$((runs + 1)) "$(sval ctl_dtor_sleep_runs)"

# === No kernel addresses anywhere ===

no_addresses() {	# no_addresses <when>
	leaks=$(grep -E -l -i '(0x)?ffff[0-9a-f]{12}' "$D"/stats \
		"$D"/classes "$D"/finq "$CTL"/last "$CTL"/handles 2>/dev/null)
	t_eq "no kernel address in any file ($1)" "" "$leaks"
	if [ -d "$D/fail" ]; then
		leaks=$(for f in "$D"/fail/*; do
			[ -r "$f" ] && [ -f "$f" ] && cat "$f" 2>/dev/null
		done | grep -E -i -c 'ffff[0-9a-f]{12}')
		t_eq "no kernel address in fail/ ($1)" 0 "$leaks"
	fi
}

ctl new point
ctl dtor "$(last_id)" shape
ctl alloc 3000 3
ctl dtor "$(last_id)" free "$(last_id2)"
ctl cleanup "$(last_id)" 2
no_addresses "objects, destructors and cleanups held"
ctl free all
ctl barrier
no_addresses "all freed"

t_done
