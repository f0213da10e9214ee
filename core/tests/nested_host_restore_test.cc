// The pure rules of the nested host's restore (issue 19): when a restored
// host may be used, and the state file's key. The real restores run under
// the label nested-host (nested-host/tests/restore-test.sh).
#include <gtest/gtest.h>

#include <cstdlib>

#include "nested_host.h"
#include "suite_bench.h"

namespace ezone {
namespace {

NestedHostHealth Clean() {
  NestedHostHealth h;
  h.agent_answers = true;
  h.clock_set = true;
  h.credentials_set = true;
  h.libvirtd_answers = true;
  h.taint = 0;
  h.domains = 0;
  h.qemu_running = false;
  return h;
}

TEST(NestedHostRestore, ACleanHostIsUsed) { EXPECT_EQ(NestedHostProblem(Clean()), ""); }

TEST(NestedHostRestore, ATaintedHostIsNotUsed) {
  NestedHostHealth h = Clean();
  h.taint = 4096;  // an out-of-tree module (kerncrash) was loaded
  EXPECT_NE(NestedHostProblem(h).find("tainted (4096)"), std::string::npos);
  h.taint.reset();
  EXPECT_NE(NestedHostProblem(h).find("taint is unreadable"), std::string::npos);
}

TEST(NestedHostRestore, ALeakedDomainOrQemuIsNotUsed) {
  NestedHostHealth h = Clean();
  h.domains = 1;
  EXPECT_NE(NestedHostProblem(h).find("1 libvirt domain(s) left"), std::string::npos);
  h = Clean();
  h.domains = -1;
  EXPECT_NE(NestedHostProblem(h).find("domains are unknown"), std::string::npos);
  h = Clean();
  h.qemu_running = true;
  EXPECT_NE(NestedHostProblem(h).find("a QEMU process runs"), std::string::npos);
}

// A host saved with its victim (EZONE_CAP_ADOPT) must hold that domain,
// with its QEMU, and nothing else.
TEST(NestedHostRestore, AHostSavedWithItsVictimHoldsItAndNothingElse) {
  NestedHostHealth h = Clean();
  h.saved_guests = {"ezone-1-abc-victim"};
  h.domains = 1;
  h.domain_names = {"ezone-1-abc-victim"};
  h.qemu_running = true;
  EXPECT_EQ(NestedHostProblem(h), "");

  NestedHostHealth leftover = h;  // another domain beside it
  leftover.domains = 2;
  leftover.domain_names.push_back("ezone-2-def-victim");
  EXPECT_NE(NestedHostProblem(leftover).find("not the saved guests [ezone-1-abc-victim] alone"),
            std::string::npos);

  NestedHostHealth renamed = h;  // another domain in its place
  renamed.domain_names = {"ezone-2-def-victim"};
  EXPECT_NE(NestedHostProblem(renamed), "");

  NestedHostHealth gone = h;  // the victim is not there
  gone.domains = 0;
  gone.domain_names.clear();
  gone.qemu_running = false;
  EXPECT_NE(NestedHostProblem(gone).find("[]"), std::string::npos);
  EXPECT_NE(NestedHostProblem(gone).find("QEMU does not run"), std::string::npos);

  NestedHostHealth tainted = h;
  tainted.taint = 1;
  EXPECT_NE(NestedHostProblem(tainted).find("tainted"), std::string::npos);
}

// Saved with its victim and its witness: both, in any order, and no other.
TEST(NestedHostRestore, AHostSavedWithVictimAndWitnessHoldsBothAndNothingElse) {
  NestedHostHealth h = Clean();
  h.saved_guests = {"ezone-1-abc-witness", "ezone-1-abc-victim"};
  h.domains = 2;
  h.domain_names = {"ezone-1-abc-victim", "ezone-1-abc-witness"};
  h.qemu_running = true;
  EXPECT_EQ(NestedHostProblem(h), "");

  NestedHostHealth one_gone = h;  // the witness is not there
  one_gone.domains = 1;
  one_gone.domain_names = {"ezone-1-abc-victim"};
  EXPECT_NE(NestedHostProblem(one_gone).find("not the saved guests"), std::string::npos);

  NestedHostHealth swapped = h;  // a stranger in the witness's place
  swapped.domain_names = {"ezone-1-abc-victim", "ezone-2-def-witness"};
  EXPECT_NE(NestedHostProblem(swapped), "");
}

TEST(NestedHostRestore, AHostThatDoesNotAnswerOrLacksCredentialsIsNotUsed) {
  for (bool NestedHostHealth::*field :
       {&NestedHostHealth::agent_answers, &NestedHostHealth::libvirtd_answers,
        &NestedHostHealth::clock_set, &NestedHostHealth::credentials_set}) {
    NestedHostHealth h = Clean();
    h.*field = false;
    EXPECT_NE(NestedHostProblem(h), "");
  }
}

TEST(NestedHostRestore, ModeNamesAndTheSwitch) {
  EXPECT_STREQ(NestedHostModeName(NestedHostMode::kBooted), "booted");
  EXPECT_STREQ(NestedHostModeName(NestedHostMode::kRestored), "restored");
  unsetenv("EZONE_NESTED_HOST_MODE");
  EXPECT_TRUE(NestedHostRestoreWanted());
  EXPECT_TRUE(NestedVictimRestoreWanted());
  setenv("EZONE_NESTED_HOST_MODE", "boot", 1);
  EXPECT_FALSE(NestedHostRestoreWanted());
  EXPECT_FALSE(NestedVictimRestoreWanted());
  setenv("EZONE_NESTED_HOST_MODE", "host", 1);  // the host alone
  EXPECT_TRUE(NestedHostRestoreWanted());
  EXPECT_FALSE(NestedVictimRestoreWanted());
  unsetenv("EZONE_NESTED_HOST_MODE");
  // The witness comes with the host only when asked for.
  unsetenv("EZONE_NESTED_WITNESS");
  EXPECT_FALSE(NestedWitnessRestoreWanted());
  setenv("EZONE_NESTED_WITNESS", "restore", 1);
  EXPECT_TRUE(NestedWitnessRestoreWanted());
  setenv("EZONE_NESTED_HOST_MODE", "host", 1);  // no guest with the host at all
  EXPECT_FALSE(NestedWitnessRestoreWanted());
  unsetenv("EZONE_NESTED_HOST_MODE");
  unsetenv("EZONE_NESTED_WITNESS");
}

TEST(NestedHostRestore, TheStateKeyFollowsTheImageAndThePlugin) {
  NestedHostImage a, b;
  a.properties["nested_host_image_sha256"] = "aaa";
  b.properties["nested_host_image_sha256"] = "bbb";
  EXPECT_EQ(NestedHostStateKey(a, "0.1.0"), NestedHostStateKey(a, "0.1.0"));
  EXPECT_NE(NestedHostStateKey(a, "0.1.0"), NestedHostStateKey(b, "0.1.0"));
  EXPECT_NE(NestedHostStateKey(a, "0.1.0"), NestedHostStateKey(a, "0.2.0"));
  EXPECT_NE(NestedHostStateKey(a, "0.1.0").find(NestedHost::kCpu), std::string::npos);
}

TEST(SuiteBench, RowsMediansAndRatiosToTheQemuRow) {
  std::vector<SuiteBenchCheck> checks = {
      {"a/1", "qemu", 2.0, 0, {}},
      {"a/2", "qemu", 3.0, 0, {}},
      {"a/3", "qemu", 2.5, 0, {}},
      {"b/1", "kvm-libvirt-tcg", 5.0, 0, {}},
      {"c/1", "kvm@nested", 10.0, 0, {{"nested_host_mode", "restored"}}},
      {"c/2", "kvm@nested", 30.0, 1, {{"nested_host_mode", "booted"}}},
      {"d/1", "palacios", 0.1, 77, {}},
  };
  std::vector<SuiteBenchRow> rows = SuiteBenchRows(checks);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].label, "qemu");
  EXPECT_DOUBLE_EQ(rows[0].median_s, 2.5);
  EXPECT_DOUBLE_EQ(rows[0].ratio_to_qemu, 1.0);
  EXPECT_DOUBLE_EQ(rows[1].ratio_to_qemu, 2.0);
  EXPECT_DOUBLE_EQ(rows[2].median_s, 20.0);
  EXPECT_DOUBLE_EQ(rows[2].ratio_to_qemu, 8.0);
  EXPECT_EQ(rows[2].passed, 1);
  EXPECT_EQ(rows[2].nested_host_modes["restored"], 1);
  EXPECT_EQ(rows[2].nested_host_modes["booted"], 1);
  EXPECT_EQ(rows[3].skipped, 1);
  EXPECT_DOUBLE_EQ(rows[3].ratio_to_qemu, 0);  // skipped: no figure
}

}  // namespace
}  // namespace ezone
