// Runs one check end to end: resolve plugins, boot, fire, observe, decide,
// tear down. The flow is the design brief's "One check, end to end"; the
// parts live in their own units (ready_watch, observer, fault_target,
// snapshot_cache, host_oracle, nested_host, verdict) and CheckRun is the
// ordered script of phases that calls them.
#ifndef EZONE_CORE_CHECK_RUNNER_H_
#define EZONE_CORE_CHECK_RUNNER_H_

#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "boot_image.h"
#include "ezone/report/check_record.h"
#include "plugin_registry.h"
#include "progress.h"
#include "suite.h"

namespace ezone {

// The guest image built by guest/: kernel, initramfs and its manifest.
struct GuestImage : BootImage {
  // From override_dir; else EZONE_GUEST_DIR; else the build or install tree.
  static GuestImage Locate(const std::filesystem::path& override_dir = {});
  // Quiet when the manifest's agent_protocol is 2 or more (its agent turns
  // the console up before READY); loud for older or unknown images.
  BootVerbosity boot_verbosity() const;
};

struct RunEnvironment {
  const PluginRegistry* registry = nullptr;
  GuestImage image;
  std::filesystem::path report_dir;  // console logs: <report_dir>/console/
  // Each step of a check as it happens: the console line, the journal and
  // the bench read its fields.
  std::function<void(const CheckSpec&, const ProgressEvent&)> progress;
};

report::CheckRecord RunCheck(const CheckSpec& spec, RunEnvironment& env);

// The record of `spec` before anything ran: its names, its VMM label (never
// the plugin's name: a libvirt-with-TCG row must never pass for KVM), fault,
// variant and policy. RunCheck starts from it, and so does a record made
// for a check whose runner left none (`ezone run --jobs`).
report::CheckRecord RecordOf(const CheckSpec& spec);

// Where a check's console log goes: <report_dir>/console/<suite>.<class>.<name>.log
// (suites share a report directory under ctest and may share check names).
std::filesystem::path ConsoleLogPath(const std::filesystem::path& report_dir,
                                     const CheckSpec& spec, Role role = Role::kVictim);

// The agent's heartbeat period asked for on the kernel command line.
inline constexpr int kHeartbeatPeriodMs = 100;

}  // namespace ezone

#endif  // EZONE_CORE_CHECK_RUNNER_H_
