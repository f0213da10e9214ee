// QMP as the qemu plugin's reader thread reads it (plugins/vmm-qemu/qmp.cc):
// no input may throw (issue 20 #1: `{"event":0}` aborted the runner).
#include <string_view>

#include "fuzz_util.h"
#include "qmp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t chunk = static_cast<size_t>(data[0]) * 4 + 1;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Nothing here may throw: an exception escaping would end the fuzzer
  // (std::terminate), which is the finding.
  ezone::qemu::QmpStream stream;
  for (size_t at = 0; at < input.size(); at += chunk) {
    for (const ezone::qemu::QmpMessage& m : stream.Feed(input.substr(at, chunk))) {
      if (m.kind == ezone::qemu::QmpMessage::Kind::kReply) {
        ezone::fuzz::Require(m.id >= 0, "negative reply id");
        // What the plugin does with an answer (Qmp()): these must not throw.
        (void)m.reply.dump();
        (void)m.reply.contains("error");
      }
      if (m.kind == ezone::qemu::QmpMessage::Kind::kInvalid) {
        ezone::fuzz::Require(!m.error.empty(), "invalid without a reason");
      }
    }
  }
  (void)ezone::qemu::ParseQmpLine(input);
  return 0;
}
