// Pieces of the kvm VMM plugin that need no running VM: the domain XML, the
// libvirt URI and error helpers. Kept apart so tests can check them against
// a real libvirtd without booting anything.
#ifndef EZONE_PLUGINS_VMM_KVM_KVM_DOMAIN_H_
#define EZONE_PLUGINS_VMM_KVM_KVM_DOMAIN_H_

#include <libvirt/libvirt.h>

#include <cstdint>
#include <string>

namespace ezone::kvm {

inline constexpr char kDefaultUri[] = "qemu:///system";
inline constexpr char kDefaultXenUri[] = "xen:///system";

// What the plugin puts into a transient domain.
struct DomainConfig {
  std::string name;                // "ezone-<pid>-<nonce>-<role>"
  std::string domain_type = "kvm";  // "kvm", "qemu" (TCG) or "xen" (libxl, HVM)
  std::string machine = "q35";
  std::string cpu_mode;  // "" picks host-passthrough (kvm) / maximum (qemu)
  std::string emulator;  // "" lets libvirt choose
  std::string kernel, initrd, cmdline;
  uint32_t memory_mib = 256;
  uint32_t vcpus = 1;
};

// The domain XML (libvirt's format), generated with pugixml: direct kernel
// boot, the two serial ports as ptys (ttyS0 console, ttyS1 agent), an ISA
// pvpanic device, no disk, no NIC, destroy on crash, poweroff and reboot.
std::string BuildDomainXml(const DomainConfig& config);

// Snapshot mode. libvirt's restore refuses a domain XML whose name or uuid
// differs from the saved one ("Target domain name ... does not match"), yet
// every restored VM needs its own (parallel checks, victim beside witness).
// So the plugin rewrites the XML inside a copy of the saved image: libvirt's
// qemu save format is a 92-byte header ("LibvirtQemudSave", version 2,
// data_len, was_running, compressed, cookieOffset, unused), then data_len
// bytes of domain XML, NUL, migration cookie, NUL and zero padding, then
// QEMU's migration stream, copied as it is.
//
// Writes to `out_fd` (at its current offset) the image `in_path` with the
// domain renamed to `name` and its <uuid> dropped (libvirt makes a new one).
// Throws std::runtime_error naming the file when it is not such an image.
void CopySaveImageRenamed(const std::string& in_path, int out_fd, const std::string& name);

// The domain XML of a saved image (what CopySaveImageRenamed rewrites).
std::string SaveImageXml(const std::string& in_path);

// True when the URI names this machine (no host part): only then can the
// plugin see the qemu process (pid file, log file).
bool IsLocalUri(const std::string& uri);

// libvirt's last error message, or `fallback` when libvirt has none.
std::string LastError(const std::string& fallback = "unknown libvirt error");

// Connection failures come in two kinds: the daemon is not there (a host
// without libvirtd: the check is skipped) or the URI itself is wrong (an
// error in the suite). Both messages name the URI.
struct ConnectResult {
  virConnectPtr conn = nullptr;  // owned by the caller: virConnectClose
  bool unreachable = false;      // libvirtd not reachable (vs. a bad URI)
  std::string error;
};
ConnectResult Connect(const std::string& uri);

// Registers libvirt's default event loop and runs it on a thread of its own,
// once per process (libvirt requires the registration before the first
// connection that uses events). The thread lives as long as the process,
// like the plugin library that is never unloaded.
void EnsureEventLoop();

}  // namespace ezone::kvm

#endif  // EZONE_PLUGINS_VMM_KVM_KVM_DOMAIN_H_
