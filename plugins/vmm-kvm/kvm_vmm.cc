// KVM through a real libvirtd (libvirt's C API): the guest image boots as a
// transient, auto-destroyed domain; the two serial ports (kernel console,
// agent channel) come to the core over libvirt console streams, and the
// domain's lifecycle (crashed, shutdown, stopped) over libvirt's event API.
// Nothing is polled: one thread per process runs libvirt's event loop.
//
// Options (suite vmm-options):
//   uri=qemu:///system        any libvirt URI, e.g. qemu+ssh://node/system
//   domain_type=kvm|qemu      qemu is libvirt with TCG: the libvirt path
//                             where KVM does not work (label such checks)
//   machine=q35  cpu=<cpu mode>  emulator=<path>
//   probe_boot=auto|1|0       boot a probe guest in Probe (auto: for kvm)
//   probe_timeout=30          seconds the probe guest has to reach READY
//   guest_dir=<dir>           where the guest image (vmlinuz,
//                             initramfs.cpio.gz) lies on the libvirt host,
//                             when that is another machine (a nested host)
//   keepalive=10:12           remote URIs: libvirt keepalive, seconds
//                             between pings : unanswered pings to give up
// See docs/vmm-kvm.md.
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <cstdio>
#include <string>
#include <thread>

#include "ezone/sdk.h"
#include "kvm_domain.h"

namespace {

namespace fs = std::filesystem;
using ezone::sdk::Declined;
using ezone::sdk::GuestSpec;
using ezone::sdk::Options;
using ezone::sdk::VmSink;
using namespace ezone::kvm;

// libvirt's libxl driver does not take VIR_DOMAIN_START_AUTODESTROY; a Xen
// domU of a killed runner goes with its nested host, which dies with the
// runner (its QEMU has the runner's parent-death signal).
#ifdef EZONE_LIBVIRT_XEN
constexpr unsigned kAutoDestroy = 0;
#else
constexpr unsigned kAutoDestroy = VIR_DOMAIN_START_AUTODESTROY;
#endif

// The stream the agent's commands go to: its own (serial1), or for the xen
// plugin the shared UART (serial0).
#ifdef EZONE_LIBVIRT_XEN
constexpr int kControlStream = 0;
#else
constexpr int kControlStream = 1;
#endif

// After the domain stopped, wait this long for the console stream's end so
// the last console lines reach the core before VMM_EXITED.
constexpr int kExitGraceMs = 1000;
constexpr int kDefaultProbeTimeoutS = 30;

// The plugin's view of the suite's vmm-options.
struct Settings {
  std::string uri = kDefaultUri;
  std::string domain_type = "kvm";
  std::string machine = "q35";
  std::string cpu_mode, emulator;
  std::string guest_dir;  // on the libvirt host; empty: the core's paths
  bool probe_boot = true;
  int probe_timeout_s = kDefaultProbeTimeoutS;
  int keepalive_interval_s = 10, keepalive_count = 12;

  static Settings From(const Options& o) {
    Settings s;
#ifdef EZONE_LIBVIRT_XEN
    // The xen plugin (plugins/vmm-xen): libvirt's libxl driver, PVH domUs.
    s.uri = o.Get("uri", kDefaultXenUri);
    s.domain_type = o.Get("domain_type", "xen");
    if (s.domain_type != "xen") {
      throw std::runtime_error("xen: domain_type must be xen, not '" + s.domain_type + "'");
    }
    s.machine = o.Get("machine", "xenpvh");
#else
    s.uri = o.Get("uri", kDefaultUri);
    s.domain_type = o.Get("domain_type", "kvm");
    if (s.domain_type != "kvm" && s.domain_type != "qemu") {
      throw std::runtime_error("kvm: domain_type must be kvm or qemu (TCG), not '" +
                               s.domain_type + "'");
    }
    s.machine = o.Get("machine", "q35");
#endif
    s.cpu_mode = o.Get("cpu");
    s.emulator = o.Get("emulator");
    s.guest_dir = o.Get("guest_dir");
    std::string boot = o.Get("probe_boot", "auto");
    s.probe_boot = boot == "auto" ? s.domain_type == "kvm" : boot != "0";
    s.probe_timeout_s = std::atoi(o.Get("probe_timeout", "30").c_str());
    if (s.probe_timeout_s <= 0) s.probe_timeout_s = kDefaultProbeTimeoutS;
    std::string keepalive = o.Get("keepalive", "10:12");
    if (sscanf(keepalive.c_str(), "%d:%d", &s.keepalive_interval_s, &s.keepalive_count) != 2 ||
        s.keepalive_interval_s <= 0 || s.keepalive_count <= 0) {
      throw std::runtime_error("keepalive=" + keepalive + ": expected <seconds>:<count>, both > 0");
    }
    return s;
  }

  bool local() const { return IsLocalUri(uri); }
  // qemu:///system keeps its run and log files here; other URIs: unknown.
  bool system_local() const {
    return local() && uri.substr(0, uri.find('?')).ends_with("/system");
  }
};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string VersionText(unsigned long v) {
  return std::to_string(v / 1000000) + "." + std::to_string(v / 1000 % 1000) + "." +
         std::to_string(v % 1000);
}

// What /dev/kvm is here: the reason a kvm domain does or does not work.
std::string DescribeDevKvm() {
  if (access("/dev/kvm", F_OK) != 0) return "/dev/kvm absent";
  for (const char* module : {"kvm_pvm", "kvm_intel", "kvm_amd"}) {
    if (fs::exists(fs::path("/sys/module") / module)) return std::string("/dev/kvm is ") + module;
  }
  return "/dev/kvm present";
}

// State the libvirt callbacks share with their Vm. Every callback's opaque
// holds a reference, so the state outlives the Vm until libvirt has dropped
// the callback; `closed` (under mu) makes a late callback a no-op, which is
// how "no callback after destroy() returns" holds.
struct Shared {
  explicit Shared(VmSink s) : sink(s) {}
  std::mutex mu;
  bool closed = false;
  VmSink sink;
  std::string name;
  fs::path qemu_log;  // libvirt's log of this domain's qemu; empty if remote
  bool console_ended = false;
  bool stopped = false;
  bool crashed = false;  // libvirt said CRASHED: on_crash=destroy ends it
  bool exit_reported = false;
  std::string stop_detail;
  int exit_timer = -1;
  std::string shared_line;  // xen: a partial line of the shared UART
};

struct CallbackRef {
  std::shared_ptr<Shared> shared;
  int port = -1;  // streams: 0 console, 1 control
};

void* NewRef(const std::shared_ptr<Shared>& s, int port = -1) {
  return new CallbackRef{s, port};
}
void FreeRef(void* p) { delete static_cast<CallbackRef*>(p); }

// The end of qemu's own log (its stderr), as evidence for VMM_EXITED.
std::string QemuLogTail(const fs::path& log) {
  if (log.empty()) return "";
  std::string text = ReadFile(log);
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.find("qemu-system") != std::string::npos || line.find("shutting down") != std::string::npos) {
      last = Trim(line);
    }
  }
  return last;
}

// EZONE_KVM_TIMING=1: a named moment on stderr (ms on the steady clock),
// for the events' part of a check's time.
void TimingMark(const std::string& name, const char* what) {
  static const bool on = std::getenv("EZONE_KVM_TIMING") != nullptr;
  if (!on) return;
  fprintf(stderr, "ezone-kvm-timing %s %s at %.1f ms\n", name.c_str(), what,
          std::chrono::duration<double, std::milli>(
              std::chrono::steady_clock::now().time_since_epoch())
              .count());
}

// Caller holds s.mu.
void ReportExitLocked(Shared& s) {
  if (s.exit_reported || s.closed) return;
  s.exit_reported = true;
  TimingMark(s.name, s.console_ended ? "exit reported (console ended)" : "exit reported");
  if (s.exit_timer >= 0) {
    virEventRemoveTimeout(s.exit_timer);
    s.exit_timer = -1;
  }
  std::string detail = "domain " + s.name + " is gone (" + s.stop_detail + ")";
  std::string tail = QemuLogTail(s.qemu_log);
  if (!tail.empty()) detail += "; qemu log: " + tail;
  s.sink.Event(EZONE_EVENT_VMM_EXITED, detail);
}

void OnExitTimer(int, void* opaque) {
  Shared& s = *static_cast<CallbackRef*>(opaque)->shared;
  std::lock_guard<std::mutex> lock(s.mu);
  ReportExitLocked(s);
}

#ifdef EZONE_LIBVIRT_XEN
// The xen plugin's domU has one console (kvm_domain.cc, BuildXenDomainXml:
// Xen's PV console, hvc0) for both the kernel and the agent
// (ezone.ctl=hvc0): its lines are split here. The agent's lines (protocol: READY, HB, OK, ERR) go to the
// control channel, all others to the console. Caller holds s.mu.
bool IsAgentLine(std::string_view line) {
  for (std::string_view p : {"READY ", "HB ", "OK ", "ERR "}) {
    if (line.substr(0, p.size()) == p) return true;
  }
  return false;
}

void DemuxLocked(Shared& s, std::string_view bytes, bool flush) {
  s.shared_line.append(bytes);
  size_t start = 0, nl;
  while ((nl = s.shared_line.find('\n', start)) != std::string::npos) {
    std::string_view line(s.shared_line.data() + start, nl + 1 - start);
    std::string_view bare = line;
    while (!bare.empty() && (bare.front() == '\r')) bare.remove_prefix(1);
    if (IsAgentLine(bare)) {
      s.sink.Control(bare);
    } else {
      s.sink.Console(line);
    }
    start = nl + 1;
  }
  s.shared_line.erase(0, start);
  // A partial line that is not the agent's (an oops cut short) goes out at
  // the end, or once it is long; the agent's lines are short.
  if (!s.shared_line.empty() && (flush || s.shared_line.size() > 4096) &&
      !IsAgentLine(s.shared_line)) {
    s.sink.Console(s.shared_line);
    s.shared_line.clear();
  }
}
#endif

void OnStream(virStreamPtr st, int events, void* opaque) {
  auto* ref = static_cast<CallbackRef*>(opaque);
  Shared& s = *ref->shared;
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.closed) return;
  char buf[65536];
  bool ended = (events & (VIR_STREAM_EVENT_HANGUP | VIR_STREAM_EVENT_ERROR)) != 0;
  for (;;) {
    int n = virStreamRecv(st, buf, sizeof buf);
    if (n > 0) {
      std::string_view bytes(buf, static_cast<size_t>(n));
#ifdef EZONE_LIBVIRT_XEN
      if (ref->port == 0) {
        DemuxLocked(s, bytes, false);
        continue;
      }
#endif
      if (ref->port == 0) {
        s.sink.Console(bytes);
      } else {
        s.sink.Control(bytes);
      }
      continue;
    }
    if (n != -2) ended = true;  // 0: end of stream, -1: error
    break;                      // -2: nothing more for now
  }
  if (!ended) return;
  virStreamEventRemoveCallback(st);
#ifdef EZONE_LIBVIRT_XEN
  if (ref->port == 0) DemuxLocked(s, {}, true);
#endif
  if (ref->port == 0) {
    TimingMark(s.name, "console stream ended");
    s.console_ended = true;
    if (s.stopped || s.crashed) ReportExitLocked(s);
  }
}

const char* LifecycleName(int event, int detail, std::string* text) {
  static const char* kStopped[] = {"shutdown", "destroyed", "crashed", "migrated",
                                   "saved", "failed", "from snapshot"};
  static const char* kShutdown[] = {"finished", "guest", "host"};
  static const char* kCrashed[] = {"panicked", "crashloaded"};
  auto pick = [&](const char* const* names, int count) {
    return detail >= 0 && detail < count ? names[detail] : "detail " + std::to_string(detail);
  };
  switch (event) {
    case VIR_DOMAIN_EVENT_STOPPED:
      *text = "stopped: " + std::string(pick(kStopped, 7));
      return "STOPPED";
    case VIR_DOMAIN_EVENT_SHUTDOWN:
      *text = "shutdown: " + std::string(pick(kShutdown, 3));
      return "SHUTDOWN";
    case VIR_DOMAIN_EVENT_CRASHED:
      *text = "crashed: " + std::string(pick(kCrashed, 2));
      return "CRASHED";
    default:
      *text = "event " + std::to_string(event) + " detail " + std::to_string(detail);
      return "OTHER";
  }
}

int OnLifecycle(virConnectPtr, virDomainPtr, int event, int detail, void* opaque) {
  Shared& s = *static_cast<CallbackRef*>(opaque)->shared;
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.closed) return 0;
  std::string text;
  LifecycleName(event, detail, &text);
  TimingMark(s.name, ("lifecycle " + text).c_str());
  std::string what = "libvirt lifecycle event: domain " + text;
  switch (event) {
    case VIR_DOMAIN_EVENT_CRASHED:
      s.sink.Event(EZONE_EVENT_GUEST_PANICKED, what);
      // Our domains crash into on_crash=destroy: once the console has
      // ended too (its QEMU closed it), the domain is gone. libvirt's own
      // STOPPED came 2 s and more later here (its process cleanup), which
      // the core waited for as its settle window.
      s.crashed = true;
      s.stop_detail = text + ", destroyed on crash";
      if (s.console_ended) ReportExitLocked(s);
      break;
    case VIR_DOMAIN_EVENT_SHUTDOWN:
      s.sink.Event(EZONE_EVENT_GUEST_STOPPED, what);
      break;
    case VIR_DOMAIN_EVENT_STOPPED:
      s.sink.Event(EZONE_EVENT_GUEST_STOPPED, what);
      s.stopped = true;
      s.stop_detail = text;
      // A transient domain that stopped is gone. Report it once the console
      // stream has delivered its last bytes, or after a short grace.
      if (s.console_ended) {
        ReportExitLocked(s);
      } else if (s.exit_timer < 0) {
        s.exit_timer = virEventAddTimeout(kExitGraceMs, &OnExitTimer,
                                          NewRef(static_cast<CallbackRef*>(opaque)->shared), &FreeRef);
      }
      break;
    default:
      break;
  }
  return 0;
}

void OnConnectionClosed(virConnectPtr, int reason, void* opaque) {
  if (reason == VIR_CONNECT_CLOSE_REASON_CLIENT) return;
  Shared& s = *static_cast<CallbackRef*>(opaque)->shared;
  std::lock_guard<std::mutex> lock(s.mu);
  static const char* kReasons[] = {"I/O error", "end of file", "keepalive timeout", "client"};
  s.stop_detail = std::string("lost the connection to libvirtd: ") +
                  (reason >= 0 && reason < 4 ? kReasons[reason] : "unknown reason");
  ReportExitLocked(s);
}

// EZONE_KVM_TIMING=1: each libvirt step's wall time on stderr, for
// measuring where a check's time goes (docs/vmm-kvm.md). Off: nothing.
class StepTimer {
 public:
  explicit StepTimer(const std::string& name)
      : name_(name), on_(std::getenv("EZONE_KVM_TIMING") != nullptr),
        last_(std::chrono::steady_clock::now()) {}
  void Step(const char* what) {
    if (!on_) return;
    auto now = std::chrono::steady_clock::now();
    fprintf(stderr, "ezone-kvm-timing %s %s %.1f ms\n", name_.c_str(), what,
            std::chrono::duration<double, std::milli>(now - last_).count());
    last_ = now;
  }

 private:
  std::string name_;
  bool on_;
  std::chrono::steady_clock::time_point last_;
};

// restore_from's prefix for a domain to adopt (EZONE_CAP_ADOPT).
constexpr const char* kAdoptPrefix = "running:";

std::string DomainName(const std::string& cmdline, const std::string& role) {
  static std::atomic<int> counter{0};
  std::string nonce;
  size_t at = cmdline.find("ezone.nonce=");
  if (at != std::string::npos) {
    at += 12;
    size_t end = cmdline.find(' ', at);
    nonce = cmdline.substr(at, end == std::string::npos ? std::string::npos : end - at);
  }
  std::string name = "ezone-" + std::to_string(getpid()) + "-" +
                     (nonce.empty() ? std::to_string(++counter) : nonce) + "-" +
                     (role.empty() ? "vm" : role);
  for (char& c : name) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  }
  return name;
}

class KvmVm : public ezone::sdk::Vm {
 public:
  KvmVm(const GuestSpec& spec, VmSink sink, const Settings& settings)
      : settings_(settings), shared_(std::make_shared<Shared>(sink)) {
    try {
      Start(spec);
    } catch (...) {
      Release();
      throw;
    }
  }

  ~KvmVm() override { Release(); }

  void SendControl(std::string_view bytes) override {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!bytes.empty()) {
      // Not under shared_->mu: libvirt streams are thread-safe, and the core
      // never sends while it destroys the Vm.
      int n = virStreamSend(streams_[kControlStream], bytes.data(), bytes.size());
      if (n > 0) {
        bytes.remove_prefix(static_cast<size_t>(n));
      } else if (n == -2 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // stream full
      } else {
        throw std::runtime_error("writing to the control channel (serial1 of " + name_ +
                                 "): " + LastError("stream closed"));
      }
    }
  }

  int64_t Pid() const override { return pid_; }
  std::string Version() const override { return version_; }
  const std::string& name() const { return name_; }

  // Snapshot mode: libvirt saves the domain (paused, then its state written
  // by QEMU through libvirtd), and the domain ends. The file is written
  // beside `path` and renamed, so a failed save leaves no state to restore.
  void SaveSnapshot(const std::string& path) override {
    if (!settings_.local()) throw Declined(RemoteSnapshotReason());
    {
      // The save ends the domain; nobody waits for that end.
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->closed = true;
    }
    std::string partial = path + ".partial";
    if (virDomainSaveFlags(dom_, partial.c_str(), nullptr, VIR_DOMAIN_SAVE_RUNNING) < 0) {
      std::string why = LastError();
      unlink(partial.c_str());
      throw std::runtime_error("libvirt could not save domain " + name_ + " to " + partial + ": " +
                               why);
    }
    if (rename(partial.c_str(), path.c_str()) != 0) {
      int err = errno;
      unlink(partial.c_str());
      throw std::runtime_error("rename " + partial + ": " + std::strerror(err));
    }
  }

 private:
  std::string RemoteSnapshotReason() const {
    return "kvm: snapshot mode needs a local libvirt URI (the saved state is a file on the "
           "libvirt host, " + settings_.uri + " is not this machine)";
  }

  // Restores the saved state as this VM's own domain, paused. libvirt
  // refuses another name or uuid through its XML parameter, so the image
  // is copied, with its XML renamed, into an anonymous memfd that libvirtd
  // (local, and allowed to: root, or the same user for qemu:///session)
  // opens as /proc/<pid>/fd/<n>: no temporary file, not even after a kill.
  // virDomainRestoreFlags returns once QEMU has loaded the whole state, so
  // nothing sent to the agent later is lost with the device state.
  void Restore(const std::string& image) {
    if (!settings_.local()) throw Declined(RemoteSnapshotReason());
    int fd = memfd_create("ezone-kvm-restore", MFD_CLOEXEC);
    if (fd < 0) throw std::runtime_error(std::string("memfd_create: ") + std::strerror(errno));
    try {
      CopySaveImageRenamed(image, fd, name_);
    } catch (...) {
      close(fd);
      throw;
    }
    // A restored domain cannot be auto-destroyed (restore has no such
    // flag): a small watcher destroys it should this process die.
    StartReaper();
    std::string proc = "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd);
    int rc = virDomainRestoreFlags(conn_, proc.c_str(), nullptr, VIR_DOMAIN_SAVE_PAUSED);
    std::string why = rc < 0 ? LastError() : "";
    close(fd);
    if (rc < 0) {
      throw std::runtime_error("libvirt could not restore " + image + " as domain " + name_ + ": " +
                               why);
    }
    dom_ = virDomainLookupByName(conn_, name_.c_str());
    if (!dom_) throw std::runtime_error("the restored domain " + name_ + " is gone: " + LastError());
  }

  // Takes over name_, a paused domain that exists on the libvirt host (not
  // auto-destroyed: it lives and dies with that host, which the core
  // destroys with the check). It must be paused, so that the consoles are
  // attached before it says anything, as for a created domain.
  void Adopt() {
    dom_ = virDomainLookupByName(conn_, name_.c_str());
    if (!dom_) {
      throw std::runtime_error("no domain " + name_ + " to adopt at " + settings_.uri + ": " +
                               LastError());
    }
    int state = 0, reason = 0;
    if (virDomainGetState(dom_, &state, &reason, 0) < 0 || state != VIR_DOMAIN_PAUSED) {
      throw std::runtime_error("the domain " + name_ + " to adopt is not paused (libvirt state " +
                               std::to_string(state) + ")");
    }
  }

  // The watcher: a child in its own session (a signal to the runner's
  // process group does not reach it) that waits on a pipe. A byte means
  // the domain is gone; end of file means the runner died, and it runs
  // `virsh destroy`. Everything it needs is prepared before fork, the child
  // only makes async-signal-safe calls, and it holds none of the runner's
  // other descriptors (a runner's stdout must end with the runner).
  void StartReaper() {
    std::string virsh;
    for (const char* dir : {"/usr/bin", "/usr/local/bin", "/bin"}) {
      std::string candidate = std::string(dir) + "/virsh";
      if (access(candidate.c_str(), X_OK) == 0) {
        virsh = candidate;
        break;
      }
    }
    if (virsh.empty()) return;  // nothing to run: documented (docs/vmm-kvm.md)
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return;
    std::string uri = settings_.uri, name = name_;
    const char* argv[] = {virsh.c_str(), "-q", "-c", uri.c_str(), "destroy", name.c_str(), nullptr};
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
      if (n == 1) _exit(0);
      close(3);
      execv(argv[0], const_cast<char* const*>(argv));
      _exit(127);
    }
    close(p[0]);
    reaper_pid_ = pid;
    reaper_fd_ = p[1];
  }

  void StopReaper() {
    if (reaper_pid_ <= 0) return;
    char byte = 1;
    (void)!write(reaper_fd_, &byte, 1);
    close(reaper_fd_);
    int status;
    while (waitpid(reaper_pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaper_pid_ = -1;
    reaper_fd_ = -1;
  }

  void Start(const GuestSpec& spec) {
    // Snapshot mode's template (the VM the core saves) is declined at once
    // where the state could not be saved, so the check is skipped, not
    // booted to fail at the save.
    if (!settings_.local() && spec.role == "template") throw Declined(RemoteSnapshotReason());
    StepTimer timer(spec.role);
    ConnectResult c = Connect(settings_.uri);
    if (!c.conn) throw std::runtime_error(c.error);
    conn_ = c.conn;
    timer.Step("connect");
    // Remote connections only: notice a dead link (keepalive needs the
    // event loop, which runs). Generous by default: a nested host under TCG
    // may take over 15 s to answer while it starts a domain. The core asks
    // for less on its kvm nested host (about 30 s), whose heartbeat it
    // watches itself, so a frozen host does not hold a domain start for
    // two minutes.
    if (!settings_.local()) {
      virConnectSetKeepAlive(conn_, settings_.keepalive_interval_s, settings_.keepalive_count);
    }

    // EZONE_CAP_ADOPT: the VM exists, paused, under the name it was
    // created with (the nested host's saved victim): this Vm takes it over.
    const bool adopt = spec.restore_from.rfind(kAdoptPrefix, 0) == 0;
    DomainConfig config;
    config.name = name_ = adopt ? spec.restore_from.substr(std::strlen(kAdoptPrefix))
                                : DomainName(spec.cmdline, spec.role);
    config.domain_type = settings_.domain_type;
    config.machine = settings_.machine;
    config.cpu_mode = settings_.cpu_mode;
    config.emulator = settings_.emulator;
    // A remote libvirt host reads the image from its own file system.
    bool remote_image = !settings_.guest_dir.empty();
    config.kernel = remote_image ? settings_.guest_dir + "/vmlinuz" : spec.kernel;
    config.initrd = remote_image ? settings_.guest_dir + "/initramfs.cpio.gz" : spec.initramfs;
    config.cmdline = spec.cmdline;
#ifdef EZONE_LIBVIRT_XEN
    // The kernel console and the agent share the PVH domU's PV console
    // (kvm_domain.cc, BuildXenDomainXml; DemuxLocked). The last console=
    // is the one /dev/console and the panic output go to.
    config.cmdline += " console=hvc0 ezone.ctl=hvc0";
#endif
    config.memory_mib = spec.memory_mib;
    config.vcpus = spec.vcpus;
    std::string xml = BuildDomainXml(config);
    shared_->name = name_;
    if (settings_.system_local()) shared_->qemu_log = "/var/log/libvirt/qemu/" + name_ + ".log";

    if (adopt) {
      Adopt();
    } else if (!spec.restore_from.empty()) {
      Restore(spec.restore_from);
    } else {
      // Paused first, so both consoles are attached before the guest prints
      // anything (a pty nobody reads drops output, and READY is sent once).
      // AUTODESTROY ties the domain to this connection: a killed runner
      // closes it, and libvirtd destroys the domain.
      dom_ = virDomainCreateXML(conn_, xml.c_str(), VIR_DOMAIN_START_PAUSED | kAutoDestroy);
      if (!dom_) {
        throw std::runtime_error("libvirt could not start domain " + name_ + " (" +
                                 settings_.domain_type + ", " + settings_.uri + "): " + LastError());
      }
    }
    timer.Step(adopt ? "adopt" : spec.restore_from.empty() ? "create-paused" : "restore");
    lifecycle_id_ = virConnectDomainEventRegisterAny(
        conn_, dom_, VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(&OnLifecycle),
        NewRef(shared_), &FreeRef);
    if (lifecycle_id_ < 0) throw std::runtime_error("registering for lifecycle events: " + LastError());
    if (virConnectRegisterCloseCallback(conn_, &OnConnectionClosed, NewRef(shared_), &FreeRef) == 0) {
      close_registered_ = true;
    }
    for (int port : {0, 1}) {
      std::string dev = "serial" + std::to_string(port);
#ifdef EZONE_LIBVIRT_XEN
      // One console for kernel and agent (DemuxLocked): no second stream;
      // the domain's console has no name (libvirt's libxl driver names
      // only serial ports).
      if (port == 1) continue;
      const char* dev_name = nullptr;
      dev = "console (hvc0)";
#else
      const char* dev_name = dev.c_str();
#endif
      streams_[port] = virStreamNew(conn_, VIR_STREAM_NONBLOCK);
      if (!streams_[port] ||
          virDomainOpenConsole(dom_, dev_name, streams_[port], VIR_DOMAIN_CONSOLE_FORCE) < 0) {
        throw std::runtime_error("opening " + dev + " of " + name_ + ": " + LastError());
      }
      if (virStreamEventAddCallback(streams_[port],
                                    VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR |
                                        VIR_STREAM_EVENT_HANGUP,
                                    &OnStream, NewRef(shared_, port), &FreeRef) < 0) {
        throw std::runtime_error("watching " + dev + " of " + name_ + ": " + LastError());
      }
    }
    timer.Step("events+consoles");
    if (virDomainResume(dom_) < 0) throw std::runtime_error("resuming " + name_ + ": " + LastError());
    timer.Step("resume");

    if (settings_.system_local()) {
      pid_ = std::atoll(ReadFile("/run/libvirt/qemu/" + name_ + ".pid").c_str());
      if (pid_ <= 0) pid_ = -1;
    }
    unsigned long lib = 0, hv = 0;
    virConnectGetLibVersion(conn_, &lib);
    virConnectGetVersion(conn_, &hv);
    const char* type = virConnectGetType(conn_);
    version_ = "libvirt " + VersionText(lib) + ", " + (type ? type : "hypervisor") + " " +
               VersionText(hv) + ", domain type " + settings_.domain_type +
               (settings_.domain_type == "qemu"  ? " (TCG)"
                : settings_.domain_type == "xen" ? " (PVH domU, libxl)"
                                                 : " (KVM)") +
               " at " + settings_.uri;
  }

  // Stops the domain and drops every libvirt object; safe on a half-built Vm.
  void Release() {
    StepTimer timer(name_);
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->closed = true;
      if (shared_->exit_timer >= 0) {
        virEventRemoveTimeout(shared_->exit_timer);
        shared_->exit_timer = -1;
      }
    }
    if (lifecycle_id_ >= 0) virConnectDomainEventDeregisterAny(conn_, lifecycle_id_);
    lifecycle_id_ = -1;
    if (close_registered_) virConnectUnregisterCloseCallback(conn_, &OnConnectionClosed);
    close_registered_ = false;
    for (virStreamPtr& st : streams_) {
      if (!st) continue;
      virStreamEventRemoveCallback(st);  // fails harmlessly if already removed
      virStreamAbort(st);
      virStreamFree(st);
      st = nullptr;
    }
    timer.Step("release-events+streams");
    if (dom_) {
      virDomainDestroy(dom_);  // fails harmlessly when the domain is gone
      timer.Step("destroy");
      virDomainFree(dom_);
      dom_ = nullptr;
    }
    if (conn_) virConnectClose(conn_);
    conn_ = nullptr;
    timer.Step("close");
    // The qemu process must be gone when destroy() returns (the core checks).
    for (int i = 0; pid_ > 0 && i < 250 && kill(static_cast<pid_t>(pid_), 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    timer.Step("pid-gone");
    StopReaper();
    // libvirt keeps one log per domain name; ours are unique, so they would
    // only pile up. The console itself is in the core's report.
    if (!shared_->qemu_log.empty()) {
      std::error_code ec;
      fs::remove(shared_->qemu_log, ec);
    }
  }

  Settings settings_;
  std::shared_ptr<Shared> shared_;
  std::string name_, version_;
  virConnectPtr conn_ = nullptr;
  virDomainPtr dom_ = nullptr;
  virStreamPtr streams_[2] = {nullptr, nullptr};
  int lifecycle_id_ = -1;
  bool close_registered_ = false;
  int64_t pid_ = -1;
  pid_t reaper_pid_ = -1;  // snapshot mode: see StartReaper
  int reaper_fd_ = -1;
};

// ---- The functional probe: does a guest of this domain type boot? ----

// Collects what the probe guest says until READY, its end or the deadline.
class ProbeWatch {
 public:
  explicit ProbeWatch(std::string nonce) : nonce_(std::move(nonce)) {
    sink_ = {this, &OnConsole, &OnControl, &OnEvent};
  }
  const ezone_vm_sink& sink() const { return sink_; }

  // True when READY came before `timeout`.
  bool WaitReady(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return ready_ || !ended_.empty(); });
    return ready_;
  }
  std::string ended() {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_;
  }
  std::string last_console_line() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string text = console_;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    size_t nl = text.find_last_of('\n');
    std::string line = Trim(nl == std::string::npos ? text : text.substr(nl + 1));
    if (line.size() > 160) line = line.substr(0, 160) + "...";
    return line;
  }

 private:
  static void OnConsole(void* core, const char* bytes, size_t n) {
    auto* w = static_cast<ProbeWatch*>(core);
    std::lock_guard<std::mutex> lock(w->mu_);
    w->console_.append(bytes, n);
    if (w->console_.size() > 8192) w->console_.erase(0, w->console_.size() - 4096);
  }
  static void OnControl(void* core, const char* bytes, size_t n) {
    auto* w = static_cast<ProbeWatch*>(core);
    std::lock_guard<std::mutex> lock(w->mu_);
    w->control_.append(bytes, n);
    if (w->control_.find("READY " + w->nonce_) != std::string::npos) w->ready_ = true;
    if (w->control_.size() > 8192) w->control_.erase(0, w->control_.size() - 4096);
    w->cv_.notify_all();
  }
  static void OnEvent(void* core, ezone_vm_event event, const char* detail) {
    auto* w = static_cast<ProbeWatch*>(core);
    std::lock_guard<std::mutex> lock(w->mu_);
    if (event == EZONE_EVENT_VMM_EXITED || event == EZONE_EVENT_GUEST_PANICKED) {
      if (w->ended_.empty()) w->ended_ = detail;
      w->cv_.notify_all();
    }
  }

  std::string nonce_;
  ezone_vm_sink sink_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string console_, control_, ended_;
  bool ready_ = false;
};

struct ProbeOutcome {
  bool ok = false;
  std::string message;
};

std::string RandomHex() {
  std::random_device rd;
  char text[17];
  snprintf(text, sizeof text, "%08x%08x", rd(), rd());
  return text;
}

fs::path FindGuestDir() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("EZONE_GUEST_DIR")) candidates.emplace_back(env);
#ifdef EZONE_KVM_BUILD_GUEST_DIR
  candidates.emplace_back(EZONE_KVM_BUILD_GUEST_DIR);
#endif
#ifdef EZONE_KVM_INSTALL_GUEST_DIR
  candidates.emplace_back(EZONE_KVM_INSTALL_GUEST_DIR);
#endif
  for (const fs::path& dir : candidates) {
    std::error_code ec;
    if (fs::exists(dir / "vmlinuz", ec) && fs::exists(dir / "initramfs.cpio.gz", ec)) return dir;
  }
  return {};
}

ProbeOutcome BootProbeGuest(const Settings& s, const fs::path& guest, bool* cacheable) {
  std::string what = s.domain_type == "kvm" ? "no working KVM" : "no working " + s.domain_type + " domain";
  std::string hint = s.domain_type == "kvm" && s.local() ? " (" + DescribeDevKvm() + ")" : "";
  std::string nonce = RandomHex();
  GuestSpec spec;
  spec.kernel = (guest / "vmlinuz").string();
  spec.initramfs = (guest / "initramfs.cpio.gz").string();
  spec.cmdline = "console=ttyS0 ezone.nonce=" + nonce + " ezone.hb_ms=100 panic=-1";
  spec.memory_mib = 256;
  spec.vcpus = 1;
  spec.role = "probe";
  ProbeWatch watch(nonce);
  std::unique_ptr<KvmVm> vm;
  auto start = std::chrono::steady_clock::now();
  try {
    vm = std::make_unique<KvmVm>(spec, VmSink(watch.sink()), s);
  } catch (const std::exception& e) {
    *cacheable = false;  // may be passing trouble (the daemon, memory)
    return {false, what + ": the probe guest could not be started: " + e.what() + hint};
  }
  bool ready = watch.WaitReady(std::chrono::seconds(s.probe_timeout_s));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  vm.reset();
  *cacheable = true;
  if (ready) {
    char text[64];
    snprintf(text, sizeof text, "probe guest READY in %.1f s", seconds);
    return {true, text};
  }
  std::string console = watch.last_console_line();
  std::string detail = console.empty() ? "nothing on its console" : "last console line: " + console;
  if (!watch.ended().empty()) {
    return {false, what + ": probe guest ended before READY (" + watch.ended() + ")" + hint +
                       "; " + detail};
  }
  return {false, what + ": probe guest did not reach READY in " + std::to_string(s.probe_timeout_s) +
                     " s" + hint + "; " + detail};
}

// The probe boot costs up to probe_timeout, so its outcome is kept per
// process and, across processes (ctest runs each check in its own), in a
// small file keyed by the boot id, the URI, the settings and the image. The
// file lock makes concurrent processes wait for one probe instead of each
// booting their own. A new boot gets a new key (and /run is emptied anyway).
fs::path ProbeCacheDir() {
  if (const char* dir = std::getenv("EZONE_KVM_PROBE_CACHE_DIR")) return dir;
  if (const char* dir = std::getenv("XDG_RUNTIME_DIR")) return dir;
  if (getuid() == 0 && access("/run", W_OK) == 0) return "/run";
  return "/tmp";
}

std::string FileStamp(const fs::path& p) {
  struct stat st{};
  if (stat(p.c_str(), &st) != 0) return "?";
  return std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

ProbeOutcome FunctionalProbe(const Settings& s) {
  fs::path guest = FindGuestDir();
  if (guest.empty()) {
    return {false, "cannot check that " + s.domain_type +
                       " guests boot: guest image not found (set EZONE_GUEST_DIR to the "
                       "directory with vmlinuz and initramfs.cpio.gz)"};
  }
  std::string key = Trim(ReadFile("/proc/sys/kernel/random/boot_id")) + "|" + s.uri + "|" +
                    s.domain_type + "|" + s.machine + "|" + s.cpu_mode + "|" + s.emulator + "|" +
                    std::to_string(s.probe_timeout_s) + "|" + FileStamp(guest / "vmlinuz") + "|" +
                    FileStamp(guest / "initramfs.cpio.gz");

  static std::mutex mu;
  static std::map<std::string, ProbeOutcome> in_process;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = in_process.find(key); it != in_process.end()) return it->second;

  char hash[17];
  snprintf(hash, sizeof hash, "%016zx", std::hash<std::string>{}(key));
  fs::path file = ProbeCacheDir() / ("ezone-kvm-probe-" + std::to_string(getuid()) + "-" + hash);
  int fd = open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0 && flock(fd, LOCK_EX) == 0) {
    std::string text = ReadFile(file);
    size_t nl1 = text.find('\n');
    size_t nl2 = nl1 == std::string::npos ? nl1 : text.find('\n', nl1 + 1);
    if (nl2 != std::string::npos && text.substr(0, nl1) == key) {
      ProbeOutcome cached{text.substr(nl1 + 1, nl2 - nl1 - 1) == "ok", Trim(text.substr(nl2 + 1))};
      close(fd);  // releases the lock
      return in_process[key] = cached;
    }
  }
  bool cacheable = false;
  ProbeOutcome outcome = BootProbeGuest(s, guest, &cacheable);
  if (cacheable) {
    in_process[key] = outcome;
    if (fd >= 0) {
      std::string text = key + "\n" + (outcome.ok ? "ok" : "declined") + "\n" + outcome.message +
                         " [probe result cached for this boot in " + file.string() + "]\n";
      if (ftruncate(fd, 0) == 0) (void)!pwrite(fd, text.data(), text.size(), 0);
    }
  }
  if (fd >= 0) close(fd);
  return outcome;
}

class KvmVmm {
 public:
  static void Probe(const Options& options) {
    Settings s = Settings::From(options);
    ConnectResult c = Connect(s.uri);
    if (!c.conn) {
      if (c.unreachable) throw Declined(c.error);
      throw std::runtime_error(c.error);
    }
    char* caps = virConnectGetDomainCapabilities(c.conn, nullptr, "x86_64", s.machine.c_str(),
                                                 s.domain_type.c_str(), 0);
    std::string why = caps ? "" : LastError();
    free(caps);
    virConnectClose(c.conn);
    if (!caps) {
      std::string hint = s.domain_type == "kvm" && s.local() ? " (" + DescribeDevKvm() + ")" : "";
      throw Declined("libvirt at " + s.uri + " offers no '" + s.domain_type +
                     "' domain type for x86_64 " + s.machine + hint + ": " + why);
    }
    if (!s.probe_boot) return;
    ProbeOutcome outcome = FunctionalProbe(s);
    if (!outcome.ok) throw Declined(outcome.message);
  }

  static std::unique_ptr<ezone::sdk::Vm> Create(const GuestSpec& spec, VmSink sink) {
    return std::make_unique<KvmVm>(spec, sink, Settings::From(spec.options));
  }
};

}  // namespace

#ifdef EZONE_LIBVIRT_XEN
EZONE_VMM_PLUGIN(KvmVmm, "xen", "0.1.0",
                 "Xen through libvirt's libxl driver (PVH domUs: kernel console and agent share "
                 "Xen's PV console; "
                 "transient domains, libvirt events and console streams); runs on the Xen "
                 "nested host (xen@nested)",
                 EZONE_CAP_PANIC_EVENT | EZONE_CAP_WITNESS | EZONE_CAP_REMOTE_HOST)
#else
EZONE_VMM_PLUGIN(KvmVmm, "kvm", "0.1.0",
                 "KVM through libvirt (transient domains, libvirt events and console streams; "
                 "domain_type=qemu for TCG)",
                 EZONE_CAP_PANIC_EVENT | EZONE_CAP_PROCESS | EZONE_CAP_WITNESS |
                     EZONE_CAP_REMOTE_HOST | EZONE_CAP_SNAPSHOT | EZONE_CAP_ADOPT)
#endif
