// QEMU as a user-space child process: TCG unless asked otherwise, QMP for
// events, the two serial ports (kernel console, agent channel) streamed to
// the core over socketpairs. No files, no sockets on disk: nothing to leak.
//
// Options (suite vmm-options): accel=tcg|kvm, machine=q35, cpu=..., binary=...,
//   disk=<MiB>  a virtio disk (/dev/vda) on QEMU's null-co driver: writes are
//               emulated and discarded, so no image file exists to leak;
//   nic=user    a virtio NIC on QEMU's user-mode network (guest 10.0.2.15,
//               host 10.0.2.2), so a guest can load the host's network stack;
//   hostfwd=tcp:127.0.0.1:<port>-:<guest port>  forward a host port to the
//               guest on that NIC (implies nic=user): how the core reaches
//               libvirtd inside a nested host;
//   fw_cfg_dir=<dir>  each regular file of <dir> given to the guest as the
//               fw_cfg item opt/ezone/<file name> (read by QEMU at start;
//               the guest reads /sys/firmware/qemu_fw_cfg/by_name/...): how
//               the core hands the nested host its per-run TLS credentials
//               without a file or command line other users could read;
//   nic_model=<model>  the NIC's QEMU device model (default virtio-net-pci;
//               e1000e for the Xen nested host, whose PVH dom0 sits behind
//               an IOMMU that a legacy virtio device would bypass);
//   iommu=amd   QEMU's emulated AMD IOMMU with interrupt remapping
//               (-device amd-iommu,intremap=on): Xen needs one for a PVH
//               dom0 (the Xen nested host, issue 22);
//   sandbox=on|off  QEMU's seccomp sandbox (default on, where the binary has
//               it): obsolete calls, privilege elevation, spawning and
//               resource control denied; the version string says which;
//   guest-memory=on  guest RAM on a memfd shared with this plugin, for
//               faults that write guest memory (EZONE_CAP_GUEST_MEMORY):
//               no file on disk, gone with the last descriptor.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ezone/sdk.h"
#include "ezone/qmp.h"
#include "ezone/vmm_process.h"

namespace {

using ezone::sdk::Declined;
using ezone::sdk::GuestSpec;
using ezone::sdk::Options;
using ezone::sdk::SocketPair;
using ezone::sdk::UniqueFd;
using ezone::sdk::VmSink;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }


// First line of "<binary> --version", e.g. "QEMU emulator version 7.2.22 (...)".
// Asked once per binary: running it costs ~50 ms, on every check otherwise.
std::string QueryVersionUncached(const std::string& binary);
std::string QueryVersion(const std::string& binary) {
  static std::mutex mu;
  static std::map<std::string, std::string> versions;
  std::lock_guard lock(mu);
  auto it = versions.find(binary);
  if (it == versions.end()) it = versions.emplace(binary, QueryVersionUncached(binary)).first;
  return it->second;
}

std::string QueryVersionUncached(const std::string& binary) {
  std::string cmd = "'" + binary + "' --version 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "";
  char line[256] = {0};
  if (!fgets(line, sizeof line, p)) line[0] = '\0';
  pclose(p);
  std::string v = line;
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
  return v;
}

// QEMU's seccomp sandbox for every VM ezone starts: obsolete system calls,
// privilege elevation, spawning processes and resource control denied. No
// option of this plugin needs what it denies (snapshots go through file
// descriptors, not `exec:`).
constexpr const char* kSandbox =
    "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";

// Whether `binary` was built with seccomp (Debian's is): asked once per
// binary by starting it with the sandbox and no machine, and quitting.
bool SandboxSupportedUncached(const std::string& binary);
bool SandboxSupported(const std::string& binary) {
  static std::mutex mu;
  static std::map<std::string, bool> supported;
  std::lock_guard lock(mu);
  auto it = supported.find(binary);
  if (it == supported.end()) it = supported.emplace(binary, SandboxSupportedUncached(binary)).first;
  return it->second;
}

bool SandboxSupportedUncached(const std::string& binary) {
  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0) return false;
  UniqueFd in_read(in[0]), in_write(in[1]);
  (void)!write(in_write.get(), "quit\n", 5);
  in_write.reset();
  ezone::sdk::SpawnOptions so;
  so.argv = {binary, "-machine", "none", "-nodefaults", "-no-user-config", "-display", "none",
             "-monitor", "stdio", "-sandbox", kSandbox};
  so.fds = {{0, in_read.get()}};
  try {
    auto qemu = ezone::sdk::VmmProcess::Spawn(so);
    qemu->Reap(/*block=*/true);
    return WIFEXITED(qemu->status()) && WEXITSTATUS(qemu->status()) == 0;
  } catch (const std::exception&) {
    return false;
  }
}

// Guest RAM on a memfd, mapped here and handed to QEMU as its memory backend.
// A member, so it is released even when the VM's constructor throws.
struct GuestRam {
  int fd = -1;
  unsigned char* bytes = nullptr;
  size_t size = 0;
  GuestRam() = default;
  GuestRam(const GuestRam&) = delete;
  GuestRam& operator=(const GuestRam&) = delete;
  ~GuestRam() {
    if (bytes != nullptr) munmap(bytes, size);
    if (fd >= 0) close(fd);
  }
  void Create(size_t n) {
    size = n;
    fd = memfd_create("ezone-guest-ram", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(size)) != 0) {
      throw std::runtime_error(Errno("guest memory memfd"));
    }
    void* mapped = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mapped == MAP_FAILED) throw std::runtime_error(Errno("mmap guest memory"));
    bytes = static_cast<unsigned char*>(mapped);
  }
};

class QemuVm : public ezone::sdk::Vm {
 public:
  QemuVm(const GuestSpec& spec, VmSink sink) : sink_(sink) {
    const Options& o = spec.options;
    binary_ = ezone::sdk::FindProgram(o.Get("binary", "qemu-system-x86_64"));
    if (binary_.empty()) throw std::runtime_error("qemu-system-x86_64 not found in PATH");
    accel_ = o.Get("accel", "tcg");
    // sandbox=off leaves QEMU's seccomp sandbox out (for a QEMU option it
    // would deny); the VMM's version string says how it ran, for reports.
    std::string sandbox = o.Get("sandbox", "on");
    if (sandbox != "on" && sandbox != "off") {
      throw std::runtime_error("sandbox=" + sandbox + ": expected on or off");
    }
    bool sandboxed = sandbox == "on" && SandboxSupported(binary_);
    version_ = QueryVersion(binary_) + " (" + accel_ + ", " +
               (sandboxed ? std::string("seccomp sandbox on")
                : sandbox == "off" ? std::string("seccomp sandbox off: sandbox=off")
                                   : std::string("seccomp sandbox off: this QEMU has none")) +
               ")";

    SocketPair console = SocketPair::Make(), control = SocketPair::Make(),
               qmp = SocketPair::Make();

    UniqueFd restore_fd;  // snapshot mode, until QEMU has it
    std::string machine = o.Get("machine", "q35") + ",accel=" + accel_;
    std::vector<std::string> memory_args;
    if (o.Get("guest-memory") == "on") {
      // Guest-physical address == offset in the memfd below 4 GiB (q35
      // keeps all of RAM low for the sizes ezone uses).
      ram_.Create(static_cast<size_t>(spec.memory_mib) << 20);
      memory_args = {"-object", "memory-backend-file,id=ezram,size=" +
                                    std::to_string(spec.memory_mib) +
                                    "M,mem-path=/proc/self/fd/6,share=on"};
      machine += ",memory-backend=ezram";
    }
    std::vector<std::string> args = {
        binary_, "-nodefaults", "-no-user-config", "-display", "none",
        "-machine", machine,
        "-cpu", o.Get("cpu", accel_ == "kvm" ? "host" : "max"),
        "-m", std::to_string(spec.memory_mib),
        "-smp", std::to_string(spec.vcpus),
        "-kernel", spec.kernel, "-initrd", spec.initramfs, "-append", spec.cmdline,
        // fds 3, 4, 5 in the child (see below).
        "-chardev", "socket,id=qmp,fd=5", "-mon", "chardev=qmp,mode=control",
        // pvpanic turns a guest panic into QMP GUEST_PANICKED. QEMU must not
        // act on it (panic=none): the kernel flushes some oops text (a double
        // fault's) only after the pvpanic write. Its panic=-1 reboot then
        // ends the process through -no-reboot.
        "-device", "pvpanic", "-action", "panic=none", "-no-reboot"};
    for (auto serial : {ezone::sdk::QemuSerial("console", 3), ezone::sdk::QemuSerial("control", 4)}) {
      args.insert(args.end(), serial.begin(), serial.end());
    }
    args.insert(args.end(), memory_args.begin(), memory_args.end());
    if (sandboxed) args.insert(args.end(), {"-sandbox", kSandbox});
    if (!spec.restore_from.empty()) {
      // Snapshot mode: load the state saved at READY instead of booting,
      // from a descriptor (fd 7 in the child): no shell, no spawned `cat`,
      // which the sandbox would deny.
      restore_fd.reset(open(spec.restore_from.c_str(), O_RDONLY | O_CLOEXEC));
      if (!restore_fd) throw std::runtime_error(Errno("open " + spec.restore_from));
      args.insert(args.end(), {"-incoming", "fd:7"});
    }
    // Before any PCI device, which it then translates.
    if (o.Has("iommu")) {
      if (o.Get("iommu") != "amd") throw std::runtime_error("iommu=" + o.Get("iommu") + ": only iommu=amd");
      args.insert(args.end(), {"-device", "amd-iommu,intremap=on"});
    }
    if (o.Has("disk")) {
      std::string mib = o.Get("disk");
      if (mib.empty() || mib.find_first_not_of("0123456789") != std::string::npos) {
        throw std::runtime_error("disk=" + mib + ": expected a size in MiB");
      }
      args.insert(args.end(), {"-blockdev", "driver=null-co,node-name=ezdisk,size=" +
                                                std::to_string(std::stoull(mib) << 20),
                               "-device", "virtio-blk-pci,drive=ezdisk"});
    }
    if (o.Has("nic") || o.Has("hostfwd")) {
      if (o.Get("nic", "user") != "user") {
        throw std::runtime_error("nic=" + o.Get("nic") + ": only nic=user");
      }
      std::string model = o.Get("nic_model", "virtio-net-pci");
      if (model.empty() || model.find_first_of(",=") != std::string::npos) {
        throw std::runtime_error("nic_model=" + model + ": expected a QEMU NIC model");
      }
      std::string nic = "user,model=" + model;
      if (o.Has("hostfwd")) nic += ",hostfwd=" + o.Get("hostfwd");
      args.insert(args.end(), {"-nic", nic});
    }
    if (o.Has("fw_cfg_dir")) {
      std::error_code ec;
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(o.Get("fw_cfg_dir"), ec)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      if (ec) throw std::runtime_error("fw_cfg_dir=" + o.Get("fw_cfg_dir") + ": " + ec.message());
      std::sort(files.begin(), files.end());
      for (const auto& file : files) {
        // QEMU's option syntax doubles a comma inside a value.
        std::string path;
        for (char c : file.string()) path += c == ',' ? std::string(",,") : std::string(1, c);
        const std::string name = "opt/ezone/" + file.filename().string();
        if (name.size() > 55 || name.find(',') != std::string::npos) {
          throw std::runtime_error("fw_cfg_dir: " + file.filename().string() +
                                   ": fw_cfg names are at most 55 bytes, no commas");
        }
        args.insert(args.end(), {"-fw_cfg", "name=" + name + ",file=" + path});
      }
    }
    // The SDK spawns it: own process group (teardown kills anything qemu
    // started), dies with the runner, these fds at these numbers and no
    // other, reaped on every path.
    ezone::sdk::SpawnOptions so;
    so.argv = args;
    so.fds = {{3, console.vmm.get()}, {4, control.vmm.get()}, {5, qmp.vmm.get()}};
    if (ram_.fd >= 0) so.fds[6] = ram_.fd;
    if (restore_fd) so.fds[7] = restore_fd.get();
    process_ = ezone::sdk::VmmProcess::Spawn(so);
    restore_fd.reset();  // QEMU has its own copy
    pid_ = process_->pid();
    console_fd_ = std::move(console.plugin);
    control_fd_ = std::move(control.plugin);
    qmp_fd_ = std::move(qmp.plugin);
    // The SDK's QMP client, as any QEMU-based plugin's: it answers the
    // greeting, files answers by id, maps GUEST_PANICKED and SHUTDOWN once,
    // and reports a line that is not QMP once as a plugin error (the check
    // can no longer rely on what QMP says).
    qmp_ = std::make_unique<ezone::sdk::QmpClient>(qmp_fd_.get(), sink_);
    reader_.Watch(console_fd_.get(), [this](std::string_view b) { sink_.Console(b); });
    reader_.Watch(control_fd_.get(), [this](std::string_view b) { sink_.Control(b); });
    reader_.Watch(qmp_fd_.get(), [this](std::string_view b) { qmp_->OnBytes(b); },
                  [this] { qmp_->OnClosed(); });
    reader_.Start(process_.get(), sink_, "qemu");
    if (!spec.restore_from.empty()) {
      try {
        AwaitRestored();
      } catch (...) {
        // A throwing constructor runs no destructor: QEMU is killed here,
        // then the members stop the reader and reap it.
        process_->Kill();
        throw;
      }
    }
  }

  ~QemuVm() override {
    process_->Kill();
    reader_.Stop();  // then the members reap QEMU and close the fds
  }

  void SendControl(std::string_view bytes) override {
    ezone::sdk::SendAll(control_fd_.get(), bytes);
  }

  int64_t Pid() const override { return pid_; }
  std::string Version() const override { return version_; }

  // A restoring VM accepts serial input before its device state is loaded,
  // and the load then drops it: nothing may be sent until it runs.
  void AwaitRestored() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      // QEMU loads the state in its main loop, which may leave QMP silent
      // for more than one command's 10 s on a loaded host (a nested host's
      // 400 MB): only the deadline or QEMU's exit ends the wait.
      std::string why;
      try {
        std::string status = qmp_->Execute("query-status");
        if (ezone::sdk::json::Member(status, "running") == "true") return;
        why = status;
      } catch (const ezone::sdk::QmpError&) {
        throw;  // QEMU's own error answer
      } catch (const std::exception& e) {
        why = e.what();
      }
      if (reader_.exited() || std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("the VM state did not load: " + why);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // Saves the whole VM (a live migration to a file: the guest keeps running
  // until the copy converges, so QEMU restores it running).
  void SaveSnapshot(const std::string& path) override {
    std::string partial = path + ".partial";
    // QEMU writes to a descriptor the plugin opened and hands it over QMP
    // (getfd): no shell, no spawned `cat` (the sandbox denies spawning).
    int fd = open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error(Errno("open " + partial));
    try {
      qmp_->Execute("getfd", R"({"fdname": "ezone-snapshot"})", std::chrono::seconds(10), fd);
    } catch (...) {
      close(fd);
      unlink(partial.c_str());
      throw;
    }
    close(fd);
    qmp_->Execute("migrate", R"({"uri": "fd:ezone-snapshot"})");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    for (;;) {
      std::string info = qmp_->Execute("query-migrate");
      auto member = ezone::sdk::json::Member(info, "status");
      std::string status = member ? ezone::sdk::json::String(*member).value_or("") : "";
      if (status == "completed") break;
      if (status == "failed" || status == "cancelled" ||
          std::chrono::steady_clock::now() > deadline) {
        unlink(partial.c_str());
        throw std::runtime_error("saving the VM state failed: " + info);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (rename(partial.c_str(), path.c_str()) != 0) {
      unlink(partial.c_str());
      throw std::runtime_error(Errno("rename " + partial));
    }
  }

  void GuestMemory(bool write, uint64_t guest_phys, void* buffer, size_t size) override {
    if (ram_.bytes == nullptr) {
      throw Declined("qemu: guest memory access needs vmm-options guest-memory=on");
    }
    if (guest_phys > ram_.size || size > ram_.size - guest_phys) {
      throw std::runtime_error("guest-physical range " + std::to_string(guest_phys) + "+" +
                               std::to_string(size) + " is outside guest RAM");
    }
    if (write) {
      std::memcpy(ram_.bytes + guest_phys, buffer, size);
    } else {
      std::memcpy(buffer, ram_.bytes + guest_phys, size);
    }
  }

 private:
  VmSink sink_;
  std::string binary_, accel_, version_;
  pid_t pid_ = -1;
  GuestRam ram_;  // only with guest-memory=on
  // Destroyed in reverse: the reader stops before the process is reaped and
  // before the descriptors it reads close.
  std::unique_ptr<ezone::sdk::VmmProcess> process_;
  UniqueFd console_fd_, control_fd_, qmp_fd_;
  std::unique_ptr<ezone::sdk::QmpClient> qmp_;  // on qmp_fd_, fed by the reader
  ezone::sdk::VmReader reader_;
};

class QemuVmm {
 public:
  static void Probe(const Options& options) {
    std::string binary = ezone::sdk::FindProgram(options.Get("binary", "qemu-system-x86_64"));
    if (binary.empty()) {
      throw Declined("qemu-system-x86_64 not found in PATH (apt-get install qemu-system-x86)");
    }
    if (options.Get("accel", "tcg") == "kvm") {
      int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
      if (fd < 0) throw Declined(Errno("no usable /dev/kvm"));
      close(fd);
    }
  }
  static std::unique_ptr<ezone::sdk::Vm> Create(const GuestSpec& spec, VmSink sink) {
    return std::make_unique<QemuVm>(spec, sink);
  }
};

}  // namespace

EZONE_VMM_PLUGIN(QemuVmm, "qemu", "0.1.0",
                 "QEMU as a user-space process (TCG by default), QMP events",
                 EZONE_CAP_PANIC_EVENT | EZONE_CAP_PROCESS | EZONE_CAP_WITNESS |
                     EZONE_CAP_GUEST_MEMORY | EZONE_CAP_SNAPSHOT)
