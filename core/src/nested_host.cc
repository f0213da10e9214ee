#include "nested_host.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "build_config.h"
#include "check_runner.h"
#include "ezone/sdk.h"
#include "nested_xen_host.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr int kLibvirtPort = 16514;  // libvirtd's TLS port inside

extern "C" char** environ;

// Every name the credentials directory can hold, for the watcher, which
// may not list a directory after fork. Files first, then directories.
constexpr const char* kCredentialFiles[] = {
    "host/cacert.pem",   "host/servercert.pem",   "host/serverkey.pem",
    "client/cacert.pem", "client/clientcert.pem", "client/clientkey.pem",
    "ca.key",            "server.csr",            "client.csr",
    "openssl.cnf"};
constexpr const char* kCredentialDirs[] = {"host", "client"};

// What openssl needs beyond its command line: the extensions libvirt checks
// (virnettlscontext.c: a CA with CA:TRUE, leaves without it; no keyUsage on
// the leaves, which libvirt would then require to include keyEncipherment).
constexpr const char* kOpensslConfig =
    "[req]\n"
    "distinguished_name = dn\n"
    "prompt = no\n"
    "[dn]\n"
    "CN = ezone\n"
    "[ca]\n"
    "basicConstraints = critical,CA:TRUE\n"
    "keyUsage = critical,keyCertSign,cRLSign\n"
    "subjectKeyIdentifier = hash\n"
    "[server]\n"
    "basicConstraints = critical,CA:FALSE\n"
    "subjectAltName = IP:127.0.0.1\n"
    "extendedKeyUsage = serverAuth\n"
    "[client]\n"
    "basicConstraints = critical,CA:FALSE\n"
    "extendedKeyUsage = clientAuth\n";

// Runs openssl with `args` in `cwd`; false and its output in `error` if it
// fails.
bool RunOpenssl(const std::vector<std::string>& args, const fs::path& cwd, std::string* error) {
  std::vector<std::string> full = {"openssl"};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + strerror(errno);
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, "openssl", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  std::string output;
  if (rc == 0) {
    char buffer[4096];
    ssize_t n;
    while ((n = read(out[0], buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) output.append(buffer, static_cast<size_t>(n));
    }
  }
  close(out[0]);
  if (rc != 0) {
    *error = std::string("cannot run openssl (") + strerror(rc) +
             "): the nested host's libvirtd takes only a client certificate made for the run";
    return false;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *error = "openssl " + args.front() + " failed: " + output.substr(0, 2000);
    return false;
  }
  return true;
}

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
  NestedHostOracle(VmSession* host, std::string leak_check)
      : host_(host), leak_check_(std::move(leak_check)) {}
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
    using report::Severity;
    auto add = [&a](Severity severity, std::string text) {
      a.evidence.push_back({report::EvidenceSource::kNestedHost, severity, std::move(text)});
    };
    a.probe_ok = host_->AgentCommand("ping", kCommandTimeout, &pong);
    if (!a.probe_ok) {
      add(Severity::kBad, "nested host: its agent does not answer (" + pong + ")");
      return a;
    }
    add(Severity::kGood, "nested host: its agent answers");
    std::optional<unsigned long long> taint_after = Taint();
    if (taint_before_ && taint_after) {
      a.taint_before = *taint_before_;
      a.taint_after = *taint_after;
      if (a.taint_after == a.taint_before) {
        add(Severity::kGood,
            "nested host: kernel taint unchanged (" + std::to_string(a.taint_after) + ")");
      } else {
        add(Severity::kBad, "nested host: kernel taint " + std::to_string(a.taint_before) +
                                " -> " + std::to_string(a.taint_after));
      }
    } else {
      add(Severity::kWarning, "nested host: kernel taint not readable through its agent");
    }
    char text[200];
    snprintf(text, sizeof text,
             "nested host: agent round trip (run /bin/true): worst %.1f ms over %d samples "
             "(baseline %.1f ms); %d slow samples",
             worst_ms_, samples_, baseline_ms_, slow_samples_);
    add(a.Degraded() ? Severity::kWarning : Severity::kInfo, text);
    // pidof (KVM) / ezone-vm-left (Xen) exit 0 when a VM is still there.
    std::string reply;
    if (host_->AgentCommand(leak_check_, kCommandTimeout, &reply) &&
        reply.find("exit=0") != std::string::npos) {
      a.leaks.push_back("nested host: a VM (" + leak_check_ + ") still runs after teardown");
    } else {
      add(Severity::kGood, "nested host: no VM left after teardown (" + leak_check_ + ")");
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
  std::string leak_check_;
  std::optional<unsigned long long> taint_before_;
  double baseline_ms_ = -1, worst_ms_ = 0;
  int samples_ = 0, slow_samples_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = true;
  std::thread sampler_;
};

}  // namespace

bool NestedHostCredentials::Create(std::string* error) {
  Remove();
  std::string pattern = (fs::temp_directory_path() / "ezone-nested-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {  // 0700
    *error = "cannot make a directory for the nested host's credentials: " +
             std::string(strerror(errno));
    return false;
  }
  dir_ = pattern;
  StartWatcher();
  std::error_code ec;
  fs::create_directory(host_dir(), ec);
  fs::create_directory(client_dir(), ec);
  {
    std::ofstream config(dir_ / "openssl.cnf");
    config << kOpensslConfig;
  }
  const std::vector<std::string> key = {"-newkey", "ec", "-pkeyopt",
                                        "ec_paramgen_curve:prime256v1", "-nodes"};
  auto with_key = [&](std::vector<std::string> args) {
    args.insert(args.begin() + 1, key.begin(), key.end());
    return args;
  };
  bool ok =
      RunOpenssl(with_key({"req", "-x509", "-config", "openssl.cnf", "-extensions", "ca",
                           "-keyout", "ca.key", "-out", "host/cacert.pem", "-days", "2",
                           "-subj", "/CN=ezone nested host CA"}),
                 dir_, error) &&
      RunOpenssl(with_key({"req", "-new", "-config", "openssl.cnf", "-keyout",
                           "host/serverkey.pem", "-out", "server.csr", "-subj", "/CN=127.0.0.1"}),
                 dir_, error) &&
      RunOpenssl({"x509", "-req", "-in", "server.csr", "-CA", "host/cacert.pem", "-CAkey",
                  "ca.key", "-set_serial", "2", "-days", "2", "-extfile", "openssl.cnf",
                  "-extensions", "server", "-out", "host/servercert.pem"},
                 dir_, error) &&
      RunOpenssl(with_key({"req", "-new", "-config", "openssl.cnf", "-keyout",
                           "client/clientkey.pem", "-out", "client.csr", "-subj",
                           "/CN=ezone runner"}),
                 dir_, error) &&
      RunOpenssl({"x509", "-req", "-in", "client.csr", "-CA", "host/cacert.pem", "-CAkey",
                  "ca.key", "-set_serial", "3", "-days", "2", "-extfile", "openssl.cnf",
                  "-extensions", "client", "-out", "client/clientcert.pem"},
                 dir_, error);
  if (ok) {
    fs::copy_file(host_dir() / "cacert.pem", client_dir() / "cacert.pem", ec);
    if (ec) {
      *error = "copying the nested host's CA certificate: " + ec.message();
      ok = false;
    }
  }
  // No one signs anything more with this CA.
  for (const char* scratch : {"ca.key", "server.csr", "client.csr", "openssl.cnf"}) {
    fs::remove(dir_ / scratch, ec);
  }
  if (!ok) Remove();
  return ok;
}

// The watcher: a child in its own session (a signal to the runner's process
// group does not reach it) that waits on a pipe. A byte means the runner
// removes the directory itself; end of file means the runner died, and it
// removes it. Paths are prepared before fork; the child makes only
// async-signal-safe calls and holds none of the runner's other descriptors.
void NestedHostCredentials::StartWatcher() {
  std::vector<std::string> paths;
  for (const char* file : kCredentialFiles) paths.push_back((dir_ / file).string());
  for (const char* sub : kCredentialDirs) paths.push_back((dir_ / sub).string());
  paths.push_back(dir_.string());
  std::vector<const char*> c_paths;
  for (const auto& path : paths) c_paths.push_back(path.c_str());
  const size_t files = std::size(kCredentialFiles);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return;
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return;
  }
  if (pid == 0) {
    setsid();
    int devnull = open("/dev/null", O_RDWR);
    int keep = fcntl(p[0], F_DUPFD, 3);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    dup2(keep, 3);
    close_range(4, ~0u, 0);
    char byte;
    ssize_t n;
    do {
      n = read(3, &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
      for (size_t i = 0; i < c_paths.size(); ++i) {
        if (i < files) {
          unlink(c_paths[i]);
        } else {
          rmdir(c_paths[i]);
        }
      }
    }
    _exit(0);
  }
  close(p[0]);
  watcher_pid_ = pid;
  watcher_fd_ = p[1];
}

void NestedHostCredentials::Remove() {
  if (watcher_pid_ > 0) {
    char byte = 1;
    (void)!write(watcher_fd_, &byte, 1);
    close(watcher_fd_);
    while (waitpid(watcher_pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    watcher_pid_ = -1;
    watcher_fd_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
  }
}

const char* NestedHostModeName(NestedHostMode mode) {
  return mode == NestedHostMode::kRestored ? "restored" : "booted";
}

bool NestedHostRestoreWanted() {
  const char* env = std::getenv("EZONE_NESTED_HOST_MODE");
  return env == nullptr || std::string(env) != "boot";
}

bool NestedVictimRestoreWanted() {
  const char* env = std::getenv("EZONE_NESTED_HOST_MODE");
  return env == nullptr || (std::string(env) != "boot" && std::string(env) != "host");
}

bool NestedWitnessRestoreWanted() {
  const char* env = std::getenv("EZONE_NESTED_WITNESS");
  return env != nullptr && std::string(env) == "restore" && NestedVictimRestoreWanted();
}

std::string NestedHostProblem(const NestedHostHealth& h) {
  std::vector<std::string> problems;
  if (!h.agent_answers) problems.push_back("its agent does not answer");
  if (!h.clock_set) problems.push_back("its clock was not set");
  if (!h.credentials_set) problems.push_back("it lacks this check's credentials");
  if (!h.libvirtd_answers) problems.push_back("its libvirtd does not answer");
  if (!h.taint) {
    problems.push_back("its kernel taint is unreadable");
  } else if (*h.taint != 0) {
    problems.push_back("its kernel is tainted (" + std::to_string(*h.taint) + ")");
  }
  if (h.saved_guests.empty()) {
    if (h.domains != 0) {
      problems.push_back(h.domains < 0 ? "its libvirt domains are unknown"
                                       : std::to_string(h.domains) + " libvirt domain(s) left");
    }
    if (h.qemu_running) problems.push_back("a QEMU process runs in it");
  } else {
    std::vector<std::string> held = h.domain_names, saved = h.saved_guests;
    std::sort(held.begin(), held.end());
    std::sort(saved.begin(), saved.end());
    if (h.domains != static_cast<int>(saved.size()) || held != saved) {
      auto join = [](const std::vector<std::string>& names) {
        std::string text;
        for (const auto& n : names) text += (text.empty() ? "" : " ") + n;
        return text;
      };
      problems.push_back(h.domains < 0 ? "its libvirt domains are unknown"
                                       : "its libvirt domains are [" + join(h.domain_names) +
                                             "], not the saved guests [" + join(saved) + "] alone");
    }
    if (!h.qemu_running) problems.push_back("the saved guests' QEMU does not run");
  }
  std::string text;
  for (const auto& p : problems) text += (text.empty() ? "" : ", ") + p;
  return text;
}

std::string NestedHostStateKey(const NestedHostImage& image,
                               const std::string& qemu_plugin_version) {
  auto get = [&](const char* key) {
    auto it = image.properties.find(key);
    return it == image.properties.end() ? image.kernel.string() + "|" + image.initramfs.string()
                                        : it->second;
  };
  std::string qemu = "qemu-system-x86_64?";
  if (const char* path = std::getenv("PATH")) {
    std::string dirs = path;
    for (size_t at = 0; at <= dirs.size();) {
      size_t end = dirs.find(':', at);
      if (end == std::string::npos) end = dirs.size();
      fs::path candidate = fs::path(dirs.substr(at, end - at)) / "qemu-system-x86_64";
      struct stat st {};
      if (end > at && stat(candidate.c_str(), &st) == 0 && (st.st_mode & S_IXUSR)) {
        qemu = candidate.string() + "|" + std::to_string(st.st_size) + "|" +
               std::to_string(st.st_mtim.tv_sec);
        break;
      }
      at = end + 1;
    }
  }
  return "nested-host|" + get("nested_host_image_sha256") + "|" + qemu + "|qemu plugin " +
         qemu_plugin_version + "|" + NestedHost::kCpu + "|" +
         std::to_string(NestedHost::kMemoryMib) + "|" + std::to_string(NestedHost::kVcpus) + "|" +
         std::to_string(kHeartbeatPeriodMs);
}

std::string NestedHostFlavourFor(const std::string& vmm) {
  return vmm == "xen" ? xen_host::kFlavour : "kvm";
}

NestedHostImage NestedHostImage::Locate(const std::string& flavour) {
  if (flavour == xen_host::kFlavour) return xen_host::Locate();
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
    : image_(image), session_(qemu, Role::kHost, MakeNonce(), console_log, events) {}

NestedHost::~NestedHost() { Destroy(); }

BootRequest NestedHost::Request(std::string* error) {
  BootRequest host;
  if (!credentials_.Create(error)) return host;
  port_ = FreeLocalPort();
  if (port_ == 0) {
    *error = "no free TCP port on 127.0.0.1 for the nested host's libvirtd";
    return host;
  }
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
  // The forwarded port speaks TLS only (nested-host/libvirtd.conf); the
  // server's certificate and key reach the nested host over fw_cfg.
  std::string common = "hostfwd=tcp:127.0.0.1:" + std::to_string(port_) + "-:" +
                       std::to_string(kLibvirtPort) +
                       ";fw_cfg_dir=" + credentials_.host_dir().string();
  host.options = std::string("cpu=") + kCpu + ";" + common;
  if (image_.flavour == xen_host::kFlavour) {
    host = xen_host::BootRequestFor(image_, host.cmdline, common, kMemoryMib);
  }
  return host;
}

ezone_status NestedHost::Start(std::string* error) {
  mode_ = NestedHostMode::kBooted;
  BootRequest host = Request(error);
  if (port_ == 0) return EZONE_FAILED;
  return session_.Start(host, error);
}

// The restored VM has the same devices as the one saved (the same command
// line but for the forwarded port and the fw_cfg files' contents, which
// QEMU takes from its command line, not from the state): the new port
// listens at once, and the credentials go in through the agent (Refresh).
ezone_status NestedHost::Restore(const std::string& state, std::string* error,
                                 std::map<Role, std::string> saved_guests) {
  mode_ = NestedHostMode::kRestored;
  saved_guests_ = std::move(saved_guests);
  BootRequest host = Request(error);
  if (port_ == 0) return EZONE_FAILED;
  host.restore_from = state;
  return session_.Start(host, error);
}

bool NestedHost::Refresh(milliseconds timeout, NestedHostHealth* health, std::string* error) {
  *health = NestedHostHealth{};
  const auto deadline = Clock::now() + timeout;
  restore_steps_.clear();
  auto step_start = Clock::now();
  auto step = [&](const char* name) {
    auto now = Clock::now();
    char text[64];
    snprintf(text, sizeof text, "%s%s %.0f ms", restore_steps_.empty() ? "" : ", ", name,
             std::chrono::duration<double, std::milli>(now - step_start).count());
    restore_steps_ += text;
    step_start = now;
  };
  auto left = [&] {
    return std::max(milliseconds(1000),
                    std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
  };
  std::string reply;
  // 1. Alive: a restored agent sends no READY.
  health->agent_answers = session_.AgentCommand("ping", left(), &reply);
  if (!health->agent_answers) {
    *error = "its agent does not answer after the restore (" + reply + ")";
    return false;
  }
  session_.MarkAlive();
  step("agent");
  // 2. Its clock stopped when the state was saved: the certificates made
  //    now would not be valid yet, for libvirtd, in there.
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  health->clock_set =
      session_.AgentCommand("sh date -s @" + std::to_string(now) + " >/dev/null", left(), &reply) &&
      reply.rfind("exit=0", 0) == 0;
  if (!health->clock_set) {
    *error = "setting its clock failed (" + reply + ")";
    return false;
  }
  step("clock");
  // 3. This host's credentials, where init put the saved host's (one line
  //    is at most 512 bytes: the files go in pieces, write then append).
  const std::pair<const char*, const char*> files[] = {
      {"cacert.pem", "/etc/pki/CA/cacert.pem"},
      {"servercert.pem", "/etc/pki/libvirt/servercert.pem"},
      {"serverkey.pem", "/etc/pki/libvirt/private/serverkey.pem"}};
  for (const auto& [name, target] : files) {
    std::ifstream in(credentials_.host_dir() / name, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.empty()) {
      *error = std::string("no ") + name + " in the credentials directory";
      return false;
    }
    constexpr size_t kPiece = 200;  // escaped, at most 4 bytes each: well under 512
    for (size_t at = 0; at < bytes.size(); at += kPiece) {
      std::string command = std::string(at == 0 ? "write " : "append ") + target + " " +
                            sdk::AgentEscape(std::string_view(bytes).substr(at, kPiece));
      if (!session_.AgentCommand(command, left(), &reply)) {
        *error = std::string("writing ") + target + " failed (" + reply + ")";
        return false;
      }
    }
  }
  health->credentials_set = true;
  step("credentials");
  // 4. libvirtd on them: a fresh libvirtd (its QEMU capabilities are
  //    cached from the saved boot, so it is up in about a second), started
  //    as in a booted host, rather than the saved daemon told to reload
  //    its TLS files. Then what libvirt says, as init waits for it: kvm
  //    domains, and how many domains exist.
  //    The saved daemon is killed (SIGKILL): a clean exit would close
  //    the saved connections, and libvirt then destroys their
  //    auto-destroy domains, the saved guest among them.
  //    With a saved guest, its running kvm domain is the proof that kvm
  //    domains work, and the second virsh call (about 350 ms under TCG)
  //    is left out.
  static constexpr const char* kRestartLibvirtd =
      R"(t(){ i=$((i+1)); [ $i -gt 400 ] && exit $1; sleep 0.05; }; i=0; )"
      R"(p=$(cat /run/libvirtd.pid 2>/dev/null); [ -n "$p" ] && kill -9 $p && )"
      R"(while kill -0 $p 2>/dev/null; do t 2; done; )"
      R"(libvirtd --listen --daemon --pid-file /run/libvirtd.pid || exit 3; )"
      R"(v="virsh -q -c qemu:///system"; i=0; )"
      R"(until [ $g = 1 ] || $v domcapabilities --virttype kvm >/dev/null 2>&1; do t 4; done; )"
      R"(until n=$($v list --all --name 2>/dev/null); do t 5; done; echo $n)";
  static_assert(std::char_traits<char>::length(kRestartLibvirtd) < 500,
                "one agent line is at most 512 bytes");
  for (const auto& [role, name] : saved_guests_) health->saved_guests.push_back(name);
  const std::string restart =
      std::string("sh g=") + (saved_guests_.empty() ? "0; " : "1; ") + kRestartLibvirtd;
  if (!session_.AgentCommand(restart, left(), &reply)) {
    *error = "restarting libvirtd failed (" + reply + ")";
    return false;
  }
  // "exit=0 <names, space-separated>".
  if (reply.rfind("exit=0", 0) == 0) {
    health->libvirtd_answers = true;
    std::istringstream names(reply.substr(6));
    for (std::string name; names >> name;) health->domain_names.push_back(name);
    health->domains = static_cast<int>(health->domain_names.size());
  } else {
    *error = "libvirtd did not come back (" + reply + ")";
    return false;
  }
  step("libvirtd restarted");
  // 5. Clean: no taint, no QEMU process.
  if (session_.AgentCommand("runout /bin/cat /proc/sys/kernel/tainted", left(), &reply) &&
      reply.rfind("exit=0 ", 0) == 0) {
    try {
      health->taint = std::stoull(reply.substr(7));
    } catch (const std::exception&) {
    }
  }
  health->qemu_running =
      !session_.AgentCommand("run /bin/pidof qemu-system-x86_64", left(), &reply) ||
      reply.find("exit=0") != std::string::npos;
  step("verify");
  *error = NestedHostProblem(*health);
  return error->empty();
}

std::string NestedHost::VmmOptions() const {
  // The boot probe is left out: the nested host's READY already means
  // libvirtd offers kvm domains (nested-host/init), and the check's own
  // boot shows whether KVM works.
  const char* scheme = image_.flavour == xen_host::kFlavour ? xen_host::kUriScheme : "qemu+tls";
  // A frozen kvm host gives up a domain start in about 30 s (5 s x 6; the
  // plugin's default is two minutes): the core then sees its silence
  // (check_runner.cc). Xen's libxl starts take longer: the default.
  const char* keepalive = image_.flavour == xen_host::kFlavour ? "" : ";keepalive=5:6";
  return "uri=" + std::string(scheme) + "://127.0.0.1:" + std::to_string(port_) +
         "/system?pkipath=" + credentials_.client_dir().string() + ";guest_dir=" + kGuestDir +
         ";probe_boot=0" + keepalive;
}

std::string NestedHost::Describe() const {
  auto get = [&](const char* key) {
    auto it = image_.properties.find(key);
    return it == image_.properties.end() ? std::string("?") : it->second;
  };
  if (image_.flavour == xen_host::kFlavour) {
    return "nested host: " + get("nested_host_xen") + ", PVH dom0 with Debian kernel " +
           get("nested_host_kernel_release") + ", " + get("nested_host_libvirt_libxl") + ", in " +
           session_.Version() + " on an emulated EPYC (SVM, NPT) with an AMD IOMMU" +
           ", libvirtd at 127.0.0.1:" + std::to_string(port_) +
           " (TLS, a client certificate made for this run)";
  }
  return "nested host: Debian kernel " + get("nested_host_kernel_release") + ", " +
         get("nested_host_libvirtd") + ", in " + session_.Version() + " on an emulated EPYC (SVM, NPT)" +
         ", libvirtd at 127.0.0.1:" + std::to_string(port_) +
         " (TLS, a client certificate made for this run)";
}

void NestedHost::DumpLogs() {
  if (logs_dumped_) return;
  logs_dumped_ = true;
  std::string reply;
  session_.AgentCommand("run /sbin/ezone-host-dump", milliseconds(5000), &reply);
}

std::string NestedHost::LeakCheck() const {
  return image_.flavour == xen_host::kFlavour ? xen_host::kLeakCheck
                                              : "run /bin/pidof qemu-system-x86_64";
}

std::unique_ptr<HostOracle> MakeNestedHostOracle(VmSession* host, std::string leak_check) {
  return std::make_unique<NestedHostOracle>(host, std::move(leak_check));
}

}  // namespace ezone
