#include "workload_result.h"

#include <cmath>
#include <cstdlib>

namespace ezone {

std::map<std::string, double> ParseWorkloadResult(std::string_view text, std::string* error) {
  std::map<std::string, double> out;
  constexpr std::string_view kHead = "ezone-workload v=1";
  // The head ends at a space or the line's end: "v=10" is another version.
  size_t at = 0;
  for (;; ++at) {
    at = text.find(kHead, at);
    if (at == std::string_view::npos) {
      *error = "no result line (\"ezone-workload v=1 ...\") in: " + std::string(text.substr(0, 300));
      return out;
    }
    size_t after = at + kHead.size();
    if (after == text.size() || text[after] == ' ' || text[after] == '\n') break;
  }
  std::string_view rest = text.substr(at + kHead.size());
  rest = rest.substr(0, rest.find('\n'));
  size_t pos = 0;
  while (pos < rest.size()) {
    size_t end = rest.find(' ', pos);
    if (end == std::string_view::npos) end = rest.size();
    std::string item(rest.substr(pos, end - pos));
    pos = end + 1;
    size_t eq = item.find('=');
    if (item.empty() || eq == std::string::npos) continue;
    std::string value = item.substr(eq + 1);
    char* stop = nullptr;
    double v = std::strtod(value.c_str(), &stop);
    if (stop != value.c_str() && *stop == '\0' && std::isfinite(v)) out[item.substr(0, eq)] = v;
  }
  for (const WorkloadMetric& m : kWorkloadMetrics) {
    auto it = out.find(m.key);
    if (it == out.end() || !(it->second > 0)) {
      *error = std::string("the result line has no positive ") + m.key + ": " +
               std::string(text.substr(at, 300));
      out.clear();
      return out;
    }
  }
  return out;
}

}  // namespace ezone
