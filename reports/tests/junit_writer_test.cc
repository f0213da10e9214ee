#include "ezone/report/junit_writer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <pugixml.hpp>
#include <random>
#include <string>

#include "ezone/report/sanitize.h"
#include "test_util.h"

namespace ezone::report {
namespace {

using testing::ReadFile;
using testing::SampleRecords;
using testing::SampleRun;
using testing::SchemaMissingReason;
using testing::ScratchDir;
using testing::ValidateWithXmllint;

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
               "GuestKernelCrashMustNotKillHost");
  EXPECT_STREQ(failed.attribute("time").as_string(), "31.250");
  const std::string failure_text = failed.child("failure").text().as_string();
  EXPECT_STREQ(failed.child("failure").attribute("message").as_string(),
               "host stopped answering after the guest oops");
  EXPECT_NE(failure_text.find("host: BUG: unable to handle page fault"),
            std::string::npos);
  EXPECT_NE(failure_text.find("heartbeat lost"), std::string::npos);

  const std::string out = failed.child("system-out").text().as_string();
  EXPECT_NE(out.find("divide error: 0000"), std::string::npos);
  EXPECT_NE(
      out.find("[[ATTACHMENT|/var/tmp/ezone/qemu_kerncrash_divzero_1.log]]"),
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
    record.evidence.push_back(noise.substr(800, 80));
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

}  // namespace
}  // namespace ezone::report
