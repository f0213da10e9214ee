// The oracle's last step: from what was observed to an effect, and from the
// effect and the policy to a verdict. Pure functions, unit-tested; the
// policy rule itself is report::Judge(), shared with the journal's replay.
#ifndef EZONE_CORE_VERDICT_H_
#define EZONE_CORE_VERDICT_H_

#include <string>

#include "ezone/plugin_abi.h"
#include "ezone/report/check_record.h"
#include "ezone/report/policy.h"

namespace ezone {

using report::Effect;
using report::Policy;
using report::Zone;


// The facts the verdict rests on, gathered by the observer and the oracles.
struct Observation {
  bool victim_showed_fault = false;  // one of the fault's declared signs seen
  bool fault_confirmed = false;      // the fault plugin confirmed it took place
  bool host_crashed = false;         // host oracle: oops, new taint, no answer
  bool host_degraded = false;        // host oracle: warnings, latency
  bool leaked = false;               // VMM process or resources left behind
  bool witness_crashed = false;      // the witness VM died, crashed or hung
  bool witness_degraded = false;     // the witness's heartbeat stuttered
};

Effect ClassifyEffect(const Observation& o);

struct Decision {
  report::Verdict verdict;
  Effect effect;
  std::string message;
};

// Policies: strong-isolation (only limited passes), performance (a kernel
// fault may also degrade or take down the host), guest-survives (the victim
// itself must not show the fault), detected (the fault must show; any effect
// passes and is recorded: E-Zone 1 on a nested host).
Decision Decide(Policy policy, Zone zone, const Observation& o);

Zone ZoneOf(ezone_zone zone);
const char* ZoneName(ezone_zone zone);  // "E-Zone 3"

}  // namespace ezone

#endif  // EZONE_CORE_VERDICT_H_
