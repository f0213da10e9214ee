// KVM through libvirt: issue 3. Until it lands, the probe reports plainly why
// the kvm rows cannot run, so they show as skipped with that reason.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ezone/sdk.h"

namespace {

class KvmVmm {
 public:
  static void Probe(const ezone::sdk::Options&) {
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      throw ezone::sdk::Declined(std::string("no usable /dev/kvm: ") + std::strerror(errno));
    }
    close(fd);
    throw ezone::sdk::Declined(
        "/dev/kvm opens, but the libvirt-based KVM plugin is not implemented "
        "yet (issue 3), so no KVM guest can be booted");
  }
  static std::unique_ptr<ezone::sdk::Vm> Create(const ezone::sdk::GuestSpec&,
                                                ezone::sdk::VmSink) {
    throw std::runtime_error("kvm: not implemented yet (issue 3)");
  }
};

}  // namespace

EZONE_VMM_PLUGIN(KvmVmm, "kvm", "0.0.1", "KVM through libvirt (probe only, issue 3)",
                 EZONE_CAP_PANIC_EVENT)
