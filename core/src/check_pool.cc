#include "check_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <string_view>

namespace ezone {
namespace {

using Clock = std::chrono::steady_clock;

struct Child {
  size_t index = 0;
  pid_t pid = -1;
  int pidfd = -1;  // -1 without pidfd_open: polled every 200 ms instead
  int err = -1;   // its stderr (relay), or -1
  int log = -1;   // its log, ours to append the relayed lines to
  std::string partial;  // a relayed line not yet ended
  Clock::time_point start;
};

// Starts one job; false with errno when it could not.
bool Spawn(const PoolJob& job, Child* child) {
  std::vector<std::string> args = job.args;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  int log = open(job.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return false;
  int err[2] = {-1, -1};
  if (job.relay && pipe2(err, O_CLOEXEC) != 0) {
    close(log);
    return false;
  }
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // its VMs die with it in turn
    if (getppid() != parent) _exit(127);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(log, 1);
    dup2(job.relay ? err[1] : log, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const int saved = errno;
  if (err[1] >= 0) close(err[1]);
  if (err[0] >= 0) fcntl(err[0], F_SETFL, O_NONBLOCK);
  if (pid < 0) {
    if (err[0] >= 0) close(err[0]);
    close(log);
    errno = saved;
    return false;
  }
  child->pid = pid;
  child->pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  child->err = err[0];
  child->log = log;
  child->start = Clock::now();
  return true;
}

void WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// Copies what the child wrote to its stderr (non-blocking), whole lines at
// a time, to its log and to ours: two children's lines never mix within a
// line. A flood without newlines is cut at 64 KiB; at the child's end
// (`at_end`) the last piece goes too.
void Relay(Child& c, bool at_end) {
  char buf[8192];
  while (c.err >= 0) {
    ssize_t n = read(c.err, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) {
      c.partial.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {  // the end of the stream
      close(c.err);
      c.err = -1;
    }
    break;  // EAGAIN: all there is for now
  }
  size_t end = c.partial.rfind('\n');
  if (end != std::string::npos) {
    std::string_view lines(c.partial.data(), end + 1);
    WriteAll(c.log, lines);
    WriteAll(STDERR_FILENO, lines);
    c.partial.erase(0, end + 1);
  }
  if (!c.partial.empty() && (at_end || c.partial.size() > 65536)) {
    c.partial += '\n';
    WriteAll(c.log, c.partial);
    WriteAll(STDERR_FILENO, c.partial);
    c.partial.clear();
  }
}

int StatusOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

std::string SelfExe() {
  char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  return n > 0 ? std::string(path, static_cast<size_t>(n)) : "ezone";
}

bool CheckPool::Run(const std::vector<PoolJob>& jobs,
                    const std::function<void(size_t, pid_t)>& on_start,
                    const std::function<void(const PoolEnd&)>& on_end) {
  std::vector<Child> running;
  size_t next = 0;
  bool stopped = false;
  auto finish = [&](size_t i, int status) {
    Child& c = running[i];
    Relay(c, /*at_end=*/true);
    if (c.err >= 0) close(c.err);
    if (c.log >= 0) close(c.log);
    if (c.pidfd >= 0) close(c.pidfd);
    PoolEnd end{c.index, c.pid, StatusOf(status),
                std::chrono::duration<double>(Clock::now() - c.start).count()};
    running.erase(running.begin() + static_cast<long>(i));
    if (on_end) on_end(end);
  };
  // Reaps and reports every child that has ended.
  auto reap_ended = [&] {
    for (size_t i = running.size(); i-- > 0;) {
      int status = 0;
      if (waitpid(running[i].pid, &status, WNOHANG) == running[i].pid) finish(i, status);
    }
  };
  while ((next < jobs.size() && !stopped) || !running.empty()) {
    while (!stopped && next < jobs.size()) {
      std::vector<CheckCost> costs;
      for (const Child& c : running) costs.push_back(jobs[c.index].cost);
      if (!Fits(jobs[next].cost, costs, budget_)) break;
      Child child;
      child.index = next;
      if (!Spawn(jobs[next], &child)) {
        std::cerr << "ezone: cannot start " << jobs[next].args.front() << ": "
                  << std::strerror(errno) << "\n";
        if (on_end) on_end(PoolEnd{next, -1, 127, 0});
        ++next;
        continue;
      }
      running.push_back(std::move(child));
      if (on_start) on_start(next, running.back().pid);
      ++next;
    }
    if (running.empty()) continue;
    std::vector<pollfd> fds;
    for (const Child& c : running) {
      fds.push_back({c.pidfd, POLLIN, 0});
      fds.push_back({c.err, POLLIN, 0});
    }
    fds.push_back({stopped ? -1 : stop_fd_, POLLIN, 0});
    bool no_pidfd = false;
    for (const Child& c : running) no_pidfd |= c.pidfd < 0;
    if (poll(fds.data(), fds.size(), no_pidfd ? 200 : -1) < 0 && errno != EINTR) {
      std::cerr << "ezone: poll: " << std::strerror(errno) << "\n";
      stopped = true;
    }
    for (size_t i = 0; i < running.size(); ++i) {
      if (fds[2 * i + 1].revents) Relay(running[i], /*at_end=*/false);
    }
    if (!stopped && stop_fd_ >= 0 && fds.back().revents) {
      stopped = true;
      for (const Child& c : running) kill(c.pid, SIGTERM);
      const auto deadline = Clock::now() + std::chrono::seconds(10);
      bool killed = false;
      while (!running.empty()) {
        reap_ended();
        if (!killed && Clock::now() > deadline) {
          for (const Child& c : running) kill(c.pid, SIGKILL);
          killed = true;
        }
        if (!running.empty()) usleep(20000);
      }
      break;
    }
    reap_ended();
  }
  return !stopped;
}

}  // namespace ezone
