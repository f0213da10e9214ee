// The probe's reasons. On this host (no Palacios) for real, through the
// plugin's C entry point; the reasons that need a loaded v3vee.ko against
// FakeV3vee (those tests say WithFakeDevice).
#include <dirent.h>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "ezone/plugin_abi.h"
#include "ezone/sdk.h"
#include "fake_v3vee.h"
#include "palacios_device.h"
#include "palacios_iso.h"
#include "sink_recorder.h"

namespace ezone::palacios {
namespace {

namespace fs = std::filesystem;

const ezone_plugin_descriptor* Plugin() {
  static const ezone_plugin_descriptor* d = [] {
    void* lib = dlopen(EZONE_PALACIOS_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    if (!lib) return static_cast<const ezone_plugin_descriptor*>(nullptr);
    auto entry = reinterpret_cast<ezone_plugin_entry_fn>(dlsym(lib, EZONE_PLUGIN_ENTRY_SYMBOL));
    return entry ? entry(EZONE_PLUGIN_ABI_MAJOR) : nullptr;
  }();
  return d;
}

std::pair<ezone_status, std::string> Probe(const std::string& options) {
  char msg[1024] = {0};
  ezone_status s = Plugin()->vmm->probe(options.c_str(), msg, sizeof msg);
  return {s, msg};
}

// Our temp dirs: <temp>/ezone-<pid>-*.
std::vector<std::string> OurTempDirs() {
  std::vector<std::string> out;
  std::string prefix = "ezone-" + std::to_string(getpid()) + "-";
  for (const auto& e : fs::directory_iterator(fs::temp_directory_path())) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path().string());
  }
  return out;
}

TEST(PalaciosPluginOnThisHost, DescriptorClaimsNoProcessAndNoPanicEvent) {
  ASSERT_TRUE(Plugin()) << dlerror();
  EXPECT_STREQ(Plugin()->name, "palacios");
  EXPECT_EQ(Plugin()->capabilities & EZONE_CAP_PROCESS, 0u) << "a Palacios VM is no host process";
  EXPECT_EQ(Plugin()->capabilities & EZONE_CAP_PANIC_EVENT, 0u);
  EXPECT_EQ(Plugin()->capabilities & EZONE_CAP_GUEST_MEMORY, 0u);
}

TEST(PalaciosPluginOnThisHost, ProbeDeclinesWithTheExactReason) {
  ASSERT_TRUE(Plugin());
  if (access("/dev/v3vee", F_OK) == 0) GTEST_SKIP() << "this host has /dev/v3vee";
  auto [status, msg] = Probe("");
  EXPECT_EQ(status, EZONE_DECLINED);
  EXPECT_EQ(msg, "Palacios: /dev/v3vee absent (v3vee.ko not loaded)");
}

TEST(PalaciosPluginOnThisHost, ProbeSaysANonPalaciosDeviceIsUnusable) {
  ASSERT_TRUE(Plugin());
  // A real ioctl on a file that is not v3vee.ko's: the kernel says ENOTTY.
  TempDir dir("probe-test");
  std::ofstream(dir.path() / "v3vee") << "";
  auto [status, msg] = Probe("device=" + (dir.path() / "v3vee").string());
  EXPECT_EQ(status, EZONE_DECLINED);
  EXPECT_NE(msg.find("does not take Palacios's ioctls (ENOTTY)"), std::string::npos) << msg;
  auto [null_status, null_msg] = Probe("device=/dev/null");
  EXPECT_EQ(null_status, EZONE_DECLINED);
  EXPECT_NE(null_msg.find("ENOTTY"), std::string::npos) << null_msg;
}

TEST(PalaciosPluginOnThisHost, CreateWithoutTheModuleFailsAndLeavesNoTempDir) {
  ASSERT_TRUE(Plugin());
  if (access("/dev/v3vee", F_OK) == 0) GTEST_SKIP() << "this host has /dev/v3vee";
  std::string why;
  ASSERT_TRUE(FindIsoTools(&why)) << why;
  TempDir cache("create-test-cache");
  std::string kernel = std::string(EZONE_TEST_GUEST_DIR) + "/vmlinuz";
  std::string initramfs = std::string(EZONE_TEST_GUEST_DIR) + "/initramfs.cpio.gz";
  std::string options = "cache-dir=" + cache.path().string();
  ezone_guest_spec spec{sizeof spec, kernel.c_str(), initramfs.c_str(),
                        "console=ttyS0 ezone.nonce=0123456789abcdef", 256, 1, "victim",
                        options.c_str()};
  testing::SinkRecorder sink;
  void* vm = nullptr;
  char msg[1024] = {0};
  std::vector<std::string> before = OurTempDirs();
  EXPECT_EQ(Plugin()->vmm->create(&spec, &sink.c_sink(), &vm, msg, sizeof msg), EZONE_FAILED);
  EXPECT_EQ(vm, nullptr);
  EXPECT_STREQ(msg, "Palacios: open /dev/v3vee: No such file or directory");
  EXPECT_EQ(OurTempDirs(), before) << "a temp dir was left behind";
  // The boot ISO was built and cached on the way, with no partial file.
  int isos = 0;
  for (const auto& e : fs::directory_iterator(cache.path())) {
    EXPECT_TRUE(e.path().extension() == ".iso" && e.path().filename().string()[0] != '.')
        << e.path();
    ++isos;
  }
  EXPECT_EQ(isos, 1);
}

class PalaciosProbeWithFakeDevice : public ::testing::Test {
 protected:
  std::string DeclineReason(uint64_t need = uint64_t{256} << 20, bool may_add = false) {
    try {
      ProbeHost(fake_, fake_.paths, need, may_add);
    } catch (const ezone::sdk::Declined& e) {
      return e.what();
    }
    return "";
  }
  testing::FakeV3vee fake_;
};

TEST_F(PalaciosProbeWithFakeDevice, AcceptsAModuleWithMemory) {
  EXPECT_EQ(DeclineReason(), "");
  EXPECT_TRUE(fake_.Logged("ioctl 0")) << "the harmless request that tells v3vee.ko apart";
  EXPECT_EQ(fake_.LeftOver(), "");
}

TEST_F(PalaciosProbeWithFakeDevice, ControlDeviceAbsent) {
  fake_.control_exists = false;
  EXPECT_EQ(DeclineReason(), "Palacios: /dev/v3vee absent (v3vee.ko not loaded)");
}

TEST_F(PalaciosProbeWithFakeDevice, ControlDeviceNotReadable) {
  fake_.fail_open["/dev/v3vee"] = EACCES;
  EXPECT_NE(DeclineReason().find("cannot open /dev/v3vee: Permission denied"), std::string::npos);
}

TEST_F(PalaciosProbeWithFakeDevice, ProcDirectoryMissingMeansAnUnknownVersion) {
  fake_.has_proc = false;
  std::string why = DeclineReason();
  EXPECT_NE(why.find("/proc/v3vee/v3-guests missing"), std::string::npos) << why;
  EXPECT_NE(why.find("version"), std::string::npos) << why;
}

TEST_F(PalaciosProbeWithFakeDevice, NotEnoughMemoryAdded) {
  fake_.free_memory = uint64_t{100} << 20;
  EXPECT_EQ(DeclineReason(),
            "Palacios: not enough memory added to Palacios: 100 MiB free in /proc/v3vee/v3-mem*, "
            "a guest needs 256 MiB (add memory with v3_mem, or vmm-options add-memory=1)");
  EXPECT_EQ(DeclineReason(uint64_t{100} << 20), "");
  EXPECT_EQ(DeclineReason(uint64_t{256} << 20, /*may_add=*/true), "");
}

TEST_F(PalaciosProbeWithFakeDevice, NoMemoryPools) {
  fake_.free_memory.reset();
  EXPECT_NE(DeclineReason().find("no memory pools"), std::string::npos);
}

}  // namespace
}  // namespace ezone::palacios
