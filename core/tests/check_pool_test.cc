// The resource model (check_cost.h) and the pool that schedules by it
// (check_pool.h). The pool's jobs here are shell children that log when
// they start and end, so what ran beside what is read from the record, not
// timed.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "check_cost.h"
#include "check_pool.h"
#include "plugin_registry.h"
#include "suite.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;

CheckSpec Spec(const std::string& fault, bool witness = false, bool nested = false) {
  CheckSpec spec;
  spec.vmm = "qemu";
  spec.fault = fault;
  spec.witness = witness;
  spec.host = nested ? HostKind::kNested : HostKind::kLocal;
  return spec;
}

TEST(CheckCostTest, AVictimTakesACoreAWitnessAnotherANestedHostItsVcpus) {
  PluginRegistry registry;
  registry.Discover({EZONE_PLUGIN_BUILD_DIR_FOR_TESTS});
  CheckCost victim = CostOf(Spec("kerncrash"), &registry);
  EXPECT_EQ(victim.cores, 1);
  EXPECT_EQ(victim.memory_mib, 256 + kVmmOverheadMib);
  EXPECT_FALSE(victim.exclusive);
  CheckCost pair = CostOf(Spec("kerncrash", /*witness=*/true), &registry);
  EXPECT_EQ(pair.cores, 2);
  EXPECT_EQ(pair.memory_mib, 2 * (256 + kVmmOverheadMib));
  CheckCost nested = CostOf(Spec("kerncrash", true, /*nested=*/true), &registry);
  EXPECT_EQ(nested.cores, 2);
  EXPECT_GE(nested.memory_mib, 2048u);
}

// Packing by average load: a lone victim shares a core; a witness's check
// and a nested host keep their peak (their rhythm is judged), and so does
// a check that must run alone.
TEST(CheckCostTest, ALoneVictimLoadsHalfACoreTimingJudgedChecksTheirPeak) {
  PluginRegistry registry;
  registry.Discover({EZONE_PLUGIN_BUILD_DIR_FOR_TESTS});
  EXPECT_EQ(CostOf(Spec("kerncrash"), &registry).load_percent, kLoneVictimLoadPercent);
  EXPECT_LT(kLoneVictimLoadPercent, 100);
  EXPECT_EQ(CostOf(Spec("kerncrash", /*witness=*/true), &registry).load_percent, 200);
  EXPECT_EQ(CostOf(Spec("kerncrash", true, /*nested=*/true), &registry).load_percent, 200);
  EXPECT_EQ(CostOf(Spec("kerncrash", false, /*nested=*/true), &registry).load_percent, 200);
  EXPECT_EQ(CostOf(Spec("host-pressure"), &registry).load_percent, 100);
}

// The host-pressure plugin declares EZONE_CAP_HOST_WIDE: its checks run
// alone on this machine, but inside a nested host the load is that host's.
TEST(CheckCostTest, AFaultThatLoadsTheHostRunsAloneExceptOnANestedHost) {
  PluginRegistry registry;
  registry.Discover({EZONE_PLUGIN_BUILD_DIR_FOR_TESTS});
  const Plugin* pressure = registry.FindFault("host-pressure");
  ASSERT_NE(pressure, nullptr) << "the host-pressure plugin is built beside the tests";
  EXPECT_NE(pressure->descriptor->capabilities & EZONE_CAP_HOST_WIDE, 0u);
  EXPECT_TRUE(CostOf(Spec("host-pressure"), &registry).exclusive);
  EXPECT_FALSE(CostOf(Spec("host-pressure", false, /*nested=*/true), &registry).exclusive);
  EXPECT_FALSE(CostOf(Spec("vmm-signal"), &registry).exclusive);
  EXPECT_FALSE(CostOf(Spec("host-pressure"), nullptr).exclusive);  // nothing declared
}

TEST(CheckCostTest, FitsCountsCoresAndMemoryAndKeepsExclusiveChecksAlone) {
  const CostBudget two{2, 1000};
  const CheckCost one{1, 300, false, ""}, big{2, 300, false, ""}, alone{1, 300, true, ""};
  EXPECT_TRUE(Fits(one, {}, two));
  EXPECT_TRUE(Fits(one, {one}, two));
  EXPECT_FALSE(Fits(one, {one, one}, two));
  EXPECT_FALSE(Fits(big, {one}, two));
  // Larger than the whole budget: it still runs, alone.
  EXPECT_TRUE(Fits(CheckCost{8, 300, false, ""}, {}, two));
  EXPECT_FALSE(Fits(one, {CheckCost{8, 300, false, ""}}, two));
  // Memory: three small checks fit two cores... of a wider budget, not 1000 MiB.
  EXPECT_FALSE(Fits(one, {one, one, one}, CostBudget{8, 1000}));
  EXPECT_TRUE(Fits(one, {one, one}, CostBudget{8, 1000}));
  EXPECT_TRUE(Fits(one, {one, one, one}, CostBudget{8, 0}));  // 0: memory not limited
  EXPECT_TRUE(Fits(alone, {}, two));
  EXPECT_FALSE(Fits(alone, {one}, two));
  EXPECT_FALSE(Fits(one, {alone}, two));
}

class CheckPoolTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ezone-pool-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    events_ = dir_ / "events";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A child that records "start <name>", sleeps, records "end <name>",
  // and exits with `status`.
  PoolJob Job(const std::string& name, CheckCost cost, const std::string& sleep = "0.3",
              int status = 0) {
    PoolJob job;
    job.args = {"/bin/sh", "-c",
                "echo start " + name + " >> " + events_.string() + "; echo progress of " + name +
                    " >&2; sleep " + sleep + "; echo end " + name + " >> " + events_.string() +
                    "; exit " + std::to_string(status)};
    job.cost = cost;
    job.log = dir_ / (name + ".log");
    return job;
  }

  // The most jobs that were between their start and end at once.
  int MostAtOnce() {
    std::ifstream in(events_);
    std::string what, name;
    std::set<std::string> now;
    size_t most = 0;
    while (in >> what >> name) {
      if (what == "start") {
        now.insert(name);
      } else {
        now.erase(name);
      }
      most = std::max(most, now.size());
    }
    return static_cast<int>(most);
  }

  // The jobs that ran at some moment while `job` ran.
  std::set<std::string> Beside(const std::string& job) {
    std::ifstream in(events_);
    std::string what, name;
    std::set<std::string> now, beside;
    while (in >> what >> name) {
      if (what == "end") {
        now.erase(name);
        continue;
      }
      if (name == job) beside.insert(now.begin(), now.end());
      if (now.count(job)) beside.insert(name);
      now.insert(name);
    }
    return beside;
  }

  fs::path dir_, events_;
};

TEST_F(CheckPoolTest, RunsWhatFitsAndReportsEveryEndWithItsStatus) {
  const CheckCost one{1, 0, false, ""};
  std::vector<PoolJob> jobs = {Job("a", one), Job("b", one), Job("c", one, "0.3", 3),
                               Job("d", one)};
  std::vector<int> status(jobs.size(), -1);
  std::vector<size_t> started;
  EXPECT_TRUE(CheckPool(CostBudget{2, 0}).Run(
      jobs, [&](size_t i, pid_t) { started.push_back(i); },
      [&](const PoolEnd& end) { status[end.index] = end.exit_status; }));
  EXPECT_EQ(started, (std::vector<size_t>{0, 1, 2, 3}));  // in order
  EXPECT_EQ(status, (std::vector<int>{0, 0, 3, 0}));
  EXPECT_EQ(MostAtOnce(), 2);
  std::ifstream log(dir_ / "c.log");
  std::string line;
  std::getline(log, line);
  EXPECT_EQ(line, "progress of c");
}

TEST_F(CheckPoolTest, AnExclusiveJobRunsAloneAndALargeOneIsNotPassedOver) {
  const CheckCost one{1, 0, false, ""}, alone{1, 0, true, ""}, two{2, 0, false, ""};
  std::vector<PoolJob> jobs = {Job("a", one), Job("x", alone), Job("b", one), Job("w", two),
                               Job("c", one)};
  std::vector<size_t> started;
  CheckPool(CostBudget{2, 0}).Run(jobs, [&](size_t i, pid_t) { started.push_back(i); }, nullptr);
  EXPECT_EQ(started, (std::vector<size_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(Beside("x"), std::set<std::string>{}) << "ran beside the exclusive job";
  EXPECT_EQ(Beside("w"), std::set<std::string>{}) << "a 2-core job beside another on 2 cores";
  // In order: nothing passes a job that waits for room, so here one at a time.
  EXPECT_EQ(MostAtOnce(), 1);
}

TEST_F(CheckPoolTest, RelayedErrorLinesGoToTheLogWhole) {
  PoolJob job;
  job.args = {"/bin/sh", "-c", "printf 'one\\ntw' >&2; sleep 0.1; printf 'o\\nno newline' >&2"};
  job.log = dir_ / "relay.log";
  job.relay = true;
  CheckPool(CostBudget{1, 0}).Run({job}, nullptr, nullptr);
  std::ifstream in(job.log);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "one\ntwo\nno newline\n");
}

TEST_F(CheckPoolTest, AStopEndsTheRunningAndStartsNoMore) {
  int stop[2];
  ASSERT_EQ(pipe2(stop, O_CLOEXEC), 0);
  const CheckCost one{1, 0, false, ""};
  std::vector<PoolJob> jobs = {Job("a", one, "30"), Job("b", one, "30")};
  std::vector<PoolEnd> ends;
  bool finished = CheckPool(CostBudget{1, 0}, stop[0]).Run(
      jobs,
      [&](size_t, pid_t) {
        char byte = 1;
        ASSERT_EQ(write(stop[1], &byte, 1), 1);  // as SIGINT would
      },
      [&](const PoolEnd& end) { ends.push_back(end); });
  close(stop[0]);
  close(stop[1]);
  EXPECT_FALSE(finished);
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0].index, 0u);
  EXPECT_EQ(ends[0].exit_status, 128 + SIGTERM);
  EXPECT_LT(ends[0].seconds, 20);  // not the child's 30 s: it was ended
}

TEST_F(CheckPoolTest, AProgramThatCannotStartIsReportedAs127) {
  PoolJob job;
  job.args = {(dir_ / "no-such-program").string()};
  job.log = dir_ / "none.log";
  std::vector<int> status;
  CheckPool(CostBudget{1, 0}).Run({job}, nullptr,
                                  [&](const PoolEnd& end) { status.push_back(end.exit_status); });
  EXPECT_EQ(status, std::vector<int>{127});
}

}  // namespace
}  // namespace ezone
