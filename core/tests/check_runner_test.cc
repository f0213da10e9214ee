// The real check runner (RunCheck) driven end to end through an in-process
// scripted VMM (support/scripted_vmm.h): boot paths, observation and
// verdicts for sequences no real guest produces on demand.
#include "check_runner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <vector>

#include "scripted_vmm.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;
using report::CheckRecord;
using report::EvidenceSource;
using report::Verdict;
using scripted::ScriptStep;
using scripted::VmScript;
using Kind = ScriptStep::Kind;

class CheckRunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = new PluginRegistry;
    scripted::AddScriptedPlugins(*registry_);
  }
  static void TearDownTestSuite() { delete registry_; }

  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ezone-check-runner-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    env_.registry = registry_;
    env_.report_dir = dir_;
    env_.image.kernel = dir_ / "vmlinuz";  // never read: the VMM is scripted
    env_.image.initramfs = dir_ / "initramfs";
    env_.progress = [this](const CheckSpec&, const ProgressEvent& e) { phases_.push_back(e.phase); };
  }
  void TearDown() override { fs::remove_all(dir_); }

  CheckSpec Spec(const std::string& variant, bool witness = false) {
    CheckSpec s;
    s.suite = "scripted";
    s.classname = "ScriptedCheck";
    s.name = "scripted_" + variant;
    s.vmm = s.vmm_label = "scripted";
    s.fault = "scripted-fault";
    s.variant = variant;
    s.witness = witness;
    s.boot_timeout = std::chrono::seconds(3);
    s.observe_timeout = std::chrono::seconds(3);
    s.settle = std::chrono::milliseconds(300);
    s.file = "scripted.xml";
    s.line = 7;
    return s;
  }

  static bool Has(const CheckRecord& r, const std::string& part) {
    for (const auto& e : r.evidence) {
      if (e.text.find(part) != std::string::npos) return true;
    }
    return false;
  }

  static PluginRegistry* registry_;
  fs::path dir_;
  RunEnvironment env_;
  std::vector<Phase> phases_;
};

PluginRegistry* CheckRunnerTest::registry_ = nullptr;

TEST_F(CheckRunnerTest, ACrashSeenOnTheConsoleIsContained) {
  VmScript victim;
  // 150 ms: at least one heartbeat (every 100 ms) comes before the crash,
  // however soon after READY the core fires.
  victim.on_fault = {{150, Kind::kConsole, "[    2.5] divide error: 0000 [#1] SMP NOPTI"},
                     {20, Kind::kConsole, "[    2.6] Kernel panic - not syncing: Fatal exception"},
                     {50, Kind::kVmmExit, "exit status 0"}};
  scripted::SetScripts({{"victim", victim}});
  CheckRecord r = RunCheck(Spec("crash"), env_);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_EQ(r.effect, "limited");
  ASSERT_TRUE(r.timing.detection);
  EXPECT_LT(*r.timing.detection, 1000);
  EXPECT_TRUE(Has(r, "divide error"));
  EXPECT_TRUE(Has(r, "Kernel panic")) << "the panic after the oops is kept (settle)";
  // The phases in order, as typed events.
  std::vector<Phase> expected = {Phase::kBoot, Phase::kStarted, Phase::kReady, Phase::kFire,
                                 Phase::kObserve, Phase::kDetected, Phase::kTeardown};
  EXPECT_EQ(phases_, expected);
  EXPECT_FALSE(r.heartbeats_ms["victim"].empty()) << "heartbeats recorded as numbers";
}

// Snapshot mode: a restored victim that ends as it resumes, before any
// fault, is the test bed's failure: the check runs again, once, on the
// record; a second such failure stands.
TEST_F(CheckRunnerTest, ARestoredVictimThatEndsAsItResumesGetsOneRerun) {
  setenv("EZONE_CACHE_DIR", dir_.c_str(), 1);  // the saved state goes with the test
  CheckSpec spec = Spec("crash");
  spec.mode = BootMode::kSnapshot;
  VmScript victim;
  victim.restores_that_die = 1;
  victim.on_fault = {{150, Kind::kConsole, "[    2.5] divide error: 0000 [#1] SMP NOPTI"},
                     {50, Kind::kVmmExit, "exit status 0"}};
  scripted::SetScripts({{"victim", victim}});
  CheckRecord r = RunCheck(spec, env_);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_EQ(r.properties["attempts"], "2");
  EXPECT_NE(r.properties["first_attempt"].find("the restored victim does not answer"),
            std::string::npos)
      << r.properties["first_attempt"];
  EXPECT_EQ(r.properties.count("nested_host_attempts"), 0u);
  EXPECT_TRUE(Has(r, "first attempt: the restored victim does not answer"));

  victim.restores_that_die = 2;
  scripted::SetScripts({{"victim", victim}});
  r = RunCheck(spec, env_);
  unsetenv("EZONE_CACHE_DIR");
  EXPECT_EQ(r.verdict, Verdict::kError);
  EXPECT_NE(r.message.find("the restored victim does not answer"), std::string::npos) << r.message;
  EXPECT_EQ(r.properties["attempts"], "2");
}

TEST_F(CheckRunnerTest, VmmExitWithoutAConsoleReportProvesNoCrash) {
  VmScript victim;
  victim.on_fault = {{20, Kind::kVmmExit, "killed by signal 9"}};
  scripted::SetScripts({{"victim", victim}});
  CheckRecord r = RunCheck(Spec("crash"), env_);
  EXPECT_EQ(r.verdict, Verdict::kError) << "a kernel crash fault that never showed proves nothing";
  EXPECT_NE(r.message.find("never fired"), std::string::npos) << r.message;
  EXPECT_TRUE(Has(r, "vmm: process exited: killed by signal 9"));
}

TEST_F(CheckRunnerTest, VmmExitIsTheSignOfAVmmFault) {
  VmScript victim;
  victim.on_fault = {{20, Kind::kVmmExit, "killed by signal 9"}};
  scripted::SetScripts({{"victim", victim}});
  CheckRecord r = RunCheck(Spec("exit"), env_);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_LT(r.seconds, 2.5) << "nothing more can come: watching ends at the exit";
}

TEST_F(CheckRunnerTest, AFaultThatKillsTheVmBeforeItAnswersReturnsAtOnce) {
  VmScript victim;
  victim.reply_to_fault = false;
  victim.on_fault = {{10, Kind::kConsole, "sysrq: Trigger a crash"},
                     {10, Kind::kConsole, "Kernel panic - not syncing: sysrq triggered crash"},
                     {10, Kind::kVmmExit, "exit status 0"}};
  scripted::SetScripts({{"victim", victim}});
  auto start = std::chrono::steady_clock::now();
  CheckRecord r = RunCheck(Spec("crash"), env_);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5))
      << "the agent command must not wait its 10 s for a VM that exited";
}

// A guest booted quiet (agent protocol 2) prints no banner when its kernel
// comes back: the agent's READY again is the crash, caught as one.
TEST_F(CheckRunnerTest, ASilentRebootSeenAsReadyAgainIsACrash) {
  VmScript victim;
  victim.on_fault = {{20, Kind::kReady, ""}};
  scripted::SetScripts({{"victim", victim}});
  CheckRecord r = RunCheck(Spec("crash"), env_);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_TRUE(Has(r, "booted again after READY"));
  EXPECT_EQ(r.crash_title, "unexpected reboot");
  ASSERT_TRUE(r.timing.detection);
}

TEST_F(CheckRunnerTest, HeartbeatGapIsAHang) {
  VmScript victim;
  victim.on_fault = {{10, Kind::kStopHeartbeats, ""}};
  scripted::SetScripts({{"victim", victim}});
  CheckRecord r = RunCheck(Spec("hang"), env_);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_TRUE(Has(r, "heartbeat lost"));
  ASSERT_TRUE(r.timing.detection);
  EXPECT_GE(*r.timing.detection, 1400);
}

// A guest that keeps beating is alive, however long the runner slept: a
// fault that never fires is an error, never a "hang" (the runner must read
// the beats that came while it waited).
TEST_F(CheckRunnerTest, AVictimThatKeepsBeatingIsNoHang) {
  scripted::SetScripts({{"victim", VmScript{}}});
  CheckRecord r = RunCheck(Spec("hang"), env_);
  EXPECT_EQ(r.verdict, Verdict::kError) << r.message;
  EXPECT_NE(r.message.find("never fired"), std::string::npos) << r.message;
  EXPECT_FALSE(Has(r, "heartbeat lost"));
}

TEST_F(CheckRunnerTest, WitnessCrashIsAFailure) {
  VmScript victim, witness;
  victim.on_fault = {{20, Kind::kConsole, "BUG: kernel NULL pointer dereference, address: 0"}};
  witness.on_fault = {{50, Kind::kConsole, "general protection fault: 0000 [#1] SMP"}};
  scripted::SetScripts({{"victim", victim}, {"witness", witness}});
  CheckRecord r = RunCheck(Spec("crash", /*witness=*/true), env_);
  EXPECT_EQ(r.verdict, Verdict::kFailure) << r.message;
  EXPECT_EQ(r.effect, "global");
  bool witness_bad = false;
  for (const auto& e : r.evidence) {
    witness_bad |= e.source == EvidenceSource::kWitness && e.severity == report::Severity::kBad;
  }
  EXPECT_TRUE(witness_bad);
}

TEST_F(CheckRunnerTest, WitnessUnharmedIsContained) {
  VmScript victim;
  victim.on_fault = {{20, Kind::kConsole, "BUG: kernel NULL pointer dereference, address: 0"}};
  scripted::SetScripts({{"victim", victim}, {"witness", VmScript{}}});
  CheckRecord r = RunCheck(Spec("crash", /*witness=*/true), env_);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_TRUE(Has(r, ": steady"));
}

TEST_F(CheckRunnerTest, ACrashAfterTheDeadlineIsNoSign) {
  VmScript victim;
  victim.on_fault = {{3600, Kind::kConsole, "divide error: 0000 [#1] SMP"}};
  scripted::SetScripts({{"victim", victim}});
  CheckRecord r = RunCheck(Spec("crash"), env_);
  EXPECT_EQ(r.verdict, Verdict::kError) << r.message;
  EXPECT_FALSE(Has(r, "divide error"));
}

TEST_F(CheckRunnerTest, VmmExitBeforeReadyIsAnError) {
  VmScript victim;
  victim.boot = {{50, Kind::kConsole, "Linux version 6.1"}, {50, Kind::kVmmExit, "exit status 1"}};
  scripted::SetScripts({{"victim", victim}});
  CheckRecord r = RunCheck(Spec("crash"), env_);
  EXPECT_EQ(r.verdict, Verdict::kError);
  EXPECT_NE(r.message.find("the victim failed while booting: its VMM exited"), std::string::npos)
      << r.message;
  EXPECT_NE(r.message.find(r.console_log_path), std::string::npos) << "names the console log";
}

TEST_F(CheckRunnerTest, NoReadyIsABootTimeout) {
  VmScript victim;
  victim.boot = {{10, Kind::kConsole, "Linux version 6.1"}};
  scripted::SetScripts({{"victim", victim}});
  CheckRecord r = RunCheck(Spec("crash"), env_);
  EXPECT_EQ(r.verdict, Verdict::kError);
  EXPECT_NE(r.message.find("did not reach READY in 3 s"), std::string::npos) << r.message;
}

TEST_F(CheckRunnerTest, CrashWhileBootingIsAnError) {
  VmScript victim;
  victim.boot = {{10, Kind::kConsole, "Kernel panic - not syncing: VFS: Unable to mount root fs"}};
  scripted::SetScripts({{"victim", victim}});
  CheckRecord r = RunCheck(Spec("crash"), env_);
  EXPECT_EQ(r.verdict, Verdict::kError);
  EXPECT_NE(r.message.find("its kernel crashed"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace ezone
