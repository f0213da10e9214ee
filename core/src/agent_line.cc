#include "agent_line.h"

namespace ezone {

AgentLine ParseAgentLine(std::string_view line) {
  AgentLine out;
  while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  size_t word_end = line.find(' ');
  std::string_view word = line.substr(0, word_end);
  std::string_view rest = word_end == std::string_view::npos ? "" : line.substr(word_end + 1);
  if (word == "READY") {
    out.kind = AgentLine::Kind::kReady;
    out.nonce = std::string(rest.substr(0, rest.find(' ')));
    out.rest = std::string(rest);
  } else if (word == "HB") {
    out.kind = AgentLine::Kind::kHeartbeat;
  } else if (word == "OK" || word == "ERR") {
    std::string_view id_text = rest.substr(0, rest.find(' '));
    if (id_text.empty() || id_text.size() > 7) return out;
    int id = 0;
    for (char c : id_text) {
      if (c < '0' || c > '9') return out;
      id = id * 10 + (c - '0');
    }
    if (id < 1 || id > kMaxCommandId) return out;
    out.kind = AgentLine::Kind::kReply;
    out.id = id;
    out.ok = word == "OK";
    if (id_text.size() < rest.size()) out.text = std::string(rest.substr(id_text.size() + 1));
  }
  return out;
}

}  // namespace ezone
