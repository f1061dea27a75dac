#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms-dev-files.sh - the files client modules build against, under DKMS.
#
# "make install" installs, with dslab.ko, the two files a client module is
# built with (Documentation/api.rst, "Building a client module"):
#
#   /usr/include/dslab/linux/dslab.h
#   /usr/share/dslab/<kernelrelease>/Module.symvers
#
# dkms.conf runs this script so that "dkms install" installs them too and
# "dkms remove" removes them again:
#
#   build <dkmsdir>                     POST_BUILD, in DKMS's build directory:
#                                       keeps Module.symvers in <dkmsdir>,
#                                       since DKMS cleans the build
#                                       directory before the install
#   install <krel> <dkmsdir> <tree>     POST_INSTALL, in the source directory
#   remove <krel> <dkmsdir> <tree>      POST_REMOVE, in the source directory
#
# <dkmsdir> is $dkms_tree/dslab/<version>/<krel>/<arch>, where DKMS keeps
# what it built for kernel <krel>; <tree> is DKMS's install_tree,
# /lib/modules unless --installtree says otherwise.  The files go under
# the root <tree> belongs to: --installtree <root>/lib/modules puts them
# under <root> as well, as DESTDIR does for "make install".

set -euo pipefail

die() {
	echo "dkms-dev-files.sh: $*" >&2
	exit 1
}

# root_of <install tree>: the root directory /lib/modules is under.
root_of() {
	local tree=${1%/}

	case $tree in
	*/usr/lib/modules) echo "${tree%/usr/lib/modules}" ;;
	*/lib/modules) echo "${tree%/lib/modules}" ;;
	*) die "install tree $1 is not <root>/lib/modules" ;;
	esac
}

[ $# -ge 2 ] || die "usage: build <dkmsdir> | install|remove <krel> <dkmsdir> <tree>"
action=$1

case $action in
build)
	[ -f Module.symvers ] || die "no Module.symvers in $PWD"
	install -D -m 0644 Module.symvers "$2/Module.symvers"
	;;
install)
	[ $# -eq 4 ] || die "usage: install <krel> <dkmsdir> <tree>"
	krel=$2 saved=$3/Module.symvers root=$(root_of "$4")
	[ -f "$saved" ] || die "no $saved: built by a dkms.conf without POST_BUILD?"
	install -D -m 0644 include/linux/dslab.h \
		"$root/usr/include/dslab/linux/dslab.h"
	install -D -m 0644 "$saved" "$root/usr/share/dslab/$krel/Module.symvers"
	echo "dslab: installed $root/usr/include/dslab/linux/dslab.h and" \
		"$root/usr/share/dslab/$krel/Module.symvers"
	;;
remove)
	[ $# -eq 4 ] || die "usage: remove <krel> <dkmsdir> <tree>"
	krel=$2 saved=$3/Module.symvers root=$(root_of "$4")
	share=$root/usr/share/dslab inc=$root/usr/include/dslab
	# Only the file this build installed: "make install" may have put
	# another one there since.
	if [ -f "$saved" ] && cmp -s "$saved" "$share/$krel/Module.symvers"; then
		rm -f "$share/$krel/Module.symvers"
		rmdir "$share/$krel" 2>/dev/null || true
		echo "dslab: removed $share/$krel/Module.symvers"
	fi
	# The header serves every kernel: it goes with the last Module.symvers.
	if ! compgen -G "$share/*/Module.symvers" >/dev/null; then
		rm -f "$inc/linux/dslab.h"
		rmdir "$inc/linux" "$inc" "$share" 2>/dev/null || true
	fi
	;;
*)
	die "unknown action $action"
	;;
esac
