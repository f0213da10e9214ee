#include "ezone/report/performance.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace ezone::report {
namespace {

using Json = nlohmann::json;

std::string Text(const Json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::optional<double> Number(const Json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

std::optional<PerformanceData> ReadPerformance(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return std::nullopt;
  PerformanceData data;
  data.file = file;
  std::ifstream in(file);
  if (!in) {
    data.error = "cannot open " + file.string();
    return data;
  }
  std::stringstream text;
  text << in.rdbuf();
  Json j;
  try {
    j = Json::parse(text.str());
  } catch (const std::exception& e) {
    data.error = file.string() + " is not valid JSON: " + e.what();
    return data;
  }
  if (!j.is_object() || Text(j, "kind") != "ezone-performance") {
    data.error = file.string() + " is not an ezone performance file (\"kind\": \"ezone-performance\")";
    return data;
  }
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int>() != 1) {
    data.error = file.string() + ": unknown version (this ezone reads version 1)";
    return data;
  }
  data.created = Text(j, "created");
  data.host = Text(j, "host");
  if (j.contains("workload") && j["workload"].is_object()) {
    data.workload_args = Text(j["workload"], "args");
  }
  if (j.contains("metrics") && j["metrics"].is_array()) {
    for (const Json& m : j["metrics"]) {
      if (!m.is_object()) continue;
      PerformanceMetric metric{Text(m, "key"), Text(m, "label"), Text(m, "unit"), true};
      if (m.contains("higher_is_better") && m["higher_is_better"].is_boolean()) {
        metric.higher_is_better = m["higher_is_better"].get<bool>();
      }
      if (!metric.key.empty()) data.metrics.push_back(metric);
    }
  }
  if (j.contains("native") && j["native"].is_object() && j["native"].contains("median") &&
      j["native"]["median"].is_object()) {
    for (const auto& [key, value] : j["native"]["median"].items()) {
      if (value.is_number()) data.native[key] = value.get<double>();
    }
  }
  if (j.contains("vmms") && j["vmms"].is_array()) {
    for (const Json& v : j["vmms"]) {
      if (!v.is_object()) continue;
      VmmPerformance vmm;
      vmm.label = Text(v, "label");
      vmm.status = Text(v, "status");
      vmm.reason = Text(v, "reason");
      vmm.version = Text(v, "version");
      if (v.contains("relative") && v["relative"].is_object()) {
        for (const auto& [key, value] : v["relative"].items()) {
          if (value.is_number() && std::isfinite(value.get<double>())) {
            vmm.relative[key] = value.get<double>();
          }
        }
      }
      vmm.performance = Number(v, "performance");
      vmm.overhead = Number(v, "overhead");
      if (vmm.performance && *vmm.performance <= 0) vmm.performance.reset();
      if (!vmm.label.empty()) data.vmms.push_back(std::move(vmm));
    }
  }
  return data;
}

std::map<std::string, Isolation> IsolationByVmm(const std::vector<CheckRecord>& records) {
  std::map<std::string, Isolation> out;
  for (const CheckRecord& r : records) {
    if (r.verdict == Verdict::kSkipped) continue;
    const bool escaped = r.effect == "varied" || r.effect == "global";
    const bool held = r.verdict == Verdict::kPass && (r.effect == "none" || r.effect == "limited");
    if (!escaped && !held && r.verdict != Verdict::kFailure) continue;  // not carried out
    Isolation& i = out[r.vmm.empty() ? "(no VMM)" : r.vmm];
    ++i.judged;
    if (held && !escaped) ++i.contained;
  }
  return out;
}

}  // namespace ezone::report
