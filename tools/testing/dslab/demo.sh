#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# demo.sh - a guided tour of dslab through debugfs (what `make run` shows).
#
# Allocates objects of several sizes and types through the control file,
# gives them destructors of several kinds, frees them, waits at a
# barrier, and shows the size classes, the FinBlock queue and the
# counters before and after.  Needs dslab and the test module dslab_ctl
# (its control file) loaded and debugfs mounted; loads dslab_ctl from
# $DSLAB_CTL_KO when it is not.

D=${DSLAB_DEBUGFS:-/sys/kernel/debug/dslab}
CTL=/sys/kernel/debug/dslab_ctl
if [ ! -d /sys/module/dslab_ctl ] && [ -n "$DSLAB_CTL_KO" ]; then
	insmod "$DSLAB_CTL_KO"
fi

say() {
	echo
	echo "### $*"
}

# run <command...>: write it to control, show what came back.  (A refused
# destructor also makes dslab print one line to the kernel log, which may
# show up on the console between these lines.)
run() {
	echo "  \$ echo '$*' > control"
	if echo "$*" >"$CTL/control" 2>/dev/null; then
		echo "      $(cat "$CTL/last")"
	else
		echo "      $(cat "$CTL/last")   (the write failed)"
	fi
}

id() {	# the first handle or cleanup id of the last result
	sed -n 's/^ok [a-z]* \([0-9][0-9]*\).*/\1/p' "$CTL/last"
}

# Rows of classes that have spans, plus the header.
classes_in_use() {
	awk 'NR == 1 || $5 > 0 { print "  " $0; n++ }
	     END { if (n == 1) print "  (no spans held)" }' "$D/classes"
}

show_stats() {
	grep -E '^(allocations|frees|objects_inuse|pages_held|spans_allocated|destructors_registered|destructors_run|registrations_refused|cleanups_added|cleanups_cancelled|cleanups_run|objects_queued|rcu_frees|runner_wakeups|ctl_[a-z_]*runs) ' \
		"$D/stats" "$CTL/stats" | awk '{ printf "  %-26s %s\n", $1, $2 }'
}

if [ ! -w "$CTL/control" ]; then
	echo "demo: no $CTL/control; load dslab.ko and dslab_ctl.ko, mount debugfs" >&2
	exit 1
fi

echo "dslab demo on $(uname -r), $(nproc) CPUs"
run free all
run barrier
run reset

say "The size classes (first 12 of $(($(wc -l <"$D/classes") - 1))):" \
    "object size, pages and objects per span, worst-case waste"
awk 'NR <= 13 { printf "  %5s %7s %5s %7s %9s\n", $1, $2, $3, $4, $8 }' \
	"$D/classes"

say "Before: the FinBlock queue and the counters"
sed 's/^/  /' "$D/finq"
show_stats

say "Allocate objects of several sizes; each gets a handle, never an address"
run alloc 8 100
run alloc 24 20
run alloc 100 10
run alloc 1000 4
run alloc 40000
big=$(id)

say "Typed objects: point and rect implement the interface shape, blob not"
run new point 3
pt=$(id)
run new rect 2
rc=$(id)
run new blob
bl=$(id)

say "Classes with spans now (spans, in use, free slots, bytes wasted)"
classes_in_use

say "Destructors, checked like Go's SetFinalizer"
run alloc 64 6
d=$(id)
run dtor "$d" count
run dtor $((d + 1)) sleep 1500
run dtor $((d + 2)) realloc
run dtor $((d + 3)) free $((d + 4))
run dtor "$pt" point
run dtor $((pt + 1)) shape
run dtor "$rc" shape
echo "  refused: a point destructor cannot take a rect, a shape one not a blob,"
echo "  and an object has at most one destructor:"
run dtor $((rc + 1)) point
run dtor "$bl" shape
run dtor "$d" realloc

say "Cleanups (Go's AddCleanup): several per object, cancellable by id"
run cleanup $((d + 5)) 3
c=$(id)
run cancel $((c + 1))

say "Objects held through control (plain untyped ones left out)"
awk 'NR == 1 || $3 != "-" || $4 != "-" || $5 != 0 { print "  " $0; next }
     { n++ }
     END { print "  ... and " n " plain objects" }' "$CTL/handles"

say "Free one object whose destructor frees another handle"
run free $((d + 3))
run barrier
echo "  handle $((d + 4)) is gone now:"
awk -v a=$((d + 3)) -v b=$((d + 4)) 'NR == 1 || ($1 >= a && $1 <= b)' \
	"$CTL/handles" | sed 's/^/  /'

say "Free everything; destructors are queued for the runner threads," \
    "one of them still sleeping 1.5 s in a destructor"
run free all
sed 's/^/  /' "$D/finq"
echo "  objects_inuse $(awk '$1 == "objects_inuse" { print $2 }' \
	"$D/stats")  (memory of queued objects is held until they have run)"

say "Wait until every queued destructor and cleanup has run"
run barrier
sed 's/^/  /' "$D/finq"

say "Give empty spans back to the page allocator"
run shrink

say "After: the counters"
show_stats
classes_in_use

echo
echo "Try it yourself: echo 'alloc 64 3' > $CTL/control; cat $CTL/last"
echo "Documentation/debugfs.rst describes every file and command."
