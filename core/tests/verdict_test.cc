// The verdict engine must be able to say no.
#include <gtest/gtest.h>

#include "verdict.h"

namespace ezone {
namespace {

using report::Verdict;

Observation Crashed() {
  Observation o;
  o.victim_showed_fault = true;
  return o;
}

TEST(VerdictTest, ContainedGuestCrashPassesStrongIsolation) {
  Decision d = Decide("strong-isolation", EZONE_ZONE_GUEST_KERNEL, Crashed());
  EXPECT_EQ(d.verdict, Verdict::kPass);
  EXPECT_EQ(d.effect, Effect::kLimited);
}

TEST(VerdictTest, FaultThatNeverShowedIsAnErrorNotAPass) {
  Decision d = Decide("strong-isolation", EZONE_ZONE_GUEST_KERNEL, Observation{});
  EXPECT_EQ(d.verdict, Verdict::kError);
  EXPECT_EQ(d.effect, Effect::kNone);
  EXPECT_NE(d.message.find("never fired"), std::string::npos);
  EXPECT_EQ(Decide("performance", EZONE_ZONE_GUEST_KERNEL, Observation{}).verdict, Verdict::kError);
}

TEST(VerdictTest, HostCrashFailsStrongIsolation) {
  Observation o = Crashed();
  o.host_crashed = true;
  Decision d = Decide("strong-isolation", EZONE_ZONE_GUEST_KERNEL, o);
  EXPECT_EQ(d.verdict, Verdict::kFailure);
  EXPECT_EQ(d.effect, Effect::kGlobal);
}

TEST(VerdictTest, DegradedHostOrLeakIsVaried) {
  Observation o = Crashed();
  o.host_degraded = true;
  EXPECT_EQ(Decide("strong-isolation", EZONE_ZONE_GUEST_KERNEL, o).effect, Effect::kVaried);
  EXPECT_EQ(Decide("strong-isolation", EZONE_ZONE_GUEST_KERNEL, o).verdict, Verdict::kFailure);
  Observation leak = Crashed();
  leak.leaked = true;
  EXPECT_EQ(Decide("strong-isolation", EZONE_ZONE_GUEST_KERNEL, leak).effect, Effect::kVaried);
}

TEST(VerdictTest, PerformancePolicyToleratesGuestKernelFaultsReachingTheHost) {
  Observation o = Crashed();
  o.host_crashed = true;
  EXPECT_EQ(Decide("performance", EZONE_ZONE_GUEST_KERNEL, o).verdict, Verdict::kPass);
  // ... but not guest user faults: those must always stay limited.
  EXPECT_EQ(Decide("performance", EZONE_ZONE_GUEST_USER, o).verdict, Verdict::kFailure);
}

TEST(VerdictTest, GuestSurvivesPolicyRejectsAVictimCrash) {
  EXPECT_EQ(Decide("guest-survives", EZONE_ZONE_GUEST_KERNEL, Crashed()).verdict, Verdict::kFailure);
  EXPECT_EQ(Decide("guest-survives", EZONE_ZONE_GUEST_USER, Observation{}).verdict, Verdict::kPass);
}

}  // namespace
}  // namespace ezone

namespace ezone {
namespace {

TEST(VerdictTest, ConfirmedFaultThatShowedNothingWasAbsorbed) {
  Observation o;
  o.fault_confirmed = true;
  Decision d = Decide("strong-isolation", EZONE_ZONE_GUEST_USER, o);
  EXPECT_EQ(d.verdict, report::Verdict::kPass);
  EXPECT_EQ(d.effect, Effect::kNone);
}

TEST(VerdictTest, WitnessCrashIsGlobalAndStutterIsVaried) {
  Observation o;
  o.victim_showed_fault = true;
  o.witness_crashed = true;
  EXPECT_EQ(ClassifyEffect(o), Effect::kGlobal);
  EXPECT_EQ(Decide("strong-isolation", EZONE_ZONE_GUEST_KERNEL, o).verdict, report::Verdict::kFailure);
  o.witness_crashed = false;
  o.witness_degraded = true;
  EXPECT_EQ(ClassifyEffect(o), Effect::kVaried);
}

}  // namespace
}  // namespace ezone

// Policy detected (issue 9, E-Zone 1 on a nested host): the fault must show;
// whatever it did is recorded, not judged.
namespace ezone {
namespace {

TEST(VerdictTest, DetectedPassesAHostCrashAndRecordsItAsGlobal) {
  Observation o;
  o.victim_showed_fault = true;  // a host sign is one of the fault's signs
  o.host_crashed = true;
  Decision d = Decide("detected", EZONE_ZONE_HOST_KERNEL, o);
  EXPECT_EQ(d.verdict, report::Verdict::kPass);
  EXPECT_EQ(d.effect, Effect::kGlobal);
  EXPECT_NE(d.message.find("global"), std::string::npos) << d.message;
  // The same observation under strong-isolation is a violation: the pass
  // comes from the policy, not from the observation.
  EXPECT_EQ(Decide("strong-isolation", EZONE_ZONE_HOST_KERNEL, o).verdict,
            report::Verdict::kFailure);
}

TEST(VerdictTest, DetectedPassesEveryEffectOnceTheFaultShowed) {
  Observation limited;
  limited.victim_showed_fault = true;
  EXPECT_EQ(Decide("detected", EZONE_ZONE_HOST_KERNEL, limited).verdict, report::Verdict::kPass);
  EXPECT_EQ(Decide("detected", EZONE_ZONE_HOST_KERNEL, limited).effect, Effect::kLimited);
  Observation varied = limited;
  varied.leaked = true;
  EXPECT_EQ(Decide("detected", EZONE_ZONE_HOST_KERNEL, varied).verdict, report::Verdict::kPass);
  EXPECT_EQ(Decide("detected", EZONE_ZONE_HOST_KERNEL, varied).effect, Effect::kVaried);
}

TEST(VerdictTest, DetectedFailsWhenNothingShowedInsteadOfAnError) {
  Decision d = Decide("detected", EZONE_ZONE_HOST_KERNEL, Observation{});
  EXPECT_EQ(d.verdict, report::Verdict::kFailure);
  EXPECT_EQ(d.effect, Effect::kNone);
  EXPECT_NE(d.message.find("not detected"), std::string::npos) << d.message;
  // Under the other policies the same observation is an error.
  EXPECT_EQ(Decide("strong-isolation", EZONE_ZONE_HOST_KERNEL, Observation{}).verdict,
            report::Verdict::kError);
}

TEST(VerdictTest, DetectedPassesAFaultOnlyItsPluginConfirmed) {
  Observation o;
  o.fault_confirmed = true;
  Decision d = Decide("detected", EZONE_ZONE_HOST_KERNEL, o);
  EXPECT_EQ(d.verdict, report::Verdict::kPass);
  EXPECT_EQ(d.effect, Effect::kNone);
  EXPECT_NE(d.message.find("detected"), std::string::npos) << d.message;
}

}  // namespace
}  // namespace ezone
