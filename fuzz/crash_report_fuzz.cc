// The crash report parser (core/src/crash_report.cc) on any console bytes:
// it never crashes, keeps its bounds (titles, report count, line ranges) and
// agrees with the stateless first-line test it offers the hot path.
#include <cstdlib>
#include <string>
#include <string_view>

#include "crash_report.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckReports(const std::vector<ezone::CrashReport>& reports, size_t lines) {
  Check(reports.size() <= ezone::CrashReportParser::kMaxReports);
  for (const ezone::CrashReport& r : reports) {
    Check(r.first_line >= 1 && r.first_line <= r.last_line && r.last_line <= lines);
    Check(r.title.size() <= 160 && !r.title.empty());
    Check(std::string_view(ezone::ReportKindName(r.kind)) != "?");
    Check(r.corrupted == !r.corrupted_reason.empty());
    if (ezone::KindIsFatal(r.kind)) Check(r.fatal);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  ezone::CrashReportParser parser;
  size_t start = 0;
  // A line that is exactly "READY" marks the guest ready, as the runner would.
  while (start <= input.size()) {
    size_t nl = input.find('\n', start);
    std::string_view line = input.substr(start, nl == std::string_view::npos ? nl : nl - start);
    if (line == "READY") {
      // A READY again may itself be the reboot (a quiet boot prints no banner).
      std::optional<ezone::ReportKind> rebooted = parser.MarkReady();
      Check(!rebooted || *rebooted == ezone::ReportKind::kReboot);
      CheckReports(parser.TakeReports(), parser.Lines());
    } else {
      std::optional<ezone::ReportKind> started = parser.FeedLine(line);
      if (started && *started != ezone::ReportKind::kReboot) Check(ezone::LineStartsReport(line).has_value());
      if (const ezone::CrashReport* p = parser.Pending()) Check(p->first_line <= parser.Lines());
      CheckReports(parser.TakeReports(), parser.Lines());
    }
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  parser.Finish();
  CheckReports(parser.TakeReports(), parser.Lines());
  Check(parser.Pending() == nullptr);
  return 0;
}
