// The agent's control channel as the core reads it: ParseAgentLine on each
// line (core/src/agent_line.cc), and the whole path through VmSession with a
// fake VMM plugin: bytes in any chunks, a reboot in the middle (the path of
// issue 20 #2), agent replies matched to commands.
#include <string>
#include <string_view>

#include "agent_line.h"
#include "fuzz_util.h"
#include "vm_session.h"

namespace {

const ezone_vm_sink* g_sink = nullptr;
int g_vm = 0;

ezone_status Create(const ezone_guest_spec*, const ezone_vm_sink* sink, void** vm, char*, size_t) {
  g_sink = sink;
  *vm = &g_vm;
  return EZONE_OK;
}
void Destroy(void*) { g_sink = nullptr; }
int64_t Pid(void*) { return -1; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t chunk = static_cast<size_t>(data[0]) + 1;
  size_t reboot_at = data[1] * size / 256;
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  // Line by line: the typed result is consistent.
  size_t start = 0;
  while (start <= input.size()) {
    size_t nl = input.find('\n', start);
    std::string_view line = input.substr(start, nl == std::string_view::npos ? nl : nl - start);
    ezone::AgentLine parsed = ezone::ParseAgentLine(line);
    if (parsed.kind == ezone::AgentLine::Kind::kReply) {
      ezone::fuzz::Require(parsed.id >= 1 && parsed.id <= ezone::kMaxCommandId, "reply id range");
    }
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }

  // Through a session.
  static ezone_vmm_ops ops = [] {
    ezone_vmm_ops o{};
    o.struct_size = sizeof o;
    o.create = &Create;
    o.destroy = &Destroy;
    o.vmm_pid = &Pid;
    return o;
  }();
  static ezone_plugin_descriptor descriptor = [] {
    ezone_plugin_descriptor d{};
    d.abi_major = EZONE_PLUGIN_ABI_MAJOR;
    d.struct_size = sizeof d;
    d.kind = EZONE_KIND_VMM;
    d.name = "fake";
    d.version = "0";
    d.vmm = &ops;
    return d;
  }();
  ezone::Plugin plugin;
  plugin.descriptor = &descriptor;
  ezone::EventQueue events;
  ezone::VmSession session(plugin, ezone::Role::kVictim, "0123456789abcdef", "", &events);
  ezone::BootRequest request;
  std::string error;
  if (session.Start(request, &error) != EZONE_OK) std::abort();
  for (size_t at = 0; at < input.size(); at += chunk) {
    if (at <= reboot_at && reboot_at < at + chunk) {
      if (session.Reboot(request, "fuzz", &error) != EZONE_OK) std::abort();
    }
    std::string_view piece = input.substr(at, chunk);
    g_sink->control(g_sink->core, piece.data(), piece.size());
    g_sink->console(g_sink->core, piece.data(), piece.size());
  }
  (void)session.heartbeats();
  (void)session.max_heartbeat_gap();
  (void)session.ConsoleExcerpt();
  session.Destroy();
  while (events.Wait(ezone::Clock::now())) {
  }
  return 0;
}
