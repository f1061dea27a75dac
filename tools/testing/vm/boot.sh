#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# boot.sh - boot a kernel and initramfs in qemu, console to a file.
#
# Usage: boot.sh [-a "cmdline args"] [-t secs] [-v] <bzImage> <initramfs> <console.log>
#   -a  extra kernel command line (e.g. dslab_mode=run)
#   -t  wall-clock cap in seconds (default $DSLAB_VM_TIMEOUT or 900)
#   -v  also show the console on stdout while it runs
#
# The initramfs comes from mkinitramfs.sh: its /init prints
# "DSLAB-GUEST: end" and resets the VM, which ends qemu (-no-reboot).
# Exit status: 0 when the guest reached its end marker, 124 when the VM
# hit the time cap (killed), 1 otherwise (crash, panic, early reset).
#
# Environment: DSLAB_VM_ACCEL (tcg, or kvm opt-in: on the team's machines
# a KVM guest hangs in the firmware), DSLAB_VM_SMP (2), DSLAB_VM_MEM (1G),
# DSLAB_VM_ARCH (x86_64, or arm64: qemu-system-aarch64 -M virt -cpu max
# with an arch/arm64/boot/Image and the PL011 console ttyAMA0).

set -euo pipefail

die() { echo "boot: error: $*" >&2; exit 1; }

append=
limit=${DSLAB_VM_TIMEOUT:-900}
verbose=0
while getopts "a:t:v" opt; do
	case $opt in
	a) append=$OPTARG ;;
	t) limit=$OPTARG ;;
	v) verbose=1 ;;
	*) die "usage: $0 [-a args] [-t secs] [-v] <bzImage> <initramfs> <console.log>" ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 3 ] || die "usage: $0 [-a args] [-t secs] [-v] <bzImage> <initramfs> <console.log>"
kernel=$1
initrd=$2
log=$3
[ -f "$kernel" ] || die "no kernel image $kernel"
[ -f "$initrd" ] || die "no initramfs $initrd"

accel=${DSLAB_VM_ACCEL:-tcg}
vmarch=${DSLAB_VM_ARCH:-x86_64}
case $vmarch in
x86_64) console=ttyS0 ;;
arm64) console=ttyAMA0 ;;
*) die "DSLAB_VM_ARCH=$vmarch: x86_64 or arm64" ;;
esac
cmdline="console=$console panic=-1 printk.time=1 mitigations=off $append"

smp=${DSLAB_VM_SMP:-2}
# One CPU per socket: SeaBIOS's MP table (all the tiny kernels have, no
# ACPI) lists one entry per socket, so 2 cores in one socket boot as 1 CPU.
# A full -smp spec in DSLAB_VM_SMP ("cpus=2,sockets=2") is used as is.
case $smp in
*[,=]*) ;;
*) smp="$smp,sockets=$smp,cores=1,threads=1" ;;
esac
qemu=(qemu-system-x86_64 -accel "$accel" -smp "$smp")
if [ "$vmarch" = arm64 ]; then
	# The virt machine's CPUs come from its device tree and PSCI, not an
	# MP table: a plain -smp count brings them all up.
	qemu=(qemu-system-aarch64 -M virt -cpu max -accel "$accel"
	      -smp "${DSLAB_VM_SMP:-2}")
fi
qemu+=(-m "${DSLAB_VM_MEM:-1G}" -nographic -no-reboot
       -kernel "$kernel" -initrd "$initrd" -append "$cmdline")

start=$(date +%s)
rc=0
if [ $verbose -eq 1 ]; then
	timeout -k 10 "$limit" "${qemu[@]}" </dev/null 2>&1 | tee "$log" ||
		rc=${PIPESTATUS[0]}
else
	timeout -k 10 "$limit" "${qemu[@]}" </dev/null >"$log" 2>&1 || rc=$?
fi
secs=$(( $(date +%s) - start ))
# The serial console ends lines with CR LF.
sed -i 's/\r$//' "$log"

if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	printf '\nVM TIMEOUT: killed after %ss (cap %ss)\n' "$secs" "$limit" >>"$log"
	echo "boot: VM timed out after ${secs}s (cap ${limit}s), console: $log" >&2
	exit 124
fi
if ! grep -q '^DSLAB-GUEST: end' "$log"; then
	echo "boot: guest did not finish (qemu rc=$rc, ${secs}s), console: $log" >&2
	exit 1
fi
echo "boot: guest finished in ${secs}s" >&2
exit 0
