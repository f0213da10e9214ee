#include "ezone/report/html_report.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "ezone/report/journal.h"
#include "ezone/report/performance.h"
#include "test_util.h"

namespace ezone::report {
namespace {

using testing::Ev;
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
  records[0].evidence.push_back(Ev("console: <b>bold</b> & co"));
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
      html,
      "<details id=\"check-1\" class=\"check verdict-border-failure\" open>"));
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

TEST(HtmlReportTest, DetailsShowTimelineHostReadingsAndVersions) {
  std::vector<CheckRecord> records = SampleRecords();
  records[0].properties["guest_kernel_release"] = "6.1.0-21-cloud-amd64";
  records[0].properties["guest_image_sha256"] = std::string(64, 'a');
  records[0].properties["vmm_version"] = "QEMU 7.2.9";
  records[0].heartbeats_ms["victim"] = {1020, 1520, 2020};
  records[0].heartbeats_ms["witness"] = {500, 1000, 1500, 2000};
  records[0].evidence.push_back(Ev("host kernel: BUG: unable to handle"));
  const std::string html = RenderHtml(SampleRun(), records);
  // Timeline: the phases TimingMs gives, as an inline SVG.
  EXPECT_TRUE(Contains(html, "<svg class=\"timeline\""));
  EXPECT_TRUE(Contains(html, "VMM start 812 ms"));
  EXPECT_TRUE(Contains(html, "guest boot to READY 208 ms"));
  EXPECT_TRUE(Contains(html, "fault to detection 35 ms"));
  EXPECT_TRUE(Contains(html, "teardown 120 ms"));
  EXPECT_TRUE(Contains(html, "victim heartbeat"));
  EXPECT_TRUE(Contains(html, "witness heartbeat"));
  // The witness's beats stop at 2000 ms of a 2400 ms check: no gap marked;
  // the victim's last beat at 2020 is followed by 380 ms: none either.
  EXPECT_FALSE(Contains(html, "no heartbeat for"));
  // Host oracle readings apart from the rest, the bad ones marked.
  EXPECT_TRUE(Contains(html, "<h4>Host oracle</h4>"));
  EXPECT_TRUE(Contains(
      html, "<li class=\"bad\">host kernel: BUG: unable to handle</li>"));
  EXPECT_TRUE(
      Contains(html, "<li class=\"good\">host: no new kernel oops</li>"));
  // Versions, the image hash shortened (the full one in the tooltip).
  EXPECT_TRUE(Contains(html, "<dt>guest kernel</dt><dd>6.1.0-21"));
  EXPECT_TRUE(Contains(html, "<dt>VMM</dt><dd>QEMU 7.2.9</dd>"));
  EXPECT_TRUE(Contains(html, "title=\"" + std::string(64, 'a') + "\""));
  // A check that never ran has no timeline.
  EXPECT_FALSE(Contains(RenderHtml(SampleRun(), {SampleRecords()[3]}), "<svg"));
}

TEST(HtmlReportTest, LostHeartbeatIsMarked) {
  std::vector<CheckRecord> records = {SampleRecords()[1]};
  records[0].timing.total = 7000;
  records[0].heartbeats_ms["witness"] = {500, 1000, 1500, 2000, 4600};
  const std::string html = RenderHtml(SampleRun(), records);
  EXPECT_TRUE(Contains(html, "no heartbeat for 2.60 s"));
  EXPECT_TRUE(Contains(html, "no heartbeat for the last 2.40 s"));
}

TEST(HtmlReportTest, InterruptedChecksAreTagged) {
  std::vector<CheckRecord> records = SampleRecords();
  records[1].properties["journal.interrupted"] = "observing";
  records[2].properties["journal.interrupted"] = "booting";
  const std::string html = RenderHtml(SampleRun(), records);
  EXPECT_TRUE(Contains(html, "<span class=\"tag bad\">host rebooted</span>"));
  EXPECT_TRUE(Contains(html, "<span class=\"tag\">interrupted</span>"));
}

TEST(HtmlReportTest, EmptyRunRenders) {
  const std::string html = RenderHtml(SampleRun(), {});
  EXPECT_TRUE(Contains(html, "No checks were recorded"));
}

// ---------------------------------------------------------------------------
// The isolation/performance continuum (Figure 4).

// What `ezone bench --workload` writes (core/src/bench.cc), trimmed.
constexpr std::string_view kPerformanceJson = R"({
  "kind": "ezone-performance", "version": 1, "created": "2026-11-24T20:00:00Z",
  "host": "node17", "workload": {"args": "-t 300 -m 16"},
  "metrics": [
    {"key": "int_mops", "label": "integer", "unit": "Mops/s", "higher_is_better": true},
    {"key": "syscall_ns", "label": "getppid", "unit": "ns/call", "higher_is_better": false}],
  "native": {"label": "native", "status": "ran",
             "median": {"int_mops": 1900.5, "syscall_ns": 1000}},
  "vmms": [
    {"label": "qemu", "status": "ran", "relative": {"int_mops": 0.5, "syscall_ns": 0.2},
     "performance": 0.3162, "overhead": 2.162},
    {"label": "kvm", "status": "skipped", "reason": "no /dev/kvm"},
    {"label": "palacios", "status": "ran", "relative": {"int_mops": 0.9, "syscall_ns": 0.9},
     "performance": 0.9, "overhead": 0.111},
    {"label": "<b>evil</b>", "status": "ran", "performance": 0.5, "overhead": 1}]
})";

void WriteText(const std::filesystem::path& file, std::string_view text) {
  std::ofstream out(file);
  out << text;
}

TEST(ContinuumTest, IsolationCountsContainedFaultsOfChecksCarriedOut) {
  const auto iso = IsolationByVmm(SampleRecords());
  // qemu: pass/limited and pass/none contained, pass/varied (performance
  // policy) not.
  ASSERT_EQ(iso.count("qemu"), 1u);
  EXPECT_EQ(iso.at("qemu").contained, 2u);
  EXPECT_EQ(iso.at("qemu").judged, 3u);
  // palacios: the failure counts (global), the skip does not.
  EXPECT_EQ(iso.at("palacios").contained, 0u);
  EXPECT_EQ(iso.at("palacios").judged, 1u);
  EXPECT_DOUBLE_EQ(*iso.at("palacios").Share(), 0.0);
  // kvm: an error that observed nothing is not a result about isolation.
  EXPECT_EQ(iso.count("kvm"), 0u);
}

TEST(ContinuumTest, ChartHasOnePointPerVmmWithBothSides) {
  ScratchDir dir;
  WriteText(dir.path() / "performance.json", kPerformanceJson);
  const auto perf = ReadPerformance(dir.path() / "performance.json");
  ASSERT_TRUE(perf);
  ASSERT_EQ(perf->error, "");
  ASSERT_EQ(perf->vmms.size(), 4u);
  EXPECT_DOUBLE_EQ(*perf->vmms[0].performance, 0.3162);
  std::vector<CheckRecord> records = SampleRecords();
  records[4].vmm = "<b>evil</b>";  // the varied one: 0/1 for it, qemu 2/2
  const std::string html = RenderHtml(SampleRun(), records, {}, &*perf);
  EXPECT_TRUE(Contains(html, "<svg class=\"continuum\""));
  EXPECT_TRUE(Contains(html, "data-vmm=\"qemu\""));
  EXPECT_TRUE(Contains(html, "data-vmm=\"palacios\""));
  EXPECT_TRUE(Contains(html, "data-vmm=\"&lt;b&gt;evil&lt;/b&gt;\""));
  EXPECT_FALSE(Contains(html, "<b>evil</b>"));
  EXPECT_TRUE(Contains(html, "qemu <tspan>0.32×, 100%</tspan>"));
  EXPECT_TRUE(Contains(html, "palacios: 0.90× native speed (overhead +11%), 0 of 1 checks"));
  // kvm: skipped in the workload and no check carried out: listed, not drawn.
  EXPECT_FALSE(Contains(html, "data-vmm=\"kvm\""));
  EXPECT_TRUE(Contains(html, "<li><b>kvm</b>: workload skipped: no /dev/kvm; no check of it"));
  // The numbers behind it, and the definitions in the caption.
  EXPECT_TRUE(Contains(html, "<td class=\"num\">100% (2/2)</td>"));
  EXPECT_TRUE(Contains(html, "<td class=\"num\">+216%</td>"));
  EXPECT_TRUE(Contains(html, "integer 1900 Mops/s, getppid 1000 ns/call"));
  EXPECT_TRUE(Contains(html, "passed with effect <i>none</i> or <i>limited</i>"));
  EXPECT_TRUE(Contains(html, "measured 2026-11-24T20:00:00Z on node17"));
  EXPECT_FALSE(Contains(html, "<script"));
}

TEST(ContinuumTest, WithoutFiguresTheSectionSaysSoAndDrawsNothing) {
  const std::string html = RenderHtml(SampleRun(), SampleRecords());
  EXPECT_TRUE(Contains(html, "<h2 id=\"continuum\">Isolation vs performance</h2>"));
  EXPECT_TRUE(Contains(html, "No performance figures for this run"));
  EXPECT_FALSE(Contains(html, "<svg class=\"continuum\""));
}

TEST(ContinuumTest, WriteHtmlReadsThePerformanceFileBesideThePage) {
  ScratchDir dir;
  WriteHtml(SampleRun(), SampleRecords(), dir.path() / "report.html");
  EXPECT_TRUE(Contains(ReadFile(dir.path() / "report.html"), "No performance figures"));
  WriteText(dir.path() / "performance.json", kPerformanceJson);
  WriteHtml(SampleRun(), SampleRecords(), dir.path() / "report.html");
  EXPECT_TRUE(Contains(ReadFile(dir.path() / "report.html"), "<svg class=\"continuum\""));
  // A broken file is reported as such, not drawn.
  WriteText(dir.path() / "performance.json", "{\"kind\": \"ezone-performance\", ");
  WriteHtml(SampleRun(), SampleRecords(), dir.path() / "report.html");
  const std::string html = ReadFile(dir.path() / "report.html");
  EXPECT_TRUE(Contains(html, "could not be read")) << html;
  EXPECT_FALSE(Contains(html, "<svg class=\"continuum\""));
  WriteText(dir.path() / "performance.json", "{\"kind\": \"something else\"}");
  EXPECT_TRUE(Contains(ReadPerformance(dir.path() / "performance.json")->error,
                       "not an ezone performance file"));
  EXPECT_FALSE(ReadPerformance(dir.path() / "absent.json"));
}

TEST(ContinuumTest, RebuildFromJournalTakesTheNamedPerformanceFile) {
  ScratchDir dir;
  WriteText(dir.path() / "perf.json", kPerformanceJson);
  JournalContents contents;
  contents.run = SampleRun();
  contents.records = SampleRecords();
  RebuildReports(contents, dir.path() / "junit.xml", dir.path() / "out" / "report.html", {},
                 dir.path() / "perf.json");
  EXPECT_TRUE(Contains(ReadFile(dir.path() / "out" / "report.html"), "data-vmm=\"qemu\""));
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

// Issue 20, finding 6: a performance figure near 1e308 made the axis
// infinite and cast it to int.
TEST(ContinuumTest, FigureOutOfRangeIsListedNotDrawn) {
  ScratchDir dir;
  WriteText(dir.path() / "performance.json",
            R"({"kind": "ezone-performance", "version": 1,
                "vmms": [{"label": "qemu", "status": "ran", "performance": 1.7e308},
                         {"label": "palacios", "status": "ran", "performance": 1e-300}]})");
  const auto perf = ReadPerformance(dir.path() / "performance.json");
  ASSERT_TRUE(perf);
  const std::string html = RenderHtml(SampleRun(), SampleRecords(), {}, &*perf);
  EXPECT_FALSE(Contains(html, "data-vmm=\"qemu\""));
  EXPECT_TRUE(Contains(html, "its performance figure 1.7e+308 is outside what the chart draws"));
  EXPECT_TRUE(Contains(html, "its performance figure 1e-300 is outside"));
}

// Issue 21: the page links the files the JUnit file attaches, relative to
// the page, copied beside it when they lie outside the report directory.
TEST(HtmlReportTest, WriteHtmlLinksTheSameFilesAsTheJUnitFile) {
  ScratchDir dir;
  const auto report_dir = dir.path() / "run";
  const auto log = report_dir / "console" / "paper.C.n.log";
  const auto witness = report_dir / "console" / "paper.C.n.witness.log";
  std::filesystem::create_directories(log.parent_path());
  WriteText(log, "victim\n");
  WriteText(witness, "witness\n");
  std::vector<CheckRecord> records = SampleRecords();
  records[0].console_log_path = log.string();
  records[0].properties["witness_console_log"] = witness.string();
  WriteHtml(SampleRun(), records, report_dir / "report.html", {}, report_dir);
  const std::string html = ReadFile(report_dir / "report.html");
  EXPECT_TRUE(Contains(html, "href=\"console/paper.C.n.log\"")) << html;
  EXPECT_TRUE(Contains(html, "Console log of the witness: <a href=\"console/paper.C.n.witness.log\""));
  WriteHtml(SampleRun(), records, dir.path() / "elsewhere" / "report.html", {}, report_dir);
  EXPECT_EQ(ReadFile(dir.path() / "elsewhere" / "console" / "paper.C.n.witness.log"), "witness\n");
}

// Two checks that hit the same bug are grouped under its title; the
// summary lists the distinct titles; the nested host's typed readings land
// under "Host oracle".
TEST(HtmlReportTest, ChecksAreGroupedByCrashTitle) {
  std::vector<CheckRecord> records = SampleRecords();
  records[0].crash_title = "divide error in kerncrash_divide";
  records[1].crash_title = "divide error in kerncrash_divide";
  records[2].crash_title = "BUG: soft lockup in spin";
  records[2].evidence.push_back(
      {EvidenceSource::kNestedHost, Severity::kBad, "nested host: kernel taint 0 -> 1"});
  const std::string html = RenderHtml(SampleRun(), records);
  const std::size_t section = html.find("<h2>Crashes by title</h2>");
  ASSERT_NE(section, std::string::npos);
  const std::size_t row = html.find("<code>divide error in kerncrash_divide</code></td><td>2</td>");
  EXPECT_NE(row, std::string::npos) << "two checks, one title";
  EXPECT_LT(section, row);
  EXPECT_NE(html.find("<code>BUG: soft lockup in spin</code></td><td>1</td>"), std::string::npos);
  const std::size_t host = html.find("<h4>Host oracle</h4>", html.find("id=\"check-2\""));
  ASSERT_NE(host, std::string::npos);
  EXPECT_NE(html.find("<li class=\"bad\">nested host: kernel taint 0 -&gt; 1</li>", host),
            std::string::npos);

  const std::string md = RenderMarkdownSummary(SampleRun(), records);
  EXPECT_NE(md.find("### Crashes by title"), std::string::npos);
  EXPECT_NE(md.find(": 2 checks"), std::string::npos);
  EXPECT_NE(md.find(": 1 check\n"), std::string::npos);
}

}  // namespace
}  // namespace ezone::report
