#include "ezone/report/check_record.h"

#include <algorithm>

namespace ezone::report {

std::string RunTitle(const RunInfo& run, const std::vector<CheckRecord>& records) {
  std::vector<std::string> suites;
  for (const CheckRecord& r : records) {
    const std::string& suite = r.suite.empty() ? run.name : r.suite;
    if (!suite.empty() && std::find(suites.begin(), suites.end(), suite) == suites.end()) {
      suites.push_back(suite);
    }
  }
  const bool named_after_a_suite =
      run.name.empty() || std::find(suites.begin(), suites.end(), run.name) != suites.end();
  if (suites.size() <= 1 || !named_after_a_suite) {
    if (!run.name.empty()) return run.name;
    return suites.empty() ? "ezone" : suites.front();
  }
  std::string title;
  for (const std::string& suite : suites) {
    if (!title.empty()) title += ", ";
    title += suite;
  }
  return title;
}

}  // namespace ezone::report
