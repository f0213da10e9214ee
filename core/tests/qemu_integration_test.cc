// End to end with the real ezone binary, a real QEMU and the real guest:
// the verdict engine says no when it must, and nothing is left behind, even
// when the runner is killed mid-check.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <pugixml.hpp>
#include <sstream>
#include <thread>

#include "ezone_test_support.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;

using testing_support::CommandResult;
using testing_support::NonceIn;
using testing_support::ProcessesWith;
using testing_support::ReadUntil;
using testing_support::Runner;

Runner StartEzone(const std::vector<std::string>& args) {
  return testing_support::StartEzone(EZONE_EXE, args);
}

CommandResult RunEzone(const std::string& args) {
  return testing_support::RunEzone(EZONE_EXE, args);
}

fs::path WorkDir(const std::string& name) {
  return testing_support::FreshDir(EZONE_TEST_WORK_DIR, name);
}

pugi::xml_node FindCase(const pugi::xml_document& doc, const std::string& name) {
  return doc.select_node(("//testcase[@name='" + name + "']").c_str()).node();
}

std::string SchemaErrors(const fs::path& junit) {
  return testing_support::SchemaErrors(EZONE_XMLLINT, EZONE_JUNIT_XSD, junit);
}

TEST(QemuIntegrationTest, SelftestSuiteProvesTheVerdictEngineSaysNo) {
  fs::path dir = WorkDir("selftest");
  CommandResult r = testing_support::RunCommand(
      std::string(EZONE_EXE) + " --plugin-dir " + EZONE_SELFTEST_PLUGIN_DIR + " run " +
      EZONE_SUITES_DIR + "/selftest.xml --report-dir " + dir.string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((dir / "junit.xml").c_str())) << r.output;

  pugi::xml_node crash = FindCase(doc, "qemu_kerncrash_divzero_1");
  // Both checks share that name; tell them apart by classname (<suite>.<check>).
  pugi::xml_node survives =
      doc.select_node("//testcase[@classname='selftest.PolicyGuestSurvivesRejectsCrash']").node();
  pugi::xml_node never =
      doc.select_node("//testcase[@classname='selftest.FaultThatNeverFiresIsAnError']").node();
  ASSERT_TRUE(crash && survives && never) << r.output;

  ASSERT_TRUE(survives.child("failure")) << r.output;
  EXPECT_NE(std::string(survives.child("failure").attribute("message").value()).find("isolation violated"),
            std::string::npos);
  EXPECT_NE(std::string(survives.child_value("system-out")).find("divide error"), std::string::npos)
      << "the guest really crashed: its console shows the kernel's report";

  EXPECT_EQ(SchemaErrors(dir / "junit.xml"), "");

  ASSERT_TRUE(never.child("error")) << r.output;
  EXPECT_NE(std::string(never.child("error").attribute("message").value()).find("never fired"),
            std::string::npos);

  // The witness went down with the victim: a real isolation violation.
  pugi::xml_node escape =
      doc.select_node("//testcase[@classname='selftest.WitnessDownIsAGlobalFailure']").node();
  ASSERT_TRUE(escape) << r.output;
  ASSERT_TRUE(escape.child("failure")) << r.output;
  std::string escape_out = escape.child_value("system-out");
  EXPECT_NE(escape_out.find("effect=global"), std::string::npos) << escape_out;
  EXPECT_NE(std::string(escape.child("failure").child_value()).find("witness died"),
            std::string::npos);
}

TEST(QemuIntegrationTest, PaperCheckOnQemuPassesAndLeavesNothingBehind) {
  fs::path dir = WorkDir("paper-one");
  CommandResult r = RunEzone(std::string(EZONE_SUITES_DIR) +
                      "/paper.xml --check GuestKernelCrashMustNotKillHost/qemu_kerncrash_divzero_1"
                      " --report-dir " + dir.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((dir / "junit.xml").c_str()));
  pugi::xml_node tc = FindCase(doc, "qemu_kerncrash_divzero_1");
  ASSERT_TRUE(tc);
  EXPECT_FALSE(tc.child("failure") || tc.child("error") || tc.child("skipped"));
  std::string out = tc.child_value("system-out");
  EXPECT_NE(out.find("divide error: 0000"), std::string::npos) << out;
  EXPECT_NE(out.find("effect=limited"), std::string::npos) << out;
  EXPECT_EQ(SchemaErrors(dir / "junit.xml"), "");
  EXPECT_TRUE(fs::exists(dir / "report.html"));

  std::string nonce = NonceIn(out);
  ASSERT_EQ(nonce.size(), 16u) << out;
  EXPECT_TRUE(ProcessesWith("ezone.nonce=" + nonce).empty()) << "a VMM of this check still runs";
}

TEST(QemuIntegrationTest, KilledRunnerLeavesNoVmmBehind) {
  fs::path dir = WorkDir("killed");
  Runner r = StartEzone({std::string(EZONE_SUITES_DIR) + "/selftest.xml", "--check",
                         "FaultThatNeverFiresIsAnError/qemu_kerncrash_divzero_1", "--report-dir",
                         dir.string()});
  // Read progress until the VMM is up and the check is observing.
  std::string text;
  ReadUntil(r, ": observing", &text);
  int vmm_pid = testing_support::VmmPidIn(text);
  pid_t runner = r.pid;
  ASSERT_GT(vmm_pid, 0) << text;
  ASSERT_EQ(kill(vmm_pid, 0), 0) << "the VMM should be running now";
  kill(runner, SIGKILL);
  waitpid(runner, nullptr, 0);
  close(r.out);
  // PR_SET_PDEATHSIG takes the VMM down with the runner; give it a moment.
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    std::ifstream in("/proc/" + std::to_string(vmm_pid) + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    gone = cmdline.find("qemu") == std::string::npos;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(gone) << "qemu pid " << vmm_pid << " survived its killed runner";
}

long RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

TEST(QemuIntegrationTest, ConsoleFloodOfRandomBytesKeepsJUnitValidAndMemoryBounded) {
  fs::path dir = WorkDir("flood");
  Runner r = StartEzone({std::string(EZONE_TEST_SUITES_DIR) + "/flood.xml", "--report-dir", dir});
  ASSERT_GT(r.pid, 0);
  // Sample the runner's own memory while the guest floods (not qemu's).
  long max_rss = 0;
  std::thread reader([&] {
    std::string text;
    ReadUntil(r, "\nJournal: ", &text);
  });
  int status = 0;
  while (waitpid(r.pid, &status, WNOHANG) == 0) {
    max_rss = std::max(max_rss, RssKb(r.pid));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  reader.join();
  close(r.out);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(SchemaErrors(dir / "junit.xml"), "");
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((dir / "junit.xml").c_str()));
  pugi::xml_node tc = FindCase(doc, "qemu_host_pressure_consoleflood_1");
  ASSERT_TRUE(tc);
  EXPECT_FALSE(tc.child("failure") || tc.child("error") || tc.child("skipped"));
  std::error_code ec;
  auto log_size = fs::file_size(
      dir / "console" / "flood.ConsoleFlood.qemu_host_pressure_consoleflood_1.log", ec);
  EXPECT_GT(log_size, 2u << 20) << "the flood reached the console log";
  EXPECT_GT(max_rss, 0);
  EXPECT_LT(max_rss, 64 * 1024) << "runner RSS " << max_rss << " kB during a 2 MiB flood";
  std::cout << "runner max RSS during the flood: " << max_rss << " kB\n";
}

TEST(QemuIntegrationTest, SnapshotModeRestoresAFreshGuestForEveryCheck) {
  fs::path dir = WorkDir("snapshot");
  fs::path cache = dir / "cache";
  CommandResult r = testing_support::RunCommand(
      "EZONE_CACHE_DIR=" + cache.string() + " " + EZONE_EXE + " run " + EZONE_TEST_SUITES_DIR +
      "/snapshot.xml --report-dir " + dir.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((dir / "junit.xml").c_str()));
  int prepared = 0;
  for (int i = 1; i <= 3; ++i) {
    pugi::xml_node tc = FindCase(doc, "qemu_kerncrash_divzero_" + std::to_string(i));
    ASSERT_TRUE(tc);
    EXPECT_FALSE(tc.child("failure") || tc.child("error") || tc.child("skipped"));
    std::string out = tc.child_value("system-out");
    EXPECT_NE(out.find("mode=snapshot"), std::string::npos);
    // Each check saw its own crash: the fault is fresh, not carried over.
    EXPECT_NE(out.find("divide error: 0000"), std::string::npos) << out;
    prepared += out.find("snapshot_prepared_ms=") != std::string::npos;
  }
  EXPECT_EQ(prepared, 1) << "the saved state is made once and reused";
  fs::remove_all(cache);
}

// Every "vmm pid N" a run's progress announced.
std::vector<int> VmmPidsIn(const std::string& text) {
  std::vector<int> pids;
  for (size_t at = text.find("vmm pid "); at != std::string::npos;
       at = text.find("vmm pid ", at + 1)) {
    pids.push_back(std::atoi(text.c_str() + at + 8));
  }
  return pids;
}

// A QEMU that is gone (or whose pid is something else now), within 5 s:
// parent-death signals are delivered asynchronously.
bool QemuGone(int pid) {
  for (int i = 0; i < 50; ++i) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find("qemu") == std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// `ezone run --jobs 2`: the smoke suite's checks as child runners, two
// one-VM checks side by side (the witness check, two VMs, alone), one
// merged report, every VMM gone.
TEST(QemuIntegrationTest, RunJobsRunsChecksSideBySideAndMergesTheirReports) {
  fs::path dir = WorkDir("jobs");
  CommandResult r = RunEzone(std::string(EZONE_SUITES_DIR) + "/smoke.xml --jobs 2 --report-dir " +
                             dir.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(SchemaErrors(dir / "junit.xml"), "");
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((dir / "junit.xml").c_str()));
  EXPECT_EQ(doc.select_nodes("//testcase").size(), 4u);
  for (const char* name : {"qemu_kerncrash_divzero_1", "qemu_guest_user_segv_1",
                           "qemu_vmm_signal_sigkill_1", "qemu_snapshot_kerncrash_divzero_1"}) {
    pugi::xml_node tc = FindCase(doc, name);
    ASSERT_TRUE(tc) << name << " is not in the merged report";
    EXPECT_FALSE(tc.child("failure") || tc.child("error") || tc.child("skipped")) << name;
    // <suite>.<class>.<name>.log; JUnit's classname is <suite>.<class>.
    const std::string stem = std::string(tc.attribute("classname").value()) + "." + name;
    EXPECT_TRUE(fs::exists(dir / "output" / (stem + ".log"))) << stem << ": no output log";
  }
  EXPECT_TRUE(fs::exists(dir / "report.html"));
  // The two one-VM checks ran side by side: both started before either ended.
  size_t segv_start = r.output.find("qemu_guest_user_segv_1: started (runner pid");
  size_t kill_start = r.output.find("qemu_vmm_signal_sigkill_1: started (runner pid");
  size_t first_end = std::min(r.output.find("qemu_guest_user_segv_1: pass"),
                              r.output.find("qemu_vmm_signal_sigkill_1: pass"));
  ASSERT_NE(segv_start, std::string::npos) << r.output;
  ASSERT_NE(kill_start, std::string::npos) << r.output;
  EXPECT_LT(std::max(segv_start, kill_start), first_end) << r.output;
  // The witness check (two VMs, two cores' worth) ran alone: nothing
  // started between its start and its verdict.
  size_t pair_start = r.output.find("qemu_kerncrash_divzero_1: started");
  size_t pair_end = r.output.find("qemu_kerncrash_divzero_1: pass");
  ASSERT_LT(pair_start, pair_end) << r.output;
  const size_t after = r.output.find('\n', pair_start);
  EXPECT_EQ(r.output.substr(after, pair_end - after).find(": started (runner pid"),
            std::string::npos)
      << r.output;
  for (int pid : VmmPidsIn(r.output)) EXPECT_TRUE(QemuGone(pid)) << "qemu " << pid << " still runs";
}

// SIGINT to `ezone run --jobs` mid-run: the children are stopped, the
// finished verdicts and the interrupted check are in the reports it still
// writes, no VMM is left, and it exits 128 + 2.
TEST(QemuIntegrationTest, RunJobsStoppedKeepsFinishedVerdictsAndLeavesNoVmm) {
  fs::path dir = WorkDir("jobs-stopped");
  Runner r = StartEzone({std::string(EZONE_SUITES_DIR) + "/smoke.xml", "--jobs", "2",
                         "--report-dir", dir.string()});
  std::string text;
  ASSERT_TRUE(ReadUntil(r, "qemu_guest_user_segv_1: firing", &text)) << text;
  kill(r.pid, SIGINT);
  std::string rest;
  ReadUntil(r, "no such text: read to the end", &rest);
  text += rest;
  int status = 0;
  waitpid(r.pid, &status, 0);
  close(r.out);
  ASSERT_TRUE(WIFEXITED(status)) << text;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT) << text;
  EXPECT_NE(text.find("stopped by signal 2"), std::string::npos) << text;
  EXPECT_EQ(SchemaErrors(dir / "junit.xml"), "");
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((dir / "junit.xml").c_str())) << text;
  pugi::xml_node finished = FindCase(doc, "qemu_kerncrash_divzero_1");
  ASSERT_TRUE(finished) << "the finished verdict was lost";
  EXPECT_FALSE(finished.child("failure") || finished.child("error") || finished.child("skipped"));
  pugi::xml_node stopped = FindCase(doc, "qemu_guest_user_segv_1");
  ASSERT_TRUE(stopped) << "the interrupted check is not named";
  EXPECT_EQ(std::string(stopped.child("error").attribute("message").value()).rfind("interrupted during ", 0),
            0u);
  // Exactly the checks that started are in the report: none starts after
  // the stop (the one-VM checks may have ended, or started, before it).
  for (const char* name : {"qemu_vmm_signal_sigkill_1", "qemu_snapshot_kerncrash_divzero_1"}) {
    const bool started = text.find(std::string(name) + ": started (runner pid") != std::string::npos;
    EXPECT_EQ(static_cast<bool>(FindCase(doc, name)), started) << name << "\n" << text;
  }
  for (int pid : VmmPidsIn(text)) EXPECT_TRUE(QemuGone(pid)) << "qemu " << pid << " still runs";
}

// `ezone list --ctest-script` (what ezone_add_suite runs at build time)
// gives ctest each check's cost from check_cost.h: its peak cores as
// PROCESSORS, a host-wide fault as RUN_SERIAL, and its average load and
// memory as RESOURCE_GROUPS, which ctest packs by given a resource spec.
// Boots nothing.
TEST(CTestScriptTest, EachCheckCarriesItsPeakItsLoadAndItsMemory) {
  fs::path dir = WorkDir("ctest-script");
  fs::path suite = dir / "costs.xml";
  std::ofstream(suite) << R"(<suite name="costs" policy="strong-isolation">
  <check name="Lone" vmm="qemu" fault="kerncrash" variant="divzero"/>
  <check name="Pair" vmm="qemu" witness="true" fault="kerncrash" variant="divzero"/>
  <check name="Nested" vmm="kvm" host="nested" fault="kerncrash" variant="divzero"/>
  <check name="Pressure" vmm="qemu" fault="host-pressure" variant="mempressure"/>
</suite>
)";
  fs::path script = dir / "costs_checks.cmake";
  CommandResult r = testing_support::RunCommand(std::string(EZONE_EXE) + " list " +
                                                suite.string() + " --ctest-script " +
                                                script.string() + " --report-dir " +
                                                (dir / "reports").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(script);
  std::map<std::string, std::string> properties;  // check -> its set_tests_properties line
  for (std::string line; std::getline(in, line);) {
    const std::string prefix = "set_tests_properties(\"costs:";
    if (line.rfind(prefix, 0) != 0) continue;
    properties[line.substr(prefix.size(), line.find('/') - prefix.size())] = line;
  }
  ASSERT_EQ(properties.size(), 4u) << r.output;
  auto has = [&](const std::string& check, const std::string& text) {
    return properties[check].find(text) != std::string::npos;
  };
  // 256 MiB guests, each QEMU 160 MiB more (kVmmOverheadMib).
  EXPECT_TRUE(has("Lone", "RESOURCE_GROUPS \"cpu:50,mem:416\"")) << properties["Lone"];
  EXPECT_FALSE(has("Lone", "PROCESSORS")) << properties["Lone"];
  EXPECT_TRUE(has("Pair", "PROCESSORS 2 ")) << properties["Pair"];
  EXPECT_TRUE(has("Pair", "RESOURCE_GROUPS \"cpu:200,mem:832\"")) << properties["Pair"];
  EXPECT_TRUE(has("Nested", "PROCESSORS 2 ")) << properties["Nested"];
  EXPECT_TRUE(has("Nested", "RESOURCE_GROUPS \"cpu:200,mem:")) << properties["Nested"];
  EXPECT_TRUE(has("Pressure", "RUN_SERIAL TRUE")) << properties["Pressure"];
  EXPECT_TRUE(has("Pressure", "RESOURCE_GROUPS \"cpu:100,mem:416\"")) << properties["Pressure"];
}

// The runner is SIGKILLed while the second check is in `phase`; the report
// rebuilt from the journal keeps the first verdict and names the second as
// interrupted.
class KilledRunnerTest : public testing::TestWithParam<const char*> {};

TEST_P(KilledRunnerTest, RebuiltReportKeepsFinishedVerdictsAndNamesTheInterruptedCheck) {
  std::string phase = GetParam();
  std::string tag = phase.substr(0, phase.find(' '));
  fs::path dir = WorkDir("killed-" + tag);
  Runner r = StartEzone({std::string(EZONE_TEST_SUITES_DIR) + "/killed.xml", "--report-dir", dir});
  std::string text;
  ASSERT_TRUE(ReadUntil(r, "Interrupted/kvm_libvirt_tcg_kerncrash_divzero_1: " + phase, &text))
      << text;
  kill(r.pid, SIGKILL);
  waitpid(r.pid, nullptr, 0);
  close(r.out);

  CommandResult rebuilt = testing_support::RunCommand(
      std::string(EZONE_EXE) + " report " + (dir / "journal").string() + " --junit " +
      (dir / "rebuilt.xml").string() + " --html " + (dir / "rebuilt.html").string());
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.output;
  EXPECT_EQ(SchemaErrors(dir / "rebuilt.xml"), "");
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((dir / "rebuilt.xml").c_str()));
  pugi::xml_node finished = doc.select_node("//testcase[@classname='killed.Finished']").node();
  ASSERT_TRUE(finished) << "the finished verdict was lost";
  EXPECT_FALSE(finished.child("failure") || finished.child("error") || finished.child("skipped"));
  pugi::xml_node interrupted = doc.select_node("//testcase[@classname='killed.Interrupted']").node();
  ASSERT_TRUE(interrupted) << "the interrupted check is not named";
  std::string message = interrupted.child("error").attribute("message").value();
  EXPECT_EQ(message.rfind("interrupted during ", 0), 0u) << message;
  EXPECT_TRUE(fs::exists(dir / "rebuilt.html"));
  // And nothing of the killed check survives it. The VMM's parent-death
  // signal is delivered asynchronously: allow it a moment on a loaded host.
  std::string marker = "ezone-" + std::to_string(r.pid) + "-";
  for (int i = 0; i < 50 && !ProcessesWith(marker).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(ProcessesWith(marker).empty()) << "a VMM of the killed runner still runs 5 s later";
}

INSTANTIATE_TEST_SUITE_P(AtEachPhase, KilledRunnerTest,
                         testing::Values("booting the victim", "firing", "observing",
                                         "tearing down the victim"),
                         [](const testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           for (char& c : name) if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

}  // namespace
}  // namespace ezone
