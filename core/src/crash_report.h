// Reads a kernel console as it arrives and yields crash reports: what kind of
// report (oops, panic, lockup, ...), whether the kernel is dead or hung, a
// title that names the guilty function with numbers normalised (so two runs
// of the same bug group together), the report's line range, and whether the
// report can be trusted (`corrupted`, with the reason).
//
// Pure: no I/O, never throws, memory bounded whatever the guest prints (the
// open report keeps a few short strings; at most kMaxReports reports are
// kept, the rest only counted). The runner feeds it line by line; the first
// line of a report is recognised at once (FeedLine's result,
// LineStartsReport), the title when the report completes (its stack trace
// ended, its end marker came, kMaxReportLines passed, or Finish()).
// docs/crash-detection.md describes kinds, titles and limits.
#ifndef EZONE_CORE_CRASH_REPORT_H_
#define EZONE_CORE_CRASH_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ezone {

enum class ReportKind {
  kOops,          // die(): divide error, GPF, NULL deref, page fault, BUG(), invalid
                  // opcode, double fault, stack overflow, list corruption, arm64 Oops
  kPanic,         // Kernel panic - not syncing: <reason>, not caused by a report before it
  kLockup,        // soft/hard lockup, RCU stall, workqueue lockup
  kHungTask,      // INFO: task X blocked for more than N seconds
  kWarning,       // WARNING:, and "BUG: <something>" reports the kernel survives
  kMemorySafety,  // KASAN, KFENCE, UBSAN, SLUB redzone/poison reports
  kOomKill,       // the OOM killer killed a process: the kernel coped
  kUserSegfault,  // a user process died of a fault: the kernel coped
  kReboot,        // the kernel booted again after READY without a report that explains it
};

// Stable lowercase names (JSON, journal): "oops", "panic", "lockup",
// "hung-task", "warning", "memory-safety", "oom-kill", "user-segfault",
// "reboot".
const char* ReportKindName(ReportKind kind);

// Whether a report of this kind, on its own, means the kernel died or hung.
// (A report's `fatal` can also become true later: a WARNING or KASAN report
// followed by its panic_on_warn panic.)
bool KindIsFatal(ReportKind kind);

struct CrashReport {
  ReportKind kind = ReportKind::kOops;
  bool fatal = false;       // the kernel is dead or hung
  std::string title;        // e.g. "divide error in kerncrash_divide"
  size_t first_line = 0;    // 1-based, counted in FeedLine calls
  size_t last_line = 0;
  bool corrupted = false;   // cut short or mangled: the title may be wrong
  std::string corrupted_reason;
};

// The one-line test for the hot path: does this line start a report, and of
// which kind? Stateless, so it never says kReboot (that needs to know READY
// came) and it cannot tell that a line continues a report already open.
// The line may carry timestamps, caller ids, printk levels, CRs, and the
// start may sit after other text glued on the same line.
std::optional<ReportKind> LineStartsReport(std::string_view line);

// The console line without its decorations: leading "<N>" printk levels,
// "[   12.345678]" timestamps, "[   T31]"/"[    C0]" caller ids, CRs, and
// leading blanks. Exposed for tests and for the classifier facade.
std::string_view StripConsolePrefix(std::string_view line);

// The report being read (CrashReportParser's; outside it so that
// std::optional<> of it is complete for every compiler).
struct OpenCrashReport {
  CrashReport report;
  std::string headline;      // title words before " in <func>"
  std::string header_func;   // function named by the first line (WARNING, KASAN)
  std::string rip_func;      // first useful function of a RIP/pc line or a stack frame
  std::string unreliable_func;  // first useful "? func" frame, when there is no other
  bool wants_frame = true;   // a report of this kind normally has a stack
  bool saw_die_line = false; // "... [#1]" seen (x86 die()/arm64 Oops line)
  bool in_trace = false;     // inside "Call Trace:"
  bool saw_trace = false;
  bool saw_end = false;      // "---[ end trace" seen
  bool hung_task = false;    // skip the scheduler frames
  bool access_named = false; // KASAN's "Read"/"Write" is in the headline
  size_t lines = 0;
  size_t trace_frames = 0;
};

class CrashReportParser {
 public:
  static constexpr size_t kMaxReports = 64;
  static constexpr size_t kMaxReportLines = 400;

  CrashReportParser() = default;

  // One console line, without its newline (CRs anywhere are tolerated).
  // Returns the kind when this line started a new report (the runner can
  // react at once; Pending() shows what is known so far).
  std::optional<ReportKind> FeedLine(std::string_view line);

  // The guest said READY: from now on a new boot banner is a reboot. A
  // READY again with no banner between (a quiet boot prints none) is the
  // reboot itself: an "unexpected reboot" report, unless a fatal report
  // since the last boot explains it. Returns kReboot when it made one.
  std::optional<ReportKind> MarkReady();

  // The stream ended: completes the open report (corrupted if it was cut
  // short). Further FeedLine calls start afresh on line numbers after it.
  void Finish();

  // The report being read, if any (title still provisional).
  const CrashReport* Pending() const { return open_ ? &open_->report : nullptr; }

  // Completed reports since the last call, in order. At most kMaxReports
  // wait here; more are counted in DroppedReports() and not kept.
  std::vector<CrashReport> TakeReports();

  bool AnyFatal() const { return any_fatal_; }
  bool AnyReport() const { return any_report_; }
  size_t Lines() const { return line_no_; }
  // Reports beyond kMaxReports, counted but not kept.
  size_t DroppedReports() const { return dropped_; }

 private:

  void Start(ReportKind kind, std::string headline, std::string header_func, bool wants_frame,
             size_t line);
  void Continue(std::string_view msg);
  void Complete(bool cut_short);
  void Push(CrashReport r);
  bool FoldPanic(std::string_view reason);
  // The kernel booted again: an "unexpected reboot" report unless a fatal
  // report since the last boot explains it.
  std::optional<ReportKind> Rebooted();

  std::optional<OpenCrashReport> open_;
  std::vector<CrashReport> done_;
  bool last_in_queue_ = false;   // done_.back() is the last completed report
  bool last_fatal_ = false;      // the last completed report was fatal
  size_t line_no_ = 0;
  size_t dropped_ = 0;
  bool any_fatal_ = false;
  bool any_report_ = false;
  bool ready_ = false;
  bool kernel_started_ = false;  // a "Linux version" banner since the last firmware banner
  bool firmware_seen_ = false;   // a firmware banner opened the current boot
  size_t fatal_since_boot_ = 0;  // fatal reports since the last boot banner
  size_t last_end_line_ = 0;     // last line of the last completed report
};

// Verdict of a whole log as `ezone classify` prints it: "crash" (a fatal
// report), "warning" (reports, none fatal), "none".
const char* LogVerdict(const std::vector<CrashReport>& reports);

// Feeds `mb` megabytes of synthetic console text (mostly ordinary lines, a
// crash every few thousand lines) through a parser and returns the rate in
// MB/s of this thread's CPU time. For `ezone bench` and docs/crash-detection.md.
double MeasureClassifyMBps(size_t mb = 100);

}  // namespace ezone

#endif  // EZONE_CORE_CRASH_REPORT_H_
