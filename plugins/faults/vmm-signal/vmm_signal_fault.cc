// E-Zone 2, host user space: the VMM process is killed, crashed or frozen
// from outside, as an operator's mistake, an OOM kill or a bug in the VMM
// would. The victim must go down alone: host and witness unharmed.
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "ezone/sdk.h"

namespace {

class VmmSignalFault {
 public:
  static constexpr ezone_fault_variant kVariants[] = {
      {"sigkill", EZONE_ZONE_HOST_USER, EZONE_SIGN_VMM_EXIT,
       "SIGKILL to the VMM process (killed from outside)"},
      {"sigsegv", EZONE_ZONE_HOST_USER, EZONE_SIGN_VMM_EXIT,
       "SIGSEGV to the VMM process (as if the VMM crashed)"},
      {"sigstop", EZONE_ZONE_HOST_USER, EZONE_SIGN_GUEST_HANG,
       "SIGSTOP to the VMM process (frozen: the guest goes silent)"},
  };

  static void Fire(std::string_view variant, const ezone::sdk::Options&,
                   ezone::sdk::FaultTarget& target) {
    int64_t pid = target.VmmPid();
    if (pid <= 0) {
      throw ezone::sdk::Declined(target.VmmName() +
                                 " does not run the VM as a host process this plugin can signal");
    }
    int sig = variant == "sigkill" ? SIGKILL : variant == "sigsegv" ? SIGSEGV : SIGSTOP;
    if (kill(static_cast<pid_t>(pid), sig) != 0) {
      throw std::runtime_error("kill(" + std::to_string(pid) + ", " + strsignal(sig) +
                               "): " + std::strerror(errno));
    }
  }
};

}  // namespace

EZONE_FAULT_PLUGIN(VmmSignalFault, "vmm-signal", "0.1.0",
                   "signals to the VMM process from the host (E-Zone 2)")
