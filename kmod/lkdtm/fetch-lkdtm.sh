#!/bin/bash
# Fetch the kernel's own crash tests, LKDTM (drivers/misc/lkdtm), for an
# out-of-tree build: resolve and download linux-source-<major> for the guest
# kernel's version (guest/resolve-kernel.sh --source: same rules and cache as
# the kernel packages), extract only drivers/misc/lkdtm into <dest> and apply
# kmod/lkdtm/out-of-tree.patch.  Nothing of the source tree is committed.
#
#   fetch-lkdtm.sh <kernel version e.g. 6.1.192-2> <cache dir> <dest dir>
#
# Offline and instant when the source deb is cached and <dest> is up to date
# (stamped with the deb's and the patch's sha256).  Writes <dest>/SOURCE with
# the package=version used.
set -euo pipefail

version=$1 cache=$2 dest=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
resolver=$here/../../guest/resolve-kernel.sh
patch_file=$here/out-of-tree.patch
log() { echo "ezone-lkdtm: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

"$resolver" --source "$version" "$cache" || die "no linux-source for kernel $version (see above)"
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
# shellcheck disable=SC1090
source "$cache/resolved-source-$version.env"
deb=$cache/${DEBS[0]}
stamp=$( { echo "${SHA256S[0]}"; sha256sum "$patch_file" "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-64)
if [[ -f $dest/.ezone-stamp && $(cat "$dest/.ezone-stamp") == "$stamp" ]]; then
	exit 0
fi

major=${PACKAGES[0]%%=*}        # linux-source-6.1
major=${major#linux-source-}
log "extracting drivers/misc/lkdtm from ${PACKAGES[0]} (once; about 20 s)"
rm -rf "$dest" "$dest.tmp"
mkdir -p "$dest.tmp"
# The deb holds the tree as one tarball: stream it, keep one directory.
dpkg-deb --fsys-tarfile "$deb" |
	tar -xO "./usr/src/linux-source-$major.tar.xz" |
	tar -xJ -C "$dest.tmp" --strip-components=4 "linux-source-$major/drivers/misc/lkdtm" ||
	die "could not extract drivers/misc/lkdtm from $deb"
[[ -f $dest.tmp/core.c ]] || die "drivers/misc/lkdtm/core.c missing in ${PACKAGES[0]}"
patch -s -p4 -d "$dest.tmp" < "$patch_file" || die "$patch_file does not apply to ${PACKAGES[0]}"
echo "${PACKAGES[0]}" > "$dest.tmp/SOURCE"
echo "$stamp" > "$dest.tmp/.ezone-stamp"
mv "$dest.tmp" "$dest"
