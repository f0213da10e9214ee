#include "ezone/report/journal.h"
#include "ezone/report/policy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "ezone/report/html_report.h"
#include "ezone/report/junit_writer.h"
#include "ezone/report/sanitize.h"

namespace ezone::report {
namespace {

using Json = nlohmann::json;

constexpr int kFormatVersion = 1;
// Long enough for an oops and its panic, short enough for a report.
constexpr std::size_t kConsoleTailBytes = 16 * 1024;
// One-line texts: the same cap as the JUnit writer's attributes.
constexpr std::size_t kMaxLineBytes = 4096;
// An interrupted check lists at most this many phases as evidence.
constexpr std::size_t kMaxPhaseEvidence = 64;
// Numbers a journal may hold. Anything beyond is not something a runner
// wrote (a torn or corrupted line): an error naming file and line, never a
// cast out of range. Times: ms since 1970 up to about the year 5100;
// durations up to about 30 years.
constexpr double kMaxTimeMs = 1e14;
constexpr double kMaxDurationMs = 1e12;
// Line numbers of a console log: far above any log ezone keeps (16 MiB).
constexpr double kMaxLineNumber = 1e9;
constexpr double kMaxFormatVersion = 1e6;

[[noreturn]] void ThrowErrno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ISO 8601, UTC, milliseconds: "2024-05-01T10:00:01.123Z".
std::string IsoUtc(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[40];
  const std::size_t n =
      std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string(text, n) + "." +
         std::to_string(1000 + ms % 1000).substr(1) + "Z";
}

// Strings from guests may hold invalid UTF-8; nlohmann's strict dump would
// throw. Replacing keeps every valid character (controls are \u-escaped).
std::string Dump(const Json& event) {
  return event.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

Json Stamp(const char* event) {
  const std::int64_t now = NowMs();
  return Json{{"event", event}, {"time", IsoUtc(now)}, {"t_ms", now}};
}

std::string OneLine(std::string_view text) {
  return CapBytes(text, kMaxLineBytes);
}

Json TimingToJson(const TimingMs& t) {
  Json out = Json::object();
  auto put = [&](const char* key, const std::optional<double>& ms) {
    if (ms && std::isfinite(*ms)) out[key] = *ms;
  };
  put("boot", t.boot);
  put("ready", t.ready);
  put("detection", t.detection);
  put("teardown", t.teardown);
  put("total", t.total);
  put("probe", t.probe);
  return out;
}

Json HeartbeatsToJson(const std::map<std::string, std::vector<double>>& heartbeats) {
  Json out = Json::object();
  for (const auto& [role, times] : heartbeats) {
    Json list = Json::array();
    for (double t : times) {
      if (std::isfinite(t)) list.push_back(t);
    }
    out[role] = std::move(list);
  }
  return out;
}

Json KernelReportsToJson(const std::vector<KernelReport>& reports) {
  Json out = Json::array();
  for (const KernelReport& k : reports) {
    out.push_back(Json{{"vm", k.vm},
                       {"kind", k.kind},
                       {"title", OneLine(k.title)},
                       {"fatal", k.fatal},
                       {"corrupted", k.corrupted},
                       {"corrupted_reason", OneLine(k.corrupted_reason)},
                       {"first_line", k.first_line},
                       {"last_line", k.last_line}});
  }
  return out;
}

Json RecordToJson(const CheckRecord& r) {
  Json evidence = Json::array();
  for (const Evidence& e : r.evidence) {
    evidence.push_back(Json{{"source", EvidenceSourceName(e.source)},
                            {"severity", SeverityName(e.severity)},
                            {"text", OneLine(e.text)}});
  }
  return Json{
      {"suite", r.suite},
      {"classname", r.classname},
      {"name", r.name},
      {"verdict", VerdictName(r.verdict)},
      {"message", OneLine(r.message)},
      {"detail", CapBytes(r.detail)},
      {"zone", r.zone},
      {"vmm", r.vmm},
      {"fault", r.fault},
      {"variant", r.variant},
      {"policy", r.policy},
      {"effect", r.effect},
      {"timing", TimingToJson(r.timing)},
      // Bounded and clean: a console flood must not make journal lines of
      // megabytes, and the writers would sanitise it the same way anyway.
      {"console_excerpt", SanitizeForXml(CapBytes(r.console_excerpt))},
      {"console_log_path", r.console_log_path},
      {"evidence", std::move(evidence)},
      {"heartbeats_ms", HeartbeatsToJson(r.heartbeats_ms)},
      {"crash_title", OneLine(r.crash_title)},
      {"kernel_reports", KernelReportsToJson(r.kernel_reports)},
      {"properties", r.properties},
      {"timestamp", r.timestamp},
      {"seconds", std::isfinite(r.seconds) ? r.seconds : 0.0},
  };
}

Json RunToJson(const RunInfo& run) {
  return Json{{"name", run.name},
              {"hostname", run.hostname},
              {"timestamp", run.timestamp},
              {"properties", run.properties}};
}

// ---------------------------------------------------------------------------
// Reading

// A journal line that is valid JSON but not what we wrote.
struct BadEvent : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string GetString(const Json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "";
  if (!it->is_string()) {
    throw BadEvent(std::string("\"") + key + "\" is not a string");
  }
  return it->get<std::string>();
}

std::optional<double> GetNumber(const Json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) {
    throw BadEvent(std::string("\"") + key + "\" is not a number");
  }
  return it->get<double>();
}

// A number that must lie in [0, max]: the caller may then convert it.
std::optional<double> GetBounded(const Json& object, const char* key,
                                 double max, const char* what) {
  const std::optional<double> value = GetNumber(object, key);
  if (value && !(std::isfinite(*value) && *value >= 0 && *value <= max)) {
    throw BadEvent(fmt::format("\"{}\" is out of range: {} (expected {} from 0 to {:g})",
                               key, *value, what, max));
  }
  return value;
}

const Json& GetObject(const Json& object, const char* key) {
  static const Json kEmpty = Json::object();
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return kEmpty;
  if (!it->is_object()) {
    throw BadEvent(std::string("\"") + key + "\" is not an object");
  }
  return *it;
}

std::map<std::string, std::string> GetStringMap(const Json& object,
                                                const char* key) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : GetObject(object, key).items()) {
    if (!v.is_string()) {
      throw BadEvent(std::string("\"") + key + "." + k + "\" is not a string");
    }
    out[k] = v.get<std::string>();
  }
  return out;
}

Verdict ParseVerdict(const std::string& word) {
  for (const Verdict v : {Verdict::kPass, Verdict::kFailure, Verdict::kError,
                          Verdict::kSkipped}) {
    if (VerdictName(v) == word) return v;
  }
  throw BadEvent("unknown verdict \"" + word + "\"");
}

CheckRecord RecordFromJson(const Json& j) {
  if (!j.is_object()) throw BadEvent("\"record\" is not an object");
  CheckRecord r;
  r.suite = GetString(j, "suite");
  r.classname = GetString(j, "classname");
  r.name = GetString(j, "name");
  r.verdict = ParseVerdict(GetString(j, "verdict"));
  r.message = GetString(j, "message");
  r.detail = GetString(j, "detail");
  r.zone = GetString(j, "zone");
  r.vmm = GetString(j, "vmm");
  r.fault = GetString(j, "fault");
  r.variant = GetString(j, "variant");
  r.policy = GetString(j, "policy");
  r.effect = GetString(j, "effect");
  const Json& timing = GetObject(j, "timing");
  const auto duration = [&timing](const char* key) {
    return GetBounded(timing, key, kMaxDurationMs, "milliseconds");
  };
  r.timing.boot = duration("boot");
  r.timing.ready = duration("ready");
  r.timing.detection = duration("detection");
  r.timing.teardown = duration("teardown");
  r.timing.total = duration("total");
  r.timing.probe = duration("probe");
  r.console_excerpt = GetString(j, "console_excerpt");
  r.console_log_path = GetString(j, "console_log_path");
  if (const auto it = j.find("evidence"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) throw BadEvent("\"evidence\" is not an array");
    for (const Json& line : *it) {
      // Journals before typed evidence (ezone 0.x) hold plain strings.
      if (line.is_string()) {
        r.evidence.push_back({EvidenceSource::kRunner, Severity::kInfo, line.get<std::string>()});
        continue;
      }
      if (!line.is_object()) throw BadEvent("evidence is neither an object nor a string");
      const std::string source = GetString(line, "source");
      const std::string severity = GetString(line, "severity");
      const auto parsed_source = ParseEvidenceSource(source);
      const auto parsed_severity = ParseSeverity(severity);
      if (!parsed_source) throw BadEvent("unknown evidence source \"" + source + "\"");
      if (!parsed_severity) throw BadEvent("unknown evidence severity \"" + severity + "\"");
      r.evidence.push_back({*parsed_source, *parsed_severity, GetString(line, "text")});
    }
  }
  r.properties = GetStringMap(j, "properties");
  r.crash_title = GetString(j, "crash_title");
  if (const auto it = j.find("kernel_reports"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) throw BadEvent("\"kernel_reports\" is not an array");
    for (const Json& k : *it) {
      if (!k.is_object()) throw BadEvent("a kernel report is not an object");
      KernelReport report;
      report.vm = GetString(k, "vm");
      report.kind = GetString(k, "kind");
      report.title = GetString(k, "title");
      report.corrupted_reason = GetString(k, "corrupted_reason");
      const auto flag = [&k](const char* key) {
        const auto f = k.find(key);
        if (f == k.end() || f->is_null()) return false;
        if (!f->is_boolean()) throw BadEvent(std::string("kernel report ") + key + " is not a boolean");
        return f->get<bool>();
      };
      report.fatal = flag("fatal");
      report.corrupted = flag("corrupted");
      report.first_line = static_cast<std::size_t>(
          GetBounded(k, "first_line", kMaxLineNumber, "a line number").value_or(0));
      report.last_line = static_cast<std::size_t>(
          GetBounded(k, "last_line", kMaxLineNumber, "a line number").value_or(0));
      r.kernel_reports.push_back(std::move(report));
    }
  }
  if (const auto it = j.find("heartbeats_ms"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw BadEvent("\"heartbeats_ms\" is not an object");
    for (const auto& [role, times] : it->items()) {
      if (!times.is_array()) throw BadEvent("heartbeats_ms." + role + " is not an array");
      std::vector<double>& beats = r.heartbeats_ms[role];
      for (const Json& t : times) {
        if (!t.is_number()) throw BadEvent("heartbeats_ms." + role + " holds a non-number");
        const double ms = t.get<double>();
        if (!std::isfinite(ms) || ms < 0 || ms > kMaxDurationMs) {
          throw BadEvent("heartbeats_ms." + role + " holds an out-of-range time");
        }
        beats.push_back(ms);
      }
    }
  }
  // Journals before typed heartbeats kept them as "heartbeat.<role>"
  // properties of space-separated numbers: read into the field.
  for (auto it = r.properties.begin(); it != r.properties.end();) {
    if (it->first.rfind("heartbeat.", 0) != 0) {
      ++it;
      continue;
    }
    std::vector<double>& beats = r.heartbeats_ms[it->first.substr(10)];
    std::istringstream words(it->second);
    std::string word;
    while (words >> word) {
      char* end = nullptr;
      const double ms = std::strtod(word.c_str(), &end);
      if (end != word.c_str() && *end == '\0' && std::isfinite(ms) && ms >= 0 &&
          ms <= kMaxDurationMs) {
        beats.push_back(ms);
      }
    }
    it = r.properties.erase(it);
  }
  r.timestamp = GetString(j, "timestamp");
  r.seconds =
      GetBounded(j, "seconds", kMaxDurationMs / 1000, "seconds").value_or(0);
  return r;
}

// The last bytes of a console log, for a check that never wrote its excerpt.
std::string ReadTail(const std::string& path, std::size_t max_bytes) {
  if (path.empty()) return "";
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  if (size <= 0) return "";
  const std::streamoff start =
      size > static_cast<std::streamoff>(max_bytes)
          ? size - static_cast<std::streamoff>(max_bytes)
          : 0;
  in.seekg(start);
  std::string tail(static_cast<std::size_t>(size - start), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  tail.resize(static_cast<std::size_t>(in.gcount()));
  if (start > 0) {
    // Start at a line boundary when there is one near.
    const std::size_t newline = tail.find('\n');
    if (newline != std::string::npos && newline < 1024)
      tail.erase(0, newline + 1);
    tail = "[... earlier console output in " + path + " ...]\n" + tail;
  }
  return tail;
}

struct Phase {
  std::string name, detail;
  std::int64_t t_ms = 0;
};

// One check seen in the journal: finished (record is the verdict) or still
// open when the runner stopped.
struct Slot {
  bool finished = false;
  CheckRecord record;
  std::vector<Phase> phases;
  std::int64_t start_ms = 0, last_ms = 0;
};

// Reads one file; `segments` of run_started are resolved as they end.
class JournalReader {
 public:
  JournalReader(std::filesystem::path file, std::string current_boot_id)
      : file_(std::move(file)), current_boot_id_(std::move(current_boot_id)) {}

  JournalContents Read() {
    const std::string text = Slurp();
    std::size_t line_no = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
      ++line_no;
      std::size_t end = text.find('\n', pos);
      const bool complete = end != std::string::npos;
      if (!complete) end = text.size();
      const std::string_view line(text.data() + pos, end - pos);
      pos = end + 1;
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      Json event = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (event.is_discarded() || !event.is_object()) {
        if (!complete) {
          // The runner (or the host) died in the middle of this write.
          std::cerr << "ezone: warning: " << file_.string() << ":" << line_no
                    << ": ignoring a truncated last line (the writer stopped "
                       "in the middle of it)\n";
          break;
        }
        throw std::runtime_error(
            file_.string() + ":" + std::to_string(line_no) +
            ": malformed journal line (not a JSON object)");
      }
      try {
        Handle(event);
      } catch (const std::exception& e) {
        throw std::runtime_error(file_.string() + ":" +
                                 std::to_string(line_no) +
                                 ": bad journal event: " + e.what());
      }
    }
    CloseSegment(current_boot_id_);
    std::filesystem::path dir = file_.parent_path();
    if (dir.filename() == "journal") dir = dir.parent_path();
    contents_.report_dir = dir.empty() ? "." : dir;
    for (Slot& slot : slots_)
      contents_.records.push_back(std::move(slot.record));
    return std::move(contents_);
  }

 private:
  std::string Slurp() {
    std::ifstream in(file_, std::ios::binary);
    if (!in) {
      throw std::system_error(errno ? errno : ENOENT, std::generic_category(),
                              "cannot open journal " + file_.string());
    }
    std::ostringstream out;
    out << in.rdbuf();
    return std::move(out).str();
  }

  static std::pair<std::string, std::string> Key(const std::string& classname,
                                                 const std::string& name) {
    return {classname, name};
  }

  void Handle(const Json& event) {
    const std::string type = GetString(event, "event");
    const std::int64_t t_ms = static_cast<std::int64_t>(
        GetBounded(event, "t_ms", kMaxTimeMs, "milliseconds since 1970")
            .value_or(0));
    if (type == "run_started") {
      const auto v = GetBounded(event, "v", kMaxFormatVersion, "a version");
      if (v && *v > kFormatVersion) {
        throw BadEvent(fmt::format(
            "journal format version {:g} is newer than this ezone reads ({})",
            *v, kFormatVersion));
      }
      const std::string boot_id = GetString(event, "boot_id");
      // A new segment: what the previous one left open is judged against
      // the boot this one found.
      if (segments_ > 0) CloseSegment(boot_id);
      ++segments_;
      const Json& run = GetObject(event, "run");
      if (segments_ == 1) {
        contents_.run.name = GetString(run, "name");
        contents_.run.hostname = GetString(run, "hostname");
        contents_.run.timestamp = GetString(run, "timestamp");
      }
      for (auto& [k, v] : GetStringMap(run, "properties")) {
        contents_.run.properties.emplace(k, std::move(v));
      }
      segment_boot_id_ = boot_id;
      contents_.boot_id = boot_id;
      contents_.finished = false;
    } else if (type == "check_started") {
      Slot slot;
      CheckRecord& r = slot.record;
      r.suite = GetString(event, "suite");
      r.classname = GetString(event, "classname");
      r.name = GetString(event, "name");
      r.timestamp = GetString(event, "time");
      for (auto& [key, value] : GetStringMap(event, "fields")) {
        if (key == "vmm") {
          r.vmm = value;
        } else if (key == "fault") {
          r.fault = value;
        } else if (key == "variant") {
          r.variant = value;
        } else if (key == "policy") {
          r.policy = value;
        } else if (key == "zone") {
          r.zone = value;
        } else if (key == "console_log_path") {
          r.console_log_path = value;
        } else {
          r.properties[key] = value;
        }
      }
      slot.start_ms = slot.last_ms = t_ms;
      open_[Key(r.classname, r.name)] = slots_.size();
      slots_.push_back(std::move(slot));
    } else if (type == "check_phase") {
      const auto it = open_.find(
          Key(GetString(event, "classname"), GetString(event, "name")));
      if (it == open_.end()) return;  // a phase of a check we did not see start
      Slot& slot = slots_[it->second];
      slot.phases.push_back(
          {GetString(event, "phase"), GetString(event, "detail"), t_ms});
      slot.last_ms = std::max(slot.last_ms, t_ms);
    } else if (type == "alive") {
      // The runner was alive then: every open check ran at least this long.
      for (const auto& [key, index] : open_) {
        slots_[index].last_ms = std::max(slots_[index].last_ms, t_ms);
      }
    } else if (type == "check_finished") {
      const auto found = event.find("record");
      if (found == event.end()) throw BadEvent("no \"record\"");
      CheckRecord record = RecordFromJson(*found);
      const auto it = open_.find(Key(record.classname, record.name));
      if (it != open_.end()) {
        Slot& slot = slots_[it->second];
        slot.record = std::move(record);
        slot.finished = true;
        open_.erase(it);
      } else {
        Slot slot;
        slot.record = std::move(record);
        slot.finished = true;
        slots_.push_back(std::move(slot));
      }
    } else if (type == "run_finished") {
      contents_.finished = true;
    }
    // Unknown events come from a newer minor version: skipped.
  }

  // Turns the checks the segment left open into records. `next_boot_id` is
  // the boot id seen after the segment (the next run_started's, or now's).
  void CloseSegment(const std::string& next_boot_id) {
    const bool rebooted = !segment_boot_id_.empty() && !next_boot_id.empty() &&
                          segment_boot_id_ != next_boot_id;
    for (const auto& [key, index] : open_) {
      Interrupt(slots_[index], rebooted, next_boot_id);
      ++contents_.interrupted;
    }
    open_.clear();
  }

  void Interrupt(Slot& slot, bool rebooted, const std::string& next_boot_id) {
    CheckRecord& r = slot.record;
    const std::string phase =
        slot.phases.empty() ? "start" : slot.phases.back().name;
    if (rebooted) {
      r.effect = std::string(EffectName(Effect::kGlobal));
      r.message = "the host did not survive: it rebooted during " + phase;
      // The same rule as the core's verdict. A record whose policy or zone
      // this version does not know cannot be judged: the host still died.
      const auto policy = ParsePolicy(r.policy);
      const auto zone = ParseZone(r.zone);
      r.verdict = policy && zone ? Judge(*policy, *zone, Effect::kGlobal, false).verdict
                                 : Verdict::kFailure;
      r.detail = "The host's boot id changed from " + segment_boot_id_ +
                 " to " + next_boot_id +
                 " while this check was in flight: the host crashed or was "
                 "rebooted, taking the runner with it. The journal " +
                 file_.string() + " records the phases it reached.";
    } else {
      r.effect = "";
      r.verdict = Verdict::kError;
      r.message = "interrupted during " + phase +
                  ": the runner stopped before the check finished";
      r.detail = "The journal " + file_.string() +
                 " records the check's start and phases but no verdict: the "
                 "runner was killed or crashed (the host kept running).";
    }
    if (slot.start_ms > 0 && slot.last_ms >= slot.start_ms) {
      r.detail += fmt::format(
          " It ran for {:.1f} s until its last journal entry (the runner "
          "notes every {} s that it is alive while a check runs).",
          static_cast<double>(slot.last_ms - slot.start_ms) / 1000.0,
          kJournalAliveInterval.count() / 1000);
    }
    r.properties["journal.interrupted"] = phase;
    // The time it ran until interrupted, as far as the journal knows: its
    // last phase or alive note (both bounded by kMaxTimeMs: no overflow).
    r.seconds = 0;
    if (slot.start_ms > 0 && slot.last_ms >= slot.start_ms) {
      r.seconds = static_cast<double>(slot.last_ms - slot.start_ms) / 1000.0;
      r.timing.total = static_cast<double>(slot.last_ms - slot.start_ms);
    }
    std::size_t shown = 0;
    for (const Phase& p : slot.phases) {
      if (shown++ == kMaxPhaseEvidence) {
        r.evidence.push_back({EvidenceSource::kJournal, Severity::kInfo,
                              "journal: ... " + std::to_string(slot.phases.size() - shown + 1) +
                                  " more phases"});
        break;
      }
      std::string line = "journal: phase " + p.name;
      if (slot.start_ms > 0 && p.t_ms >= slot.start_ms) {
        char at[32];
        std::snprintf(at, sizeof at, " at +%.3f s",
                      static_cast<double>(p.t_ms - slot.start_ms) / 1000.0);
        line += at;
      }
      if (!p.detail.empty()) line += ": " + p.detail;
      r.evidence.push_back({EvidenceSource::kJournal, Severity::kInfo, std::move(line)});
    }
    if (rebooted) {
      r.evidence.push_back({EvidenceSource::kHost, Severity::kBad,
                            "host: boot id changed from " + segment_boot_id_ + " to " +
                                next_boot_id + " (the host rebooted)"});
    }
    r.console_excerpt = ReadTail(r.console_log_path, kConsoleTailBytes);
  }

  std::filesystem::path file_;
  std::string current_boot_id_;
  JournalContents contents_;
  std::vector<Slot> slots_;
  // Checks started and not finished in the current segment.
  std::map<std::pair<std::string, std::string>, std::size_t> open_;
  std::string segment_boot_id_;
  int segments_ = 0;
};

}  // namespace

std::string CurrentBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  return id;
}

// ---------------------------------------------------------------------------
// JournalWriter

JournalWriter::JournalWriter(std::filesystem::path file,
                             std::chrono::milliseconds alive_interval)
    : path_(std::move(file)), alive_interval_(alive_interval) {
  if (const auto parent = path_.parent_path(); !parent.empty()) {
    std::filesystem::create_directories(parent);
  }
  fd_ = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) ThrowErrno("cannot open journal " + path_.string());
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int saved = errno;
    ::close(fd_);
    errno = saved;
    ThrowErrno("cannot stat journal " + path_.string());
  }
  // A torn last line would glue itself to our first event; cut it off.
  off_t end = st.st_size;
  char last = '\n';
  if (end > 0 && ::pread(fd_, &last, 1, end - 1) == 1 && last != '\n') {
    off_t keep = 0;
    char buffer[4096];
    for (off_t pos = end; pos > 0 && keep == 0;) {
      const off_t chunk = std::min<off_t>(pos, sizeof buffer);
      pos -= chunk;
      const ssize_t n =
          ::pread(fd_, buffer, static_cast<std::size_t>(chunk), pos);
      if (n != chunk) break;
      for (off_t i = chunk; i > 0; --i) {
        if (buffer[i - 1] == '\n') {
          keep = pos + i;
          break;
        }
      }
    }
    std::cerr << "ezone: warning: " << path_.string()
              << ": cutting off a torn last line (" << (end - keep)
              << " bytes) left by a writer that stopped in the middle\n";
    if (::ftruncate(fd_, keep) != 0) {
      const int saved = errno;
      ::close(fd_);
      errno = saved;
      ThrowErrno("cannot truncate journal " + path_.string());
    }
  }
  if (alive_interval_.count() > 0) {
    alive_thread_ = std::thread([this] { NoteAlive(); });
  }
}

JournalWriter::~JournalWriter() {
  {
    std::lock_guard lock(state_mutex_);
    stopping_ = true;
  }
  state_changed_.notify_all();
  if (alive_thread_.joinable()) alive_thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

void JournalWriter::NoteAlive() {
  bool warned = false;
  std::unique_lock lock(state_mutex_);
  while (!state_changed_.wait_for(lock, alive_interval_,
                                  [this] { return stopping_; })) {
    if (open_checks_ == 0) continue;
    lock.unlock();
    try {
      Append(Dump(Stamp("alive")));
    } catch (const std::exception& e) {
      // No exception may leave this thread; the next check's events will
      // meet the same error and throw where the runner handles it.
      if (!warned) std::cerr << "ezone: warning: " << e.what() << "\n";
      warned = true;
    }
    lock.lock();
  }
}

void JournalWriter::Append(std::string line) {
  std::lock_guard lock(mutex_);
  const char* data = line.data();
  std::size_t left = line.size();
  // One write() in practice (O_APPEND keeps a line whole); the loop only
  // covers a signal or a full disk cutting it short.
  while (left > 0) {
    const ssize_t n = ::write(fd_, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno("cannot write journal " + path_.string());
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  // On disk before the runner's next step, which may be the one that kills
  // the host.
  if (::fdatasync(fd_) != 0)
    ThrowErrno("cannot sync journal " + path_.string());
}

void JournalWriter::RunStarted(const RunInfo& run) {
  Json event = Stamp("run_started");
  event["v"] = kFormatVersion;
  event["boot_id"] = CurrentBootId();
  event["pid"] = static_cast<long long>(::getpid());
  event["run"] = RunToJson(run);
  Append(Dump(event));
}

void JournalWriter::CheckStarted(
    const std::string& suite, const std::string& classname,
    const std::string& name, const std::map<std::string, std::string>& fields) {
  Json event = Stamp("check_started");
  event["suite"] = suite;
  event["classname"] = classname;
  event["name"] = name;
  event["fields"] = fields;
  Append(Dump(event));
  std::lock_guard lock(state_mutex_);
  ++open_checks_;
}

void JournalWriter::CheckPhase(const std::string& classname,
                               const std::string& name,
                               const std::string& phase,
                               const std::string& detail) {
  Json event = Stamp("check_phase");
  event["classname"] = classname;
  event["name"] = name;
  event["phase"] = OneLine(phase);
  event["detail"] = OneLine(detail);
  Append(Dump(event));
}

void JournalWriter::CheckFinished(const CheckRecord& record) {
  Json event = Stamp("check_finished");
  event["record"] = RecordToJson(record);
  {
    std::lock_guard lock(state_mutex_);
    if (open_checks_ > 0) --open_checks_;
  }
  Append(Dump(event));
}

void JournalWriter::RunFinished() { Append(Dump(Stamp("run_finished"))); }

// ---------------------------------------------------------------------------

JournalContents ReadJournal(const std::filesystem::path& file,
                            std::string_view current_boot_id) {
  return JournalReader(file, current_boot_id.empty()
                                 ? CurrentBootId()
                                 : std::string(current_boot_id))
      .Read();
}

JournalContents ReadJournals(const std::vector<std::filesystem::path>& inputs,
                             std::string_view current_boot_id) {
  const std::string boot_id =
      current_boot_id.empty() ? CurrentBootId() : std::string(current_boot_id);
  std::vector<std::filesystem::path> files;
  for (const auto& input : inputs) {
    if (std::filesystem::is_directory(input)) {
      std::vector<std::filesystem::path> found;
      for (const auto& entry : std::filesystem::directory_iterator(input)) {
        if (entry.is_regular_file() && entry.path().extension() == ".jsonl") {
          found.push_back(entry.path());
        }
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(input);
    }
  }
  JournalContents merged;
  merged.finished = !files.empty();
  bool first = true;
  for (const auto& file : files) {
    JournalContents one = ReadJournal(file, boot_id);
    if (first) {
      merged.run.name = one.run.name;
      merged.run.hostname = one.run.hostname;
      merged.run.timestamp = one.run.timestamp;
      merged.boot_id = one.boot_id;
      merged.report_dir = one.report_dir;
      first = false;
    }
    for (auto& [k, v] : one.run.properties) {
      merged.run.properties.emplace(k, std::move(v));
    }
    for (CheckRecord& r : one.records) merged.records.push_back(std::move(r));
    merged.finished = merged.finished && one.finished;
    merged.interrupted += one.interrupted;
  }
  return merged;
}

void RebuildReports(const JournalContents& contents,
                    const std::filesystem::path& junit,
                    const std::filesystem::path& html,
                    const std::filesystem::path& markdown,
                    const std::filesystem::path& performance,
                    AttachmentOptions attachments) {
  if (attachments.report_dir.empty()) attachments.report_dir = contents.report_dir;
  if (!junit.empty()) {
    WriteJUnit(contents.run, contents.records, junit, attachments);
  }
  if (!html.empty()) {
    WriteHtml(contents.run, contents.records, html, performance,
              attachments.report_dir);
  }
  if (!markdown.empty()) {
    WriteMarkdownSummary(contents.run, contents.records, markdown);
  }
}

}  // namespace ezone::report
