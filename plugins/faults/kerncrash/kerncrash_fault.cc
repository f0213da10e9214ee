// E-Zone 3, guest kernel: the paper's fault. Loads kmod/kerncrash in the
// guest through the agent; the module faults from a timer after delay_ms.
//
// Options (suite fault-options): delay_ms=<n> (default 200),
// duration_ms=<n> (softlockup: how long to spin, default 30000). softlockup
// needs the guest kernel argument watchdog_thresh=1 to be reported in ~3 s.
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
      {"softlockup", EZONE_ZONE_GUEST_KERNEL, kCrashSigns,
       "spin with preemption off in a kworker (soft lockup watchdog)"},
      {"stackoverflow", EZONE_ZONE_GUEST_KERNEL, kCrashSigns,
       "unbounded kernel recursion into the stack guard page"},
      {"memcorrupt", EZONE_ZONE_GUEST_KERNEL, kCrashSigns,
       "stray write corrupting a kernel list, caught by list debugging"},
  };

  static void Fire(std::string_view variant, const ezone::sdk::Options& options,
                   ezone::sdk::FaultTarget& target) {
    std::string delay = std::to_string(options.GetNumber("delay_ms", 200));
    std::string command = "insmod kerncrash mode=" + std::string(variant) + " delay_ms=" + delay;
    if (options.Has("duration_ms")) {
      command += " duration_ms=" + std::to_string(options.GetNumber("duration_ms", 0));
    }
    target.AgentCommand(command);
  }
};

}  // namespace

EZONE_FAULT_PLUGIN(KerncrashFault, "kerncrash", "0.1.0",
                   "guest kernel faults from kmod/kerncrash (E-Zone 3)")
