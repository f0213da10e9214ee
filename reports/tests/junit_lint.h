// What a CI consumer needs from ezone's JUnit file beyond the schema: every
// case distinct (EnricoMi's publisher, Jenkins and mikepenz key tests by
// classname + name) and every attachment a relative path that resolves from
// the file's directory (GitLab and Jenkins' junit-attachments open them
// relative to the report).
#ifndef EZONE_REPORTS_TESTS_JUNIT_LINT_H_
#define EZONE_REPORTS_TESTS_JUNIT_LINT_H_

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace ezone::report::testing {

struct JUnitLint {
  std::size_t testcases = 0, attachments = 0;
  std::vector<std::string> problems;  // empty: the file is fine
};

// Checks `file`: it parses, classname + name is unique over all testcases,
// every [[ATTACHMENT|p]] line and every "<role>_console_log=p" line in a
// <system-out> names a relative path that exists from the file's directory.
JUnitLint LintJUnit(const std::filesystem::path& file);

}  // namespace ezone::report::testing

#endif  // EZONE_REPORTS_TESTS_JUNIT_LINT_H_
