#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# test_lifecycle.sh - unloading a client (the test module dslab_ctl) with
# objects still held through its control file (with destructors
# registered, running and queued), unloading it while shells write to
# control, then dslab itself, and reloading both afterwards.
#
# Leaves dslab and dslab_ctl loaded.  Prints TAP.

. "$(dirname "$0")/lib.sh"
need_dslab

mark_kmsg lifecycle

# === Unload with objects, destructors and cleanups held ===

ctl free all
ctl barrier
ctl alloc 64 10
a=$(last_id)
ctl new point 3
p=$(last_id)
expect_ok "dtor count" dtor "$a" count
expect_ok "dtor sleep 300" dtor $((a + 1)) sleep 300
expect_ok "dtor realloc" dtor $((a + 2)) realloc
expect_ok "dtor free <h2>" dtor $((a + 3)) free $((a + 4))
expect_ok "dtor point" dtor "$p" point
expect_ok "dtor shape" dtor $((p + 1)) shape
expect_ok "cleanups" cleanup $((a + 5)) 2
# One destructor queued and sleeping in the runner while we unload.
ctl alloc 8
s=$(last_id)
expect_ok "dtor sleep 500 on a freed object" dtor "$s" sleep 500
expect_ok "free it: destructor queued" free "$s"
t_eq "13 handles held" 13 "$(sval ctl_handles)"

t_check "rmmod dslab refused while its client is loaded" \
	sh -c '! rmmod dslab 2>/dev/null'
t_check "rmmod with 13 objects held" unload_dslab 50
t_check "dslab_ctl and dslab are gone" \
	[ ! -d /sys/module/dslab_ctl ] && [ ! -d /sys/module/dslab ]
t_check "debugfs directories are gone" [ ! -e "$D" ] && [ ! -e "$CTL" ]
t_check "exit reported the held objects" \
	sh -c "dmesg | grep -q 'freed 13 objects still held through control'"
t_check "no kernel report from the unload" kmsg_clean lifecycle

# === Reload ===

t_check "insmod after rmmod" load_dslab
t_check "control is back" [ -w "$CTL/control" ]
t_eq "no objects in use after reload" 0 "$(sval objects_inuse)"
t_eq "no handles after reload" 1 "$(wc -l <"$CTL/handles")"
t_eq "last is fresh" none "$(last)"
expect_ok "alloc after reload" alloc 128 4
expect_ok "free after reload" free all

# === Unload while shells write ===

mark_kmsg lifecycle-race
hammer() {	# write until the file is gone
	n=0
	while [ $n -lt 2000 ] && [ -e "$CTL/control" ]; do
		n=$((n + 1))
		{
			echo "alloc 96 2"
			echo "new rect"
		} 2>/dev/null >"$CTL/control"
		h=$(sed -n 's/^ok handles \([0-9]*\).*/\1/p' "$CTL/last" \
			2>/dev/null)
		[ -n "$h" ] && echo "dtor $h count" 2>/dev/null >"$CTL/control"
		echo "cleanup $h" 2>/dev/null >"$CTL/control"
		[ $((n % 3)) -eq 0 ] && echo "free all" 2>/dev/null >"$CTL/control"
		cat "$CTL/handles" >/dev/null 2>&1
	done
}
# An open racing the unload can fall into the kernel's own window in
# try_stop_module(), between dropping the module's references and
# marking it GOING: try_module_get() fails while the module still looks
# live, and debugfs WARNs "debugfs file owner did not clean up at exit"
# (fs/debugfs/file.c, 6.12 and 7.3 alike).  KCSAN's delays widen that
# window until a run hits it, so under KCSAN the unload runs alone.
if [ -e /sys/kernel/debug/kcsan ]; then
	t_check "rmmod (KCSAN: no racing writers)" unload_dslab 100
	t_skip "writers stopped once the files were gone" \
		"KCSAN widens the kernel's try_stop_module() window"
	t_skip "no kernel report from racing writers" \
		"KCSAN widens the kernel's try_stop_module() window"
else
	hammer &
	p1=$!
	hammer &
	p2=$!
	sleep 2
	t_check "rmmod while two shells write (retried while busy)" \
		unload_dslab 100
	wait $p1
	wait $p2
	t_check "writers stopped once the files were gone" \
		[ ! -e "$CTL/control" ]
	t_check "no kernel report from racing writers" \
		kmsg_clean lifecycle-race
fi
t_check "insmod after the race" load_dslab

# === Unload while a write is blocked in barrier ===

mark_kmsg lifecycle-barrier
ctl alloc 8
h=$(last_id)
ctl dtor "$h" sleep 2000
ctl free "$h"
(ctl barrier; echo $? >"$T_TMP/barrier.rc") &
bp=$!
sleep 0.5
if rmmod dslab_ctl 2>/dev/null; then
	# Allowed only once the write has finished.
	t_check "rmmod waited for the blocked write" [ -f "$T_TMP/barrier.rc" ]
else
	t_ok "rmmod refused while a write is in progress"
fi
wait $bp
t_eq "the blocked barrier write succeeded" 0 "$(cat "$T_TMP/barrier.rc")"
t_check "rmmod after the write" unload_dslab 50
t_check "no kernel report" kmsg_clean lifecycle-barrier
t_check "insmod again" load_dslab
t_check "dslab works after three reloads" ctl alloc 8
ctl free all
t_check "no kernel report in the whole test" kmsg_clean lifecycle

t_done
