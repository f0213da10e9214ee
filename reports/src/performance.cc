#include "ezone/report/performance.h"

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "atomic_file.h"

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

// An integer that fits an int; nullopt for anything else (a float, 1e300).
std::optional<int> Int(const Json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number_unsigned()) {
    const auto v = it->get<std::uint64_t>();
    if (v <= static_cast<std::uint64_t>(std::numeric_limits<int>::max())) return static_cast<int>(v);
  } else if (it->is_number_integer()) {
    const auto v = it->get<std::int64_t>();
    if (v >= std::numeric_limits<int>::min() && v <= std::numeric_limits<int>::max()) {
      return static_cast<int>(v);
    }
  }
  return std::nullopt;
}

// {"key": number, ...} -> the finite numbers.
std::map<std::string, double> Numbers(const Json& j, const char* key) {
  std::map<std::string, double> out;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return out;
  for (const auto& [k, value] : it->items()) {
    if (value.is_number() && std::isfinite(value.get<double>())) out[k] = value.get<double>();
  }
  return out;
}

VmmPerformance ReadSide(const Json& v) {
  VmmPerformance side;
  side.label = Text(v, "label");
  side.vmm = Text(v, "vmm");
  side.vmm_options = Text(v, "vmm_options");
  side.status = Text(v, "status");
  side.reason = Text(v, "reason");
  side.version = Text(v, "version");
  side.ready_ms = Number(v, "ready_ms");
  side.median = Numbers(v, "median");
  if (const auto it = v.find("result_lines"); it != v.end() && it->is_array()) {
    for (const Json& line : *it) {
      if (line.is_string()) side.result_lines.push_back(line.get<std::string>());
    }
  }
  if (const auto it = v.find("host_round_trip_ms"); it != v.end() && it->is_array()) {
    for (const Json& ms : *it) {
      if (ms.is_number() && std::isfinite(ms.get<double>())) {
        side.host_round_trip_ms.push_back(ms.get<double>());
      }
    }
  }
  side.relative = Numbers(v, "relative");
  side.performance = Number(v, "performance");
  side.overhead = Number(v, "overhead");
  if (side.performance && *side.performance <= 0) side.performance.reset();
  return side;
}

// The writer's side: ordered as the file has always been written.
using OrderedJson = nlohmann::ordered_json;

OrderedJson Rounded(double v, int digits) {
  if (!std::isfinite(v)) return nullptr;
  const double f = std::pow(10.0, digits);
  const double r = std::round(v * f) / f;
  return std::isfinite(r) ? OrderedJson(r) : OrderedJson(v);
}

OrderedJson Rounded(const std::optional<double>& v, int digits) {
  return v ? Rounded(*v, digits) : OrderedJson(nullptr);
}

// A per-metric map in the order of the metrics, then any other keys.
OrderedJson PerMetric(const std::map<std::string, double>& values,
                      const std::vector<PerformanceMetric>& metrics, int digits) {
  OrderedJson out = OrderedJson::object();
  for (const PerformanceMetric& m : metrics) {
    if (const auto it = values.find(m.key); it != values.end()) {
      out[m.key] = Rounded(it->second, digits);
    }
  }
  for (const auto& [key, value] : values) {
    if (!out.contains(key)) out[key] = Rounded(value, digits);
  }
  return out;
}

OrderedJson WriteSide(const VmmPerformance& side, bool is_native,
                      const std::vector<PerformanceMetric>& metrics) {
  OrderedJson j;
  j["label"] = side.label;
  if (!is_native) {
    j["vmm"] = side.vmm;
    j["vmm_options"] = side.vmm_options;
  }
  j["status"] = side.status;
  if (!side.reason.empty()) j["reason"] = side.reason;
  if (!side.version.empty()) j["version"] = side.version;
  if (side.status != "ran") return j;
  if (!is_native) j["ready_ms"] = Rounded(side.ready_ms, 1);
  j["median"] = PerMetric(side.median, metrics, 2);
  j["result_lines"] = side.result_lines;
  OrderedJson trips = OrderedJson::array();
  for (double t : side.host_round_trip_ms) trips.push_back(Rounded(t, 1));
  j["host_round_trip_ms"] = trips;
  if (!side.relative.empty()) {
    j["relative"] = PerMetric(side.relative, metrics, 4);
    j["performance"] = Rounded(side.performance, 4);
    j["overhead"] = Rounded(side.overhead, 3);
  }
  return j;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> StandardPerformanceDefinitions() {
  return {{"relative",
           "speed relative to native per metric: vm/native for rates, native/vm for ns per "
           "call; 1 = native, 0.1 = ten times slower"},
          {"performance", "geometric mean of the relative speeds over the metrics"},
          {"overhead", "1 / performance - 1 (0 = native, 9 = ten times slower)"}};
}

std::string RenderPerformance(const PerformanceData& data) {
  OrderedJson j;
  j["kind"] = "ezone-performance";
  j["version"] = 1;
  j["created"] = data.created;
  j["host"] = data.host;
  j["host_cpus"] = data.host_cpus;
  j["suite_file"] = data.suite_file;
  j["workload"] = {{"program", data.workload_program},
                   {"guest_program", data.workload_guest_program},
                   {"args", data.workload_args},
                   {"runs", data.workload_runs},
                   {"test_ms", data.workload_test_ms},
                   {"buffer_mib", data.workload_buffer_mib}};
  if (!data.guest_image_sha256.empty()) j["guest_image_sha256"] = data.guest_image_sha256;
  OrderedJson metrics = OrderedJson::array();
  for (const PerformanceMetric& m : data.metrics) {
    metrics.push_back({{"key", m.key}, {"label", m.label}, {"unit", m.unit},
                       {"higher_is_better", m.higher_is_better}});
  }
  j["metrics"] = metrics;
  OrderedJson definitions = OrderedJson::object();
  for (const auto& [key, text] : data.definitions) definitions[key] = text;
  j["definitions"] = definitions;
  j["native"] = WriteSide(data.native_run, /*is_native=*/true, data.metrics);
  OrderedJson vmms = OrderedJson::array();
  for (const VmmPerformance& side : data.vmms) {
    vmms.push_back(WriteSide(side, /*is_native=*/false, data.metrics));
  }
  j["vmms"] = vmms;
  // Invalid UTF-8 (a console's stray byte in a reason) becomes U+FFFD
  // rather than an exception.
  return j.dump(2, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
}

void WritePerformance(const PerformanceData& data, const std::filesystem::path& path) {
  internal::WriteFileAtomically(path, RenderPerformance(data));
}

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
  if (const auto cpus = Int(j, "host_cpus"); cpus && *cpus >= 0) {
    data.host_cpus = static_cast<unsigned>(*cpus);
  }
  data.suite_file = Text(j, "suite_file");
  data.guest_image_sha256 = Text(j, "guest_image_sha256");
  if (j.contains("workload") && j["workload"].is_object()) {
    const Json& w = j["workload"];
    data.workload_program = Text(w, "program");
    data.workload_guest_program = Text(w, "guest_program");
    data.workload_args = Text(w, "args");
    data.workload_runs = Int(w, "runs").value_or(0);
    data.workload_test_ms = Int(w, "test_ms").value_or(0);
    data.workload_buffer_mib = Int(w, "buffer_mib").value_or(0);
  } else {
    data.workload_guest_program.clear();
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
  // The standard definitions in their order, then any others by key (the
  // parser keeps an object's keys sorted).
  data.definitions.clear();
  if (j.contains("definitions") && j["definitions"].is_object()) {
    const Json& d = j["definitions"];
    const auto standard = StandardPerformanceDefinitions();
    auto is_standard = [&standard](const std::string& key) {
      for (const auto& [k, text] : standard) {
        if (k == key) return true;
      }
      return false;
    };
    for (const auto& [key, text] : standard) {
      if (const auto it = d.find(key); it != d.end() && it->is_string()) {
        data.definitions.emplace_back(key, it->get<std::string>());
      }
    }
    for (const auto& [key, value] : d.items()) {
      if (!is_standard(key) && value.is_string()) {
        data.definitions.emplace_back(key, value.get<std::string>());
      }
    }
  }
  if (j.contains("native") && j["native"].is_object()) {
    data.native_run = ReadSide(j["native"]);
  }
  if (j.contains("vmms") && j["vmms"].is_array()) {
    for (const Json& v : j["vmms"]) {
      if (!v.is_object()) continue;
      VmmPerformance vmm = ReadSide(v);
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
