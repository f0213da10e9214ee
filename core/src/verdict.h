// The oracle's last step: from what was observed to an effect, and from the
// effect and the policy to a verdict. Pure functions, unit-tested.
#ifndef EZONE_CORE_VERDICT_H_
#define EZONE_CORE_VERDICT_H_

#include <string>

#include "ezone/plugin_abi.h"
#include "ezone/report/check_record.h"

namespace ezone {

enum class Effect { kNone, kLimited, kVaried, kGlobal };
const char* EffectName(Effect e);

// The facts the verdict rests on, gathered by the check runner.
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

// policy: "strong-isolation" (only limited passes), "performance" (a guest
// kernel fault may also degrade or take down the host), "guest-survives"
// (the victim itself must not show the fault), "detected" (the fault must
// show; any effect passes and is recorded: E-Zone 1 on a nested host).
Decision Decide(const std::string& policy, ezone_zone zone, const Observation& o);

const char* ZoneName(ezone_zone zone);  // "E-Zone 3"

}  // namespace ezone

#endif  // EZONE_CORE_VERDICT_H_
