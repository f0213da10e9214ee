// Waiting for READY, as one pure state machine for every boot path (the
// victim and the witness, the nested host, the snapshot template, the
// bench): fed the check's events and clock readings, it says when each VM
// it expects is READY, when one failed before READY (and whether it may boot
// again once), and when the nested host under the booting VMs failed.
// No I/O: CheckRun::AwaitReady() does the waiting and acts on each step.
#ifndef EZONE_CORE_READY_WATCH_H_
#define EZONE_CORE_READY_WATCH_H_

#include <chrono>

#include <map>
#include <optional>
#include <set>
#include <string>

#include "ezone/report/check_record.h"
#include "vm_session.h"

namespace ezone {

// A VM whose console said nothing for this long before READY has stalled:
// a guest's boot pauses 3.5 s at most in CI runs, a nested host's 2.6 s
// (its first line comes within seconds of its start; far more room for a
// loaded machine). Stalled ones stopped mid-line and stayed silent: nested
// guests with their host alive, and a nested host's init before libvirtd
// was ready (CI, and a template host here that then waited out its 240 s).
inline constexpr std::chrono::milliseconds kConsoleStall{60000};

class ReadyWatch {
 public:
  struct Options {
    // A VM whose VMM exits before READY boots again, once (nested KVM under
    // TCG now and then resets a guest early in its boot).
    bool boot_again_once = false;
    // The nested host runs under the booting VMs: its failure fails the boot.
    bool host_underneath = false;
  };

  enum class Outcome {
    kNothing,     // nothing to act on (a note may come with it)
    kReady,       // `role` said READY (others may still be booting)
    kBootAgain,   // `role` ended before READY: boot it again, then Expect() it
    kFailed,      // `role` failed before READY: why
    kTimedOut,    // `role` did not say READY by its deadline
    kHostFailed,  // the nested host underneath failed: why
  };

  struct Step {
    Outcome outcome = Outcome::kNothing;
    Role role = Role::kVictim;
    std::string why;                       // the event's text
    Clock::time_point at{};                // when it happened
    std::optional<report::Evidence> note;  // evidence worth keeping
  };

  explicit ReadyWatch(Options options) : options_(options) {}

  // A VM was started (or started again) and must say READY by `deadline`.
  void Expect(Role role, Clock::time_point deadline);
  // True while an expected VM has not said READY.
  bool waiting() const;
  // The earliest deadline of the VMs still booting.
  Clock::time_point deadline() const;

  Step OnEvent(const VmEvent& e);
  Step OnTimeout(Clock::time_point now);
  // `role`, still booting, has stalled (`why`: its console silent far
  // longer than any boot pauses): boots again once where that is allowed,
  // else it failed. Nothing when `role` is not booting.
  Step OnStall(Role role, Clock::time_point now, const std::string& why);
  // Why `role`, still booting, has stalled: its console silent since
  // `last_output` for kConsoleStall or more ("its console silent for N s").
  // Nothing when it is not booting or spoke more recently.
  std::optional<std::string> Stalled(Role role, Clock::time_point last_output,
                                     Clock::time_point now) const;
  bool booting(Role role) const { return booting_.count(role) != 0; }
  bool ready(Role role) const { return ready_.count(role) != 0; }

 private:
  Options options_;
  std::map<Role, Clock::time_point> booting_;  // role -> deadline
  std::set<Role> ready_;
  std::set<Role> booted_again_;
};

}  // namespace ezone

#endif  // EZONE_CORE_READY_WATCH_H_
