// The loader's error paths: each message must name the file and say what an
// author can do about it.
#include <gtest/gtest.h>

#include <fstream>

#include "plugin_registry.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;

std::string LoadError(const fs::path& path) {
  try {
    LoadPlugin(path);
  } catch (const PluginLoadError& e) {
    return e.what();
  }
  return "(loaded without error)";
}

fs::path BadPlugin(const char* name) { return fs::path(EZONE_BAD_PLUGIN_DIR) / name; }

TEST(PluginLoaderTest, NotALibraryReportsTheDynamicLoadersMessage) {
  fs::path fake = fs::temp_directory_path() / "ezone-test-not-elf.so";
  std::ofstream(fake) << std::string(4096, '#');  // long enough to be read as ELF
  std::string error = LoadError(fake);
  fs::remove(fake);
  EXPECT_NE(error.find(fake.string()), std::string::npos) << error;
  EXPECT_NE(error.find("cannot be loaded"), std::string::npos) << error;
  EXPECT_NE(error.find("ELF"), std::string::npos) << "dlerror text expected: " << error;
}

TEST(PluginLoaderTest, MissingFileIsNamed) {
  std::string error = LoadError("/nonexistent/ezone-nothing.so");
  EXPECT_NE(error.find("/nonexistent/ezone-nothing.so"), std::string::npos) << error;
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;
}

TEST(PluginLoaderTest, LibraryWithoutEntryPointIsNotAPlugin) {
  std::string error = LoadError(BadPlugin("bad-no-entry.so"));
  EXPECT_NE(error.find("bad-no-entry.so"), std::string::npos) << error;
  EXPECT_NE(error.find("no exported symbol 'ezone_plugin_entry'"), std::string::npos) << error;
}

TEST(PluginLoaderTest, AbiMajorMismatchNamesBothNumbers) {
  std::string error = LoadError(BadPlugin("bad-abi-major.so"));
  EXPECT_NE(error.find("ABI major mismatch: plugin has 42, this ezone core has 1"),
            std::string::npos) << error;
}

TEST(PluginLoaderTest, EntryRefusingOurAbiIsReported) {
  std::string error = LoadError(BadPlugin("bad-returns-null.so"));
  EXPECT_NE(error.find("returned no descriptor for core ABI major 1"), std::string::npos) << error;
}

TEST(PluginLoaderTest, InvalidDescriptorIsRejected) {
  std::string error = LoadError(BadPlugin("bad-no-variants.so"));
  EXPECT_NE(error.find("invalid descriptor"), std::string::npos) << error;
  EXPECT_NE(error.find("declares no variants"), std::string::npos) << error;
}

TEST(PluginLoaderTest, BuiltInPluginsLoadAndDescribeThemselves) {
  PluginRegistry registry;
  registry.Discover({EZONE_PLUGIN_BUILD_DIR_FOR_TESTS});
  EXPECT_TRUE(registry.load_errors().empty());
  const Plugin* qemu = registry.FindVmm("qemu");
  ASSERT_NE(qemu, nullptr);
  EXPECT_NE(qemu->descriptor->capabilities & EZONE_CAP_PANIC_EVENT, 0u);
  const Plugin* kerncrash = registry.FindFault("kerncrash");
  ASSERT_NE(kerncrash, nullptr);
  const ezone_fault_variant* divzero = kerncrash->FindVariant("divzero");
  ASSERT_NE(divzero, nullptr);
  EXPECT_EQ(divzero->zone, EZONE_ZONE_GUEST_KERNEL);
  EXPECT_EQ(kerncrash->FindVariant("nosuchmode"), nullptr);
}

TEST(PluginLoaderTest, ExceptionsInAPluginBecomeStatusesNotCrashes) {
  Plugin p = LoadPlugin(EZONE_THROWING_PLUGIN);
  char msg[256];
  EXPECT_EQ(p.descriptor->vmm->probe("throw-int", msg, sizeof msg), EZONE_FAILED);
  EXPECT_STREQ(msg, "unknown exception in plugin");
  EXPECT_EQ(p.descriptor->vmm->probe("", msg, sizeof msg), EZONE_OK);
  ezone_guest_spec spec{};
  spec.struct_size = sizeof spec;
  spec.kernel = spec.initramfs = spec.cmdline = spec.role = spec.options = "";
  ezone_vm_sink sink{};
  void* vm = nullptr;
  EXPECT_EQ(p.descriptor->vmm->create(&spec, &sink, &vm, msg, sizeof msg), EZONE_FAILED);
  EXPECT_STREQ(msg, "boom while creating");
  EXPECT_EQ(vm, nullptr);
}

TEST(PluginLoaderTest, DiscoveryKeepsGoingPastABadFile) {
  PluginRegistry registry;
  registry.Discover({EZONE_BAD_PLUGIN_DIR, EZONE_PLUGIN_BUILD_DIR_FOR_TESTS});
  EXPECT_EQ(registry.load_errors().size(), 4u);
  EXPECT_NE(registry.FindVmm("qemu"), nullptr);
}

}  // namespace
}  // namespace ezone
