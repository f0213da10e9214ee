#!/bin/bash
# Fetch (apt-get download, never install) the pinned Debian cloud kernel and
# its headers into a download cache, extract them into the build tree and make
# the headers usable from there.  Run by guest/CMakeLists.txt at configure time.
#
#   fetch-kernel.sh <abi e.g. 6.1.0-56> <flavour e.g. cloud-amd64> <cache dir> \
#                   <dest dir> <cmake info file to write>
#
# resolve-kernel.sh picks the set of packages (the pin when the archive serves
# it whole, else the newest ABI it does, loudly) and downloads it; offline when
# the set is cached.
set -euo pipefail

abi=$1 flavour=$2 cache=$3 dest=$4 info=$5
log() { echo "ezone-guest: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
"$here/resolve-kernel.sh" "$abi" "$flavour" "$cache" || die "no usable kernel set for $abi-$flavour (see above)"
# shellcheck disable=SC1090
source "$cache/resolved-$abi-$flavour.env"

release="$ABI-$flavour"
# Stamp: content hash over the debs; re-extract only when it changes.
debsum=$(cd "$cache" && sha256sum "${DEBS[@]}" | sha256sum | cut -c1-64)
if [[ ! -f $dest/.ezone-stamp || $(cat "$dest/.ezone-stamp") != "$debsum" ]]; then
	log "extracting $release into $dest"
	rm -rf "$dest"
	mkdir -p "$dest"
	for d in "${DEBS[@]}"; do dpkg-deb -x "$cache/$d" "$dest"; done
	hdr="$dest/usr/src/linux-headers-$release"
	common="linux-headers-$ABI-common"
	# The flavour Makefile includes /usr/src/<common>/Makefile: make it
	# relative so that `make -C $hdr` works from the build tree.
	sed -i -E "s|^include /usr/src/$common/Makefile|include \$(dir \$(lastword \$(MAKEFILE_LIST)))../$common/Makefile|" "$hdr/Makefile"
	grep -q "^include /usr/" "$hdr/Makefile" && die "could not rewrite $hdr/Makefile"
	# scripts/ and tools/ are relative links (../../lib/linux-kbuild-X);
	# the lib/modules build/source links are absolute: make them relative.
	moddir="$dest/lib/modules/$release"
	ln -sfn "../../../usr/src/linux-headers-$release" "$moddir/build"
	ln -sfn "../../../usr/src/$common" "$moddir/source"
	[[ -e $hdr/scripts/Makefile.build ]] || die "kbuild scripts missing under $hdr/scripts"
	[[ -f $dest/boot/vmlinuz-$release ]] || die "vmlinuz-$release missing"
	echo "$debsum" > "$dest/.ezone-stamp"
fi

cat > "$info.tmp" <<EOT
# written by guest/fetch-kernel.sh
set(EZONE_GUEST_KERNEL_RELEASE "$release")
set(EZONE_GUEST_KERNEL_ABI_USED "$ABI")
set(EZONE_GUEST_KERNEL_PACKAGE "$IMAGE_PKG")
set(EZONE_GUEST_KERNEL_PACKAGE_VERSION "$VERSION")
set(EZONE_GUEST_KERNEL_PINNED $PINNED)
set(EZONE_GUEST_KERNEL_PACKAGES "${PACKAGES[*]}")
set(EZONE_GUEST_KERNEL_DEBS_SHA256 "$debsum")
set(EZONE_GUEST_KERNEL_TREE "$dest")
EOT
mv "$info.tmp" "$info"
