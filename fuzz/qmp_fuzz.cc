// QMP as every QEMU-based plugin reads it, the built-in qemu plugin included:
// the SDK's QmpClient and its JSON reader (core/include/ezone/qmp.h). No input
// may throw out of OnBytes, which runs in a plugin's reader thread (issue 20
// #1: `{"event":0}` aborted the runner), or hang, or grow without bound.
#include <string>
#include <string_view>

#include "ezone/qmp.h"
#include "fuzz_util.h"

namespace {

struct Seen {
  int errors = 0;
};

ezone::sdk::VmSink Sink(Seen* seen) {
  ezone_vm_sink raw{};
  raw.core = seen;
  raw.console = raw.control = [](void*, const char*, size_t) {};
  raw.event = [](void* core, ezone_vm_event e, const char* detail) {
    ezone::fuzz::Require(detail != nullptr, "an event without a detail");
    if (e == EZONE_EVENT_PLUGIN_ERROR) ++static_cast<Seen*>(core)->errors;
  };
  return ezone::sdk::VmSink(raw);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t chunk = static_cast<size_t>(data[0]) * 4 + 1;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Nothing here may throw: an exception escaping would end the fuzzer
  // (std::terminate), which is the finding. fd -1: the greeting's answer
  // fails to send, which the client must report, not throw.
  Seen seen;
  {
    ezone::sdk::QmpClient client(-1, Sink(&seen));
    for (size_t at = 0; at < input.size(); at += chunk) client.OnBytes(input.substr(at, chunk));
  }
  ezone::fuzz::Require(seen.errors <= 1, "a plugin error reported more than once");
  // The JSON reader on the raw bytes, as a plugin calls it on an answer.
  namespace json = ezone::sdk::json;
  if (json::Valid(input)) {
    for (const char* key : {"return", "error", "event", "data", "id", "status", "running"}) {
      if (auto member = json::Member(input, key)) {
        (void)json::String(*member);
        ezone::fuzz::Require(json::Valid(*member), "a member that is not a JSON value");
      }
    }
  }
  (void)ezone::sdk::QmpShutdownReason(input);
  return 0;
}
