// The ezone executable: the command line (CLI11). Each subcommand lives in
// its own unit under core/src/cli/ (run, list and plugins, report and
// merge-junit), plus bench.cc, slurm_cli.cc and classify_cli.cc.
//
//   ezone run SUITE.xml [--check ID] [--jobs N] [--junit F] [--html F | --no-html] [--report-dir D]
//   ezone list SUITE.xml [--ctest-script F --report-dir D]
//   ezone plugins [--load FILE]
//   ezone report JOURNAL... --junit F [--html F] [--markdown F]
//   ezone merge-junit --out F INPUT...
//   ezone bench [--rounds N] [--parallel] [--json F]
//   ezone bench --suite FILE [--jobs N] [--vmm LABEL] [--json F]  (the whole suite, per row)
//   ezone bench --workload [--vmm LABEL] [--json DIR/performance.json]
//   ezone classify [--json] LOG...
//   ezone slurm submit|merge|status|cancel ...
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "bench.h"
#include "suite_bench.h"
#include "build_config.h"
#include "classify_cli.h"
#include "cli/commands.h"
#include "plugin_registry.h"
#include "slurm_cli.h"
#include "suite.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;

// The absolute path of this executable, for the generated ctest lines.
std::string ExecutablePath(const char* argv0) {
  std::string dir = ExecutableDir();
  return dir.empty() ? argv0 : (fs::path(dir) / fs::path(argv0).filename()).string();
}

int Main(int argc, char** argv) {
  CLI::App app{"ezone: fault-isolation checks for virtual machines"};
  app.require_subcommand(1);
  std::vector<std::string> plugin_dirs;
  app.add_option("--plugin-dir", plugin_dirs,
                 "search this directory for plugins first (repeatable; also EZONE_PLUGIN_PATH)");

  RunOptions run;
  auto* run_cmd = app.add_subcommand("run", "run the checks of suite files");
  run_cmd->add_option("suites", run.suites, "suite files")->required()->check(CLI::ExistingFile);
  run_cmd->add_option("--check", run.checks, "run only this check (Class/name), repeatable");
  run_cmd->add_option("--junit", run.junit, "JUnit XML output (default <report-dir>/junit.xml)");
  run_cmd->add_option("--html", run.html, "HTML report (default <report-dir>/report.html)");
  run_cmd->add_option("--report-dir", run.report_dir, "where reports and console logs go");
  run_cmd->add_option("--guest-dir", run.guest_dir, "guest image directory");
  run_cmd->add_option("--jobs,-j", run.jobs,
                      "run checks side by side, each its own runner, up to this many cores' "
                      "worth at a time (a check with a witness or a nested host takes 2; one "
                      "whose fault loads the host runs alone); default 1");
  run_cmd->add_flag("--no-html", run.no_html, "write no HTML report (JUnit and journal only)");
  std::string attachment_base;
  const char* kAttachmentBaseHelp =
      "write attachment paths relative to this directory (e.g. the CI workspace) instead of "
      "the JUnit file's";
  run_cmd->add_option("--attachment-base", run.attachment_base, kAttachmentBaseHelp);
  run_cmd->allow_extras();  // --gtest_* flags go to GoogleTest

  std::vector<std::string> list_suites;
  std::string ctest_script, list_report_dir = "ezone-reports/ctest";
  auto* list_cmd = app.add_subcommand("list", "list the checks of suite files (boots nothing)");
  list_cmd->add_option("suites", list_suites, "suite files")->required()->check(CLI::ExistingFile);
  list_cmd->add_option("--ctest-script", ctest_script, "write add_test() lines to this file");
  list_cmd->add_option("--report-dir", list_report_dir, "report directory of the ctest checks");

  std::vector<std::string> load;
  bool probe = false;
  auto* plugins_cmd = app.add_subcommand("plugins", "list plugins (reads descriptors only)");
  plugins_cmd->add_option("--load", load, "load exactly these plugin files");
  plugins_cmd->add_flag("--probe", probe, "also run each VMM's probe: is it available here, and if not why");

  ReportOptions report;
  auto* report_cmd = app.add_subcommand(
      "report", "rebuild JUnit, HTML and Markdown reports from journals (after a crash too)");
  report_cmd->add_option("journals", report.journals, "journal files or directories of them")
      ->required();
  report_cmd->add_option("--junit", report.junit, "JUnit output")->required();
  report_cmd->add_option("--html", report.html, "HTML output");
  report_cmd->add_option("--markdown", report.markdown, "Markdown summary output");
  report_cmd->add_option("--performance", report.performance,
                         "performance.json of `ezone bench --workload` for the HTML's continuum "
                         "chart (default: beside the HTML, else in the journals' report directory)");
  report_cmd->add_option("--attachment-base", attachment_base, kAttachmentBaseHelp);

  std::string merge_out;
  std::vector<std::string> merge_inputs;
  auto* merge_cmd = app.add_subcommand("merge-junit", "merge JUnit files into one");
  merge_cmd->add_option("--out", merge_out, "merged file")->required();
  merge_cmd->add_option("inputs", merge_inputs, "JUnit files or directories of them")->required();
  merge_cmd->add_option("--attachment-base", attachment_base, kAttachmentBaseHelp);

  BenchOptions bench;
  auto* bench_cmd = app.add_subcommand(
      "bench", "time one check next to a bare qemu boot-to-crash; checks per minute at -j1, -j2");
  auto* bench_suite = bench_cmd->add_option(
      "--suite", bench.suite,
      "suite file (default: the paper suite); alone (no --check, --rounds, --parallel): the "
      "whole suite's wall time, per row (VMM label) and against the qemu row");
  auto* bench_check = bench_cmd->add_option("--check", bench.check, "the check to time (Class/name)");
  int bench_jobs = 1;
  bench_cmd->add_option("--jobs", bench_jobs, "--suite: checks at a time (default 1)");
  auto* bench_rounds =
      bench_cmd->add_option("--rounds", bench.rounds, "bare + ezone pairs (default 5; 0: none)");
  auto* bench_parallel =
      bench_cmd->add_flag("--parallel", bench.parallel, "also checks per minute at -j1 and -j2");
  bench_cmd->add_option("--parallel-checks", bench.parallel_checks, "checks per pool (default 4)");
  bench_cmd->add_option("--json", bench.json, "also write the results as JSON here");
  bench_cmd->add_option("--guest-dir", bench.guest_dir, "guest image directory");
  bench_cmd->add_flag("--workload", bench.workload,
                      "instead: the in-guest workload (compute, memcpy, system calls) on each "
                      "VMM of the suite and natively; the overhead of each VMM");
  bench_cmd->add_option("--vmm", bench.vmm_labels,
                        "--workload: only this VMM label (qemu, kvm-libvirt-tcg, ...), repeatable");
  bench_cmd->add_option("--workload-runs", bench.workload_runs,
                        "--workload: runs per VMM and natively, medians (default 3)");
  bench_cmd->add_option("--workload-ms", bench.workload_ms,
                        "--workload: milliseconds per test and run (default 300)");
  bench_cmd->add_option("--workload-buf-mib", bench.workload_buf_mib,
                        "--workload: MiB of each memcpy buffer (default 16)");

  SlurmCli slurm_cli;
  AddSlurmCommands(app, slurm_cli);

  int classify_status = 0;
  CLI::App* classify_cmd = AddClassifyCommand(app, &classify_status);

  CLI11_PARSE(app, argc, argv);
  if (*classify_cmd) return classify_status;
  if (*slurm_cli.command) return RunSlurmCommand(slurm_cli, plugin_dirs, ExecutablePath(argv[0]));
  try {
    if (*run_cmd) {
      run.gtest_args = run_cmd->remaining();
      run.plugin_dirs = plugin_dirs;
      return CmdRun(run, argv[0]);
    }
    if (*list_cmd) return CmdList(list_suites, ctest_script, list_report_dir, ExecutablePath(argv[0]),
                                  plugin_dirs);
    if (*plugins_cmd) return CmdPlugins(load, plugin_dirs, probe);
    if (*bench_cmd) {
      bench.plugin_dirs = plugin_dirs;
      if (bench.workload) return RunWorkloadBench(bench);
      // --suite without --check, --rounds, --parallel: the whole suite, per
      // row (issue 19); otherwise the one-check bench against a bare boot,
      // as before (scripts/bench-baseline passes --rounds).
      if (bench_suite->count() > 0 && bench_check->count() == 0 && bench_rounds->count() == 0 &&
          bench_parallel->count() == 0) {
        SuiteBenchOptions suite_bench{bench.suite, bench_jobs, bench.vmm_labels, bench.json,
                                      bench.guest_dir, plugin_dirs};
        return RunSuiteBench(suite_bench);
      }
      return RunBench(bench);
    }
    if (*report_cmd) {
      report.attachment_base = attachment_base;
      return CmdReport(report);
    }
    if (*merge_cmd) return CmdMergeJUnit(merge_inputs, merge_out, attachment_base);
  } catch (const SuiteError& e) {
    std::cerr << "ezone: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const PluginLoadError& e) {
    std::cerr << "ezone: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "ezone: " << e.what() << "\n";
    return kExitBadInput;
  }
  return 0;
}

}  // namespace
}  // namespace ezone

int main(int argc, char** argv) { return ezone::Main(argc, argv); }
