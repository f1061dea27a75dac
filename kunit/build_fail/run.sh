#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - the DSLAB_DTOR() compile-time check must reject mismatches.
#
# Usage: kunit/build_fail/run.sh <KDIR>
#   KDIR: a prepared kernel build dir (stock headers are enough: only the
#         object file is compiled, no KUnit, no modpost).
#
# Compiles dslab_build_fail.c once per variant in a scratch copy:
# variant 0 (matching destructors, one of them taking a const pointer)
# must compile cleanly with W=1; variants 1-4 (mismatched destructors)
# must fail, and fail on DSLAB_DTOR()'s static_assert ("does not take the
# C type"), not on some other error; variant 1's error must also name
# both C types.
# Prints one "ok"/"not ok" line per variant; exits 0 when all pass, 1
# when any fails, 2 on usage errors.

set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 <KDIR>" >&2; exit 2; }
kdir=$1
[ -f "$kdir/Makefile" ] || { echo "run.sh: $kdir is not a kernel build dir" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
include=$(cd "$here/../../include" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

failures=0
build() {	# build <variant>: 0 when the object compiled
	rm -f "$scratch"/*.o "$scratch"/.*.cmd
	cp "$here/dslab_build_fail.c" "$here/Kbuild" "$scratch/"
	make -C "$kdir" M="$scratch" W=1 DSLAB_BF_INCLUDE="$include" \
		DSLAB_BF_VARIANT="$1" dslab_build_fail.o >"$scratch/log" 2>&1
}

if build 0 && ! grep -qi 'warning:' "$scratch/log"; then
	echo "ok 0 - matching destructors compile (W=1, no warnings)"
else
	echo "not ok 0 - matching destructors do not compile cleanly"
	sed 's/^/# /' "$scratch/log" | grep -iE 'error|warning' | head -n 10
	failures=$((failures + 1))
fi

for v in 1 2 3 4; do
	if build "$v"; then
		echo "not ok $v - mismatched destructor (variant $v) compiled"
		failures=$((failures + 1))
	elif ! grep -q 'does not take the C type' "$scratch/log"; then
		echo "not ok $v - variant $v failed to build, but not on DSLAB_DTOR's check"
		grep -E 'error' "$scratch/log" | head -n 5 | sed 's/^/# /'
		failures=$((failures + 1))
	elif [ "$v" = 1 ] && ! grep 'incompatible pointer type' "$scratch/log" |
			grep 'struct dslab_bf_foo \*)' | grep -q 'struct dslab_bf_bar \*)'; then
		echo "not ok $v - the error does not name both C types (struct dslab_bf_foo, struct dslab_bf_bar)"
		grep -E 'error' "$scratch/log" | head -n 5 | sed 's/^/# /'
		failures=$((failures + 1))
	else
		echo "ok $v - mismatched destructor (variant $v) rejected at compile time"
	fi
done

echo "# build_fail: $((5 - failures)) of 5 passed"
[ "$failures" -eq 0 ]
