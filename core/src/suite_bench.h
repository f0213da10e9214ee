// `ezone bench --suite FILE` (without --check): the wall time of a whole
// suite and of each of its rows (VMM label), with each row's ratio to the
// qemu row, in one run. Every check runs as its own `ezone run` child, as
// ctest runs them, `jobs` at a time. Figures only: nothing here asserts a
// timing; the targets (issue 19) are printed as met / not met.
#ifndef EZONE_CORE_SUITE_BENCH_H_
#define EZONE_CORE_SUITE_BENCH_H_

#include <map>
#include <string>
#include <vector>

namespace ezone {

struct SuiteBenchOptions {
  std::string suite;
  int jobs = 1;
  std::vector<std::string> vmm_labels;  // only these rows (default: all)
  std::string json;                     // also write the results here
  std::string guest_dir;
  std::vector<std::string> plugin_dirs;
};

// One check's run, as the suite bench saw it.
struct SuiteBenchCheck {
  std::string id, label;
  double seconds = 0;
  int exit_status = -1;  // the child's: 0 passed, 1 failed/error, 77 skipped
  std::map<std::string, std::string> properties;  // from its JUnit file
};

// Per row: checks, medians, sum, ratio of the median to the qemu row's.
struct SuiteBenchRow {
  std::string label;
  int checks = 0, passed = 0, skipped = 0;
  double median_s = 0, sum_s = 0;
  double ratio_to_qemu = 0;  // 0: no qemu row, or this row skipped
  std::map<std::string, int> nested_host_modes;  // booted / restored: count
};
// Pure: the rows of `checks`, in their first appearance's order. Skipped
// checks count, but not in the medians.
std::vector<SuiteBenchRow> SuiteBenchRows(const std::vector<SuiteBenchCheck>& checks);

// Targets from issue 19, as ratios to the qemu row and seconds.
inline constexpr double kTargetNestedRatio = 2.0;
inline constexpr double kTargetLibvirtTcgRatio = 1.5;
inline constexpr double kTargetPaperSuiteSeconds = 60;

// Exit status: 0 every check ran (pass or skip), 1 one failed, 2 bad input.
int RunSuiteBench(const SuiteBenchOptions& options);

}  // namespace ezone

#endif  // EZONE_CORE_SUITE_BENCH_H_
