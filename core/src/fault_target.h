// The fault plugin's view of a check: the ABI's ezone_fault_target, backed
// by the VM the fault is aimed at (the victim, or the nested host for an
// E-Zone 1 fault) and the check's event queue.
#ifndef EZONE_CORE_FAULT_TARGET_H_
#define EZONE_CORE_FAULT_TARGET_H_

#include <string>

#include "ezone/plugin_abi.h"
#include "vm_session.h"

namespace ezone {

class FaultTarget {
 public:
  // `vm` answers agent commands and memory access; `events` receives what
  // the plugin reports it observed, tagged as the victim's.
  FaultTarget(VmSession* vm, EventQueue* events, std::string vmm_name, uint32_t memory_mib);
  FaultTarget(const FaultTarget&) = delete;
  FaultTarget& operator=(const FaultTarget&) = delete;

  // Valid while this object lives.
  const ezone_fault_target* abi() const { return &target_; }

 private:
  static ezone_status AgentCommand(void* core, const char* command, uint32_t timeout_ms,
                                   char* reply, size_t reply_size);
  static int64_t VmmPid(void* core);
  static void Observed(void* core, uint32_t sign, const char* evidence);
  static ezone_status GuestMemory(void* core, int write, uint64_t phys, void* buffer,
                                  size_t size, char* msg, size_t msg_size);

  VmSession* vm_;
  EventQueue* events_;
  std::string vmm_name_;
  ezone_fault_target target_{};
};

}  // namespace ezone

#endif  // EZONE_CORE_FAULT_TARGET_H_
