#include "ezone/report/html_report.h"

#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace ezone::report {
namespace {

using testing::ReadFile;
using testing::SampleRecords;
using testing::SampleRun;
using testing::ScratchDir;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(HtmlReportTest, MatrixHasCellClassForEachEffect) {
  const std::string html = RenderHtml(SampleRun(), SampleRecords());
  // Sample: qemu kerncrash limited+varied... see test_util.cc.
  for (const char* cls :
       {"cell effect-none", "cell effect-limited", "cell effect-varied",
        "cell effect-global", "cell cell-skipped", "cell cell-error"}) {
    EXPECT_TRUE(Contains(html, cls)) << cls;
  }
  EXPECT_TRUE(Contains(html, "violated"));
  EXPECT_TRUE(Contains(html, "0/1 pass"));
  EXPECT_TRUE(Contains(html, "<table class=\"matrix\">"));
  EXPECT_TRUE(Contains(html, "6.1.0-21-cloud-amd64"));  // run properties
  EXPECT_TRUE(Contains(html, "node17"));
}

TEST(HtmlReportTest, EscapesConsoleText) {
  std::vector<CheckRecord> records = SampleRecords();
  records[0].console_excerpt =
      "<script>alert(1)</script>\x1b[31mred\x1b[0m\x07\xff";
  records[0].message = "<img src=x onerror=alert(1)>";
  records[0].evidence.push_back("console: <b>bold</b> & co");
  records[0].properties["weird\"key"] = "</td><script>";
  const std::string html = RenderHtml(SampleRun(), records);
  EXPECT_FALSE(Contains(html, "<script")) << "unescaped script tag";
  EXPECT_FALSE(Contains(html, "<img"));
  EXPECT_TRUE(
      Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;red\u2407\uFFFD"));
  EXPECT_TRUE(Contains(html, "&lt;b&gt;bold&lt;/b&gt; &amp; co"));
  EXPECT_FALSE(Contains(html, "\x1b"));
}

TEST(HtmlReportTest, IsSelfContained) {
  ScratchDir dir;
  const auto file = dir.path() / "report.html";
  WriteHtml(SampleRun(), SampleRecords(), file);
  const std::string html = ReadFile(file);
  EXPECT_FALSE(Contains(html, "http://"));
  EXPECT_FALSE(Contains(html, "https://"));
  EXPECT_FALSE(Contains(html, "<link"));
  EXPECT_FALSE(Contains(html, "<script"));
  EXPECT_TRUE(Contains(html, "<style>"));
  EXPECT_TRUE(Contains(
      html, "<details id=\"check-1\" class=\"check verdict-border-failure\" open>"));
}

TEST(HtmlReportTest, ConsoleLogLinkIsRelativeAndEncoded) {
  std::vector<CheckRecord> records = SampleRecords();
  ScratchDir dir;
  records[0].console_log_path = (dir.path() / "logs" / "a b:c.log").string();
  records[1].console_log_path = "javascript:alert(1)";
  const std::string html = RenderHtml(SampleRun(), records, dir.path());
  EXPECT_TRUE(Contains(html, "href=\"logs/a%20b%3Ac.log\"")) << html;
  EXPECT_TRUE(Contains(html, "href=\"javascript%3Aalert%281%29\""));
}

TEST(HtmlReportTest, EmptyRunRenders) {
  const std::string html = RenderHtml(SampleRun(), {});
  EXPECT_TRUE(Contains(html, "No checks were recorded"));
}

TEST(MarkdownSummaryTest, ShowsTotalsMatrixAndProblems) {
  const std::string md = RenderMarkdownSummary(SampleRun(), SampleRecords());
  EXPECT_TRUE(Contains(md, "**6 checks**"));
  EXPECT_TRUE(Contains(md, "| **qemu** |"));
  EXPECT_TRUE(Contains(md, "🟥 global 0/1 pass ❌ 1 violated"));
  EXPECT_TRUE(Contains(md, "host stopped answering"));
  EXPECT_TRUE(Contains(md, "guest did not print READY"));
}

TEST(MarkdownSummaryTest, EscapesTableBreakers) {
  std::vector<CheckRecord> records = SampleRecords();
  records[0].vmm = "q|emu<x>";
  const std::string md = RenderMarkdownSummary(SampleRun(), records);
  EXPECT_TRUE(Contains(md, "q\\|emu&lt;x&gt;"));
}

}  // namespace
}  // namespace ezone::report
