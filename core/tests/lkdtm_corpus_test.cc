// The console classifier on the kernel's own crash tests: one real console
// log per LKDTM crash type (corpus/console/lkdtm/, from a run of
// suites/lkdtm.xml on qemu) and what each must be read as (EXPECTED). A
// crash the classifier misses here would make its check an error; a warning
// read as a crash would make an absorbed fault look like a contained one.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "console_classifier.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;

struct LkdtmLog {
  std::string type;
  std::string expected;  // oops, panic, lockup, none or hang
};

void PrintTo(const LkdtmLog& l, std::ostream* os) { *os << l.type << " -> " << l.expected; }

fs::path CorpusDir() { return fs::path(EZONE_CORPUS_DIR) / "lkdtm"; }

std::vector<LkdtmLog> ReadExpected() {
  std::vector<LkdtmLog> logs;
  std::ifstream in(CorpusDir() / "EXPECTED");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    LkdtmLog l;
    fields >> l.type >> l.expected;
    logs.push_back(l);
  }
  return logs;
}

class LkdtmCorpusTest : public testing::TestWithParam<LkdtmLog> {};

TEST_P(LkdtmCorpusTest, ReadsTheConsoleAsTheRunDid) {
  const LkdtmLog& log = GetParam();
  std::ifstream in(CorpusDir() / (log.type + ".log"), std::ios::binary);
  ASSERT_TRUE(in) << log.type << ".log is missing from the corpus";
  std::stringstream text;
  text << in.rdbuf();
  std::vector<ConsoleClass> crashes;
  std::string first_crash;
  LineAssembler lines([&](std::string_view l) {
    ConsoleClass c = ClassifyConsoleLine(l);
    if (!IsCrash(c)) return;
    if (crashes.empty()) first_crash = std::string(l);
    crashes.push_back(c);
  });
  lines.Feed(text.str());
  lines.Flush();

  if (log.expected == "none") {
    EXPECT_TRUE(crashes.empty()) << log.type << ": read as a crash: " << first_crash;
  } else if (log.expected != "hang") {
    ASSERT_FALSE(crashes.empty()) << log.type << ": no crash found";
    EXPECT_EQ(ConsoleClassName(crashes.front()), log.expected) << first_crash;
  }
}

INSTANTIATE_TEST_SUITE_P(RealLkdtmLogs, LkdtmCorpusTest, testing::ValuesIn(ReadExpected()),
                         [](const testing::TestParamInfo<LkdtmLog>& info) { return info.param.type; });

TEST(LkdtmCorpusTest, HasOneLogPerType) { EXPECT_GE(ReadExpected().size(), 75u); }

}  // namespace
}  // namespace ezone
