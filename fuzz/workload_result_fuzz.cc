// The workload benchmark's result line (core/src/workload_result.cc), which
// comes from a guest: figures are positive and finite, or there is an error.
#include <cmath>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "workload_result.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto figures = ezone::ParseWorkloadResult(text, &error);
  ezone::fuzz::Require(figures.empty() != error.empty(), "figures and an error, or neither");
  for (const auto& [key, value] : figures) {
    ezone::fuzz::Require(std::isfinite(value), "a figure that is not finite", key);
  }
  for (const ezone::WorkloadMetric& m : ezone::kWorkloadMetrics) {
    if (!figures.empty()) ezone::fuzz::Require(figures.at(m.key) > 0, "a metric not positive");
  }
  ezone::fuzz::Require(error.size() < 400, "an error quoting too much");
  return 0;
}
