// The data model shared by core/ (which fills it) and the report writers
// (which render it). Plain structs on purpose: no behaviour, no I/O, so a
// record can be built, copied and serialised from any thread.
#ifndef EZONE_REPORT_CHECK_RECORD_H_
#define EZONE_REPORT_CHECK_RECORD_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ezone::report {

// How a check ended. Maps 1:1 onto JUnit: pass, <failure> (isolation
// violated), <error> (the check could not be carried out), <skipped>.
enum class Verdict { kPass, kFailure, kError, kSkipped };

// Phase timings of one check, in milliseconds; unset when the phase was not
// reached (e.g. no detection time for a fault that never showed). `probe` is
// the time the VMM's probe took inside this check (0 when an earlier check
// of the process already asked): reports show it as such, and a skipped
// check's JUnit time leaves it out (reports/README.md, "Times").
struct TimingMs {
  std::optional<double> boot, ready, detection, teardown, total, probe;
};

// Properties whose key ends with this hold the path of another console log
// of the check ("witness_console_log", "host_console_log"): the reports
// attach them like CheckRecord::console_log_path.
inline constexpr std::string_view kConsoleLogPropertySuffix = "_console_log";

constexpr bool IsConsoleLogProperty(std::string_view key) {
  return key.size() > kConsoleLogPropertySuffix.size() &&
         key.substr(key.size() - kConsoleLogPropertySuffix.size()) ==
             kConsoleLogPropertySuffix;
}

struct CheckRecord {
  std::string suite;      // e.g. "paper"
  std::string classname;  // e.g. "GuestKernelCrashMustNotKillHost"
  std::string name;       // e.g. "qemu_kerncrash_divzero_1"
  Verdict verdict = Verdict::kError;
  std::string message;  // one line: why failure / error / skipped
  std::string detail;   // longer explanation (may be empty)
  std::string zone;     // "E-Zone 3"
  std::string vmm, fault, variant, policy;
  std::string effect;  // "none" | "limited" | "varied" | "global" | ""
  TimingMs timing;
  // Raw bytes from a guest console: may hold ANY byte. The writers sanitise
  // and cap it; callers need not.
  std::string console_excerpt;
  std::string console_log_path;       // full console log file, may be empty
  std::vector<std::string> evidence;  // "console: divide error: ..." etc.
  std::map<std::string, std::string> properties;  // guest kernel, hashes...
  std::string timestamp;                          // ISO 8601 start time
  double seconds = 0;                             // wall time of the check
};

// Describes the whole campaign (one runner invocation).
struct RunInfo {
  std::string name;
  std::string hostname;
  std::string timestamp;
  std::map<std::string, std::string> properties;
};

// The name a report gives the whole run: the run's own name when it holds
// one suite (or a name that is not a suite's), else the names of the suites
// it holds, joined by ", " (a ctest run merges several suites' journals,
// each of which names its run after its own suite).
std::string RunTitle(const RunInfo& run, const std::vector<CheckRecord>& records);

// "pass", "failure", "error" or "skipped": the words used in every report.
constexpr std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kFailure:
      return "failure";
    case Verdict::kError:
      return "error";
    case Verdict::kSkipped:
      return "skipped";
  }
  return "error";
}

}  // namespace ezone::report

#endif  // EZONE_REPORT_CHECK_RECORD_H_
