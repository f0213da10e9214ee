// The ezone executable. GoogleTest is the runner: every check of a suite is
// registered as a test at run time (its name comes from the suite file), so
// gtest's filters, repeat and output work as usual; the verdicts go to our own
// JUnit and HTML writers, which know error from failure.
//
//   ezone run SUITE.xml [--check ID] [--junit F] [--html F] [--report-dir D]
//   ezone list SUITE.xml [--ctest-script F --report-dir D]
//   ezone plugins [--load FILE]
//   ezone merge-junit --out F INPUT...
//   ezone bench [--rounds N] [--parallel] [--json F]
//   ezone bench --workload [--vmm LABEL] [--json DIR/performance.json]
//   ezone slurm submit|merge|status|cancel ...   (slurm_cli.cc)
#include <gtest/gtest.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "bench.h"
#include "build_config.h"
#include "check_runner.h"
#include "ezone/report/html_report.h"
#include "ezone/report/journal.h"
#include "ezone/report/junit_writer.h"
#include "plugin_registry.h"
#include "slurm.h"
#include "slurm_cli.h"
#include "suite.h"
#include "verdict.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;
using report::CheckRecord;
using report::Verdict;

// Exit code ctest reads as "skipped" (SKIP_RETURN_CODE).
constexpr int kExitAllSkipped = 77;

std::string Hostname() {
  char name[256] = {0};
  gethostname(name, sizeof name - 1);
  return name;
}

std::string IsoNow() {
  std::time_t t = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", std::localtime(&t));
  return text;
}

// Collects verdicts: each is appended to the journal (flushed to disk) before
// anything else, and the reports are rewritten after every check, so a run
// that dies halfway, or takes its host down, keeps what it finished.
class Campaign {
 public:
  Campaign(report::RunInfo info, fs::path junit, fs::path html, fs::path journal,
           report::AttachmentOptions attachments)
      : info_(std::move(info)), junit_(std::move(junit)), html_(std::move(html)),
        journal_(std::move(journal)), attachments_(std::move(attachments)) {
    journal_.RunStarted(info_);
  }
  ~Campaign() { journal_.RunFinished(); }

  report::JournalWriter& journal() { return journal_; }

  void Record(CheckRecord record) {
    journal_.CheckFinished(record);
    records_.push_back(std::move(record));
    try {
      // Console logs: relative paths from each report, copied beside it when
      // it lies outside the report directory.
      if (!junit_.empty()) report::WriteJUnit(info_, records_, junit_, attachments_);
      if (!html_.empty()) report::WriteHtml(info_, records_, html_, {}, attachments_.report_dir);
    } catch (const std::exception& e) {
      std::cerr << "ezone: cannot write the reports: " << e.what() << "\n";
    }
  }
  const std::vector<CheckRecord>& records() const { return records_; }

 private:
  report::RunInfo info_;
  fs::path junit_, html_;
  report::JournalWriter journal_;
  report::AttachmentOptions attachments_;
  std::vector<CheckRecord> records_;
};

// Progress for people: on a terminal one live line per check that is
// rewritten as the check moves on; otherwise (CI logs) one plain line per step.
class Progress {
 public:
  Progress() : tty_(isatty(STDERR_FILENO)), start_(std::chrono::steady_clock::now()) {}

  void Step(const CheckSpec& spec, const std::string& what) {
    double t = Seconds();
    char line[600];
    snprintf(line, sizeof line, "[ezone %7.2fs] %s: %s", t, spec.id().c_str(), what.c_str());
    if (tty_) {
      std::string text = line;
      if (text.size() > 150) text = text.substr(0, 147) + "...";
      std::cerr << "\r\033[K" << text << std::flush;
    } else {
      std::cerr << line << "\n" << std::flush;
    }
  }
  void Verdict(const std::string& text) {
    if (tty_) std::cerr << "\r\033[K";
    std::cerr << text << std::flush;
  }

 private:
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  bool tty_;
  std::chrono::steady_clock::time_point start_;
};

// One check as a GoogleTest test: value-parameterized by its CheckSpec.
class CheckTest : public testing::Test {
 public:
  CheckTest(const CheckSpec* spec, RunEnvironment* env, Campaign* campaign, Progress* progress)
      : spec_(spec), env_(env), campaign_(campaign), progress_(progress) {}

  void TestBody() override {
    // Inside a Slurm task: the node and job, for the merged report.
    const std::map<std::string, std::string> slurm_props = slurm::TaskProperties();
    std::map<std::string, std::string> fields = {
        {"vmm", spec_->vmm_label}, {"fault", spec_->fault}, {"variant", spec_->variant},
        {"policy", spec_->policy}, {"suite_file", spec_->where()},
        {"console_log_path", ConsoleLogPath(env_->report_dir, *spec_).string()}};
    fields.insert(slurm_props.begin(), slurm_props.end());
    campaign_->journal().CheckStarted(spec_->suite, spec_->classname, spec_->name, fields);
    CheckRecord r = RunCheck(*spec_, *env_);
    r.properties.insert(slurm_props.begin(), slurm_props.end());
    Verdict verdict = r.verdict;
    std::string message = r.message;
    std::string effect = r.effect.empty() ? "n/a" : r.effect;
    std::string evidence;
    for (const auto& e : r.evidence) evidence += "  " + e + "\n";
    char line[512];
    std::string why = verdict == Verdict::kPass ? "" : ": " + message.substr(0, 300);
    snprintf(line, sizeof line, "[ezone] %s: %s (effect %s) in %.2f s%s\n", spec_->id().c_str(),
             std::string(report::VerdictName(verdict)).c_str(), effect.c_str(), r.seconds,
             why.c_str());
    progress_->Verdict(line);
    campaign_->Record(std::move(r));
    switch (verdict) {
      case Verdict::kPass:
        SUCCEED() << message;
        break;
      case Verdict::kFailure:
        ADD_FAILURE() << "FAILURE (isolation violated): " << message << "\nevidence:\n" << evidence;
        break;
      case Verdict::kError:
        ADD_FAILURE() << "ERROR (the check could not be carried out): " << message
                      << "\nevidence:\n" << evidence;
        break;
      case Verdict::kSkipped:
        GTEST_SKIP() << message;
    }
  }

 private:
  const CheckSpec* spec_;
  RunEnvironment* env_;
  Campaign* campaign_;
  Progress* progress_;
};

std::string ZoneLabel(const PluginRegistry& registry, const CheckSpec& c) {
  const Plugin* fault = registry.FindFault(c.fault);
  const ezone_fault_variant* v = fault ? fault->FindVariant(c.variant) : nullptr;
  return v ? "zone" + std::to_string(static_cast<int>(v->zone)) : "zone-unknown";
}

std::string CMakeQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '$' || c == ';') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Writes add_test() lines for ctest: one test per check, each its own
// process with its own JUnit file (merged by the ezone_reports fixture).
void WriteCTestScript(const Suite& suite, const PluginRegistry& registry,
                      const fs::path& script, const fs::path& report_dir,
                      const std::string& self, const std::vector<std::string>& plugin_dirs) {
  std::string plugin_args;
  for (const auto& d : plugin_dirs) plugin_args += " --plugin-dir " + CMakeQuote(d);
  std::ofstream out(script.string() + ".tmp");
  out << "# Generated by: ezone list " << suite.file.string() << " --ctest-script\n";
  for (const CheckSpec& c : suite.checks) {
    std::string test = c.suite + ":" + c.id();
    fs::path junit = report_dir / "junit" / (c.suite + "." + c.classname + "." + c.name + ".xml");
    out << "add_test(" << CMakeQuote(test) << " " << CMakeQuote(self) << plugin_args << " run "
        << CMakeQuote(fs::absolute(suite.file).string()) << " --check " << CMakeQuote(c.id())
        << " --junit " << CMakeQuote(junit.string()) << " --report-dir "
        << CMakeQuote(report_dir.string()) << ")\n";
    std::vector<std::string> label_list = {c.suite, c.vmm, ZoneLabel(registry, c)};
    if (c.vmm_label != c.vmm) label_list.push_back(c.vmm_label);
    for (const auto& l : c.labels) {
      if (std::find(label_list.begin(), label_list.end(), l) == label_list.end()) label_list.push_back(l);
    }
    std::string labels;
    for (const auto& l : label_list) labels += (labels.empty() ? "" : ";") + l;
    long timeout = (c.boot_timeout + c.observe_timeout).count() / 1000 + 60;
    std::string extra;
    if (c.host == "nested") {
      // The nested host has twice the boot timeout, and its two emulated
      // CPUs keep both of this machine's cores busy: it runs alone.
      timeout += 2 * c.boot_timeout.count() / 1000;
      // Room for RunCheck's one rerun on a fresh nested host.
      timeout *= 2;
      labels += ";nested-host";
      extra = " PROCESSORS 2";
    }
    // Labels are a CMake list: their ';' separators must stay unescaped.
    out << "set_tests_properties(" << CMakeQuote(test) << " PROPERTIES LABELS \""
        << labels << "\" SKIP_RETURN_CODE " << kExitAllSkipped << " TIMEOUT "
        << timeout << extra << " FIXTURES_REQUIRED ezone_reports)\n";
  }
  out.close();
  fs::rename(script.string() + ".tmp", script);
}

int CmdList(const std::vector<std::string>& suites, const std::string& script,
            const std::string& report_dir, const std::string& self,
            const std::vector<std::string>& plugin_dirs) {
  PluginRegistry registry;
  registry.Discover(DefaultPluginDirs(plugin_dirs));  // descriptors only, nothing runs
  for (const auto& file : suites) {
    Suite suite = LoadSuite(file);
    if (!script.empty()) {
      WriteCTestScript(suite, registry, script, report_dir, self, plugin_dirs);
      continue;
    }
    for (const CheckSpec& c : suite.checks) {
      std::cout << c.id() << "  [" << c.suite << ", " << ZoneLabel(registry, c) << ", policy "
                << c.policy << "]  " << c.where() << "\n";
    }
  }
  return 0;
}

int CmdPlugins(const std::vector<std::string>& load, const std::vector<std::string>& plugin_dirs,
               bool probe) {
  PluginRegistry registry;
  if (load.empty()) {
    registry.Discover(DefaultPluginDirs(plugin_dirs));
  } else {
    for (const auto& file : load) registry.Add(LoadPlugin(file));  // throws
  }
  for (const Plugin& p : registry.plugins()) {
    const auto* d = p.descriptor;
    std::cout << (p.is_vmm() ? "vmm   " : "fault ") << d->name << " " << d->version << "  "
              << (d->summary ? d->summary : "") << "\n    " << p.path.string() << "\n";
    if (probe && p.is_vmm()) {
      // Runs the plugin's probe: only on request, listing alone must not.
      char msg[1024] = {0};
      ezone_status status = d->vmm->probe("", msg, sizeof msg);
      std::cout << "    " << (status == EZONE_OK ? "available here"
                              : status == EZONE_DECLINED ? std::string("not available: ") + msg
                                                         : std::string("probe failed: ") + msg)
                << "\n";
    }
    for (size_t i = 0; p.is_fault() && i < d->variant_count; ++i) {
      std::cout << "    " << d->variants[i].name << " (" << ZoneName(d->variants[i].zone)
                << "): " << (d->variants[i].summary ? d->variants[i].summary : "") << "\n";
    }
  }
  for (const auto& e : registry.load_errors()) std::cerr << "ezone: " << e << "\n";
  return registry.load_errors().empty() ? 0 : 1;
}

struct RunOptions {
  std::vector<std::string> suites;
  std::vector<std::string> checks;
  std::string junit, html, report_dir, guest_dir, attachment_base;
  std::vector<std::string> gtest_args;
  std::vector<std::string> plugin_dirs;
};

int CmdRun(RunOptions opt, const char* argv0) {
  std::vector<Suite> suites;
  for (const auto& file : opt.suites) suites.push_back(LoadSuite(file));  // throws SuiteError

  std::string stamp = IsoNow();
  for (char& c : stamp) if (c == ':') c = '-';
  if (opt.report_dir.empty()) opt.report_dir = "ezone-reports/" + suites.front().name + "-" + stamp;
  fs::create_directories(opt.report_dir);
  if (opt.junit.empty()) opt.junit = (fs::path(opt.report_dir) / "junit.xml").string();
  if (opt.html.empty()) {
    opt.html = (fs::path(opt.report_dir) / "report.html").string();
  }

  PluginRegistry registry;
  registry.Discover(DefaultPluginDirs(opt.plugin_dirs));
  for (const auto& e : registry.load_errors()) std::cerr << "ezone: warning: " << e << "\n";

  RunEnvironment env;
  env.registry = &registry;
  env.image = GuestImage::Locate(opt.guest_dir);
  // Plugins whose probe boots a guest (kvm) use the image the core chose.
  if (env.image.missing.empty()) {
    setenv("EZONE_GUEST_DIR", env.image.kernel.parent_path().c_str(), /*overwrite=*/0);
  }
  env.report_dir = opt.report_dir;
  Progress progress;
  report::JournalWriter* journal = nullptr;
  env.progress = [&progress, &journal](const CheckSpec& spec, const std::string& what) {
    progress.Step(spec, what);
    // Every step is in the journal before the check moves on: a runner
    // killed now is reported as interrupted during this step.
    if (journal) journal->CheckPhase(spec.classname, spec.name, what);
  };

  report::RunInfo info;
  info.name = suites.front().name;
  info.hostname = Hostname();
  info.timestamp = IsoNow();
  info.properties["ezone_version"] = kEzoneVersion;
  for (const auto& [k, v] : env.image.properties) info.properties[k] = v;
  // One journal per process: ctest runs every check as its own process.
  fs::path journal_file = fs::path(opt.report_dir) / "journal" /
                          ("run-" + stamp + "-" + std::to_string(getpid()) + ".jsonl");
  Campaign campaign(info, opt.junit, opt.html, journal_file,
                    {opt.report_dir, opt.attachment_base});
  journal = &campaign.journal();

  // Register the checks as tests before InitGoogleTest parses the filter.
  for (const Suite& suite : suites) {
    for (const CheckSpec& spec : suite.checks) {
      if (!opt.checks.empty() &&
          std::find(opt.checks.begin(), opt.checks.end(), spec.id()) == opt.checks.end()) {
        continue;
      }
      testing::RegisterTest(spec.classname.c_str(), spec.name.c_str(), nullptr, nullptr,
                            spec.file.c_str(), spec.line,
                            [&spec, &env, &campaign, &progress]() -> testing::Test* {
                              return new CheckTest(&spec, &env, &campaign, &progress);
                            });
    }
  }
  size_t selected = 0;
  for (const Suite& suite : suites) {
    for (const CheckSpec& spec : suite.checks) {
      selected += opt.checks.empty() ||
                  std::find(opt.checks.begin(), opt.checks.end(), spec.id()) != opt.checks.end();
    }
  }
  if (selected == 0) {
    std::cerr << "ezone: no check matches";
    for (const auto& c : opt.checks) std::cerr << " '" << c << "'";
    std::cerr << " in " << opt.suites.front() << "\n";
    return 2;
  }

  std::vector<std::string> gargs = {argv0};
  for (auto& a : opt.gtest_args) gargs.push_back(a);
  std::vector<char*> gargv;
  for (auto& a : gargs) gargv.push_back(a.data());
  int gargc = static_cast<int>(gargv.size());
  testing::InitGoogleTest(&gargc, gargv.data());
  int rc = RUN_ALL_TESTS();

  size_t skipped = 0;
  for (const auto& r : campaign.records()) skipped += r.verdict == Verdict::kSkipped;
  std::cout << "JUnit report: " << fs::absolute(opt.junit).string() << "\n";
  if (!opt.html.empty()) std::cout << "HTML report: " << fs::absolute(opt.html).string() << "\n";
  std::cout << "Journal: " << fs::absolute(journal_file).string() << "\n";
  if (rc == 0 && !campaign.records().empty() && skipped == campaign.records().size()) {
    return kExitAllSkipped;
  }
  return rc;
}

// The performance figures `ezone report` draws the continuum chart from: the
// one asked for, else performance.json beside the HTML page, else in the
// report directory the journals belong to (<dir>/journal/*.jsonl).
fs::path PerformanceFileFor(const std::vector<std::string>& journals, const std::string& html,
                            const std::string& asked) {
  if (!asked.empty() || html.empty()) return asked;
  std::error_code ec;
  fs::path beside = fs::absolute(html, ec).parent_path() / report::kPerformanceFileName;
  if (fs::exists(beside, ec)) return beside;
  for (const auto& input : journals) {
    fs::path dir = fs::absolute(input, ec);
    if (!fs::is_directory(dir, ec)) dir = dir.parent_path();
    for (const fs::path& candidate : {dir, dir.parent_path()}) {
      if (fs::exists(candidate / report::kPerformanceFileName, ec)) {
        return candidate / report::kPerformanceFileName;
      }
    }
  }
  return {};
}

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

  std::vector<std::string> report_inputs;
  std::string report_junit, report_html, report_md;
  auto* report_cmd = app.add_subcommand(
      "report", "rebuild JUnit, HTML and Markdown reports from journals (after a crash too)");
  report_cmd->add_option("journals", report_inputs, "journal files or directories of them")
      ->required();
  report_cmd->add_option("--junit", report_junit, "JUnit output")->required();
  report_cmd->add_option("--html", report_html, "HTML output");
  report_cmd->add_option("--markdown", report_md, "Markdown summary output");
  std::string report_performance;
  report_cmd->add_option("--performance", report_performance,
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
  bench_cmd->add_option("--suite", bench.suite, "suite file (default: the paper suite)");
  bench_cmd->add_option("--check", bench.check, "the check to time (Class/name)");
  bench_cmd->add_option("--rounds", bench.rounds, "bare + ezone pairs (default 5; 0: none)");
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

  CLI11_PARSE(app, argc, argv);
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
      return bench.workload ? RunWorkloadBench(bench) : RunBench(bench);
    }
    if (*report_cmd) {
      if (!report_performance.empty() && !fs::exists(report_performance)) {
        std::cerr << "ezone: --performance " << report_performance << ": no such file\n";
        return 2;
      }
      std::vector<fs::path> inputs(report_inputs.begin(), report_inputs.end());
      report::JournalContents contents = report::ReadJournals(inputs);
      fs::path performance = PerformanceFileFor(report_inputs, report_html, report_performance);
      report::RebuildReports(contents, report_junit, report_html, report_md, performance,
                             {{}, attachment_base});
      std::cout << "rebuilt " << contents.records.size() << " checks ("
                << contents.interrupted << " interrupted) from the journal\n"
                << "JUnit report: " << fs::absolute(report_junit).string() << "\n";
      if (!report_html.empty()) {
        std::cout << "HTML report: " << fs::absolute(report_html).string() << "\n"
                  << "performance figures: "
                  << (performance.empty() ? std::string("none (no performance.json found)")
                                          : fs::absolute(performance).string())
                  << "\n";
      }
      return 0;
    }
    if (*merge_cmd) {
      std::vector<fs::path> inputs;
      for (const auto& in : merge_inputs) {
        if (fs::is_directory(in)) {
          for (const auto& e : fs::directory_iterator(in)) {
            if (e.path().extension() == ".xml") inputs.push_back(e.path());
          }
        } else {
          inputs.emplace_back(in);
        }
      }
      std::sort(inputs.begin(), inputs.end());
      size_t merged = report::MergeJUnit(inputs, merge_out, {{}, attachment_base});
      std::cout << "merged " << merged << " of " << inputs.size() << " JUnit files\n"
                << "JUnit report: " << fs::absolute(merge_out).string() << "\n";
      return 0;
    }
  } catch (const SuiteError& e) {
    std::cerr << "ezone: " << e.what() << "\n";
    return 2;
  } catch (const PluginLoadError& e) {
    std::cerr << "ezone: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "ezone: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

}  // namespace
}  // namespace ezone

int main(int argc, char** argv) { return ezone::Main(argc, argv); }
