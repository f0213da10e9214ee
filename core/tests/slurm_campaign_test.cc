// End to end with the real ezone binary: GoogleTest sharding of `ezone run`,
// and campaigns through a real Slurm cluster (scripts/start-slurm, started
// by the slurm_cluster ctest fixture; SLURM_CONF names it). Each campaign
// test cancels what it submitted and checks that none of its jobs and none
// of its processes are left.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "ezone_test_support.h"

namespace {

namespace fs = std::filesystem;
using ezone::testing_support::CommandResult;
using ezone::testing_support::FreshDir;
using ezone::testing_support::ProcessesWith;
using ezone::testing_support::RunCommand;

const std::string kEzone = EZONE_EXE;
const fs::path kWork = EZONE_TEST_WORK_DIR;

struct Case {
  std::string verdict;  // pass, failure, error, skipped
  std::string message;
  std::map<std::string, std::string> properties;
};

// "classname/name" -> case, from a JUnit file.
std::map<std::string, Case> Cases(const fs::path& junit) {
  pugi::xml_document doc;
  EXPECT_TRUE(doc.load_file(junit.c_str())) << junit;
  std::map<std::string, Case> cases;
  for (const auto& x : doc.select_nodes("//testcase")) {
    pugi::xml_node tc = x.node();
    Case c{"pass", "", {}};
    for (const char* kind : {"failure", "error", "skipped"}) {
      if (pugi::xml_node n = tc.child(kind)) {
        c.verdict = kind;
        c.message = n.attribute("message").as_string();
      }
    }
    // The JUnit dialect has no case properties: they are key=value lines of
    // the case's system-out (reports/README.md).
    std::istringstream out(tc.child("system-out").text().as_string());
    for (std::string line; std::getline(out, line);) {
      const auto eq = line.find('=');
      if (eq == std::string::npos || eq == 0) continue;
      const std::string key = line.substr(0, eq);
      if (key.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.-") == std::string::npos) {
        c.properties.emplace(key, line.substr(eq + 1));
      }
    }
    cases[std::string(tc.attribute("classname").as_string()) + "/" +
          tc.attribute("name").as_string()] = c;
  }
  return cases;
}

std::string Slurp(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// `ezone run` under GoogleTest's sharding protocol: every check in exactly
// one shard, and in the shard `ezone slurm submit` planned for it.
TEST(ShardingTest, EzoneRunHonoursGoogleTestSharding) {
  const fs::path dir = FreshDir(kWork, "sharding");
  const std::string suite = EZONE_TEST_SUITES_DIR "/shards.xml";
  constexpr int kShards = 3;
  CommandResult plan = RunCommand(kEzone + " slurm submit " + suite + " --no-submit --tasks 3 " +
                                  "--report-dir " + (dir / "plan").string() + " 2>&1");
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  nlohmann::json campaign = nlohmann::json::parse(Slurp(dir / "plan" / "campaign.json"));
  std::map<std::string, int> seen;
  for (int i = 0; i < kShards; ++i) {
    const fs::path out = dir / ("shard-" + std::to_string(i));
    CommandResult r = RunCommand("GTEST_TOTAL_SHARDS=" + std::to_string(kShards) +
                                 " GTEST_SHARD_INDEX=" + std::to_string(i) + " " + kEzone +
                                 " run " + suite + " --report-dir " + out.string() + " 2>&1");
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 77 || r.exit_code == 1) << r.output;
    std::set<std::string> got, planned;
    for (const auto& [id, c] : Cases(out / "junit.xml")) {
      got.insert(id.substr(id.find('/') + 1));  // the name: unique in this suite
      ++seen[id.substr(id.find('/') + 1)];
    }
    for (std::size_t index : campaign["tasks"][i]["checks"]) {
      planned.insert(campaign["checks"][index]["name"].get<std::string>());
    }
    EXPECT_EQ(got, planned) << "shard " << i;
    EXPECT_FALSE(got.empty()) << "shard " << i;
  }
  EXPECT_EQ(seen.size(), 7u);
  for (const auto& [name, n] : seen) EXPECT_EQ(n, 1) << name;
}

class SlurmCampaignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* conf = getenv("SLURM_CONF");
    if (!conf || !fs::exists(conf) ||
        RunCommand("timeout 10 sinfo -h >/dev/null 2>&1").exit_code != 0) {
      GTEST_SKIP() << "no Slurm cluster answers (SLURM_CONF; scripts/start-slurm)";
    }
    dir_ = FreshDir(kWork, ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  // No job of the campaign, no process working in its directory.
  void TearDown() override {
    if (dir_.empty() || !fs::exists(dir_ / "campaign.json")) return;
    RunCommand(kEzone + " slurm cancel " + dir_.string() + " --all >/dev/null 2>&1");
    std::string left;
    for (int i = 0; i < 300; ++i) {
      left = RunCommand("squeue -h -o '%i %T %k' | grep -F 'ezone:" + dir_.string() + "' || true")
                 .output;
      if (left.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(left, "") << "jobs of the campaign left behind";
    std::vector<int> procs;
    for (int i = 0; i < 100; ++i) {
      procs = ProcessesWith(dir_.string());
      if (procs.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(procs.empty()) << procs.size() << " processes still work in " << dir_;
  }

  std::string Id(const std::string& key) {
    return nlohmann::json::parse(Slurp(dir_ / "campaign.json"))[key].get<std::string>();
  }

  // Waits for the merge job (at most `seconds`).
  bool WaitMerged(int seconds) {
    const std::string merge = Id("merge_job_id");
    for (int i = 0; i < seconds * 5; ++i) {
      std::string st =
          RunCommand("squeue -h -t all -j " + merge + " -o %T 2>/dev/null").output;
      if (st.find("COMPLETED") != std::string::npos || st.find("FAILED") != std::string::npos ||
          st.find("CANCELLED") != std::string::npos) {
        return fs::exists(dir_ / "result.json");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  fs::path dir_;
};

TEST_F(SlurmCampaignTest, SmokeSuiteMergesToTheCasesOfALocalRun) {
  const std::string suite = EZONE_SUITES_DIR "/smoke.xml";
  auto t0 = std::chrono::steady_clock::now();
  CommandResult local = RunCommand(kEzone + " run " + suite + " --report-dir " +
                                   (dir_ / "local").string() + " 2>&1");
  const double local_s = Since(t0);
  t0 = std::chrono::steady_clock::now();
  CommandResult slurm = RunCommand(kEzone + " slurm submit " + suite + " --tasks 2 --report-dir " +
                                   (dir_ / "campaign").string() + " --wait 2>&1");
  const double slurm_s = Since(t0);
  dir_ = dir_ / "campaign";  // what TearDown checks
  EXPECT_EQ(slurm.exit_code, local.exit_code) << slurm.output << "\n--- local:\n" << local.output;
  std::cout << "[ wall time ] local run " << local_s << " s, Slurm campaign (2 tasks) " << slurm_s
            << " s\n";
  RecordProperty("local_seconds", std::to_string(local_s));
  RecordProperty("slurm_seconds", std::to_string(slurm_s));

  auto want = Cases(dir_.parent_path() / "local" / "junit.xml");
  auto got = Cases(dir_ / "junit.xml");
  ASSERT_EQ(want.size(), 4u);
  ASSERT_EQ(got.size(), want.size()) << slurm.output;
  for (const auto& [id, c] : want) {
    ASSERT_TRUE(got.count(id)) << id << " missing from the merged JUnit";
    EXPECT_EQ(got[id].verdict, c.verdict) << id << ": " << got[id].message;
    EXPECT_TRUE(got[id].properties["node"] == "ezone1" || got[id].properties["node"] == "ezone2")
        << id << " node '" << got[id].properties["node"] << "'";
    EXPECT_NE(got[id].properties["slurm.job_id"], "") << id;
  }
  for (const char* f : {"report.html", "summary.md", "ezone-task.sbatch", "ezone-merge.sbatch",
                        "slurm/merge.out", "slurm/task-0.out", "slurm/task-1.out"}) {
    EXPECT_TRUE(fs::exists(dir_ / f)) << f;
  }
  nlohmann::json result = nlohmann::json::parse(Slurp(dir_ / "result.json"));
  std::cout << "[ merge     ] " << result["checks"] << " checks merged in "
            << result["merge_seconds"] << " s\n";
  // Progress after the end: every task done, every check counted.
  CommandResult status = RunCommand(kEzone + " slurm status " + Id("array_job_id") + " 2>&1");
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("checks 4 of 4 done"), std::string::npos) << status.output;
}

TEST_F(SlurmCampaignTest, ScancelledTaskShowsUpAsErrorsWithTheSlurmState) {
  const std::string suite = EZONE_SUITES_DIR "/smoke.xml";
  CommandResult submit = RunCommand(kEzone + " slurm submit " + suite +
                                    " --tasks 2 --report-dir " + dir_.string() + " 2>&1");
  ASSERT_EQ(submit.exit_code, 0) << submit.output;
  const std::string array = Id("array_job_id");
  // Cancel task 0 while its first check is in flight.
  const fs::path journal_dir = dir_ / "tasks" / "task-0" / "journal";
  bool started = false;
  for (int i = 0; i < 600 && !started; ++i) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(journal_dir, ec)) {
      started = started || Slurp(e.path()).find("check_started") != std::string::npos;
    }
    if (!started) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(started) << "task 0 never started a check";
  CommandResult cancel = RunCommand("scancel " + array + "_0 2>&1");
  ASSERT_EQ(cancel.exit_code, 0) << cancel.output;
  ASSERT_TRUE(WaitMerged(180)) << Slurp(dir_ / "slurm" / "merge.out");

  nlohmann::json campaign = nlohmann::json::parse(Slurp(dir_ / "campaign.json"));
  auto got = Cases(dir_ / "junit.xml");
  ASSERT_EQ(got.size(), 4u) << Slurp(dir_ / "slurm" / "merge.out");
  auto task1 = Cases(dir_ / "tasks" / "task-1" / "junit.xml");
  std::set<std::string> cancelled_names;
  for (std::size_t index : campaign["tasks"][0]["checks"]) {
    cancelled_names.insert(campaign["checks"][index]["name"].get<std::string>());
  }
  int interrupted = 0, never_ran = 0;
  for (const auto& [id, c] : got) {
    const std::string name = id.substr(id.find('/') + 1);
    if (cancelled_names.count(name)) {
      EXPECT_EQ(c.verdict, "error") << id;
      EXPECT_NE(c.message.find("CANCELLED"), std::string::npos) << id << ": " << c.message;
      EXPECT_NE(c.message.find(array + "_0"), std::string::npos) << id << ": " << c.message;
      interrupted += c.message.find("interrupted") != std::string::npos;
      never_ran += c.message.find("never ran") != std::string::npos;
    } else {
      ASSERT_TRUE(task1.count(id)) << id;
      EXPECT_EQ(c.verdict, task1[id].verdict) << id << " lost its verdict: " << c.message;
    }
  }
  EXPECT_EQ(interrupted, 1);  // in flight when cancelled
  EXPECT_EQ(never_ran, 1);    // its second check
}

TEST_F(SlurmCampaignTest, EachNodeRunsEveryCheckOnEveryNode) {
  const std::string suite = EZONE_TEST_SUITES_DIR "/slurm-node.xml";
  CommandResult r = RunCommand(kEzone + " slurm submit " + suite +
                               " --each-node ezone --exclusive --report-dir " + dir_.string() +
                               " --wait 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  auto got = Cases(dir_ / "junit.xml");
  ASSERT_EQ(got.size(), 4u) << r.output;
  std::map<std::string, int> per_node;
  for (const auto& [id, c] : got) {
    const std::string node = id.substr(id.rfind('@') + 1);
    EXPECT_EQ(c.properties.at("node"), node) << id;
    EXPECT_EQ(c.verdict, "pass") << id << ": " << c.message;
    ++per_node[node];
  }
  EXPECT_EQ(per_node, (std::map<std::string, int>{{"ezone1", 2}, {"ezone2", 2}}));
}

}  // namespace
