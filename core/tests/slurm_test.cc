// Unit tests of slurm.h without a cluster: the shard plan, Slurm's state
// lines, the scripts Submit writes, and the merge of task journals written
// by the real JournalWriter (what a cancelled, failed or finished task
// leaves), and the HTML's per-node view.
#include "slurm.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "ezone/report/journal.h"
#include "node_view.h"  // reports/src: the HTML's per-node view
#include "plugin_registry.h"

namespace ezone::slurm {
namespace {

namespace fs = std::filesystem;
using report::CheckRecord;
using report::Verdict;

std::vector<PlannedCheck> Checks(const std::vector<std::string>& classnames) {
  std::vector<PlannedCheck> checks;
  for (std::size_t i = 0; i < classnames.size(); ++i) {
    checks.push_back({"s", classnames[i], "n" + std::to_string(i), "qemu", "kerncrash",
                      "divzero", "strong-isolation", "E-Zone 3"});
  }
  return checks;
}

TEST(ShardOfTest, NumbersTestsSuiteBySuiteLikeGoogleTest) {
  // gtest numbers A's tests (0, 2, 4), then B's (1, 5), then C's (3).
  auto checks = Checks({"A", "B", "A", "C", "A", "B"});
  EXPECT_EQ(ShardOf(checks, 2, 0), (std::vector<std::size_t>{0, 4, 5}));  // #0 #2 #4
  EXPECT_EQ(ShardOf(checks, 2, 1), (std::vector<std::size_t>{1, 2, 3}));  // #1 #3 #5
}

TEST(ShardOfTest, EveryCheckInExactlyOneShard) {
  auto checks = Checks({"A", "B", "A", "C", "A", "B", "C", "C", "A"});
  for (int total = 1; total <= 10; ++total) {
    std::vector<int> seen(checks.size(), 0);
    for (int i = 0; i < total; ++i) {
      for (std::size_t c : ShardOf(checks, total, i)) ++seen[c];
    }
    for (int n : seen) EXPECT_EQ(n, 1) << "total " << total;
  }
}

TEST(ParseJobStatesTest, SqueueLines) {
  auto states = ParseJobStates("12_0|COMPLETED|ezone1|None\n12_1|CANCELLED|ezone2|None\n");
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states["12_0"].state, "COMPLETED");
  EXPECT_EQ(states["12_0"].node, "ezone1");
  EXPECT_EQ(states["12_0"].reason, "");
  EXPECT_EQ(states["12_1"].state, "CANCELLED");
}

TEST(ParseJobStatesTest, SacctLinesAndPendingRanges) {
  auto states = ParseJobStates(
      "40_0|CANCELLED by 0|node07|0:15\n40_[1-2,5%2]|CANCELLED by 0|None assigned|0:0\n"
      "41|NODE_FAIL|node09|0:0\n");
  EXPECT_EQ(states["40_0"].state, "CANCELLED");
  EXPECT_EQ(states["40_0"].node, "node07");
  for (const char* id : {"40_1", "40_2", "40_5"}) {
    ASSERT_TRUE(states.count(id)) << id;
    EXPECT_EQ(states[id].state, "CANCELLED");
    EXPECT_EQ(states[id].node, "");
  }
  EXPECT_FALSE(states.count("40_3"));
  EXPECT_EQ(states["41"].state, "NODE_FAIL");
}

class MergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ezone-slurm-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    campaign_.name = "s";
    campaign_.report_dir = dir_;
    campaign_.checks = Checks({"A", "A", "B", "B"});
    campaign_.array_job_id = "7";
    campaign_.tasks = {{0, "", ShardOf(campaign_.checks, 2, 0), "7_0"},
                       {1, "", ShardOf(campaign_.checks, 2, 1), "7_1"}};
  }
  void TearDown() override { fs::remove_all(dir_); }

  // What `ezone run` journals for task `task`: `finished` checks with a
  // verdict, then `open` started and never finished.
  void Journal(int task, const std::vector<std::size_t>& finished, std::size_t open = SIZE_MAX,
               const std::string& node = "ezone1") {
    report::JournalWriter w(TaskDir(campaign_, task) / "journal" / "run-1.jsonl",
                            std::chrono::milliseconds(0));
    w.RunStarted({"s", "vm", "2026-01-01T00:00:00", {}});
    for (std::size_t i : finished) {
      const PlannedCheck& p = campaign_.checks[i];
      w.CheckStarted(p.suite, p.classname, p.name, {{"node", node}});
      CheckRecord r;
      r.suite = p.suite;
      r.classname = p.classname;
      r.name = p.name;
      r.verdict = Verdict::kPass;
      r.effect = "limited";
      r.zone = "E-Zone 3";
      r.policy = "strong-isolation";
      r.properties["node"] = node;
      w.CheckFinished(r);
    }
    if (open != SIZE_MAX) {
      const PlannedCheck& p = campaign_.checks[open];
      w.CheckStarted(p.suite, p.classname, p.name,
                     {{"node", node}, {"zone", "E-Zone 3"}, {"policy", "strong-isolation"}});
      w.CheckPhase(p.classname, p.name, "observing");
    } else {
      w.RunFinished();
    }
  }

  const CheckRecord* Find(const MergeResult& m, const std::string& name) {
    for (const auto& r : m.contents.records) {
      if (r.name == name) return &r;
    }
    return nullptr;
  }

  fs::path dir_;
  Campaign campaign_;
};

TEST_F(MergeTest, FinishedTasksKeepTheirVerdicts) {
  Journal(0, campaign_.tasks[0].checks);
  Journal(1, campaign_.tasks[1].checks, SIZE_MAX, "ezone2");
  MergeResult m = MergeCampaign(campaign_, {{0, {"7_0", "COMPLETED", "ezone1", ""}},
                                            {1, {"7_1", "COMPLETED", "ezone2", ""}}});
  ASSERT_EQ(m.contents.records.size(), 4u);
  EXPECT_EQ(m.never_ran, 0u);
  EXPECT_EQ(m.interrupted, 0u);
  for (std::size_t i = 0; i < 4; ++i) {  // in the suite's order
    EXPECT_EQ(m.contents.records[i].name, campaign_.checks[i].name);
    EXPECT_EQ(m.contents.records[i].verdict, Verdict::kPass);
  }
  EXPECT_EQ(m.contents.run.hostname, "ezone1,ezone2");
}

TEST_F(MergeTest, CancelledTaskLeavesErrorsNamingItsSlurmState) {
  // Task 0 finished its first check, was cancelled during its second.
  const auto& mine = campaign_.tasks[0].checks;
  Journal(0, {mine[0]}, mine[1]);
  // Task 1 never started.
  MergeResult m = MergeCampaign(campaign_, {{0, {"7_0", "CANCELLED", "ezone1", ""}},
                                            {1, {"7_1", "CANCELLED", "", ""}}});
  ASSERT_EQ(m.contents.records.size(), 4u);
  EXPECT_EQ(m.interrupted, 1u);
  EXPECT_EQ(m.never_ran, 2u);
  const CheckRecord* done = Find(m, campaign_.checks[mine[0]].name);
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->verdict, Verdict::kPass);
  const CheckRecord* cut = Find(m, campaign_.checks[mine[1]].name);
  ASSERT_NE(cut, nullptr);
  EXPECT_EQ(cut->verdict, Verdict::kError);
  EXPECT_NE(cut->message.find("interrupted during observing"), std::string::npos) << cut->message;
  EXPECT_NE(cut->message.find("CANCELLED"), std::string::npos) << cut->message;
  EXPECT_NE(cut->message.find("7_0"), std::string::npos) << cut->message;
  EXPECT_NE(cut->message.find("ezone1"), std::string::npos) << cut->message;
  EXPECT_EQ(cut->properties.at("slurm.state"), "CANCELLED");
  for (std::size_t i : campaign_.tasks[1].checks) {
    const CheckRecord* never = Find(m, campaign_.checks[i].name);
    ASSERT_NE(never, nullptr);
    EXPECT_EQ(never->verdict, Verdict::kError);
    EXPECT_NE(never->message.find("never ran"), std::string::npos) << never->message;
    EXPECT_NE(never->message.find("7_1 ended CANCELLED"), std::string::npos) << never->message;
    EXPECT_EQ(never->zone, "E-Zone 3");  // from the plan
  }
}

TEST_F(MergeTest, NodeFailureMakesTheCheckInFlightGlobal) {
  const auto& mine = campaign_.tasks[0].checks;
  Journal(0, {}, mine[0]);
  Journal(1, campaign_.tasks[1].checks);
  MergeResult m = MergeCampaign(campaign_, {{0, {"7_0", "NODE_FAIL", "ezone1", ""}},
                                            {1, {"7_1", "COMPLETED", "ezone1", ""}}});
  const CheckRecord* cut = Find(m, campaign_.checks[mine[0]].name);
  ASSERT_NE(cut, nullptr);
  EXPECT_EQ(cut->effect, "global");
  EXPECT_EQ(cut->verdict, Verdict::kFailure);  // strong isolation: the host went down
  EXPECT_NE(cut->message.find("NODE_FAIL"), std::string::npos) << cut->message;
}

TEST_F(MergeTest, UnknownTaskStateIsStillAnErrorNeverMissing) {
  MergeResult m = MergeCampaign(campaign_, {});
  ASSERT_EQ(m.contents.records.size(), 4u);
  for (const auto& r : m.contents.records) {
    EXPECT_EQ(r.verdict, Verdict::kError);
    EXPECT_NE(r.message.find("UNKNOWN"), std::string::npos) << r.message;
  }
}

TEST_F(MergeTest, EachNodeNamesEveryCaseAfterItsNode) {
  std::vector<std::size_t> all = {0, 1, 2, 3};
  campaign_.each_node = true;
  campaign_.array_job_id.clear();
  campaign_.tasks = {{0, "n1", all, "8"}, {1, "n2", all, "9"}};
  Journal(0, all, SIZE_MAX, "n1");
  Journal(1, {0, 1}, SIZE_MAX, "n2");  // n2's journal lacks two checks
  MergeResult m = MergeCampaign(campaign_, {{0, {"8", "COMPLETED", "n1", ""}},
                                            {1, {"9", "TIMEOUT", "n2", ""}}});
  ASSERT_EQ(m.contents.records.size(), 8u);
  EXPECT_EQ(m.never_ran, 2u);
  EXPECT_EQ(m.contents.records[0].name, "n0@n1");
  EXPECT_EQ(m.contents.records[4].name, "n0@n2");
  EXPECT_EQ(m.contents.records[7].name, "n3@n2");
  EXPECT_EQ(m.contents.records[7].verdict, Verdict::kError);
  EXPECT_NE(m.contents.records[7].message.find("TIMEOUT"), std::string::npos);
  for (const auto& r : m.contents.records) {
    EXPECT_EQ(r.properties.at(kNodeProperty), r.name.substr(r.name.find('@') + 1));
  }
}

TEST(SubmitTest, NoSubmitWritesReadableScriptsAndThePlan) {
  fs::path dir = fs::temp_directory_path() / ("ezone-slurm-submit-" + std::to_string(getpid()));
  fs::remove_all(dir);
  Suite suite;
  suite.name = "s";
  for (int i = 0; i < 3; ++i) {
    CheckSpec spec;
    spec.suite = "s";
    spec.classname = "C";
    spec.name = "n" + std::to_string(i);
    spec.vmm_label = spec.vmm = "qemu";
    suite.checks.push_back(spec);
  }
  SubmitOptions o;
  o.suites = {"/x/s.xml"};
  o.report_dir = dir.string();
  o.tasks = 5;  // more than checks: one per check
  o.partition = "debug";
  o.time = "00:30:00";
  o.throttle = 2;
  o.exclusive = true;
  o.sbatch_args = {"--qos=high"};
  o.no_submit = true;
  o.ezone = "/opt/ezone/bin/ezone";
  PluginRegistry registry;
  Campaign c = Submit(o, {suite}, registry);
  EXPECT_EQ(c.tasks.size(), 3u);
  std::ifstream in(dir / "ezone-task.sbatch");
  std::stringstream text;
  text << in.rdbuf();
  for (const char* line :
       {"#SBATCH --array=0-2%2", "#SBATCH --partition=debug", "#SBATCH --time=00:30:00",
        "#SBATCH --exclusive", "#SBATCH --qos=high", "#SBATCH --no-requeue",
        "GTEST_TOTAL_SHARDS=3 GTEST_SHARD_INDEX=$task", "exec '/opt/ezone/bin/ezone' run"}) {
    EXPECT_NE(text.str().find(line), std::string::npos) << line << "\n" << text.str();
  }
  Campaign back = LoadCampaign(dir);
  EXPECT_EQ(back.checks.size(), 3u);
  EXPECT_EQ(back.tasks[2].checks, (std::vector<std::size_t>{2}));
  // A second campaign in the same directory is refused.
  EXPECT_THROW(Submit(o, {suite}, registry), std::runtime_error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ezone::slurm

namespace ezone::report {
namespace {

CheckRecord OnNode(const std::string& name, const std::string& node, Verdict verdict,
                   const std::string& effect) {
  CheckRecord r;
  r.classname = "C";
  r.name = name + "@" + node;
  r.verdict = verdict;
  r.effect = effect;
  r.properties["node"] = node;
  return r;
}

TEST(NodeViewTest, TheOneOddNodeStandsOut) {
  std::vector<CheckRecord> records;
  for (const char* node : {"n1", "n2", "n3"}) {
    const bool odd = std::string(node) == "n2";
    records.push_back(OnNode("a", node, Verdict::kPass, "limited"));
    records.push_back(OnNode("b", node, odd ? Verdict::kFailure : Verdict::kPass,
                             odd ? "global" : "limited"));
  }
  const std::string html = RenderNodeView(records);
  EXPECT_NE(html.find("<b>n2</b> (1 of 2)"), std::string::npos) << html;
  EXPECT_NE(html.find("n2 <span class=\"tag bad\">differs in 1</span>"), std::string::npos);
  EXPECT_EQ(html.find("n1 <span"), std::string::npos);
  EXPECT_NE(html.find("effect-global differs"), std::string::npos);
  EXPECT_NE(html.find("<th>C/b</th>"), std::string::npos);  // one column per check, not per node
}

TEST(NodeViewTest, NothingForOneNode) {
  EXPECT_EQ(RenderNodeView({OnNode("a", "n1", Verdict::kPass, "limited")}), "");
  EXPECT_EQ(RenderNodeView({}), "");
}

}  // namespace
}  // namespace ezone::report
