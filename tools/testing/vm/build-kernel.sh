#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-kernel.sh - build (or reuse) a small test kernel for dslab.
#
# Usage: build-kernel.sh <version> <fragment.config>...
#        build-kernel.sh --source <version>
#   version    6.1, 6.12 or the newest (7.3 today): the Debian
#              linux-source-<version> package, installed in /usr/src or
#              fetched by newest-kernel.sh into $DSLAB_CACHE/newest/.
#   fragments  Kconfig fragments merged, in order, on top of tinyconfig.
#   --source   only extract the source tree and print its path (for
#              checkpatch, kernel-doc and kunit.py).
#
# Extracts /usr/src/linux-source-<version>.tar.xz once into
# $DSLAB_CACHE/src/, then builds bzImage, modules and modules_prepare with
# O=$DSLAB_CACHE/build/<version>-<hash>/, where <hash> covers the Debian
# package version, this recipe and the fragments' contents.  A finished
# build directory is reused as is.  Every line of every fragment is
# checked against the final .config: an option Kconfig silently dropped
# (unmet dependency) fails the build.
#
# Prints the build directory on stdout (and nothing else); progress goes
# to stderr and the full log to <builddir>/build.log.  Out-of-tree modules
# build against it with: make -C <builddir> M=<dir> modules
#
# Environment: DSLAB_CACHE (default ~/.cache/dslab), DSLAB_JOBS (default 2),
# DSLAB_ARCH (x86_64, the default, or arm64: cross-built with
# aarch64-linux-gnu-, the image is arch/arm64/boot/Image, and the build
# directory is <version>-arm64-<hash>; out-of-tree modules then need
# ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- too).

set -euo pipefail

# Bump when the recipe below changes in a way that changes the kernel.
RECIPE=1

die() { echo "build-kernel: error: $*" >&2; exit 1; }
log() { echo "build-kernel: $*" >&2; }

source_only=0
if [ "${1:-}" = --source ]; then
	source_only=1
	shift
	set -- "${1:-}" "$0"	# any file: no fragments needed
fi
[ $# -ge 2 ] || die "usage: $0 <version> <fragment.config>... | --source <version>"
ver=$1
shift

cache=${DSLAB_CACHE:-$HOME/.cache/dslab}
jobs=${DSLAB_JOBS:-2}
arch=${DSLAB_ARCH:-x86_64}
case $arch in
x86_64)
	cross=()
	target=bzImage
	image=arch/x86/boot/bzImage
	archtag=
	;;
arm64)
	cross=(CROSS_COMPILE=aarch64-linux-gnu-)
	target=Image
	image=arch/arm64/boot/Image
	archtag=-arm64
	command -v aarch64-linux-gnu-gcc >/dev/null ||
		die "no aarch64-linux-gnu-gcc (apt-get install crossbuild-essential-arm64)"
	;;
*) die "DSLAB_ARCH=$arch: x86_64 or arm64" ;;
esac
# Debian 12's own packages, else the newest kernel's private root.
tarball=/usr/src/linux-source-$ver.tar.xz
verfile=
if [ ! -f "$tarball" ]; then
	tarball=$cache/newest/root/usr/src/linux-source-$ver.tar.xz
	verfile=$cache/newest/root/usr/src/linux-source-$ver.version
fi
[ -f "$tarball" ] || die "linux-source-$ver missing (apt-get install linux-source-$ver, or newest-kernel.sh)"

for f in "$@"; do
	[ -f "$f" ] || die "fragment $f not found"
done

if [ -n "$verfile" ] && [ -f "$verfile" ]; then
	pkgver=$(cat "$verfile")
else
	pkgver=$(dpkg-query -W -f='${Version}' "linux-source-$ver" 2>/dev/null ||
		 stat -c %Y "$tarball")
fi
# x86_64 hashes as it always did (its cached builds stay valid).
hash=$( { echo "recipe=$RECIPE pkg=$pkgver"
	  [ -z "$archtag" ] || echo "arch=$arch"
	  cat "$@"; } |
	sha256sum | cut -c1-12)
src=$cache/src/linux-source-$ver
bld=$cache/build/$ver$archtag-$hash

mkdir -p "$cache/src" "$cache/build"

cache_hit() {
	[ $source_only -eq 0 ] && [ -f "$bld/.dslab-done" ] || return 1
	log "cache hit: $bld"
	echo "$bld"
}
source_ready() {
	[ $source_only -eq 1 ] && [ -f "$src/.dslab-extracted" ] || return 1
	echo "$src"
}
cache_hit || source_ready && exit 0

# One kernel build at a time on this machine (and one extraction).
exec 9>"$cache/build/.lock"
flock 9
cache_hit || source_ready && exit 0

if [ ! -f "$src/.dslab-extracted" ]; then
	log "extracting $tarball into $cache/src/ ..."
	rm -rf "$src"
	tar -C "$cache/src" -xf "$tarball"
	[ -f "$src/Makefile" ] || die "$tarball did not unpack to $src"
	touch "$src/.dslab-extracted"
fi
if [ $source_only -eq 1 ]; then
	echo "$src"
	exit 0
fi

rm -rf "$bld"
mkdir -p "$bld"
kmake() {
	make -C "$src" O="$bld" ARCH="$arch" ${cross[@]+"${cross[@]}"} "$@"
}

log "configuring $ver (tinyconfig + $*) in $bld"
{
	kmake tinyconfig
	"$src/scripts/kconfig/merge_config.sh" -m -O "$bld" "$bld/.config" "$@"
	kmake olddefconfig
} >"$bld/build.log" 2>&1 || die "configuration failed, see $bld/build.log"

# Every fragment line must have survived olddefconfig.
bad=0
declare -A want=()
for f in "$@"; do
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			want[${line%%=*}]=$line ;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }
			want[${opt%% *}]="unset" ;;
		esac
	done <"$f"
done
for opt in "${!want[@]}"; do
	got=$(grep -E "^$opt=" "$bld/.config" || true)
	if [ "${want[$opt]}" = unset ]; then
		[ -z "$got" ] && continue
		log "MISMATCH: $opt wanted unset, .config has '$got'"
	else
		[ "$got" = "${want[$opt]}" ] && continue
		log "MISMATCH: wanted '${want[$opt]}', .config has '${got:-<unset>}'"
	fi
	bad=1
done
[ $bad -eq 0 ] || die "config fragment not honoured for $ver (dependencies?)"

log "building $ver: nice make -j$jobs $target modules (ARCH=$arch, log: $bld/build.log)"
start=$(date +%s)
nice -n 10 make -C "$src" O="$bld" ARCH="$arch" ${cross[@]+"${cross[@]}"} -j"$jobs" \
	"$target" modules modules_prepare >>"$bld/build.log" 2>&1 ||
	{ tail -n 30 "$bld/build.log" >&2; die "kernel build failed"; }
log "built $ver in $(( $(date +%s) - start ))s"

[ -f "$bld/$image" ] || die "no $image in $bld"
touch "$bld/.dslab-done"
echo "$bld"
