// Helpers shared by the reports tests.
#ifndef EZONE_REPORTS_TESTS_TEST_UTIL_H_
#define EZONE_REPORTS_TESTS_TEST_UTIL_H_

#include <filesystem>
#include <string>
#include <vector>

#include "ezone/report/check_record.h"

namespace ezone::report::testing {

// Evidence for tests: lines that start with "host" are the host oracle's,
// "... kernel"/"BUG"/"->" in them bad, "unchanged"/"reaped"/"no new" good.
Evidence Ev(std::string text);

// A fresh directory per test (ctest runs tests in parallel processes),
// removed by the destructor.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string ReadFile(const std::filesystem::path& path);

// Empty when the schema and xmllint are both there; otherwise the reason to
// skip, naming what is missing.
std::string SchemaMissingReason();

// Runs xmllint --schema on `file`; returns its exit status and puts its
// output in *output.
int ValidateWithXmllint(const std::filesystem::path& file, std::string* output);

RunInfo SampleRun();
// One record of each verdict, with evidence, timings and properties.
std::vector<CheckRecord> SampleRecords();

}  // namespace ezone::report::testing

#endif  // EZONE_REPORTS_TESTS_TEST_UTIL_H_
