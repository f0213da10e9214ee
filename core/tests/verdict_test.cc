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
