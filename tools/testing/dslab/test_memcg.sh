#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# test_memcg.sh - __GFP_ACCOUNT charges dslab objects to the allocating
# task's memory cgroup.  In a cgroup with a 4 MiB memory.max, dslab_ctl's
# "alloc_account" (GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL, so no OOM
# kill) fails at the limit while "alloc" does not; memory.stat's "kernel"
# and debugfs "pools" show the charge, which goes when the objects are
# freed and dslab is shrunk; in the root cgroup nothing is charged.  Mounts cgroup2 on /sys/fs/cgroup if
# it is not there.  Prints TAP.

. "$(dirname "$0")/lib.sh"
need_dslab

CG=/sys/fs/cgroup
TCG=$CG/dslab_test
ENOMEM=12
LIMIT=$((4 << 20))
CHUNK=32			# objects of 4096 bytes per command: 128 KiB

# kstat: memory.stat's "kernel" of the test cgroup, in bytes.
kstat() {
	awk '$1 == "kernel" { print $2 }' "$TCG/memory.stat"
}

# pool_pages: pages debugfs "pools" shows for the test cgroup, 0 if none.
pool_pages() {
	awk -v id="$CGID" '$1 == "cgroup" && $2 == id { p = $4 }
		END { print p + 0 }' "$D/pools"
}

# in_cg <n> <command>: up to <n> writes of <command> to dslab_ctl's
# control by a shell in the test cgroup; prints how many succeeded.
in_cg() {
	sh -c 'echo $$ >"$1/cgroup.procs" || exit 1
		i=0
		while [ $i -lt "$2" ] && echo "$3" 2>/dev/null >"$4/control"
		do
			i=$((i + 1))
		done
		echo $i' sh "$TCG" "$1" "$2" "$CTL"
}

grep -q cgroup2 /proc/mounts || mount -t cgroup2 none $CG 2>/dev/null
if ! grep -qw memory "$CG/cgroup.controllers" 2>/dev/null; then
	t_skip "memory cgroups" "the kernel has no cgroup2 memory controller"
	t_done
fi
echo +memory >"$CG/cgroup.subtree_control"
rmdir "$TCG" 2>/dev/null
t_check "make a cgroup with memory.max 4 MiB" sh -c \
	"mkdir '$TCG' && echo $LIMIT >'$TCG/memory.max'"
CGID=$(stat -c %i "$TCG")
ctl reset

# The root cgroup is not charged, as for kmalloc().
expect_ok "alloc_account 4096 in the root cgroup" alloc_account 4096
t_eq "... makes no pool" "" "$(cat "$D/pools")"
ctl free all

k0=$(kstat)
n=$(in_cg 64 "alloc_account 4096 $CHUNK")
t_diag "accounted: $n commands of $CHUNK x 4096 bytes before failing"
t_diag "pools: $(cat "$D/pools")"
t_check "accounted allocations fail at the limit ($n <= 32 commands)" \
	[ "$n" -le $((LIMIT / (CHUNK * 4096))) ]
t_check "... after at least 2 MiB was charged" \
	[ "$n" -ge $((LIMIT / (CHUNK * 4096) / 2)) ]
t_eq "... with -ENOMEM" \
	"error -$ENOMEM out of memory" "$(last)"
k1=$(kstat)
t_diag "memory.stat kernel: $k0 -> $k1 bytes"
t_check "memory.stat's kernel shows the charge" \
	[ "$k1" -ge $((k0 + n * CHUNK * 4096)) ]
p=$(pool_pages)
t_check "debugfs pools shows the cgroup's pages ($p)" \
	[ "$((p * 4096))" -ge $((n * CHUNK * 4096)) ]

m=$(in_cg 40 "alloc 4096 $CHUNK")
t_eq "unaccounted allocations in the cgroup go past the limit" 40 "$m"
t_check "... and are not charged" [ "$(kstat)" -lt $((k1 + LIMIT / 4)) ]

expect_ok "free every object" free all
t_check "the pool keeps at most an empty span a class" \
	[ "$(pool_pages)" -le 8 ]
echo 1 >"$D/shrink"
t_eq "shrink: the cgroup's pool is gone with its spans" 0 "$(pool_pages)"
# The processes run in the cgroup (in_cg) are gone, but their stacks and
# task structs are freed after RCU grace periods, which a loaded host
# stretches: give the rest of the charge up to 20 s to go.
k2=$(kstat)
i=0
while [ "$k2" -gt $((k0 + 65536)) ] && [ $i -lt 20 ]; do
	sleep 1
	i=$((i + 1))
	k2=$(kstat)
done
t_diag "memory.stat kernel after the frees: $k2 bytes (${i} s)"
t_check "... and so is the charge" [ "$k2" -le $((k0 + 65536)) ]

rmdir "$TCG"
t_done
