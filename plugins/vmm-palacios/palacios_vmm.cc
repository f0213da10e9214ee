// Palacios (V3VEE) through /dev/v3vee: issue 4. Until it lands, the probe
// says why the palacios rows cannot run, so they show as skipped.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "ezone/sdk.h"

namespace {

class PalaciosVmm {
 public:
  static void Probe(const ezone::sdk::Options& options) {
    std::string device = options.Get("device", "/dev/v3vee");
    struct stat st;
    if (stat(device.c_str(), &st) != 0) {
      throw ezone::sdk::Declined("Palacios: " + device + " absent (v3vee.ko not loaded)");
    }
    throw ezone::sdk::Declined("Palacios: " + device +
                               " present, but the Palacios control plugin is not "
                               "implemented yet (issue 4)");
  }
  static std::unique_ptr<ezone::sdk::Vm> Create(const ezone::sdk::GuestSpec&,
                                                ezone::sdk::VmSink) {
    throw std::runtime_error("palacios: not implemented yet (issue 4)");
  }
};

}  // namespace

EZONE_VMM_PLUGIN(PalaciosVmm, "palacios", "0.0.1",
                 "Palacios through /dev/v3vee (probe only, issue 4)", 0)
