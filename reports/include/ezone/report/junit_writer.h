// JUnit XML in the Jenkins xUnit "junit-10" dialect (the schema in
// shared/schemas/junit-10.xsd), which GitLab, GitHub test reporters and
// Jenkins all read.
#ifndef EZONE_REPORT_JUNIT_WRITER_H_
#define EZONE_REPORT_JUNIT_WRITER_H_

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "ezone/report/check_record.h"

namespace ezone::report {

// Renders the records as a <testsuites> document: one <testsuite> per
// distinct CheckRecord::suite (in order of first appearance), one
// <testcase> per record (in input order). The schema allows no per-testcase
// <properties>, so a check's zone/vmm/fault/variant/policy/effect/timings and
// its properties map are `key=value` lines in its <system-out>, after the
// console excerpt and a `[[ATTACHMENT|<console_log_path>]]` line; the
// RunInfo properties go into each suite's <properties>. All text is
// sanitised (SanitizeForXml) and console excerpts are capped
// (kMaxExcerptBytes).
std::string RenderJUnit(const RunInfo& run,
                        const std::vector<CheckRecord>& records);

// RenderJUnit, written atomically (temporary file + rename) to `out`.
// Throws std::system_error / std::filesystem::filesystem_error on I/O errors.
void WriteJUnit(const RunInfo& run, const std::vector<CheckRecord>& records,
                const std::filesystem::path& out);

// Merges JUnit files (e.g. one per ctest process) into `out`: suites with
// the same name are joined, counts and times recomputed from the testcases.
// An input that is missing, unparsable (half-written) or not JUnit is
// skipped with a warning on stderr naming the file; the output is written
// (atomically) even if every input was skipped. Returns how many inputs
// were merged.
std::size_t MergeJUnit(const std::vector<std::filesystem::path>& inputs,
                       const std::filesystem::path& out);

}  // namespace ezone::report

#endif  // EZONE_REPORT_JUNIT_WRITER_H_
