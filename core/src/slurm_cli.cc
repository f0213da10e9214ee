#include "slurm_cli.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "ezone/report/journal.h"
#include "plugin_registry.h"
#include "suite.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;
using report::Verdict;

// The merge job's outcome beside the reports, for `submit --wait` and tools.
constexpr const char* kResultFile = "result.json";

std::string Join(const std::map<std::string, int>& counts) {
  std::string s;
  for (const auto& [k, v] : counts) s += (s.empty() ? "" : ", ") + std::to_string(v) + " " + k;
  return s.empty() ? "none" : s;
}

int Merge(const fs::path& dir) {
  const auto start = std::chrono::steady_clock::now();
  slurm::Campaign c = slurm::LoadCampaign(dir);
  std::map<int, slurm::TaskState> states = slurm::QueryTaskStates(c);
  slurm::MergeResult m = slurm::MergeCampaign(c, states);
  report::RebuildReports(m.contents, c.report_dir / "junit.xml", c.report_dir / "report.html",
                         c.report_dir / "summary.md");
  std::map<std::string, int> verdicts;
  for (const auto& r : m.contents.records) ++verdicts[std::string(report::VerdictName(r.verdict))];
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json result = {{"checks", m.contents.records.size()},
                           {"never_ran", m.never_ran},
                           {"interrupted", m.interrupted},
                           {"merge_seconds", seconds},
                           {"verdicts", verdicts}};
  for (const auto& [index, st] : states) {
    result["tasks"].push_back({{"index", index}, {"job_id", st.job_id}, {"state", st.state},
                               {"node", st.node}});
  }
  std::ofstream(c.report_dir / kResultFile) << result.dump(2) << "\n";
  std::cout << "merged " << m.contents.records.size() << " checks from " << c.tasks.size()
            << " tasks (" << m.interrupted << " interrupted, " << m.never_ran
            << " never ran) in " << seconds << " s: " << Join(verdicts) << "\n"
            << "JUnit report: " << (c.report_dir / "junit.xml").string() << "\n"
            << "HTML report: " << (c.report_dir / "report.html").string() << "\n"
            << "Summary: " << (c.report_dir / "summary.md").string() << "\n";
  return 0;
}

void PrintStatus(const slurm::Campaign& c, const slurm::Progress& p, std::ostream& out) {
  std::map<std::string, int> done = p.verdicts;
  int running = done.count("running") ? done["running"] : 0;
  done.erase("running");
  int finished = 0;
  for (const auto& [k, v] : done) finished += v;
  out << "campaign " << c.name << " (" << c.report_dir.string() << "): " << c.tasks.size()
      << " tasks: " << Join(p.tasks_by_state) << "; checks " << finished << " of "
      << p.checks_planned << " done (" << Join(done) << "), " << running << " running; merge job "
      << c.merge_job_id << " " << (p.merge_state.empty() ? "?" : p.merge_state) << "\n";
}

// Exit status as `ezone run` would give for the merged result.
int ExitStatusOf(const fs::path& dir) {
  std::ifstream in(dir / kResultFile);
  if (!in) {
    std::cerr << "ezone: the merge job left no " << (dir / kResultFile).string()
              << "; see " << (dir / "slurm" / "merge.out").string() << "\n";
    return 2;
  }
  nlohmann::json r = nlohmann::json::parse(in);
  auto count = [&](const char* v) { return r["verdicts"].value(v, 0); };
  std::cout << "merged report: " << r.value("checks", 0) << " checks: " << r["verdicts"].dump()
            << "\nJUnit report: " << (dir / "junit.xml").string()
            << "\nHTML report: " << (dir / "report.html").string() << "\n";
  if (count("failure") + count("error") > 0) return 1;
  if (count("pass") == 0 && count("skipped") > 0) return 77;
  return 0;
}

int Submit(SlurmCli& cli, const std::vector<std::string>& plugin_dirs, const std::string& self) {
  std::vector<Suite> suites;
  for (const auto& file : cli.options.suites) suites.push_back(LoadSuite(file));  // throws
  PluginRegistry registry;
  registry.Discover(DefaultPluginDirs(plugin_dirs));  // descriptors only
  slurm::SubmitOptions o = cli.options;
  o.ezone = self;
  for (const auto& d : plugin_dirs) {
    o.global_args.push_back("--plugin-dir");
    o.global_args.push_back(fs::absolute(d).string());
  }
  if (!cli.guest_dir.empty()) {
    o.run_args.push_back("--guest-dir");
    o.run_args.push_back(fs::absolute(cli.guest_dir).string());
  }
  const auto start = std::chrono::steady_clock::now();
  slurm::Campaign c = slurm::Submit(o, suites, registry);
  std::cout << "campaign " << c.name << ": " << c.checks.size() << " checks in " << c.tasks.size()
            << (c.each_node ? " jobs, one per node" : " tasks") << "\n"
            << "task script: " << (c.report_dir / "ezone-task.sbatch").string() << "\n"
            << "merge script: " << (c.report_dir / "ezone-merge.sbatch").string() << "\n";
  if (o.no_submit) {
    std::cout << "not submitted (--no-submit)\n";
    return 0;
  }
  std::string jobs = c.array_job_id;
  for (const auto& t : c.tasks) {
    if (c.each_node) jobs += (jobs.empty() ? "" : " ") + t.job_id + "@" + t.node;
  }
  std::cout << (c.each_node ? "jobs: " : "job array: ") << jobs << "\nmerge job: "
            << c.merge_job_id << " (afterany)\nprogress: ezone slurm status " << c.report_dir.string()
            << "\nreports, once the merge job ends: " << (c.report_dir / "report.html").string()
            << "\n"
            << std::flush;
  if (!cli.wait) return 0;
  std::string last;
  for (;;) {
    std::string state;
    bool done = slurm::MergeJobDone(c, &state);
    std::ostringstream line;
    PrintStatus(c, slurm::CampaignProgress(c), line);
    if (line.str() != last) std::cerr << "[ezone slurm] " << line.str() << std::flush;
    last = line.str();
    if (done) break;
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  std::cout << "campaign wall time: "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s\n";
  return ExitStatusOf(c.report_dir);
}

}  // namespace

void AddSlurmCommands(CLI::App& app, SlurmCli& cli) {
  cli.command = app.add_subcommand("slurm", "campaigns on a Slurm cluster (docs/slurm.md)");
  cli.command->require_subcommand(1);

  auto& o = cli.options;
  cli.submit = cli.command->add_subcommand(
      "submit", "submit a job array running a share of the checks each, and a merge job");
  cli.submit->add_option("suites", o.suites, "suite files")->required()->check(CLI::ExistingFile);
  cli.submit->add_option("--report-dir", o.report_dir,
                         "the campaign's directory, on a filesystem every node sees")
      ->required();
  cli.submit->add_option("--tasks", o.tasks, "array tasks (default: one per check, at most 16)");
  cli.submit->add_option("--partition,-p", o.partition, "sbatch --partition");
  cli.submit->add_option("--account,-A", o.account, "sbatch --account");
  cli.submit->add_option("--time,-t", o.time, "sbatch --time of each task");
  cli.submit->add_option("--array-throttle", o.throttle,
                         "at most N tasks at once (sbatch --array=...%N)");
  cli.submit->add_flag("--exclusive", o.exclusive, "sbatch --exclusive: nodes to the task alone");
  cli.submit->add_option("--sbatch-arg", o.sbatch_args,
                         "another sbatch option, e.g. --sbatch-arg=--qos=debug (repeatable)");
  cli.submit->add_option("--each-node", o.each_node,
                         "a partition or node list: one job per node running every check "
                         "with that node as the host under test");
  cli.submit->add_option("--guest-dir", cli.guest_dir, "guest image directory for the tasks");
  cli.submit->add_flag("--no-submit", o.no_submit, "write the scripts and campaign.json only");
  cli.submit->add_flag("--wait", cli.wait,
                       "wait for the merge job, print progress, exit as `ezone run` would");

  cli.merge = cli.command->add_subcommand(
      "merge", "build junit.xml, report.html, summary.md from the tasks (the merge job runs it)");
  cli.merge->add_option("dir", cli.target, "campaign directory")->required();

  cli.status = cli.command->add_subcommand("status", "progress of a campaign");
  cli.status->add_option("campaign", cli.target, "a job id of it, or its directory")->required();

  cli.cancel = cli.command->add_subcommand(
      "cancel", "cancel a campaign's tasks; the merge job then reports what they left undone");
  cli.cancel->add_option("campaign", cli.target, "a job id of it, or its directory")->required();
  cli.cancel->add_flag("--all", cli.cancel_merge, "cancel the merge job too (no report)");
}

int RunSlurmCommand(SlurmCli& cli, const std::vector<std::string>& plugin_dirs,
                    const std::string& self) {
  try {
    if (*cli.submit) return Submit(cli, plugin_dirs, self);
    if (*cli.merge) return Merge(cli.target);
    fs::path dir = slurm::FindCampaignDir(cli.target);
    slurm::Campaign c = slurm::LoadCampaign(dir);
    if (*cli.status) {
      PrintStatus(c, slurm::CampaignProgress(c), std::cout);
      return 0;
    }
    if (*cli.cancel) {
      std::vector<std::string> ids = slurm::Cancel(c, cli.cancel_merge);
      std::cout << "cancelled";
      for (const auto& id : ids) std::cout << " " << id;
      std::cout << (cli.cancel_merge ? "\n" : "\nthe merge job reports the cancelled checks\n");
      return 0;
    }
  } catch (const SuiteError& e) {
    std::cerr << "ezone: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "ezone slurm: " << e.what() << "\n";
  }
  return 2;
}

}  // namespace ezone
