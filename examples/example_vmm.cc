// An example VMM plugin: QEMU's `microvm` machine (no PCI, no firmware), a
// different machine from the built-in qemu plugin's q35, written with the
// SDK's process helpers (ezone/vmm_process.h): they spawn QEMU right (own
// process group, death signal tied to the runner, descriptors without
// collisions, killed and reaped on every path), carry the two serial ports
// over socketpairs and report QEMU's end. No QMP: the core still detects
// crashes from the console, hangs from the agent's heartbeat and the VMM's
// exit from the reader.
//
// Options (suite vmm-options): binary=<qemu>, accel=tcg|kvm.
#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "ezone/sdk.h"
#include "ezone/vmm_process.h"

namespace {

namespace sdk = ezone::sdk;

class MicroVm : public sdk::Vm {
 public:
  MicroVm(const sdk::GuestSpec& spec, sdk::VmSink sink) {
    sdk::SocketPair console = sdk::SocketPair::Make(), control = sdk::SocketPair::Make();
    std::string accel = spec.options.Get("accel", "tcg");
    sdk::SpawnOptions so;
    so.argv = {spec.options.Get("binary", "qemu-system-x86_64"),
               "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
               "-machine", "microvm,isa-serial=off,accel=" + accel,
               "-cpu", accel == "kvm" ? "host" : "max",
               "-m", std::to_string(spec.memory_mib), "-smp", std::to_string(spec.vcpus),
               "-kernel", spec.kernel, "-initrd", spec.initramfs,
               // microvm has no PIT/HPET reference under TCG: give the kernel
               // its TSC rate (kernel arguments a VMM may append).
               "-append", spec.cmdline + " tsc_early_khz=2000000 no_timer_check",
               // microvm's ACPI lists one serial port: both are explicit.
               "-chardev", "socket,id=con,fd=3", "-device", "isa-serial,chardev=con,iobase=0x3f8,irq=4",
               "-chardev", "socket,id=ctl,fd=4", "-device", "isa-serial,chardev=ctl,iobase=0x2f8,irq=3"};
    so.fds = {{3, console.vmm.get()}, {4, control.vmm.get()}};
    process_ = sdk::VmmProcess::Spawn(so);
    console_ = std::move(console.plugin);
    control_ = std::move(control.plugin);
    reader_.Watch(console_.get(), [sink](std::string_view b) { sink.Console(b); });
    reader_.Watch(control_.get(), [sink](std::string_view b) { sink.Control(b); });
    reader_.Start(process_.get(), sink, "qemu");
    version_ = "example-vmm 1.0 (qemu microvm, " + accel + ")";
  }
  ~MicroVm() override {
    process_->Kill();
    reader_.Stop();  // then process_ reaps, the fds close
  }
  void SendControl(std::string_view bytes) override { sdk::SendAll(control_.get(), bytes); }
  int64_t Pid() const override { return process_->pid(); }
  std::string Version() const override { return version_; }

 private:
  std::unique_ptr<sdk::VmmProcess> process_;
  sdk::UniqueFd console_, control_;
  sdk::VmReader reader_;
  std::string version_;
};

class ExampleVmm {
 public:
  static void Probe(const sdk::Options& options) {
    if (sdk::FindProgram(options.Get("binary", "qemu-system-x86_64")).empty()) {
      throw sdk::Declined("qemu-system-x86_64 not found in PATH");
    }
    if (options.Get("accel", "tcg") == "kvm" && access("/dev/kvm", R_OK | W_OK) != 0) {
      throw sdk::Declined("no usable /dev/kvm");
    }
  }
  static std::unique_ptr<sdk::Vm> Create(const sdk::GuestSpec& spec, sdk::VmSink sink) {
    return std::make_unique<MicroVm>(spec, sink);
  }
};

}  // namespace

EZONE_VMM_PLUGIN(ExampleVmm, "example-vmm", "1.0",
                 "example: QEMU microvm, two serial ports, no QMP (SDK process helpers)",
                 EZONE_CAP_PROCESS | EZONE_CAP_WITNESS)
