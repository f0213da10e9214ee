// Palacios (V3VEE) through its Linux control interface, /dev/v3vee (issue 4).
// See docs/palacios.md.
//
// Create: the boot ISO (kernel + initramfs + ISOLINUX, cached by content
// hash) gets this boot's command line; with the generated configuration XML
// it is packed into one Palacios image, which the create-guest ioctl takes.
// The VM's com1 stream is the kernel console, com2 the agent's channel.
//
// Options (suite vmm-options):
//   paging=nested|shadow   (default nested)
//   add-memory=1           add the guest's memory to Palacios when its pools
//                          have too little (otherwise: skip, with the reason)
//   min-free-mib=N         what the probe asks of the pools (default 256)
//   cache-dir=PATH         where boot ISOs are kept
//                          (default $XDG_CACHE_HOME/ezone/palacios)
//   device=, proc=, vm-prefix=  /dev/v3vee, /proc/v3vee, /dev/v3-vm
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "ezone/sdk.h"
#include "palacios_config.h"
#include "palacios_device.h"
#include "palacios_guest.h"
#include "palacios_image.h"
#include "palacios_iso.h"

namespace {

using ezone::sdk::Declined;
using ezone::sdk::GuestSpec;
using ezone::sdk::Options;
using ezone::sdk::VmSink;
namespace pal = ezone::palacios;

pal::Paths PathsFrom(const Options& o) {
  pal::Paths p;
  p.control = o.Get("device", p.control);
  p.proc = o.Get("proc", p.proc);
  p.vm_prefix = o.Get("vm-prefix", p.vm_prefix);
  return p;
}

bool AddMemory(const Options& o) {
  std::string v = o.Get("add-memory", "0");
  return v == "1" || v == "yes" || v == "true";
}

// What the host's module says about itself, e.g. its srcversion.
std::string ModuleVersion() {
  for (const char* file : {"/sys/module/v3vee/version", "/sys/module/v3vee/srcversion"}) {
    std::optional<std::string> v = pal::SystemDeviceIo().ReadText(file);
    if (v && !v->empty()) {
      while (!v->empty() && (v->back() == '\n' || v->back() == ' ')) v->pop_back();
      return std::string(file).ends_with("srcversion") ? "srcversion " + *v : *v;
    }
  }
  return "version unknown";
}

class PalaciosVm : public ezone::sdk::Vm {
 public:
  PalaciosVm(const GuestSpec& spec, VmSink sink) {
    const Options& o = spec.options;
    std::string why;
    std::optional<pal::IsoTools> tools = pal::FindIsoTools(&why);
    if (!tools) throw std::runtime_error("Palacios: " + why);
    std::filesystem::path cache =
        o.Has("cache-dir") ? std::filesystem::path(o.Get("cache-dir")) : pal::DefaultCacheDir();
    std::filesystem::path iso_path = pal::CachedBootIso(*tools, spec.kernel, spec.initramfs, cache);
    std::string iso = pal::ReadFile(iso_path);
    pal::SetCommandLine(iso, spec.cmdline);

    pal::GuestConfig config;
    config.memory_mib = spec.memory_mib;
    config.cores = spec.vcpus;
    config.paging = o.Get("paging", "nested");
    pal::GuestRequest request;
    static std::atomic<int> counter{0};
    request.name = "ezone-" + std::to_string(getpid()) + "-" + std::to_string(++counter) + "-" +
                   spec.role;
    request.image = pal::PackImage(pal::BuildConfigXml(config), {iso});
    iso.clear();
    iso.shrink_to_fit();
    request.memory_bytes = uint64_t{spec.memory_mib} << 20;
    request.add_memory = AddMemory(o);
    version_ = "Palacios v3vee.ko (" + ModuleVersion() + ", " + config.paging + " paging)";
    guest_ = std::make_unique<pal::PalaciosGuest>(pal::SystemDeviceIo(), PathsFrom(o),
                                                  std::move(request), sink);
  }

  void SendControl(std::string_view bytes) override { guest_->SendControl(bytes); }
  // No host process runs the VM: it lives in the host kernel.
  int64_t Pid() const override { return -1; }
  std::string Version() const override { return version_; }

 private:
  std::string version_;
  std::unique_ptr<pal::PalaciosGuest> guest_;
};

class PalaciosVmm {
 public:
  static void Probe(const Options& options) {
    uint64_t need = options.GetNumber("min-free-mib", 256) << 20;
    pal::ProbeHost(pal::SystemDeviceIo(), PathsFrom(options), need, AddMemory(options));
    std::string paging = options.Get("paging", "nested");
    if (paging != "nested" && paging != "shadow") {
      throw std::invalid_argument("paging=" + paging + ": nested or shadow");
    }
    std::string why;
    if (!pal::FindIsoTools(&why)) throw Declined("Palacios: " + why);
  }
  static std::unique_ptr<ezone::sdk::Vm> Create(const GuestSpec& spec, VmSink sink) {
    return std::make_unique<PalaciosVm>(spec, sink);
  }
};

}  // namespace

// A VM is no host process (no EZONE_CAP_PROCESS), Palacios has no panic
// notification (no EZONE_CAP_PANIC_EVENT); it runs several guests side by
// side (EZONE_CAP_WITNESS).
EZONE_VMM_PLUGIN(PalaciosVmm, "palacios", "0.1.0",
                 "Palacios (V3VEE) through /dev/v3vee: boot ISO, packed image, com1/com2 streams",
                 EZONE_CAP_WITNESS)
