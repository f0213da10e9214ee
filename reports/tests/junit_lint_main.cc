// ezone_junit_lint FILE...: LintJUnit on each file; exit 1 on any problem.
// ctest runs it on the merged JUnit file of a ctest run
// (ezone_reports_lint, after the ezone_reports_merge fixture).
#include <iostream>

#include "junit_lint.h"

int main(int argc, char** argv) {
  int rc = 0;
  for (int i = 1; i < argc; ++i) {
    const auto lint = ezone::report::testing::LintJUnit(argv[i]);
    for (const auto& problem : lint.problems) std::cerr << argv[i] << ": " << problem << "\n";
    std::cout << argv[i] << ": " << lint.testcases << " testcases, " << lint.attachments
              << " attachments, " << lint.problems.size() << " problems\n";
    if (!lint.problems.empty()) rc = 1;
  }
  return argc < 2 ? 2 : rc;
}
