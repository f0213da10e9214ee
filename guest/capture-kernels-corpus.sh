#!/bin/bash
# Capture real console logs of every kerncrash mode on several Debian kernels
# (not only the guest's pinned one) for the crash report parser's corpus:
#
#   core/tests/corpus/console/kernels/<release>/<mode>.log
#
#   guest/capture-kernels-corpus.sh <build dir> [flavour...]
#     flavours default to: cloud-amd64 amd64 rt-amd64 (ABI $ABI, default 6.1.0-56)
#     bpo:<flavour> takes the newest kernel of bookworm-backports (e.g. 6.12),
#     through an apt state of its own (the system's sources stay as they are)
#   ONLY="divzero warn" ...   just these modes
#
# For each kernel: fetch-kernel.sh downloads (apt-get download, never
# install) and extracts it, kerncrash is built against its headers, and
# build-initramfs.sh packs the build tree's agent/fault/workload with it into
# an image of its own; then guest-run.py boots it under QEMU (TCG) once per
# mode. The agent and busybox are static, so any kernel boots them.
# Runs under `nice` (the machine is shared). The EXPECTED files beside the
# logs are written by hand (or checked with `ezone classify`), not here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$(cd "${1:?usage: capture-kernels-corpus.sh <build dir> [flavour...]}" && pwd)
shift
flavours=("$@")
[[ ${#flavours[@]} -gt 0 ]] || flavours=(cloud-amd64 amd64 rt-amd64)
abi=${ABI:-6.1.0-56}
cache=${EZONE_CACHE_DIR:-$HOME/.cache/ezone}/debs
work=${WORK:-$build/kernels-corpus}
out=${OUT:-$root/core/tests/corpus/console/kernels}
log() { echo "capture: $*" >&2; }

for f in "$build/guest/ezone-agent" "$build/guest/ezone-fault" "$build/guest/ezone-workload"; do
	[[ -x $f ]] || { log "$f missing: build the guest first"; exit 1; }
done

modes=(divzero nullderef panic bug hang warn softlockup stackoverflow memcorrupt)

# TCG boots slowly on a loaded machine (rt-amd64 most): SLOW=4 gives every
# run four times the time.
slow=${SLOW:-1}
capture() {  # <image dir> <out dir> <mode>
	local img=$1 dir=$2 mode=$3 extra=()
	if [[ -n ${ONLY:-} && " $ONLY " != *" $mode "* ]]; then return 0; fi
	case $mode in
	hang) extra=(--cmd "insmod kerncrash mode=hang delay_ms=1000" --until-exit --timeout $((20 * slow))) ;;
	warn) extra=(--cmd "insmod kerncrash mode=warn delay_ms=500" --cmd "sleep 2" --cmd ping
		--cmd poweroff --until-exit --timeout $((120 * slow))) ;;
	softlockup) extra=(--append-extra "watchdog_thresh=1"
		--cmd "insmod kerncrash mode=softlockup delay_ms=1000 duration_ms=4000"
		--cmd "sleep 5" --cmd ping --cmd poweroff --until-exit --timeout $((120 * slow))) ;;
	# Under QEMU's default panic action the double fault's deferred output
	# is lost at the pvpanic event; panic=none keeps the whole text.
	stackoverflow) extra=(--panic-action none --cmd "insmod kerncrash mode=stackoverflow delay_ms=1000"
		--until-exit --timeout $((90 * slow))) ;;
	*) extra=(--cmd "insmod kerncrash mode=$mode delay_ms=1000" --until-exit --timeout $((90 * slow))) ;;
	esac
	rm -f "$dir/$mode.log"
	nice -n 10 python3 "$here/tools/guest-run.py" --image-dir "$img" --console "$dir/$mode.log" \
		"${extra[@]}" > "$dir/.$mode.meta" || true
	log "$(basename "$dir") $mode: $(wc -l < "$dir/$mode.log") lines"
	rm -f "$dir/.$mode.meta"
}

# bookworm-backports through a private apt state under $work/apt (the
# system's sources are left alone): sets ABI VERSION IMAGE_PKG DEBS for the
# newest backported kernel of a flavour.
backports() {  # <flavour>
	local fl=$1 a=$work/apt img_pkg
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$cache"
	echo "deb http://deb.debian.org/debian bookworm-backports main" > "$a/sources.list"
	apto=(-o "Dir::Etc::SourceList=$a/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache")
	[[ -n $(find "$a/lists" -name '*Packages' -mmin -1440 -print -quit) ]] ||
		apt-get "${apto[@]}" update >&2
	img_pkg=$(apt-cache "${apto[@]}" search --names-only "^linux-image-[0-9.]+\+bpo-$fl-unsigned\$|^linux-image-[0-9.]+\+deb12-$fl-unsigned\$" |
		awk '{print $1}' | sort -V | tail -1)
	[[ -n $img_pkg ]] || { log "bookworm-backports serves no $fl kernel"; return 1; }
	ABI=${img_pkg#linux-image-} ABI=${ABI%-$fl-unsigned}
	VERSION=$(apt-cache "${apto[@]}" show "$img_pkg" | sed -n 's/^Version: //p' | sort -V | tail -1)
	IMAGE_PKG=$img_pkg
	local pkgs=("$img_pkg" "linux-headers-$ABI-$fl" "linux-headers-$ABI-common" "linux-kbuild-$ABI")
	(cd "$cache" && apt-get "${apto[@]}" download "${pkgs[@]/%/=$VERSION}" >&2)
	DEBS=()
	for p in "${pkgs[@]}"; do DEBS+=("$(cd "$cache" && ls "${p}_"*"${VERSION//:/%3a}"_*.deb | head -1)"); done
}

for flavour in "${flavours[@]}"; do
	if [[ $flavour == bpo:* ]]; then  # bookworm-backports, e.g. bpo:cloud-amd64
		flavour=${flavour#bpo:}
		backports "$flavour" || continue
		kabi=$ABI
	else
		kabi=$abi
		# resolve-kernel.sh downloads the set; the extraction is done here
		# rather than by fetch-kernel.sh because some flavours (rt-amd64)
		# include a second common headers package (linux-headers-<abi>-common-rt).
		nice -n 10 "$here/resolve-kernel.sh" "$kabi" "$flavour" "$cache"
		# shellcheck disable=SC1090
		source "$cache/resolved-$kabi-$flavour.env"
	fi
	tree=$work/$kabi-$flavour/tree
	img=$work/$kabi-$flavour/image
	kmod=$work/$kabi-$flavour/kmod
	mkdir -p "$img" "$kmod"
	log "kernel $kabi-$flavour"
	release=$ABI-$flavour pkg=$IMAGE_PKG pkgver=$VERSION
	hdr=$tree/usr/src/linux-headers-$release
	if [[ ! -f $tree/.captured-stamp || ! -f $hdr/Makefile ]]; then
		rm -rf "$tree" && mkdir -p "$tree"
		for d in "${DEBS[@]}"; do dpkg-deb -x "$cache/$d" "$tree"; done
		common=$(sed -n 's|^include /usr/src/\([^/]*\)/Makefile$|\1|p' "$hdr/Makefile")
		if [[ ! -d $tree/usr/src/$common ]]; then
			(cd "$cache" && apt-get download "$common=$VERSION" >&2)
			dpkg-deb -x "$cache/${common}_${VERSION}_"*.deb "$tree"
		fi
		# Absolute includes made relative, so `make -C $hdr` works from here
		# (the common-rt Makefile includes the plain common one in turn).
		for mk in "$hdr/Makefile" "$tree"/usr/src/linux-headers-*-common*/Makefile; do
			sed -i -E "s|^include /usr/src/([^/]*)/Makefile|include \$(dir \$(lastword \$(MAKEFILE_LIST)))../\1/Makefile|" "$mk"
		done
		# Newer Debian kernels ship xz-compressed modules; the initramfs
		# builder packs plain ones.
		find "$tree/lib/modules" -name '*.ko.xz' -print0 | xargs -0 -r nice -n 10 xz -d
		touch "$tree/.captured-stamp"
	fi
	rm -rf "$kmod/src" && cp -r "$root/kmod/kerncrash" "$kmod/src"
	env --unset=MAKEFLAGS --unset=MFLAGS nice -n 10 make -s -C "$hdr" M="$kmod/src" CONFIG_DEBUG_INFO_BTF_MODULES= modules  # no pahole here: no BTF
	cp "$kmod/src/kerncrash.ko" "$kmod/kerncrash.ko"
	OUT_DIR=$img KERNEL_TREE=$tree KERNEL_RELEASE=$release KERNEL_PACKAGE=$pkg \
		KERNEL_PACKAGE_VERSION=$pkgver KERNEL_PINNED=true KERNEL_PIN=$kabi KERNEL_PACKAGES=$pkg \
		LKDTM_SOURCE= AGENT=$build/guest/ezone-agent FAULT=$build/guest/ezone-fault \
		WORKLOAD=$build/guest/ezone-workload BUSYBOX=/bin/busybox BUSYBOX_VERSION=static \
		KMOD_DIR=$kmod KMODS=kerncrash BOOT_MODULES="pvpanic-mmio pvpanic-pci" \
		DISK_MODULES="virtio_pci virtio_blk" NET_MODULES="virtio_pci virtio_net" \
		nice -n 10 "$here/build-initramfs.sh"
	dir=$out/$release
	mkdir -p "$dir"
	for mode in "${modes[@]}"; do capture "$img" "$dir" "$mode"; done
done
