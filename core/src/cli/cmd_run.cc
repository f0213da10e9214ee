// `ezone run`: GoogleTest is the runner. Every check of the suites is
// registered as a test at run time (its name comes from the suite file), so
// gtest's filters, repeat and output work as usual. Reporting is a
// GoogleTest listener (gtest's own seam for output): it journals each check
// as it starts, and records the verdict, rewriting JUnit and HTML, as it ends.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "build_config.h"
#include "check_runner.h"
#include "cli/commands.h"
#include "elapsed.h"
#include "ezone/report/html_report.h"
#include "ezone/report/journal.h"
#include "ezone/report/junit_writer.h"
#include "ezone/report/sanitize.h"
#include "plugin_registry.h"
#include "progress.h"
#include "slurm.h"
#include "suite.h"
#include "suite_plugins.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;
using report::CheckRecord;
using report::Verdict;

// Progress for people: on a terminal one live line per check that is
// rewritten as the check moves on; otherwise (CI logs) one plain line per step.
class ProgressPrinter {
 public:
  ProgressPrinter() : tty_(isatty(STDERR_FILENO)), start_(std::chrono::steady_clock::now()) {}

  void Step(const CheckSpec& spec, const ProgressEvent& event) {
    char line[600];
    snprintf(line, sizeof line, "[ezone %7.2fs] %s: %s", Seconds(), spec.id().c_str(),
             DescribeProgress(event).c_str());
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

// The verdict of the test in flight, handed from the test body to the
// listener (gtest runs one test at a time in this process).
struct Outcome {
  std::optional<CheckRecord> record;
};

// The reporting listener: each verdict is appended to the journal (flushed
// to disk) before anything else, and the reports are rewritten after every
// check, so a run that dies halfway, or takes its host down, keeps what it
// finished.
class ReportListener : public testing::EmptyTestEventListener {
 public:
  ReportListener(report::RunInfo info, fs::path junit, fs::path html, fs::path journal,
                 report::AttachmentOptions attachments,
                 std::map<std::pair<std::string, std::string>, const CheckSpec*> specs,
                 const RunEnvironment* env, Outcome* outcome, ProgressPrinter* progress)
      : info_(std::move(info)),
        junit_(std::move(junit)),
        html_(std::move(html)),
        journal_(std::move(journal)),
        attachments_(std::move(attachments)),
        specs_(std::move(specs)),
        env_(env),
        outcome_(outcome),
        progress_(progress) {
    journal_.RunStarted(info_);
  }
  ~ReportListener() override { journal_.RunFinished(); }

  report::JournalWriter& journal() { return journal_; }
  const std::vector<CheckRecord>& records() const { return records_; }

  void OnTestStart(const testing::TestInfo& test) override {
    const CheckSpec* spec = Find(test);
    if (spec == nullptr) return;
    // Inside a Slurm task: the node and job, for the merged report.
    std::map<std::string, std::string> fields = {
        {"vmm", spec->vmm_label},
        {"fault", spec->fault},
        {"variant", spec->variant},
        {"policy", std::string(report::PolicyName(spec->policy))},
        {"suite_file", spec->where()},
        {"console_log_path", ConsoleLogPath(env_->report_dir, *spec).string()}};
    for (const auto& [k, v] : slurm::TaskProperties()) fields.insert({k, v});
    journal_.CheckStarted(spec->suite, spec->classname, spec->name, fields);
  }

  void OnTestEnd(const testing::TestInfo& test) override {
    const CheckSpec* spec = Find(test);
    if (spec == nullptr || !outcome_->record) return;
    CheckRecord r = std::move(*outcome_->record);
    outcome_->record.reset();
    for (const auto& [k, v] : slurm::TaskProperties()) r.properties.insert({k, v});
    const std::string effect = r.effect.empty() ? "n/a" : r.effect;
    const std::string why = r.verdict == Verdict::kPass ? "" : ": " + r.message.substr(0, 300);
    char line[512];
    snprintf(line, sizeof line, "[ezone] %s: %s (effect %s) in %.2f s%s\n", spec->id().c_str(),
             std::string(report::VerdictName(r.verdict)).c_str(), effect.c_str(), r.seconds,
             why.c_str());
    progress_->Verdict(line);
    journal_.CheckFinished(r);
    records_.push_back(std::move(r));
    try {
      // Console logs: relative paths from each report, copied beside it when
      // it lies outside the report directory.
      if (!junit_.empty()) report::WriteJUnit(info_, records_, junit_, attachments_);
      if (!html_.empty()) report::WriteHtml(info_, records_, html_, {}, attachments_.report_dir);
    } catch (const std::exception& e) {
      std::cerr << "ezone: cannot write the reports: " << e.what() << "\n";
    }
  }

 private:
  const CheckSpec* Find(const testing::TestInfo& test) const {
    auto it = specs_.find({test.test_suite_name(), test.name()});
    return it == specs_.end() ? nullptr : it->second;
  }

  report::RunInfo info_;
  fs::path junit_, html_;
  report::JournalWriter journal_;
  report::AttachmentOptions attachments_;
  std::map<std::pair<std::string, std::string>, const CheckSpec*> specs_;
  const RunEnvironment* env_;
  Outcome* outcome_;
  ProgressPrinter* progress_;
  std::vector<CheckRecord> records_;
};

// The last lines of a console excerpt, sanitised as the reports sanitise
// it (a guest's escape sequences and control bytes must not reach the
// terminal): what a VM was doing when a check could not be carried out.
std::string ConsoleTail(const std::string& excerpt, size_t lines) {
  const std::string text = report::SanitizeForXml(excerpt);
  std::vector<std::string_view> all;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    all.push_back(std::string_view(text).substr(at, end - at));
    at = end + 1;
  }
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    out += "  " + std::string(all[i]) + "\n";
  }
  return out;
}

// One check as a GoogleTest test. Its outcome maps onto gtest's: a failure
// or an error is a failure at the suite file's line (not at ours), a skip a
// skip.
class CheckTest : public testing::Test {
 public:
  CheckTest(const CheckSpec* spec, RunEnvironment* env, Outcome* outcome)
      : spec_(spec), env_(env), outcome_(outcome) {}

  void TestBody() override {
    CheckRecord r = RunCheck(*spec_, *env_);
    const Verdict verdict = r.verdict;
    const std::string message = r.message;
    std::string evidence;
    for (const auto& e : r.evidence) evidence += "  " + e.text + "\n";
    const std::string log =
        r.console_log_path.empty() ? "" : "\nconsole log: " + r.console_log_path;
    outcome_->record = std::move(r);
    const char* file = spec_->file.c_str();
    switch (verdict) {
      case Verdict::kPass:
        SUCCEED() << message;
        break;
      case Verdict::kFailure:
        ADD_FAILURE_AT(file, spec_->line) << "FAILURE (isolation violated): " << message
                                          << "\nevidence:\n" << evidence << log;
        break;
      case Verdict::kError: {
        const std::string tail = ConsoleTail(outcome_->record->console_excerpt, 8);
        ADD_FAILURE_AT(file, spec_->line)
            << "ERROR (the check could not be carried out): " << message << "\nevidence:\n"
            << evidence << (tail.empty() ? "" : "victim console, last lines:\n" + tail) << log;
        break;
      }
      case Verdict::kSkipped:
        GTEST_SKIP() << message;
    }
  }

 private:
  const CheckSpec* spec_;
  RunEnvironment* env_;
  Outcome* outcome_;
};

// --check takes a check's id as `ezone list` prints it (Class/name), or the
// name as the suite spells its parts: test names keep only letters, digits
// and '_' (gtest, ctest), so "kvm-libvirt-tcg" in a name reads "kvm_libvirt_tcg"
// and either is accepted.
bool Matches(const CheckSpec& spec, const std::string& asked) {
  auto token = [](std::string s) {
    for (char& c : s) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/') c = '_';
    }
    return s;
  };
  return spec.id() == asked || spec.id() == token(asked);
}

bool Selected(const CheckSpec& spec, const std::vector<std::string>& asked) {
  if (asked.empty()) return true;
  for (const std::string& a : asked) {
    if (Matches(spec, a)) return true;
  }
  return false;
}

}  // namespace

std::string Hostname() {
  char name[256] = {0};
  gethostname(name, sizeof name - 1);
  return name;
}

int CmdRun(RunOptions opt, const char* argv0) {
  std::vector<Suite> suites;
  for (const auto& file : opt.suites) suites.push_back(LoadSuite(file));  // throws SuiteError

  PluginRegistry registry;
  registry.Discover(DefaultPluginDirs(opt.plugin_dirs));
  for (const auto& e : registry.load_errors()) std::cerr << "ezone: warning: " << e << "\n";
  // Bad input before anything boots: a check naming a plugin or variant
  // that is not there.
  // Only the checks that will run: --check may pick the ones whose plugins
  // this run has.
  bool unknown = false;
  for (const Suite& suite : suites) {
    Suite selected = suite;
    selected.checks.clear();
    for (const CheckSpec& spec : suite.checks) {
      if (Selected(spec, opt.checks)) selected.checks.push_back(spec);
    }
    for (const auto& e : FindUnknownPlugins(selected, registry)) {
      std::cerr << "ezone: " << e << "\n";
      unknown = true;
    }
  }
  if (unknown) return kExitBadInput;

  std::string stamp = IsoNow();
  for (char& c : stamp) if (c == ':') c = '-';
  if (opt.report_dir.empty()) opt.report_dir = "ezone-reports/" + suites.front().name + "-" + stamp;
  fs::create_directories(opt.report_dir);
  if (opt.junit.empty()) opt.junit = (fs::path(opt.report_dir) / "junit.xml").string();
  if (opt.no_html) {
    opt.html.clear();
  } else if (opt.html.empty()) {
    opt.html = (fs::path(opt.report_dir) / "report.html").string();
  }

  RunEnvironment env;
  env.registry = &registry;
  env.image = GuestImage::Locate(opt.guest_dir);
  // Plugins whose probe boots a guest (kvm) use the image the core chose.
  if (env.image.missing.empty()) {
    setenv("EZONE_GUEST_DIR", env.image.kernel.parent_path().c_str(), /*overwrite=*/0);
  }
  env.report_dir = opt.report_dir;

  // The checks to run, by (class, name): the listener finds each test's.
  std::map<std::pair<std::string, std::string>, const CheckSpec*> specs;
  std::vector<const CheckSpec*> in_order;  // tests run in the suites' order
  for (const Suite& suite : suites) {
    for (const CheckSpec& spec : suite.checks) {
      if (!Selected(spec, opt.checks)) continue;
      specs[{spec.classname, spec.name}] = &spec;
      in_order.push_back(&spec);
    }
  }
  if (specs.empty()) {
    std::cerr << "ezone: no check matches";
    for (const auto& c : opt.checks) std::cerr << " '" << c << "'";
    std::cerr << " in " << opt.suites.front()
              << " (check ids are Class/name as `ezone list` prints them)\n";
    return kExitBadInput;
  }

  if (opt.jobs < 1) {
    std::cerr << "ezone: --jobs must be at least 1\n";
    return kExitBadInput;
  }
  if (opt.jobs > 1) return CmdRunJobs(opt, in_order, registry);

  report::RunInfo info;
  info.name = suites.front().name;
  info.hostname = Hostname();
  info.timestamp = IsoNow();
  info.properties["ezone_version"] = kEzoneVersion;
  for (const auto& [k, v] : env.image.properties) info.properties[k] = v;
  // One journal per process: ctest runs every check as its own process.
  fs::path journal_file = fs::path(opt.report_dir) / "journal" /
                          ("run-" + stamp + "-" + std::to_string(getpid()) + ".jsonl");
  ProgressPrinter progress;
  Outcome outcome;
  // gtest owns its listeners; this one lives until the run's end.
  auto* listener = new ReportListener(info, opt.junit, opt.html, journal_file,
                                      {opt.report_dir, opt.attachment_base}, specs, &env,
                                      &outcome, &progress);
  env.progress = [&progress, listener](const CheckSpec& spec, const ProgressEvent& event) {
    progress.Step(spec, event);
    // Every step is in the journal before the check moves on: a runner
    // killed now is reported as interrupted during this step.
    listener->journal().CheckPhase(spec.classname, spec.name, JournalPhase(event),
                                   DescribeProgress(event));
  };

  // Register the checks as tests before InitGoogleTest parses the filter.
  for (const CheckSpec* spec : in_order) {
    testing::RegisterTest(spec->classname.c_str(), spec->name.c_str(), nullptr, nullptr,
                          spec->file.c_str(), spec->line,
                          [spec, &env, &outcome]() -> testing::Test* {
                            return new CheckTest(spec, &env, &outcome);
                          });
  }

  std::vector<std::string> gargs = {argv0};
  for (auto& a : opt.gtest_args) gargs.push_back(a);
  std::vector<char*> gargv;
  for (auto& a : gargs) gargv.push_back(a.data());
  int gargc = static_cast<int>(gargv.size());
  testing::InitGoogleTest(&gargc, gargv.data());
  testing::UnitTest::GetInstance()->listeners().Append(listener);
  int rc = RUN_ALL_TESTS();

  size_t skipped = 0;
  for (const auto& r : listener->records()) skipped += r.verdict == Verdict::kSkipped;
  const bool all_skipped = !listener->records().empty() && skipped == listener->records().size();
  std::cout << "JUnit report: " << fs::absolute(opt.junit).string() << "\n";
  if (!opt.html.empty()) std::cout << "HTML report: " << fs::absolute(opt.html).string() << "\n";
  std::cout << "Journal: " << fs::absolute(journal_file).string() << "\n";
  // The listener's destructor closes the journal (RunFinished).
  delete testing::UnitTest::GetInstance()->listeners().Release(listener);
  if (rc == 0 && all_skipped) return kExitAllSkipped;
  return rc;
}

}  // namespace ezone
