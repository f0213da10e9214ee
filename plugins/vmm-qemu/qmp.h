// QMP, the QEMU Machine Protocol, as the qemu plugin reads it: bytes from
// QEMU's monitor socket -> typed messages. Pure functions and a small line
// splitter with no I/O, so the unit tests and the fuzz target
// (fuzz/qmp_fuzz.cc) call exactly what the plugin's reader thread calls.
// Nothing here throws on any input (the reader thread must never die of
// what QEMU, or anything posing as it, wrote).
#ifndef EZONE_PLUGINS_VMM_QEMU_QMP_H_
#define EZONE_PLUGINS_VMM_QEMU_QMP_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace ezone::qemu {

struct QmpMessage {
  enum class Kind {
    kIgnored,   // an event or message the plugin does not act on
    kGreeting,  // {"QMP": ...}: answer with qmp_capabilities
    kReply,     // {"id": N, "return"|"error": ...}
    kPanicked,  // event GUEST_PANICKED
    kShutdown,  // event SHUTDOWN
    kInvalid,   // not QMP: `error` says why; the VM can no longer be watched
  };
  Kind kind = Kind::kIgnored;
  int id = 0;            // kReply
  nlohmann::json reply;  // kReply: the whole message
  std::string detail;    // kPanicked, kShutdown: the event's data, as JSON text
  std::string error;     // kInvalid: why, quoting at most 200 bytes of the line
};

// One line of QMP without its newline.
QmpMessage ParseQmpLine(std::string_view line);

// Splits QMP's byte stream into lines and parses each. A line longer than
// kMaxLine is not QMP (QEMU's are far shorter): it is reported once as
// kInvalid and skipped up to its newline, so memory stays bounded.
class QmpStream {
 public:
  static constexpr size_t kMaxLine = 1 << 20;
  std::vector<QmpMessage> Feed(std::string_view bytes);

 private:
  std::string partial_;
  bool skipping_ = false;  // inside an over-long line
};

}  // namespace ezone::qemu

#endif  // EZONE_PLUGINS_VMM_QEMU_QMP_H_
