#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh - build a busybox initramfs for the dslab test VM.
#
# Usage: mkinitramfs.sh <out.cpio> <guest-script> [src[:dest]]...
#
# The archive holds a static busybox (busybox-static package), /init
# (guest-init.sh next to this script) and the guest script as
# /dslab/guest.sh, which /init runs.  Each further argument copies a file,
# or a directory recursively, to dest (default /dslab/<basename>);
# missing sources are skipped so callers can pass optional modules.
#
# Environment: DSLAB_BUSYBOX, the static busybox to put in (default
# /bin/busybox; arm64.sh passes an arm64 one).

set -euo pipefail

die() { echo "mkinitramfs: error: $*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: $0 <out.cpio> <guest-script> [src[:dest]]..."
out=$1
guest=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)

busybox=${DSLAB_BUSYBOX:-/bin/busybox}
if [ ! -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
	die "need a static $busybox (apt-get install busybox-static)"
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,dslab}
cp "$busybox" "$root/bin/busybox"
install -m 755 "$here/guest-init.sh" "$root/init"
install -m 755 "$guest" "$root/dslab/guest.sh"

for spec in "$@"; do
	src=${spec%%:*}
	dest=/dslab/$(basename "$src")
	[ "$spec" != "$src" ] && dest=${spec#*:}
	[ -e "$src" ] || continue
	mkdir -p "$root$(dirname "$dest")"
	cp -a "$src" "$root$dest"
done

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out"
