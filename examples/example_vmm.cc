// An example VMM plugin: the smallest useful one. QEMU (TCG) as a child
// process, its two serial ports (kernel console, agent channel) on
// socketpairs, one thread copying their bytes to the core. No QMP: the core
// still detects crashes from the console, hangs from the agent's heartbeat
// and the VMM's exit from the closed console.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ezone/sdk.h"

namespace {

class ExampleVm : public ezone::sdk::Vm {
 public:
  ExampleVm(const ezone::sdk::GuestSpec& spec, ezone::sdk::VmSink sink) : sink_(sink) {
    int console[2], control[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control)) {
      throw std::runtime_error("socketpair failed");
    }
    std::vector<std::string> args = {
        "qemu-system-x86_64", "-nodefaults", "-display", "none", "-machine", "q35,accel=tcg",
        "-m", std::to_string(spec.memory_mib), "-kernel", spec.kernel, "-initrd", spec.initramfs,
        "-append", spec.cmdline, "-no-reboot",
        "-chardev", "socket,id=con,fd=3", "-serial", "chardev:con",
        "-chardev", "socket,id=ctl,fd=4", "-serial", "chardev:ctl"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the runner
      dup2(console[1], 3);
      dup2(control[1], 4);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    close(console[1]);
    close(control[1]);
    console_ = console[0];
    control_ = control[0];
    reader_ = std::thread([this] { Copy(); });
  }

  ~ExampleVm() override {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);  // closes qemu's ends: the reader sees EOF
    reader_.join();
    close(console_);
    close(control_);
  }

  void SendControl(std::string_view bytes) override {
    if (send(control_, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) {
      throw std::runtime_error("control channel write failed");
    }
  }
  int64_t Pid() const override { return pid_; }
  std::string Version() const override { return "example-vmm 1.0 (qemu, tcg)"; }

 private:
  void Copy() {
    pollfd fds[2] = {{console_, POLLIN, 0}, {control_, POLLIN, 0}};
    char buf[4096];
    while (fds[0].fd >= 0) {
      if (poll(fds, 2, -1) < 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (!fds[i].revents) continue;
        ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          fds[i].fd = -1;
          continue;
        }
        std::string_view bytes(buf, static_cast<size_t>(n));
        i == 0 ? sink_.Console(bytes) : sink_.Control(bytes);
      }
    }
    sink_.Event(EZONE_EVENT_VMM_EXITED, "console closed: qemu ended");
  }

  ezone::sdk::VmSink sink_;
  pid_t pid_ = -1;
  int console_ = -1, control_ = -1;
  std::thread reader_;
};

class ExampleVmm {
 public:
  static void Probe(const ezone::sdk::Options&) {
    if (system("command -v qemu-system-x86_64 >/dev/null 2>&1") != 0) {
      throw ezone::sdk::Declined("qemu-system-x86_64 not found in PATH");
    }
  }
  static std::unique_ptr<ezone::sdk::Vm> Create(const ezone::sdk::GuestSpec& spec,
                                                ezone::sdk::VmSink sink) {
    return std::make_unique<ExampleVm>(spec, sink);
  }
};

}  // namespace

EZONE_VMM_PLUGIN(ExampleVmm, "example-vmm", "1.0",
                 "example: QEMU with two serial ports, no QMP", EZONE_CAP_PROCESS)
