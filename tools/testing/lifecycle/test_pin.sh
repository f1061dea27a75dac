#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# test_pin.sh - a client module cannot be unloaded while dslab holds its
# destructors, registered or queued; it can once they have run.
#
# Usage: test_pin.sh [dslab_client.ko]   (busybox ash is enough)
#   Default module: dslab_client.ko next to this script.  dslab must be
#   loaded, or DSLAB_KO must name dslab.ko.  Prints TAP; exits 1 when a
#   check failed.
#
# The client (dslab_client.c) registers a destructor on each of 16
# objects and a cleanup on every other one, and holds them.  Each
# destructor sleeps 300 ms, so after the objects are freed the
# destructors stay queued or running for about five seconds.

DIR=$(cd "$(dirname "$0")" && pwd)
CLIENT_KO=${1:-$DIR/dslab_client.ko}
P=/sys/module/dslab_client/parameters
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
OWNERS=/sys/kernel/debug/dslab/owners
pins() {
	[ -r $OWNERS ] || { echo -1; return; }
	awk -v m="$1" '$1 == m { p = $2 } END { print p + 0 }' $OWNERS
}

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

# === Registered destructors pin the client ===

check "insmod dslab_client" insmod "$CLIENT_KO" nobjs=16 dtor_sleep_ms=300
r=$(refcnt dslab_client)
p=$(pins dslab_client)
# 16 destructors and 8 cleanups: 24 pins, on one module reference.
check "client pinned by its registrations (refcnt $r, want 1)" [ "$r" -eq 1 ]
check "dslab counts 24 pins on the client ($p)" [ "$p" -eq 24 ]
check "rmmod dslab_client refused while destructors are registered" \
	sh -c '! rmmod dslab_client 2>/dev/null'
check "dslab_client still loaded" loaded dslab_client
check "rmmod dslab refused while its client is loaded" \
	sh -c '! rmmod dslab 2>/dev/null'

# === Queued destructors pin it too ===

check "release the objects" sh -c "echo 1 > $P/release"
check "rmmod dslab_client refused while destructors are queued" \
	sh -c '! rmmod dslab_client 2>/dev/null'
runs=$(cat $P/dtor_runs)
check "destructors still pending after the refused rmmod ($runs of 16 ran)" \
	[ "$runs" -lt 16 ]
r=$(refcnt dslab_client)
check "refcnt still held by the queued destructors (refcnt $r)" [ "$r" -eq 1 ]
p=$(pins dslab_client)
check "pins still held by them ($p)" [ "$p" -gt 0 ]

# === After the barrier the pins are gone ===

check "dslab_dtor_barrier through the client" sh -c "echo 1 > $P/barrier"
runs=$(cat $P/dtor_runs)
cruns=$(cat $P/cleanup_runs)
check "all 16 destructors ran ($runs)" [ "$runs" -eq 16 ]
check "all 8 cleanups ran ($cruns)" [ "$cruns" -eq 8 ]
r=$(refcnt dslab_client)
check "refcnt back to 0 ($r)" [ "$r" -eq 0 ]
p=$(pins dslab_client)
check "no pins left ($p)" [ "$p" -eq 0 ]
check "rmmod dslab_client succeeds" rmmod dslab_client
check "dslab_client gone" sh -c '! [ -d /sys/module/dslab_client ]'
check "exit reports every destructor and cleanup ran, no bad object" \
	sh -c 'dmesg | grep -q "dslab_client: unloaded: 16 of 16 destructors and 8 of 8 cleanups ran, 0 bad objects"'

echo "1..$N"
[ $FAILED -eq 0 ]
