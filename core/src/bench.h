// `ezone bench`: what ezone costs next to the VMM alone. Alternates, in one
// run, the bare baseline (the same qemu-system-x86_64 command line booting
// the same guest to the same crash, the agent loading the fault module itself
// through ezone.autoload=) with one real in-process check, and prints the
// medians per phase, their ratios, the detection latency and the runner's
// peak memory. Optionally also checks per minute with 1 and 2 concurrent
// checks. Figures only: nothing here asserts a timing.
#ifndef EZONE_CORE_BENCH_H_
#define EZONE_CORE_BENCH_H_

#include <map>
#include <string>
#include <string_view>
#include <sys/types.h>

#include <filesystem>
#include <vector>

#include "workload_result.h"

namespace ezone {

struct BenchOptions {
  std::string suite;  // default: the paper suite (source tree, then install tree)
  std::string check = "GuestKernelCrashMustNotKillHost/qemu_kerncrash_divzero_1";
  int rounds = 5;             // bare + ezone pairs; 0 skips the phase table
  bool parallel = false;      // also measure checks per minute at -j1 and -j2
  int parallel_checks = 4;    // checks per pool size
  std::string json;           // also write the results here (for reports)
  std::string guest_dir;      // as `ezone run --guest-dir`
  std::vector<std::string> plugin_dirs;

  // --workload: the performance side instead (RunWorkloadBench).
  bool workload = false;
  std::vector<std::string> vmm_labels;  // only these VMM labels (default: all of the suite)
  int workload_runs = 3;                // runs per VMM and natively; medians
  int workload_ms = 300;                // per test (int, fp, mem, syscall) and run
  int workload_buf_mib = 16;            // each of the two memcpy buffers
};

// Exit status: 0 every run completed, 1 a bare run or a check did not end as
// expected (figures are still printed), 77 the check is skipped on this host
// (no qemu), 2 bad input.
int RunBench(const BenchOptions& options);

// `ezone bench --workload`: the performance side of the isolation/performance
// continuum. Runs guest/workload/ezone-workload (integer and floating-point
// compute, memcpy bandwidth, getppid system calls) natively on the host and
// inside a guest booted on each VMM of the suite (one VM per distinct VMM
// label: qemu, kvm, kvm-libvirt-tcg, palacios in the paper suite; a VMM whose
// probe declines is listed as skipped with its reason), through the agent's
// `runout` command, and prints each VMM's figures and its overhead against
// native. `json` (e.g. <report dir>/performance.json) gets it all; the HTML
// report of that directory draws the isolation/performance chart from it.
// Exit status: 0 native and every VMM ran or was skipped, 1 something failed
// (the rest is still measured and written), 77 every VMM skipped, 2 bad input.
int RunWorkloadBench(const BenchOptions& options);

// Targets from issue 8, printed as met / not met.
inline constexpr double kTargetWholeCheckRatio = 1.10;
inline constexpr double kTargetDetectionMs = 50;
// A snapshot-mode check against a bare boot to the same crash.
inline constexpr double kTargetSnapshotRatio = 0.30;

}  // namespace ezone

#endif  // EZONE_CORE_BENCH_H_
