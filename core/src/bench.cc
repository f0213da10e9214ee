#include "bench.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "build_config.h"
#include "check_pool.h"
#include "check_runner.h"
#include "elapsed.h"
#include "ezone/report/performance.h"
#include "ezone/sdk.h"
#include "console_classifier.h"
#include "crash_report.h"
#include "plugin_registry.h"
#include "ready_watch.h"
#include "suite.h"
#include "vm_session.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;
using std::chrono::milliseconds;

constexpr int kExitSkipped = 77;
// What a guest's console delivers at most: 115200 baud, 8N1 = 10 bits a
// byte. The crash report parser's speed is printed against it.
constexpr int kSerialConsoleBaud = 115200;
constexpr double kSerialConsoleBytesPerSecond = kSerialConsoleBaud / 10.0;
// A bare run that has not ended by then is stuck: kill it, count an error.
constexpr milliseconds kBareTimeout{60000};

// "k=v;k2=v2" (suite vmm-options) or "k=v,k2=v2" (fault-options) -> map.
std::map<std::string, std::string> ParseOptions(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find_first_of(";,", start);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(start, end - start);
    size_t eq = item.find('=');
    if (!item.empty()) out[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
    start = end + 1;
  }
  return out;
}

std::string Get(const std::map<std::string, std::string>& m, const std::string& key,
                const std::string& fallback) {
  auto it = m.find(key);
  return it == m.end() ? fallback : it->second;
}



// The paper suite: `suites/paper.xml` here, the source tree, the install tree.
std::string DefaultSuite() {
  std::vector<fs::path> candidates = {"suites/paper.xml",
                                      fs::path(EZONE_SOURCE_SUITES_DIR) / "paper.xml"};
  std::string installed = InstallTreeDir("../share/ezone/suites");
  if (!installed.empty()) candidates.push_back(fs::path(installed) / "paper.xml");
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::exists(c, ec)) return c.string();
  }
  return candidates.front().string();
}

long ProcStatusKib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  size_t n = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':') {
      return std::strtol(line.c_str() + n + 1, nullptr, 10);
    }
  }
  return -1;
}

// Removes the bench's work directory even when the bench is SIGKILLed: a
// detached grandchild (forked while the bench is still single-threaded)
// waits for the pipe to close, which happens however the bench ends. It is
// re-parented to init, so it is never one of the runner's children that the
// host oracle counts.
class Janitor {
 public:
  explicit Janitor(const fs::path& dir) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    pid_t child = fork();
    if (child == 0) {
      if (fork() == 0) {
        // Holds nothing of the bench's open: a reader of the bench's output
        // pipe must see EOF when the bench ends, not when the janitor does.
        int devnull = open("/dev/null", O_RDWR);
        for (int fd = 0; fd < 3; ++fd) dup2(devnull, fd);
        dup2(fds[0], 3);
        close_range(4, ~0U, 0);
        // Ctrl-C reaches the whole process group; the janitor must outlive it.
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        char byte;
        ssize_t n;
        while ((n = read(3, &byte, 1)) != 0) {
          if (n < 0 && errno != EINTR) _exit(1);
        }
        std::error_code ec;
        fs::remove_all(dir, ec);
        _exit(0);
      }
      _exit(0);
    }
    close(fds[0]);
    if (child > 0) waitpid(child, nullptr, 0);
    write_end_ = fds[1];
  }
  ~Janitor() {
    if (write_end_ >= 0) close(write_end_);
  }

 private:
  int write_end_ = -1;
};

// A private temp directory for one bench run, outside the names the host
// oracle treats as the runner's own temp entries (ezone-<pid>...): removed
// when the bench returns and, by its janitor, when the bench is killed.
class BenchWorkDir {
 public:
  BenchWorkDir() {
    std::string pattern = (fs::temp_directory_path() / "ezone-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      error_ = std::string("mkdtemp: ") + std::strerror(errno);
      return;
    }
    path_ = pattern;
    janitor_.emplace(path_);
  }
  ~BenchWorkDir() {
    std::error_code ec;
    if (made()) fs::remove_all(path_, ec);
  }
  BenchWorkDir(const BenchWorkDir&) = delete;
  BenchWorkDir& operator=(const BenchWorkDir&) = delete;
  bool made() const { return !path_.empty(); }
  const fs::path& path() const { return path_; }
  const std::string& error() const { return error_; }

 private:
  fs::path path_;
  std::optional<Janitor> janitor_;
  std::string error_;
};

// When the first byte reaches a file in `dir`: the ezone check's console log
// is written (and flushed) as the bytes arrive, so its first IN_MODIFY is
// the check's first console byte, measured without touching the runner.
class FirstWriteWatcher {
 public:
  FirstWriteWatcher(const fs::path& dir, std::string file) : file_(std::move(file)) {
    fd_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd_ < 0 || inotify_add_watch(fd_, dir.c_str(), IN_MODIFY) < 0 ||
        pipe2(stop_, O_CLOEXEC) != 0) {
      return;
    }
    thread_ = std::thread([this] { Loop(); });
  }
  ~FirstWriteWatcher() {
    Stop();
    for (int fd : {fd_, stop_[0], stop_[1]}) {
      if (fd >= 0) close(fd);
    }
  }
  // Joins the thread; returns when the file was first written, if it was.
  std::optional<Clock::time_point> Stop() {
    if (thread_.joinable()) {
      char byte = 1;
      (void)!write(stop_[1], &byte, 1);
      thread_.join();
    }
    return first_;
  }

 private:
  void Loop() {
    alignas(inotify_event) char buf[4096];
    for (;;) {
      pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      auto now = Clock::now();
      if (fds[1].revents) return;
      ssize_t n = read(fd_, buf, sizeof buf);
      for (ssize_t off = 0; n > 0 && off < n;) {
        auto* e = reinterpret_cast<inotify_event*>(buf + off);
        if (e->len > 0 && file_ == e->name && !first_) first_ = now;
        off += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      }
      if (first_) return;
    }
  }

  std::string file_;
  int fd_ = -1;
  int stop_[2] = {-1, -1};
  std::thread thread_;
  std::optional<Clock::time_point> first_;
};

// One bare qemu run; times in ms from just before fork.
struct BareRun {
  std::string error;  // empty: the guest crashed and qemu ended
  std::optional<double> first_byte, ready, crash, end;
  std::string crash_line;
};

// One ezone check; times in ms from the RunCheck call.
struct EzoneRun {
  std::string error;  // empty: the check passed
  report::Verdict verdict = report::Verdict::kError;
  double whole = 0;
  std::optional<double> boot_start, first_byte, ready, fired, detected;
  std::optional<double> record_boot, record_ready, record_detection, record_teardown;
};

// The bare baseline: the qemu plugin's command line (q35, TCG, -cpu max,
// pvpanic, panic=none, -no-reboot, two serial ports on socketpairs as
// fds 3 and 4) without QMP, which only ezone reads. The agent loads the fault
// module by itself right after READY.
class BareBaseline {
 public:
  BareBaseline(const CheckSpec& spec, const GuestImage& image, int delay_ms) {
    auto vmm = ParseOptions(spec.vmm_options);
    binary_ = sdk::FindProgram(Get(vmm, "binary", "qemu-system-x86_64"));
    std::string accel = Get(vmm, "accel", "tcg");
    std::string cmdline =
        AgentCmdline("bench", kHeartbeatPeriodMs, spec.kernel_args, image.boot_verbosity());
    cmdline += " ezone.autoload=" + spec.fault + ":mode=" + spec.variant +
               ",delay_ms=" + std::to_string(delay_ms);
    args_ = {binary_, "-nodefaults", "-no-user-config", "-display", "none",
             "-machine", Get(vmm, "machine", "q35") + ",accel=" + accel,
             "-cpu", Get(vmm, "cpu", accel == "kvm" ? "host" : "max"),
             "-m", std::to_string(spec.memory_mib), "-smp", "1",
             "-kernel", image.kernel.string(), "-initrd", image.initramfs.string(),
             "-append", cmdline,
             "-chardev", "socket,id=console,fd=3", "-serial", "chardev:console",
             "-chardev", "socket,id=control,fd=4", "-serial", "chardev:control",
             "-device", "pvpanic", "-action", "panic=none", "-no-reboot"};
  }

  const std::string& binary() const { return binary_; }
  std::string CommandLine() const {
    std::string out;
    for (const auto& a : args_) out += (out.empty() ? "" : " ") + a;
    return out;
  }

  BareRun Run() const {
    BareRun r;
    int console[2], control[2], err[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control) || pipe2(err, O_CLOEXEC)) {
      r.error = std::string("socketpair: ") + std::strerror(errno);
      return r;
    }
    std::vector<std::string> args = args_;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t parent = getpid();
    auto t0 = Clock::now();
    pid_t pid = fork();
    if (pid == 0) {
      // As the plugin: own process group, and dies with the bench.
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      int devnull = open("/dev/null", O_RDWR);
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(err[1], 2);
      dup2(console[1], 3);
      dup2(control[1], 4);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(console[1]);
    close(control[1]);
    close(err[1]);
    if (pid < 0) {
      r.error = std::string("fork: ") + std::strerror(errno);
      for (int fd : {console[0], control[0], err[0]}) close(fd);
      return r;
    }
    setpgid(pid, pid);
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    Watch(r, t0, pid, pidfd, console[0], control[0], err[0]);
    for (int fd : {console[0], control[0], err[0], pidfd}) {
      if (fd >= 0) close(fd);
    }
    return r;
  }

 private:
  void Watch(BareRun& r, Clock::time_point t0, pid_t pid, int pidfd, int console_fd,
             int control_fd, int err_fd) const {
    std::string console_line, control_line, stderr_tail;
    auto feed = [&](std::string& line, std::string_view bytes, bool is_console, Clock::time_point at) {
      for (char c : bytes) {
        if (c != '\n') {
          if (line.size() < 4096) line += c;
          continue;
        }
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (is_console && !r.crash && IsCrash(ClassifyConsoleLine(line))) {
          r.crash = MsSince(t0, at);
          r.crash_line = line;
        } else if (!is_console && !r.ready && line.rfind("READY ", 0) == 0) {
          r.ready = MsSince(t0, at);
        }
        line.clear();
      }
    };
    int streams[3] = {console_fd, control_fd, err_fd};
    auto deadline = t0 + kBareTimeout;
    char buf[65536];
    bool exited = false;
    while (!exited) {
      int wait_ms = static_cast<int>(std::max(0.0, MsSince(Clock::now(), deadline)));
      pollfd fds[4] = {{streams[0], POLLIN, 0}, {streams[1], POLLIN, 0},
                       {streams[2], POLLIN, 0}, {pidfd, POLLIN, 0}};
      int n = poll(fds, 4, wait_ms);
      if (n < 0 && errno == EINTR) continue;
      auto now = Clock::now();
      if (n <= 0) {
        r.error = n == 0 ? "qemu did not end within " + Fmt("%.0f s", kBareTimeout.count() / 1000.0)
                         : std::string("poll: ") + std::strerror(errno);
        kill(-pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        return;
      }
      for (int i = 0; i < 3; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t got = read(fds[i].fd, buf, sizeof buf);
        if (got <= 0) {
          if (got == 0 || errno != EINTR) streams[i] = -1;
          continue;
        }
        std::string_view bytes(buf, static_cast<size_t>(got));
        if (i == 0) {
          if (!r.first_byte) r.first_byte = MsSince(t0, now);
          feed(console_line, bytes, true, now);
        } else if (i == 1) {
          feed(control_line, bytes, false, now);
        } else {
          stderr_tail.append(bytes);
          if (stderr_tail.size() > 1024) stderr_tail.erase(0, stderr_tail.size() - 1024);
        }
      }
      if (fds[3].revents & POLLIN) {
        // What qemu wrote before it ended is still buffered: take it first.
        for (int i = 0; i < 2; ++i) {
          ssize_t got;
          while (streams[i] >= 0 && (got = recv(streams[i], buf, sizeof buf, MSG_DONTWAIT)) > 0) {
            feed(i == 0 ? console_line : control_line, std::string_view(buf, static_cast<size_t>(got)),
                 i == 0, now);
          }
        }
        int status = 0;
        waitpid(pid, &status, 0);
        r.end = MsSince(t0, Clock::now());
        exited = true;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
          r.error = "could not run " + binary_;
        }
      }
    }
    while (!stderr_tail.empty() && stderr_tail.back() == '\n') stderr_tail.pop_back();
    if (r.error.empty() && !r.ready) r.error = "no READY from the agent";
    if (r.error.empty() && !r.crash) r.error = "the guest did not crash";
    if (!r.error.empty() && !stderr_tail.empty()) r.error += "; qemu said: " + stderr_tail;
  }

  std::string binary_;
  std::vector<std::string> args_;
};

// One real check in this process, in a fresh report directory.
EzoneRun RunEzone(const CheckSpec& spec, const PluginRegistry& registry, const GuestImage& image,
                  const fs::path& report_dir) {
  EzoneRun r;
  fs::path log = ConsoleLogPath(report_dir, spec);
  fs::create_directories(log.parent_path());
  FirstWriteWatcher watcher(log.parent_path(), log.filename().string());
  RunEnvironment env;
  env.registry = &registry;
  env.image = image;
  env.report_dir = report_dir;
  auto t0 = Clock::now();
  // The runner's progress steps mark when it starts the VMM and fires.
  env.progress = [&r, t0](const CheckSpec&, const ProgressEvent& e) {
    double at = MsSince(t0, Clock::now());
    if (e.phase == Phase::kBoot && e.role == Role::kVictim) r.boot_start = at;
    if (e.phase == Phase::kFire) r.fired = at;
  };
  report::CheckRecord record = RunCheck(spec, env);
  auto t_end = Clock::now();
  std::optional<Clock::time_point> first = watcher.Stop();
  r.whole = MsSince(t0, t_end);
  r.verdict = record.verdict;
  r.record_boot = record.timing.boot;
  r.record_ready = record.timing.ready;
  r.record_detection = record.timing.detection;
  r.record_teardown = record.timing.teardown;
  if (!r.boot_start) r.boot_start = 0;
  if (first) r.first_byte = MsSince(t0, *first) - *r.boot_start;
  if (record.timing.ready) r.ready = *record.timing.ready;
  if (r.fired && record.timing.detection) r.detected = *r.fired + *record.timing.detection;
  if (record.verdict != report::Verdict::kPass) {
    r.error = std::string(report::VerdictName(record.verdict)) + ": " + record.message;
  }
  return r;
}

double Median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The phases both sides share, in ms; NAN where a run did not reach it.
struct Phases {
  double setup = NAN, boot = NAN, ready = NAN, detection = NAN, teardown = NAN, whole = NAN;
  double latency = NAN;  // detection beyond the module's own delay
};

double Or(const std::optional<double>& v) { return v ? *v : NAN; }

Phases BarePhases(const BareRun& b, int delay_ms) {
  Phases p;
  p.setup = 0;  // qemu is the first thing it starts
  p.boot = Or(b.first_byte);
  p.ready = Or(b.ready);
  p.detection = Or(b.crash) - Or(b.ready);  // READY -> first crash line
  p.teardown = Or(b.end) - Or(b.crash);     // crash line -> qemu reaped
  p.whole = Or(b.end);
  p.latency = p.detection - delay_ms;  // the agent loads the module right after READY
  return p;
}

Phases EzonePhases(const EzoneRun& e, int delay_ms) {
  Phases p;
  double start = Or(e.boot_start);
  p.setup = start;  // plugins resolved, host baseline taken
  p.boot = Or(e.first_byte);
  p.ready = Or(e.ready);
  p.detection = Or(e.detected) - (start + Or(e.ready));  // READY -> detected
  p.teardown = e.whole - Or(e.detected);  // detected -> RunCheck returned
  p.whole = e.whole;
  p.latency = Or(e.record_detection) - delay_ms;  // fired -> detected
  return p;
}

struct Row {
  const char* key;
  const char* label;
  double Phases::*field;
};

constexpr Row kRows[] = {
    {"setup", "setup (plugins, host baseline)", &Phases::setup},
    {"boot", "boot (VMM start -> 1st console byte)", &Phases::boot},
    {"ready", "ready (VMM start -> agent READY)", &Phases::ready},
    {"detection", "fault -> detection (READY -> crash)", &Phases::detection},
    {"teardown", "teardown (crash -> VMM gone, done)", &Phases::teardown},
    {"whole", "whole check", &Phases::whole},
};

double MedianOf(const std::vector<Phases>& runs, double Phases::*field) {
  std::vector<double> v;
  for (const auto& p : runs) {
    if (!std::isnan(p.*field)) v.push_back(p.*field);
  }
  return Median(v);
}

Json Num(double v) { return std::isnan(v) ? Json(nullptr) : Json(std::round(v * 10) / 10); }

// A table cell: the number, or "-" right-aligned in `width` where missing.
std::string Cell(double v, const char* format = "%9.1f", int width = 9) {
  if (!std::isnan(v)) return Fmt(format, v);
  return std::string(static_cast<size_t>(std::max(width - 1, 0)), ' ') + "-";
}

// K identical checks as `ezone run` child processes, `jobs` at a time, as
// ctest -j runs them: each check is its own runner, so one check's host
// oracle never sees another check's VMM as its own leak.
struct PoolResult {
  int jobs = 0, checks = 0, passed = 0;
  double seconds = 0;
  std::vector<std::string> failures;
};

PoolResult RunPool(const BenchOptions& opt, const std::string& suite, const std::string& self,
                   int jobs, int checks, const fs::path& work) {
  PoolResult result;
  result.jobs = jobs;
  result.checks = checks;
  // One core each (a qemu check's victim): `jobs` run at once.
  std::vector<PoolJob> pool_jobs;
  for (int i = 0; i < checks; ++i) {
    fs::path dir = work / ("j" + std::to_string(jobs) + "-" + std::to_string(i));
    fs::create_directories(dir);
    PoolJob job;
    job.args = {self};
    for (const auto& d : opt.plugin_dirs) job.args.insert(job.args.end(), {"--plugin-dir", d});
    job.args.insert(job.args.end(),
                    {"run", suite, "--check", opt.check, "--report-dir", dir.string()});
    if (!opt.guest_dir.empty()) job.args.insert(job.args.end(), {"--guest-dir", opt.guest_dir});
    job.log = dir / "output.log";
    pool_jobs.push_back(std::move(job));
  }
  auto start = Clock::now();
  CheckPool(CostBudget{jobs, 0}).Run(pool_jobs, nullptr, [&](const PoolEnd& end) {
    if (end.exit_status == 0) {
      ++result.passed;
      return;
    }
    std::ifstream in(pool_jobs[end.index].log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.size() > 600) text = "..." + text.substr(text.size() - 600);
    result.failures.push_back("check " + pool_jobs[end.index].log.parent_path().filename().string() +
                              " exited " + std::to_string(end.exit_status) + ": " + text);
  });
  result.seconds = MsSince(start, Clock::now()) / 1000.0;
  return result;
}

}  // namespace

int RunBench(const BenchOptions& opt) {
  if (opt.rounds < 0 || opt.parallel_checks < 1) {
    std::cerr << "ezone bench: --rounds must be >= 0 and --parallel-checks >= 1\n";
    return 2;
  }
  std::string suite_file = opt.suite.empty() ? DefaultSuite() : opt.suite;
  Suite suite = LoadSuite(suite_file);  // throws SuiteError
  const CheckSpec* spec = nullptr;
  for (const auto& c : suite.checks) {
    if (c.id() == opt.check) spec = &c;
  }
  if (spec == nullptr) {
    std::cerr << "ezone bench: no check '" << opt.check << "' in " << suite_file << "\n";
    return 2;
  }
  if (spec->vmm != "qemu" || spec->fault != "kerncrash") {
    std::cerr << "ezone bench: the bare baseline exists for qemu + kerncrash checks only, not "
              << spec->vmm << " + " << spec->fault << "\n";
    return 2;
  }
  int delay_ms = std::stoi(Get(ParseOptions(spec->fault_options), "delay_ms", "200"));

  BenchWorkDir work_dir;  // before any thread exists: its janitor forks
  if (!work_dir.made()) {
    std::cerr << "ezone bench: " << work_dir.error() << "\n";
    return 2;
  }
  const fs::path& work = work_dir.path();

  PluginRegistry registry;
  registry.Discover(DefaultPluginDirs(opt.plugin_dirs));
  GuestImage image = GuestImage::Locate(opt.guest_dir);
  if (!image.missing.empty()) {
    std::cerr << "ezone bench: " << image.missing << "\n";
    return 1;
  }
  BareBaseline bare(*spec, image, delay_ms);
  if (bare.binary().empty()) {
    std::cout << "ezone bench: skipped: qemu-system-x86_64 not found in PATH\n";
    return kExitSkipped;
  }

  Json json;
  json["check"] = spec->id();
  json["suite_file"] = fs::absolute(suite_file).string();
  json["fault_delay_ms"] = delay_ms;
  json["rounds"] = opt.rounds;
  json["host_cpus"] = std::thread::hardware_concurrency();
  json["bare_command"] = bare.CommandLine();
  bool all_ok = true;

  std::cout << "ezone bench: " << spec->id() << " (" << suite_file << ")\n"
            << "bare baseline: " << bare.binary() << ", the agent loads " << spec->fault
            << " mode=" << spec->variant << " delay_ms=" << delay_ms << " itself after READY\n";
  // The crash report parser's speed against what it is fed: a serial
  // console at 115200 baud, 8N1 (10 bits a byte), the baseline measured in
  // the same run's units. Before the rounds, while no VM of ours runs.
  {
    constexpr size_t kParserMb = 20;
    constexpr double kSerialMBps = kSerialConsoleBytesPerSecond / (1 << 20);
    const double mbps = MeasureClassifyMBps(kParserMb);
    const double headroom = mbps / kSerialMBps;
    printf("crash report parser: %.1f MB/s (its CPU time) over %zu MB of synthetic console text; "
           "a 115200-baud serial console delivers %.4f MB/s (%.2f KiB/s): %.0fx its rate\n",
           mbps, kParserMb, kSerialMBps, kSerialConsoleBytesPerSecond / 1024, headroom);
    fflush(stdout);
    json["crash_report_parser"] = {{"mb", kParserMb},
                                   {"mb_per_s", std::round(mbps * 10) / 10},
                                   {"serial_baseline_mb_per_s", std::round(kSerialMBps * 1e6) / 1e6},
                                   {"serial_baud", kSerialConsoleBaud},
                                   {"x_serial", std::round(headroom)}};
  }
  std::vector<Phases> bare_phases, ezone_phases;
  // Snapshot mode: the same check restored from a state saved at READY. The
  // state lives in the bench's work dir (removed with it); one warm-up run
  // makes it, so no round pays for the preparation.
  CheckSpec snapshot_spec = *spec;
  snapshot_spec.mode = BootMode::kSnapshot;
  std::vector<double> snapshot_whole;
  setenv("EZONE_CACHE_DIR", (work / "cache").c_str(), /*overwrite=*/1);
  if (opt.rounds > 0) RunEzone(snapshot_spec, registry, image, work / "snapshot-warmup");
  Json rounds = Json::array();
  for (int i = 1; i <= opt.rounds; ++i) {
    // Swapped every other round, so neither side always runs right after
    // the other (warm caches, a neighbour's load) and gains from its place.
    BareRun b;
    EzoneRun e;
    fs::path report_dir = work / ("ezone-" + std::to_string(i));
    if (i % 2) {
      b = bare.Run();
      e = RunEzone(*spec, registry, image, report_dir);
    } else {
      e = RunEzone(*spec, registry, image, report_dir);
      b = bare.Run();
    }
    if (e.verdict == report::Verdict::kSkipped) {
      std::cout << "ezone bench: skipped: " << e.error << "\n";
      return kExitSkipped;
    }
    EzoneRun snap = RunEzone(snapshot_spec, registry, image, work / ("snapshot-" + std::to_string(i)));
    if (snap.error.empty()) snapshot_whole.push_back(snap.whole);
    all_ok = all_ok && snap.error.empty();
    Phases bp = BarePhases(b, delay_ms), ep = EzonePhases(e, delay_ms);
    if (b.error.empty()) bare_phases.push_back(bp);
    if (e.error.empty()) ezone_phases.push_back(ep);
    all_ok = all_ok && b.error.empty() && e.error.empty();
    printf("round %d: bare %s ms%s, ezone %s ms%s, ezone snapshot mode %s ms%s\n", i,
           Cell(bp.whole, "%.0f", 1).c_str(), b.error.empty() ? "" : (" (" + b.error + ")").c_str(),
           Cell(ep.whole, "%.0f", 1).c_str(), e.error.empty() ? "" : (" (" + e.error + ")").c_str(),
           Cell(snap.whole, "%.0f", 1).c_str(),
           snap.error.empty() ? "" : (" (" + snap.error + ")").c_str());
    fflush(stdout);
    Json round;
    round["bare"] = {{"error", b.error},       {"first_byte_ms", Num(Or(b.first_byte))},
                     {"ready_ms", Num(Or(b.ready))}, {"crash_ms", Num(Or(b.crash))},
                     {"end_ms", Num(Or(b.end))},  {"crash_line", b.crash_line}};
    round["ezone"] = {{"error", e.error},
                      {"verdict", report::VerdictName(e.verdict)},
                      {"vmm_start_ms", Num(Or(e.boot_start))},
                      {"first_byte_ms", Num(Or(e.first_byte))},
                      {"fired_ms", Num(Or(e.fired))},
                      {"detected_ms", Num(Or(e.detected))},
                      {"whole_ms", Num(e.whole)},
                      {"record_timing_ms",
                       {{"boot", Num(Or(e.record_boot))}, {"ready", Num(Or(e.record_ready))},
                        {"detection", Num(Or(e.record_detection))},
                        {"teardown", Num(Or(e.record_teardown))}}}};
    round["ezone_snapshot"] = {{"error", snap.error}, {"whole_ms", Num(snap.whole)}};
    rounds.push_back(round);
  }
  json["round_results"] = rounds;

  if (opt.rounds > 0) {
    std::string head = "medians, ms (" + std::to_string(bare_phases.size()) + " bare, " +
                       std::to_string(ezone_phases.size()) + " ezone runs)";
    printf("\n  %-42s %9s %9s %10s\n", head.c_str(), "bare", "ezone", "ezone/bare");
    Json medians;
    for (const Row& row : kRows) {
      double b = MedianOf(bare_phases, row.field), e = MedianOf(ezone_phases, row.field);
      double ratio = (std::isnan(b) || std::isnan(e) || b < 1) ? NAN : e / b;
      printf("  %-42s %s %s %s\n", row.label, Cell(b).c_str(), Cell(e).c_str(),
             Cell(ratio, "%10.2f", 10).c_str());
      medians[row.key] = {{"bare_ms", Num(b)}, {"ezone_ms", Num(e)},
                          {"ratio", std::isnan(ratio) ? Json(nullptr) : Json(std::round(ratio * 1000) / 1000)}};
    }
    json["median"] = medians;

    double bare_latency = MedianOf(bare_phases, &Phases::latency);
    double ezone_latency = MedianOf(ezone_phases, &Phases::latency);
    double extra = ezone_latency - bare_latency;
    printf("\ndetection latency beyond the %d ms fault delay (medians):\n"
           "  bare  READY -> first crash line        %s ms\n"
           "  ezone fault fired -> detected          %s ms\n"
           "  ezone - bare                           %s ms\n",
           delay_ms, Cell(bare_latency).c_str(), Cell(ezone_latency).c_str(), Cell(extra).c_str());
    json["detection_latency_ms"] = {
        {"bare", Num(bare_latency)}, {"ezone", Num(ezone_latency)}, {"ezone_minus_bare", Num(extra)}};

    double whole_ratio = MedianOf(ezone_phases, &Phases::whole) / MedianOf(bare_phases, &Phases::whole);
    bool whole_met = !std::isnan(whole_ratio) && whole_ratio <= kTargetWholeCheckRatio;
    bool detect_met = !std::isnan(extra) && extra <= kTargetDetectionMs;
    printf("\ntarget: whole check within %.2f x bare: %.2f, %s\n", kTargetWholeCheckRatio,
           whole_ratio, whole_met ? "met" : "not met");
    printf("target: detection within %.0f ms of the first crash line: %+.0f ms, %s\n",
           kTargetDetectionMs, extra, detect_met ? "met" : "not met");
    double snapshot_ms = Median(snapshot_whole);
    double snapshot_ratio = snapshot_ms / MedianOf(bare_phases, &Phases::whole);
    bool snapshot_met = !std::isnan(snapshot_ratio) && snapshot_ratio <= kTargetSnapshotRatio;
    printf("target: snapshot-mode check within %.2f x a bare boot: %s ms, %.2f, %s\n",
           kTargetSnapshotRatio, Cell(snapshot_ms, "%.0f", 1).c_str(), snapshot_ratio,
           snapshot_met ? "met" : "not met");
    json["targets"] = {
        {"whole_check_ratio",
         {{"limit", kTargetWholeCheckRatio},
          {"value", std::isnan(whole_ratio) ? Json(nullptr) : Json(std::round(whole_ratio * 1000) / 1000)},
          {"met", whole_met}}},
        {"detection_ms", {{"limit", kTargetDetectionMs}, {"value", Num(extra)}, {"met", detect_met}}},
        {"snapshot_check_ratio",
         {{"limit", kTargetSnapshotRatio},
          {"value", std::isnan(snapshot_ratio) ? Json(nullptr) : Json(std::round(snapshot_ratio * 1000) / 1000)},
          {"met", snapshot_met}}}};
    json["snapshot_check_ms"] = Num(snapshot_ms);
  }

  if (opt.parallel) {
    std::string self = SelfExe();
    Json parallel = Json::array();
    printf("\nthroughput: %d identical checks (`ezone run` processes, as ctest -j runs them)\n",
           opt.parallel_checks);
    for (int jobs : {1, 2}) {
      PoolResult p = RunPool(opt, fs::absolute(suite_file).string(), self, jobs,
                             opt.parallel_checks, work / "parallel");
      double per_minute = p.checks / p.seconds * 60;
      printf("  -j%d: %d checks in %.1f s = %.1f checks per minute (%d passed)\n", jobs, p.checks,
             p.seconds, per_minute, p.passed);
      for (const auto& f : p.failures) printf("    %s\n", f.c_str());
      fflush(stdout);
      all_ok = all_ok && p.failures.empty();
      parallel.push_back({{"jobs", jobs},
                          {"checks", p.checks},
                          {"passed", p.passed},
                          {"seconds", std::round(p.seconds * 100) / 100},
                          {"checks_per_minute", std::round(per_minute * 10) / 10}});
    }
    json["parallel"] = parallel;
  }

  // The runner's own memory: VMMs are child processes, counted apart.
  long hwm_kib = ProcStatusKib("VmHWM");
  rusage children{};
  getrusage(RUSAGE_CHILDREN, &children);
  printf("\nrunner peak RSS (VmHWM): %.1f MiB; largest child (qemu) peak RSS: %.1f MiB\n",
         hwm_kib / 1024.0, children.ru_maxrss / 1024.0);
  json["runner_peak_rss_kib"] = hwm_kib;
  json["largest_child_peak_rss_kib"] = children.ru_maxrss;
  json["ok"] = all_ok;

  if (!opt.json.empty()) {
    std::ofstream out(opt.json + ".tmp");
    out << json.dump(2) << "\n";
    out.close();
    fs::rename(opt.json + ".tmp", opt.json);
    std::cout << "JSON: " << fs::absolute(opt.json).string() << "\n";
  }
  return all_ok ? 0 : 1;
}

// ---------------------------------------------------------------------------
// ezone bench --workload: the performance side of the continuum.

namespace {

// One VMM the workload runs on: the distinct VMM labels of the suite.
struct WorkloadTarget {
  std::string label, vmm, options, kernel_args;
  HostKind host = HostKind::kLocal;  // the suite's host="..."
  uint32_t memory_mib = 256;
  milliseconds boot_timeout{30000};
};

// What one side (native or a VMM) gave.
struct WorkloadSide {
  std::string label, vmm, options;
  std::string status = "error";  // "ran", "skipped", "error"
  std::string reason;            // skipped / error: why
  std::string version;           // the VMM's, as the check records show it
  double ready_ms = NAN;         // VMM start -> READY
  std::vector<std::map<std::string, double>> runs;
  std::vector<std::string> lines;     // the raw result lines
  std::vector<double> round_trip_ms;  // host side: command sent -> reply
  std::map<std::string, double> median;
};

void TakeMedians(WorkloadSide& side) {
  for (const WorkloadMetric& m : kWorkloadMetrics) {
    std::vector<double> v;
    for (const auto& run : side.runs) v.push_back(run.at(m.key));
    side.median[m.key] = Median(v);
  }
  for (const char* extra : {"wall_ms"}) {
    std::vector<double> v;
    for (const auto& run : side.runs) {
      if (run.count(extra)) v.push_back(run.at(extra));
    }
    if (!v.empty()) side.median[extra] = Median(v);
  }
}

std::vector<std::string> WorkloadArgs(const BenchOptions& opt) {
  return {"-t", std::to_string(opt.workload_ms), "-m", std::to_string(opt.workload_buf_mib)};
}

// Runs the workload binary on this host; its stdout (and stderr) to `out`.
std::string RunNativeOnce(const std::string& program, const std::vector<std::string>& args,
                          std::string* out) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  std::vector<std::string> all = {program};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return std::string("fork: ") + std::strerror(errno);
  }
  auto deadline = Clock::now() + std::chrono::seconds(120);
  char buf[4096];
  std::string error;
  for (;;) {
    int wait_ms = static_cast<int>(std::max(0.0, MsSince(Clock::now(), deadline)));
    pollfd p = {fds[0], POLLIN, 0};
    int n = poll(&p, 1, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = "the workload did not end within 120 s";
      kill(pid, SIGKILL);
      break;
    }
    ssize_t got = read(fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (out->size() < 65536) out->append(buf, static_cast<size_t>(got));
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (error.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    error = WIFEXITED(status) ? program + " exited " + std::to_string(WEXITSTATUS(status))
                              : program + " died by signal " + std::to_string(WTERMSIG(status));
  }
  return error;
}

WorkloadSide RunNative(const BenchOptions& opt, const std::string& program) {
  WorkloadSide side;
  side.label = "native";
  for (int i = 0; i < opt.workload_runs; ++i) {
    std::string out;
    auto t0 = Clock::now();
    std::string error = RunNativeOnce(program, WorkloadArgs(opt), &out);
    double ms = MsSince(t0, Clock::now());
    std::map<std::string, double> figures;
    if (error.empty()) figures = ParseWorkloadResult(out, &error);
    if (!error.empty()) {
      side.reason = error + (out.empty() ? "" : ": " + out.substr(0, 300));
      return side;
    }
    side.runs.push_back(figures);
    side.lines.push_back(out.substr(out.find("ezone-workload v=1")));
    while (!side.lines.back().empty() && side.lines.back().back() == '\n') side.lines.back().pop_back();
    side.round_trip_ms.push_back(ms);
  }
  side.status = "ran";
  TakeMedians(side);
  return side;
}

// Boots the guest on one VMM through its plugin (VmSession: the check
// runner's path), waits for READY, runs the workload through the agent
// `runout`, tears the VM down.
WorkloadSide RunOnVmm(const BenchOptions& opt, const WorkloadTarget& target,
                      const PluginRegistry& registry, const GuestImage& image,
                      const fs::path& work) {
  WorkloadSide side;
  side.label = target.label;
  side.vmm = target.vmm;
  side.options = target.options;
  if (target.host == HostKind::kNested) {
    side.status = "skipped";
    side.reason = "not measured: on the nested host every instruction, the host's own too, runs "
                  "under QEMU's TCG, so the guest's speed there says nothing about " + target.vmm;
    return side;
  }
  const Plugin* plugin = registry.FindVmm(target.vmm);
  if (plugin == nullptr) {
    side.status = "skipped";
    side.reason = "no VMM plugin named '" + target.vmm + "' (found: " +
                  registry.Names(EZONE_KIND_VMM) + ")";
    return side;
  }
  char msg[1024] = {0};
  ezone_status probe = plugin->descriptor->vmm->probe(target.options.c_str(), msg, sizeof msg);
  if (probe != EZONE_OK) {
    side.status = probe == EZONE_DECLINED ? "skipped" : "error";
    side.reason = msg[0] ? msg : "the probe failed without a message";
    return side;
  }
  EventQueue events;
  std::string nonce = MakeNonce();
  VmSession vm(*plugin, Role::kVictim, nonce, work / (target.label + ".console.log"), &events);
  BootRequest guest;
  guest.kernel = image.kernel.string();
  guest.initramfs = image.initramfs.string();
  guest.cmdline = AgentCmdline(nonce, kHeartbeatPeriodMs, target.kernel_args,
                               image.boot_verbosity());
  guest.memory_mib = target.memory_mib;
  guest.options = target.options;
  auto boot_start = Clock::now();
  std::string error;
  ezone_status started = vm.Start(guest, &error);
  if (started != EZONE_OK) {
    side.status = started == EZONE_DECLINED ? "skipped" : "error";
    side.reason = "could not start the VM: " + error;
    return side;
  }
  side.version = vm.Version();
  // The one wait for READY (ReadyWatch), as a check's boot waits: a VMM
  // exit, a panic or a crash line before READY fails the boot.
  ReadyWatch watch({});
  watch.Expect(Role::kVictim, boot_start + target.boot_timeout);
  bool ready = false;
  while (watch.waiting() && error.empty()) {
    std::optional<VmEvent> e = events.Wait(watch.deadline());
    const ReadyWatch::Step step = e ? watch.OnEvent(*e) : watch.OnTimeout(Clock::now());
    switch (step.outcome) {
      case ReadyWatch::Outcome::kNothing:
        break;
      case ReadyWatch::Outcome::kReady:
        ready = true;
        side.ready_ms = MsSince(boot_start, step.at);
        break;
      case ReadyWatch::Outcome::kTimedOut:
        error = "no READY from the agent within " +
                Fmt("%.0f s", target.boot_timeout.count() / 1000.0);
        break;
      case ReadyWatch::Outcome::kBootAgain:  // not asked for (boot_again_once)
      case ReadyWatch::Outcome::kFailed:
      case ReadyWatch::Outcome::kHostFailed:  // not asked for (host_underneath)
        error = "the guest did not boot: " + step.why;
        break;
    }
  }
  std::string command = "runout ezone-workload";
  for (const auto& a : WorkloadArgs(opt)) command += " " + a;
  for (int i = 0; ready && error.empty() && i < opt.workload_runs; ++i) {
    std::string reply;
    auto t0 = Clock::now();
    // A run takes ~4 tests x workload_ms plus warm-ups; TCG on a busy host
    // stretches the warm-ups, not the timed part.
    bool ok = vm.AgentCommand(command, milliseconds(30000 + 40 * opt.workload_ms), &reply);
    double ms = MsSince(t0, Clock::now());
    std::map<std::string, double> figures;
    if (!ok) {
      error = "the agent answered: " + reply +
              (reply.find("unknown command") != std::string::npos
                   ? " (a guest image from before `runout`: rebuild it)"
                   : "");
      break;
    }
    figures = ParseWorkloadResult(reply, &error);
    if (!error.empty()) break;
    side.runs.push_back(figures);
    side.lines.push_back(reply.substr(reply.find("ezone-workload v=1")));
    side.round_trip_ms.push_back(ms);
  }
  vm.Destroy();
  if (!error.empty()) {
    side.reason = error;
    return side;
  }
  side.status = "ran";
  TakeMedians(side);
  return side;
}

// Speed relative to native (1 = native, 0.1 = ten times slower) per metric.
std::map<std::string, double> Relative(const WorkloadSide& side, const WorkloadSide& native) {
  std::map<std::string, double> out;
  for (const WorkloadMetric& m : kWorkloadMetrics) {
    double v = side.median.count(m.key) ? side.median.at(m.key) : NAN;
    double n = native.median.count(m.key) ? native.median.at(m.key) : NAN;
    out[m.key] = m.higher_is_better ? v / n : n / v;
  }
  return out;
}

// The geometric mean of the per-metric relative speeds: one number per VMM.
double Score(const std::map<std::string, double>& relative) {
  double log_sum = 0;
  int n = 0;
  for (const auto& [key, r] : relative) {
    if (!(r > 0) || !std::isfinite(r)) return NAN;
    log_sum += std::log(r);
    ++n;
  }
  return n ? std::exp(log_sum / n) : NAN;
}

std::string IsoNowUtc() {
  std::time_t t = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return text;
}

}  // namespace

int RunWorkloadBench(const BenchOptions& opt) {
  if (opt.workload_runs < 1 || opt.workload_ms < 20 || opt.workload_ms > 10000 ||
      opt.workload_buf_mib < 1 || opt.workload_buf_mib > 64) {
    std::cerr << "ezone bench --workload: --workload-runs >= 1, --workload-ms 20..10000, "
                 "--workload-buf-mib 1..64\n";
    return 2;
  }
  std::string suite_file = opt.suite.empty() ? DefaultSuite() : opt.suite;
  Suite suite = LoadSuite(suite_file);  // throws SuiteError
  std::vector<WorkloadTarget> targets;
  for (const CheckSpec& c : suite.checks) {
    bool seen = std::any_of(targets.begin(), targets.end(),
                            [&](const WorkloadTarget& t) { return t.label == c.vmm_label; });
    if (seen) continue;
    if (!opt.vmm_labels.empty() &&
        std::find(opt.vmm_labels.begin(), opt.vmm_labels.end(), c.vmm_label) == opt.vmm_labels.end()) {
      continue;
    }
    targets.push_back({c.vmm_label, c.vmm, c.vmm_options, c.kernel_args, c.host, c.memory_mib,
                       c.boot_timeout});
  }
  for (const auto& wanted : opt.vmm_labels) {
    if (std::none_of(targets.begin(), targets.end(),
                     [&](const WorkloadTarget& t) { return t.label == wanted; })) {
      std::cerr << "ezone bench --workload: no VMM labelled '" << wanted << "' in " << suite_file << "\n";
      return 2;
    }
  }

  GuestImage image = GuestImage::Locate(opt.guest_dir);
  if (!image.missing.empty()) {
    std::cerr << "ezone bench: " << image.missing << "\n";
    return 1;
  }
  // The same static binary the image packs as /bin/ezone-workload.
  std::string program = (image.kernel.parent_path() / "ezone-workload").string();
  if (access(program.c_str(), X_OK) != 0) {
    std::cerr << "ezone bench: " << program << " missing (build the ezone_guest_workload target)\n";
    return 1;
  }
  // Plugins whose probe boots a guest (kvm) use the image chosen here.
  setenv("EZONE_GUEST_DIR", image.kernel.parent_path().c_str(), /*overwrite=*/0);

  BenchWorkDir work_dir;  // before any thread exists: its janitor forks
  if (!work_dir.made()) {
    std::cerr << "ezone bench: " << work_dir.error() << "\n";
    return 2;
  }
  const fs::path& work = work_dir.path();

  PluginRegistry registry;
  registry.Discover(DefaultPluginDirs(opt.plugin_dirs));

  std::string args_text;
  for (const auto& a : WorkloadArgs(opt)) args_text += " " + a;
  std::cout << "ezone bench --workload: ezone-workload" << args_text << ", median of "
            << opt.workload_runs << " run(s) natively and in a guest on each VMM of " << suite_file
            << "\n" << std::flush;

  WorkloadSide native = RunNative(opt, program);
  std::cout << "native: " << (native.status == "ran" ? native.lines.front() : "error: " + native.reason)
            << "\n" << std::flush;
  std::vector<WorkloadSide> sides;
  for (const WorkloadTarget& t : targets) {
    std::cout << t.label << ": booting the guest (" << t.vmm
              << (t.options.empty() ? "" : ", " + t.options) << ") ..." << std::flush;
    WorkloadSide side = RunOnVmm(opt, t, registry, image, work);
    if (side.status == "ran") {
      std::cout << " READY in " << Fmt("%.1f s", side.ready_ms / 1000) << "; " << side.lines.front()
                << "\n";
    } else {
      std::cout << " " << side.status << ": " << side.reason << "\n";
    }
    std::cout << std::flush;
    sides.push_back(std::move(side));
  }

  // The table: figures, and speed relative to native in parentheses.
  printf("\n  %-18s", "medians");
  for (const WorkloadMetric& m : kWorkloadMetrics) {
    std::string head = std::string(m.label) + " " + m.unit;
    printf(" %20s", head.c_str());
  }
  printf(" %12s %10s\n", "vs native", "overhead");
  auto row = [](const WorkloadSide& side, const WorkloadSide* native) {
    printf("  %-18s", side.label.c_str());
    std::map<std::string, double> rel;
    if (native) rel = Relative(side, *native);
    for (const WorkloadMetric& m : kWorkloadMetrics) {
      double v = side.median.at(m.key);
      std::string cell = Fmt(v >= 100 ? "%.0f" : "%.1f", v);
      if (native) cell += " (" + Fmt("%.2fx", rel[m.key]) + ")";
      printf(" %20s", cell.c_str());
    }
    if (native) {
      double score = Score(rel);
      printf(" %12s %10s\n", Fmt("%.3f", score).c_str(), Fmt("%+.0f%%", (1 / score - 1) * 100).c_str());
    } else {
      printf(" %12s %10s\n", "1", "-");
    }
  };
  bool ok = native.status == "ran";
  if (ok) row(native, nullptr);
  int ran = 0, skipped = 0;
  for (const WorkloadSide& side : sides) {
    if (side.status == "ran" && ok) {
      row(side, &native);
      ++ran;
    } else {
      printf("  %-18s %s: %s\n", side.label.c_str(), side.status.c_str(), side.reason.c_str());
      skipped += side.status == "skipped";
      ok = ok && side.status != "error";
    }
  }
  printf("\n(x) = speed relative to native, 1 = native; \"vs native\" = their geometric mean "
         "(the chart's x); overhead = 1 / that - 1\n");

  // performance.json: filled here, written by the reports library beside
  // its reader (ezone/report/performance.h).
  report::PerformanceData perf;
  perf.created = IsoNowUtc();
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  perf.host = host;
  perf.host_cpus = std::thread::hardware_concurrency();
  perf.suite_file = fs::absolute(suite_file).string();
  perf.workload_program = program;
  perf.workload_guest_program = "/bin/ezone-workload";
  perf.workload_args = args_text.empty() ? "" : args_text.substr(1);
  perf.workload_runs = opt.workload_runs;
  perf.workload_test_ms = opt.workload_ms;
  perf.workload_buffer_mib = opt.workload_buf_mib;
  if (image.properties.count("guest_image_sha256")) {
    perf.guest_image_sha256 = image.properties.at("guest_image_sha256");
  }
  for (const WorkloadMetric& m : kWorkloadMetrics) {
    perf.metrics.push_back({m.key, m.label, m.unit, m.higher_is_better});
  }
  auto figures = [&](const WorkloadSide& side, bool is_native) {
    report::VmmPerformance p;
    p.label = side.label;
    p.vmm = side.vmm;
    p.vmm_options = side.options;
    p.status = side.status;
    p.reason = side.reason;
    p.version = side.version;
    if (side.status != "ran") return p;
    if (!is_native && std::isfinite(side.ready_ms)) p.ready_ms = side.ready_ms;
    for (const WorkloadMetric& m : kWorkloadMetrics) p.median[m.key] = side.median.at(m.key);
    p.result_lines = side.lines;
    p.host_round_trip_ms = side.round_trip_ms;
    if (!is_native && native.status == "ran") {
      p.relative = Relative(side, native);
      const double score = Score(p.relative);
      if (std::isfinite(score)) {
        p.performance = score;
        p.overhead = 1 / score - 1;
      }
    }
    return p;
  };
  perf.native_run = figures(native, /*is_native=*/true);
  for (const WorkloadSide& side : sides) perf.vmms.push_back(figures(side, /*is_native=*/false));

  if (!opt.json.empty()) {
    try {
      report::WritePerformance(perf, opt.json);
    } catch (const std::exception& e) {
      std::cerr << "ezone bench: cannot write " << opt.json << ": " << e.what() << "\n";
      return 1;
    }
    std::cout << "JSON: " << fs::absolute(opt.json).string() << "\n";
  }
  if (!ok) return 1;
  if (ran == 0 && skipped > 0) return kExitSkipped;
  return 0;
}

}  // namespace ezone
