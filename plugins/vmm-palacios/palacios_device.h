// Palacios's Linux control interface (v3vee.ko), from its source
// (linux_module/palacios.h, main.c, vm.c, iface-stream.c, buddy.c):
//
//   /dev/v3vee      create guest 12 (struct v3_guest_img*) -> index N,
//                   free guest 13 (N by value), add memory 50 (v3_mem_region*)
//   /dev/v3-vmN     launch 25, stop 26, pause 23, continue 24,
//                   stream connect 21 (char[128] name) -> a byte-stream fd
//   /proc/v3vee/    v3-guests (one line per VM, with its state),
//                   v3-mem<node> (the memory pools, "free=<bytes>")
//
// Request numbers are plain integers, not _IO() encoded. Every call goes
// through DeviceIo, so tests can stand in for the kernel module.
#ifndef EZONE_PLUGINS_VMM_PALACIOS_PALACIOS_DEVICE_H_
#define EZONE_PLUGINS_VMM_PALACIOS_PALACIOS_DEVICE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ezone::palacios {

// ioctl requests.
inline constexpr unsigned long kCreateGuest = 12;
inline constexpr unsigned long kFreeGuest = 13;
inline constexpr unsigned long kAddMemory = 50;
inline constexpr unsigned long kVmStreamConnect = 21;
inline constexpr unsigned long kVmPause = 23;
inline constexpr unsigned long kVmContinue = 24;
inline constexpr unsigned long kVmLaunch = 25;
inline constexpr unsigned long kVmStop = 26;
// Not a Palacios request: the module answers EINVAL, any other driver
// ENOTTY. The probe uses it to tell the two apart without side effects.
inline constexpr unsigned long kUnusedRequest = 0;

inline constexpr size_t kNameLen = 128;  // guest and stream names
inline constexpr uint64_t kPageSize = 4096;

// The kernel's structures, packed as there (x86_64).
#pragma pack(push, 1)
struct GuestImageArg {  // struct v3_guest_img
  uint64_t size;
  const void* guest_data;
  char name[kNameLen];
};
struct MemRegionArg {  // struct v3_mem_region
  int32_t type;        // v3_mem_region_type_t (an enum: int)
  int32_t node;        // NUMA node, -1 = any
  uint64_t base_addr;  // for PREALLOCATED only
  uint64_t num_pages;  // 4 KiB pages
};
#pragma pack(pop)
static_assert(sizeof(GuestImageArg) == 8 + sizeof(void*) + kNameLen);
static_assert(sizeof(MemRegionArg) == 24);
inline constexpr int32_t kMemRequested = 1;  // "kernel allocates, anywhere"

// The system calls the plugin makes, so a test can be the kernel module.
class DeviceIo {
 public:
  virtual ~DeviceIo() = default;
  virtual bool Exists(const std::string& path) = 0;
  // open(path, O_RDONLY | O_CLOEXEC) like Palacios's tools: -1 and errno.
  virtual int Open(const std::string& path) = 0;
  // ioctl(fd, request, arg): the result, or -1 and errno.
  virtual int Ioctl(int fd, unsigned long request, unsigned long arg) = 0;
  virtual void Close(int fd) = 0;
  // A whole (proc) file, or nullopt.
  virtual std::optional<std::string> ReadText(const std::string& path) = 0;
  // Entries of a directory (names only), empty when it cannot be read.
  virtual std::vector<std::string> List(const std::string& dir) = 0;
};

// The real thing.
DeviceIo& SystemDeviceIo();

struct Paths {
  std::string control = "/dev/v3vee";
  std::string proc = "/proc/v3vee";
  std::string vm_prefix = "/dev/v3-vm";  // + N
};

// A Palacios call that failed: what, on which file, and errno's text.
class DeviceError : public std::runtime_error {
 public:
  DeviceError(const std::string& what, int error);
  int error() const { return error_; }

 private:
  int error_;
};

// Free bytes in Palacios's memory pools: the sum of "free=" over
// /proc/v3vee/v3-mem*. nullopt when there is no v3-mem file.
std::optional<uint64_t> FreePalaciosMemory(DeviceIo& io, const Paths& paths);

// The state column of /proc/v3vee/v3-guests for /dev/v3-vm<index>
// ("running", "stopped", "paused", "ERROR", ...), or "" when not listed.
std::string GuestState(DeviceIo& io, const Paths& paths, int index);

// Whether this host can run a Palacios guest of `need_bytes`; throws
// ezone::sdk::Declined with the precise reason. With `may_add_memory` a
// shortage is not a reason (Create adds memory). Cheap: no guest is made.
void ProbeHost(DeviceIo& io, const Paths& paths, uint64_t need_bytes, bool may_add_memory);

}  // namespace ezone::palacios

#endif  // EZONE_PLUGINS_VMM_PALACIOS_PALACIOS_DEVICE_H_
