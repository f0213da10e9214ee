// Human-facing reports: one self-contained HTML page (inline CSS, no
// scripts, no network) and a short Markdown summary for CI step summaries.
#ifndef EZONE_REPORT_HTML_REPORT_H_
#define EZONE_REPORT_HTML_REPORT_H_

#include <filesystem>
#include <string>
#include <vector>

#include "ezone/report/check_record.h"
#include "ezone/report/performance.h"

namespace ezone::report {

// Renders the HTML page: run header and properties, the isolation matrix
// (rows = VMM, columns = fault[/variant]; cells coloured by the worst
// observed effect, with "n/m pass" counts and a marker where the policy was
// violated), a table of all checks and a <details> block per check (message,
// evidence, console excerpt, link to the console log). Console log links are
// made relative to `link_base` (the directory the page will live in) when
// it is non-empty. After the matrix comes the isolation/performance
// continuum (the paper's Figure 4): one point per VMM label, x = its speed
// relative to native from `performance`, y = the share of its checks whose
// fault stayed contained (IsolationByVmm). Without `performance` the section
// says that no figures were measured, and draws nothing.
std::string RenderHtml(const RunInfo& run,
                       const std::vector<CheckRecord>& records,
                       const std::filesystem::path& link_base = {},
                       const PerformanceData* performance = nullptr);

// RenderHtml with link_base = out's directory, written atomically to `out`,
// of the records with their console logs placed for `out` as WriteJUnit
// places them (PlaceAttachments with `report_dir`): the page links the same
// files the JUnit file attaches. The performance figures come from
// `performance_file`, or, when that is empty, from performance.json beside
// `out` if there is one.
void WriteHtml(const RunInfo& run, const std::vector<CheckRecord>& records,
               const std::filesystem::path& out,
               const std::filesystem::path& performance_file = {},
               const std::filesystem::path& report_dir = {});

// A short GitHub-flavoured Markdown summary: totals, the matrix, and the
// checks that did not pass. Suitable for appending to $GITHUB_STEP_SUMMARY
// (use RenderMarkdownSummary and append; WriteMarkdownSummary replaces).
std::string RenderMarkdownSummary(const RunInfo& run,
                                  const std::vector<CheckRecord>& records);

// RenderMarkdownSummary, written atomically to `out`.
void WriteMarkdownSummary(const RunInfo& run,
                          const std::vector<CheckRecord>& records,
                          const std::filesystem::path& out);

}  // namespace ezone::report

#endif  // EZONE_REPORT_HTML_REPORT_H_
