#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# test_pin.sh - a client module that keeps objects with destructors and
# cleanups until its exit can always be unloaded, and no destructor of it
# runs after its code is gone: its unload runs what it queued first.
#
# Usage: test_pin.sh [dslab_client.ko]   (busybox ash is enough)
#   Default module: dslab_client.ko next to this script.  dslab must be
#   loaded, or DSLAB_KO must name dslab.ko.  Prints TAP; exits 1 when a
#   check failed.
#
# The client (dslab_client.c) registers a destructor on each of its
# objects and a cleanup on every other one, and holds them until exit,
# which frees them.  dslab counts the registrations as pins on the client
# (debugfs "owners") but takes no module reference.

DIR=$(cd "$(dirname "$0")" && pwd)
CLIENT_KO=${1:-$DIR/dslab_client.ko}
P=/sys/module/dslab_client/parameters
D=/sys/kernel/debug/dslab
N=0
FAILED=0

ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }
check() {	# check <desc> <command...>
	c_desc=$1
	shift
	if "$@"; then ok "$c_desc"; else not_ok "$c_desc"; fi
}
loaded() { [ -d "/sys/module/$1" ]; }
refcnt() { cat "/sys/module/$1/refcnt" 2>/dev/null || echo -1; }
# dslab's pins on a module (debugfs "owners"): 0 when not listed.
pins() {
	[ -r $D/owners ] || { echo -1; return; }
	awk -v m="$1" '$1 == m { p = $2 } END { print p + 0 }' $D/owners
}
counter() { awk -v n="$1" '$1 == n { print $2 }' $D/stats; }

if ! loaded dslab; then
	if [ -z "$DSLAB_KO" ] || ! insmod "$DSLAB_KO"; then
		echo "1..1"
		not_ok "dslab loaded (set DSLAB_KO)"
		exit 1
	fi
fi
if [ ! -f "$CLIENT_KO" ]; then
	echo "1..1"
	echo "ok 1 - client module # SKIP $CLIENT_KO not built"
	exit 0
fi
rmmod dslab_client 2>/dev/null

# === 1000 objects held until exit; exit frees them, dslab runs them ===

check "insmod dslab_client nobjs=1000" insmod "$CLIENT_KO" nobjs=1000 dtor_sleep_ms=0
r=$(refcnt dslab_client)
p=$(pins dslab_client)
check "dslab holds no reference on the client (refcnt $r)" [ "$r" -eq 0 ]
check "dslab counts 1500 pins on the client ($p)" [ "$p" -eq 1500 ]
check "rmmod dslab refused while its client is loaded" \
	sh -c '! rmmod dslab 2>/dev/null'
d0=$(counter destructors_run)
c0=$(counter cleanups_run)
check "rmmod dslab_client with 1500 registrations succeeds" rmmod dslab_client
d1=$(counter destructors_run)
c1=$(counter cleanups_run)
check "dslab_client gone" sh -c '! [ -d /sys/module/dslab_client ]'
check "all 1000 destructors ran by the time rmmod returned ($((d1 - d0)))" \
	[ $((d1 - d0)) -eq 1000 ]
check "all 500 cleanups ran by then ($((c1 - c0)))" [ $((c1 - c0)) -eq 500 ]
p=$(pins dslab_client)
check "no pins left ($p)" [ "$p" -eq 0 ]
check "exit left the destructors to the unload" \
	sh -c 'dmesg | grep -q "dslab_client: exit: objects freed, destructors left to the unload"'

# === Destructors still sleeping when rmmod starts ===

check "insmod dslab_client nobjs=16 dtor_sleep_ms=300" \
	insmod "$CLIENT_KO" nobjs=16 dtor_sleep_ms=300
# Counted from before the release: the runners start at once, and a slow
# guest may finish a few between any two reads after it.
d0=$(counter destructors_run)
check "release the objects" sh -c "echo 1 > $P/release"
runs=$(cat $P/dtor_runs)
check "destructors still pending ($runs of 16 ran)" [ "$runs" -lt 16 ]
check "rmmod dslab_client while they sleep succeeds" rmmod dslab_client
d1=$(counter destructors_run)
check "rmmod waited for all 16 ($((d1 - d0)) ran by its return, $runs before it)" \
	[ $((d1 - d0)) -eq 16 ]
p=$(pins dslab_client)
check "no pins left ($p)" [ "$p" -eq 0 ]

# === An exit that waits for its destructors itself, and reloading ===

check "insmod dslab_client exit_barrier=1" \
	insmod "$CLIENT_KO" nobjs=16 dtor_sleep_ms=10 exit_barrier=1
check "rmmod dslab_client succeeds" rmmod dslab_client
check "exit saw every destructor and cleanup run, no bad object" \
	sh -c 'dmesg | grep -q "dslab_client: unloaded: 16 of 16 destructors and 8 of 8 cleanups ran, 0 bad objects"'
check "reload and unload again" sh -c "insmod $CLIENT_KO nobjs=64 dtor_sleep_ms=0 && rmmod dslab_client"
p=$(pins dslab_client)
check "no pins left ($p)" [ "$p" -eq 0 ]

echo "1..$N"
[ $FAILED -eq 0 ]
