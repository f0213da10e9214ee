#!/bin/bash
# Fetch (apt-get download, never install) the pinned Debian cloud kernel and
# its headers into a download cache, extract them into the build tree and make
# the headers usable from there.  Run by guest/CMakeLists.txt at configure time.
#
#   fetch-kernel.sh <abi e.g. 6.1.0-56> <flavour e.g. cloud-amd64> <cache dir> \
#                   <dest dir> <cmake info file to write>
#
# Offline when the debs for the pinned ABI are in the cache.  If the pinned ABI
# is not served any more, the newest served 6.1.0-*-<flavour> is used instead,
# loudly, and recorded as pinned=false.
set -euo pipefail

abi=$1 flavour=$2 cache=$3 dest=$4 info=$5
major=${abi%%.0-*}             # 6.1
log() { echo "ezone-guest: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# resolved-<abi>-<flavour>.env remembers what a previous run downloaded.
resolve_cached() {
	local f="$cache/resolved-$1-$flavour.env"
	[[ -f $f ]] || return 1
	# shellcheck disable=SC1090
	source "$f"
	local d
	for d in "${DEBS[@]}"; do [[ -f $cache/$d ]] || return 1; done
	return 0
}

pinned=true
if resolve_cached "$abi"; then
	log "using cached debs for $abi-$flavour (offline)"
else
	command -v apt-cache >/dev/null || die "apt-cache not found and no cached debs for $abi-$flavour in $cache"
	use_abi=$abi
	img="linux-image-$abi-$flavour-unsigned"
	if [[ -z $(apt-cache madison "$img" 2>/dev/null) ]]; then
		newest=$(apt-cache search --names-only "^linux-image-${major//./\\.}\\.0-[0-9]+-$flavour-unsigned\$" 2>/dev/null |
			awk '{print $1}' | sed -E "s/^linux-image-(.*)-$flavour-unsigned\$/\\1/" | sort -V | tail -n1)
		[[ -n $newest ]] || die "neither $img nor any linux-image-$major.0-*-$flavour-unsigned is served by apt (apt-get update?)"
		log "################################################################"
		log "WARNING: pinned guest kernel ABI $abi is NOT served by apt any more."
		log "WARNING: falling back to the newest served ABI: $newest (pinned=false)"
		log "WARNING: update EZONE_GUEST_KERNEL_ABI to pin it."
		log "################################################################"
		use_abi=$newest
		pinned=false
		img="linux-image-$use_abi-$flavour-unsigned"
	fi
	if [[ $pinned == false ]] && resolve_cached "$use_abi"; then
		log "using cached debs for $use_abi-$flavour"
	else
		ver=$(apt-cache madison "$img" | awk -F'|' 'NR==1{gsub(/ /,"",$2); print $2}')
		[[ -n $ver ]] || die "cannot resolve version of $img"
		pkgs=("$img=$ver"
		      "linux-headers-$use_abi-$flavour=$ver"
		      "linux-headers-$use_abi-common=$ver"
		      "linux-kbuild-$major=$ver")
		log "downloading ${pkgs[*]} into $cache"
		(cd "$cache" && apt-get download -q "${pkgs[@]}" 2>&1 | { grep -v 'Download is performed unsandboxed' >&2 || true; }) ||
			die "apt-get download failed for ${pkgs[*]}"
		DEBS=()
		for p in "${pkgs[@]}"; do
			n=${p%%=*} v=${p#*=}
			f=$(cd "$cache" && ls "${n}_${v//:/%3a}_"*.deb 2>/dev/null | head -n1)
			[[ -n $f ]] || die "downloaded deb for $p not found in $cache"
			DEBS+=("$f")
		done
		{
			echo "ABI=$use_abi"
			echo "VERSION=$ver"
			echo "IMAGE_PKG=$img"
			printf 'DEBS=('; printf '%q ' "${DEBS[@]}"; echo ')'
		} > "$cache/resolved-$use_abi-$flavour.env"
		ABI=$use_abi VERSION=$ver IMAGE_PKG=$img
	fi
fi

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
set(EZONE_GUEST_KERNEL_PINNED $pinned)
set(EZONE_GUEST_KERNEL_DEBS_SHA256 "$debsum")
set(EZONE_GUEST_KERNEL_TREE "$dest")
EOT
mv "$info.tmp" "$info"
