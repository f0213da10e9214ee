// One line of the agent's control channel (ttyS1, guest to host), as typed
// data: READY <nonce> ..., HB, OK|ERR <id> <text>. A pure function, so the
// unit tests and the fuzz target (fuzz/agent_line_fuzz.cc) see exactly what
// VmSession sees. Protocol: guest/README.md.
#ifndef EZONE_CORE_AGENT_LINE_H_
#define EZONE_CORE_AGENT_LINE_H_

#include <string>
#include <string_view>

namespace ezone {

struct AgentLine {
  enum class Kind {
    kOther,      // not the agent's, or garbled: ignored
    kReady,      // READY <nonce> [...]
    kHeartbeat,  // HB
    kReply,      // OK <id> [text] / ERR <id> [text]
  };
  Kind kind = Kind::kOther;
  std::string nonce;  // kReady: the first word after READY
  std::string rest;   // kReady: everything after READY
  int id = 0;         // kReply: the command id, 1..kMaxCommandId
  bool ok = false;    // kReply: OK (true) or ERR
  std::string text;   // kReply: after the id
};

// Command ids the core hands out stay far below this; a reply with a larger
// or malformed id is kOther.
inline constexpr int kMaxCommandId = 1000000;

// Parses one line without its newline; a trailing '\r' is ignored.
AgentLine ParseAgentLine(std::string_view line);

}  // namespace ezone

#endif  // EZONE_CORE_AGENT_LINE_H_
