// JUnit XML in the Jenkins xUnit "junit-10" dialect (the schema in
// shared/schemas/junit-10.xsd), which GitLab, GitHub test reporters and
// Jenkins all read.
#ifndef EZONE_REPORT_JUNIT_WRITER_H_
#define EZONE_REPORT_JUNIT_WRITER_H_

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "ezone/report/attachments.h"
#include "ezone/report/check_record.h"

namespace ezone::report {

// The testcase classname of a record: "<suite>.<classname>" (Jenkins shows
// it as package and class), so that the same check in two suites stays two
// tests in every consumer, which key tests by classname + name. Stable
// across runs: it depends on the suite file only.
std::string JUnitClassname(const CheckRecord& record);

// Renders the records as a <testsuites> document named RunTitle(): one
// <testsuite> per distinct CheckRecord::suite (in order of first
// appearance), one <testcase> per record (in input order), classname
// JUnitClassname(). A record whose classname + name an earlier one already
// has (a rerun in the same journal, --gtest_repeat) is named "<name> #2",
// "#3"..., so that classname + name is unique in the file. The schema allows
// no per-testcase <properties>, so a check's
// zone/vmm/fault/variant/policy/effect/timings and its properties map are
// `key=value` lines in its <system-out>, after the console excerpt and one
// `[[ATTACHMENT|<path>]]` line per console log (console_log_path and the
// console log properties, written as the records have them: WriteJUnit
// makes them relative); the RunInfo properties go into each suite's
// <properties>. A skipped case's time leaves out timing.probe. All text is
// sanitised (SanitizeForXml) and console excerpts are capped
// (kMaxExcerptBytes).
std::string RenderJUnit(const RunInfo& run,
                        const std::vector<CheckRecord>& records);

// RenderJUnit of the records with their attachments placed for `out`
// (PlaceAttachments: relative paths that resolve from out's directory, or
// from options.base), written atomically (temporary file + rename).
// Throws std::system_error / std::filesystem::filesystem_error on I/O errors.
void WriteJUnit(const RunInfo& run, const std::vector<CheckRecord>& records,
                const std::filesystem::path& out,
                const AttachmentOptions& attachments = {});

// Merges JUnit files (e.g. one per ctest process) into `out`: suites with
// the same name are joined (nested suites flattened, without recursion),
// counts and times recomputed from the testcases, every text sanitised
// again (an input may hold control characters as character references),
// a testcase whose classname + name is already in the output renamed
// "<name> #2"..., and the attachments of each input (ATTACHMENT lines and
// console log properties in <system-out>, relative to that input's
// directory) placed for `out` as WriteJUnit does. The root is named after
// the inputs' root (or, holding several suites, after them: RunTitle). An
// input that is missing, unparsable (half-written) or not JUnit is skipped
// with a warning on stderr naming the file; the output is written
// (atomically) even if every input was skipped. Returns how many inputs
// were merged.
std::size_t MergeJUnit(const std::vector<std::filesystem::path>& inputs,
                       const std::filesystem::path& out,
                       const AttachmentOptions& attachments = {});

}  // namespace ezone::report

#endif  // EZONE_REPORT_JUNIT_WRITER_H_
