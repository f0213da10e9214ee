// The Xen flavour of the nested host (issue 22, xen@nested): Xen 4.17 with a
// PVH dom0 (the nested host's own Debian amd64 kernel), the Xen toolstack
// and libvirtd's libxl driver (nested-host/build-xen-host.sh, xen-init).
// nested_host.cc boots it like the KVM flavour, through the qemu plugin;
// what differs (the image, QEMU's multiboot loading of Xen, the emulated
// CPU and IOMMU, libvirt's URI scheme, the leak check) is here.
#ifndef EZONE_CORE_NESTED_XEN_HOST_H_
#define EZONE_CORE_NESTED_XEN_HOST_H_

#include <string>

#include "vm_session.h"

namespace ezone {

struct NestedHostImage;

namespace xen_host {

// The flavour name, as in the image's manifest and NestedHostFlavourFor.
inline constexpr const char kFlavour[] = "xen";

// xen, vmlinuz (dom0), initramfs.cpio and the manifest, from
// $EZONE_NESTED_XEN_HOST_DIR, the build tree (<nested host dir>-xen) or the
// install tree.
NestedHostImage Locate();

// The boot request of the Xen nested host: QEMU's multiboot loader starts
// Xen (`-kernel xen -append <Xen's command line>`), and takes dom0's kernel
// and its command line, then the initramfs, as multiboot modules
// (`-initrd "vmlinuz <dom0 args>,initramfs.cpio"`). `dom0_cmdline` is the
// agent's command line (nonce, heartbeat) for dom0; `options` are the qemu
// plugin options common to both flavours (hostfwd, fw_cfg_dir).
BootRequest BootRequestFor(const NestedHostImage& image, const std::string& dom0_cmdline,
                           const std::string& options, uint32_t memory_mib);

// libvirt's URI scheme for the libxl driver.
inline constexpr const char kUriScheme[] = "xen+tls";

// The agent command (`run ...`) that exits 0 when a domU or its device
// model is still there after teardown.
inline constexpr const char kLeakCheck[] = "run /sbin/ezone-vm-left";

}  // namespace xen_host
}  // namespace ezone

#endif  // EZONE_CORE_NESTED_XEN_HOST_H_
