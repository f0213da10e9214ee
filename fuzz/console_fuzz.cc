// The console stream (core/src/console_classifier.cc): LineAssembler splits
// any bytes, fed in any chunks, into the same lines of at most max_line
// bytes, neither losing nor inventing one; every line classifies.
#include <algorithm>
#include <string>
#include <vector>
#include <string_view>

#include "console_classifier.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // First byte: max_line (1..256, or the default 4096 when 0); second: the
  // chunk size the stream arrives in (1..256).
  size_t max_line = data[0] == 0 ? 4096 : data[0];
  size_t chunk = static_cast<size_t>(data[1]) + 1;
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  // The lines, by length, that the input must give whatever the chunks:
  // each newline-terminated piece (an empty one too) cut into max_line
  // pieces, and the unterminated rest the same way at Flush().
  std::vector<size_t> expected;
  size_t start = 0;
  for (;;) {
    size_t nl = input.find('\n', start);
    size_t len = (nl == std::string_view::npos ? input.size() : nl) - start;
    if (len == 0 && nl != std::string_view::npos) expected.push_back(0);
    for (size_t cut = 0; cut < len; cut += max_line) expected.push_back(std::min(max_line, len - cut));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  std::vector<size_t> seen;
  ezone::LineAssembler lines(
      [&](std::string_view line) {
        ezone::fuzz::Require(line.size() <= max_line, "line longer than max_line", line);
        ezone::fuzz::Require(line.find('\n') == std::string_view::npos, "newline in a line", line);
        seen.push_back(line.size());
        ezone::ConsoleClass cls = ezone::ClassifyConsoleLine(line);
        ezone::fuzz::Require(ezone::ConsoleClassName(cls)[0] != '?', "unnamed class");
      },
      max_line);
  for (size_t at = 0; at < input.size(); at += chunk) lines.Feed(input.substr(at, chunk));
  lines.Flush();
  // Issue 20 #9: a line of exactly max_line bytes gave a spurious empty line.
  ezone::fuzz::Require(seen == expected, "lines lost, invented or cut elsewhere");
  return 0;
}
