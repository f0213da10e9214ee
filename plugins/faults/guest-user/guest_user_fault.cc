// E-Zone 4, guest user space: a program in the victim misbehaves. The guest
// kernel must cope (kill it, OOM-kill it, schedule around it); nothing may
// reach the host or the witness. Runs guest/faults/ezone-fault through the
// agent.
//
// Options: seconds=<n> (forkbomb, cpuhog; default 5), mib=<n> (oom: how much
// to try to allocate; default: until the OOM killer acts).
#include <string>

#include "ezone/sdk.h"

namespace {

class GuestUserFault {
 public:
  static constexpr ezone_fault_variant kVariants[] = {
      {"segv", EZONE_ZONE_GUEST_USER, EZONE_SIGN_GUEST_PROCESS_DIED,
       "a guest program dereferences NULL and dies of SIGSEGV"},
      {"oom", EZONE_ZONE_GUEST_USER, EZONE_SIGN_GUEST_OOM_KILL | EZONE_SIGN_GUEST_PROCESS_DIED,
       "a guest program allocates until the guest's OOM killer kills it"},
      {"forkbomb", EZONE_ZONE_GUEST_USER,
       EZONE_SIGN_FAULT_CONFIRMED | EZONE_SIGN_GUEST_HANG | EZONE_SIGN_GUEST_OOM_KILL,
       "a guest program forks as fast as it can"},
      {"cpuhog", EZONE_ZONE_GUEST_USER, EZONE_SIGN_FAULT_CONFIRMED | EZONE_SIGN_GUEST_HANG,
       "a guest program spins on every guest CPU"},
  };

  static void Fire(std::string_view variant, const ezone::sdk::Options& options,
                   ezone::sdk::FaultTarget& target) {
    uint64_t seconds = options.GetNumber("seconds", 5);
    std::string command = "run ezone-fault " + std::string(variant);
    if (variant == "forkbomb" || variant == "cpuhog") command += " " + std::to_string(seconds);
    if (variant == "oom" && options.Has("mib")) command += " " + std::to_string(options.GetNumber("mib", 0));
    // The agent answers when the program ends: at once for segv, when the
    // OOM killer strikes for oom, after `seconds` for the hogs.
    uint32_t timeout_ms = static_cast<uint32_t>(seconds * 1000 + 30000);
    ezone::sdk::AgentReply r = target.AgentCall(command, timeout_ms);
    const std::string& reply = r.text;
    std::string what = "ezone-fault " + std::string(variant);
    if (r.refused() && reply.rfind("signal=", 0) == 0) {
      target.Observed(EZONE_SIGN_GUEST_PROCESS_DIED, what + " died of " + reply);
    } else if (r.ok() && reply == "exit=0" && (variant == "forkbomb" || variant == "cpuhog")) {
      target.Observed(EZONE_SIGN_FAULT_CONFIRMED,
                      what + " ran its " + std::to_string(seconds) + " s to completion");
    } else if (r.unanswered()) {
      // The guest is too busy to answer, or went down: the core's heartbeat
      // and console watch decide.
    } else {
      throw std::runtime_error(what + " did not do what it should: agent said '" + reply + "'");
    }
  }
};

}  // namespace

EZONE_FAULT_PLUGIN(GuestUserFault, "guest-user", "0.1.0",
                   "misbehaving guest programs (E-Zone 4)")
