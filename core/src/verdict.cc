#include "verdict.h"

namespace ezone {

Zone ZoneOf(ezone_zone zone) { return static_cast<Zone>(zone); }

const char* ZoneName(ezone_zone zone) {
  switch (zone) {
    case EZONE_ZONE_HOST_KERNEL:
    case EZONE_ZONE_HOST_USER:
    case EZONE_ZONE_GUEST_KERNEL:
    case EZONE_ZONE_GUEST_USER:
      return report::ZoneName(ZoneOf(zone)).data();
  }
  return "E-Zone ?";
}

Effect ClassifyEffect(const Observation& o) {
  if (o.host_crashed || o.witness_crashed) return Effect::kGlobal;
  if (o.host_degraded || o.leaked || o.witness_degraded) return Effect::kVaried;
  if (o.victim_showed_fault) return Effect::kLimited;
  return Effect::kNone;
}

Decision Decide(Policy policy, Zone zone, const Observation& o) {
  using report::Ruling;
  Effect effect = ClassifyEffect(o);
  report::Judgement j = report::Judge(policy, zone, effect, o.fault_confirmed);
  const std::string observed = "observed effect " + std::string(report::EffectName(effect));
  const std::string name(report::PolicyName(policy));
  std::string message;
  switch (j.ruling) {
    case Ruling::kAbsorbedByGuest:
      message = "the guest absorbed the fault (" + observed + ")";
      break;
    case Ruling::kGuestShowedFault:
      message = "isolation violated: policy guest-survives allows only effect none, " + observed;
      break;
    case Ruling::kNotDetected:
      message = "not detected: none of the fault's signs was seen before the deadline";
      break;
    case Ruling::kDetected:
      message = "detected: " + observed + " (policy detected records it)";
      break;
    case Ruling::kAbsorbed:
      message = "absorbed: the fault took place (confirmed by its plugin) and nothing showed";
      break;
    case Ruling::kNeverFired:
      message = "the fault never fired: none of its signs was seen before the deadline";
      break;
    case Ruling::kContained:
      message = "contained: " + observed + " (victim only; host and witness healthy)";
      break;
    case Ruling::kTolerated:
      message = "tolerated by policy performance (E-Zone 3 may act like E-Zone 1): " + observed;
      break;
    case Ruling::kViolated:
      message = "isolation violated: policy " + name + " allows only effect limited, " + observed;
      break;
  }
  return {j.verdict, effect, message};
}

}  // namespace ezone
