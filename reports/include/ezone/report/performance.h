// The performance side of the isolation/performance continuum, as `ezone
// bench --workload` measures it (core/src/bench.cc) and writes it to
// <report dir>/performance.json; the HTML report draws the paper's Figure 4
// from it and from the isolation its check records show.
#ifndef EZONE_REPORT_PERFORMANCE_H_
#define EZONE_REPORT_PERFORMANCE_H_

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ezone/report/check_record.h"

namespace ezone::report {

// The file name the reports look for beside the HTML page.
inline constexpr std::string_view kPerformanceFileName = "performance.json";

struct PerformanceMetric {
  std::string key, label, unit;
  bool higher_is_better = true;
};

// One VMM label's figures.
struct VmmPerformance {
  std::string label;   // as check records name the VMM (e.g. kvm-libvirt-tcg)
  std::string status;  // "ran", "skipped" or "error"
  std::string reason;  // skipped / error: why
  std::string version;
  // Speed relative to native per metric (1 = native, 0.1 = ten times
  // slower), their geometric mean, and 1 / that - 1.
  std::map<std::string, double> relative;
  std::optional<double> performance, overhead;
};

struct PerformanceData {
  std::filesystem::path file;
  std::string error;  // non-empty: the file is there but unusable (why)
  std::string created, host, workload_args;
  std::vector<PerformanceMetric> metrics;
  std::map<std::string, double> native;  // medians on the host, per metric
  std::vector<VmmPerformance> vmms;
};

// Reads a performance.json; nullopt when there is no such file, a
// PerformanceData with `error` set when it cannot be read or parsed.
std::optional<PerformanceData> ReadPerformance(const std::filesystem::path& file);

// Isolation as the continuum chart counts it, for one VMM label: of its
// checks that observed something, those that passed with effect none or
// limited are contained; failures and checks with effect varied or global
// are not. Skipped checks and errors without such an effect (the check could
// not be carried out) are not counted.
struct Isolation {
  std::size_t contained = 0, judged = 0;
  std::optional<double> Share() const {
    if (judged == 0) return std::nullopt;
    return static_cast<double>(contained) / static_cast<double>(judged);
  }
};
std::map<std::string, Isolation> IsolationByVmm(const std::vector<CheckRecord>& records);

}  // namespace ezone::report

#endif  // EZONE_REPORT_PERFORMANCE_H_
