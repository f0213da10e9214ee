// Host pressure from inside the guest (E-Zone 4 faults aimed at the host's
// resources): a guest program floods its virtual disk or NIC, or makes the
// host back all of the guest's memory. In the paper, Palacios's host failed
// through its network bridge: this is how ezone looks for that.
//
// Needs the VMM to give the guest the device: for qemu, vmm-options
// "disk=<MiB>" (diskflood) or "nic=user" (netflood).
// Options: seconds=<n> (netflood, default 5), mib=<n> (diskflood; for
// consoleflood the amount of random bytes, default 8).
#include <string>

#include "ezone/sdk.h"

namespace {

constexpr uint32_t kSigns = EZONE_SIGN_FAULT_CONFIRMED | EZONE_SIGN_GUEST_OOM_KILL;

class HostPressureFault {
 public:
  // Its load is the host's, not the victim's alone: its checks run alone.
  static constexpr uint64_t kCapabilities = EZONE_CAP_HOST_WIDE;
  static constexpr ezone_fault_variant kVariants[] = {
      {"diskflood", EZONE_ZONE_GUEST_USER, kSigns, "O_DIRECT writes over the whole virtual disk"},
      {"netflood", EZONE_ZONE_GUEST_USER, kSigns, "UDP flood from the guest to the host"},
      {"mempressure", EZONE_ZONE_GUEST_USER, kSigns,
       "touch all guest memory, so the host must back every page"},
      {"consoleflood", EZONE_ZONE_GUEST_USER, kSigns,
       "random bytes down the serial console, as fast as the guest can write"},
  };

  static void Fire(std::string_view variant, const ezone::sdk::Options& options,
                   ezone::sdk::FaultTarget& target) {
    uint64_t seconds = options.GetNumber("seconds", 5);
    std::string command;
    if (variant == "diskflood") {
      command = "run ezone-fault diskflood";
      if (options.Has("mib")) command += " " + std::to_string(options.GetNumber("mib", 0));
    } else if (variant == "consoleflood") {
      // Raw random bytes: control characters, invalid UTF-8, no newlines for
      // long stretches. The host's console handling must stay bounded.
      command = "run dd if=/dev/urandom of=/dev/ttyS0 bs=4096 count=" +
                std::to_string(options.GetNumber("mib", 8) * 256);
    } else if (variant == "netflood") {
      command = "run ezone-fault netflood " + std::to_string(seconds);
    } else {
      command = "run ezone-fault oom";  // allocates and touches until the OOM killer acts
    }
    std::string reply;
    bool exited = target.TryAgentCommand(command, &reply, static_cast<uint32_t>(seconds * 1000 + 60000));
    std::string what = "ezone-fault " + std::string(variant);
    if (exited && reply == "exit=2") {
      throw ezone::sdk::Declined(target.VmmName() + " gave the guest no " +
                                 (variant == "diskflood" ? "virtual disk (vmm-options disk=<MiB>)"
                                                         : "NIC (vmm-options nic=user)"));
    }
    if (exited && reply == "exit=0") {
      target.Observed(EZONE_SIGN_FAULT_CONFIRMED, what + " ran to completion");
    } else if (variant == "mempressure" && reply == "signal=9") {
      target.Observed(EZONE_SIGN_FAULT_CONFIRMED, what + " used all guest memory until OOM-killed");
    } else {
      throw std::runtime_error(what + " failed: agent said '" + reply + "'");
    }
  }
};

}  // namespace

EZONE_FAULT_PLUGIN(HostPressureFault, "host-pressure", "0.1.0",
                   "guest programs that load the host's disk, network and memory")
