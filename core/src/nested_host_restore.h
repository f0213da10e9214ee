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

struct NestedHostRestoreResult {
  std::unique_ptr<NestedHost> host;  // restored and verified; null: boot one
  std::vector<report::Evidence> evidence;
  std::map<std::string, std::string> properties;
};

// `console_log` is the host's (the template's goes beside it); `events` the
// check's queue, emptied of a discarded host's news; `boot_timeout` what a
// host boot may take; `on_prepare` runs when the state must be made first.
NestedHostRestoreResult RestoreNestedHost(const Plugin& qemu, const NestedHostImage& image,
                                          const std::filesystem::path& console_log,
                                          EventQueue* events,
                                          std::chrono::milliseconds boot_timeout,
                                          const std::function<void()>& on_prepare);

}  // namespace ezone

#endif  // EZONE_CORE_NESTED_HOST_RESTORE_H_
