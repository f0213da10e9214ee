#include "ezone/report/junit_writer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <pugixml.hpp>
#include <random>
#include <string>

#include "ezone/report/sanitize.h"
#include "junit_lint.h"
#include "test_util.h"

namespace ezone::report {
namespace {

using testing::Ev;
using testing::ReadFile;
using testing::SampleRecords;
using testing::SampleRun;
using testing::SchemaMissingReason;
using testing::ScratchDir;
using testing::JUnitLint;
using testing::LintJUnit;
using testing::ValidateWithXmllint;

void WriteText(const std::filesystem::path& file, const std::string& text) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

// No byte a well-formed XML 1.0 document may not hold, and no raw CR (a
// parser would read it back as LF).
void ExpectNoControlBytes(const std::string& text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    EXPECT_FALSE(byte < 0x20 && byte != '\n' && byte != '\t')
        << "control byte " << static_cast<int>(byte);
  }
}

void ExpectValid(const std::filesystem::path& file) {
  if (const std::string reason = SchemaMissingReason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  std::string output;
  EXPECT_EQ(ValidateWithXmllint(file, &output), 0)
      << output << "\n--- file ---\n"
      << ReadFile(file).substr(0, 4000);
}

pugi::xml_node Suite(const pugi::xml_document& doc, const char* name) {
  return doc.child("testsuites")
      .find_child_by_attribute("testsuite", "name", name);
}

TEST(JUnitWriterTest, AllVerdictsValidateAgainstSchema) {
  ScratchDir dir;
  const auto file = dir.path() / "out" / "junit.xml";
  WriteJUnit(SampleRun(), SampleRecords(), file);
  ExpectValid(file);
}

TEST(JUnitWriterTest, CountsAndStructureAreRight) {
  ScratchDir dir;
  const auto file = dir.path() / "junit.xml";
  WriteJUnit(SampleRun(), SampleRecords(), file);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file(file.c_str()));
  const pugi::xml_node root = doc.child("testsuites");
  EXPECT_EQ(root.attribute("tests").as_int(), 6);
  EXPECT_EQ(root.attribute("failures").as_int(), 1);
  EXPECT_EQ(root.attribute("errors").as_int(), 1);
  EXPECT_DOUBLE_EQ(root.attribute("time").as_double(), 98.45);

  const pugi::xml_node paper = Suite(doc, "paper");
  EXPECT_EQ(paper.attribute("tests").as_int(), 4);
  EXPECT_EQ(paper.attribute("failures").as_int(), 1);
  EXPECT_EQ(paper.attribute("errors").as_int(), 1);
  EXPECT_EQ(paper.attribute("skipped").as_int(), 0);
  EXPECT_STREQ(paper.attribute("hostname").as_string(), "node17");
  EXPECT_STREQ(paper.child("properties")
                   .find_child_by_attribute("property", "name", "guest.kernel")
                   .attribute("value")
                   .as_string(),
               "6.1.0-21-cloud-amd64");

  const pugi::xml_node enclave = Suite(doc, "enclave");
  EXPECT_EQ(enclave.attribute("tests").as_int(), 2);
  EXPECT_EQ(enclave.attribute("skipped").as_int(), 1);

  const pugi::xml_node failed = paper.find_child_by_attribute(
      "testcase", "name", "palacios_kerncrash_divzero_1");
  EXPECT_STREQ(failed.attribute("classname").as_string(),
               "paper.GuestKernelCrashMustNotKillHost");
  EXPECT_STREQ(failed.attribute("time").as_string(), "31.250");
  const std::string failure_text = failed.child("failure").text().as_string();
  EXPECT_STREQ(failed.child("failure").attribute("message").as_string(),
               "host stopped answering after the guest oops");
  EXPECT_NE(failure_text.find("host: BUG: unable to handle page fault"),
            std::string::npos);
  EXPECT_NE(failure_text.find("heartbeat lost"), std::string::npos);

  const std::string out = failed.child("system-out").text().as_string();
  EXPECT_NE(out.find("divide error: 0000"), std::string::npos);
  // The sample's log is not on this machine: not attached, but named.
  EXPECT_EQ(out.find("[[ATTACHMENT|"), std::string::npos);
  EXPECT_NE(out.find("console_log.missing=/var/tmp/ezone/"
                     "qemu_kerncrash_divzero_1.log\n"),
            std::string::npos);
  EXPECT_NE(out.find("effect=global\n"), std::string::npos);
  EXPECT_NE(out.find("policy=strong-isolation\n"), std::string::npos);
  EXPECT_NE(out.find("timing.boot_ms=812.5\n"), std::string::npos);
  EXPECT_NE(out.find("vmm.version=7.2.0\n"), std::string::npos);

  const pugi::xml_node skipped =
      enclave.find_child_by_attribute("testcase", "name", "palacios_witness_1");
  EXPECT_STREQ(skipped.child("skipped").attribute("message").as_string(),
               "no Palacios module on this host");
  EXPECT_TRUE(paper
                  .find_child_by_attribute("testcase", "name",
                                           "kvm_kerncrash_divzero_1")
                  .child("error"));
}

// The crash title names the bug where CI shows the failure: its type and
// its message; the kernel reports and heartbeats go to system-out.
TEST(JUnitWriterTest, CrashTitleInTypeAndMessage) {
  ScratchDir dir;
  const auto file = dir.path() / "junit.xml";
  std::vector<CheckRecord> records = SampleRecords();
  records[1].crash_title = "general protection fault in v3_handle_vmx_exit";
  records[1].kernel_reports.push_back({"host", "oops", records[1].crash_title, true, false, "",
                                       10, 42});
  records[1].heartbeats_ms["witness"] = {500, 1000.4};
  WriteJUnit(SampleRun(), records, file);
  ExpectValid(file);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file(file.c_str()));
  const pugi::xml_node failed = Suite(doc, "paper").find_child_by_attribute(
      "testcase", "name", "palacios_kerncrash_divzero_1");
  EXPECT_STREQ(failed.child("failure").attribute("type").as_string(),
               "isolation-violated: general protection fault in v3_handle_vmx_exit");
  EXPECT_NE(std::string(failed.child("failure").attribute("message").as_string())
                .find("[crash: general protection fault in v3_handle_vmx_exit]"),
            std::string::npos);
  const std::string out = failed.child("system-out").text().as_string();
  EXPECT_NE(out.find("crash_title=general protection fault in v3_handle_vmx_exit\n"),
            std::string::npos);
  EXPECT_NE(out.find("kernel_report=host oops fatal: general protection fault"),
            std::string::npos);
  EXPECT_NE(out.find("heartbeat.witness=500 1000\n"), std::string::npos);
}

TEST(JUnitWriterTest, RandomConsoleBytesStayWellFormedAndValid) {
  std::mt19937 rng(20240501);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<CheckRecord> records = SampleRecords();
  for (CheckRecord& record : records) {
    std::string noise;
    for (int c = 0; c < 256; ++c) noise += static_cast<char>(c);  // all values
    for (int i = 0; i < 20000; ++i) noise += static_cast<char>(byte(rng));
    record.console_excerpt = noise;
    record.message = noise.substr(0, 300);
    record.detail = noise.substr(300, 500);
    record.evidence.push_back(Ev(noise.substr(800, 80)));
    record.properties["noise"] = noise.substr(900, 100);
    record.console_log_path = noise.substr(1000, 40);
  }
  ScratchDir dir;
  const auto file = dir.path() / "junit.xml";
  WriteJUnit(SampleRun(), records, file);
  pugi::xml_document doc;
  const pugi::xml_parse_result result = doc.load_file(file.c_str());
  ASSERT_TRUE(result) << result.description() << " at " << result.offset;
  EXPECT_EQ(doc.child("testsuites").attribute("tests").as_int(), 6);
  ExpectValid(file);
}

TEST(JUnitWriterTest, HugeExcerptIsCapped) {
  std::vector<CheckRecord> records = SampleRecords();
  records[0].console_excerpt = std::string(10 * kMaxExcerptBytes, 'x');
  const std::string xml = RenderJUnit(SampleRun(), records);
  EXPECT_LT(xml.size(), 2 * kMaxExcerptBytes);
  EXPECT_NE(xml.find("bytes cut ...]"), std::string::npos);
}

TEST(JUnitWriterTest, WritesAtomicallyWithoutLeftovers) {
  ScratchDir dir;
  const auto file = dir.path() / "junit.xml";
  WriteJUnit(SampleRun(), SampleRecords(), file);
  WriteJUnit(SampleRun(), {}, file);  // overwrite
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator(dir.path())) {
    ++entries;
  }
  EXPECT_EQ(entries, 1u);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file(file.c_str()));
  EXPECT_EQ(doc.child("testsuites").attribute("tests").as_int(), 0);
  ExpectValid(file);
}

TEST(MergeJUnitTest, MergesThreeFilesWithRightTotals) {
  ScratchDir dir;
  const std::vector<CheckRecord> all = SampleRecords();
  std::vector<std::filesystem::path> inputs;
  // Split like parallel ctest processes would: 2 + 2 + 2 records.
  for (std::size_t part = 0; part < 3; ++part) {
    std::vector<CheckRecord> slice(all.begin() + part * 2,
                                   all.begin() + part * 2 + 2);
    inputs.push_back(dir.path() / ("part" + std::to_string(part) + ".xml"));
    WriteJUnit(SampleRun(), slice, inputs.back());
  }
  const auto merged = dir.path() / "merged.xml";
  EXPECT_EQ(MergeJUnit(inputs, merged), 3u);

  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file(merged.c_str()));
  const pugi::xml_node root = doc.child("testsuites");
  EXPECT_EQ(root.attribute("tests").as_int(), 6);
  EXPECT_EQ(root.attribute("failures").as_int(), 1);
  EXPECT_EQ(root.attribute("errors").as_int(), 1);
  EXPECT_DOUBLE_EQ(root.attribute("time").as_double(), 98.45);
  EXPECT_EQ(std::distance(root.children("testsuite").begin(),
                          root.children("testsuite").end()),
            2);
  const pugi::xml_node paper = Suite(doc, "paper");
  EXPECT_EQ(paper.attribute("tests").as_int(), 4);
  EXPECT_EQ(paper.attribute("failures").as_int(), 1);
  EXPECT_EQ(paper.attribute("errors").as_int(), 1);
  // Run properties are the same in each part: listed once.
  EXPECT_EQ(std::distance(paper.child("properties").children().begin(),
                          paper.child("properties").children().end()),
            2);
  const pugi::xml_node enclave = Suite(doc, "enclave");
  EXPECT_EQ(enclave.attribute("tests").as_int(), 2);
  EXPECT_EQ(enclave.attribute("skipped").as_int(), 1);
  ExpectValid(merged);
}

TEST(MergeJUnitTest, SkipsTruncatedAndMissingInputsWithWarning) {
  ScratchDir dir;
  const auto good = dir.path() / "good.xml";
  WriteJUnit(SampleRun(), SampleRecords(), good);
  const std::string text = ReadFile(good);
  const auto truncated = dir.path() / "truncated.xml";
  {
    std::ofstream out(truncated, std::ios::binary);
    out << text.substr(0, text.size() / 2);
  }
  const auto empty = dir.path() / "empty.xml";
  std::ofstream(empty).close();
  const auto missing = dir.path() / "missing.xml";

  const auto merged = dir.path() / "merged.xml";
  ::testing::internal::CaptureStderr();
  const std::size_t count =
      MergeJUnit({truncated, good, empty, missing}, merged);
  const std::string warnings = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(count, 1u);
  EXPECT_NE(warnings.find("truncated.xml"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("empty.xml"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("missing.xml"), std::string::npos) << warnings;

  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file(merged.c_str()));
  EXPECT_EQ(doc.child("testsuites").attribute("tests").as_int(), 6);
  ExpectValid(merged);
}

TEST(MergeJUnitTest, NoUsableInputStillWritesValidFile) {
  ScratchDir dir;
  const auto merged = dir.path() / "merged.xml";
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(MergeJUnit({dir.path() / "nope.xml"}, merged), 0u);
  ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(std::filesystem::exists(merged));
  ExpectValid(merged);
}

// Issue 20, finding 3: a failure without a message got effect and policy
// into its default message unsanitised.
TEST(JUnitWriterTest, FailureWithoutMessageSanitisesEffectAndPolicy) {
  CheckRecord record = SampleRecords()[1];
  record.message.clear();
  record.effect = std::string("glo\x01" "bal\xff", 8);
  record.policy = "strong\x1b";
  ScratchDir dir;
  const auto file = dir.path() / "junit.xml";
  WriteJUnit(SampleRun(), {record}, file);
  const std::string text = ReadFile(file);
  ExpectNoControlBytes(text);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(text.c_str()));
  EXPECT_NE(std::string(doc.select_node("//failure").node().attribute("message").as_string())
                .find("isolation violated"),
            std::string::npos);
  ExpectValid(file);
}

// Issue 20: a lone CR in an excerpt was written raw into <system-out>.
TEST(JUnitWriterTest, LoneCarriageReturnIsNotWrittenRaw) {
  CheckRecord record = SampleRecords()[0];
  record.console_excerpt = "progress 10%\rprogress 20%\r";
  const std::string xml = RenderJUnit(SampleRun(), {record});
  EXPECT_EQ(xml.find('\r'), std::string::npos);
  EXPECT_NE(xml.find("progress 10%\nprogress 20%\n"), std::string::npos);
}

// Issue 20, finding 5: an excerpt that sanitises to nothing (only "ESC [")
// made the writer call back() on an empty string.
TEST(JUnitWriterTest, ExcerptOfOnlyAnEscapeIsFine) {
  CheckRecord record = SampleRecords()[0];
  record.console_excerpt = "\x1b[";
  record.console_log_path.clear();
  const std::string xml = RenderJUnit(SampleRun(), {record});
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(xml.c_str()));
  const std::string out = doc.select_node("//system-out").node().text().as_string();
  EXPECT_TRUE(out.starts_with("zone=E-Zone 3\n")) << out;
}

// Issue 21: the same check in two suites must stay two tests for consumers
// that key tests by classname + name.
TEST(JUnitWriterTest, SameCheckInTwoSuitesKeepsDistinctNames) {
  CheckRecord paper = SampleRecords()[0];
  CheckRecord smoke = paper;
  smoke.suite = "smoke";
  smoke.verdict = Verdict::kFailure;
  ScratchDir dir;
  const auto file = dir.path() / "junit.xml";
  RunInfo run = SampleRun();
  run.name = "paper";  // as a merged ctest run: the first journal's name
  WriteJUnit(run, {paper, smoke}, file);
  const JUnitLint lint = LintJUnit(file);
  EXPECT_EQ(lint.testcases, 2u);
  EXPECT_TRUE(lint.problems.empty()) << lint.problems.front();
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file(file.c_str()));
  EXPECT_STREQ(doc.child("testsuites").attribute("name").as_string(), "paper, smoke");
  EXPECT_TRUE(doc.select_node(
      "//testcase[@classname='smoke.GuestKernelCrashMustNotKillHost'"
      " and @name='qemu_kerncrash_divzero_1']/failure"));
  ExpectValid(file);
}

TEST(JUnitWriterTest, RepeatedCheckInOneSuiteIsNumbered) {
  const CheckRecord record = SampleRecords()[0];
  const std::string xml = RenderJUnit(SampleRun(), {record, record, record});
  EXPECT_NE(xml.find("name=\"qemu_kerncrash_divzero_1 #2\""), std::string::npos);
  EXPECT_NE(xml.find("name=\"qemu_kerncrash_divzero_1 #3\""), std::string::npos);
}

// Issue 21: a skipped check did not run; its probe's time stays visible but
// is not the case's time.
TEST(JUnitWriterTest, SkippedCaseTimeLeavesOutTheProbe) {
  CheckRecord record = SampleRecords()[3];
  record.seconds = 61.5;
  record.timing.probe = 61000;
  const std::string xml = RenderJUnit(SampleRun(), {record});
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(xml.c_str()));
  EXPECT_STREQ(doc.select_node("//testcase").node().attribute("time").as_string(), "0.500");
  EXPECT_NE(xml.find("timing.probe_ms=61000.0"), std::string::npos);
}

// Issue 21: attachments resolve from the JUnit file's directory wherever it
// lies; logs outside the report directory are copied beside the report.
TEST(JUnitWriterTest, AttachmentsAreRelativeAndResolve) {
  ScratchDir dir;
  const auto report_dir = dir.path() / "reports";
  const auto log = report_dir / "console" / "paper.C.qemu_1.log";
  const auto witness = report_dir / "console" / "paper.C.qemu_1.witness.log";
  WriteText(log, "victim console\n");
  WriteText(witness, "witness console\n");
  CheckRecord record = SampleRecords()[0];
  record.console_log_path = log.string();
  record.properties["witness_console_log"] = witness.string();
  const AttachmentOptions options{report_dir, {}};

  const auto in_dir = report_dir / "junit.xml";
  WriteJUnit(SampleRun(), {record}, in_dir, options);
  EXPECT_NE(ReadFile(in_dir).find("[[ATTACHMENT|console/paper.C.qemu_1.log]]"),
            std::string::npos);
  EXPECT_NE(ReadFile(in_dir).find("witness_console_log=console/paper.C.qemu_1.witness.log\n"),
            std::string::npos);

  const auto per_check = report_dir / "junit" / "paper.C.qemu_1.xml";  // as under ctest
  WriteJUnit(SampleRun(), {record}, per_check, options);
  EXPECT_NE(ReadFile(per_check).find("[[ATTACHMENT|../console/paper.C.qemu_1.log]]"),
            std::string::npos);

  const auto elsewhere = dir.path() / "ci" / "out" / "junit.xml";
  WriteJUnit(SampleRun(), {record}, elsewhere, options);
  EXPECT_EQ(ReadFile(elsewhere.parent_path() / "console" / "paper.C.qemu_1.log"),
            "victim console\n");

  for (const auto& file : {in_dir, per_check, elsewhere}) {
    const JUnitLint lint = LintJUnit(file);
    EXPECT_EQ(lint.attachments, 3u) << file;  // 2 ATTACHMENT lines + the property
    EXPECT_TRUE(lint.problems.empty()) << file << ": " << lint.problems.front();
  }

  // A base the user sets (the CI workspace): relative to it instead.
  const auto based = dir.path() / "ci" / "out" / "based.xml";
  WriteJUnit(SampleRun(), {record}, based, {report_dir, dir.path() / "ci"});
  EXPECT_NE(ReadFile(based).find("[[ATTACHMENT|out/console/paper.C.qemu_1.log]]"),
            std::string::npos);
}

// Issue 21: per-check files merged elsewhere keep attachments that resolve,
// and the same check of two suites stays two tests.
TEST(MergeJUnitTest, RebasesAttachmentsAndKeepsSameCheckOfTwoSuitesApart) {
  ScratchDir dir;
  const auto report_dir = dir.path() / "ctest";
  std::vector<std::filesystem::path> inputs;
  for (const char* suite : {"paper", "smoke"}) {
    CheckRecord record = SampleRecords()[0];
    record.suite = suite;
    record.console_log_path =
        (report_dir / "console" / (std::string(suite) + ".C.qemu_1.log")).string();
    WriteText(record.console_log_path, "console\n");
    RunInfo run = SampleRun();
    run.name = suite;
    inputs.push_back(report_dir / "junit" / (std::string(suite) + ".xml"));
    WriteJUnit(run, {record}, inputs.back(), {report_dir, {}});
  }
  const auto merged = report_dir / "junit.xml";
  EXPECT_EQ(MergeJUnit(inputs, merged), 2u);
  const JUnitLint lint = LintJUnit(merged);
  EXPECT_EQ(lint.testcases, 2u);
  EXPECT_EQ(lint.attachments, 2u);
  EXPECT_TRUE(lint.problems.empty()) << lint.problems.front();
  EXPECT_NE(ReadFile(merged).find("[[ATTACHMENT|console/smoke.C.qemu_1.log]]"),
            std::string::npos);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file(merged.c_str()));
  EXPECT_STREQ(doc.child("testsuites").attribute("name").as_string(), "paper, smoke");

  // Merging a file with itself: the repeats are numbered, never merged.
  const auto twice = report_dir / "twice.xml";
  MergeJUnit({inputs[0], inputs[0]}, twice);
  EXPECT_TRUE(LintJUnit(twice).problems.empty());
  EXPECT_NE(ReadFile(twice).find("qemu_kerncrash_divzero_1 #2"), std::string::npos);
  ExpectValid(merged);
}

// Issue 20, finding 3: control characters of an input (as character
// references, which pugixml decodes) were copied into the merged file.
TEST(MergeJUnitTest, ControlCharactersOfAnInputAreSanitised) {
  ScratchDir dir;
  const auto input = dir.path() / "in.xml";
  WriteText(input,
            "<testsuites name=\"a&#1;\"><testsuite name=\"s&#27;\" tests=\"1\">"
            "<testcase classname=\"c&#2;\" name=\"n&#13;\" time=\"1\">"
            "<failure message=\"m&#8;\">body&#0;&#11;&#13;x</failure>"
            "<system-out>out&#7;&#13;</system-out><!-- a comment --></testcase>"
            "</testsuite></testsuites>");
  const auto merged = dir.path() / "merged.xml";
  ASSERT_EQ(MergeJUnit({input}, merged), 1u);
  const std::string text = ReadFile(merged);
  ExpectNoControlBytes(text);
  EXPECT_EQ(text.find("a comment"), std::string::npos);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(text.c_str()));
  EXPECT_EQ(doc.child("testsuites").attribute("failures").as_int(), 1);
  ExpectValid(merged);
}

// Issue 20, finding 7: one recursion per nested <testsuite> overflowed the
// stack at 60,000 levels.
TEST(MergeJUnitTest, DeeplyNestedSuitesDoNotOverflowTheStack) {
  constexpr int kDepth = 100000;
  std::string text;
  text.reserve(kDepth * 48);
  for (int i = 0; i < kDepth; ++i) text += "<testsuite>";
  text += "<testcase classname=\"c\" name=\"deep\" time=\"1\"/>";
  for (int i = 0; i < kDepth; ++i) text += "</testsuite>";
  ScratchDir dir;
  const auto input = dir.path() / "deep.xml";
  WriteText(input, text);
  const auto merged = dir.path() / "merged.xml";
  ASSERT_EQ(MergeJUnit({input}, merged), 1u);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file(merged.c_str()));
  EXPECT_EQ(doc.child("testsuites").attribute("tests").as_int(), 1);
  EXPECT_EQ(std::distance(doc.child("testsuites").children("testsuite").begin(),
                          doc.child("testsuites").children("testsuite").end()),
            1);
}

// Issue 20, the junit_merge fuzz target: pugixml takes any byte >= 0x80 as
// part of a name, and MergeJUnit copied an attribute name of invalid UTF-8
// (`a\x91="1"`, fuzz/regressions/junit_merge) into the merged file, which
// was then not well-formed. Attributes and elements whose names are not XML
// names go; a valid non-ASCII name stays.
TEST(MergeJUnitTest, NamesThatAreNotXmlNamesAreDropped) {
  ScratchDir dir;
  const auto input = dir.path() / "in.xml";
  WriteText(input,
            "<testsuites><testsuite name=\"s\">"
            "<testcase classname=\"c\" name=\"n\" a\x91=\"1\" "
            "caf\xC3\xA9=\"2\" b\xC0\xAF=\"3\" time=\"1\">"
            "<failure message=\"m\">body</failure>"
            "<x\xED\xA0\x80><y>inside</y></x\xED\xA0\x80>"
            "<system-out>out</system-out></testcase>"
            "</testsuite></testsuites>");
  const auto merged = dir.path() / "merged.xml";
  ASSERT_EQ(MergeJUnit({input}, merged), 1u);
  const std::string text = ReadFile(merged);
  // Valid UTF-8 of XML 1.0 characters: sanitising changes nothing.
  EXPECT_EQ(SanitizeForXml(text), text);
  ExpectNoControlBytes(text);
  EXPECT_EQ(text.find("inside"), std::string::npos);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(text.c_str()));
  const pugi::xml_node testcase =
      Suite(doc, "s").child("testcase");
  ASSERT_TRUE(testcase);
  EXPECT_STREQ(testcase.attribute("name").value(), "n");
  EXPECT_STREQ(testcase.attribute("caf\xC3\xA9").value(), "2");
  EXPECT_EQ(std::distance(testcase.attributes_begin(), testcase.attributes_end()),
            4);  // classname, name, café, time
  EXPECT_TRUE(testcase.child("failure"));
  EXPECT_TRUE(testcase.child("system-out"));
  EXPECT_EQ(doc.child("testsuites").attribute("failures").as_int(), 1);
}

}  // namespace
}  // namespace ezone::report
