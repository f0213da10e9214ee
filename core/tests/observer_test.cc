// The observer and the wait for READY, driven through scripted sequences of
// events and clock readings: no VMM, no threads, no waiting.
#include "observer.h"

#include <gtest/gtest.h>

#include "ready_watch.h"

namespace ezone {
namespace {

using std::chrono::milliseconds;
using report::EvidenceSource;
using report::Severity;

class ObserverTest : public testing::Test {
 protected:
  ObserverTest() { config_.fired_at = t0_; }

  Clock::time_point At(int ms) const { return t0_ + milliseconds(ms); }
  VmEvent Event(int ms, VmEvent::Kind kind, Role role = Role::kVictim, std::string text = "",
                ConsoleClass cls = ConsoleClass::kNone, uint32_t sign = 0) const {
    return VmEvent{kind, At(ms), std::move(text), cls, role, sign};
  }
  VmEvent Console(int ms, ConsoleClass cls, std::string text, Role role = Role::kVictim) const {
    return Event(ms, VmEvent::Kind::kConsole, role, std::move(text), cls);
  }
  // The victim (and nested host) beat every 100 ms up to `until_ms`.
  void BeatUntil(Observer& o, int until_ms) {
    o.OnHeartbeat(Role::kVictim, At(until_ms));
    o.OnHeartbeat(Role::kHost, At(until_ms));
  }
  bool HasEvidence(const Observer& o, const std::string& part) const {
    for (const auto& e : o.evidence()) {
      if (e.text.find(part) != std::string::npos) return true;
    }
    return false;
  }

  Clock::time_point t0_ = Clock::now();
  ObserverConfig config_;
};

TEST_F(ObserverTest, ConsoleCrashIsTheSignAndTheWindowSettles) {
  config_.signs = EZONE_SIGN_GUEST_KERNEL_CRASH;
  config_.settle = milliseconds(2000);
  Observer o(config_);
  BeatUntil(o, 200);
  o.OnEvent(Console(250, ConsoleClass::kOops, "divide error: 0000 [#1] SMP"));
  ASSERT_TRUE(o.detection_ms());
  EXPECT_DOUBLE_EQ(*o.detection_ms(), 250);
  EXPECT_TRUE(o.observation().victim_showed_fault);
  EXPECT_EQ(o.detection_evidence()->source, EvidenceSource::kVictim);
  // The panic after the oops, inside the settle window, is kept.
  o.OnEvent(Console(900, ConsoleClass::kPanic, "Kernel panic - not syncing: Fatal exception"));
  EXPECT_TRUE(HasEvidence(o, "Kernel panic"));
  EXPECT_FALSE(o.done());
  // The window ends 2 s after the first sign, not at observe-timeout.
  EXPECT_LE(o.wake_at(), At(2250));
  o.OnTick(At(2250));
  EXPECT_TRUE(o.done());
  EXPECT_EQ(ClassifyEffect(o.observation()), Effect::kLimited);
}

TEST_F(ObserverTest, LatePanicAfterTheSettleWindowIsNotEvidence) {
  config_.signs = EZONE_SIGN_GUEST_KERNEL_CRASH;
  config_.settle = milliseconds(500);
  Observer o(config_);
  BeatUntil(o, 100);
  o.OnEvent(Console(100, ConsoleClass::kOops, "BUG: kernel NULL pointer dereference"));
  o.OnEvent(Console(800, ConsoleClass::kPanic, "Kernel panic - not syncing: late"));
  EXPECT_TRUE(o.done());
  EXPECT_FALSE(HasEvidence(o, "late"));
}

TEST_F(ObserverTest, EventsAfterTheDeadlineAreNotSigns) {
  config_.signs = EZONE_SIGN_GUEST_KERNEL_CRASH;
  config_.observe_timeout = milliseconds(3000);
  config_.heartbeat_loss = milliseconds(100000);
  Observer o(config_);
  o.OnEvent(Console(3500, ConsoleClass::kOops, "general protection fault"));
  EXPECT_TRUE(o.done());
  EXPECT_FALSE(o.detection_ms());
  EXPECT_FALSE(o.observation().victim_showed_fault);
  o.Finish(30);
  EXPECT_TRUE(HasEvidence(o, "no sign of the fault within 3.0 s"));
  EXPECT_EQ(Decide(Policy::kStrongIsolation, Zone::kGuestKernel, o.observation()).verdict,
            report::Verdict::kError);
}

TEST_F(ObserverTest, HeartbeatGapIsAHangOnlyOnceOverdue) {
  config_.signs = EZONE_SIGN_GUEST_HANG;
  config_.heartbeat_loss = milliseconds(1500);
  Observer o(config_);
  BeatUntil(o, 400);
  EXPECT_EQ(o.wake_at(), At(1900));  // woken when the next beat is overdue
  o.OnTick(At(1800));
  EXPECT_FALSE(o.detection_ms()) << "1400 ms of silence is not yet a hang";
  o.OnTick(At(1900));
  ASSERT_TRUE(o.detection_ms());
  EXPECT_DOUBLE_EQ(*o.detection_ms(), 1900);
  EXPECT_TRUE(HasEvidence(o, "heartbeat lost (none for 1500 ms"));
  EXPECT_TRUE(o.observation().victim_showed_fault);
}

TEST_F(ObserverTest, BeatsKeepTheVictimAlive) {
  config_.signs = EZONE_SIGN_GUEST_HANG;
  config_.observe_timeout = milliseconds(5000);
  Observer o(config_);
  for (int t = 100; t < 5000; t += 100) {
    BeatUntil(o, t);
    o.OnTick(At(t));
  }
  o.OnTick(At(5000));
  EXPECT_TRUE(o.done());
  EXPECT_FALSE(o.detection_ms());
}

TEST_F(ObserverTest, UndeclaredSignIsEvidenceButNotDetection) {
  config_.signs = EZONE_SIGN_GUEST_PROCESS_DIED;
  Observer o(config_);
  BeatUntil(o, 50);
  o.OnEvent(Console(60, ConsoleClass::kOops, "invalid opcode: 0000"));
  EXPECT_FALSE(o.detection_ms());
  EXPECT_TRUE(HasEvidence(o, "invalid opcode"));
  o.OnEvent(Console(70, ConsoleClass::kUserSegfault, "prog[7]: segfault at 0"));
  EXPECT_TRUE(o.detection_ms());
}

TEST_F(ObserverTest, VmmExitWithoutAConsoleReportEndsAtOnce) {
  config_.signs = EZONE_SIGN_VMM_EXIT;
  Observer o(config_);
  o.OnEvent(Event(40, VmEvent::Kind::kVmmExited, Role::kVictim, "killed by signal 9"));
  EXPECT_TRUE(o.done()) << "nothing more can come from the victim, and no witness";
  ASSERT_TRUE(o.detection_ms());
  EXPECT_TRUE(HasEvidence(o, "vmm: process exited: killed by signal 9"));
}

TEST_F(ObserverTest, VmmExitWithAConsoleReportTimesTheReport) {
  config_.signs = EZONE_SIGN_GUEST_KERNEL_CRASH | EZONE_SIGN_VMM_EXIT;
  Observer o(config_);
  BeatUntil(o, 100);
  o.OnEvent(Console(120, ConsoleClass::kPanic, "Kernel panic - not syncing: sysrq"));
  o.OnEvent(Event(300, VmEvent::Kind::kVmmExited, Role::kVictim, "exit status 0"));
  EXPECT_TRUE(o.done());
  EXPECT_DOUBLE_EQ(*o.detection_ms(), 120) << "the first sign sets the time";
}

TEST_F(ObserverTest, VmmExitWithAWitnessKeepsListeningToTheWitness) {
  config_.signs = EZONE_SIGN_VMM_EXIT;
  config_.witness = true;
  config_.settle = milliseconds(1000);
  Observer o(config_);
  o.OnEvent(Event(100, VmEvent::Kind::kVmmExited));
  EXPECT_FALSE(o.done());
  o.OnEvent(Console(600, ConsoleClass::kOops, "BUG: soft lockup", Role::kWitness));
  EXPECT_TRUE(o.observation().witness_crashed);
  EXPECT_EQ(ClassifyEffect(o.observation()), Effect::kGlobal);
}

TEST_F(ObserverTest, WitnessCrashIsGlobalEvenWhenItsNewsComesLate) {
  config_.signs = EZONE_SIGN_GUEST_KERNEL_CRASH;
  config_.witness = true;
  Observer o(config_);
  BeatUntil(o, 100);
  o.OnEvent(Console(100, ConsoleClass::kOops, "divide error"));
  o.OnTick(At(5000));
  ASSERT_TRUE(o.done());
  // Drained after the window: a witness that died counts whenever it did.
  o.OnEvent(Event(5100, VmEvent::Kind::kVmmExited, Role::kWitness, "exit status 1"));
  EXPECT_TRUE(o.observation().witness_crashed);
  o.OnWitnessFinal(true, "pong", milliseconds(300));
  EXPECT_TRUE(o.observation().witness_crashed) << "a steady final word does not undo it";
  EXPECT_EQ(Decide(Policy::kStrongIsolation, Zone::kGuestKernel, o.observation()).verdict,
            report::Verdict::kFailure);
}

TEST_F(ObserverTest, WitnessGapsGradeTheEffect) {
  for (auto [gap, degraded, crashed] :
       {std::tuple{300, false, false}, {1200, true, false}, {6000, false, true}}) {
    Observer o(config_);
    o.OnWitnessFinal(true, "pong", milliseconds(gap));
    EXPECT_EQ(o.observation().witness_degraded, degraded) << gap;
    EXPECT_EQ(o.observation().witness_crashed, crashed) << gap;
    EXPECT_EQ(*o.witness_max_gap(), milliseconds(gap));
  }
}

TEST_F(ObserverTest, NestedHostExitMidCheckIsAHostCrash) {
  config_.signs = EZONE_SIGN_GUEST_KERNEL_CRASH;
  config_.nested_host = true;
  config_.settle = milliseconds(1000);
  Observer o(config_);
  BeatUntil(o, 100);
  o.OnEvent(Event(200, VmEvent::Kind::kVmmExited, Role::kHost, "killed by signal 9"));
  EXPECT_TRUE(o.observation().host_crashed);
  EXPECT_FALSE(o.observation().victim_showed_fault) << "a host sign is not the victim's";
  EXPECT_LE(o.wake_at(), At(1200)) << "the window closes soon after the host is gone";
  bool found = false;
  for (const auto& e : o.evidence()) {
    if (e.source == EvidenceSource::kNestedHost && e.severity == Severity::kBad) found = true;
  }
  EXPECT_TRUE(found) << "the host's readings are typed as the nested host's";
}

TEST_F(ObserverTest, NestedHostSilenceIsAHang) {
  config_.signs = EZONE_SIGN_HOST_HANG;
  config_.nested_host = true;
  config_.host_hang = milliseconds(5000);
  config_.heartbeat_loss = milliseconds(100000);
  Observer o(config_);
  o.OnHeartbeat(Role::kVictim, At(100));
  o.OnHeartbeat(Role::kHost, At(100));
  EXPECT_EQ(o.wake_at(), At(5100));
  o.OnTick(At(5100));
  EXPECT_TRUE(o.observation().host_crashed);
  EXPECT_TRUE(o.detection_ms());
}

TEST_F(ObserverTest, HostWarningBeforeTheFaultIsNotItsDoing) {
  config_.nested_host = true;
  Observer o(config_);
  VmEvent before = Console(0, ConsoleClass::kWarning, "WARNING: at boot", Role::kHost);
  before.at = t0_ - milliseconds(500);
  o.OnEvent(before);
  EXPECT_FALSE(o.observation().host_degraded);
  o.OnEvent(Console(10, ConsoleClass::kWarning, "WARNING: after", Role::kHost));
  EXPECT_TRUE(o.observation().host_degraded);
}

TEST_F(ObserverTest, FaultConfirmationAloneIsAbsorbed) {
  config_.signs = EZONE_SIGN_FAULT_CONFIRMED;
  Observer o(config_);
  o.OnEvent(Event(500, VmEvent::Kind::kFaultObserved, Role::kVictim, "hog ran 2 s", {},
                  EZONE_SIGN_FAULT_CONFIRMED));
  EXPECT_TRUE(o.observation().fault_confirmed);
  EXPECT_FALSE(o.observation().victim_showed_fault);
  Decision d = Decide(Policy::kStrongIsolation, Zone::kGuestUser, o.observation());
  EXPECT_EQ(d.verdict, report::Verdict::kPass);
  EXPECT_NE(d.message.find("absorbed"), std::string::npos);
}

TEST_F(ObserverTest, ARebootNobodyReportedIsACrash) {
  config_.signs = EZONE_SIGN_GUEST_KERNEL_CRASH;
  Observer o(config_);
  BeatUntil(o, 100);
  VmEvent reboot = Event(150, VmEvent::Kind::kReport, Role::kVictim, "reboot");
  reboot.report = CrashReport{ReportKind::kReboot, true, "unexpected reboot", 40, 40, false, ""};
  o.OnEvent(reboot);
  EXPECT_TRUE(o.observation().victim_showed_fault);
  EXPECT_TRUE(HasEvidence(o, "booted again after READY"));
  // Any other whole report adds nothing: its first line was the sign.
  Observer quiet(config_);
  VmEvent oops = Event(150, VmEvent::Kind::kReport, Role::kVictim, "divide error in f");
  oops.report = CrashReport{ReportKind::kOops, true, "divide error in f", 1, 30, false, ""};
  quiet.OnEvent(oops);
  EXPECT_FALSE(quiet.detection_ms());
}

TEST_F(ObserverTest, PluginErrorEndsWatching) {
  Observer o(config_);
  o.OnEvent(Event(10, VmEvent::Kind::kPluginError, Role::kVictim, "QMP: bad JSON"));
  EXPECT_TRUE(o.done());
}

TEST_F(ObserverTest, AWarningFloodIsCapped) {
  Observer o(config_);
  o.OnHeartbeat(Role::kVictim, At(100000));
  for (int i = 0; i < 5000; ++i) o.OnEvent(Console(1, ConsoleClass::kWarning, "WARNING: flood"));
  EXPECT_LE(o.evidence().size(), 100u);
}

// The wait for READY.
class ReadyWatchTest : public ObserverTest {};

TEST_F(ReadyWatchTest, WaitsForEveryExpectedVm) {
  ReadyWatch w({});
  w.Expect(Role::kWitness, At(30000));
  w.Expect(Role::kVictim, At(30000));
  EXPECT_EQ(w.OnEvent(Event(100, VmEvent::Kind::kReady, Role::kWitness, "n1")).outcome,
            ReadyWatch::Outcome::kReady);
  EXPECT_TRUE(w.waiting());
  EXPECT_EQ(w.OnEvent(Event(200, VmEvent::Kind::kReady, Role::kVictim, "n2")).outcome,
            ReadyWatch::Outcome::kReady);
  EXPECT_FALSE(w.waiting());
}

TEST_F(ReadyWatchTest, VmmExitBeforeReadyBootsAgainOnceWhereAllowed) {
  ReadyWatch w({.boot_again_once = true});
  w.Expect(Role::kVictim, At(30000));
  ReadyWatch::Step s = w.OnEvent(Event(100, VmEvent::Kind::kVmmExited, Role::kVictim, "reset"));
  EXPECT_EQ(s.outcome, ReadyWatch::Outcome::kBootAgain);
  ASSERT_TRUE(s.note);
  EXPECT_NE(s.note->text.find("booted it again, once"), std::string::npos);
  w.Expect(Role::kVictim, At(60000));
  EXPECT_EQ(w.OnEvent(Event(200, VmEvent::Kind::kVmmExited, Role::kVictim, "reset")).outcome,
            ReadyWatch::Outcome::kFailed)
      << "only once";
}

// A guest on the nested host that stalled mid-boot (its console silent; the
// core decides when) boots again once, then fails; a VM that is not
// booting is no stall.
TEST_F(ReadyWatchTest, AStalledBootBootsAgainOnceThenFails) {
  ReadyWatch w({.boot_again_once = true, .host_underneath = true});
  EXPECT_EQ(w.OnStall(Role::kVictim, At(100), "quiet").outcome, ReadyWatch::Outcome::kNothing);
  w.Expect(Role::kVictim, At(120000));
  EXPECT_TRUE(w.booting(Role::kVictim));
  ReadyWatch::Step s = w.OnStall(Role::kVictim, At(40000), "its console silent for 40 s");
  EXPECT_EQ(s.outcome, ReadyWatch::Outcome::kBootAgain);
  ASSERT_TRUE(s.note);
  EXPECT_NE(s.note->text.find("stalled before READY (its console silent for 40 s)"),
            std::string::npos) << s.note->text;
  EXPECT_FALSE(w.booting(Role::kVictim));
  w.Expect(Role::kVictim, At(160000));
  s = w.OnStall(Role::kVictim, At(80000), "again");
  EXPECT_EQ(s.outcome, ReadyWatch::Outcome::kFailed) << "only once";
  EXPECT_NE(s.why.find("stalled"), std::string::npos);
  ReadyWatch local({});
  local.Expect(Role::kVictim, At(120000));
  EXPECT_EQ(local.OnStall(Role::kVictim, At(40000), "quiet").outcome, ReadyWatch::Outcome::kFailed)
      << "no second boot where none is allowed";
}

TEST_F(ReadyWatchTest, AStallIsAConsoleSilentForAMinuteWhileBooting) {
  ReadyWatch w({});
  EXPECT_FALSE(w.Stalled(Role::kHost, At(0), At(70000))) << "not booting";
  w.Expect(Role::kHost, At(240000));
  EXPECT_FALSE(w.Stalled(Role::kHost, At(1000), At(60999)));
  std::optional<std::string> why = w.Stalled(Role::kHost, At(1000), At(61000));
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, "its console silent for 60 s");
  EXPECT_EQ(w.OnStall(Role::kHost, At(61000), *why).outcome, ReadyWatch::Outcome::kFailed);
}

TEST_F(ReadyWatchTest, VmmExitBeforeReadyFailsOnTheLocalHost) {
  ReadyWatch w({});
  w.Expect(Role::kVictim, At(30000));
  ReadyWatch::Step s = w.OnEvent(Event(100, VmEvent::Kind::kVmmExited, Role::kVictim, "status 1"));
  EXPECT_EQ(s.outcome, ReadyWatch::Outcome::kFailed);
  EXPECT_NE(s.why.find("status 1"), std::string::npos);
}

TEST_F(ReadyWatchTest, CrashWhileBootingFailsAndWarningsAreNotes) {
  ReadyWatch w({});
  w.Expect(Role::kVictim, At(30000));
  ReadyWatch::Step warn = w.OnEvent(Console(10, ConsoleClass::kWarning, "WARNING: x"));
  EXPECT_EQ(warn.outcome, ReadyWatch::Outcome::kNothing);
  ASSERT_TRUE(warn.note);
  EXPECT_EQ(w.OnEvent(Console(20, ConsoleClass::kOops, "BUG: x")).outcome,
            ReadyWatch::Outcome::kFailed);
  EXPECT_EQ(w.OnEvent(Event(30, VmEvent::Kind::kGuestPanicked)).outcome,
            ReadyWatch::Outcome::kFailed);
}

TEST_F(ReadyWatchTest, DeadlinePassesOnlyForTheLateVm) {
  ReadyWatch w({});
  w.Expect(Role::kWitness, At(1000));
  w.Expect(Role::kVictim, At(2000));
  EXPECT_EQ(w.deadline(), At(1000));
  w.OnEvent(Event(500, VmEvent::Kind::kReady, Role::kWitness));
  EXPECT_EQ(w.deadline(), At(2000));
  EXPECT_EQ(w.OnTimeout(At(1500)).outcome, ReadyWatch::Outcome::kNothing);
  ReadyWatch::Step s = w.OnTimeout(At(2000));
  EXPECT_EQ(s.outcome, ReadyWatch::Outcome::kTimedOut);
  EXPECT_EQ(s.role, Role::kVictim);
}

TEST_F(ReadyWatchTest, NestedHostFailingUnderTheGuestsFailsTheBoot) {
  ReadyWatch w({.host_underneath = true});
  w.Expect(Role::kVictim, At(30000));
  EXPECT_EQ(w.OnEvent(Console(10, ConsoleClass::kWarning, "WARNING: kvm", Role::kHost)).outcome,
            ReadyWatch::Outcome::kNothing);
  EXPECT_EQ(w.OnEvent(Event(20, VmEvent::Kind::kGuestStopped, Role::kHost, "reset")).outcome,
            ReadyWatch::Outcome::kHostFailed);
  ReadyWatch local({});
  local.Expect(Role::kVictim, At(30000));
  EXPECT_EQ(local.OnEvent(Event(20, VmEvent::Kind::kGuestStopped, Role::kHost)).outcome,
            ReadyWatch::Outcome::kNothing)
      << "no nested host underneath: not this boot's business";
}

TEST_F(ReadyWatchTest, TheNestedHostItselfIsWaitedForLikeAGuest) {
  ReadyWatch w({});
  w.Expect(Role::kHost, At(120000));
  EXPECT_EQ(w.OnEvent(Console(10, ConsoleClass::kPanic, "Kernel panic", Role::kHost)).outcome,
            ReadyWatch::Outcome::kFailed);
}

}  // namespace
}  // namespace ezone
