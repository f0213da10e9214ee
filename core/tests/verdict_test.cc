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
  Decision d = Decide(Policy::kStrongIsolation, Zone::kGuestKernel, Crashed());
  EXPECT_EQ(d.verdict, Verdict::kPass);
  EXPECT_EQ(d.effect, Effect::kLimited);
}

TEST(VerdictTest, FaultThatNeverShowedIsAnErrorNotAPass) {
  Decision d = Decide(Policy::kStrongIsolation, Zone::kGuestKernel, Observation{});
  EXPECT_EQ(d.verdict, Verdict::kError);
  EXPECT_EQ(d.effect, Effect::kNone);
  EXPECT_NE(d.message.find("never fired"), std::string::npos);
  EXPECT_EQ(Decide(Policy::kPerformance, Zone::kGuestKernel, Observation{}).verdict, Verdict::kError);
}

TEST(VerdictTest, HostCrashFailsStrongIsolation) {
  Observation o = Crashed();
  o.host_crashed = true;
  Decision d = Decide(Policy::kStrongIsolation, Zone::kGuestKernel, o);
  EXPECT_EQ(d.verdict, Verdict::kFailure);
  EXPECT_EQ(d.effect, Effect::kGlobal);
}

TEST(VerdictTest, DegradedHostOrLeakIsVaried) {
  Observation o = Crashed();
  o.host_degraded = true;
  EXPECT_EQ(Decide(Policy::kStrongIsolation, Zone::kGuestKernel, o).effect, Effect::kVaried);
  EXPECT_EQ(Decide(Policy::kStrongIsolation, Zone::kGuestKernel, o).verdict, Verdict::kFailure);
  Observation leak = Crashed();
  leak.leaked = true;
  EXPECT_EQ(Decide(Policy::kStrongIsolation, Zone::kGuestKernel, leak).effect, Effect::kVaried);
}

TEST(VerdictTest, PerformancePolicyToleratesGuestKernelFaultsReachingTheHost) {
  Observation o = Crashed();
  o.host_crashed = true;
  EXPECT_EQ(Decide(Policy::kPerformance, Zone::kGuestKernel, o).verdict, Verdict::kPass);
  // ... but not guest user faults: those must always stay limited.
  EXPECT_EQ(Decide(Policy::kPerformance, Zone::kGuestUser, o).verdict, Verdict::kFailure);
}

TEST(VerdictTest, GuestSurvivesPolicyRejectsAVictimCrash) {
  EXPECT_EQ(Decide(Policy::kGuestSurvives, Zone::kGuestKernel, Crashed()).verdict, Verdict::kFailure);
  EXPECT_EQ(Decide(Policy::kGuestSurvives, Zone::kGuestUser, Observation{}).verdict, Verdict::kPass);
}

}  // namespace
}  // namespace ezone

namespace ezone {
namespace {

TEST(VerdictTest, ConfirmedFaultThatShowedNothingWasAbsorbed) {
  Observation o;
  o.fault_confirmed = true;
  Decision d = Decide(Policy::kStrongIsolation, Zone::kGuestUser, o);
  EXPECT_EQ(d.verdict, report::Verdict::kPass);
  EXPECT_EQ(d.effect, Effect::kNone);
}

TEST(VerdictTest, WitnessCrashIsGlobalAndStutterIsVaried) {
  Observation o;
  o.victim_showed_fault = true;
  o.witness_crashed = true;
  EXPECT_EQ(ClassifyEffect(o), Effect::kGlobal);
  EXPECT_EQ(Decide(Policy::kStrongIsolation, Zone::kGuestKernel, o).verdict, report::Verdict::kFailure);
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
  Decision d = Decide(Policy::kDetected, Zone::kHostKernel, o);
  EXPECT_EQ(d.verdict, report::Verdict::kPass);
  EXPECT_EQ(d.effect, Effect::kGlobal);
  EXPECT_NE(d.message.find("global"), std::string::npos) << d.message;
  // The same observation under strong-isolation is a violation: the pass
  // comes from the policy, not from the observation.
  EXPECT_EQ(Decide(Policy::kStrongIsolation, Zone::kHostKernel, o).verdict,
            report::Verdict::kFailure);
}

TEST(VerdictTest, DetectedPassesEveryEffectOnceTheFaultShowed) {
  Observation limited;
  limited.victim_showed_fault = true;
  EXPECT_EQ(Decide(Policy::kDetected, Zone::kHostKernel, limited).verdict, report::Verdict::kPass);
  EXPECT_EQ(Decide(Policy::kDetected, Zone::kHostKernel, limited).effect, Effect::kLimited);
  Observation varied = limited;
  varied.leaked = true;
  EXPECT_EQ(Decide(Policy::kDetected, Zone::kHostKernel, varied).verdict, report::Verdict::kPass);
  EXPECT_EQ(Decide(Policy::kDetected, Zone::kHostKernel, varied).effect, Effect::kVaried);
}

TEST(VerdictTest, DetectedFailsWhenNothingShowedInsteadOfAnError) {
  Decision d = Decide(Policy::kDetected, Zone::kHostKernel, Observation{});
  EXPECT_EQ(d.verdict, report::Verdict::kFailure);
  EXPECT_EQ(d.effect, Effect::kNone);
  EXPECT_NE(d.message.find("not detected"), std::string::npos) << d.message;
  // Under the other policies the same observation is an error.
  EXPECT_EQ(Decide(Policy::kStrongIsolation, Zone::kHostKernel, Observation{}).verdict,
            report::Verdict::kError);
}

TEST(VerdictTest, DetectedPassesAFaultOnlyItsPluginConfirmed) {
  Observation o;
  o.fault_confirmed = true;
  Decision d = Decide(Policy::kDetected, Zone::kHostKernel, o);
  EXPECT_EQ(d.verdict, report::Verdict::kPass);
  EXPECT_EQ(d.effect, Effect::kNone);
  EXPECT_NE(d.message.find("detected"), std::string::npos) << d.message;
}

}  // namespace
}  // namespace ezone
