// An example fault plugin (E-Zone 2, host user space): asks the VMM process
// to terminate with SIGTERM. The core sees the VMM exit and checks that the
// host did not mind.
#include <signal.h>

#include <stdexcept>
#include <string>

#include "ezone/sdk.h"

namespace {

class SigtermFault {
 public:
  static constexpr ezone_fault_variant kVariants[] = {
      {"sigterm", EZONE_ZONE_HOST_USER, EZONE_SIGN_VMM_EXIT,
       "SIGTERM to the VMM process from the host"},
  };

  static void Fire(std::string_view, const ezone::sdk::Options&,
                   ezone::sdk::FaultTarget& target) {
    int64_t pid = target.VmmPid();
    if (pid <= 0) {
      // Not every VMM is a host process (capability EZONE_CAP_PROCESS).
      throw ezone::sdk::Declined(target.VmmName() + " has no host process to signal");
    }
    if (kill(static_cast<pid_t>(pid), SIGTERM) != 0) {
      throw std::runtime_error("kill(" + std::to_string(pid) + ", SIGTERM) failed");
    }
  }
};

}  // namespace

EZONE_FAULT_PLUGIN(SigtermFault, "example-sigterm", "1.0",
                   "example: SIGTERM to the VMM process (E-Zone 2)")
