#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# newest-kernel.sh - fetch the newest kernel Debian packages, privately.
#
# Usage: newest-kernel.sh [flavour]      (flavour: amd64, the default, or
#                                        rt-amd64, Debian's PREEMPT_RT)
#
# Debian 12's archive also serves $DSLAB_NEWEST_SUITE (trixie-backports),
# which carries the newest kernel Debian packages.  This script reaches it
# through apt's own options and a sources list, lists and package cache
# under $DSLAB_CACHE/apt/: the machine's apt configuration is not read or
# changed, and nothing is installed.  It then
#  1. picks the newest linux-source-X.Y of the suite (the archive moves on,
#     make check follows it);
#  2. downloads that source package and Debian's stock kernel of the
#     suite's linux-headers-<flavour> metapackage: the kernel image and its
#     headers, headers-common and kbuild packages;
#  3. unpacks them with dpkg-deb -x into $DSLAB_CACHE/newest/root/, and
#     points the headers' Makefile at that root instead of /usr/src.
#
# Prints shell assignments on stdout (progress goes to stderr):
#   NEWEST_VER=7.3            the source to build debug kernels from
#   NEWEST_PKGVER=7.3.4-1~bpo13+1
#   NEWEST_KREL=7.3.4+deb13-amd64     the stock kernel's release
#   NEWEST_HDR=<root>/usr/src/linux-headers-7.3.4+deb13-amd64
#   NEWEST_IMAGE=<root>/usr/lib/modules/7.3.4+deb13-amd64/vmlinuz
# The same assignments are kept in $DSLAB_CACHE/newest/<flavour>.env.
# When the archive cannot be reached, the last ones found are used again
# (with a note on stderr); with none, the script fails.
#
# Environment: DSLAB_CACHE (~/.cache/dslab), DSLAB_NEWEST_SUITE
# (trixie-backports), DSLAB_NEWEST_MIRROR (http://deb.debian.org/debian).

set -euo pipefail

die() { echo "newest-kernel: error: $*" >&2; exit 1; }
log() { echo "newest-kernel: $*" >&2; }

flavour=${1:-amd64}
cache=${DSLAB_CACHE:-$HOME/.cache/dslab}
suite=${DSLAB_NEWEST_SUITE:-trixie-backports}
apt_dir=$cache/apt
root=$cache/newest/root
envfile=$cache/newest/$flavour.env

mirror=${DSLAB_NEWEST_MIRROR:-http://deb.debian.org/debian}

mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" \
	 "$apt_dir/debs" "$root"
exec 9>"$cache/newest/.lock"
flock 9

echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror%/} $suite main" \
	>"$apt_dir/sources.list"
apt_opts=(-q -o "Dir::Etc::sourcelist=$apt_dir/sources.list"
	  -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$apt_dir/lists"
	  -o "Dir::Cache=$apt_dir/cache" -o APT::Sandbox::User=root)

# adapt_headers <dir>: Debian's headers were made for a trixie host, at
# /usr/src, with gcc-14 and pahole 1.30.  Make them usable from here:
#  - the Makefile names /usr/src: name the private root instead;
#  - without the configured compiler, build with the host's gcc, and drop
#    the make-level (include/config/auto.conf, not autoconf.h: no C type
#    changes) settings that gcc 12 and a missing pahole cannot honour:
#    -fmin-function-alignment (gcc 14; -falign-functions is used instead)
#    and module BTF (not needed to load a module).
# The host tools that need glibc 2.38 (modpost, objtool) are replaced
# from a build of the same source: lib.sh's newest_host_tools.
adapt_headers() {
	local hdr=$1 cc
	sed -i "s#/usr/src/#$root/usr/src/#g" "$hdr/Makefile"
	cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "$hdr/.config")
	command -v "$cc" >/dev/null && return 0
	log "no $cc here: adapting $hdr to $(gcc --version | head -n 1)"
	sed -i 's/^CC = .*/CC = gcc/' "$hdr/.kernelvariables"
	gcc -fmin-function-alignment=16 -x c -c -o /dev/null /dev/null 2>/dev/null ||
		sed -i 's/^CONFIG_CC_HAS_MIN_FUNCTION_ALIGNMENT=y$/# & (dslab: not in this gcc)/' \
			"$hdr/include/config/auto.conf"
	sed -i -e 's/^CONFIG_DEBUG_INFO_BTF_MODULES=y$/# & (dslab: no pahole)/' \
	       -e 's/^CONFIG_PAHOLE_VERSION=.*/CONFIG_PAHOLE_VERSION=0/' \
		"$hdr/include/config/auto.conf"
}

reuse() {
	[ -f "$envfile" ] || die "$1, and no earlier download to fall back on"
	log "$1; using the last kernel found: $(grep NEWEST_KREL "$envfile")"
	cat "$envfile"
	exit 0
}

if ! apt-get "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1; then
	reuse "apt-get update of $suite failed (see $apt_dir/update.log)"
fi

# 1. The newest source: linux-source-X.Y, highest X.Y.
ver=$(apt-cache "${apt_opts[@]}" pkgnames linux-source- 2>/dev/null |
	sed -n 's/^linux-source-\([0-9][0-9.]*\)$/\1/p' | sort -V | tail -n 1)
[ -n "$ver" ] || reuse "no linux-source-X.Y in $suite"
pkgver=$(apt-cache "${apt_opts[@]}" show "linux-source-$ver" 2>/dev/null |
	sed -n 's/^Version: //p' | sort -V | tail -n 1)

# 2. The stock kernel: what linux-headers-<flavour> depends on.
krel=$(apt-cache "${apt_opts[@]}" show "linux-headers-$flavour" 2>/dev/null |
	sed -n 's/^Depends: .*linux-headers-\([^ ,]*-'"$flavour"'\) .*/\1/p' |
	sort -V | tail -n 1)
[ -n "$krel" ] || reuse "no linux-headers-$flavour in $suite"
abi=${krel%-"$flavour"}
# Since 7.1 the image is in linux-binary-*; linux-image-* is a metapackage.
image_pkg=linux-binary-$krel
apt-cache "${apt_opts[@]}" show "$image_pkg" >/dev/null 2>&1 ||
	image_pkg=linux-image-$krel
pkgs=("$image_pkg" "linux-headers-$krel" "linux-headers-$abi-common"
      "linux-kbuild-$abi")
# The source is the same for every flavour: the default one fetches it.
if [ "$flavour" = amd64 ]; then
	pkgs+=("linux-source-$ver")
fi

log "$suite: newest source linux-source-$ver ($pkgver), stock kernel $krel"
stamp=$root/.dslab-$krel-$pkgver
if [ ! -f "$stamp" ]; then
	(cd "$apt_dir/debs" && rm -f ./*.deb &&
	 apt-get "${apt_opts[@]}" download "${pkgs[@]}") \
		>"$apt_dir/download.log" 2>&1 ||
		reuse "download of ${pkgs[*]} failed (see $apt_dir/download.log)"
	for deb in "$apt_dir"/debs/*.deb; do
		dpkg-deb -x "$deb" "$root"
	done
	rm -f "$apt_dir"/debs/*.deb
	if [ "$flavour" = amd64 ]; then
		echo "$pkgver" >"$root/usr/src/linux-source-$ver.version"
	fi
	adapt_headers "$root/usr/src/linux-headers-$krel"
	touch "$stamp"
fi

image=
for f in "$root/usr/lib/modules/$krel/vmlinuz" "$root/boot/vmlinuz-$krel"; do
	[ -f "$f" ] && image=$f && break
done
[ -n "$image" ] || die "no vmlinuz for $krel under $root"
[ "$flavour" != amd64 ] || [ -f "$root/usr/src/linux-source-$ver.tar.xz" ] ||
	die "linux-source-$ver.tar.xz missing under $root/usr/src"

cat >"$envfile" <<EOF
NEWEST_VER=$ver
NEWEST_PKGVER=$pkgver
NEWEST_KREL=$krel
NEWEST_HDR=$root/usr/src/linux-headers-$krel
NEWEST_IMAGE=$image
EOF
cat "$envfile"
