#include "verdict.h"

namespace ezone {

const char* EffectName(Effect e) {
  switch (e) {
    case Effect::kNone: return "none";
    case Effect::kLimited: return "limited";
    case Effect::kVaried: return "varied";
    case Effect::kGlobal: return "global";
  }
  return "?";
}

const char* ZoneName(ezone_zone zone) {
  switch (zone) {
    case EZONE_ZONE_HOST_KERNEL: return "E-Zone 1";
    case EZONE_ZONE_HOST_USER: return "E-Zone 2";
    case EZONE_ZONE_GUEST_KERNEL: return "E-Zone 3";
    case EZONE_ZONE_GUEST_USER: return "E-Zone 4";
  }
  return "E-Zone ?";
}

Effect ClassifyEffect(const Observation& o) {
  if (o.host_crashed || o.witness_crashed) return Effect::kGlobal;
  if (o.host_degraded || o.leaked || o.witness_degraded) return Effect::kVaried;
  if (o.victim_showed_fault) return Effect::kLimited;
  return Effect::kNone;
}

Decision Decide(const std::string& policy, ezone_zone zone, const Observation& o) {
  using report::Verdict;
  Effect effect = ClassifyEffect(o);
  std::string observed = std::string("observed effect ") + EffectName(effect);

  if (policy == "guest-survives") {
    if (effect == Effect::kNone) {
      return {Verdict::kPass, effect, "the guest absorbed the fault (" + observed + ")"};
    }
    return {Verdict::kFailure, effect,
            "isolation violated: policy guest-survives allows only effect none, " + observed};
  }

  if (policy == "detected") {
    // The claim is that ezone notices the fault (and does not hang on it),
    // so a fault that never showed fails instead of being an error.
    if (effect == Effect::kNone && !o.fault_confirmed) {
      return {Verdict::kFailure, effect,
              "not detected: none of the fault's signs was seen before the deadline"};
    }
    return {Verdict::kPass, effect, "detected: " + observed + " (policy detected records it)"};
  }

  // The other policies need the fault to have shown: an effect of none means
  // the experiment did not happen, which proves nothing either way.
  if (effect == Effect::kNone && o.fault_confirmed) {
    return {Verdict::kPass, effect,
            "absorbed: the fault took place (confirmed by its plugin) and nothing showed"};
  }
  if (effect == Effect::kNone) {
    return {Verdict::kError, effect,
            "the fault never fired: none of its signs was seen before the deadline"};
  }
  if (effect == Effect::kLimited) {
    return {Verdict::kPass, effect,
            "contained: " + observed + " (victim only; host and witness healthy)"};
  }
  // varied or global
  bool tolerated = policy == "performance" &&
                   (zone == EZONE_ZONE_GUEST_KERNEL || zone == EZONE_ZONE_HOST_KERNEL);
  if (tolerated) {
    return {Verdict::kPass, effect,
            "tolerated by policy performance (E-Zone 3 may act like E-Zone 1): " + observed};
  }
  return {Verdict::kFailure, effect,
          "isolation violated: policy " + policy + " allows only effect limited, " + observed};
}

}  // namespace ezone
