#!/bin/bash
# Assemble the Xen flavour of the nested host image (issue 22, xen@nested):
# Xen 4.17 (Debian's xen-hypervisor-4.17-amd64) as the hypervisor, the
# nested host's Debian amd64 6.1 kernel as a PVH dom0, the Xen toolstack
# (xenstored, xenconsoled, xl, libxl), QEMU as the HVM device model
# (qemu-system-xen) and libvirtd with its libxl driver, plus everything the
# KVM nested host image already holds (busybox, the agent, kerncrash.ko for
# the same kernel, the guest image, libvirtd, openssl-made TLS setup).
#
# It starts from the KVM image's initramfs (build-nested-host.sh), so the two
# share one kernel, one agent and one guest; it adds the Xen packages, taken
# with `apt-get download` + `dpkg-deb -x` (never installed here), with the
# libraries `ldd` names, the dom0's Xen modules, and its own init
# (nested-host/xen-init). Content-hashed like the other images.
#
# Environment (set by nested-host/CMakeLists.txt):
#   OUT_DIR NESTED_DIR (the KVM image) KERNEL_TREE KERNEL_RELEASE XEN_INIT
#   XEN_HOST_DUMP DEB_CACHE (default $EZONE_CACHE_DIR/xen-debs, else ~/.cache/ezone/xen-debs)
set -euo pipefail
log() { echo "ezone-xen-host: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
: "${OUT_DIR:?}" "${NESTED_DIR:?}" "${KERNEL_TREE:?}" "${KERNEL_RELEASE:?}" "${XEN_INIT:?}" "${XEN_HOST_DUMP:?}"
# $EZONE_CACHE_DIR is ezone's cache root (CI sets an empty one), as for the guest's debs.
: "${DEB_CACHE:=${EZONE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ezone}/xen-debs}"
self=$(readlink -f "$0")
mkdir -p "$OUT_DIR" "$DEB_CACHE"
OUT_DIR=$(readlink -f "$OUT_DIR") NESTED_DIR=$(readlink -f "$NESTED_DIR") KERNEL_TREE=$(readlink -f "$KERNEL_TREE")
exec 9> "$OUT_DIR/.image.lock"
flock 9

XEN_VERSION=4.17
# The hypervisor, the toolstack and its libraries, QEMU as Xen's device model
# for HVM guests, and libvirt's libxl driver (Debian 12 calls it
# libvirt-daemon-driver-xen). python3 (pygrub, xen-utils' wrapper) is left
# out: the init calls /usr/lib/xen-4.17/bin directly.
PACKAGES=(xen-hypervisor-$XEN_VERSION-amd64 xen-utils-$XEN_VERSION xen-utils-common xenstore-utils
	libxenmisc$XEN_VERSION libxenstore4 libxentoollog1 libxencall1 libxenevtchn1 libxenforeignmemory1
	libxengnttab1 libxendevicemodel1 libxentoolcore1 libxenhypfs1 libyajl2
	libvirt-daemon-driver-xen qemu-system-xen)
# dom0's Xen device modules (Debian builds them as modules), the NIC (e1000e:
# see xen-init, why not virtio), fw_cfg for the run's TLS credentials, pvpanic.
DOM0_MODULES=(xen-evtchn xenfs xen-privcmd xen-gntdev xen-gntalloc e1000e qemu_fw_cfg pvpanic-mmio)

for f in initramfs.cpio vmlinuz nested-host-manifest.json; do
	[[ -f $NESTED_DIR/$f ]] || die "$NESTED_DIR/$f missing: build the KVM nested host image first"
done

# --- the packages (cached by name; apt-get download picks today's version) -------
debs=()
for p in "${PACKAGES[@]}"; do
	deb=$(find "$DEB_CACHE" -maxdepth 1 -name "${p}_*.deb" -print -quit)
	if [[ -z $deb ]]; then
		(cd "$DEB_CACHE" && apt-get download "$p" >/dev/null 2>&1) ||
			die "apt-get download $p failed (Debian 12's archive must be reachable)"
		deb=$(find "$DEB_CACHE" -maxdepth 1 -name "${p}_*.deb" -print -quit)
	fi
	dpkg-deb --info "$deb" >/dev/null 2>&1 || die "$deb is not a whole package"
	debs+=("$deb")
done

moddir="$KERNEL_TREE/lib/modules/$KERNEL_RELEASE"
declare -A seen=()
modules=()
add_mod() {
	local n=${1//_/-} u=${1//-/_} ko rel d
	ko=$(find "$moddir/kernel" \( -name "$n.ko" -o -name "$u.ko" \) -print -quit)
	[[ -n $ko ]] || die "module $1 not found under $moddir/kernel"
	rel=${ko#"$moddir/"}
	[[ -n ${seen[$rel]:-} ]] && return 0
	seen[$rel]=1
	for d in $(modinfo -F depends "$ko" | tr ',' ' '); do add_mod "$d"; done
	modules+=("$rel")
}
for m in "${DOM0_MODULES[@]}"; do add_mod "$m"; done

inputs=("$self" "$(dirname "$self")/xen-vm-left" "$XEN_INIT" "$XEN_HOST_DUMP" "$NESTED_DIR/initramfs.cpio" "$NESTED_DIR/vmlinuz" "${debs[@]}")
for m in "${modules[@]}"; do inputs+=("$moddir/$m"); done
hash=$( { printf '%s\n' "${inputs[@]}"; sha256sum "${inputs[@]}" | cut -d' ' -f1; } | sha256sum | cut -d' ' -f1)
if [[ -f $OUT_DIR/image.inputs.sha256 && $(cat "$OUT_DIR/image.inputs.sha256") == "$hash" &&
      -f $OUT_DIR/xen && -f $OUT_DIR/vmlinuz && -f $OUT_DIR/initramfs.cpio && -f $OUT_DIR/nested-host-manifest.json ]]; then
	log "xen nested host image up to date"
	exit 0
fi

root=$(mktemp -d "$OUT_DIR/root.XXXXXX")
pkgs=$(mktemp -d "$OUT_DIR/pkgs.XXXXXX")
trap 'rm -rf "$root" "$pkgs"' EXIT
(cd "$root" && cpio -id --quiet --no-absolute-filenames < "$NESTED_DIR/initramfs.cpio")
for deb in "${debs[@]}"; do dpkg-deb -x "$deb" "$pkgs"; done

# The hypervisor: QEMU's multiboot loader takes an ELF, not the gzip.
gzip -dc "$pkgs/boot/xen-$XEN_VERSION-amd64.gz" > "$OUT_DIR/xen.tmp"
mv "$OUT_DIR/xen.tmp" "$OUT_DIR/xen"

# The toolstack, QEMU-for-Xen, libvirt's libxl driver and their own
# libraries, at their own paths; /etc/xen for libxl's defaults.
rm -rf "$pkgs"/boot "$pkgs"/usr/share/{doc,man,lintian,bash-completion,bug,augeas} \
	"$pkgs"/usr/lib/xen-$XEN_VERSION/lib/python "$pkgs"/usr/lib/xen-$XEN_VERSION/boot/xen-shim "$pkgs"/etc/init.d
cp -a "$pkgs"/. "$root"/ 2>/dev/null || (cd "$pkgs" && tar cf - .) | (cd "$root" && tar xf - --keep-directory-symlink)
# Libraries the new binaries need beyond what is there: from the packages
# first (LD_LIBRARY_PATH), else from this machine's (libspice, libusb, ...).
mapfile -t elfs < <(find "$pkgs/usr" -type f \( -perm -u+x -o -name '*.so*' \) -exec sh -c 'file -b "$1" | grep -q ^ELF' _ {} \; -print)
export LD_LIBRARY_PATH="$pkgs/usr/lib/x86_64-linux-gnu:$pkgs/usr/lib/xen-$XEN_VERSION/lib/x86_64-linux-gnu"
missing=$(ldd "${elfs[@]}" 2>/dev/null | awk '/not found/{print $1}' | sort -u)
[[ -z $missing ]] || die "libraries not found for the Xen tools: $missing"
while read -r lib; do
	[[ $lib == "$pkgs"/* ]] && continue
	[[ -e $root$lib ]] && continue
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done < <(ldd "${elfs[@]}" 2>/dev/null | awk '/=> \//{print $3}' | sort -u)
unset LD_LIBRARY_PATH
# libvirtd's QEMU driver would probe the KVM image's qemu-system-x86_64 at
# every start (slow under TCG, and of no use on a Xen host): only libxl here.
rm -f "$root"/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so
# libvirt's libxl driver describes the host CPU from Xen's physinfo feature
# words and refuses to start ("Cannot find suitable CPU model for given
# data") when no CPU model of its map fits them without disabling a
# feature: none does for QEMU's TCG EPYC with the features TCG lacks turned
# off. A model with no features fits any CPU; the domUs' CPU is not
# libvirt's to choose here (HVM, Xen's default policy).
printf '%s\n' '<cpus>' "  <model name='ezone-any'>" "    <decode host='on' guest='off'/>" '  </model>' '</cpus>' \
	> "$root/usr/share/libvirt/cpu_map/x86_ezone-any.xml"
sed -i "s|^\( *\)<include filename='x86_486.xml'/>|\1<include filename='x86_ezone-any.xml'/>\n&|" \
	"$root/usr/share/libvirt/cpu_map/index.xml"
grep -q x86_ezone-any.xml "$root/usr/share/libvirt/cpu_map/index.xml" ||
	die "libvirt's cpu_map/index.xml has no x86_486.xml to add a model beside"
install -m 0755 "$(dirname "$self")/xen-vm-left" "$root/sbin/ezone-vm-left"
# libxl's HVM firmware: hvmloader (in the package) loads SeaBIOS from
# /usr/share/seabios/bios-256k.bin, which the KVM image already carries.
[[ -f $root/usr/share/seabios/bios-256k.bin ]] || die "SeaBIOS missing in the image (apt-get install seabios)"

# dom0's modules, in load order; the KVM image's list goes (no SVM in dom0).
rm -rf "$root/lib/modules/$KERNEL_RELEASE"
: > "$root/etc/ezone/host-modules"
for m in "${modules[@]}"; do
	mkdir -p "$root/lib/modules/$KERNEL_RELEASE/$(dirname "$m")"
	cp "$moddir/$m" "$root/lib/modules/$KERNEL_RELEASE/$m"
	echo "/lib/modules/$KERNEL_RELEASE/$m" >> "$root/etc/ezone/host-modules"
done
install -m 0755 "$XEN_INIT" "$root/init"
install -m 0755 "$XEN_HOST_DUMP" "$root/sbin/ezone-host-dump"
cat > "$root/etc/libvirt/libxl.conf" <<'EOF'
# dom0 keeps its memory (dom0_mem on Xen's command line): no ballooning.
autoballoon = 0
EOF
mkdir -p "$root"/var/lib/xen "$root"/var/lib/xenstored "$root"/var/log/xen "$root"/var/lib/libvirt/libxl \
	"$root"/var/log/libvirt/libxl "$root"/run/xen "$root"/run/xenstored
echo ezone-xen-host > "$root/etc/hostname"

(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$OUT_DIR/initramfs.cpio.tmp"
mv "$OUT_DIR/initramfs.cpio.tmp" "$OUT_DIR/initramfs.cpio"
cp "$NESTED_DIR/vmlinuz" "$OUT_DIR/vmlinuz"

xen_pkg=$(dpkg-deb -f "$(printf '%s\n' "${debs[@]}" | grep /xen-hypervisor-)" Version)
libxl_pkg=$(dpkg-deb -f "$(printf '%s\n' "${debs[@]}" | grep /libvirt-daemon-driver-xen_)" Version)
# The KVM image's manifest, with the flavour and Xen's versions added.
sed -e '$d' "$NESTED_DIR/nested-host-manifest.json" | sed -e '$s/$/,/' > "$OUT_DIR/manifest.tmp"
cat >> "$OUT_DIR/manifest.tmp" <<JSON
  "flavour": "xen",
  "xen": "xen-hypervisor-$XEN_VERSION-amd64 $xen_pkg",
  "libvirt_libxl": "libvirt-daemon-driver-xen $libxl_pkg",
  "xen_image_sha256": "$hash",
  "xen_initramfs_bytes": $(stat -c %s "$OUT_DIR/initramfs.cpio")
}
JSON
mv "$OUT_DIR/manifest.tmp" "$OUT_DIR/nested-host-manifest.json"
echo "$hash" > "$OUT_DIR/image.inputs.sha256"
log "xen nested host image: $OUT_DIR ($(du -h "$OUT_DIR/initramfs.cpio" | cut -f1) initramfs, Xen $xen_pkg)"
