#include "qmp.h"

#include <algorithm>

namespace ezone::qemu {
namespace {

QmpMessage Invalid(std::string why, std::string_view line) {
  QmpMessage m;
  m.kind = QmpMessage::Kind::kInvalid;
  std::string quoted(line.substr(0, 200));
  for (char& c : quoted) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';  // for a one-line message
  }
  m.error = "QMP: " + why + ": " + quoted + (line.size() > 200 ? "..." : "");
  return m;
}

// The deepest nesting of arrays and objects in a JSON text (strings
// skipped). nlohmann parses iteratively but dumps recursively: a line of a
// million '[' must be refused before it is parsed, not overflow the stack.
size_t NestingDepth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// QEMU's messages nest a few levels; query-migrate's answer about four.
constexpr size_t kMaxDepth = 32;

}  // namespace

QmpMessage ParseQmpLine(std::string_view line) {
  while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return {};  // blank
  if (NestingDepth(line) > kMaxDepth) return Invalid("nested too deeply", line);
  // No exceptions: allow_exceptions=false gives a discarded value instead.
  nlohmann::json msg = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
  if (msg.is_discarded()) return Invalid("not JSON", line);
  if (!msg.is_object()) return Invalid("not a JSON object", line);
  if (msg.contains("QMP")) {
    QmpMessage m;
    m.kind = QmpMessage::Kind::kGreeting;
    return m;
  }
  if (msg.contains("return") || msg.contains("error")) {
    auto id = msg.find("id");
    // The plugin numbers its commands 0, 1, 2...: any other id is not an
    // answer to it.
    if (id == msg.end() || !id->is_number_integer()) return {};
    auto n = id->get<int64_t>();
    if (n < 0 || n > 0x7fffffff) return {};
    QmpMessage m;
    m.kind = QmpMessage::Kind::kReply;
    m.id = static_cast<int>(n);
    m.reply = std::move(msg);
    return m;
  }
  auto event = msg.find("event");
  if (event == msg.end()) return {};
  if (!event->is_string()) return Invalid("\"event\" is not a string", line);
  const std::string& name = event->get_ref<const std::string&>();
  QmpMessage m;
  if (name == "GUEST_PANICKED") {
    m.kind = QmpMessage::Kind::kPanicked;
  } else if (name == "SHUTDOWN") {
    m.kind = QmpMessage::Kind::kShutdown;
  } else {
    return m;
  }
  auto data = msg.find("data");
  // dump() with replace: invalid UTF-8 inside a string must not throw.
  m.detail = data == msg.end() ? "{}"
                               : data->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return m;
}

std::vector<QmpMessage> QmpStream::Feed(std::string_view bytes) {
  std::vector<QmpMessage> out;
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    std::string_view chunk = bytes.substr(0, nl);
    if (skipping_) {
      if (nl == std::string_view::npos) return out;
      skipping_ = false;
    } else if (partial_.size() + chunk.size() > kMaxLine) {
      out.push_back(Invalid("a line of more than " + std::to_string(kMaxLine) + " bytes",
                            partial_.empty() ? chunk : std::string_view(partial_)));
      partial_.clear();
      if (nl == std::string_view::npos) {
        skipping_ = true;
        return out;
      }
    } else {
      partial_.append(chunk);
      if (nl == std::string_view::npos) return out;
      out.push_back(ParseQmpLine(partial_));
      partial_.clear();
    }
    bytes.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace ezone::qemu
