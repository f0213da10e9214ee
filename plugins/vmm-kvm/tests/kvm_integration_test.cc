// End to end through the real ezone binary and the real libvirtd: the
// paper's check on the libvirt path (TCG domain type) passes with a real
// crash, the kvm rows skip with the probe's reason where KVM does not work,
// and no domain outlives its runner, even one killed with SIGKILL.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <pugixml.hpp>
#include <thread>

#include "ezone_test_support.h"
#include "kvm_test_util.h"

namespace ezone::kvm {
namespace {

namespace fs = std::filesystem;

using testing_support::CommandResult;
using testing_support::NonceIn;

CommandResult RunEzone(const std::string& args) {
  return testing_support::RunEzone(EZONE_EXE, args);
}

fs::path WorkDir(const std::string& name) {
  return testing_support::FreshDir(EZONE_TEST_WORK_DIR, name);
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(KvmIntegrationTest, PaperCheckThroughLibvirtTcgPassesAndLeavesNoDomain) {
  EZONE_REQUIRE_LIBVIRTD(c);
  fs::path dir = WorkDir("paper-tcg");
  CommandResult r = RunEzone(std::string(EZONE_SUITES_DIR) +
                      "/paper.xml --check GuestKernelCrashMustNotKillHost/"
                      "kvm_libvirt_tcg_kerncrash_divzero_1 --report-dir " + dir.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((dir / "junit.xml").c_str())) << r.output;
  pugi::xml_node tc =
      doc.select_node("//testcase[@name='kvm_libvirt_tcg_kerncrash_divzero_1']").node();
  ASSERT_TRUE(tc) << r.output;
  EXPECT_FALSE(tc.child("failure") || tc.child("error") || tc.child("skipped"));
  std::string out = tc.child_value("system-out");
  EXPECT_TRUE(Contains(out, "divide error: 0000")) << out;
  EXPECT_TRUE(Contains(out, "effect=limited")) << out;
  EXPECT_TRUE(Contains(out, "domain type qemu (TCG)")) << out;
  // The crash came through libvirt's event API too, not only the console.
  EXPECT_TRUE(Contains(out, "libvirt lifecycle event: domain crashed: panicked")) << out;

  std::string nonce = NonceIn(out);
  ASSERT_EQ(nonce.size(), 16u) << out;
  std::vector<std::string> left;
  for (const std::string& name : testing::DomainsNamed(c.conn, "ezone-")) {
    if (Contains(name, nonce)) left.push_back(name);
  }
  EXPECT_TRUE(left.empty()) << "domain of this check still known to libvirtd: " << left[0];
  virConnectClose(c.conn);
  fs::remove_all(dir);
}

TEST(KvmIntegrationTest, KvmRowsSkipWithTheProbesReasonWhereKvmDoesNotWork) {
  EZONE_REQUIRE_LIBVIRTD(c);
  virConnectClose(c.conn);
  fs::path dir = WorkDir("paper-kvm");
  auto start = std::chrono::steady_clock::now();
  CommandResult r = RunEzone(std::string(EZONE_SUITES_DIR) +
                      "/paper.xml --check GuestKernelCrashMustNotKillHost/kvm_kerncrash_divzero_1"
                      " --report-dir " + dir.string());
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((dir / "junit.xml").c_str())) << r.output;
  pugi::xml_node tc = doc.select_node("//testcase[@name='kvm_kerncrash_divzero_1']").node();
  ASSERT_TRUE(tc) << r.output;
  if (r.exit_code == 0) return;  // a host where KVM works: the check ran and passed
  ASSERT_EQ(r.exit_code, 77) << "the kvm row must skip, not fail or error: " << r.output;
  std::string why = tc.child("skipped").attribute("message").value();
  EXPECT_TRUE(Contains(why, "/dev/kvm")) << why;
  EXPECT_LT(s, 60.0) << "the probe is bounded";
  fs::remove_all(dir);
}

TEST(KvmIntegrationTest, KilledRunnerLeavesNoDomainBehind) {
  EZONE_REQUIRE_LIBVIRTD(c);
  fs::path dir = WorkDir("killed");
  // A check that would observe for ten minutes: the runner is killed first.
  fs::path suite = dir / "killed.xml";
  std::ofstream(suite) << R"(<?xml version="1.0" encoding="UTF-8"?>
<suite name="kvmkilled" boot-timeout="60s" observe-timeout="10m">
  <check name="KilledRunner" vmm="kvm" vmm-options="domain_type=qemu" vmm-label="kvm-libvirt-tcg"
         fault="kerncrash" variant="divzero" fault-options="delay_ms=600000"/>
</suite>
)";
  testing_support::Runner r = testing_support::StartEzone(
      EZONE_EXE, {suite, "--check", "KilledRunner/kvm_libvirt_tcg_kerncrash_divzero_1",
                  "--report-dir", (dir / "report").string()});
  auto [text, vmm_pid, prefix, running] = testing::KillWhileObserving(r, c.conn);
  ASSERT_EQ(running.size(), 1u) << "the check's domain should run now: " << text;
  EXPECT_GT(vmm_pid, 0) << text;

  // AUTODESTROY: libvirtd destroys the domain when its connection dies.
  EXPECT_TRUE(testing::DomainsGoneWithin15s(c.conn, prefix, vmm_pid))
      << "domain " << running[0] << " (qemu pid " << vmm_pid << ") survived its killed runner";
  // A killed runner cannot remove libvirt's log of its domain; do it here.
  std::error_code ec;
  fs::remove("/var/log/libvirt/qemu/" + running[0] + ".log", ec);
  virConnectClose(c.conn);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ezone::kvm
