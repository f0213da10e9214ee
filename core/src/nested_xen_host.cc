#include "nested_xen_host.h"

#include <filesystem>
#include <string>

#include "build_config.h"
#include "nested_host.h"

namespace ezone::xen_host {
namespace {

namespace fs = std::filesystem;

// Xen's command line. Each choice is a TCG workaround or a test-bed need;
// what failed without it was seen on QEMU 7.2 TCG here (issue 22):
//   console=com1    Xen's own messages, and dom0's (hvc0 goes through Xen's
//                   console), on the first UART: the console the runner
//                   classifies. com2 stays dom0's: the agent's ttyS1.
//   dom0=pvh        a PV dom0 crashed early under TCG ("d0v0 Unhandled:
//                   vec 14, #PF"); PVH runs dom0 in an SVM guest with NPT.
//   iommu=1         "Presently, iommu must be enabled for PVH hardware
//                   domain": QEMU's emulated AMD IOMMU (qemu plugin
//                   iommu=amd) provides one.
//   cpuidle=0       no deep C-states to enter on an emulated CPU.
//   dom0_mem        1 GiB for dom0 (its initramfs holds 150 MB of tools),
//                   the rest for domUs; fixed (max:), since libxl's
//                   autoballooning is off (libxl.conf).
//   no noreboot     a hypervisor panic or a dom0 crash reboots the machine
//                   after 5 s; QEMU's -no-reboot turns that into its exit,
//                   which the core sees (the KVM flavour's panic=-1).
constexpr const char kXenCmdline[] =
    "console=com1 com1=115200,8n1 dom0=pvh dom0_mem=1024M,max:1024M iommu=1 cpuidle=0 "
    "loglvl=all guest_loglvl=all";

// The KVM flavour's CPU (nested_host.h) plus:
//   -rdtscp   TCG cannot give Xen the next-RIP on VM exits (nrip-save, not
//             in QEMU 7.2's TCG SVM features), and without it Xen cannot
//             emulate RDTSCP for a guest ("SVM Insn len emulation failed").
//   -monitor  with MONITOR/MWAIT advertised, Xen's idle loop takes a
//             general protection fault under TCG.
constexpr const char kXenCpu[] =
    "EPYC,+svm,+npt,-rdseed,-sha-ni,-fxsr-opt,-misalignsse,-3dnowprefetch,-osvw,-topoext,"
    "-nrip-save,-xsavec,-rdtscp,-monitor";

// QEMU's option syntax doubles a comma inside a value (the multiboot
// module list is split at single commas).
std::string QemuEscape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == ',' ? std::string(",,") : std::string(1, c);
  return out;
}

}  // namespace

NestedHostImage Locate() {
  NestedHostImage image;
  std::string build_dir = std::string(kBuildNestedHostDir) + "-xen";
  std::string install_dir = std::string(kInstallNestedHostDir) + "-xen";
  static_cast<BootImage&>(image) = FindBootImage(
      BootImageDirs("EZONE_NESTED_XEN_HOST_DIR", install_dir.c_str(), build_dir.c_str()),
      {"vmlinuz", "initramfs.cpio", "nested-host-manifest.json", "nested_host_",
       "Xen nested host image",
       "build it with: cmake --build build --target ezone_nested_xen_host_image "
       "(configured with -DEZONE_NESTED_HOST=ON -DEZONE_NESTED_XEN_HOST=ON)"});
  image.flavour = kFlavour;
  if (image.missing.empty()) {
    image.hypervisor = image.kernel.parent_path() / "xen";
    if (!fs::exists(image.hypervisor)) {
      image.missing = "Xen nested host image: " + image.hypervisor.string() + " missing";
    }
  }
  return image;
}

BootRequest BootRequestFor(const NestedHostImage& image, const std::string& dom0_cmdline,
                           const std::string& options, uint32_t memory_mib) {
  BootRequest host;
  host.kernel = image.hypervisor.string();
  host.cmdline = kXenCmdline;
  // dom0's console is Xen's (hvc0), on com1 with Xen's own lines.
  host.initramfs = QemuEscape(image.kernel.string() + " " + dom0_cmdline + " console=hvc0") +
                   "," + QemuEscape(image.initramfs.string());
  host.memory_mib = memory_mib;
  // One CPU: with two, Xen took a general protection fault under TCG.
  host.vcpus = 1;
  // QEMU's AMD IOMMU for Xen's PVH dom0 (above). The NIC is an e1000e, not
  // virtio: a legacy virtio device bypasses the IOMMU and would write to
  // dom0's guest-physical addresses as if they were the machine's, which
  // under Xen they are not.
  host.options = std::string("cpu=") + kXenCpu + ";iommu=amd;nic_model=e1000e;" + options;
  return host;
}

}  // namespace ezone::xen_host
