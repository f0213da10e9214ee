// `ezone classify [--json] LOG...`: the crash report parser (crash_report.h)
// on any console log, a file or `-` for standard input. Kept apart from
// main.cc like slurm_cli.h. docs/crash-detection.md documents the output.
#ifndef EZONE_CLASSIFY_CLI_H_
#define EZONE_CLASSIFY_CLI_H_

#include <CLI/CLI.hpp>
#include <iosfwd>
#include <string>
#include <vector>

namespace ezone {

// Adds the `classify` subcommand to `app`. When it is chosen, its callback
// runs during app.parse() and stores its exit status in *exit_code (which
// must outlive the parse): 0 no crash in any log, 1 a crash in at least one,
// 2 a log could not be read (named on stderr; the others are still read).
// Returns the subcommand, for `if (*cmd) return *exit_code;` after the parse.
CLI::App* AddClassifyCommand(CLI::App& app, int* exit_code);

// The command itself, without CLI11: classifies each log and prints to
// `out` (errors to `err`). Returns the exit status above.
int RunClassify(const std::vector<std::string>& logs, bool json, std::ostream& out,
                std::ostream& err);

}  // namespace ezone

#endif  // EZONE_CLASSIFY_CLI_H_
