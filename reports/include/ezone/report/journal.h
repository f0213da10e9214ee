// The journal: the record of a run that survives the runner's death and a
// host reboot. The very check ezone exists for can take the host down with
// the runner on it, so every event is appended and flushed to disk before
// the runner takes its next step; the reports are rebuilt from it.
//
// Format: JSON Lines, one event per line, each line written with one write()
// and fdatasync()ed before the call returns:
//   {"event":"run_started","v":1,"time":...,"boot_id":...,"pid":...,"run":{...}}
//   {"event":"check_started","time":...,"suite":...,"classname":...,"name":...,"fields":{...}}
//   {"event":"check_phase","time":...,"classname":...,"name":...,"phase":...,"detail":...}
//   {"event":"check_finished","time":...,"record":{...every CheckRecord
//   field...}}
//   {"event":"alive","time":...}   (every kJournalAliveInterval while a
//   check runs: an interrupted check's time is known to that precision)
//   {"event":"run_finished","time":...}
// A file normally holds one run; a resumed run appending to the same file
// starts a new run_started segment (see ReadJournal).
#ifndef EZONE_REPORT_JOURNAL_H_
#define EZONE_REPORT_JOURNAL_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ezone/report/attachments.h"
#include "ezone/report/check_record.h"

namespace ezone::report {

// Appends events to one journal file. Thread-safe: calls from several
// threads are serialised, each event is one whole line. Every method throws
// std::system_error when the file cannot be written or synced: a runner that
// cannot journal has lost its crash safety and should say so.
inline constexpr std::chrono::milliseconds kJournalAliveInterval{5000};

class JournalWriter {
 public:
  // Creates missing parent directories and opens `file` for appending
  // (O_APPEND, so several writers never interleave inside a line). If the file
  // ends in a torn line (a previous runner died mid-write), that partial line
  // is cut off first, with a warning on stderr, so the file stays line-clean.
  // While a check is open (CheckStarted without CheckFinished) a thread of
  // the writer appends an "alive" event every `alive_interval` (0: never),
  // so that a check interrupted by a kill (a ctest timeout) still shows how
  // long it ran; a write error there is a warning on stderr, not an
  // exception.
  explicit JournalWriter(std::filesystem::path file,
                         std::chrono::milliseconds alive_interval =
                             kJournalAliveInterval);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Records the run, this host's boot id (/proc/sys/kernel/random/boot_id),
  // the pid and the time. Call once, before the first check.
  void RunStarted(const RunInfo& run);

  // A check begins. `fields` describe it for the case it never finishes:
  // the keys "vmm", "fault", "variant", "policy", "zone" and
  // "console_log_path" fill the same CheckRecord fields, any other key
  // becomes a property. A check is identified by (classname, name).
  void CheckStarted(const std::string& suite, const std::string& classname,
                    const std::string& name,
                    const std::map<std::string, std::string>& fields);

  // The check entered a phase ("booting", "ready", "fault fired",
  // "observing", "tearing down", ...). The last phase names where an
  // interrupted check stopped.
  void CheckPhase(const std::string& classname, const std::string& name,
                  const std::string& phase, const std::string& detail = {});

  // The check's verdict, with every field of the record. The console excerpt
  // and detail are capped (kMaxExcerptBytes) and the excerpt sanitised
  // (SanitizeForXml); invalid UTF-8 elsewhere becomes U+FFFD.
  void CheckFinished(const CheckRecord& record);

  // The run ended normally.
  void RunFinished();

  const std::filesystem::path& path() const { return path_; }

 private:
  void Append(std::string line);
  void NoteAlive();

  std::filesystem::path path_;
  int fd_ = -1;
  std::mutex mutex_;  // guards writes to fd_
  std::chrono::milliseconds alive_interval_;
  std::mutex state_mutex_;  // guards open_checks_ and stopping_
  std::condition_variable state_changed_;
  int open_checks_ = 0;
  bool stopping_ = false;
  std::thread alive_thread_;  // started last in the constructor
};

// What a journal says about a run.
struct JournalContents {
  RunInfo run;
  // Finished checks in the order they started, then checks that started but
  // never finished, turned into records (see ReadJournal).
  std::vector<CheckRecord> records;
  std::string boot_id;    // recorded by the (last) run_started; "" if none
  bool finished = false;  // the (last) run reached run_finished
  std::size_t interrupted = 0;  // records made for unfinished checks
  // The report directory the (first) journal belongs to: the parent of its
  // directory when that is named "journal" (<report dir>/journal/*.jsonl),
  // else its directory. Console logs are looked for there too.
  std::filesystem::path report_dir;
};

// This host's boot id, or "" when /proc does not tell.
std::string CurrentBootId();

// Reads one journal file. A check started but not finished becomes a
// record:
//  - same boot (or boot ids unknown): verdict kError, effect "", message
//    "interrupted during <last phase>: the runner stopped before the check
//    finished";
//  - the host rebooted meanwhile (the boot id recorded at run_started differs
//    from the one of the next run_started in the file, or else from
//    `current_boot_id`): effect "global", message "the host did not survive:
//    it rebooted during <last phase>", verdict kFailure, or kPass under
//    policy "performance" for an "E-Zone 3" or "E-Zone 1" fault (as
//    verdict.cc decides for a global effect).
// Such records carry the property "journal.interrupted" = the last phase and
// the phases seen as evidence; when the check named its console log, the
// log's tail becomes the console excerpt.
// `current_boot_id` empty: CurrentBootId().
// Several run_started segments in one file (a resumed run) are all read:
// RunInfo comes from the first, records from all, `boot_id` and `finished`
// from the last.
// A last line without its newline that does not parse (the runner died
// mid-write) is ignored with a warning on stderr naming file and line; any
// other malformed line throws std::runtime_error naming file:line. A file
// that cannot be opened throws std::system_error.
JournalContents ReadJournal(const std::filesystem::path& file,
                            std::string_view current_boot_id = {});

// Reads several journals (e.g. one per ctest process) and merges them: a
// directory stands for its "*.jsonl" files in name order. RunInfo: the
// first's name, hostname and timestamp, properties of all (first wins);
// records in input order; `finished` only if all finished; `boot_id` of the
// first; `interrupted` summed.
JournalContents ReadJournals(const std::vector<std::filesystem::path>& inputs,
                             std::string_view current_boot_id = {});

// Rebuilds the reports from a journal: JUnit, HTML and (if `markdown` is not
// empty) the Markdown summary, each written atomically. An empty `junit` or
// `html` path skips that report too. The HTML page's performance figures:
// `performance` (a performance.json), or when empty the one beside `html`
// (WriteHtml). Attachments are placed as WriteJUnit and WriteHtml do, with
// `attachments.report_dir` defaulting to contents.report_dir.
void RebuildReports(const JournalContents& contents,
                    const std::filesystem::path& junit,
                    const std::filesystem::path& html,
                    const std::filesystem::path& markdown = {},
                    const std::filesystem::path& performance = {},
                    AttachmentOptions attachments = {});

}  // namespace ezone::report

#endif  // EZONE_REPORT_JOURNAL_H_
