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

// What the plugin puts into a transient domain.
struct DomainConfig {
  std::string name;                // "ezone-<pid>-<nonce>-<role>"
  std::string domain_type = "kvm";  // "kvm" or "qemu" (TCG)
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
