// performance.json (reports/src/performance.cc) as `ezone report` reads it
// beside a report, then the HTML chart drawn from it (issue 20 #6: a figure
// near 1e308 cast an infinite logarithm to int).
#include <optional>

#include "ezone/report/html_report.h"
#include "ezone/report/performance.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ezone::fuzz::MemFile file(data, size);
  std::optional<ezone::report::PerformanceData> perf = ezone::report::ReadPerformance(file.path());
  ezone::fuzz::Require(perf.has_value(), "an existing file read as absent");
  // Checks of every VMM the file names, so the chart has points to draw.
  std::vector<ezone::report::CheckRecord> records;
  for (const auto& vmm : perf->vmms) {
    for (auto verdict : {ezone::report::Verdict::kPass, ezone::report::Verdict::kFailure}) {
      ezone::report::CheckRecord r;
      r.suite = "fuzz";
      r.classname = "C";
      r.name = vmm.label + (verdict == ezone::report::Verdict::kPass ? "_1" : "_2");
      r.vmm = vmm.label;
      r.verdict = verdict;
      r.effect = verdict == ezone::report::Verdict::kPass ? "limited" : "global";
      records.push_back(r);
    }
  }
  ezone::report::RunInfo run;
  run.name = "fuzz";
  (void)ezone::report::RenderHtml(run, records, {}, &*perf);
  return 0;
}
