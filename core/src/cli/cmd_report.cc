// `ezone report` (the reports again from journals, after a crash too) and
// `ezone merge-junit`.
#include <algorithm>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "ezone/report/html_report.h"
#include "ezone/report/journal.h"
#include "ezone/report/junit_writer.h"
#include "ezone/report/performance.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;

// The performance figures `ezone report` draws the continuum chart from: the
// one asked for, else performance.json beside the HTML page, else in the
// report directory the journals belong to (<dir>/journal/*.jsonl).
fs::path PerformanceFileFor(const std::vector<std::string>& journals, const std::string& html,
                            const std::string& asked) {
  if (!asked.empty() || html.empty()) return asked;
  std::error_code ec;
  fs::path beside = fs::absolute(html, ec).parent_path() / report::kPerformanceFileName;
  if (fs::exists(beside, ec)) return beside;
  for (const auto& input : journals) {
    fs::path dir = fs::absolute(input, ec);
    if (!fs::is_directory(dir, ec)) dir = dir.parent_path();
    for (const fs::path& candidate : {dir, dir.parent_path()}) {
      if (fs::exists(candidate / report::kPerformanceFileName, ec)) {
        return candidate / report::kPerformanceFileName;
      }
    }
  }
  return {};
}

}  // namespace

int CmdReport(const ReportOptions& opt) {
  if (!opt.performance.empty() && !fs::exists(opt.performance)) {
    std::cerr << "ezone: --performance " << opt.performance << ": no such file\n";
    return kExitBadInput;
  }
  std::vector<fs::path> inputs(opt.journals.begin(), opt.journals.end());
  report::JournalContents contents = report::ReadJournals(inputs);
  fs::path performance = PerformanceFileFor(opt.journals, opt.html, opt.performance);
  report::RebuildReports(contents, opt.junit, opt.html, opt.markdown, performance,
                         {{}, opt.attachment_base});
  std::cout << "rebuilt " << contents.records.size() << " checks (" << contents.interrupted
            << " interrupted) from the journal\n"
            << "JUnit report: " << fs::absolute(opt.junit).string() << "\n";
  if (!opt.html.empty()) {
    std::cout << "HTML report: " << fs::absolute(opt.html).string() << "\n"
              << "performance figures: "
              << (performance.empty() ? std::string("none (no performance.json found)")
                                      : fs::absolute(performance).string())
              << "\n";
  }
  return 0;
}

int CmdMergeJUnit(const std::vector<std::string>& merge_inputs, const std::string& out,
                  const std::string& attachment_base) {
  std::vector<fs::path> inputs;
  for (const auto& in : merge_inputs) {
    if (fs::is_directory(in)) {
      for (const auto& e : fs::directory_iterator(in)) {
        if (e.path().extension() == ".xml") inputs.push_back(e.path());
      }
    } else {
      inputs.emplace_back(in);
    }
  }
  std::sort(inputs.begin(), inputs.end());
  size_t merged = report::MergeJUnit(inputs, out, {{}, attachment_base});
  std::cout << "merged " << merged << " of " << inputs.size() << " JUnit files\n"
            << "JUnit report: " << fs::absolute(out).string() << "\n";
  return 0;
}

}  // namespace ezone
