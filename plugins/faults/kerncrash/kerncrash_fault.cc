// E-Zone 3, guest kernel: the paper's fault. Loads kmod/kerncrash in the
// guest through the agent; the module faults from a timer after delay_ms.
//
// Options (suite fault-options): delay_ms=<n> (default 200).
#include <string>

#include "ezone/sdk.h"

namespace {

constexpr uint32_t kCrashSigns = EZONE_SIGN_GUEST_KERNEL_CRASH | EZONE_SIGN_GUEST_HANG;

class KerncrashFault {
 public:
  static constexpr ezone_fault_variant kVariants[] = {
      {"divzero", EZONE_ZONE_GUEST_KERNEL, kCrashSigns,
       "integer divide by zero in a timer callback (the paper's fault)"},
      {"nullderef", EZONE_ZONE_GUEST_KERNEL, kCrashSigns,
       "NULL pointer dereference in a timer callback"},
      {"panic", EZONE_ZONE_GUEST_KERNEL, kCrashSigns, "explicit panic()"},
      {"bug", EZONE_ZONE_GUEST_KERNEL, kCrashSigns, "BUG() in a timer callback"},
      {"hang", EZONE_ZONE_GUEST_KERNEL, kCrashSigns,
       "spin forever with interrupts off (the guest goes silent)"},
  };

  static void Fire(std::string_view variant, const ezone::sdk::Options& options,
                   ezone::sdk::FaultTarget& target) {
    std::string delay = options.Get("delay_ms", "200");
    if (delay.empty() || delay.find_first_not_of("0123456789") != std::string::npos) {
      throw std::invalid_argument("delay_ms must be a whole number, not '" + delay + "'");
    }
    target.AgentCommand("insmod kerncrash mode=" + std::string(variant) + " delay_ms=" + delay);
  }
};

}  // namespace

EZONE_FAULT_PLUGIN(KerncrashFault, "kerncrash", "0.1.0",
                   "guest kernel faults from kmod/kerncrash (E-Zone 3)")
