// `ezone bench`: what ezone costs next to the VMM alone. Alternates, in one
// run, the bare baseline (the same qemu-system-x86_64 command line booting
// the same guest to the same crash, the agent loading the fault module itself
// through ezone.autoload=) with one real in-process check, and prints the
// medians per phase, their ratios, the detection latency and the runner's
// peak memory. Optionally also checks per minute with 1 and 2 concurrent
// checks. Figures only: nothing here asserts a timing.
#ifndef EZONE_CORE_BENCH_H_
#define EZONE_CORE_BENCH_H_

#include <string>
#include <vector>

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
};

// Exit status: 0 every run completed, 1 a bare run or a check did not end as
// expected (figures are still printed), 77 the check is skipped on this host
// (no qemu), 2 bad input.
int RunBench(const BenchOptions& options);

// Targets from issue 8, printed as met / not met.
inline constexpr double kTargetWholeCheckRatio = 1.10;
inline constexpr double kTargetDetectionMs = 50;
// A snapshot-mode check against a bare boot to the same crash.
inline constexpr double kTargetSnapshotRatio = 0.30;

}  // namespace ezone

#endif  // EZONE_CORE_BENCH_H_
