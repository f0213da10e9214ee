#!/bin/bash
# Assemble the nested host image: a Debian standard amd64 kernel (it has KVM,
# the cloud flavour does not) plus an initramfs holding, from this machine's
# Debian packages, QEMU and libvirtd with their libraries, the kvm modules,
# the ezone agent (as the host agent), the host's kerncrash.ko, and the ezone
# guest image the nested host runs its guests from.
#
# Content-hashed like the guest image: when nothing changed, nothing is
# rewritten.  Environment (set by nested-host/CMakeLists.txt):
#   OUT_DIR KERNEL_TREE KERNEL_RELEASE KERNEL_PACKAGE_VERSION KERNEL_PINNED KERNEL_PIN
#   KERNEL_PACKAGES AGENT BUSYBOX
#   GUEST_DIR KMOD HOST_INIT LIBVIRTD_CONF QEMU_CONF
set -euo pipefail
log() { echo "ezone-nested-host: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
: "${OUT_DIR:?}" "${KERNEL_TREE:?}" "${KERNEL_RELEASE:?}" "${AGENT:?}" "${BUSYBOX:?}"
: "${GUEST_DIR:?}" "${KMOD:?}" "${HOST_INIT:?}" "${LIBVIRTD_CONF:?}" "${QEMU_CONF:?}"
: "${KERNEL_PACKAGE_VERSION:=unknown}" "${KERNEL_PACKAGES:=}"
self=$(readlink -f "$0")
mkdir -p "$OUT_DIR"
exec 9> "$OUT_DIR/.image.lock"
flock 9

moddir="$KERNEL_TREE/lib/modules/$KERNEL_RELEASE"
vmlinuz_src="$KERNEL_TREE/boot/vmlinuz-$KERNEL_RELEASE"
[[ -f $vmlinuz_src ]] || die "$vmlinuz_src missing"

# Programs taken from this machine's Debian packages, with their libraries.
QEMU=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
LIBVIRTD=$(command -v libvirtd || echo /usr/sbin/libvirtd)
[[ -x $LIBVIRTD ]] || die "libvirtd not installed (apt-get install libvirt-daemon-system)"
multiarch=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
LIBVIRT_DRIVER="$multiarch/libvirt/connection-driver/libvirt_driver_qemu.so"
[[ -f $LIBVIRT_DRIVER ]] || die "$LIBVIRT_DRIVER missing (apt-get install libvirt-daemon-driver-qemu)"
# qemu_fw_cfg: the per-run TLS credentials arrive as fw_cfg items (init).
HOST_MODULES=(kvm kvm-amd virtio_pci virtio_net pvpanic-mmio qemu_fw_cfg)

# --- module closure (the package has no modules.dep: ask modinfo) ---------------
command -v modinfo >/dev/null || die "modinfo not found (apt-get install kmod)"
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
for m in "${HOST_MODULES[@]}"; do add_mod "$m"; done

# --- library closure ----------------------------------------------------------
libs() { ldd "$@" 2>/dev/null | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | sort -u; }
# QEMU's TCG accelerator is a loadable module; libvirt's capability probe
# starts QEMU with it even for a KVM-only host.
QEMU_MODULES=("$multiarch"/qemu/accel-tcg-*.so)
VIRSH=$(command -v virsh) || die "virsh not installed (apt-get install libvirt-clients)"
binaries=("$QEMU" "$LIBVIRTD" "$LIBVIRT_DRIVER" "$VIRSH" "${QEMU_MODULES[@]}")
mapfile -t libraries < <(libs "${binaries[@]}")

# --- input hash ---------------------------------------------------------------
inputs=("$self" "$(dirname "$self")/host-dump" "$vmlinuz_src" "$AGENT" "$BUSYBOX" "$KMOD" "$HOST_INIT" "$LIBVIRTD_CONF" "$QEMU_CONF"
	"$GUEST_DIR/vmlinuz" "$GUEST_DIR/initramfs.cpio.gz" "${binaries[@]}" "${libraries[@]}")
for m in "${modules[@]}"; do inputs+=("$moddir/$m"); done
hash=$( { printf '%s\n' "${inputs[@]}" "$KERNEL_PACKAGES"; sha256sum "${inputs[@]}" | cut -d' ' -f1; } | sha256sum | cut -d' ' -f1)
if [[ -f $OUT_DIR/image.inputs.sha256 && $(cat "$OUT_DIR/image.inputs.sha256") == "$hash" &&
      -f $OUT_DIR/vmlinuz && -f $OUT_DIR/initramfs.cpio && -f $OUT_DIR/nested-host-manifest.json ]]; then
	log "nested host image up to date"
	exit 0
fi

# --- root file system -----------------------------------------------------------
root=$(mktemp -d "$OUT_DIR/root.XXXXXX")
trap 'rm -rf "$root"' EXIT
# Merged /usr, as on Debian 12: /lib and /usr/lib are one, so libvirtd finds
# its drivers under /usr/lib whatever path ldd printed for a library.
mkdir -p "$root"/usr/{lib,lib64}
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,var/log,var/lib,var/cache,usr/bin,usr/sbin,root} \
	"$root/lib/modules/ezone" "$root/etc/ezone" "$root/etc/libvirt" "$root/ezone/guest"
ln -s ../run "$root/var/run"
ln -s ../run/lock "$root/var/lock"
install -m 0755 "$BUSYBOX" "$root/bin/busybox"
for applet in $("$BUSYBOX" --list); do
	[[ $applet == busybox ]] && continue
	ln -sf busybox "$root/bin/$applet"
done
install -m 0755 "$AGENT" "$root/sbin/ezone-agent"
install -m 0755 "$HOST_INIT" "$root/init"
install -m 0755 "$(dirname "$self")/host-dump" "$root/sbin/ezone-host-dump"
install -m 0644 "$LIBVIRTD_CONF" "$root/etc/libvirt/libvirtd.conf"
install -m 0644 "$QEMU_CONF" "$root/etc/libvirt/qemu.conf"
# libvirt's qemu driver resolves its built-in default users even when
# qemu.conf says root.
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'libvirt-qemu:x:64055:104::/var/lib/libvirt:/bin/false' \
	'tss:x:105:105::/var/lib/tpm:/bin/false' > "$root/etc/passwd"
printf '%s\n' 'root:x:0:' 'kvm:x:104:' 'libvirt-qemu:x:64055:' 'tss:x:105:' > "$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files\n' > "$root/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n' > "$root/etc/hosts"
echo ezone-nested-host > "$root/etc/hostname"

# Binaries and libraries at their own paths, so the dynamic loader finds them.
for f in "${binaries[@]}" "${libraries[@]}"; do
	mkdir -p "$root$(dirname "$f")"
	cp -L "$f" "$root$f"
done
ln -sf /usr/bin/qemu-system-x86_64 "$root/usr/bin/kvm"
# QEMU's firmware (SeaBIOS, option ROMs for direct kernel boot).
mkdir -p "$root/usr/share"
cp -aL /usr/share/qemu "$root/usr/share/qemu"
[[ -d /usr/share/seabios ]] && cp -a /usr/share/seabios "$root/usr/share/seabios"
# libvirt's CPU models and schemas.
cp -a /usr/share/libvirt "$root/usr/share/libvirt"

# Kernel modules: the kvm family and the NIC, loaded by /init in this order.
: > "$root/etc/ezone/host-modules"
for m in "${modules[@]}"; do
	mkdir -p "$root/lib/modules/$KERNEL_RELEASE/$(dirname "$m")"
	cp "$moddir/$m" "$root/lib/modules/$KERNEL_RELEASE/$m"
	echo "/lib/modules/$KERNEL_RELEASE/$m" >> "$root/etc/ezone/host-modules"
done
# The host kernel's kerncrash.ko where the agent's insmod looks (E-Zone 1).
install -m 0644 "$KMOD" "$root/lib/modules/ezone/kerncrash.ko"
# The guest image the nested host's VMs boot.
cp "$GUEST_DIR/vmlinuz" "$GUEST_DIR/initramfs.cpio.gz" "$root/ezone/guest/"

(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$OUT_DIR/initramfs.cpio.tmp"
mv "$OUT_DIR/initramfs.cpio.tmp" "$OUT_DIR/initramfs.cpio"
cp "$vmlinuz_src" "$OUT_DIR/vmlinuz"

qemu_version=$("$QEMU" --version | head -n1)
libvirt_version=$("$LIBVIRTD" --version | head -n1)
cat > "$OUT_DIR/nested-host-manifest.json" <<JSON
{
  "kernel_release": "$KERNEL_RELEASE",
  "kernel_package_version": "$KERNEL_PACKAGE_VERSION",
  "pinned": ${KERNEL_PINNED:-true},
  "kernel_pin": "${KERNEL_PIN:-}",
  "kernel_packages": "${KERNEL_PACKAGES:-}",
  "qemu": "$qemu_version",
  "libvirtd": "$libvirt_version",
  "guest_image_sha256": "$(cat "$GUEST_DIR/initramfs.cpio.gz" "$GUEST_DIR/vmlinuz" | sha256sum | cut -d' ' -f1)",
  "image_sha256": "$hash",
  "initramfs_bytes": $(stat -c %s "$OUT_DIR/initramfs.cpio")
}
JSON
echo "$hash" > "$OUT_DIR/image.inputs.sha256"
log "nested host image: $OUT_DIR ($(du -h "$OUT_DIR/initramfs.cpio" | cut -f1) initramfs)"
