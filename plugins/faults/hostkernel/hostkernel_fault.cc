// E-Zone 1, host kernel: kmod/kerncrash built for the nested host's kernel,
// loaded there by its agent. The core fires E-Zone 1 variants only on a
// nested host (host="nested"), where the agent it hands this plugin is the
// nested host's; on the machine ezone runs on they are skipped.
//
// Options (suite fault-options): delay_ms=<n> (default 200).
#include <string>

#include "ezone/sdk.h"

namespace {

constexpr uint32_t kHostSigns = EZONE_SIGN_HOST_KERNEL_CRASH | EZONE_SIGN_HOST_HANG;

class HostKernelFault {
 public:
  static constexpr ezone_fault_variant kVariants[] = {
      {"panic", EZONE_ZONE_HOST_KERNEL, kHostSigns, "explicit panic() in the host kernel"},
      {"divzero", EZONE_ZONE_HOST_KERNEL, kHostSigns,
       "integer divide by zero in a host kernel timer callback"},
      {"nullderef", EZONE_ZONE_HOST_KERNEL, kHostSigns,
       "NULL pointer dereference in a host kernel timer callback"},
      {"hang", EZONE_ZONE_HOST_KERNEL, kHostSigns,
       "a host CPU spins forever with interrupts off"},
      {"memcorrupt", EZONE_ZONE_HOST_KERNEL, kHostSigns,
       "stray write corrupting a host kernel list, caught by list debugging"},
  };

  static void Fire(std::string_view variant, const ezone::sdk::Options& options,
                   ezone::sdk::FaultTarget& target) {
    std::string delay = std::to_string(options.GetNumber("delay_ms", 200));
    target.AgentCommand("insmod kerncrash mode=" + std::string(variant) + " delay_ms=" + delay);
  }
};

}  // namespace

EZONE_FAULT_PLUGIN(HostKernelFault, "hostkernel", "0.1.0",
                   "host kernel faults from kmod/kerncrash on a nested host (E-Zone 1)")
