// A VMM plugin whose operations throw, written with the SDK: the wrappers must
// turn every exception into a status and a message.
#include <stdexcept>

#include "ezone/sdk.h"

namespace {

class ThrowingVmm {
 public:
  static void Probe(const ezone::sdk::Options& options) {
    if (options.Has("throw-int")) throw 42;  // not even a std::exception
  }
  static std::unique_ptr<ezone::sdk::Vm> Create(const ezone::sdk::GuestSpec&,
                                                ezone::sdk::VmSink) {
    throw std::runtime_error("boom while creating");
  }
};

}  // namespace

EZONE_VMM_PLUGIN(ThrowingVmm, "throwing", "1.0", "throws on purpose", 0)
