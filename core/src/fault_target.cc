#include "fault_target.h"

#include <cstdio>

namespace ezone {

FaultTarget::FaultTarget(VmSession* vm, EventQueue* events, std::string vmm_name,
                         uint32_t memory_mib)
    : vm_(vm), events_(events), vmm_name_(std::move(vmm_name)) {
  target_.core = this;
  target_.agent_command = &FaultTarget::AgentCommand;
  target_.vmm_pid = &FaultTarget::VmmPid;
  target_.vmm_name = vmm_name_.c_str();
  target_.observed = &FaultTarget::Observed;
  target_.guest_memory = &FaultTarget::GuestMemory;
  target_.guest_memory_mib = memory_mib;
}

ezone_status FaultTarget::AgentCommand(void* core, const char* command, uint32_t timeout_ms,
                                       char* reply, size_t reply_size) {
  auto* self = static_cast<FaultTarget*>(core);
  std::string text;
  AgentStatus status =
      self->vm_->Command(command, std::chrono::milliseconds(timeout_ms), &text);
  snprintf(reply, reply_size, "%s", text.c_str());
  // The plugin tells an answer from its absence by the status, never by
  // the words of *reply.
  switch (status) {
    case AgentStatus::kOk: return EZONE_OK;
    case AgentStatus::kError: return EZONE_FAILED;
    case AgentStatus::kTimeout: return EZONE_TIMEOUT;
    case AgentStatus::kVmGone: return EZONE_VM_GONE;
    case AgentStatus::kUnreachable: break;
  }
  return EZONE_FAILED;
}

int64_t FaultTarget::VmmPid(void* core) { return static_cast<FaultTarget*>(core)->vm_->Pid(); }

void FaultTarget::Observed(void* core, uint32_t sign, const char* evidence) {
  auto* self = static_cast<FaultTarget*>(core);
  VmEvent e{VmEvent::Kind::kFaultObserved, Clock::now(), evidence ? evidence : "",
            ConsoleClass::kNone, Role::kVictim, sign};
  self->events_->Push(std::move(e));
}

ezone_status FaultTarget::GuestMemory(void* core, int write, uint64_t phys, void* buffer,
                                      size_t size, char* msg, size_t msg_size) {
  std::string error;
  ezone_status status =
      static_cast<FaultTarget*>(core)->vm_->GuestMemory(write != 0, phys, buffer, size, &error);
  snprintf(msg, msg_size, "%s", error.c_str());
  return status;
}

}  // namespace ezone
