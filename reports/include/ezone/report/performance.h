// The performance side of the isolation/performance continuum, as `ezone
// bench --workload` measures it (core/src/bench.cc) and writes it, through
// WritePerformance, to <report dir>/performance.json; the HTML report draws the paper's Figure 4
// from it and from the isolation its check records show.
#ifndef EZONE_REPORT_PERFORMANCE_H_
#define EZONE_REPORT_PERFORMANCE_H_

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ezone/report/check_record.h"

namespace ezone::report {

// The file name the reports look for beside the HTML page.
inline constexpr std::string_view kPerformanceFileName = "performance.json";

struct PerformanceMetric {
  std::string key, label, unit;
  bool higher_is_better = true;
  friend bool operator==(const PerformanceMetric&, const PerformanceMetric&) = default;
};

// One side's figures: a VMM label's, or the host's own (PerformanceData::
// native_run: label "native", no vmm, ready_ms or relative figures).
struct VmmPerformance {
  std::string label;        // as check records name the VMM (e.g. kvm-libvirt-tcg)
  std::string vmm;          // the VMM plugin's name (e.g. kvm)
  std::string vmm_options;  // the suite's vmm-options for it
  std::string status;       // "ran", "skipped" or "error"
  std::string reason;       // skipped / error: why
  std::string version;
  // The rest only when status is "ran".
  std::optional<double> ready_ms;  // VMM start -> READY (VMMs only)
  // The medians per metric key, and each run's result line and host wall
  // time (command sent -> reply: next to the line's own wall_ms, it shows
  // whether the guest's clock kept time).
  std::map<std::string, double> median;
  std::vector<std::string> result_lines;
  std::vector<double> host_round_trip_ms;
  // Speed relative to native per metric (1 = native, 0.1 = ten times
  // slower), their geometric mean, and 1 / that - 1. Written when
  // `relative` is not empty (native ran).
  std::map<std::string, double> relative;
  std::optional<double> performance, overhead;
  friend bool operator==(const VmmPerformance&, const VmmPerformance&) = default;
};

// What the figures mean, as the file explains them ("definitions").
std::vector<std::pair<std::string, std::string>> StandardPerformanceDefinitions();

struct PerformanceData {
  std::filesystem::path file;  // ReadPerformance: where from
  std::string error;  // non-empty: the file is there but unusable (why)
  std::string created, host;  // ISO 8601 UTC; the host's name
  unsigned host_cpus = 0;
  std::string suite_file, guest_image_sha256;
  // The workload: the native binary, the guest's, its arguments ("-t 300
  // -m 16"), runs per side, ms per test, MiB per memcpy buffer.
  std::string workload_program, workload_guest_program = "/bin/ezone-workload", workload_args;
  int workload_runs = 0, workload_test_ms = 0, workload_buffer_mib = 0;
  std::vector<PerformanceMetric> metrics;
  std::vector<std::pair<std::string, std::string>> definitions = StandardPerformanceDefinitions();
  // The workload on the host itself (its medians: native_run.median).
  VmmPerformance native_run;
  std::vector<VmmPerformance> vmms;
};

// Reads a performance.json; nullopt when there is no such file, a
// PerformanceData with `error` set when it cannot be read or parsed.
std::optional<PerformanceData> ReadPerformance(const std::filesystem::path& file);

// Writes `data` as performance.json version 1 (what ReadPerformance reads),
// atomically (temporary file + rename; missing parent directories are
// made). Figures are rounded as the file keeps them: medians to 2 decimals,
// relative speeds and performance to 4, overhead to 3, times to 0.1 ms;
// a non-finite figure or an empty optional is written as null. The native
// medians are native_run.median (`native` is ignored). `file` and `error`
// are not written. Throws std::system_error / std::filesystem::
// filesystem_error on I/O errors.
void WritePerformance(const PerformanceData& data, const std::filesystem::path& path);

// The JSON text WritePerformance writes (for tests and tools).
std::string RenderPerformance(const PerformanceData& data);

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
