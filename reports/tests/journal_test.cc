#include "ezone/report/journal.h"
#include "ezone/report/policy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <pugixml.hpp>
#include <stdexcept>
#include <string>
#include <thread>

#include "ezone/report/sanitize.h"
#include "test_util.h"

namespace ezone::report {
namespace {

using testing::Ev;
using testing::ReadFile;
using testing::SampleRecords;
using testing::SampleRun;
using testing::SchemaMissingReason;
using testing::ScratchDir;
using testing::ValidateWithXmllint;

// A boot id no host has: "the host rebooted since".
constexpr std::string_view kOtherBoot = "00000000-0000-0000-0000-000000000000";

void WriteText(const std::filesystem::path& file, std::string_view text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

std::map<std::string, std::string> FieldsOf(const CheckRecord& r) {
  return {{"vmm", r.vmm},       {"fault", r.fault}, {"variant", r.variant},
          {"policy", r.policy}, {"zone", r.zone},   {"repetition", "1"}};
}

// The runner's calls for one check, as core/ makes them.
void JournalCheck(JournalWriter& journal, const CheckRecord& r) {
  journal.CheckStarted(r.suite, r.classname, r.name, FieldsOf(r));
  journal.CheckPhase(r.classname, r.name, "booting", "qemu 7.2");
  journal.CheckPhase(r.classname, r.name, "ready");
  journal.CheckPhase(r.classname, r.name, "fault fired", "insmod kerncrash");
  journal.CheckFinished(r);
}

void ExpectSameRecord(const CheckRecord& a, const CheckRecord& b) {
  SCOPED_TRACE(a.classname + "/" + a.name);
  EXPECT_EQ(a.suite, b.suite);
  EXPECT_EQ(a.classname, b.classname);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.verdict, b.verdict);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.detail, b.detail);
  EXPECT_EQ(a.zone, b.zone);
  EXPECT_EQ(a.vmm, b.vmm);
  EXPECT_EQ(a.fault, b.fault);
  EXPECT_EQ(a.variant, b.variant);
  EXPECT_EQ(a.policy, b.policy);
  EXPECT_EQ(a.effect, b.effect);
  EXPECT_EQ(a.timing.boot, b.timing.boot);
  EXPECT_EQ(a.timing.ready, b.timing.ready);
  EXPECT_EQ(a.timing.detection, b.timing.detection);
  EXPECT_EQ(a.timing.teardown, b.timing.teardown);
  EXPECT_EQ(a.timing.total, b.timing.total);
  EXPECT_EQ(a.console_excerpt, b.console_excerpt);
  EXPECT_EQ(a.console_log_path, b.console_log_path);
  EXPECT_EQ(a.evidence, b.evidence);
  EXPECT_EQ(a.crash_title, b.crash_title);
  EXPECT_EQ(a.kernel_reports, b.kernel_reports);
  EXPECT_EQ(a.heartbeats_ms, b.heartbeats_ms);
  EXPECT_EQ(a.properties, b.properties);
  EXPECT_EQ(a.timestamp, b.timestamp);
  EXPECT_EQ(a.seconds, b.seconds);
}

TEST(JournalTest, RoundTripKeepsEveryField) {
  ScratchDir dir;
  const auto file = dir.path() / "sub" / "journal.jsonl";
  std::vector<CheckRecord> records = SampleRecords();
  records[0].detail = "line one\n\ttab \"quoted\" \\ back";
  records[0].timing.detection = 35.123456789;
  records[0].evidence.push_back(Ev("unicode: ✓ µs"));
  records[0].evidence.push_back(
      {EvidenceSource::kNestedHost, Severity::kBad, "nested host: kernel taint 0 -> 4096"});
  records[0].crash_title = "divide error in kerncrash_divide";
  records[0].kernel_reports.push_back(
      {"victim", "oops", "divide error in kerncrash_divide", true, false, "", 212, 251});
  records[0].kernel_reports.push_back(
      {"witness", "warning", "WARNING in foo", false, true, "cut short", 9, 12});
  records[0].heartbeats_ms["victim"] = {1020.5, 1120, 1220};
  records[0].properties["guest_kernel_release"] = "6.1.0-21-cloud-amd64";
  {
    JournalWriter journal(file);
    journal.RunStarted(SampleRun());
    for (const CheckRecord& r : records) JournalCheck(journal, r);
    journal.RunFinished();
  }
  const JournalContents contents = ReadJournal(file, CurrentBootId());
  EXPECT_TRUE(contents.finished);
  EXPECT_EQ(contents.interrupted, 0u);
  EXPECT_EQ(contents.boot_id, CurrentBootId());
  EXPECT_EQ(contents.run.name, SampleRun().name);
  EXPECT_EQ(contents.run.hostname, SampleRun().hostname);
  EXPECT_EQ(contents.run.timestamp, SampleRun().timestamp);
  EXPECT_EQ(contents.run.properties, SampleRun().properties);
  ASSERT_EQ(contents.records.size(), records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    ExpectSameRecord(contents.records[i], records[i]);
  }
}

TEST(JournalTest, EveryLineIsOneJsonObjectEvenForHostileBytes) {
  ScratchDir dir;
  const auto file = dir.path() / "journal.jsonl";
  CheckRecord r = SampleRecords()[0];
  r.console_excerpt = std::string("oops\0\x07\xff\xfe\x1b[31mred\n", 17) +
                      std::string(200 * 1024, 'x');
  r.message = "bad \xc3 utf8\nnext line";
  r.evidence = {Ev("\x80\x81 stray continuation")};
  r.properties["k\xff"] = "v\x01";
  {
    JournalWriter journal(file);
    journal.RunStarted(SampleRun());
    JournalCheck(journal, r);
  }
  const std::string text = ReadFile(file);
  // 1 run_started + check_started + 3 phases + check_finished.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 6);
  const JournalContents contents = ReadJournal(file, CurrentBootId());
  ASSERT_EQ(contents.records.size(), 1u);
  const CheckRecord& back = contents.records[0];
  EXPECT_LE(back.console_excerpt.size(), kMaxExcerptBytes + 1024);
  EXPECT_EQ(back.console_excerpt.find('\x1b'), std::string::npos);
  EXPECT_EQ(back.message, "bad \uFFFD utf8\nnext line");
  EXPECT_EQ(back.properties.at("k\uFFFD"), "v\x01");
}

// A journal of three finished checks and a fourth whose check_finished line
// is the last one; cut it at every byte.
TEST(JournalTest, TruncatedAtEveryByteOfTheLastLineStillReads) {
  ScratchDir dir;
  const auto full = dir.path() / "full.jsonl";
  const std::vector<CheckRecord> records = SampleRecords();
  {
    JournalWriter journal(full);
    journal.RunStarted(SampleRun());
    for (std::size_t i = 0; i < 4; ++i) JournalCheck(journal, records[i]);
  }
  const std::string text = ReadFile(full);
  ASSERT_EQ(text.back(), '\n');
  const std::size_t last_line = text.rfind('\n', text.size() - 2) + 1;
  // run_started + 4 x (started, 3 phases, finished).
  ASSERT_EQ(std::count(text.begin(), text.end(), '\n'), 21);
  const auto cut = dir.path() / "cut.jsonl";
  for (std::size_t length = last_line; length < text.size(); ++length) {
    SCOPED_TRACE("cut at byte " + std::to_string(length));
    WriteText(cut, std::string_view(text).substr(0, length));
    ::testing::internal::CaptureStderr();
    const JournalContents contents = ReadJournal(cut, CurrentBootId());
    const std::string warnings = ::testing::internal::GetCapturedStderr();
    ASSERT_EQ(contents.records.size(), 4u);
    for (std::size_t i = 0; i < 3; ++i) {
      ExpectSameRecord(contents.records[i], records[i]);
    }
    const CheckRecord& fourth = contents.records[3];
    EXPECT_EQ(fourth.name, records[3].name);
    if (length == text.size() - 1) {
      // Everything but the newline: the event is whole, so it counts.
      ExpectSameRecord(fourth, records[3]);
      EXPECT_EQ(contents.interrupted, 0u);
    } else {
      EXPECT_EQ(fourth.verdict, Verdict::kError);
      EXPECT_EQ(fourth.message,
                "interrupted during fault fired: the runner stopped before the "
                "check finished");
      EXPECT_EQ(contents.interrupted, 1u);
      if (length > last_line) {
        EXPECT_NE(warnings.find(cut.string() + ":21: ignoring a truncated"),
                  std::string::npos)
            << warnings;
      } else {
        EXPECT_EQ(warnings, "");
      }
    }
  }
}

TEST(JournalTest, StartedButNotFinishedIsInterruptedAtItsLastPhase) {
  ScratchDir dir;
  const auto file = dir.path() / "journal.jsonl";
  const auto console = dir.path() / "console" / "victim.log";
  std::filesystem::create_directories(console.parent_path());
  WriteText(console, "[    1.0] booting\n[    5.1] divide error: 0000 [#1]\n");
  std::vector<CheckRecord> records = SampleRecords();
  {
    JournalWriter journal(file);
    journal.RunStarted(SampleRun());
    JournalCheck(journal, records[0]);
    const CheckRecord& r = records[1];
    auto fields = FieldsOf(r);
    fields["console_log_path"] = console.string();
    journal.CheckStarted(r.suite, r.classname, r.name, fields);
    journal.CheckPhase(r.classname, r.name, "booting");
    journal.CheckPhase(r.classname, r.name, "observing", "waiting for signs");
    // The runner is SIGKILLed here.
  }
  const JournalContents contents = ReadJournal(file, CurrentBootId());
  EXPECT_FALSE(contents.finished);
  EXPECT_EQ(contents.interrupted, 1u);
  ASSERT_EQ(contents.records.size(), 2u);
  ExpectSameRecord(contents.records[0], records[0]);
  const CheckRecord& r = contents.records[1];
  EXPECT_EQ(r.verdict, Verdict::kError);
  EXPECT_EQ(r.effect, "");
  EXPECT_EQ(r.message,
            "interrupted during observing: the runner stopped before the check "
            "finished");
  EXPECT_EQ(r.suite, records[1].suite);
  EXPECT_EQ(r.classname, records[1].classname);
  EXPECT_EQ(r.vmm, "palacios");
  EXPECT_EQ(r.zone, "E-Zone 3");
  EXPECT_EQ(r.policy, "strong-isolation");
  EXPECT_EQ(r.properties.at("repetition"), "1");
  EXPECT_EQ(r.properties.at("journal.interrupted"), "observing");
  EXPECT_EQ(r.console_log_path, console.string());
  EXPECT_NE(r.console_excerpt.find("divide error"), std::string::npos);
  ASSERT_EQ(r.evidence.size(), 2u);
  EXPECT_EQ(r.evidence[0].text.rfind("journal: phase booting at +", 0), 0u);
  EXPECT_NE(r.evidence[1].text.find(": waiting for signs"), std::string::npos);
  EXPECT_FALSE(r.timestamp.empty());
}

TEST(JournalTest, BootIdChangedMeansTheHostDidNotSurvive) {
  ScratchDir dir;
  const auto file = dir.path() / "journal.jsonl";
  std::vector<CheckRecord> records = SampleRecords();
  CheckRecord tolerated = records[1];
  tolerated.name = "palacios_kerncrash_divzero_perf";
  tolerated.policy = "performance";
  CheckRecord user = tolerated;
  user.name = "qemu_usercrash_perf";
  user.zone = "E-Zone 4";
  {
    JournalWriter journal(file);
    journal.RunStarted(SampleRun());
    JournalCheck(journal, records[0]);
    for (const CheckRecord* r : {&records[1], &tolerated, &user}) {
      journal.CheckStarted(r->suite, r->classname, r->name, FieldsOf(*r));
      journal.CheckPhase(r->classname, r->name, "fault fired");
    }
  }
  const JournalContents contents = ReadJournal(file, kOtherBoot);
  EXPECT_EQ(contents.interrupted, 3u);
  ASSERT_EQ(contents.records.size(), 4u);
  ExpectSameRecord(contents.records[0], records[0]);  // finished: untouched
  for (std::size_t i = 1; i < 4; ++i) {
    const CheckRecord& r = contents.records[i];
    SCOPED_TRACE(r.name);
    EXPECT_EQ(r.effect, "global");
    EXPECT_EQ(r.message,
              "the host did not survive: it rebooted during fault fired");
    EXPECT_NE(r.detail.find(std::string(kOtherBoot)), std::string::npos);
  }
  EXPECT_EQ(contents.records[1].verdict, Verdict::kFailure);  // strong
  EXPECT_EQ(contents.records[2].verdict, Verdict::kPass);     // perf, zone 3
  EXPECT_EQ(contents.records[3].verdict, Verdict::kFailure);  // perf, zone 4
}

// The replay judges by the same rule as the core's verdict (report::Judge),
// for every policy: under "detected" a host that went down with the check
// passes (the fault showed), as the core would have said.
TEST(JournalTest, InterruptedByAHostRebootIsJudgedByThePolicyRule) {
  ScratchDir dir;
  const auto file = dir.path() / "journal.jsonl";
  std::vector<CheckRecord> checks;
  for (const char* policy : {"strong-isolation", "performance", "guest-survives", "detected"}) {
    CheckRecord r = SampleRecords()[1];
    r.name = std::string("host_fault_") + policy;
    r.zone = "E-Zone 1";
    r.policy = policy;
    checks.push_back(r);
  }
  {
    JournalWriter journal(file);
    journal.RunStarted(SampleRun());
    for (const CheckRecord& r : checks) {
      journal.CheckStarted(r.suite, r.classname, r.name, FieldsOf(r));
      journal.CheckPhase(r.classname, r.name, "observe");
    }
  }
  const JournalContents contents = ReadJournal(file, kOtherBoot);
  ASSERT_EQ(contents.records.size(), checks.size());
  for (const CheckRecord& r : contents.records) {
    const Verdict expected =
        Judge(*ParsePolicy(r.policy), Zone::kHostKernel, Effect::kGlobal, false).verdict;
    EXPECT_EQ(r.verdict, expected) << r.policy;
  }
  EXPECT_EQ(contents.records[3].verdict, Verdict::kPass) << "detected";
}

// A resumed run appends a new segment to the same file: what the first left
// open is judged against the second's boot id, not today's.
TEST(JournalTest, ResumedRunJudgesEachSegmentByTheNextBoot) {
  ScratchDir dir;
  const auto file = dir.path() / "journal.jsonl";
  WriteText(
      file,
      R"({"event":"run_started","v":1,"t_ms":1000,"boot_id":"boot-a","run":{"name":"first"}})"
      "\n"
      R"({"event":"check_started","t_ms":1100,"suite":"paper","classname":"C","name":"n1","fields":{"vmm":"qemu","zone":"E-Zone 3","policy":"strong-isolation"}})"
      "\n"
      R"({"event":"check_phase","t_ms":1200,"classname":"C","name":"n1","phase":"observing"})"
      "\n"
      R"({"event":"run_started","v":1,"t_ms":9000,"boot_id":"boot-b","run":{"name":"resumed"}})"
      "\n"
      R"({"event":"check_started","t_ms":9100,"suite":"paper","classname":"C","name":"n2","fields":{}})"
      "\n"
      R"({"event":"check_phase","t_ms":9200,"classname":"C","name":"n2","phase":"booting"})"
      "\n"
      R"({"event":"check_phase","t_ms":9300,"classname":"C","name":"n1","phase":"never started here"})"
      "\n"
      R"({"event":"some_future_event","t_ms":9400})"
      "\n");
  const JournalContents contents = ReadJournal(file, "boot-b");
  EXPECT_EQ(contents.run.name, "first");
  EXPECT_EQ(contents.boot_id, "boot-b");
  EXPECT_FALSE(contents.finished);
  ASSERT_EQ(contents.records.size(), 2u);
  EXPECT_EQ(contents.records[0].effect, "global");
  EXPECT_EQ(contents.records[0].verdict, Verdict::kFailure);
  EXPECT_EQ(contents.records[0].message,
            "the host did not survive: it rebooted during observing");
  EXPECT_DOUBLE_EQ(contents.records[0].seconds, 0.1);
  EXPECT_EQ(contents.records[1].verdict, Verdict::kError);
  EXPECT_EQ(contents.records[1].message,
            "interrupted during booting: the runner stopped before the check "
            "finished");
}

TEST(JournalTest, WriterCutsATornTailBeforeAppending) {
  ScratchDir dir;
  const auto file = dir.path() / "journal.jsonl";
  const std::vector<CheckRecord> records = SampleRecords();
  {
    JournalWriter journal(file);
    journal.RunStarted(SampleRun());
    JournalCheck(journal, records[0]);
  }
  {
    std::ofstream out(file, std::ios::binary | std::ios::app);
    out << R"({"event":"check_started","suite":"pa)";
  }
  ::testing::internal::CaptureStderr();
  {
    JournalWriter journal(file);
    journal.RunStarted(SampleRun());
    JournalCheck(journal, records[1]);
    journal.RunFinished();
  }
  const std::string warnings = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(warnings.find("cutting off a torn last line"), std::string::npos);
  const JournalContents contents = ReadJournal(file, CurrentBootId());
  EXPECT_TRUE(contents.finished);
  ASSERT_EQ(contents.records.size(), 2u);
  ExpectSameRecord(contents.records[1], records[1]);
}

TEST(JournalTest, MalformedLineInTheMiddleNamesFileAndLine) {
  ScratchDir dir;
  const auto file = dir.path() / "journal.jsonl";
  WriteText(file,
            "{\"event\":\"run_started\",\"boot_id\":\"b\"}\n"
            "{\"event\":\"check_sta\n"
            "{\"event\":\"run_finished\"}\n");
  try {
    ReadJournal(file, "b");
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string() + ":2:"),
              std::string::npos)
        << e.what();
  }
  WriteText(
      file,
      "{\"event\":\"check_finished\",\"record\":{\"verdict\":\"meh\"}}\n");
  try {
    ReadJournal(file, "b");
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string() + ":1: bad journal "
                                                         "event: unknown "
                                                         "verdict"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(ReadJournal(dir.path() / "absent.jsonl"), std::system_error);
}

TEST(JournalTest, ReadJournalsMergesADirectoryOfProcesses) {
  ScratchDir dir;
  const std::vector<CheckRecord> records = SampleRecords();
  for (std::size_t i = 0; i < records.size(); ++i) {
    JournalWriter journal(dir.path() / "journal" /
                          ("check-" + std::to_string(i) + ".jsonl"));
    RunInfo run = SampleRun();
    run.properties["process"] = std::to_string(i);
    journal.RunStarted(run);
    JournalCheck(journal, records[i]);
    if (i != 2) journal.RunFinished();
  }
  WriteText(dir.path() / "journal" / "not-a-journal.txt", "ignored");
  const JournalContents merged =
      ReadJournals({dir.path() / "journal"}, CurrentBootId());
  ASSERT_EQ(merged.records.size(), records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    ExpectSameRecord(merged.records[i], records[i]);
  }
  EXPECT_FALSE(merged.finished);  // check-2's process did not finish its run
  EXPECT_EQ(merged.run.properties.at("process"), "0");
  EXPECT_EQ(merged.run.name, SampleRun().name);
}

TEST(JournalTest, RebuiltReportsAreValidAndNameTheInterruptedCheck) {
  ScratchDir dir;
  const auto file = dir.path() / "journal.jsonl";
  const std::vector<CheckRecord> records = SampleRecords();
  {
    JournalWriter journal(file);
    journal.RunStarted(SampleRun());
    for (const CheckRecord& r : records) JournalCheck(journal, r);
    journal.CheckStarted("paper", "GuestKernelCrashMustNotKillHost",
                         "qemu_kerncrash_divzero_2",
                         {{"vmm", "qemu"},
                          {"fault", "kerncrash"},
                          {"variant", "divzero"},
                          {"zone", "E-Zone 3"},
                          {"policy", "strong-isolation"}});
    journal.CheckPhase("GuestKernelCrashMustNotKillHost",
                       "qemu_kerncrash_divzero_2", "tearing down");
  }
  const JournalContents contents = ReadJournal(file, kOtherBoot);
  const auto junit = dir.path() / "out" / "junit.xml";
  const auto html = dir.path() / "out" / "report.html";
  const auto markdown = dir.path() / "out" / "summary.md";
  RebuildReports(contents, junit, html, markdown);
  EXPECT_NE(ReadFile(html).find("rebooted during tearing down"),
            std::string::npos);
  EXPECT_NE(ReadFile(markdown).find("qemu\\_kerncrash\\_divzero\\_2"),
            std::string::npos);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file(junit.c_str()));
  const pugi::xml_node failure =
      doc.child("testsuites")
          .find_child_by_attribute("testsuite", "name", "paper")
          .find_child_by_attribute("testcase", "name",
                                   "qemu_kerncrash_divzero_2")
          .child("failure");
  EXPECT_STREQ(failure.attribute("message").as_string(),
               "the host did not survive: it rebooted during tearing down");
  if (const std::string reason = SchemaMissingReason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  std::string output;
  EXPECT_EQ(ValidateWithXmllint(junit, &output), 0) << output;

  // Without a markdown path, no markdown file.
  const auto other = dir.path() / "other";
  RebuildReports(contents, other / "junit.xml", other / "report.html");
  EXPECT_TRUE(std::filesystem::exists(other / "junit.xml"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(other),
                          std::filesystem::directory_iterator()),
            2);
}

TEST(JournalTest, ThreadsNeverInterleaveWithinALine) {
  ScratchDir dir;
  const auto file = dir.path() / "journal.jsonl";
  const std::vector<CheckRecord> records = SampleRecords();
  {
    JournalWriter journal(file);
    journal.RunStarted(SampleRun());
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 4; ++t) {
      threads.emplace_back([&journal, &records, t] {
        CheckRecord r = records[t];
        r.name += "_thread";
        r.console_excerpt = std::string(20000, static_cast<char>('a' + t));
        for (int i = 0; i < 5; ++i) {
          r.name.back() = static_cast<char>('0' + i);
          JournalCheck(journal, r);
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  const JournalContents contents = ReadJournal(file, CurrentBootId());
  EXPECT_EQ(contents.records.size(), 20u);
  EXPECT_EQ(contents.interrupted, 0u);
  for (const CheckRecord& r : contents.records) {
    EXPECT_EQ(r.console_excerpt.find_first_not_of(r.console_excerpt[0]),
              std::string::npos);
  }
}

TEST(JournalTest, ThousandChecksReadQuickly) {
  ScratchDir dir;
  const auto file = dir.path() / "journal.jsonl";
  // Written without fdatasync (a plain stream) to keep the test about the
  // reader: the lines are the writer's own, taken from a one-check journal.
  const auto one = dir.path() / "one.jsonl";
  CheckRecord r = SampleRecords()[0];
  r.console_excerpt = std::string(4096, 'c') + "\n";
  {
    JournalWriter journal(one);
    journal.RunStarted(SampleRun());
    JournalCheck(journal, r);
    journal.RunFinished();
  }
  const std::string text = ReadFile(one);
  const std::size_t first_end = text.find('\n') + 1;
  const std::size_t check_end = text.rfind('\n', text.size() - 2) + 1;
  std::string check_lines = text.substr(first_end, check_end - first_end);
  std::string big = text.substr(0, first_end);
  for (int i = 0; i < 1000; ++i) {
    // Unique names: the same name would still read, but be less realistic.
    std::string lines = check_lines;
    const std::string from = "\"" + r.name + "\"";
    const std::string to = "\"" + r.name + "_" + std::to_string(i) + "\"";
    for (std::size_t at = lines.find(from); at != std::string::npos;
         at = lines.find(from, at + to.size())) {
      lines.replace(at, from.size(), to);
    }
    big += lines;
  }
  big += text.substr(check_end);
  WriteText(file, big);

  const auto start = std::chrono::steady_clock::now();
  const JournalContents contents = ReadJournal(file, CurrentBootId());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ASSERT_EQ(contents.records.size(), 1000u);
  EXPECT_EQ(contents.records[999].name, r.name + "_999");
  EXPECT_TRUE(contents.finished);
  EXPECT_LT(seconds, 2.0) << "reading " << big.size() << " bytes";
  std::cout << "read 1000 checks (" << big.size() / 1024 << " KiB) in "
            << seconds * 1000 << " ms\n";
}

// Issue 20, finding 4: extreme numbers were cast to integers (undefined
// behaviour); now they are an error naming file and line.
TEST(JournalTest, NumbersOutOfRangeAreAnErrorNamingFileAndLine) {
  ScratchDir dir;
  const auto file = dir.path() / "journal.jsonl";
  const std::string start = "{\"event\":\"run_started\",\"boot_id\":\"b\",\"t_ms\":1}\n";
  const std::string open_check =
      "{\"event\":\"check_started\",\"classname\":\"C\",\"name\":\"n\",\"t_ms\":";
  const std::pair<std::string, std::string> cases[] = {
      {"{\"event\":\"run_started\",\"t_ms\":5e110}\n", ":1: bad journal event: \"t_ms\" is out of range"},
      {"{\"event\":\"run_started\",\"v\":1e300}\n", ":1: bad journal event: \"v\" is out of range"},
      {start + open_check + "-9e18}\n", ":2: bad journal event: \"t_ms\" is out of range"},
      {start + open_check + "1}\n{\"event\":\"check_phase\",\"classname\":\"C\",\"name\":\"n\","
                            "\"t_ms\":9e18}\n",
       ":3: bad journal event: \"t_ms\" is out of range"},
      {start + "{\"event\":\"check_finished\",\"record\":{\"verdict\":\"pass\",\"seconds\":1e300}}\n",
       ":2: bad journal event: \"seconds\" is out of range"},
      {start + "{\"event\":\"check_finished\",\"record\":{\"verdict\":\"pass\","
               "\"timing\":{\"boot\":-1}}}\n",
       ":2: bad journal event: \"boot\" is out of range"},
  };
  for (const auto& [text, expected] : cases) {
    WriteText(file, text);
    try {
      ReadJournal(file, "b");
      ADD_FAILURE() << "no exception for " << text;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(file.string() + expected), std::string::npos)
          << e.what();
    }
  }
  // The largest times a journal may hold still read, without overflow.
  WriteText(file, start + open_check + "1e14}\n");
  EXPECT_EQ(ReadJournal(file, "b").interrupted, 1u);
}

// Issue 21: a check killed by a ctest timeout carried time 0.000; the
// writer's alive notes give it the time it ran until interrupted.
TEST(JournalTest, InterruptedCheckCarriesTheTimeItRan) {
  ScratchDir dir;
  const auto file = dir.path() / "journal.jsonl";
  const CheckRecord r = SampleRecords()[0];
  {
    JournalWriter journal(file, std::chrono::milliseconds(50));
    journal.RunStarted(SampleRun());
    journal.CheckStarted(r.suite, r.classname, r.name, FieldsOf(r));
    // A probe that takes its time: no phase is written meanwhile.
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    // The runner is killed here.
  }
  EXPECT_NE(ReadFile(file).find("\"event\":\"alive\""), std::string::npos);
  const JournalContents contents = ReadJournal(file, CurrentBootId());
  ASSERT_EQ(contents.records.size(), 1u);
  const CheckRecord& interrupted = contents.records[0];
  EXPECT_GE(interrupted.seconds, 0.45);
  EXPECT_LE(interrupted.seconds, 5.0);
  EXPECT_NE(interrupted.detail.find("It ran for 0."), std::string::npos)
      << interrupted.detail;
  // No alive notes once the check finished.
  const std::size_t size = std::filesystem::file_size(file);
  {
    JournalWriter journal(file, std::chrono::milliseconds(20));
    journal.CheckStarted(r.suite, r.classname, "other", FieldsOf(r));
    CheckRecord done = r;
    done.name = "other";
    journal.CheckFinished(done);
    const std::size_t finished = std::filesystem::file_size(file);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    EXPECT_EQ(std::filesystem::file_size(file), finished);
  }
  EXPECT_GT(std::filesystem::file_size(file), size);
}

TEST(JournalTest, ProbeTimeRoundTripsAndReportDirIsTheJournalsParent) {
  ScratchDir dir;
  const auto file = dir.path() / "journal" / "run.jsonl";
  CheckRecord r = SampleRecords()[3];
  r.timing.probe = 61000;
  {
    JournalWriter journal(file);
    journal.RunStarted(SampleRun());
    JournalCheck(journal, r);
  }
  const JournalContents contents = ReadJournal(file, CurrentBootId());
  ASSERT_EQ(contents.records.size(), 1u);
  EXPECT_EQ(contents.records[0].timing.probe, 61000);
  EXPECT_EQ(contents.report_dir, dir.path());
}

}  // namespace
}  // namespace ezone::report
