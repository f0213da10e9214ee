#include "host_oracle.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

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

unsigned long long ReadTaint() {
  std::ifstream in("/proc/sys/kernel/tainted");
  unsigned long long taint = 0;
  in >> taint;
  return taint;
}

class LocalHostOracle : public HostOracle {
 public:
  ~LocalHostOracle() override {
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
  }

  HostAssessment Assess() override {
    HostAssessment a;
    a.taint_before = taint_before_;
    a.baseline_probe_ms = baseline_probe_ms_;
    ReadKernelLog(a);
    a.taint_after = ReadTaint();
    a.probe_ms = ProbeForkExec(kProbeTimeoutMs);
    a.probe_ok = a.probe_ms >= 0;

    if (!a.kernel_log_readable) {
      a.evidence.push_back(std::string("host: kernel log not readable (/dev/kmsg: ") +
                           std::strerror(kmsg_errno_) + "); oops detection off");
    } else if (a.crash_lines.empty() && a.warning_lines.empty()) {
      a.evidence.push_back("host: no new oops, BUG, lockup or warning in the kernel log");
    }
    for (const auto& l : a.crash_lines) a.evidence.push_back("host kernel: " + l);
    for (const auto& l : a.warning_lines) a.evidence.push_back("host kernel warning: " + l);
    if (a.taint_after == a.taint_before) {
      a.evidence.push_back("host: kernel taint unchanged (" + std::to_string(a.taint_after) + ")");
    } else {
      a.evidence.push_back("host: kernel taint " + std::to_string(a.taint_before) +
                           " -> " + std::to_string(a.taint_after));
    }
    char probe[160];
    if (a.probe_ok) {
      snprintf(probe, sizeof probe,
               "host: fork+exec probe answered in %.1f ms (baseline %.1f ms)",
               a.probe_ms, a.baseline_probe_ms);
    } else {
      snprintf(probe, sizeof probe,
               "host: fork+exec probe FAILED or took over %d ms", kProbeTimeoutMs);
    }
    a.evidence.push_back(probe);
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

  int kmsg_fd_ = -1;
  int kmsg_errno_ = 0;
  unsigned long long taint_before_ = 0;
  double baseline_probe_ms_ = 0;
};

}  // namespace

bool HostAssessment::Degraded() const {
  bool slow = probe_ok && probe_ms > kProbeDegradedFloorMs &&
              probe_ms > kProbeDegradedFactor * baseline_probe_ms;
  return !warning_lines.empty() || slow;
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
