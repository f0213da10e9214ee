#include "ezone/report/policy.h"

#include <array>
#include <utility>

#include "name_table.h"

namespace ezone::report {
namespace {

using internal::NameOf;
using internal::ParseName;

constexpr std::array<std::pair<Policy, std::string_view>, 4> kPolicies = {{
    {Policy::kStrongIsolation, "strong-isolation"},
    {Policy::kPerformance, "performance"},
    {Policy::kGuestSurvives, "guest-survives"},
    {Policy::kDetected, "detected"},
}};
constexpr std::array<std::pair<Effect, std::string_view>, 4> kEffects = {{
    {Effect::kNone, "none"},
    {Effect::kLimited, "limited"},
    {Effect::kVaried, "varied"},
    {Effect::kGlobal, "global"},
}};
constexpr std::array<std::pair<Zone, std::string_view>, 4> kZones = {{
    {Zone::kHostKernel, "E-Zone 1"},
    {Zone::kHostUser, "E-Zone 2"},
    {Zone::kGuestKernel, "E-Zone 3"},
    {Zone::kGuestUser, "E-Zone 4"},
}};

}  // namespace

std::string_view PolicyName(Policy p) { return NameOf(kPolicies, p, "?"); }
std::optional<Policy> ParsePolicy(std::string_view name) { return ParseName(kPolicies, name); }
std::string_view EffectName(Effect e) { return NameOf(kEffects, e, "?"); }
std::optional<Effect> ParseEffect(std::string_view name) { return ParseName(kEffects, name); }
std::string_view ZoneName(Zone z) { return NameOf(kZones, z, "?"); }
std::optional<Zone> ParseZone(std::string_view name) { return ParseName(kZones, name); }

Judgement Judge(Policy policy, Zone zone, Effect effect, bool fault_confirmed) {
  if (policy == Policy::kGuestSurvives) {
    return effect == Effect::kNone ? Judgement{Verdict::kPass, Ruling::kAbsorbedByGuest}
                                   : Judgement{Verdict::kFailure, Ruling::kGuestShowedFault};
  }
  if (policy == Policy::kDetected) {
    // The claim is that the fault is noticed (and does not hang ezone), so
    // a fault that never showed fails instead of being an error.
    if (effect == Effect::kNone && !fault_confirmed) {
      return {Verdict::kFailure, Ruling::kNotDetected};
    }
    return {Verdict::kPass, Ruling::kDetected};
  }
  // The other policies need the fault to have shown: an effect of none means
  // the experiment did not happen, which proves nothing either way.
  if (effect == Effect::kNone) {
    return fault_confirmed ? Judgement{Verdict::kPass, Ruling::kAbsorbed}
                           : Judgement{Verdict::kError, Ruling::kNeverFired};
  }
  if (effect == Effect::kLimited) return {Verdict::kPass, Ruling::kContained};
  // varied or global: a kernel fault (E-Zone 3 acting like 1) may reach the
  // host under policy performance.
  const bool tolerated = policy == Policy::kPerformance &&
                         (zone == Zone::kGuestKernel || zone == Zone::kHostKernel);
  return tolerated ? Judgement{Verdict::kPass, Ruling::kTolerated}
                   : Judgement{Verdict::kFailure, Ruling::kViolated};
}

}  // namespace ezone::report
