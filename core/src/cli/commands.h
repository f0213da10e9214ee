// The subcommands of the `ezone` executable, one unit each (core/src/cli/):
// main.cc builds the command line with CLI11 and calls one of these.
#ifndef EZONE_CORE_CLI_COMMANDS_H_
#define EZONE_CORE_CLI_COMMANDS_H_

#include <string>
#include <vector>

namespace ezone {

// Exit codes of every subcommand: 0 all good, 1 a failure or error among the
// checks, 2 bad input (a malformed suite, an unknown plugin, a missing file),
// 77 all skipped (ctest's SKIP_RETURN_CODE).
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitAllSkipped = 77;

struct RunOptions {
  std::vector<std::string> suites;
  std::vector<std::string> checks;
  std::string junit, html, report_dir, guest_dir, attachment_base;
  std::vector<std::string> gtest_args;
  std::vector<std::string> plugin_dirs;
  int jobs = 1;          // > 1: checks as child processes, this many cores' worth at a time
  bool no_html = false;  // no HTML report (ctest's and --jobs' per-check runners)
};
// `ezone run`: every check a GoogleTest test (cmd_run.cc).
int CmdRun(RunOptions opt, const char* argv0);

// This machine's name, for the reports (cmd_run.cc).
std::string Hostname();

class PluginRegistry;
struct CheckSpec;
// `ezone run --jobs N` (cmd_run_jobs.cc): `checks` (chosen and validated by
// CmdRun, report_dir and junit set) as child runners.
int CmdRunJobs(const RunOptions& opt, const std::vector<const CheckSpec*>& checks,
               const PluginRegistry& registry);

// `ezone list`: the checks, or add_test() lines for ctest (cmd_list.cc).
int CmdList(const std::vector<std::string>& suites, const std::string& script,
            const std::string& report_dir, const std::string& self,
            const std::vector<std::string>& plugin_dirs);

// `ezone plugins` (cmd_list.cc).
int CmdPlugins(const std::vector<std::string>& load, const std::vector<std::string>& plugin_dirs,
               bool probe);

struct ReportOptions {
  std::vector<std::string> journals;
  std::string junit, html, markdown, performance, attachment_base;
};
// `ezone report`: the reports again from journals (cmd_report.cc).
int CmdReport(const ReportOptions& opt);

// `ezone merge-junit` (cmd_report.cc).
int CmdMergeJUnit(const std::vector<std::string>& inputs, const std::string& out,
                  const std::string& attachment_base);

}  // namespace ezone

#endif  // EZONE_CORE_CLI_COMMANDS_H_
