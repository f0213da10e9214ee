// Campaigns on a Slurm cluster (`ezone slurm ...`, docs/slurm.md).
//
// A campaign is a directory on a shared filesystem. `Submit` plans it (which
// task runs which checks), writes campaign.json and two readable sbatch
// scripts there, and submits a job array (or, with --each-node, one job per
// node) plus a merge job that depends on all of them with afterany. Each task
// is an ordinary `ezone run` with its own report directory
// (<dir>/tasks/task-<i>); in array mode GoogleTest's sharding
// (GTEST_TOTAL_SHARDS, GTEST_SHARD_INDEX) picks its share of the checks. The
// merge job (`MergeCampaign`) reads every task's journal and Slurm's view of
// every task, and builds one JUnit file, one HTML page and one summary: a
// check a lost task never ran is an error naming the task's Slurm state, job
// id and node, never a missing row.
#ifndef EZONE_SLURM_H_
#define EZONE_SLURM_H_

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "ezone/report/journal.h"
#include "suite.h"

namespace ezone {

class PluginRegistry;

namespace slurm {

// The campaign's description, written by Submit, read by merge, status and
// cancel.
inline constexpr const char* kCampaignFile = "campaign.json";
// The property naming the node a check ran on (the Slurm node name; the
// hostname outside Slurm is not recorded). The HTML's per-node view reads it.
inline constexpr const char* kNodeProperty = "node";

// A check as planned at submission: enough to report it if it never runs.
struct PlannedCheck {
  std::string suite, classname, name;
  std::string vmm, fault, variant, policy, zone;
  std::string id() const { return classname + "/" + name; }
};

struct Task {
  int index = 0;
  std::string node;                 // --each-node: the node it must run on
  std::vector<std::size_t> checks;  // indices into Campaign::checks
  std::string job_id;               // "123_4" (array) or "123" (per node)
};

struct Campaign {
  std::string name;  // the first suite's name
  std::filesystem::path report_dir;  // absolute
  bool each_node = false;
  std::vector<std::string> suites;  // absolute paths
  std::vector<PlannedCheck> checks;
  std::vector<Task> tasks;
  std::string array_job_id;  // array mode
  std::string merge_job_id;
  std::string submitted;  // ISO 8601
  std::string ezone;      // the executable the tasks run
};

// The checks GoogleTest runs in shard `index` of `total`: it numbers the
// selected tests test suite by test suite (a test suite is a classname, in
// the order of its first registration), tests in registration order, and
// shard i runs those whose number modulo `total` is i.
std::vector<std::size_t> ShardOf(const std::vector<PlannedCheck>& checks, int total, int index);

// The checks of `suites` in registration order; zones from the registry's
// fault descriptors (nothing runs).
std::vector<PlannedCheck> PlanChecks(const std::vector<Suite>& suites,
                                     const PluginRegistry& registry);

void SaveCampaign(const Campaign& campaign);
// Throws std::runtime_error naming the file when it is missing or malformed.
Campaign LoadCampaign(const std::filesystem::path& report_dir);

struct SubmitOptions {
  std::vector<std::string> suites;
  std::string report_dir;  // required: on a filesystem every node sees
  int tasks = 0;           // array size; 0: one per check, at most 16
  std::string partition, account, time;
  int throttle = 0;  // --array=...%N
  bool exclusive = false;
  std::vector<std::string> sbatch_args;  // passed to both sbatch calls
  std::string each_node;  // a partition or a node list ("" : array mode)
  std::vector<std::string> run_args;  // more `ezone run` options (--guest-dir)
  std::vector<std::string> global_args;  // options before `run` (--plugin-dir)
  bool no_submit = false;  // write the scripts and campaign.json only
  std::string ezone;  // absolute path of this executable
};

// Plans, writes <report dir>/campaign.json, ezone-task.sbatch and
// ezone-merge.sbatch, and submits the tasks and the merge job (unless
// no_submit). Throws std::runtime_error with sbatch's own words when Slurm
// refuses.
Campaign Submit(const SubmitOptions& options, const std::vector<Suite>& suites,
                const PluginRegistry& registry);

// What Slurm says about one task.
struct TaskState {
  std::string job_id;  // "123_4" or "123"
  std::string state;   // PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL...
  std::string node;    // where it ran ("" if it never started)
  std::string reason;  // squeue's reason, or sacct's exit code
};

// Turns sacct's `-n -P -X -o JobID,State,NodeList,ExitCode` lines or
// squeue's `-h -r -t all -o %i|%T|%N|%r` lines into states by job id.
// sacct's "CANCELLED by 0" becomes "CANCELLED".
std::map<std::string, TaskState> ParseJobStates(const std::string& text);

// Asks Slurm about every task of the campaign: sacct when accounting is
// enabled, else the controller's memory (squeue -t all; finished jobs stay
// there for MinJobAge). A task Slurm no longer knows is state "UNKNOWN".
std::map<int, TaskState> QueryTaskStates(const Campaign& campaign);

// The directory and journal files of a task.
std::filesystem::path TaskDir(const Campaign& campaign, int index);

struct MergeResult {
  report::JournalContents contents;
  std::size_t never_ran = 0;    // checks a task never started
  std::size_t interrupted = 0;  // checks in flight when their task ended
};

// Reads all tasks' journals and makes one set of records (see the file
// comment). `states` by task index; a task without one is "UNKNOWN".
// - a check a task finished keeps its verdict;
// - a check in flight when its task ended is an error "interrupted during
//   <phase>" with the task's Slurm state, job id and node, or, when the state
//   is NODE_FAIL, a global effect, as after a host reboot;
// - a check its task never started is an error naming the task's Slurm
//   state, job id and node.
// --each-node campaigns name every record <name>@<node>, so each node's run
// of a check is its own JUnit case. Every record gets the node property.
MergeResult MergeCampaign(const Campaign& campaign, const std::map<int, TaskState>& states);

// Progress of a campaign: task states and the verdicts so far.
struct Progress {
  std::map<std::string, int> tasks_by_state;  // "COMPLETED" -> 3
  std::map<std::string, int> verdicts;        // "pass" -> 10, "running" -> 1
  std::size_t checks_planned = 0;
  std::string merge_state;
};
Progress CampaignProgress(const Campaign& campaign);

// Finds a campaign's report directory from a job id of it (the jobs carry
// "ezone:<dir>" as their comment), or takes `job_or_dir` as the directory.
std::filesystem::path FindCampaignDir(const std::string& job_or_dir);

// Cancels the campaign's tasks (and its merge job when `merge_too`); the
// merge job, left alone, then records the cancelled checks. Returns the job
// ids cancelled.
std::vector<std::string> Cancel(const Campaign& campaign, bool merge_too);

// Whether the merge job has ended; `state` gets Slurm's word for it.
bool MergeJobDone(const Campaign& campaign, std::string* state);

// Inside a Slurm job (SLURM_JOB_ID set): the node (kNodeProperty), the job
// id ("slurm.job_id", "<array>_<task>" for an array task) and the cluster;
// empty elsewhere. `ezone run` journals them with every check.
std::map<std::string, std::string> TaskProperties();

}  // namespace slurm
}  // namespace ezone

#endif  // EZONE_SLURM_H_
