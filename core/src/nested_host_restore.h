// A check's nested host restored from the state a boot saved at READY
// (issue 19): the state is made once per image, QEMU and settings (a
// template host booted to READY, found clean, saved), then loaded and
// verified for each check (NestedHost::Refresh). Any doubt gives no host
// back, and the check boots one as before. What happened comes back as
// typed evidence and report properties; the check's record takes them.
#ifndef EZONE_CORE_NESTED_HOST_RESTORE_H_
#define EZONE_CORE_NESTED_HOST_RESTORE_H_

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ezone/report/check_record.h"
#include "nested_host.h"

namespace ezone {

// The guests saved inside the host's state (EZONE_CAP_ADOPT): a check then
// restores host, victim and witness together, paused at READY, and no guest
// boots under nested KVM (its QEMU start and boot were about 8 s of a 12 s
// check, twice that with a witness). The state is made once per key, from
// the host's own state.
struct NestedGuestTemplate {
  // What makes one such set of guests differ from another: the guest
  // image, the VMM plugin and its version, the options, memory and kernel
  // arguments, and which roles there are.
  std::string key;
  // The guests, in the order they start: the witness first, then the
  // victim once it is READY (two nested guests booting at once crashed a
  // nested host's kernel once in three runs).
  std::vector<Role> roles;
  // Starts the guest of `role` on `host` (its events go to `events`) and
  // returns it once it said READY; null with *why when it did not come up.
  // The VM must live until the host's state is saved.
  std::function<std::unique_ptr<VmSession>(NestedHost& host, EventQueue& events, Role role,
                                           std::string* why)>
      start;
};

struct NestedHostRestoreResult {
  std::unique_ptr<NestedHost> host;  // restored and verified; null: boot one
  std::vector<report::Evidence> evidence;
  std::map<std::string, std::string> properties;
};

// `console_log` is the host's (the template's goes beside it); `events` the
// check's queue, emptied of a discarded host's news; `boot_timeout` what a
// host boot may take; `on_prepare` runs when the state must be made first.
// With `guests`, the host comes with them (host->saved_guests()) where its
// state can be made; without them where it cannot (the evidence says).
NestedHostRestoreResult RestoreNestedHost(const Plugin& qemu, const NestedHostImage& image,
                                          const std::filesystem::path& console_log,
                                          EventQueue* events,
                                          std::chrono::milliseconds boot_timeout,
                                          const std::function<void()>& on_prepare,
                                          const NestedGuestTemplate* guests = nullptr);

}  // namespace ezone

#endif  // EZONE_CORE_NESTED_HOST_RESTORE_H_
