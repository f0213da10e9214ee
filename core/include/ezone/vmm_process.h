// SDK helpers for VMM plugins whose VM is a host process (header-only, on top
// of ezone/sdk.h): what every such plugin has to get right, done once.
//
//   ezone::sdk::SocketPair console = SocketPair::Make(), control = SocketPair::Make();
//   ezone::sdk::SpawnOptions so;
//   so.argv = {"/usr/bin/qemu-system-x86_64", ..., "-chardev", "socket,id=c,fd=3", ...};
//   so.fds = {{3, console.vmm.get()}, {4, control.vmm.get()}};
//   process_ = ezone::sdk::VmmProcess::Spawn(so);        // throws with the reason
//   console.vmm.reset(); control.vmm.reset();              // the child has them
//   reader_.Watch(console.plugin.get(), [sink](auto b) { sink.Console(b); });
//   reader_.Watch(control.plugin.get(), [sink](auto b) { sink.Control(b); });
//   reader_.Start(process_.get(), sink);                   // reports VMM_EXITED
//   ...
//   ~MyVm() { process_->Kill(); reader_.Stop(); }          // then both are released
//
// VmmProcess::Spawn
//  - forks from one long-lived thread of the plugin (not the caller's): the
//    child's PR_SET_PDEATHSIG (SIGKILL) fires when the thread that forked it
//    ends, and the core's threads come and go; after setting it the child
//    checks that its parent is still the runner (it may have died between
//    fork and prctl) and exits if not;
//  - puts the child in its own process group, so Kill() also ends what the
//    VMM started;
//  - passes descriptors at the numbers you choose without collisions (each
//    source is first moved above every target, then put in place), stdin and
//    stdout on /dev/null, stderr on a pipe whose tail goes into the exit
//    event, and closes every other descriptor before exec;
//  - reports a failed exec (no such program, not executable) as an exception
//    from Spawn, not as a VM that died at once;
//  - its destructor kills the process group and reaps the child on every
//    path, also when the constructor of your Vm throws half way.
//
// VmReader: one thread that copies bytes from the descriptors you give it to
// your handlers (typically the sink's Console and Control), and when the
// process ends drains what is still buffered, reaps it and reports
// EZONE_EVENT_VMM_EXITED ("exit status N" / "killed by signal N", plus the
// last lines of its stderr). An exception from a handler becomes
// EZONE_EVENT_PLUGIN_ERROR, never std::terminate.
#ifndef EZONE_VMM_PROCESS_H_
#define EZONE_VMM_PROCESS_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "ezone/sdk.h"

namespace ezone::sdk {

inline std::string ErrnoText(const std::string& what, int err = errno) {
  return what + ": " + std::strerror(err);
}

// A file descriptor that closes itself.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

// A connected pair of stream sockets (close-on-exec): `plugin` stays here,
// `vmm` goes to the child (SpawnOptions::fds) and is closed here after the
// spawn. A serial port over it: bytes, no terminal, no file on disk. QEMU:
// "-chardev socket,id=X,fd=N -serial chardev:X" (QemuSerial below).
struct SocketPair {
  UniqueFd plugin, vmm;
  static SocketPair Make() {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      throw std::runtime_error(ErrnoText("socketpair"));
    }
    return SocketPair{UniqueFd(fds[0]), UniqueFd(fds[1])};
  }
};

// QEMU's arguments for a serial port (the next ttySn, in order) on the
// descriptor `child_fd` of the QEMU process.
inline std::vector<std::string> QemuSerial(const std::string& id, int child_fd) {
  return {"-chardev", "socket,id=" + id + ",fd=" + std::to_string(child_fd), "-serial",
          "chardev:" + id};
}

// Writes all of `bytes` to a socket (the agent's control channel); throws.
inline void SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(ErrnoText("writing to the VM"));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

struct SpawnOptions {
  // argv[0] is the program: an absolute path, or a name looked up in PATH
  // (FindProgram).
  std::vector<std::string> argv;
  // Descriptor number in the child -> descriptor in this process. 0 and 1
  // default to /dev/null, 2 to a pipe read by VmReader (stderr_tail).
  std::map<int, int> fds;
};

namespace detail {

// The plugin's one thread that forks. PR_SET_PDEATHSIG is tied to the thread
// that forked the child, not to the process: forking from a caller's thread
// would kill the VMM when that thread ends. This one never ends (and is never
// destroyed: the plugin is never unloaded).
class Forker {
 public:
  static Forker& Get() {
    static Forker* forker = new Forker();
    return *forker;
  }
  // Runs `fork_fn` (which forks and returns the child's pid or -errno) on
  // the forking thread.
  pid_t Run(const std::function<pid_t()>& fork_fn) {
    std::unique_lock lock(mu_);
    Job job{&fork_fn, 0, false};
    jobs_.push_back(&job);
    cv_.notify_all();
    cv_.wait(lock, [&] { return job.done; });
    return job.result;
  }
  pid_t runner_pid() const { return runner_; }

 private:
  struct Job {
    const std::function<pid_t()>* fn;
    pid_t result;
    bool done;
  };
  Forker() : runner_(getpid()) {
    std::thread([this] { Loop(); }).detach();
  }
  void Loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return !jobs_.empty(); });
      Job* job = jobs_.front();
      jobs_.erase(jobs_.begin());
      job->result = (*job->fn)();
      job->done = true;
      cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Job*> jobs_;
  pid_t runner_;
};

}  // namespace detail

// A VMM child process; see the top of this file.
class VmmProcess {
 public:
  static std::unique_ptr<VmmProcess> Spawn(const SpawnOptions& options) {
    return std::unique_ptr<VmmProcess>(new VmmProcess(options));
  }
  VmmProcess(const VmmProcess&) = delete;
  VmmProcess& operator=(const VmmProcess&) = delete;
  ~VmmProcess() {
    Kill();
    Reap(/*block=*/true);
  }

  pid_t pid() const { return pid_; }
  // Readable (POLLIN) once the child has ended; -1 where pidfds are missing.
  int pidfd() const { return pidfd_.get(); }
  // The read end of the child's stderr (VmReader keeps its tail).
  int stderr_fd() const { return stderr_.get(); }

  // SIGKILL to the child's process group (and the child), unless reaped.
  void Kill() {
    std::lock_guard lock(mu_);
    if (reaped_) return;
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
  }
  // waitpid once: blocking or not. True once the child is reaped; its
  // status is then status().
  bool Reap(bool block) {
    std::lock_guard lock(mu_);
    if (reaped_) return true;
    int status = 0;
    pid_t r;
    do {
      r = waitpid(pid_, &status, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      reaped_ = true;
      status_ = status;
    }
    return reaped_;
  }
  bool reaped() const {
    std::lock_guard lock(mu_);
    return reaped_;
  }
  int status() const {
    std::lock_guard lock(mu_);
    return status_;
  }
  // "exit status N" / "killed by signal N", for the exit event.
  std::string HowItEnded() const {
    int s = status();
    return WIFEXITED(s)     ? "exit status " + std::to_string(WEXITSTATUS(s))
           : WIFSIGNALED(s) ? "killed by signal " + std::to_string(WTERMSIG(s))
                            : "ended";
  }

 private:
  explicit VmmProcess(const SpawnOptions& o) {
    if (o.argv.empty()) throw std::runtime_error("spawn: no program");
    std::string program = FindProgram(o.argv[0]);
    if (program.empty()) throw std::runtime_error(o.argv[0] + " not found in PATH");
    // Everything the child needs is made here: after fork it may only call
    // async-signal-safe functions (no allocation).
    std::vector<std::string> args = o.argv;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int err_pipe[2], exec_pipe[2];
    if (pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error(ErrnoText("pipe"));
    UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);
    if (pipe2(exec_pipe, O_CLOEXEC) != 0) throw std::runtime_error(ErrnoText("pipe"));
    UniqueFd exec_read(exec_pipe[0]), exec_write(exec_pipe[1]);
    int devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull_fd < 0) throw std::runtime_error(ErrnoText("/dev/null"));
    UniqueFd devnull(devnull_fd);
    std::map<int, int> fds = o.fds;
    fds.emplace(0, devnull.get());
    fds.emplace(1, devnull.get());
    fds.emplace(2, err_write.get());
    std::vector<std::pair<int, int>> plan(fds.begin(), fds.end());  // target, source
    int above = plan.back().first + 1;  // above every target
    if (above < 3) above = 3;
    const pid_t runner = detail::Forker::Get().runner_pid();
    const int exec_fd = exec_write.get();
    const char* path = program.c_str();

    auto fork_fn = [&]() -> pid_t {
      pid_t pid = fork();
      if (pid != 0) return pid < 0 ? -errno : pid;
      // The child. Report a failure as an errno on exec_fd and _exit.
      auto fail = [&](int err) {
        (void)!write(exec_fd, &err, sizeof err);
        _exit(127);
      };
      setpgid(0, 0);
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(errno);
      if (getppid() != runner) fail(ESRCH);  // the runner died before prctl
      // Sources above every target first, so no dup2 below overwrites a
      // source still to be placed.
      int moved[64];
      int exec_copy = fcntl(exec_fd, F_DUPFD_CLOEXEC, above);
      if (exec_copy < 0 || plan.size() > 64) fail(EMFILE);
      for (size_t i = 0; i < plan.size(); ++i) {
        moved[i] = fcntl(plan[i].second, F_DUPFD_CLOEXEC, above);
        if (moved[i] < 0) fail(errno);
      }
      for (size_t i = 0; i < plan.size(); ++i) {
        if (dup2(moved[i], plan[i].first) < 0) fail(errno);  // clears FD_CLOEXEC
      }
      // Nothing else crosses exec: every descriptor from `above` on becomes
      // close-on-exec (the moved copies already are), every other one below
      // it that is not a target is closed.
#if defined(SYS_close_range) && defined(CLOSE_RANGE_CLOEXEC)
      if (syscall(SYS_close_range, static_cast<unsigned>(above), ~0u, CLOSE_RANGE_CLOEXEC) != 0)
#endif
      {
        for (int fd = above; fd < 4096; ++fd) {
          if (fd != exec_copy) fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
      }
      for (int fd = 0; fd < above; ++fd) {
        if (!fds_has(plan, fd)) close(fd);
      }
      execv(path, argv.data());
      int err = errno;
      (void)!write(exec_copy, &err, sizeof err);
      _exit(127);
    };
    pid_t pid = detail::Forker::Get().Run(fork_fn);
    if (pid < 0) throw std::runtime_error(ErrnoText("fork", -pid));
    pid_ = pid;
    setpgid(pid_, pid_);  // from the parent too: no race with Kill()
    exec_write.reset();
    err_write.reset();
    int err = 0;
    ssize_t n;
    do {
      n = read(exec_read.get(), &err, sizeof err);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof err)) {
      Reap(true);
      throw std::runtime_error(err == ESRCH ? "spawn " + program + ": the runner went away"
                                            : ErrnoText("exec " + program, err));
    }
    stderr_ = std::move(err_read);
    pidfd_.reset(static_cast<int>(syscall(SYS_pidfd_open, pid_, 0)));
  }

  static bool fds_has(const std::vector<std::pair<int, int>>& plan, int fd) {
    for (const auto& p : plan) {
      if (p.first == fd) return true;
    }
    return false;
  }

  mutable std::mutex mu_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  UniqueFd pidfd_, stderr_;
};

// One thread that copies a VM's streams to handlers and reports the VMM's
// end; see the top of this file.
class VmReader {
 public:
  using Handler = std::function<void(std::string_view)>;
  VmReader() = default;
  VmReader(const VmReader&) = delete;
  VmReader& operator=(const VmReader&) = delete;
  ~VmReader() { Stop(); }

  // Before Start: bytes from `fd` go to `on_bytes`, on the reader thread;
  // `on_end` (optional) runs once when `fd` reaches its end or the process
  // ended, after its last bytes (a QMP client stops waiting for answers).
  void Watch(int fd, Handler on_bytes, std::function<void()> on_end = {}) {
    streams_.push_back({fd, std::move(on_bytes), std::move(on_end)});
  }
  // A name for messages ("qemu"); the default is the program's.
  void Start(VmmProcess* process, VmSink sink, std::string name = "the VMM") {
    process_ = process;
    sink_.emplace(sink);
    name_ = std::move(name);
    int wake[2];
    if (pipe2(wake, O_CLOEXEC) != 0) throw std::runtime_error(ErrnoText("pipe"));
    wake_read_.reset(wake[0]);
    wake_write_.reset(wake[1]);
    thread_ = std::thread([this] { Guarded(); });
  }
  // Stops the thread (after it, no handler runs). Kill the process first if
  // it is to end: Stop does not wait for it.
  void Stop() {
    if (!thread_.joinable()) return;
    char byte = 1;
    (void)!write(wake_write_.get(), &byte, 1);
    thread_.join();
  }
  // True once the reader has seen the process end and reported it.
  bool exited() const { return exited_.load(); }

 private:
  struct Stream {
    int fd;
    Handler on_bytes;
    std::function<void()> on_end;
  };

  // Stream i is at its end: no more bytes will come from it.
  void Ended(size_t i, std::vector<int>& fds) {
    fds[i] = -1;
    if (i < streams_.size() && streams_[i].on_end) std::exchange(streams_[i].on_end, {})();
  }

  void Guarded() {
    try {
      Loop();
    } catch (const std::exception& e) {
      sink_->Event(EZONE_EVENT_PLUGIN_ERROR, name_ + " reader: " + e.what());
    } catch (...) {
      sink_->Event(EZONE_EVENT_PLUGIN_ERROR, name_ + " reader: unknown exception");
    }
  }

  void Loop() {
    std::string stderr_tail;
    char buf[65536];
    std::vector<int> fds;  // -1 once at EOF (poll skips it)
    for (const Stream& s : streams_) fds.push_back(s.fd);
    const size_t n_streams = fds.size();
    fds.push_back(process_->stderr_fd());
    const int pidfd = process_->pidfd();
    for (;;) {
      std::vector<pollfd> p;
      for (int fd : fds) p.push_back({fd, POLLIN, 0});
      p.push_back({pidfd, POLLIN, 0});
      p.push_back({wake_read_.get(), POLLIN, 0});
      // Without a pidfd (old kernel), look for the end every 100 ms.
      int timeout = pidfd >= 0 ? -1 : 100;
      if (poll(p.data(), p.size(), timeout) < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(ErrnoText("poll"));
      }
      if (p.back().revents) return;  // Stop()
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = read(fds[i], buf, sizeof buf);
        if (n > 0) {
          std::string_view bytes(buf, static_cast<size_t>(n));
          if (i < n_streams) {
            streams_[i].on_bytes(bytes);
          } else {
            stderr_tail.append(bytes);
            if (stderr_tail.size() > 2048) stderr_tail.erase(0, stderr_tail.size() - 2048);
          }
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          Ended(i, fds);
        }
      }
      bool ended = pidfd >= 0 ? (p[p.size() - 2].revents & POLLIN) != 0 : process_->Reap(false);
      if (!ended) continue;
      // What is still buffered comes before the exit event, so the last
      // console lines are in the evidence.
      for (size_t i = 0; i < n_streams; ++i) {
        ssize_t n;
        while (fds[i] >= 0 && (n = recv(fds[i], buf, sizeof buf, MSG_DONTWAIT)) > 0) {
          streams_[i].on_bytes(std::string_view(buf, static_cast<size_t>(n)));
        }
        Ended(i, fds);
      }
      for (pollfd e{fds[n_streams], POLLIN, 0}; e.fd >= 0 && poll(&e, 1, 0) > 0;) {
        ssize_t n = read(e.fd, buf, sizeof buf);
        if (n <= 0) break;
        stderr_tail.append(buf, static_cast<size_t>(n));
      }
      if (stderr_tail.size() > 2048) stderr_tail.erase(0, stderr_tail.size() - 2048);
      process_->Reap(true);
      std::string how = process_->HowItEnded();
      while (!stderr_tail.empty() && stderr_tail.back() == '\n') stderr_tail.pop_back();
      if (!stderr_tail.empty()) how += "; " + name_ + " said: " + stderr_tail;
      exited_ = true;
      sink_->Event(EZONE_EVENT_VMM_EXITED, how);
      return;
    }
  }

  std::vector<Stream> streams_;
  VmmProcess* process_ = nullptr;
  std::optional<VmSink> sink_;
  std::string name_;
  UniqueFd wake_read_, wake_write_;
  std::atomic<bool> exited_{false};
  std::thread thread_;
};

}  // namespace ezone::sdk

#endif  // EZONE_VMM_PROCESS_H_
