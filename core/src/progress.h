// What a check is doing, as a typed event: the console line, the journal
// and the bench all read its fields; only DescribeProgress() words it for
// people, and nothing parses that sentence.
#ifndef EZONE_CORE_PROGRESS_H_
#define EZONE_CORE_PROGRESS_H_

#include <optional>
#include <string>

#include "vm_session.h"

namespace ezone {

enum class Phase {
  kHostBoot,         // booting the nested host
  kHostReady,        // the nested host said READY (ms: how long it took)
  kSnapshotPrepare,  // booting a template VM to save its state, once
  kBoot,             // starting a VM (role)
  kStarted,          // its VMM runs (detail: version and pid)
  kReady,            // its agent said READY (ms: since its boot began)
  kRestored,         // snapshot mode: restored and answering (ms)
  kBootAgain,        // a VM ended before READY and boots again, once (detail: why)
  kFire,             // firing the fault (detail: fault/variant)
  kObserve,          // watching for the fault's signs
  kDetected,         // the first declared sign (ms: since firing; detail: the evidence)
  kTeardown,         // tearing a VM down (role)
  kRetry,            // the nested host failed before the fault: the check runs again
};

// A stable identifier: "boot", "host-ready", ... (the journal's phase names).
const char* PhaseName(Phase phase);

struct ProgressEvent {
  Phase phase;
  std::optional<Role> role;  // the VM it concerns, if any
  std::optional<double> ms;  // a duration that belongs to it, if any
  std::string detail;        // for people; never parsed
};

// "booting the victim", "victim ready in 1.42 s", ...
std::string DescribeProgress(const ProgressEvent& event);

// The journal's name for where a check was: "boot (victim)", "observe".
std::string JournalPhase(const ProgressEvent& event);

}  // namespace ezone

#endif  // EZONE_CORE_PROGRESS_H_
