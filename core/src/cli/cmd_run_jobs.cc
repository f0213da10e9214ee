// `ezone run --jobs N`: the checks as child `ezone run --check` processes,
// as many at a time as N cores and this machine's memory hold (each check's
// cost: check_cost.h), the way ctest -j runs them. Each child journals its
// check into the shared report directory; after every check the reports
// are rebuilt from those journals, so a run that dies halfway keeps what
// it finished, as a serial run does.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "check_cost.h"
#include "check_pool.h"
#include "check_runner.h"
#include "cli/commands.h"
#include "elapsed.h"
#include "ezone/report/journal.h"
#include "plugin_registry.h"
#include "suite.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;
using report::CheckRecord;
using report::Verdict;

// SIGINT and SIGTERM reach the pool as a byte on a pipe: it stops the
// children, and the reports are still written.
int g_stop_pipe[2] = {-1, -1};
volatile sig_atomic_t g_stop_signal = 0;

void OnStopSignal(int sig) {
  g_stop_signal = sig;
  char byte = 1;
  (void)!write(g_stop_pipe[1], &byte, 1);
}

std::string FileStem(const CheckSpec& spec) {
  return spec.suite + "." + spec.classname + "." + spec.name;
}

// The journal a child wrote (run-<time>-<pid>.jsonl), or nothing.
std::optional<fs::path> JournalOf(const fs::path& dir, pid_t pid) {
  const std::string suffix = "-" + std::to_string(pid) + ".jsonl";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return e.path();
    }
  }
  return std::nullopt;
}

bool HasRecord(const fs::path& journal) {
  try {
    return !report::ReadJournal(journal).records.empty();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

int CmdRunJobs(const RunOptions& opt, const std::vector<const CheckSpec*>& checks,
               const PluginRegistry& registry) {
  if (!opt.gtest_args.empty()) {
    std::cerr << "ezone: --jobs runs each check as its own `ezone run`; GoogleTest flags ("
              << opt.gtest_args.front() << ") apply to one process: pick checks with --check\n";
    return kExitBadInput;
  }
  const fs::path dir = opt.report_dir;
  const fs::path journal_dir = dir / "journal";
  fs::create_directories(journal_dir);
  fs::create_directories(dir / "junit");
  fs::create_directories(dir / "output");

  CostBudget budget{opt.jobs, 0};
  // Leave room for the runners and the page cache: 512 MiB.
  if (uint64_t available = AvailableMemoryMib(); available > 1024) {
    budget.memory_mib = available - 512;
  }
  const std::string self = SelfExe();
  std::vector<PoolJob> jobs;
  for (const CheckSpec* spec : checks) {
    PoolJob job;
    job.args = {self};
    for (const auto& d : opt.plugin_dirs) job.args.insert(job.args.end(), {"--plugin-dir", d});
    job.args.insert(job.args.end(),
                    {"run", fs::absolute(spec->file).string(), "--check", spec->id(),
                     "--report-dir", dir.string(), "--junit",
                     (dir / "junit" / (FileStem(*spec) + ".xml")).string(), "--no-html"});
    if (!opt.guest_dir.empty()) job.args.insert(job.args.end(), {"--guest-dir", opt.guest_dir});
    if (!opt.attachment_base.empty()) {
      job.args.insert(job.args.end(), {"--attachment-base", opt.attachment_base});
    }
    job.log = dir / "output" / (FileStem(*spec) + ".log");
    job.cost = CostOf(*spec, &registry);
    job.relay = true;
    jobs.push_back(std::move(job));
  }
  std::cerr << "[ezone] " << checks.size() << " checks, up to " << opt.jobs
            << " cores' worth at a time (a victim takes 1, a victim with a witness or a nested "
               "host 2; a fault that loads the host runs alone)\n";

  // This run's own journal: a check whose runner ended without recording
  // it (it could not start, or died before its journal) is recorded here.
  report::RunInfo info;
  info.name = checks.front()->suite;
  info.hostname = Hostname();
  report::JournalWriter own(journal_dir / ("run-jobs-" + std::to_string(getpid()) + ".jsonl"));
  own.RunStarted(info);
  std::vector<std::optional<fs::path>> journals(checks.size());
  size_t failed = 0, errors = 0, passed = 0, skipped = 0;

  auto rebuild = [&] {
    std::vector<fs::path> inputs;
    for (const auto& j : journals) {
      if (j) inputs.push_back(*j);
    }
    inputs.push_back(own.path());
    try {
      report::JournalContents contents = report::ReadJournals(inputs);
      report::RebuildReports(contents, opt.junit, opt.html, {}, {},
                             {dir, opt.attachment_base});
      return contents;
    } catch (const std::exception& e) {
      std::cerr << "ezone: cannot write the reports: " << e.what() << "\n";
      return report::JournalContents{};
    }
  };

  if (pipe2(g_stop_pipe, O_CLOEXEC) != 0) {
    std::cerr << "ezone: pipe: " << std::strerror(errno) << "\n";
    return kExitBadInput;
  }
  struct sigaction stop {};
  stop.sa_handler = OnStopSignal;
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &stop, &old_int);
  sigaction(SIGTERM, &stop, &old_term);

  const auto start = std::chrono::steady_clock::now();
  CheckPool pool(budget, g_stop_pipe[0]);
  pool.Run(
      jobs,
      [&](size_t i, pid_t pid) {
        std::cerr << "[ezone] " << checks[i]->id() << ": started (runner pid " << pid << ", "
                  << jobs[i].cost.why << "), output in " << jobs[i].log.string() << "\n";
      },
      [&](const PoolEnd& end) {
        const CheckSpec& spec = *checks[end.index];
        if (end.pid > 0) journals[end.index] = JournalOf(journal_dir, end.pid);
        if (!journals[end.index] || !HasRecord(*journals[end.index])) {
          // Nothing of it on record: say so, on the record.
          CheckRecord r = RecordOf(spec);
          r.verdict = Verdict::kError;
          r.message = "its runner (`ezone run --check`) exited " +
                      std::to_string(end.exit_status) + " without a verdict; its output: " +
                      jobs[end.index].log.string();
          r.seconds = end.seconds;
          own.CheckStarted(spec.suite, spec.classname, spec.name, {});
          own.CheckFinished(r);
          journals[end.index].reset();
          std::cerr << "[ezone] " << spec.id() << ": error: " << r.message << "\n";
        }
        rebuild();
      });
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  close(g_stop_pipe[0]);
  close(g_stop_pipe[1]);
  own.RunFinished();

  report::JournalContents contents = rebuild();
  for (const CheckRecord& r : contents.records) {
    switch (r.verdict) {
      case Verdict::kPass: ++passed; break;
      case Verdict::kFailure: ++failed; break;
      case Verdict::kError: ++errors; break;
      case Verdict::kSkipped: ++skipped; break;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ezone] " << contents.records.size() << " of " << checks.size() << " checks: "
            << passed << " passed, " << failed << " failed, " << errors << " errors, " << skipped
            << " skipped in " << Fmt("%.1f", seconds) << " s (--jobs " << opt.jobs << ")\n";
  if (g_stop_signal != 0) {
    std::cout << "[ezone] stopped by signal " << g_stop_signal << ": "
              << checks.size() - contents.records.size() << " checks not run\n";
  }
  std::cout << "JUnit report: " << fs::absolute(opt.junit).string() << "\n";
  if (!opt.html.empty()) std::cout << "HTML report: " << fs::absolute(opt.html).string() << "\n";
  std::cout << "Journals: " << fs::absolute(journal_dir).string() << "\n";
  if (g_stop_signal != 0) return 128 + g_stop_signal;
  if (failed + errors > 0) return 1;
  if (skipped == contents.records.size() && skipped > 0) return kExitAllSkipped;
  return 0;
}

}  // namespace ezone
