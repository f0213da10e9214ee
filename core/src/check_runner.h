// Runs one check end to end: resolve plugins, boot, fire, observe, decide,
// tear down. The flow is the design brief's "One check, end to end".
#ifndef EZONE_CORE_CHECK_RUNNER_H_
#define EZONE_CORE_CHECK_RUNNER_H_

#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "boot_image.h"
#include "ezone/report/check_record.h"
#include "plugin_registry.h"
#include "suite.h"

namespace ezone {

// The guest image built by guest/: kernel, initramfs and its manifest.
struct GuestImage : BootImage {
  // From override_dir; else EZONE_GUEST_DIR; else the build or install tree.
  static GuestImage Locate(const std::filesystem::path& override_dir = {});
};

struct RunEnvironment {
  const PluginRegistry* registry = nullptr;
  GuestImage image;
  std::filesystem::path report_dir;  // console logs: <report_dir>/console/
  // Progress lines ("booting", "ready in 1.4 s", ...), for people watching.
  std::function<void(const CheckSpec&, const std::string&)> progress;
};

report::CheckRecord RunCheck(const CheckSpec& spec, RunEnvironment& env);

// Where a check's console log goes: <report_dir>/console/<suite>.<class>.<name>.log
// (suites share a report directory under ctest and may share check names).
std::filesystem::path ConsoleLogPath(const std::filesystem::path& report_dir,
                                     const CheckSpec& spec, const std::string& role = "victim");

// The agent's heartbeat period asked for on the kernel command line.
inline constexpr int kHeartbeatPeriodMs = 100;

}  // namespace ezone

#endif  // EZONE_CORE_CHECK_RUNNER_H_
