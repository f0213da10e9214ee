// Soft errors: bits flipped in the victim's memory from outside, through the
// VMM (EZONE_CAP_GUEST_MEMORY), as the VM-based fault injection studies the
// paper cites do. Each flip is read back, so the report can say the fault
// took place even when the guest shows nothing.
//
// Options: flips=<n> (default 64 for kernel, 4096 for random),
//          from=<MiB>,to=<MiB> (the guest-physical window; kernel: 16..48,
//          where an x86-64 kernel booted with nokaslr sits), seed=<n>.
// The qemu plugin needs vmm-options guest-memory=on.
#include <random>
#include <string>

#include "ezone/sdk.h"

namespace {

constexpr uint32_t kSigns = EZONE_SIGN_FAULT_CONFIRMED | EZONE_SIGN_GUEST_KERNEL_CRASH |
                            EZONE_SIGN_GUEST_HANG | EZONE_SIGN_GUEST_PROCESS_DIED;

class BitflipFault {
 public:
  static constexpr ezone_fault_variant kVariants[] = {
      {"kernel", EZONE_ZONE_GUEST_KERNEL, kSigns,
       "bit flips in the guest kernel's image (boot the guest with nokaslr)"},
      {"random", EZONE_ZONE_GUEST_KERNEL, kSigns, "bit flips anywhere in guest RAM"},
  };

  static void Fire(std::string_view variant, const ezone::sdk::Options& options,
                   ezone::sdk::FaultTarget& target) {
    bool kernel = variant == "kernel";
    uint64_t ram = static_cast<uint64_t>(target.GuestMemoryMib()) << 20;
    uint64_t from = options.GetNumber("from", kernel ? 16 : 1) << 20;
    uint64_t to = std::min(options.GetNumber("to", kernel ? 48 : ram >> 20) << 20, ram);
    uint64_t flips = options.GetNumber("flips", kernel ? 64 : 4096);
    if (from >= to) throw std::invalid_argument("from must be below to (and below guest RAM)");
    std::mt19937_64 random(options.GetNumber("seed", std::random_device{}()));
    std::uniform_int_distribution<uint64_t> address(from, to - 1);
    std::uniform_int_distribution<int> bit(0, 7);
    for (uint64_t i = 0; i < flips; ++i) {
      uint64_t at = address(random);
      unsigned char before, after;
      target.GuestMemory(false, at, &before, 1);  // throws Declined without access
      unsigned char flipped = before ^ static_cast<unsigned char>(1u << bit(random));
      target.GuestMemory(true, at, &flipped, 1);
      target.GuestMemory(false, at, &after, 1);
      if (after != flipped) {
        throw std::runtime_error("flip at guest-physical " + std::to_string(at) + " did not stick");
      }
    }
    target.Observed(EZONE_SIGN_FAULT_CONFIRMED,
                    std::to_string(flips) + " bits flipped and read back in guest-physical [" +
                        std::to_string(from >> 20) + ", " + std::to_string(to >> 20) + ") MiB");
  }
};

}  // namespace

EZONE_FAULT_PLUGIN(BitflipFault, "bitflip", "0.1.0",
                   "soft errors: bit flips in guest memory through the VMM")
