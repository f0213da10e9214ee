// The ABI's minor-version promise (issue 17): plugins built against the
// frozen 1.0 header load and run in today's core; descriptors below 1.0's
// sizes, or below the sizes of the minor they declare, are refused with a
// message; a plugin of a future minor (larger structs) loads; NULL means
// "not supported" for every optional op; the SDK reads appended fields only
// when struct_size covers them and tells an agent timeout from an ERR by
// status.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>

#include "ezone/sdk.h"
#include "plugin_registry.h"
#include "vm_session.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

fs::path AbiPlugin(const char* name) { return fs::path(EZONE_ABI_PLUGIN_DIR) / name; }

std::string LoadError(const fs::path& path) {
  try {
    LoadPlugin(path);
  } catch (const PluginLoadError& e) {
    return e.what();
  }
  return "(loaded without error)";
}

// Waits for the first event of `kind` (other kinds are skipped).
bool WaitFor(EventQueue& events, VmEvent::Kind kind, milliseconds within = milliseconds(5000)) {
  auto deadline = Clock::now() + within;
  while (auto e = events.Wait(deadline)) {
    if (e->kind == kind) return true;
  }
  return false;
}

TEST(AbiCompatTest, TheSizeTablesMatchTheFrozen10Layout) {
  // 1.0's structs as the frozen header has them (all fields pointer-sized or
  // padded to it on LP64): these numbers are the ABI, they must never move.
  EXPECT_EQ(EZONE_DESCRIPTOR_SIZE_1_0, 88u);
  EXPECT_EQ(EZONE_VMM_OPS_SIZE_1_0, 7 * sizeof(void*));
  EXPECT_EQ(EZONE_FAULT_OPS_SIZE_1_0, 2 * sizeof(void*));
  EXPECT_EQ(EZONE_GUEST_SPEC_SIZE_1_0, 7 * sizeof(void*));
  EXPECT_EQ(EZONE_VMM_OPS_SIZE_1_1, sizeof(ezone_vmm_ops));
  EXPECT_EQ(EZONE_GUEST_SPEC_SIZE_1_1, sizeof(ezone_guest_spec));
}

TEST(AbiCompatTest, A10VmmPluginLoadsWithItsMissingOpsAsNull) {
  Plugin p = LoadPlugin(AbiPlugin("abi10-vmm.so"));
  EXPECT_EQ(p.declared->abi_minor, 0u);
  EXPECT_EQ(p.declared->vmm->struct_size, EZONE_VMM_OPS_SIZE_1_0);
  // The core's view: today's size, the ops 1.0 did not have are NULL.
  EXPECT_EQ(p.descriptor->vmm->struct_size, sizeof(ezone_vmm_ops));
  EXPECT_EQ(p.descriptor->vmm->guest_memory, nullptr);
  EXPECT_EQ(p.descriptor->vmm->save_snapshot, nullptr);
  EXPECT_EQ(p.descriptor->vmm->create, p.declared->vmm->create);
}

// The core boots the 1.0 VMM, waits for its READY, talks to its agent, and
// fires a 1.0 fault through the core's fault target; the VMM's exit (the
// variant's sign) reaches the core's event queue.
TEST(AbiCompatTest, A10VmmAndA10FaultRunInTodaysCore) {
  Plugin vmm = LoadPlugin(AbiPlugin("abi10-vmm.so"));
  Plugin fault = LoadPlugin(AbiPlugin("abi10-fault.so"));
  ASSERT_EQ(fault.declared->abi_minor, 0u);
  EventQueue events;
  std::string nonce = MakeNonce();
  VmSession session(vmm, Role::kVictim, nonce, fs::temp_directory_path() / "ezone-abi10-console.log",
                    &events);
  BootRequest request;
  request.cmdline = AgentCmdline(nonce, 50);
  std::string error;
  ASSERT_EQ(session.Start(request, &error), EZONE_OK) << error;
  ASSERT_TRUE(WaitFor(events, VmEvent::Kind::kReady));
  std::string reply;
  ASSERT_TRUE(session.AgentCommand("ping", milliseconds(2000), &reply)) << reply;
  EXPECT_EQ(reply, "pong");
  EXPECT_EQ(session.Version(), "abi10 fake VMM 1.0");
  EXPECT_EQ(session.Pid(), -1);
  EXPECT_EQ(session.SaveSnapshot("/nonexistent", &error), EZONE_DECLINED);
  char byte = 0;
  EXPECT_EQ(session.GuestMemory(false, 0, &byte, 1, &error), EZONE_DECLINED);

  // A fault target as the core fills it (today's struct; the 1.0 plugin reads
  // its first four fields).
  struct Ctx {
    VmSession* vm;
  } ctx{&session};
  ezone_fault_target target{};
  target.core = &ctx;
  target.agent_command = [](void* core, const char* command, uint32_t timeout_ms, char* out,
                            size_t size) {
    std::string text;
    bool ok = static_cast<Ctx*>(core)->vm->AgentCommand(command, milliseconds(timeout_ms), &text);
    snprintf(out, size, "%s", text.c_str());
    return ok ? EZONE_OK : EZONE_FAILED;
  };
  target.vmm_pid = [](void* core) { return static_cast<Ctx*>(core)->vm->Pid(); };
  target.vmm_name = "abi10-vmm";
  const ezone_fault_variant* exit_variant = fault.FindVariant("exit");
  ASSERT_NE(exit_variant, nullptr);
  EXPECT_EQ(exit_variant->signs, static_cast<uint32_t>(EZONE_SIGN_VMM_EXIT));
  char msg[256] = {0};
  ASSERT_EQ(fault.descriptor->fault->fire("exit", "", &target, msg, sizeof msg), EZONE_OK) << msg;
  EXPECT_STREQ(msg, "agent said bye on abi10-vmm");
  EXPECT_TRUE(WaitFor(events, VmEvent::Kind::kVmmExited));
  session.Destroy();
}

TEST(AbiCompatTest, ADescriptorSmallerThan10IsRefused) {
  std::string error = LoadError(AbiPlugin("abi-too-small.so"));
  EXPECT_NE(error.find("abi-too-small.so"), std::string::npos) << error;
  EXPECT_NE(error.find("descriptor struct_size 16 is smaller than ABI 1.0's 88, the smallest "
                       "this core accepts"),
            std::string::npos)
      << error;
}

TEST(AbiCompatTest, StructsSmallerThanTheDeclaredMinorAreRefused) {
  std::string error = LoadError(AbiPlugin("abi-minor-lies.so"));
  EXPECT_NE(error.find("VMM ops struct_size 56 is smaller than ABI 1.2's 72, which the plugin "
                       "declares"),
            std::string::npos)
      << error;
}

TEST(AbiCompatTest, ACapabilityWithoutItsOpIsRefused) {
  std::string error = LoadError(AbiPlugin("abi-cap-without-op.so"));
  EXPECT_NE(error.find("lacks required operations: save_snapshot (EZONE_CAP_SNAPSHOT)"),
            std::string::npos)
      << error;
}

TEST(AbiCompatTest, APluginOfAFutureMinorLoadsAndItsNullOpsGetTheirDefaults) {
  Plugin p = LoadPlugin(AbiPlugin("abi-from-1-9.so"));
  EXPECT_EQ(p.declared->abi_minor, 9u);
  EXPECT_GT(p.declared->struct_size, sizeof(ezone_plugin_descriptor));
  EXPECT_GT(p.declared->vmm->struct_size, sizeof(ezone_vmm_ops));
  const ezone_vmm_ops* ops = p.descriptor->vmm;
  EXPECT_EQ(p.descriptor->struct_size, sizeof(ezone_plugin_descriptor));
  char msg[64] = "x";
  ASSERT_NE(ops->probe, nullptr);
  EXPECT_EQ(ops->probe("", msg, sizeof msg), EZONE_OK);  // NULL probe: runs anywhere
  ASSERT_NE(ops->vmm_pid, nullptr);
  EXPECT_EQ(ops->vmm_pid(nullptr), -1);
  ASSERT_NE(ops->version, nullptr);
  EXPECT_EQ(ops->version(nullptr, msg, sizeof msg), EZONE_FAILED);  // name + version instead
  EXPECT_EQ(ops->guest_memory, nullptr);
  EXPECT_EQ(ops->save_snapshot, nullptr);
}

TEST(AbiCompatTest, BuiltInPluginsOpsMatchTheirCapabilities) {
  PluginRegistry registry;
  registry.Discover({EZONE_PLUGIN_BUILD_DIR_FOR_TESTS});
  ASSERT_FALSE(registry.plugins().empty());
  for (const Plugin& p : registry.plugins()) {
    if (!p.is_vmm()) continue;
    uint64_t caps = p.descriptor->capabilities;
    EXPECT_EQ(p.descriptor->vmm->guest_memory != nullptr, (caps & EZONE_CAP_GUEST_MEMORY) != 0)
        << p.name();
    EXPECT_EQ(p.descriptor->vmm->save_snapshot != nullptr, (caps & EZONE_CAP_SNAPSHOT) != 0)
        << p.name();
    // The SDK itself leaves them NULL without the capability.
    EXPECT_EQ(p.declared->vmm->save_snapshot != nullptr, (caps & EZONE_CAP_SNAPSHOT) != 0)
        << p.name();
  }
}

// An SDK plugin handed a 1.0 guest spec (a core that predates restore_from)
// must not read past it.
struct RecordingVmm {
  static inline std::string restore_from = "unset";
  static void Probe(const sdk::Options&) {}
  static std::unique_ptr<sdk::Vm> Create(const sdk::GuestSpec& spec, sdk::VmSink) {
    restore_from = spec.restore_from;
    throw std::runtime_error("recorded");
  }
};

TEST(AbiCompatTest, TheSdkReadsRestoreFromOnlyWhenTheSpecHasIt) {
  ezone_guest_spec spec{};
  spec.kernel = spec.initramfs = spec.cmdline = spec.role = spec.options = "";
  spec.restore_from = "/must/not/be/read";
  spec.struct_size = EZONE_GUEST_SPEC_SIZE_1_0;
  ezone_vm_sink sink{};
  void* vm = nullptr;
  char msg[64];
  using Adapter = sdk::detail::VmmAdapter<RecordingVmm>;
  EXPECT_EQ(Adapter::Create(&spec, &sink, &vm, msg, sizeof msg), EZONE_FAILED);
  EXPECT_EQ(RecordingVmm::restore_from, "");
  spec.struct_size = sizeof spec;
  EXPECT_EQ(Adapter::Create(&spec, &sink, &vm, msg, sizeof msg), EZONE_FAILED);
  EXPECT_EQ(RecordingVmm::restore_from, "/must/not/be/read");
}

// The fault target's agent_command, scripted.
struct Scripted {
  ezone_status status;
  const char* text;
};
ezone_status ScriptedAgent(void* core, const char*, uint32_t, char* reply, size_t size) {
  auto* s = static_cast<Scripted*>(core);
  snprintf(reply, size, "%s", s->text);
  return s->status;
}

TEST(AbiCompatTest, AgentCallTellsATimeoutFromAnErrByStatus) {
  Scripted script{EZONE_OK, "pong"};
  ezone_fault_target t{};
  t.core = &script;
  t.agent_command = &ScriptedAgent;
  sdk::FaultTarget target(t);
  EXPECT_TRUE(target.AgentCall("ping").ok());
  script = {EZONE_FAILED, "signal=11"};
  EXPECT_TRUE(target.AgentCall("run x").refused());
  script = {EZONE_TIMEOUT, "the agent did not answer in 10 ms"};
  EXPECT_TRUE(target.AgentCall("run x").timed_out());
  script = {EZONE_VM_GONE, "the VMM exited: exit status 1"};
  EXPECT_TRUE(target.AgentCall("run x").vm_gone());
  EXPECT_TRUE(target.AgentCall("run x").unanswered());
  // A 1.2 core's timeout: EZONE_FAILED and its sentence, read once in the SDK.
  script = {EZONE_FAILED, "no reply from the agent within 10 ms"};
  EXPECT_TRUE(target.AgentCall("run x").timed_out());
  std::string reply;
  EXPECT_FALSE(target.TryAgentCommand("run x", &reply));
}

}  // namespace
}  // namespace ezone

namespace ezone {
namespace {

// The SDK's escaping for the agent's write/append (guest/agent/PROTOCOL.md):
// the agent's side is tested in guest/agent/tests/agent_protocol_test.py.
TEST(SdkAgentTest, AgentEscapeMakesOnePrintableWordOfAnyBytes) {
  EXPECT_EQ(sdk::AgentEscape("c"), "c");
  EXPECT_EQ(sdk::AgentEscape(std::string("a b\\\n\r\t\x01\xff~", 10)),
            "a\\sb\\\\\\n\\r\\t\\x01\\xff~");
  EXPECT_EQ(sdk::AgentEscape(std::string(1, '\0')), "\\x00");
  Scripted script{EZONE_OK, "wrote=3"};
  std::string sent;
  ezone_fault_target t{};
  static std::string* last = nullptr;
  last = &sent;
  t.core = &script;
  t.agent_command = [](void* core, const char* command, uint32_t, char* reply, size_t size) {
    *last = command;
    snprintf(reply, size, "%s", static_cast<Scripted*>(core)->text);
    return static_cast<Scripted*>(core)->status;
  };
  sdk::FaultTarget target(t);
  EXPECT_TRUE(target.WriteFile("/tmp/a b", "x y\n").ok());
  EXPECT_EQ(sent, "write /tmp/a\\sb x\\sy\\n");
  target.WriteFile("/f", "z", /*append=*/true);
  EXPECT_EQ(sent, "append /f z");
  target.Shell("echo 'a  b' > /tmp/x");
  EXPECT_EQ(sent, "sh echo 'a  b' > /tmp/x");
  target.NoWait("write /proc/sysrq-trigger c");
  EXPECT_EQ(sent, "nowait write /proc/sysrq-trigger c");
}

}  // namespace
}  // namespace ezone
