// Checks as child `ezone run --check` processes, as many at a time as the
// machine's budget holds (check_cost.h), the way ctest -j runs them: each
// check is its own runner, so one check's host oracle never takes another
// check's VMM for its own leak, and a check that crashes its runner loses
// only itself. Used by `ezone run --jobs` and `ezone bench`.
#ifndef EZONE_CORE_CHECK_POOL_H_
#define EZONE_CORE_CHECK_POOL_H_

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "check_cost.h"

namespace ezone {

struct PoolJob {
  std::vector<std::string> args;  // the command line; args[0] is the program's path
  CheckCost cost;
  std::filesystem::path log;      // its standard output and error
  bool relay = false;             // its error lines (progress) also go to ours as they come
};

struct PoolEnd {
  size_t index = 0;      // into the jobs
  pid_t pid = -1;
  int exit_status = 0;   // exit status; 128 + N: killed by signal N; 127: did not start
  double seconds = 0;
};

class CheckPool {
 public:
  // `stop_fd` (optional): once readable, the pool stops (see Run).
  explicit CheckPool(CostBudget budget, int stop_fd = -1) : budget_(budget), stop_fd_(stop_fd) {}

  // Runs the jobs in their order: the next starts as soon as it fits beside
  // those running (Fits; in order, so a large check is never passed over
  // for ever). A child dies if this process dies (PR_SET_PDEATHSIG), and its
  // VMs with it. `on_start` and `on_end` run on the caller's thread. Returns
  // false when stopped: the running children were sent SIGTERM (SIGKILL
  // after 10 s) and their ends reported; jobs not started are not.
  bool Run(const std::vector<PoolJob>& jobs,
           const std::function<void(size_t index, pid_t pid)>& on_start,
           const std::function<void(const PoolEnd&)>& on_end);

 private:
  CostBudget budget_;
  int stop_fd_;
};

// The path of this program (/proc/self/exe), for starting itself.
std::string SelfExe();

}  // namespace ezone

#endif  // EZONE_CORE_CHECK_POOL_H_
