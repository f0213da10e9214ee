#include "console_classifier.h"

#include <optional>

#include "crash_report.h"

namespace ezone {

const char* ConsoleClassName(ConsoleClass c) {
  switch (c) {
    case ConsoleClass::kNone: return "none";
    case ConsoleClass::kWarning: return "warning";
    case ConsoleClass::kOops: return "oops";
    case ConsoleClass::kPanic: return "panic";
    case ConsoleClass::kLockup: return "lockup";
    case ConsoleClass::kOomKill: return "oom-kill";
    case ConsoleClass::kUserSegfault: return "user-segfault";
  }
  return "?";
}

// A facade over the crash report parser's first-line recognition
// (crash_report.h), so the line classifier and the parser never disagree.
ConsoleClass ClassifyConsoleLine(std::string_view raw) {
  std::optional<ReportKind> kind = LineStartsReport(raw);
  if (!kind) return ConsoleClass::kNone;
  switch (*kind) {
    case ReportKind::kOops: return ConsoleClass::kOops;
    case ReportKind::kPanic: return ConsoleClass::kPanic;
    case ReportKind::kLockup:
    case ReportKind::kHungTask: return ConsoleClass::kLockup;
    case ReportKind::kWarning:
    case ReportKind::kMemorySafety: return ConsoleClass::kWarning;
    case ReportKind::kOomKill:
      // "invoked oom-killer" opens the report; the kill is the line that
      // says "Killed process", as before.
      return StripConsolePrefix(raw).find("Killed process") != std::string_view::npos
                 ? ConsoleClass::kOomKill
                 : ConsoleClass::kNone;
    case ReportKind::kUserSegfault: return ConsoleClass::kUserSegfault;
    case ReportKind::kReboot: return ConsoleClass::kNone;
  }
  return ConsoleClass::kNone;
}

void LineAssembler::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    std::string_view chunk = bytes.substr(0, nl);
    size_t room = max_line_ - partial_.size();
    // A line of exactly max_line bytes waits for its newline like any other
    // (">=" here once emitted it and then the newline as an empty line).
    if (chunk.size() > room) {
      // Too long: emit what fits as a line of its own.
      partial_.append(chunk.substr(0, room));
      on_line_(partial_);
      partial_.clear();
      bytes.remove_prefix(room);
      continue;
    }
    partial_.append(chunk);
    if (nl == std::string_view::npos) return;
    on_line_(partial_);
    partial_.clear();
    bytes.remove_prefix(nl + 1);
  }
}

void LineAssembler::Discard() { partial_.clear(); }

void LineAssembler::Flush() {
  if (!partial_.empty()) {
    on_line_(partial_);
    partial_.clear();
  }
}

}  // namespace ezone
