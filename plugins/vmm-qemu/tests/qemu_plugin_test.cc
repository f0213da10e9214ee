// The real qemu plugin against a fake QEMU: a shell script, named by the
// binary= option, that writes on the QMP descriptor what a broken or hostile
// QEMU could. Nothing boots; the runner must not abort.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "plugin_registry.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;

struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<ezone_vm_event, std::string>> events;

  static void Console(void*, const char*, size_t) {}
  static void Control(void*, const char*, size_t) {}
  static void Event(void* self, ezone_vm_event event, const char* detail) {
    auto* r = static_cast<Recorder*>(self);
    std::lock_guard lock(r->mu);
    r->events.emplace_back(event, detail);
    r->cv.notify_all();
  }
  bool WaitFor(size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return events.size() >= n; });
  }
};

// A spec that boots nothing: no kernel, so a real QEMU exits at once.
ezone_guest_spec NoGuest(const char* options) {
  ezone_guest_spec spec{};
  spec.struct_size = sizeof spec;
  spec.kernel = "/nonexistent/vmlinuz";
  spec.initramfs = "/nonexistent/initramfs";
  spec.cmdline = "";
  spec.memory_mib = 64;
  spec.vcpus = 1;
  spec.role = "victim";
  spec.options = options;
  spec.restore_from = "";
  return spec;
}

// A fake qemu-system-x86_64 that prints `qmp` on QMP (fd 5) and waits.
fs::path FakeQemu(const std::string& name, const std::string& qmp) {
  fs::path dir = fs::path(EZONE_TEST_WORK_DIR);
  fs::create_directories(dir);
  fs::path script = dir / name;
  std::ofstream(script) << "#!/bin/sh\n"
                           "[ \"$1\" = --version ] && { echo 'QEMU emulator version 0 (fake)'; exit 0; }\n"
                           "case \"$*\" in *-monitor*) exit 1;; esac\n"
                           "printf '" << qmp << "' >&5\n"
                           "exec sleep 60\n";
  fs::permissions(script, fs::perms::owner_all);
  return script;
}

// Issue 20 #1: `{"event":0}` on QMP aborted the runner (exit 134). Now the
// plugin reports EZONE_EVENT_PLUGIN_ERROR, once, and goes on reading.
TEST(QemuPluginTest, BadQmpIsAPluginErrorNotAnAbort) {
  Plugin plugin = LoadPlugin(EZONE_QEMU_PLUGIN);
  fs::path fake = FakeQemu("fake-qemu-bad-event",
                           "{\"QMP\":{}}\\n{\"event\":0}\\n{\"event\":[]}\\n"
                           "{\"event\":\"GUEST_PANICKED\",\"data\":{\"action\":\"pause\"}}\\n");
  Recorder recorder;
  ezone_vm_sink sink{&recorder, &Recorder::Console, &Recorder::Control, &Recorder::Event};
  std::string options = "binary=" + fake.string() + ";sandbox=off";
  ezone_guest_spec spec = NoGuest(options.c_str());
  void* vm = nullptr;
  char msg[512] = {0};
  ASSERT_EQ(plugin.descriptor->vmm->create(&spec, &sink, &vm, msg, sizeof msg), EZONE_OK) << msg;
  ASSERT_TRUE(recorder.WaitFor(2));
  plugin.descriptor->vmm->destroy(vm);
  std::lock_guard lock(recorder.mu);
  ASSERT_GE(recorder.events.size(), 2u);
  EXPECT_EQ(recorder.events[0].first, EZONE_EVENT_PLUGIN_ERROR);
  EXPECT_EQ(recorder.events[0].second, "QMP: an event name that is not a string")
      << recorder.events[0].second;
  EXPECT_EQ(recorder.events[1].first, EZONE_EVENT_GUEST_PANICKED);
}

// Issue 20: QEMU runs under its seccomp sandbox, and the version string,
// which reports carry, says so. A real QEMU, asked to boot nothing: it exits
// at once, which is all this needs.
TEST(QemuPluginTest, QemuRunsSandboxedAndTheVersionSaysSo) {
  if (system("command -v qemu-system-x86_64 >/dev/null") != 0) GTEST_SKIP() << "no QEMU here";
  Plugin plugin = LoadPlugin(EZONE_QEMU_PLUGIN);
  for (const char* sandbox : {"", "sandbox=off"}) {
    Recorder recorder;
    ezone_vm_sink sink{&recorder, &Recorder::Console, &Recorder::Control, &Recorder::Event};
    ezone_guest_spec spec = NoGuest(sandbox);
    void* vm = nullptr;
    char msg[512] = {0};
    ASSERT_EQ(plugin.descriptor->vmm->create(&spec, &sink, &vm, msg, sizeof msg), EZONE_OK) << msg;
    char version[256] = {0};
    ASSERT_EQ(plugin.descriptor->vmm->version(vm, version, sizeof version), EZONE_OK);
    EXPECT_NE(std::string(version).find(*sandbox ? "seccomp sandbox off: sandbox=off"
                                                 : "seccomp sandbox on"),
              std::string::npos)
        << version;
    ASSERT_TRUE(recorder.WaitFor(1));  // it exits: no kernel
    plugin.descriptor->vmm->destroy(vm);
    std::lock_guard lock(recorder.mu);
    EXPECT_EQ(recorder.events[0].first, EZONE_EVENT_VMM_EXITED);
    // Not refused for its sandbox: QEMU got as far as the missing kernel.
    EXPECT_EQ(recorder.events[0].second.find("seccomp"), std::string::npos)
        << recorder.events[0].second;
  }
}

// Issue 20: the nested host gets its per-run TLS credentials as fw_cfg
// items, one per file of fw_cfg_dir, named opt/ezone/<file>; a comma in the
// path is doubled, as QEMU's option syntax wants. A fake QEMU records its
// arguments.
TEST(QemuPluginTest, FwCfgDirGivesEachFileAsAnItem) {
  fs::path work = fs::path(EZONE_TEST_WORK_DIR) / "fw_cfg";
  fs::remove_all(work);
  fs::path dir = work / "a,b";
  fs::create_directories(dir / "subdir");
  std::ofstream(dir / "cacert.pem") << "ca";
  std::ofstream(dir / "serverkey.pem") << "key";
  fs::path args = work / "args";
  fs::path fake = work / "fake-qemu";
  std::ofstream(fake) << "#!/bin/sh\n"
                         "[ \"$1\" = --version ] && { echo 'QEMU emulator version 0 (fake)'; exit 0; }\n"
                         "for a in \"$@\"; do echo \"$a\"; done > '" << args.string() << ".tmp'\n"
                         "mv '" << args.string() << ".tmp' '" << args.string() << "'\n"
                         "exec sleep 60\n";
  fs::permissions(fake, fs::perms::owner_all);
  Plugin plugin = LoadPlugin(EZONE_QEMU_PLUGIN);
  Recorder recorder;
  ezone_vm_sink sink{&recorder, &Recorder::Console, &Recorder::Control, &Recorder::Event};
  std::string options = "binary=" + fake.string() + ";sandbox=off;fw_cfg_dir=" + dir.string();
  ezone_guest_spec spec = NoGuest(options.c_str());
  void* vm = nullptr;
  char msg[512] = {0};
  ASSERT_EQ(plugin.descriptor->vmm->create(&spec, &sink, &vm, msg, sizeof msg), EZONE_OK) << msg;
  for (int i = 0; i < 100 && !fs::exists(args); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  plugin.descriptor->vmm->destroy(vm);
  std::ifstream in(args);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::vector<std::string> items;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (lines[i] == "-fw_cfg") items.push_back(lines[i + 1]);
  }
  const std::string quoted = (work / "a,,b").string();
  EXPECT_EQ(items, (std::vector<std::string>{
                       "name=opt/ezone/cacert.pem,file=" + quoted + "/cacert.pem",
                       "name=opt/ezone/serverkey.pem,file=" + quoted + "/serverkey.pem"}));
  fs::remove_all(work);
}

}  // namespace
}  // namespace ezone
