#include "nested_host.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "build_config.h"
#include "check_runner.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr int kLibvirtPort = 16509;  // libvirtd's TCP port inside

// A free TCP port on 127.0.0.1 for QEMU's forward. Another process may take
// it before QEMU binds it; QEMU then fails to start and says so.
int FreeLocalPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}


// Oracle thresholds, as for the local host (host_oracle.cc), on round trips
// through the agent: a slow sample is far above the baseline and above an
// absolute floor, since the nested host runs under TCG.
constexpr double kSlowFactor = 10.0;
constexpr double kSlowFloorMs = 500.0;
constexpr auto kSamplePeriod = milliseconds(250);
constexpr auto kCommandTimeout = milliseconds(3000);

class NestedHostOracle : public HostOracle {
 public:
  explicit NestedHostOracle(VmSession* host) : host_(host) {}
  ~NestedHostOracle() override { StopSampling(); }

  std::string Describe() const override { return "nested host"; }

  void Begin() override {
    taint_before_ = Taint();
    std::vector<double> rounds;
    for (int i = 0; i < 3; ++i) {
      double ms = RoundTripMs();
      if (ms >= 0) rounds.push_back(ms);
    }
    std::sort(rounds.begin(), rounds.end());
    baseline_ms_ = rounds.empty() ? -1 : rounds[rounds.size() / 2];
    stop_ = false;
    sampler_ = std::thread([this] { Sample(); });
  }

  HostAssessment Assess() override {
    StopSampling();
    HostAssessment a;
    a.kernel_log_readable = true;  // its console is watched by the runner
    a.baseline_probe_ms = baseline_ms_;
    a.probe_ms = worst_ms_;
    a.samples = samples_;
    a.slow_samples = slow_samples_;
    std::string pong;
    a.probe_ok = host_->AgentCommand("ping", kCommandTimeout, &pong);
    if (!a.probe_ok) {
      a.evidence.push_back("nested host: its agent does not answer (" + pong + ")");
      return a;
    }
    a.evidence.push_back("nested host: its agent answers");
    std::optional<unsigned long long> taint_after = Taint();
    if (taint_before_ && taint_after) {
      a.taint_before = *taint_before_;
      a.taint_after = *taint_after;
      a.evidence.push_back(
          a.taint_after == a.taint_before
              ? "nested host: kernel taint unchanged (" + std::to_string(a.taint_after) + ")"
              : "nested host: kernel taint " + std::to_string(a.taint_before) + " -> " +
                    std::to_string(a.taint_after));
    } else {
      a.evidence.push_back("nested host: kernel taint not readable through its agent");
    }
    char text[200];
    snprintf(text, sizeof text,
             "nested host: agent round trip (run /bin/true): worst %.1f ms over %d samples "
             "(baseline %.1f ms); %d slow samples",
             worst_ms_, samples_, baseline_ms_, slow_samples_);
    a.evidence.push_back(text);
    // pidof exits 0 when a process of that name exists.
    std::string reply;
    if (host_->AgentCommand("run /bin/pidof qemu-system-x86_64", kCommandTimeout, &reply) &&
        reply.find("exit=0") != std::string::npos) {
      a.leaks.push_back("nested host: a QEMU process still runs after teardown");
    } else {
      a.evidence.push_back("nested host: no QEMU process left after teardown");
    }
    return a;
  }

 private:
  // /proc/sys/kernel/tainted, through the agent's runout ("exit=0 <line>").
  std::optional<unsigned long long> Taint() {
    std::string reply;
    if (!host_->AgentCommand("runout /bin/cat /proc/sys/kernel/tainted", kCommandTimeout,
                             &reply) ||
        reply.rfind("exit=0 ", 0) != 0) {
      return std::nullopt;
    }
    try {
      return std::stoull(reply.substr(7));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }

  double RoundTripMs() {
    auto start = Clock::now();
    std::string reply;
    if (!host_->AgentCommand("run /bin/true", kCommandTimeout, &reply)) return -1;
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  }

  void Sample() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      double ms = RoundTripMs();
      lock.lock();
      ++samples_;
      double slow_at = std::max(kSlowFloorMs, kSlowFactor * baseline_ms_);
      if (ms < 0 || ms > slow_at) ++slow_samples_;
      worst_ms_ = std::max(worst_ms_, ms < 0 ? static_cast<double>(kCommandTimeout.count()) : ms);
      cv_.wait_for(lock, kSamplePeriod, [this] { return stop_; });
    }
  }

  void StopSampling() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (sampler_.joinable()) sampler_.join();
  }

  VmSession* host_;
  std::optional<unsigned long long> taint_before_;
  double baseline_ms_ = -1, worst_ms_ = 0;
  int samples_ = 0, slow_samples_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = true;
  std::thread sampler_;
};

}  // namespace

NestedHostImage NestedHostImage::Locate() {
  NestedHostImage image;
  static_cast<BootImage&>(image) = FindBootImage(
      BootImageDirs("EZONE_NESTED_HOST_DIR", kInstallNestedHostDir, kBuildNestedHostDir),
      {"vmlinuz", "initramfs.cpio", "nested-host-manifest.json", "nested_host_",
       "nested host image",
       "build it with: cmake --build build --target ezone_nested_host_image "
       "(configured with -DEZONE_NESTED_HOST=ON)"});
  return image;
}

NestedHost::NestedHost(const Plugin& qemu, const NestedHostImage& image,
                       const fs::path& console_log, EventQueue* events)
    : image_(image), session_(qemu, "host", MakeNonce(), console_log, events) {}

NestedHost::~NestedHost() { Destroy(); }

ezone_status NestedHost::Start(std::string* error) {
  port_ = FreeLocalPort();
  if (port_ == 0) {
    *error = "no free TCP port on 127.0.0.1 for the nested host's libvirtd";
    return EZONE_FAILED;
  }
  BootRequest host;
  host.kernel = image_.kernel.string();
  host.initramfs = image_.initramfs.string();
  // Its vCPUs are emulator threads on a shared machine: when they starve,
  // the kernel's RCU stall and lockup watchdogs cry wolf (seen once in a CI
  // run, while it booted). A hung nested host is caught by its agent's
  // silence instead.
  host.cmdline = AgentCmdline(session_.nonce(), kHeartbeatPeriodMs,
                              "rcupdate.rcu_cpu_stall_suppress=1 nowatchdog");
  host.memory_mib = kMemoryMib;
  host.vcpus = kVcpus;
  host.options = std::string("cpu=") + kCpu + ";hostfwd=tcp:127.0.0.1:" +
                 std::to_string(port_) + "-:" + std::to_string(kLibvirtPort);
  return session_.Start(host, error);
}

std::string NestedHost::VmmOptions() const {
  // The boot probe is left out: the nested host's READY already means
  // libvirtd offers kvm domains (nested-host/init), and the check's own
  // boot shows whether KVM works.
  return "uri=qemu+tcp://127.0.0.1:" + std::to_string(port_) + "/system;guest_dir=" +
         kGuestDir + ";probe_boot=0";
}

std::string NestedHost::Describe() const {
  auto get = [&](const char* key) {
    auto it = image_.properties.find(key);
    return it == image_.properties.end() ? std::string("?") : it->second;
  };
  return "nested host: Debian kernel " + get("nested_host_kernel_release") + ", " +
         get("nested_host_libvirtd") + ", in " + session_.Version() + " on an emulated EPYC (SVM, NPT)" +
         ", libvirtd at 127.0.0.1:" + std::to_string(port_);
}

void NestedHost::DumpLogs() {
  if (logs_dumped_) return;
  logs_dumped_ = true;
  std::string reply;
  session_.AgentCommand("run /sbin/ezone-host-dump", milliseconds(5000), &reply);
}

std::unique_ptr<HostOracle> MakeNestedHostOracle(VmSession* host) {
  return std::make_unique<NestedHostOracle>(host);
}

}  // namespace ezone
