// The result line of guest/workload/ezone-workload.c, as `ezone bench
// --workload` reads it from the agent's runout reply and from a native run.
#include <gtest/gtest.h>

#include <string>

#include "workload_result.h"

namespace ezone {
namespace {

TEST(WorkloadResultTest, ParsesTheAgentsReply) {
  std::string error;
  auto figures = ParseWorkloadResult(
      "exit=0 ezone-workload v=1 int_mops=1342.5 fp_mflops=145.0 mem_mib_s=2013 "
      "syscall_ns=448.6 buf_mib=16 test_ms=300 wall_ms=1368",
      &error);
  EXPECT_EQ(error, "");
  ASSERT_EQ(figures.size(), 7u);
  EXPECT_DOUBLE_EQ(figures["int_mops"], 1342.5);
  EXPECT_DOUBLE_EQ(figures["syscall_ns"], 448.6);
  EXPECT_DOUBLE_EQ(figures["wall_ms"], 1368);
  for (const WorkloadMetric& m : kWorkloadMetrics) EXPECT_EQ(figures.count(m.key), 1u) << m.key;
}

TEST(WorkloadResultTest, ParsesANativeRunsOutputUpToTheLineEnd) {
  std::string error;
  auto figures = ParseWorkloadResult(
      "ezone-workload v=1 int_mops=1 fp_mflops=2 mem_mib_s=3 syscall_ns=4 junk=x\n"
      "something else=5\n",
      &error);
  EXPECT_EQ(error, "");
  EXPECT_EQ(figures.count("junk"), 0u);     // not a number
  EXPECT_EQ(figures.count("something"), 0u);  // after the line
  EXPECT_DOUBLE_EQ(figures["mem_mib_s"], 3);
}

TEST(WorkloadResultTest, RejectsMissingOrMeaninglessFigures) {
  std::string error;
  EXPECT_TRUE(ParseWorkloadResult("exit=127", &error).empty());
  EXPECT_NE(error.find("no result line"), std::string::npos) << error;
  error.clear();
  EXPECT_TRUE(ParseWorkloadResult("ezone-workload v=1 int_mops=1 fp_mflops=2 mem_mib_s=3", &error)
                  .empty());
  EXPECT_NE(error.find("syscall_ns"), std::string::npos) << error;
  error.clear();
  EXPECT_TRUE(ParseWorkloadResult(
                  "ezone-workload v=1 int_mops=0 fp_mflops=2 mem_mib_s=3 syscall_ns=4", &error)
                  .empty());
  EXPECT_NE(error.find("int_mops"), std::string::npos) << error;
  // Another version of the line is not this one, even when it starts alike.
  EXPECT_TRUE(ParseWorkloadResult(
                  "ezone-workload v=2 int_mops=1 fp_mflops=2 mem_mib_s=3 syscall_ns=4", &error)
                  .empty());
  EXPECT_TRUE(ParseWorkloadResult(
                  "ezone-workload v=10 int_mops=1 fp_mflops=2 mem_mib_s=3 syscall_ns=4", &error)
                  .empty());
  // Not finite is not a figure.
  EXPECT_TRUE(ParseWorkloadResult(
                  "ezone-workload v=1 int_mops=inf fp_mflops=2 mem_mib_s=3 syscall_ns=1e999", &error)
                  .empty());
}

}  // namespace
}  // namespace ezone
