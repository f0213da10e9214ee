// Human-facing reports: one self-contained HTML page (inline CSS, no
// scripts, no network) and a short Markdown summary for CI step summaries.
#ifndef EZONE_REPORT_HTML_REPORT_H_
#define EZONE_REPORT_HTML_REPORT_H_

#include <filesystem>
#include <string>
#include <vector>

#include "ezone/report/check_record.h"

namespace ezone::report {

// Renders the HTML page: run header and properties, the isolation matrix
// (rows = VMM, columns = fault[/variant]; cells coloured by the worst
// observed effect, with "n/m pass" counts and a marker where the policy was
// violated), a table of all checks and a <details> block per check (message,
// evidence, console excerpt, link to the console log). Console log links are
// made relative to `link_base` (the directory the page will live in) when
// it is non-empty.
std::string RenderHtml(const RunInfo& run,
                       const std::vector<CheckRecord>& records,
                       const std::filesystem::path& link_base = {});

// RenderHtml with link_base = out's directory, written atomically to `out`.
void WriteHtml(const RunInfo& run, const std::vector<CheckRecord>& records,
               const std::filesystem::path& out);

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
