// The guest configuration Palacios reads from a packed image: a PC with two
// 16550 UARTs whose ports are streams named com1 (ttyS0, the kernel console)
// and com2 (ttyS1, the agent's control channel), booting an El Torito ISO
// from a RAMDISK-backed IDE CD-ROM. The format is Palacios's own (see its
// vmm_config.c and the devices' *_init functions).
#ifndef EZONE_PLUGINS_VMM_PALACIOS_PALACIOS_CONFIG_H_
#define EZONE_PLUGINS_VMM_PALACIOS_PALACIOS_CONFIG_H_

#include <cstdint>
#include <string>

namespace ezone::palacios {

// Stream names the guest's serial ports get (and the stream ioctl asks for).
inline constexpr char kConsoleStream[] = "com1";
inline constexpr char kControlStream[] = "com2";
// The boot CD's id in <files>, and its index in the packed image.
inline constexpr char kBootFileId[] = "ezone-boot-cd";

struct GuestConfig {
  uint32_t memory_mib = 256;
  uint32_t cores = 1;
  // "nested" (AMD NPT / Intel EPT) or "shadow" (software page tables).
  std::string paging = "nested";
};

// The <vm class="PC"> document. Throws std::invalid_argument for a paging
// mode other than nested/shadow, zero memory or zero cores.
std::string BuildConfigXml(const GuestConfig& config);

}  // namespace ezone::palacios

#endif  // EZONE_PLUGINS_VMM_PALACIOS_PALACIOS_CONFIG_H_
