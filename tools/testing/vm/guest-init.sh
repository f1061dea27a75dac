#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-init.sh - /init of the dslab test initramfs (busybox only).
#
# Mounts the pseudo file systems, runs /dslab/guest.sh with the mode given
# on the kernel command line (dslab_mode=<mode>), prints an end marker the
# host waits for, and resets the VM.  qemu runs with -no-reboot, so
# "reboot -f" ends qemu; "poweroff -f" would only halt a kernel without
# ACPI (our tinyconfig kernels) and leave qemu running until the timeout.

/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /tmp
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null

mode=check
for arg in $(cat /proc/cmdline); do
	case $arg in
	dslab_mode=*) mode=${arg#dslab_mode=} ;;
	esac
done

echo "DSLAB-GUEST: start mode=$mode kernel=$(uname -r) cpus=$(nproc)"
sh /dslab/guest.sh "$mode"
echo "DSLAB-GUEST: end rc=$?"
sync
reboot -f
sleep 5
poweroff -f
