// The data model shared by core/ (which fills it) and the report writers
// (which render it). Plain structs on purpose: no behaviour, no I/O, so a
// record can be built, copied and serialised from any thread.
#ifndef EZONE_REPORT_CHECK_RECORD_H_
#define EZONE_REPORT_CHECK_RECORD_H_

#include <cstddef>
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

// Where a piece of evidence comes from: the HTML report puts the host's
// readings under "Host oracle", the rest under "Evidence".
enum class EvidenceSource {
  kRunner,      // the check runner itself (phases, boot attempts, notes)
  kFault,       // the fault plugin (what it fired, what it saw)
  kVictim,      // the victim VM: its console, its agent
  kWitness,     // the witness VM
  kVmm,         // the VMM: exits, panics it reported, its plugin
  kHost,        // the host oracle of the machine ezone runs on
  kNestedHost,  // the nested host: its console, its oracle
  kJournal,     // rebuilt from the journal after an interruption
  kScheduler,   // a batch scheduler (Slurm) about a task
};

// What a reading says: kGood is an all-clear (taint unchanged, process
// reaped), kWarning a degradation (a warning, a leak), kBad damage (a crash,
// a survivor process), kInfo neither.
enum class Severity { kInfo, kGood, kWarning, kBad };

struct Evidence {
  EvidenceSource source = EvidenceSource::kRunner;
  Severity severity = Severity::kInfo;
  std::string text;  // one line for people; no layer parses it

  bool operator==(const Evidence&) const = default;
};

// Stable lowercase names, as the journal stores them ("nested-host", "bad").
std::string_view EvidenceSourceName(EvidenceSource source);
std::optional<EvidenceSource> ParseEvidenceSource(std::string_view name);
std::string_view SeverityName(Severity severity);
std::optional<Severity> ParseSeverity(std::string_view name);

// The host oracle's readings: the local host's and the nested host's.
constexpr bool IsHostReading(const Evidence& e) {
  return e.source == EvidenceSource::kHost || e.source == EvidenceSource::kNestedHost;
}

// One report a kernel printed during the check, as core/src/crash_report.h
// parsed it from a console: what kind, its title (the guilty function,
// numbers normalised, so two runs of one bug share it), and where in that
// VM's console log it is.
struct KernelReport {
  std::string vm;     // "victim", "witness", "host" (the nested host)
  std::string kind;   // "oops", "panic", "lockup", "hung-task", "warning", ...
  std::string title;  // e.g. "divide error in kerncrash_divide"
  bool fatal = false;      // the kernel died or hung
  bool corrupted = false;  // cut short or mangled: the title may be wrong
  std::string corrupted_reason;
  std::size_t first_line = 0, last_line = 0;  // 1-based, in that VM's console log

  bool operator==(const KernelReport&) const = default;
};

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
  std::vector<Evidence> evidence;
  // The crash this check is about, when a kernel reported one: the title of
  // the worst fatal report (the nested host's, then the witness's, then the
  // victim's). Reports group checks by it.
  std::string crash_title;
  std::vector<KernelReport> kernel_reports;  // every report, capped
  // When each VM's heartbeats arrived, by role ("victim", "witness",
  // "host"): ms since the check began, ascending. The HTML draws them on
  // the timeline; JUnit carries them as heartbeat.<role> properties.
  std::map<std::string, std::vector<double>> heartbeats_ms;
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
