// The host oracle: is the host (the machine running the VMM) still healthy?
// An interface with a local implementation now; a remote one (nested host,
// through its agent) plugs in behind the same calls.
#ifndef EZONE_CORE_HOST_ORACLE_H_
#define EZONE_CORE_HOST_ORACLE_H_

#include <memory>
#include <string>
#include <vector>

#include "ezone/report/check_record.h"

namespace ezone {

// What the oracle saw between Begin() and Assess().
struct HostAssessment {
  std::vector<std::string> crash_lines;    // new oops / panic / lockup lines
  std::vector<std::string> warning_lines;  // new warnings
  unsigned long long taint_before = 0, taint_after = 0;
  bool kernel_log_readable = true;
  bool probe_ok = true;       // the host still forks and execs
  double probe_ms = 0;        // how long that took (worst sample in the window)
  double baseline_probe_ms = 0;
  double timer_overshoot_ms = 0;           // worst 1 ms sleep overshoot in the window
  double baseline_timer_overshoot_ms = 0;
  int samples = 0;                         // probe rounds through the window
  int slow_samples = 0;  // rounds where a probe was far above its baseline
  // Resources back to baseline after teardown: the runner's children, its
  // open descriptors, its temp entries (named ezone-<runner pid>*).
  std::vector<std::string> leaks;
  // The readings, typed: source host (or nested host), good/warning/bad.
  std::vector<report::Evidence> evidence;

  // Host kernel crashed, tainted anew, or stopped answering: global.
  bool Crashed() const {
    return !crash_lines.empty() || !probe_ok ||
           (taint_after & ~taint_before) != 0;
  }
  // Alive but degraded (warnings, latency far above its baseline): varied.
  bool Degraded() const;
  bool Leaked() const { return !leaks.empty(); }
};

class HostOracle {
 public:
  virtual ~HostOracle() = default;
  // "local" or the remote host's name, for reports.
  virtual std::string Describe() const = 0;
  // Takes the baseline (kernel log cursor, taint, probe latencies, resources)
  // and starts sampling the probes through the fault window.
  virtual void Begin() = 0;
  // Stops sampling, reads everything since Begin() and compares resources
  // with the baseline. Call after teardown.
  virtual HostAssessment Assess() = 0;
};

// The machine ezone runs on: /dev/kmsg, /proc/sys/kernel/tainted, and a
// fork+exec of /bin/true.
std::unique_ptr<HostOracle> MakeLocalHostOracle();

// One fork+exec+wait of /bin/true; milliseconds, or a negative value when it
// failed or took longer than timeout_ms.
double ProbeForkExec(int timeout_ms);

// How much longer than 1 ms a 1 ms sleep takes, in ms: timer latency.
double ProbeTimerOvershoot();

}  // namespace ezone

#endif  // EZONE_CORE_HOST_ORACLE_H_
