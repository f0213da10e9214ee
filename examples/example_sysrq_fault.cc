// An example fault plugin (E-Zone 3, guest kernel): magic SysRq 'c' crashes
// the guest kernel. The write never returns, so it goes out with the agent's
// `nowait`: the agent acknowledges, then writes, and the core judges the
// outcome by what it observes (the panic on the console, pvpanic), never by
// a reply. See the installed agent-protocol.md.
#include <stdexcept>
#include <string>

#include "ezone/sdk.h"

namespace {

class SysrqFault {
 public:
  static constexpr ezone_fault_variant kVariants[] = {
      {"crash", EZONE_ZONE_GUEST_KERNEL, EZONE_SIGN_GUEST_KERNEL_CRASH,
       "SysRq 'c': the guest kernel crashes on purpose"},
  };

  static void Fire(std::string_view, const ezone::sdk::Options&,
                   ezone::sdk::FaultTarget& target) {
    ezone::sdk::AgentReply r = target.NoWait("write /proc/sysrq-trigger c");
    // Not received at all: nothing was fired, which is an error of the check.
    if (!r.ok()) throw std::runtime_error("the agent did not take the command: " + r.text);
  }
};

}  // namespace

EZONE_FAULT_PLUGIN(SysrqFault, "example-sysrq", "1.0",
                   "example: SysRq crash of the guest kernel, fire and forget (E-Zone 3)")
