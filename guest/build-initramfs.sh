#!/bin/bash
# Assemble the ezone guest image: vmlinuz + initramfs.cpio.gz + manifest.
# Content-hashed: a sha256 over every input is kept in <out>/image.inputs.sha256;
# when it matches, nothing is rewritten (outputs keep their mtimes).
#
# Environment (set by guest/CMakeLists.txt):
#   OUT_DIR KERNEL_TREE KERNEL_RELEASE KERNEL_PACKAGE KERNEL_PACKAGE_VERSION
#   KERNEL_PINNED KERNEL_PIN KERNEL_PACKAGES LKDTM_SOURCE AGENT FAULT WORKLOAD BUSYBOX BUSYBOX_VERSION KMOD_DIR KMODS BOOT_MODULES
#   DISK_MODULES NET_MODULES
set -euo pipefail
log() { echo "ezone-guest: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

: "${OUT_DIR:?}" "${KERNEL_TREE:?}" "${KERNEL_RELEASE:?}" "${AGENT:?}" "${BUSYBOX:?}"
: "${FAULT:?}" "${WORKLOAD:?}" "${KMOD_DIR:?}" "${KMODS:?}" "${BOOT_MODULES:=pvpanic-mmio}"
: "${DISK_MODULES:=}" "${NET_MODULES:=}"
self=$(readlink -f "$0")
# The build directory may be shared by several ninja runs at once: one at a
# time here (the second then finds the image up to date).
exec 9> "$OUT_DIR/.image.lock"
flock 9
vmlinuz_src="$KERNEL_TREE/boot/vmlinuz-$KERNEL_RELEASE"
moddir="$KERNEL_TREE/lib/modules/$KERNEL_RELEASE"
[[ -f $vmlinuz_src ]] || die "$vmlinuz_src missing"

# --- resolve modules (and their dependencies) in the kernel package --------
# resolve <names...>: sets `resolved` to the .ko paths in dependency order.
declare -A seen=()
resolved=()
find_ko() {
	local n=${1//_/-} m=${1//-/_} f
	f=$(find "$moddir/kernel" \( -name "$n.ko" -o -name "$m.ko" -o -name "$n.ko.xz" -o -name "$m.ko.xz" \) -print -quit)
	echo "$f"
}
add_mod() {
	local name=$1 ko deps d
	[[ -n ${seen[$name]:-} ]] && return 0
	seen[$name]=1
	ko=$(find_ko "$name")
	if [[ -z $ko ]]; then
		if grep -qE "/${name//-/[-_]}\.ko\$" "$moddir/modules.builtin" 2>/dev/null; then
			log "module $name is built into the kernel"
			return 0
		fi
		die "module $name not found in $KERNEL_RELEASE (kernel lacks it?)"
	fi
	[[ $ko == *.ko ]] || die "$ko is compressed; not supported"
	deps=$(modinfo -F depends "$ko" | tr ',' ' ')
	for d in $deps; do add_mod "$d"; done
	resolved+=("$ko")
}
resolve() {
	local m
	seen=()
	resolved=()
	for m in "$@"; do add_mod "$m"; done
}
resolve $BOOT_MODULES
boot_kos=("${resolved[@]}")
# Packed but loaded on demand by ezone-fault (diskflood, netflood).
resolve $DISK_MODULES
disk_kos=("${resolved[@]}")
resolve $NET_MODULES
net_kos=("${resolved[@]}")

kmod_files=()
for m in $KMODS; do
	[[ -f $KMOD_DIR/$m.ko ]] || die "$KMOD_DIR/$m.ko missing (ezone_kmods not built?)"
	kmod_files+=("$KMOD_DIR/$m.ko")
done

# --- content hash over all inputs -------------------------------------------
inputs_sha=$( {
	echo "release=$KERNEL_RELEASE pkg=$KERNEL_PACKAGE=$KERNEL_PACKAGE_VERSION pinned=$KERNEL_PINNED pin=$KERNEL_PIN packages=$KERNEL_PACKAGES lkdtm=${LKDTM_SOURCE:-}"
	echo "busybox=$BUSYBOX_VERSION kmods=$KMODS boot=$BOOT_MODULES disk=$DISK_MODULES net=$NET_MODULES"
	sha256sum "$self" "$vmlinuz_src" "$AGENT" "$FAULT" "$WORKLOAD" "$BUSYBOX" "${boot_kos[@]}" \
		"${disk_kos[@]}" "${net_kos[@]}" "${kmod_files[@]}" | awk '{print $1}'
} | sha256sum | cut -c1-64)

stamp="$OUT_DIR/image.inputs.sha256"
if [[ -f $stamp && $(cat "$stamp") == "$inputs_sha" && -f $OUT_DIR/vmlinuz &&
      -f $OUT_DIR/initramfs.cpio.gz && -f $OUT_DIR/guest-manifest.json ]]; then
	log "guest image up to date (inputs $inputs_sha)"
	exit 0
fi

# --- rootfs -----------------------------------------------------------------
work="$OUT_DIR/rootfs.tmp"
rm -rf "$work"
trap 'rm -rf "$work" "$OUT_DIR/initramfs.cpio.gz.tmp" "$OUT_DIR/vmlinuz.tmp"' EXIT
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc/ezone,lib/modules/ezone,root}
install -m 0755 "$AGENT" "$root/init"
install -m 0755 "$FAULT" "$root/bin/ezone-fault"
install -m 0755 "$WORKLOAD" "$root/bin/ezone-workload"
install -m 0755 "$BUSYBOX" "$root/bin/busybox"
# Applet links (relative), from the busybox itself.
while read -r applet; do
	[[ $applet == /bin/busybox || -z $applet ]] && continue
	dir=$(dirname "$applet")
	mkdir -p "$root$dir"
	rel=$(realpath -m --relative-to="$dir" /bin/busybox)
	[[ -e $root$applet ]] || ln -s "$rel" "$root$applet"
done < <("$BUSYBOX" --list-full | sed 's|^|/|')
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"

modlist=()
for ko in "${boot_kos[@]}"; do
	rel=${ko#"$KERNEL_TREE"}
	mkdir -p "$root$(dirname "$rel")"
	install -m 0644 "$ko" "$root$rel"
	echo "$rel" >> "$root/etc/ezone/boot-modules"
	modlist+=("$(basename "$ko" .ko)")
done
touch "$root/etc/ezone/boot-modules"
# pack_list <list file> <ko...>: pack the modules, list their guest paths.
pack_list() {
	local list=$1 ko rel names=()
	shift
	: > "$list"
	for ko in "$@"; do
		rel=${ko#"$KERNEL_TREE"}
		mkdir -p "$root$(dirname "$rel")"
		install -m 0644 "$ko" "$root$rel"
		echo "$rel" >> "$list"
		names+=("$(basename "$ko" .ko)")
	done
	echo "${names[*]}"
}
disk_list=$(pack_list "$root/etc/ezone/modules-disk" "${disk_kos[@]}")
net_list=$(pack_list "$root/etc/ezone/modules-net" "${net_kos[@]}")
for ko in "${kmod_files[@]}"; do
	install -m 0644 "$ko" "$root/lib/modules/ezone/"
done
cp "$moddir"/modules.{order,builtin} "$root/lib/modules/$KERNEL_RELEASE/" 2>/dev/null || true
echo "1" > "$root/etc/ezone/agent-protocol"

# Reproducible cpio: sorted names, fixed mtimes and owners.
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) |
	gzip -n -9 > "$OUT_DIR/initramfs.cpio.gz.tmp"
cp "$vmlinuz_src" "$OUT_DIR/vmlinuz.tmp"

image_sha=$(cat "$OUT_DIR/vmlinuz.tmp" "$OUT_DIR/initramfs.cpio.gz.tmp" | sha256sum | cut -c1-64)
json_list() { local first=1 x; printf '['; for x in "$@"; do ((first)) || printf ', '; first=0; printf '"%s"' "$x"; done; printf ']'; }
all_mods=($KMODS "${modlist[@]}")
cat > "$OUT_DIR/guest-manifest.json.tmp" <<EOT
{
  "kernel_release": "$KERNEL_RELEASE",
  "kernel_package": "$KERNEL_PACKAGE",
  "kernel_package_version": "$KERNEL_PACKAGE_VERSION",
  "pinned": $KERNEL_PINNED,
  "kernel_pin": "$KERNEL_PIN",
  "kernel_packages": "$KERNEL_PACKAGES",
  "lkdtm_source": "${LKDTM_SOURCE:-}",
  "busybox_version": "$BUSYBOX_VERSION",
  "modules": $(json_list "${all_mods[@]}"),
  "ezone_modules": $(json_list $KMODS),
  "boot_modules": $(json_list "${modlist[@]}"),
  "on_demand_modules": {"disk": $(json_list $disk_list), "net": $(json_list $net_list)},
  "fault_program": "/bin/ezone-fault",
  "workload_program": "/bin/ezone-workload",
  "workload_sha256": "$(sha256sum "$WORKLOAD" | cut -c1-64)",
  "pvpanic": {"device": "pvpanic (ISA, ACPI QEMU0001)", "driver": "pvpanic-mmio", "available": $( [[ " ${modlist[*]} " == *" pvpanic-mmio "* ]] && echo true || echo false)},
  "control_channel": "/dev/ttyS1",
  "console": "/dev/ttyS0",
  "image_sha256": "$image_sha",
  "inputs_sha256": "$inputs_sha",
  "agent_protocol": 2
}
EOT
mv "$OUT_DIR/vmlinuz.tmp" "$OUT_DIR/vmlinuz"
mv "$OUT_DIR/initramfs.cpio.gz.tmp" "$OUT_DIR/initramfs.cpio.gz"
mv "$OUT_DIR/guest-manifest.json.tmp" "$OUT_DIR/guest-manifest.json"
echo "$inputs_sha" > "$stamp"
log "guest image built: $(du -h "$OUT_DIR/initramfs.cpio.gz" | cut -f1) initramfs, image $image_sha"
