#include "classify_cli.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "console_classifier.h"
#include "crash_report.h"

namespace ezone {
namespace {

struct Classified {
  std::vector<CrashReport> reports;
  size_t dropped = 0;
  size_t lines = 0;
};

// Streams the file through the parser in 64 KiB reads: memory stays bounded
// whatever the size of the log. False with `error` set when it cannot be read.
bool ClassifyFile(const std::string& name, Classified& out, std::string& error) {
  FILE* f = name == "-" ? stdin : std::fopen(name.c_str(), "rb");
  if (f == nullptr) {
    error = std::strerror(errno);
    return false;
  }
  std::unique_ptr<FILE, int (*)(FILE*)> closer(f == stdin ? nullptr : f, &std::fclose);
  CrashReportParser parser;
  LineAssembler lines([&](std::string_view l) {
    parser.FeedLine(l);
    for (CrashReport& r : parser.TakeReports()) {
      if (out.reports.size() < 1000) out.reports.push_back(std::move(r));
      else ++out.dropped;
    }
  });
  std::vector<char> buf(64 * 1024);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) lines.Feed(std::string_view(buf.data(), n));
  if (std::ferror(f)) {
    error = std::strerror(errno);
    return false;
  }
  lines.Flush();
  parser.Finish();
  for (CrashReport& r : parser.TakeReports()) out.reports.push_back(std::move(r));
  out.dropped += parser.DroppedReports();
  out.lines = parser.Lines();
  return true;
}

}  // namespace

int RunClassify(const std::vector<std::string>& logs, bool json, std::ostream& out,
                std::ostream& err) {
  int rc = 0;
  bool unreadable = false;
  for (const std::string& name : logs) {
    Classified c;
    std::string error;
    if (!ClassifyFile(name, c, error)) {
      err << "ezone classify: cannot read " << name << ": " << error << "\n";
      if (json) {
        nlohmann::ordered_json j;
        j["file"] = name;
        j["error"] = error;
        out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      }
      unreadable = true;
      continue;
    }
    std::string verdict = LogVerdict(c.reports);
    bool corrupted = false;
    for (const CrashReport& r : c.reports) corrupted |= r.corrupted;
    if (verdict == "crash") rc = 1;
    if (json) {
      nlohmann::ordered_json j;
      j["file"] = name;
      j["verdict"] = verdict;
      j["corrupted"] = corrupted;
      nlohmann::ordered_json reports = nlohmann::ordered_json::array();
      for (const CrashReport& r : c.reports) {
        nlohmann::ordered_json jr;
        jr["kind"] = ReportKindName(r.kind);
        jr["title"] = r.title;
        jr["fatal"] = r.fatal;
        jr["first_line"] = r.first_line;
        jr["last_line"] = r.last_line;
        jr["corrupted"] = r.corrupted;
        if (r.corrupted) jr["corrupted_reason"] = r.corrupted_reason;
        reports.push_back(std::move(jr));
      }
      j["reports"] = std::move(reports);
      j["lines"] = c.lines;
      if (c.dropped > 0) j["dropped_reports"] = c.dropped;
      // Console logs are not always UTF-8: replace what is not.
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
      out << name << ": " << verdict << (corrupted ? " (corrupted)" : "") << ", "
          << c.reports.size() << " report" << (c.reports.size() == 1 ? "" : "s") << ", " << c.lines
          << " lines\n";
      for (const CrashReport& r : c.reports) {
        out << "  " << r.first_line << "-" << r.last_line << " " << ReportKindName(r.kind)
            << (r.fatal ? " fatal" : "") << ": " << r.title;
        if (r.corrupted) out << " [corrupted: " << r.corrupted_reason << "]";
        out << "\n";
      }
      if (c.dropped > 0) out << "  (" << c.dropped << " more reports not kept)\n";
    }
  }
  return unreadable ? 2 : rc;
}

CLI::App* AddClassifyCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "classify", "find and title the kernel crash reports in console logs (exit 1: a crash)");
  auto logs = std::make_shared<std::vector<std::string>>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("LOG", *logs, "console log files; - reads standard input")->required();
  cmd->add_flag("--json", *json, "one JSON object per log, one per line");
  cmd->callback([logs, json, exit_code] {
    *exit_code = RunClassify(*logs, *json, std::cout, std::cerr);
  });
  return cmd;
}

}  // namespace ezone
