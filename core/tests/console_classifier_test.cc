// The console classifier on synthetic lines and on the corpus of real guest
// console logs in corpus/console/ (captured by guest/capture-corpus.sh).
#include <gtest/gtest.h>

#include <fstream>
#include <filesystem>
#include <map>
#include <sstream>

#include "console_classifier.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;

TEST(ConsoleClassifierTest, KernelReportsAreCrashes) {
  EXPECT_EQ(ClassifyConsoleLine("[    2.345678] divide error: 0000 [#1] PREEMPT SMP NOPTI"),
            ConsoleClass::kOops);
  EXPECT_EQ(ClassifyConsoleLine("[    1.1] BUG: kernel NULL pointer dereference, address: 0000000000000000"),
            ConsoleClass::kOops);
  EXPECT_EQ(ClassifyConsoleLine("[    1.1] kernel BUG at /build/kerncrash.c:42!"), ConsoleClass::kOops);
  EXPECT_EQ(ClassifyConsoleLine("[    3.0] Kernel panic - not syncing: Fatal exception in interrupt"),
            ConsoleClass::kPanic);
  EXPECT_EQ(ClassifyConsoleLine("[   30.0] watchdog: BUG: soft lockup - CPU#0 stuck for 22s!"),
            ConsoleClass::kLockup);
  EXPECT_EQ(ClassifyConsoleLine("[  100.0] INFO: task sh:1 blocked for more than 120 seconds."),
            ConsoleClass::kLockup);
}

TEST(ConsoleClassifierTest, WarningsAreNotCrashes) {
  ConsoleClass c = ClassifyConsoleLine("[    1.0] WARNING: CPU: 0 PID: 1 at kerncrash.c:10 fire+0x1/0x2");
  EXPECT_EQ(c, ConsoleClass::kWarning);
  EXPECT_FALSE(IsCrash(c));
  EXPECT_EQ(ClassifyConsoleLine("[    1.0] BUG: sleeping function called from invalid context"),
            ConsoleClass::kWarning);
}

TEST(ConsoleClassifierTest, UserSpaceDeathsAreNotKernelCrashes) {
  ConsoleClass oom = ClassifyConsoleLine(
      "[   12.5] Out of memory: Killed process 83 (ezone-fault) total-vm:250000kB");
  EXPECT_EQ(oom, ConsoleClass::kOomKill);
  EXPECT_FALSE(IsCrash(oom));
  ConsoleClass segv = ClassifyConsoleLine(
      "[    3.1] ezone-fault[81]: segfault at 0 ip 0000000000401136 sp 00007ffd error 6");
  EXPECT_EQ(segv, ConsoleClass::kUserSegfault);
  EXPECT_FALSE(IsCrash(segv));
}

TEST(ConsoleClassifierTest, OrdinaryOutputAndLookalikesAreNone) {
  EXPECT_EQ(ClassifyConsoleLine("[    0.0] Linux version 6.1.0-28-cloud-amd64"), ConsoleClass::kNone);
  EXPECT_EQ(ClassifyConsoleLine("echo divide error: 0000 from a user program"), ConsoleClass::kNone);
  EXPECT_EQ(ClassifyConsoleLine(""), ConsoleClass::kNone);
}

TEST(LineAssemblerTest, SplitsOnNewlinesAcrossChunks) {
  std::vector<std::string> lines;
  LineAssembler a([&](std::string_view l) { lines.emplace_back(l); });
  a.Feed("one\ntw");
  a.Feed("o\nthree");
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two"}));
  a.Flush();
  EXPECT_EQ(lines.back(), "three");
}

TEST(LineAssemblerTest, FloodWithoutNewlinesStaysBounded) {
  size_t longest = 0, count = 0;
  LineAssembler a([&](std::string_view l) { longest = std::max(longest, l.size()); ++count; }, 4096);
  std::string garbage(1 << 20, 'x');
  for (int i = 0; i < 8; ++i) a.Feed(garbage);
  a.Flush();  // the last full piece waits for a newline that may still come
  EXPECT_EQ(longest, 4096u);
  EXPECT_EQ(count, (8u << 20) / 4096);
}

// Issue 20 #9: a line of exactly max_line bytes was emitted, then its
// newline as a spurious empty line.
TEST(LineAssemblerTest, ALineOfExactlyMaxLineBytesIsOneLine) {
  for (size_t split : {0u, 1u, 4u, 5u}) {  // also with the newline in the next chunk
    std::vector<std::string> lines;
    LineAssembler a([&](std::string_view l) { lines.emplace_back(l); }, 4);
    std::string input = "abcd\nef\n";
    a.Feed(std::string_view(input).substr(0, split));
    a.Feed(std::string_view(input).substr(split));
    a.Flush();
    EXPECT_EQ(lines, (std::vector<std::string>{"abcd", "ef"})) << "split at " << split;
  }
}

TEST(LineAssemblerTest, ALongerLineIsCutIntoMaxLinePieces) {
  std::vector<std::string> lines;
  LineAssembler a([&](std::string_view l) { lines.emplace_back(l); }, 4);
  a.Feed("abcdefghi\n\nz");
  a.Flush();
  EXPECT_EQ(lines, (std::vector<std::string>{"abcd", "efgh", "i", "", "z"}));
}

TEST(LineAssemblerTest, DiscardForgetsTheUnterminatedRest) {
  std::vector<std::string> lines;
  LineAssembler a([&](std::string_view l) { lines.emplace_back(l); });
  a.Feed("one\nREA");
  a.Discard();
  a.Feed("READY x\n");
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "READY x"}));
}

// Classifies a whole log and returns the classes seen with their first line.
std::map<ConsoleClass, std::string> ClassifyLog(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  std::map<ConsoleClass, std::string> seen;
  LineAssembler a([&](std::string_view l) {
    ConsoleClass c = ClassifyConsoleLine(l);
    if (c != ConsoleClass::kNone && !seen.count(c)) seen[c] = std::string(l);
  });
  a.Feed(text.str());
  a.Flush();
  return seen;
}

struct CorpusCase {
  const char* file;
  ConsoleClass first_crash;  // kNone: no crash may be seen
  const char* must_contain;  // in that first crash line
};

// Shown by gtest instead of the struct's bytes.
void PrintTo(const CorpusCase& c, std::ostream* os) {
  *os << c.file << " expecting " << ConsoleClassName(c.first_crash);
}

class CorpusTest : public testing::TestWithParam<CorpusCase> {};

TEST_P(CorpusTest, ClassifiesTheRealConsoleLog) {
  const CorpusCase& c = GetParam();
  fs::path path = fs::path(EZONE_CORPUS_DIR) / c.file;
  ASSERT_TRUE(fs::exists(path)) << path << " is missing from the corpus";
  auto seen = ClassifyLog(path);
  bool any_crash = seen.count(ConsoleClass::kOops) || seen.count(ConsoleClass::kPanic) ||
                   seen.count(ConsoleClass::kLockup);
  if (c.first_crash == ConsoleClass::kNone) {
    EXPECT_FALSE(any_crash) << c.file << ": " << (seen.count(ConsoleClass::kOops) ? seen[ConsoleClass::kOops] : "");
    return;
  }
  ASSERT_TRUE(seen.count(c.first_crash)) << c.file << " has no " << ConsoleClassName(c.first_crash);
  EXPECT_NE(seen[c.first_crash].find(c.must_contain), std::string::npos) << seen[c.first_crash];
}

INSTANTIATE_TEST_SUITE_P(
    RealGuestLogs, CorpusTest,
    testing::Values(CorpusCase{"divzero.log", ConsoleClass::kOops, "divide error: 0000"},
                    CorpusCase{"divzero.log", ConsoleClass::kPanic, "Kernel panic"},
                    CorpusCase{"nullderef.log", ConsoleClass::kOops, "NULL pointer dereference"},
                    CorpusCase{"bug.log", ConsoleClass::kOops, "kernel BUG at"},
                    CorpusCase{"panic.log", ConsoleClass::kPanic, "Kernel panic - not syncing"},
                    CorpusCase{"softlockup.log", ConsoleClass::kLockup, "BUG: soft lockup"},
                    CorpusCase{"stackoverflow-panic-none.log", ConsoleClass::kOops,
                               "stack guard page was hit"},
                    CorpusCase{"stackoverflow-panic-none.log", ConsoleClass::kPanic, "Kernel panic"},
                    CorpusCase{"memcorrupt.log", ConsoleClass::kOops, "list_del corruption"},  // its first line, before "kernel BUG at"
                    CorpusCase{"user-segv.log", ConsoleClass::kNone, ""},
                    CorpusCase{"user-oom.log", ConsoleClass::kNone, ""},
                    CorpusCase{"warn.log", ConsoleClass::kNone, ""},
                    CorpusCase{"clean-poweroff.log", ConsoleClass::kNone, ""}),
    [](const testing::TestParamInfo<CorpusCase>& info) {
      std::string name = std::string(info.param.file) + "_" + ConsoleClassName(info.param.first_crash);
      for (char& ch : name) if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return name;
    });

TEST(CorpusWarningTest, WarnLogHasAWarning) {
  auto seen = ClassifyLog(fs::path(EZONE_CORPUS_DIR) / "warn.log");
  EXPECT_TRUE(seen.count(ConsoleClass::kWarning));
}

TEST(CorpusUserSpaceTest, GuestProgramDeathsAreRecognisedAsSuch) {
  auto segv = ClassifyLog(fs::path(EZONE_CORPUS_DIR) / "user-segv.log");
  ASSERT_TRUE(segv.count(ConsoleClass::kUserSegfault));
  EXPECT_NE(segv[ConsoleClass::kUserSegfault].find("ezone-fault"), std::string::npos);
  auto oom = ClassifyLog(fs::path(EZONE_CORPUS_DIR) / "user-oom.log");
  ASSERT_TRUE(oom.count(ConsoleClass::kOomKill));
  EXPECT_NE(oom[ConsoleClass::kOomKill].find("ezone-fault"), std::string::npos);
}

}  // namespace
}  // namespace ezone
