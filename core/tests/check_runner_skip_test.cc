// The check runner's honest skips for the nested host (issue 9), through
// RunCheck with the real plugins of the build tree. Nothing boots: the guest
// image is marked missing, so a check that got past its skip would end in an
// error naming that image instead of a VM.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "check_runner.h"
#include "plugin_registry.h"
#include "suite.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;
using report::Verdict;

constexpr char kNoGuestImage[] = "guest image deliberately missing in check_runner_skip_test";

class CheckRunnerSkipTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = new PluginRegistry;
    registry_->Discover({EZONE_PLUGIN_BUILD_DIR_FOR_TESTS});
  }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
  }

  void SetUp() override {
    if (const char* old = std::getenv("EZONE_NESTED_HOST_DIR")) saved_dir_ = old;
    dir_ = fs::temp_directory_path() /
           ("ezone-skip-test-" + std::to_string(getpid()) + "-" +
            testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "empty-nested-host");
    // Never the real image of some build tree: an empty directory.
    setenv("EZONE_NESTED_HOST_DIR", (dir_ / "empty-nested-host").c_str(), 1);
    env_.registry = registry_;
    env_.image.missing = kNoGuestImage;
    env_.report_dir = dir_ / "report";
  }

  void TearDown() override {
    if (saved_dir_) {
      setenv("EZONE_NESTED_HOST_DIR", saved_dir_->c_str(), 1);
    } else {
      unsetenv("EZONE_NESTED_HOST_DIR");
    }
    fs::remove_all(dir_);
  }

  // The plugins these tests rely on, with the capabilities they rely on.
  void RequirePlugins() {
    for (const char* vmm : {"qemu", "kvm"}) {
      ASSERT_NE(registry_->FindVmm(vmm), nullptr)
          << vmm << " not among " << registry_->Names(EZONE_KIND_VMM);
    }
    for (const char* fault : {"hostkernel", "kerncrash"}) {
      ASSERT_NE(registry_->FindFault(fault), nullptr)
          << fault << " not among " << registry_->Names(EZONE_KIND_FAULT);
    }
  }

  CheckSpec Spec(const std::string& vmm, const std::string& fault, const std::string& variant,
                 const std::string& host, const std::string& policy) {
    CheckSpec s;
    s.suite = "skiptest";
    s.classname = "NestedHostSkip";
    s.vmm = vmm;
    s.vmm_label = vmm + (host == "nested" ? "@nested" : "");
    s.fault = fault;
    s.variant = variant;
    s.policy = *report::ParsePolicy(policy);
    s.host = host == "nested" ? HostKind::kNested : HostKind::kLocal;
    s.name = vmm + "_" + fault + "_" + variant + "_1";
    s.file = "skiptest.xml";
    s.line = 1;
    return s;
  }

  report::CheckRecord Run(const CheckSpec& spec) {
    auto start = std::chrono::steady_clock::now();
    report::CheckRecord r = RunCheck(spec, env_);
    // A skip decides before anything starts.
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    EXPECT_FALSE(fs::exists(env_.report_dir / "console")) << "a console log means a VM started";
    return r;
  }

  static PluginRegistry* registry_;
  RunEnvironment env_;
  fs::path dir_;
  std::optional<std::string> saved_dir_;
};

PluginRegistry* CheckRunnerSkipTest::registry_ = nullptr;

TEST_F(CheckRunnerSkipTest, EZone1FaultOnTheLocalHostIsSkipped) {
  RequirePlugins();
  ASSERT_EQ(registry_->FindFault("hostkernel")->FindVariant("panic")->zone, EZONE_ZONE_HOST_KERNEL);
  for (const char* vmm : {"qemu", "kvm"}) {
    report::CheckRecord r = Run(Spec(vmm, "hostkernel", "panic", "local", "detected"));
    EXPECT_EQ(r.verdict, Verdict::kSkipped) << vmm << ": " << r.message;
    EXPECT_NE(r.message.find("hostkernel/panic"), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("E-Zone 1"), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("runs only on a nested host"), std::string::npos) << r.message;
    EXPECT_EQ(r.zone, "E-Zone 1");
    EXPECT_EQ(r.properties["host_under_test"], "local");
  }
}

TEST_F(CheckRunnerSkipTest, NestedHostWithoutItsImageIsSkipped) {
  RequirePlugins();
  ASSERT_TRUE(registry_->FindVmm("kvm")->descriptor->capabilities & EZONE_CAP_REMOTE_HOST);
  // Both an E-Zone 1 fault and a guest fault need the image.
  for (const char* fault_variant : {"hostkernel/panic", "kerncrash/divzero"}) {
    std::string fv = fault_variant;
    std::string fault = fv.substr(0, fv.find('/')), variant = fv.substr(fv.find('/') + 1);
    report::CheckRecord r = Run(Spec("kvm", fault, variant, "nested", "detected"));
    EXPECT_EQ(r.verdict, Verdict::kSkipped) << fv << ": " << r.message;
    EXPECT_NE(r.message.find("nested host image not found"), std::string::npos) << r.message;
    // It says where it looked: the directory EZONE_NESTED_HOST_DIR named.
    EXPECT_NE(r.message.find((dir_ / "empty-nested-host").string()), std::string::npos)
        << r.message;
    EXPECT_EQ(r.properties["host_under_test"], "nested");
    EXPECT_EQ(r.vmm, "kvm@nested");
  }
}

TEST_F(CheckRunnerSkipTest, NestedHostImageNeedsBothFiles) {
  RequirePlugins();
  // A kernel without its initramfs is no image either.
  std::ofstream(dir_ / "empty-nested-host" / "vmlinuz") << "not a kernel";
  report::CheckRecord r = Run(Spec("kvm", "hostkernel", "panic", "nested", "detected"));
  EXPECT_EQ(r.verdict, Verdict::kSkipped) << r.message;
  EXPECT_NE(r.message.find("nested host image not found"), std::string::npos) << r.message;
}

TEST_F(CheckRunnerSkipTest, NestedHostNeedsAVmmThatRunsVmsElsewhere) {
  RequirePlugins();
  ASSERT_FALSE(registry_->FindVmm("qemu")->descriptor->capabilities & EZONE_CAP_REMOTE_HOST);
  for (const char* fault_variant : {"hostkernel/panic", "kerncrash/divzero"}) {
    std::string fv = fault_variant;
    std::string fault = fv.substr(0, fv.find('/')), variant = fv.substr(fv.find('/') + 1);
    report::CheckRecord r = Run(Spec("qemu", fault, variant, "nested", "strong-isolation"));
    EXPECT_EQ(r.verdict, Verdict::kSkipped) << fv << ": " << r.message;
    EXPECT_NE(r.message.find("EZONE_CAP_REMOTE_HOST"), std::string::npos) << r.message;
    EXPECT_EQ(r.message.rfind("qemu ", 0), 0u) << "names the VMM: " << r.message;
    // The capability is the reason, not the missing image (checked after it).
    EXPECT_EQ(r.message.find("image"), std::string::npos) << r.message;
  }
}

// The counterpart: a guest fault on the local host passes every nested-host
// gate and reaches the guest image, whose absence is an error, not a skip.
TEST_F(CheckRunnerSkipTest, LocalGuestFaultIsNotSkippedByTheNestedHostGates) {
  RequirePlugins();
  report::CheckRecord r = Run(Spec("qemu", "kerncrash", "divzero", "local", "strong-isolation"));
  if (r.verdict == Verdict::kSkipped) {
    // Only the VMM itself may decline here (no qemu-system-x86_64 on PATH).
    EXPECT_EQ(r.message.find("nested"), std::string::npos) << r.message;
    GTEST_SKIP() << "qemu declined: " << r.message;
  }
  EXPECT_EQ(r.verdict, Verdict::kError) << r.message;
  EXPECT_EQ(r.message, kNoGuestImage);
  EXPECT_EQ(r.properties["host_under_test"], "local");
}

}  // namespace
}  // namespace ezone
