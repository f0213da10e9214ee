// The words every layer shares about a check's outcome, as enums parsed once
// (the suite parser, the journal reader), and the one policy rule: both the
// core's verdict and the journal's replay of an interrupted check call
// Judge(), so they cannot disagree. This is the lowest layer (reports/), so
// core/ and reports/ both see it.
#ifndef EZONE_REPORT_POLICY_H_
#define EZONE_REPORT_POLICY_H_

#include <optional>
#include <string_view>

#include "ezone/report/check_record.h"

namespace ezone::report {

// What a check's claim tolerates (docs/ARCHITECTURE.md, "Decide").
enum class Policy {
  kStrongIsolation,  // only the victim may show the fault (effect limited)
  kPerformance,      // E-Zone 3 and 1 faults may also degrade or take down the host
  kGuestSurvives,    // the victim itself must not show the fault (effect none)
  kDetected,         // the fault must show; any effect passes (E-Zone 1, nested host)
};

// How far a fault reached: the paper's effects, in increasing order.
enum class Effect { kNone, kLimited, kVaried, kGlobal };

// The paper's error zones; the numbers are the ABI's ezone_zone values.
enum class Zone { kHostKernel = 1, kHostUser = 2, kGuestKernel = 3, kGuestUser = 4 };

std::string_view PolicyName(Policy p);  // "strong-isolation"
std::optional<Policy> ParsePolicy(std::string_view name);
std::string_view EffectName(Effect e);  // "limited"
std::optional<Effect> ParseEffect(std::string_view name);
std::string_view ZoneName(Zone z);  // "E-Zone 3"
std::optional<Zone> ParseZone(std::string_view name);

// Why Judge() ruled as it did; the core words the message from it.
enum class Ruling {
  kAbsorbedByGuest,  // guest-survives, effect none
  kGuestShowedFault, // guest-survives, any other effect
  kNotDetected,      // detected, nothing showed
  kDetected,         // detected, the fault showed
  kAbsorbed,         // nothing showed, but the fault plugin confirmed it acted
  kNeverFired,       // nothing showed and nothing confirmed: proves nothing
  kContained,        // effect limited
  kTolerated,        // varied/global, allowed by policy performance
  kViolated,         // varied/global, not allowed
};

struct Judgement {
  Verdict verdict;
  Ruling ruling;
};

// The policy rule. `fault_confirmed`: the fault plugin confirmed that it
// acted (a hog the guest absorbed shows nothing and still took place).
Judgement Judge(Policy policy, Zone zone, Effect effect, bool fault_confirmed);

}  // namespace ezone::report

#endif  // EZONE_REPORT_POLICY_H_
