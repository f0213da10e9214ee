// One Palacios VM, from create to free. The constructor makes it run; on
// any failure, and in the destructor, everything made so far is undone in
// reverse: reader stopped, VM stopped (if launched), stream fds and the VM
// device closed, guest freed, control device closed.
#ifndef EZONE_PLUGINS_VMM_PALACIOS_PALACIOS_GUEST_H_
#define EZONE_PLUGINS_VMM_PALACIOS_PALACIOS_GUEST_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "ezone/sdk.h"
#include "palacios_device.h"

namespace ezone::palacios {

struct GuestRequest {
  std::string name;           // shown in /proc/v3vee/v3-guests; < 128 bytes
  std::string image;          // the packed image (PackImage)
  uint64_t memory_bytes = 0;  // the guest's memory, checked against the pools
  // Add the guest's memory to Palacios (V3_ADD_MEMORY, kernel-allocated)
  // when the pools have too little. Palacios keeps it after the VM is freed,
  // as it does for v3_mem.
  bool add_memory = false;
  // udev makes /dev/v3-vmN after the create ioctl returns.
  std::chrono::milliseconds device_node_wait{3000};
  // How often /proc/v3vee/v3-guests is read for the VM's state.
  std::chrono::milliseconds state_period{250};
  // How long SendControl retries while the guest's UART buffer is full.
  std::chrono::milliseconds write_timeout{2000};
};

class PalaciosGuest {
 public:
  // Creates the VM, connects com1 (-> sink.Console) and com2
  // (-> sink.Control), launches it. Throws ezone::sdk::Declined when the
  // pools lack memory (and add_memory is off), DeviceError when a call fails.
  PalaciosGuest(DeviceIo& io, Paths paths, GuestRequest request, ezone::sdk::VmSink sink);
  ~PalaciosGuest();
  PalaciosGuest(const PalaciosGuest&) = delete;
  PalaciosGuest& operator=(const PalaciosGuest&) = delete;

  // Bytes to the agent (com2). Throws when the stream does not take them.
  void SendControl(std::string_view bytes);
  int index() const { return index_; }

 private:
  void Start();
  void EnsureMemory();
  int OpenVmDevice();
  int ConnectStream(const char* name);
  void ReadLoop();
  void CheckState();
  void Teardown() noexcept;

  DeviceIo& io_;
  const Paths paths_;
  GuestRequest request_;
  ezone::sdk::VmSink sink_;

  int control_fd_ = -1;  // /dev/v3vee
  int index_ = -1;       // the guest's N, once created
  int vm_fd_ = -1;       // /dev/v3-vmN
  int console_fd_ = -1;  // com1 stream
  int agent_fd_ = -1;    // com2 stream
  bool launched_ = false;
  int wake_[2] = {-1, -1};
  std::thread reader_;
  std::mutex write_mutex_;
  bool stop_reported_ = false;  // reader thread only
};

}  // namespace ezone::palacios

#endif  // EZONE_PLUGINS_VMM_PALACIOS_PALACIOS_GUEST_H_
