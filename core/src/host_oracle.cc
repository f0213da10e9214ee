#include "host_oracle.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <sstream>

#include "console_classifier.h"

extern char** environ;

namespace ezone {
namespace {

using Clock = std::chrono::steady_clock;

// Latency this far above the baseline (and above an absolute floor, since a
// 1 ms baseline doubling is noise) counts as degradation.
constexpr double kProbeDegradedFactor = 10.0;
constexpr double kProbeDegradedFloorMs = 250.0;
constexpr int kProbeTimeoutMs = 5000;
constexpr size_t kMaxHostLines = 50;
constexpr auto kSamplePeriod = std::chrono::milliseconds(250);
constexpr double kTimerDegradedMs = 100.0;  // a 1 ms sleep taking 100 ms more

namespace fs = std::filesystem;

// Direct children of this process (the runner): after teardown there must be
// none, whatever else runs on the host.
std::set<int> ChildPids() {
  std::set<int> pids;
  std::string self = std::to_string(getpid());
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    // "pid (comm) state ppid ...": comm may hold spaces, so parse from ')'.
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    std::string state, ppid;
    rest >> state >> ppid;
    if (ppid == self) pids.insert(std::stoi(name));
  }
  return pids;
}

size_t OpenDescriptors() {
  std::error_code ec;
  size_t n = 0;
  for (auto it = fs::directory_iterator("/proc/self/fd", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    ++n;
  }
  return n;
}

// Temp entries of this runner: anything ezone or a plugin makes in the temp
// directory is named ezone-<runner pid>-..., so other processes' files on a
// shared host are not mistaken for ours.
std::set<std::string> TempEntries() {
  std::set<std::string> names;
  std::string prefix = "ezone-" + std::to_string(getpid());
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::temp_directory_path(ec), ec)) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) names.insert(e.path());
  }
  return names;
}

// One slow sample is noise on a shared host (a build, another VM); the host
// is degraded when probes are slow in at least this many samples and at
// least a fifth of them.
constexpr int kMinSlowSamples = 3;

unsigned long long ReadTaint() {
  std::ifstream in("/proc/sys/kernel/tainted");
  unsigned long long taint = 0;
  in >> taint;
  return taint;
}

class LocalHostOracle : public HostOracle {
 public:
  ~LocalHostOracle() override {
    StopSampling();
    if (kmsg_fd_ >= 0) close(kmsg_fd_);
  }

  std::string Describe() const override { return "local"; }

  void Begin() override {
    if (kmsg_fd_ >= 0) close(kmsg_fd_);
    // Each open of /dev/kmsg has its own cursor; seek to the end so only
    // records written from now on are read.
    kmsg_fd_ = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    kmsg_errno_ = kmsg_fd_ < 0 ? errno : 0;
    if (kmsg_fd_ >= 0) lseek(kmsg_fd_, 0, SEEK_END);
    taint_before_ = ReadTaint();
    baseline_probe_ms_ = ProbeForkExec(kProbeTimeoutMs);
    baseline_timer_ms_ = ProbeTimerOvershoot();
    children_before_ = ChildPids();
    fds_before_ = OpenDescriptors();
    temp_before_ = TempEntries();
    StartSampling();
  }

  HostAssessment Assess() override {
    HostAssessment a;
    a.taint_before = taint_before_;
    a.baseline_probe_ms = baseline_probe_ms_;
    ReadKernelLog(a);
    StopSampling();
    a.taint_after = ReadTaint();
    double last = ProbeForkExec(kProbeTimeoutMs);
    a.probe_ok = last >= 0 && !sample_failed_;
    a.probe_ms = std::max(last, worst_probe_ms_);
    a.baseline_timer_overshoot_ms = baseline_timer_ms_;
    a.timer_overshoot_ms = worst_timer_ms_;
    a.samples = samples_;
    a.slow_samples = slow_samples_;
    FindLeaks(a);

    using report::Severity;
    auto add = [&a](Severity severity, std::string text) {
      a.evidence.push_back({report::EvidenceSource::kHost, severity, std::move(text)});
    };
    if (!a.kernel_log_readable) {
      add(Severity::kWarning, std::string("host: kernel log not readable (/dev/kmsg: ") +
                                  std::strerror(kmsg_errno_) + "); oops detection off");
    } else if (a.crash_lines.empty() && a.warning_lines.empty()) {
      add(Severity::kGood, "host: no new oops, BUG, lockup or warning in the kernel log");
    }
    for (const auto& l : a.crash_lines) add(Severity::kBad, "host kernel: " + l);
    for (const auto& l : a.warning_lines) add(Severity::kWarning, "host kernel warning: " + l);
    if (a.taint_after == a.taint_before) {
      add(Severity::kGood, "host: kernel taint unchanged (" + std::to_string(a.taint_after) + ")");
    } else {
      add(Severity::kBad, "host: kernel taint " + std::to_string(a.taint_before) + " -> " +
                              std::to_string(a.taint_after));
    }
    char probe[200];
    if (a.probe_ok) {
      snprintf(probe, sizeof probe,
               "host: fork+exec probe: worst %.1f ms over %d samples (baseline %.1f ms); "
               "timer overshoot worst %.2f ms (baseline %.2f ms); %d slow samples",
               a.probe_ms, a.samples, a.baseline_probe_ms, a.timer_overshoot_ms,
               a.baseline_timer_overshoot_ms, a.slow_samples);
    } else {
      snprintf(probe, sizeof probe,
               "host: fork+exec probe FAILED or took over %d ms", kProbeTimeoutMs);
    }
    add(!a.probe_ok ? Severity::kBad : a.Degraded() ? Severity::kWarning : Severity::kInfo, probe);
    if (a.leaks.empty()) {
      add(Severity::kGood, "host: runner's children, descriptors and temp entries back to baseline");
    }
    for (const auto& l : a.leaks) add(Severity::kWarning, "host: leak: " + l);
    return a;
  }

 private:
  void ReadKernelLog(HostAssessment& a) {
    if (kmsg_fd_ < 0) {
      a.kernel_log_readable = false;
      return;
    }
    char record[8192];
    for (;;) {
      ssize_t n = read(kmsg_fd_, record, sizeof record - 1);
      if (n < 0 && errno == EPIPE) continue;  // overwritten records: skip on
      if (n <= 0) break;                      // EAGAIN: nothing new
      std::string_view text(record, static_cast<size_t>(n));
      // "prio,seq,usec,flags;message\n continuation lines"
      size_t semi = text.find(';');
      if (semi == std::string_view::npos) continue;
      std::string_view message = text.substr(semi + 1);
      message = message.substr(0, message.find('\n'));
      ConsoleClass c = ClassifyConsoleLine(message);
      auto& bucket = IsCrash(c) ? a.crash_lines : a.warning_lines;
      if (c != ConsoleClass::kNone && bucket.size() < kMaxHostLines) {
        bucket.emplace_back(message);
      }
    }
  }

  // A thread samples the probes through the fault window, so a host that
  // stalls while the fault runs is seen even if it recovers by Assess().
  void StartSampling() {
    stop_ = false;
    worst_probe_ms_ = worst_timer_ms_ = 0;
    samples_ = slow_samples_ = 0;
    sample_failed_ = false;
    sampler_ = std::thread([this] {
      std::unique_lock lock(mu_);
      while (!cv_.wait_for(lock, kSamplePeriod, [&] { return stop_; })) {
        lock.unlock();
        double fork_ms = ProbeForkExec(kProbeTimeoutMs);
        double timer_ms = ProbeTimerOvershoot();
        lock.lock();
        if (fork_ms < 0) sample_failed_ = true;
        bool slow_fork = fork_ms > kProbeDegradedFloorMs &&
                         fork_ms > kProbeDegradedFactor * baseline_probe_ms_;
        bool late_timer = timer_ms > kTimerDegradedMs &&
                          timer_ms > kProbeDegradedFactor * baseline_timer_ms_;
        if (slow_fork || late_timer) ++slow_samples_;
        worst_probe_ms_ = std::max(worst_probe_ms_, fork_ms);
        worst_timer_ms_ = std::max(worst_timer_ms_, timer_ms);
        ++samples_;
      }
    });
  }

  void StopSampling() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (sampler_.joinable()) sampler_.join();
  }

  void FindLeaks(HostAssessment& a) {
    for (int pid : ChildPids()) {
      if (!children_before_.count(pid)) a.leaks.push_back("child process " + std::to_string(pid));
    }
    size_t fds = OpenDescriptors();
    if (fds > fds_before_) {
      a.leaks.push_back(std::to_string(fds - fds_before_) + " more open descriptors than before");
    }
    for (const auto& entry : TempEntries()) {
      if (!temp_before_.count(entry)) a.leaks.push_back("temp entry " + entry);
    }
  }

  int kmsg_fd_ = -1;
  int kmsg_errno_ = 0;
  unsigned long long taint_before_ = 0;
  double baseline_probe_ms_ = 0;
  double baseline_timer_ms_ = 0;
  std::set<int> children_before_;
  size_t fds_before_ = 0;
  std::set<std::string> temp_before_;

  std::mutex mu_;  // guards the sampling state below
  std::condition_variable cv_;
  bool stop_ = false;
  double worst_probe_ms_ = 0, worst_timer_ms_ = 0;
  int samples_ = 0, slow_samples_ = 0;
  bool sample_failed_ = false;
  std::thread sampler_;
};

}  // namespace

bool HostAssessment::Degraded() const {
  bool sustained = slow_samples >= kMinSlowSamples && slow_samples * 5 >= samples;
  return !warning_lines.empty() || sustained;
}

double ProbeTimerOvershoot() {
  auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count() - 1.0;
}

double ProbeForkExec(int timeout_ms) {
  auto start = Clock::now();
  pid_t pid;
  char arg0[] = "true";
  char* argv[] = {arg0, nullptr};
  if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) != 0) {
    return -1;
  }
  for (;;) {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (r == pid) return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? ms : -1;
    if (r < 0) return -1;
    if (ms > timeout_ms) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

std::unique_ptr<HostOracle> MakeLocalHostOracle() {
  return std::make_unique<LocalHostOracle>();
}

}  // namespace ezone
