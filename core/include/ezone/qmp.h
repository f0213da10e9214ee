// A QMP client for QEMU-based VMM plugins (header-only, no JSON library): the
// greeting and capabilities negotiation, commands with their replies, and
// QEMU's events mapped once to the core's:
//
//   GUEST_PANICKED  -> EZONE_EVENT_GUEST_PANICKED  "QMP GUEST_PANICKED <data>"
//   SHUTDOWN        -> EZONE_EVENT_GUEST_STOPPED   "QMP SHUTDOWN <data>", whatever
//                      the reason (guest-shutdown, guest-panic, guest-reset,
//                      host-qmp-quit, ...): the core keeps it as evidence and
//                      decides by the other signs (QmpShutdownReason reads it)
//   anything that is not QMP -> EZONE_EVENT_PLUGIN_ERROR, once
//   other events    -> ignored
//
// Usage with ezone/vmm_process.h (QEMU gets "-chardev socket,id=qmp,fd=5 -mon
// chardev=qmp,mode=control" and fd 5 = qmp.vmm):
//
//   qmp_ = std::make_unique<ezone::sdk::QmpClient>(qmp.plugin.get(), sink);
//   reader_.Watch(qmp.plugin.get(), [this](std::string_view b) { qmp_->OnBytes(b); });
//   ...
//   std::string status = qmp_->Execute("query-status");   // {"running": true, ...}
//   bool running = ezone::sdk::json::Member(status, "running") == "true";
//
// The JSON reader below reads what QMP sends: it never throws, refuses
// nesting deeper than 64 and lines over 1 MiB, and returns raw JSON text for
// values it does not interpret.
#ifndef EZONE_QMP_H_
#define EZONE_QMP_H_

#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ezone/sdk.h"

namespace ezone::sdk {
namespace json {

inline size_t SkipSpace(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
  return i;
}

// The end of the JSON value that starts at s[i] (after blanks), or npos when
// it is not one.
inline size_t SkipValue(std::string_view s, size_t i, int depth = 0) {
  constexpr size_t npos = std::string_view::npos;
  i = SkipSpace(s, i);
  if (i >= s.size() || depth > 64) return npos;
  char c = s[i];
  if (c == '"') {
    for (++i; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == '"') {
        return i + 1;
      } else if (static_cast<unsigned char>(s[i]) < 0x20) {
        return npos;
      }
    }
    return npos;
  }
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    i = SkipSpace(s, i + 1);
    if (i < s.size() && s[i] == close) return i + 1;
    for (;;) {
      if (c == '{') {
        i = SkipValue(s, i, depth + 1);  // the key
        if (i == npos || i > s.size()) return npos;
        i = SkipSpace(s, i);
        if (i >= s.size() || s[i] != ':') return npos;
        ++i;
      }
      i = SkipValue(s, i, depth + 1);
      if (i == npos) return npos;
      i = SkipSpace(s, i);
      if (i >= s.size()) return npos;
      if (s[i] == close) return i + 1;
      if (s[i] != ',') return npos;
      ++i;
    }
  }
  // A number, true, false or null.
  size_t start = i;
  while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '-' ||
                          s[i] == '+' || s[i] == '.')) {
    ++i;
  }
  return i == start ? npos : i;
}

// A JSON string's text (escapes decoded; \u to UTF-8), or nullopt.
inline std::optional<std::string> String(std::string_view raw) {
  if (raw.size() < 2 || raw.front() != '"' || raw.back() != '"') return std::nullopt;
  std::string out;
  const size_t end = raw.size() - 1;  // the closing quote
  for (size_t i = 1; i < end; ++i) {
    char c = raw[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= end) return std::nullopt;
    switch (raw[i]) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'u': {
        if (i + 4 >= end) return std::nullopt;
        unsigned cp = 0;
        for (int k = 1; k <= 4; ++k) {
          char h = raw[i + k];
          int v = h >= '0' && h <= '9'   ? h - '0'
                  : h >= 'a' && h <= 'f' ? h - 'a' + 10
                  : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                         : -1;
          if (v < 0) return std::nullopt;
          cp = cp * 16 + static_cast<unsigned>(v);
        }
        i += 4;
        if (cp < 0x80) {
          out += static_cast<char>(cp);
        } else if (cp < 0x800) {
          out += static_cast<char>(0xc0 | (cp >> 6));
          out += static_cast<char>(0x80 | (cp & 0x3f));
        } else {
          out += static_cast<char>(0xe0 | (cp >> 12));
          out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
          out += static_cast<char>(0x80 | (cp & 0x3f));
        }
        break;
      }
      default: out += raw[i];  // \" \\ \/
    }
  }
  return out;
}

// The raw text of member `key` of the JSON object `object`, or nullopt (not
// an object, no such member, malformed).
inline std::optional<std::string_view> Member(std::string_view object, std::string_view key) {
  constexpr size_t npos = std::string_view::npos;
  size_t i = SkipSpace(object, 0);
  if (i >= object.size() || object[i] != '{') return std::nullopt;
  i = SkipSpace(object, i + 1);
  if (i < object.size() && object[i] == '}') return std::nullopt;
  while (i < object.size()) {
    size_t key_end = SkipValue(object, i, 1);
    if (key_end == npos || object[i] != '"') return std::nullopt;
    std::optional<std::string> name = String(object.substr(i, key_end - i));
    i = SkipSpace(object, key_end);
    if (i >= object.size() || object[i] != ':') return std::nullopt;
    size_t value_start = SkipSpace(object, i + 1);
    size_t value_end = SkipValue(object, value_start, 1);
    if (value_end == npos) return std::nullopt;
    if (name && *name == key) return object.substr(value_start, value_end - value_start);
    i = SkipSpace(object, value_end);
    if (i >= object.size() || object[i] != ',') return std::nullopt;
    i = SkipSpace(object, i + 1);
  }
  return std::nullopt;
}

// Is `text` one whole JSON value (and nothing after it)?
inline bool Valid(std::string_view text) {
  size_t end = SkipValue(text, 0);
  return end != std::string_view::npos && SkipSpace(text, end) == text.size();
}

// `text` as a JSON string literal.
inline std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace json

// The reason of a QMP SHUTDOWN event's data ("guest-panic", ...), or "".
inline std::string QmpShutdownReason(std::string_view data) {
  auto reason = json::Member(data, "reason");
  auto text = reason ? json::String(*reason) : std::nullopt;
  return text ? *text : "";
}

// QEMU's error answer to a command ({"error": ...}): QEMU ran it and said
// no. Other failures (no answer, a broken socket) are std::runtime_error.
class QmpError : public std::runtime_error {
 public:
  QmpError(const std::string& command, const std::string& error)
      : std::runtime_error("QMP " + command + ": " + error), error_(error) {}
  const std::string& error() const { return error_; }  // the raw JSON of "error"

 private:
  std::string error_;
};

class QmpClient {
 public:
  // `fd`: this plugin's end of QEMU's QMP socket (not owned; keep it open
  // while the client lives). Events go to `sink`.
  QmpClient(int fd, VmSink sink) : fd_(fd), sink_(sink) {}
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;

  // The QMP socket reached its end (QEMU exited): a waiting or later
  // Execute fails at once instead of at its timeout (a state that does not
  // load ends QEMU; nobody should wait 10 s to learn it).
  void OnClosed() {
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }

  // Bytes QEMU sent on the QMP socket (call from the reader thread).
  void OnBytes(std::string_view bytes) {
    for (char c : bytes) {
      if (c != '\n') {
        if (line_.size() < kMaxLine) {
          line_ += c;
        } else if (!too_long_) {
          too_long_ = true;
          Invalid("a QMP line of more than 1 MiB");
        }
        continue;
      }
      if (!too_long_) OnLine(line_);
      line_.clear();
      too_long_ = false;
    }
  }

  // Runs `command` (with `arguments`, a JSON object's text, or none) and
  // returns the raw JSON of its "return"; throws QmpError on QEMU's error
  // answer, std::runtime_error when QEMU does not answer within `timeout`.
  // `pass_fd` >= 0 goes along with the command (SCM_RIGHTS), as `getfd` and
  // `add-fd` want; it stays open here.
  std::string Execute(const std::string& command, const std::string& arguments = "",
                      std::chrono::milliseconds timeout = std::chrono::seconds(10),
                      int pass_fd = -1) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return ready_ || closed_; })) {
      throw std::runtime_error("QMP did not become ready");
    }
    if (closed_) throw std::runtime_error("QEMU closed its QMP socket");
    int id = ++next_id_;
    std::string line = "{\"execute\":" + json::Quote(command) +
                       (arguments.empty() ? "" : ",\"arguments\":" + arguments) +
                       ",\"id\":" + std::to_string(id) + "}\n";
    lock.unlock();
    Send(line, pass_fd);
    lock.lock();
    if (!cv_.wait_for(lock, timeout, [&] { return replies_.count(id) != 0 || closed_; })) {
      throw std::runtime_error("no QMP answer to " + command);
    }
    if (replies_.count(id) == 0) throw std::runtime_error("QEMU closed its QMP socket before answering " + command);
    Reply reply = std::move(replies_[id]);
    replies_.erase(id);
    if (!reply.ok) throw QmpError(command, reply.text);
    return reply.text;
  }

 private:
  static constexpr size_t kMaxLine = 1 << 20;
  struct Reply {
    bool ok;
    std::string text;
  };

  // The descriptor rides on the first bytes of the line; QEMU takes it with
  // the command those bytes belong to.
  void Send(const std::string& line, int pass_fd = -1) {
    std::string_view rest = line;
    while (!rest.empty()) {
      iovec iov{const_cast<char*>(rest.data()), rest.size()};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
      if (pass_fd >= 0) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
      }
      ssize_t n = sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error(std::string("QMP send failed: ") + std::strerror(errno));
      pass_fd = -1;  // sent with the first piece
      rest.remove_prefix(static_cast<size_t>(n));
    }
  }

  void Invalid(const std::string& why) {
    if (error_reported_) return;
    error_reported_ = true;
    sink_.Event(EZONE_EVENT_PLUGIN_ERROR, "QMP: " + why);
  }

  void OnLine(std::string_view line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) return;
    if (!json::Valid(line) || json::SkipSpace(line, 0) >= line.size() ||
        line[json::SkipSpace(line, 0)] != '{') {
      Invalid("not a JSON object: " + std::string(line.substr(0, 200)));
      return;
    }
    if (json::Member(line, "QMP")) {  // the greeting
      try {
        Send("{\"execute\":\"qmp_capabilities\",\"id\":0}\n");
      } catch (const std::exception& e) {
        Invalid(e.what());
      }
      return;
    }
    auto ret = json::Member(line, "return");
    auto err = json::Member(line, "error");
    if (ret || err) {
      // Only a plain decimal id is one of ours ("1e300", "-1", "x" never are).
      auto id = json::Member(line, "id");
      int n = -1;
      if (id && !id->empty() && id->size() <= 9 &&
          id->find_first_not_of("0123456789") == std::string_view::npos) {
        n = std::stoi(std::string(*id));
      }
      std::lock_guard lock(mu_);
      if (n == 0) {
        ready_ = true;
      } else if (n > 0) {
        replies_[n] = Reply{ret.has_value(), std::string(ret ? *ret : *err)};
      }
      cv_.notify_all();
      return;
    }
    auto event = json::Member(line, "event");
    if (!event) return;
    auto name = json::String(*event);
    if (!name) {
      Invalid("an event name that is not a string");
      return;
    }
    auto data = json::Member(line, "data");
    std::string detail = data ? std::string(*data) : "{}";
    if (*name == "GUEST_PANICKED") {
      sink_.Event(EZONE_EVENT_GUEST_PANICKED, "QMP GUEST_PANICKED " + detail);
    } else if (*name == "SHUTDOWN") {
      sink_.Event(EZONE_EVENT_GUEST_STOPPED, "QMP SHUTDOWN " + detail);
    }
  }

  int fd_;
  VmSink sink_;
  std::string line_;           // reader thread only
  bool too_long_ = false;      // reader thread only
  bool error_reported_ = false;  // reader thread only
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
  bool closed_ = false;
  int next_id_ = 0;
  std::map<int, Reply> replies_;
};

}  // namespace ezone::sdk

#endif  // EZONE_QMP_H_
