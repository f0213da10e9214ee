#include "suite_bench.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "bench.h"
#include "check_pool.h"
#include "elapsed.h"
#include "plugin_registry.h"
#include "suite.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;


double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The check's record from the child's journal: properties and timings.
void ReadJournal(const fs::path& dir, SuiteBenchCheck* check, Json* timing) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir / "journal", ec)) {
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object() || j.value("event", "") != "check_finished") continue;
      const Json& record = j["record"];
      if (record.contains("properties") && record["properties"].is_object()) {
        for (const auto& [k, v] : record["properties"].items()) {
          if (v.is_string()) check->properties[k] = v.get<std::string>();
        }
      }
      if (record.contains("timing")) *timing = record["timing"];
      check->properties["verdict"] = record.value("verdict", "");
    }
  }
}

}  // namespace

std::vector<SuiteBenchRow> SuiteBenchRows(const std::vector<SuiteBenchCheck>& checks) {
  std::vector<SuiteBenchRow> rows;
  std::map<std::string, std::vector<double>> times;
  for (const auto& c : checks) {
    auto it = std::find_if(rows.begin(), rows.end(),
                           [&](const SuiteBenchRow& r) { return r.label == c.label; });
    if (it == rows.end()) {
      rows.push_back({});
      it = rows.end() - 1;
      it->label = c.label;
    }
    ++it->checks;
    it->sum_s += c.seconds;
    if (c.exit_status == 77) {
      ++it->skipped;
      continue;
    }
    if (c.exit_status == 0) ++it->passed;
    times[c.label].push_back(c.seconds);
    auto mode = c.properties.find("nested_host_mode");
    if (mode != c.properties.end()) {
      ++it->nested_host_modes[mode->second +
                              (c.properties.count("nested_victim_saved_as") ? " with its victim"
                                                                            : "")];
    }
  }
  double qemu = 0;
  for (auto& r : rows) {
    r.median_s = Median(times[r.label]);
    if (r.label == "qemu") qemu = r.median_s;
  }
  for (auto& r : rows) r.ratio_to_qemu = qemu > 0 && r.median_s > 0 ? r.median_s / qemu : 0;
  return rows;
}

int RunSuiteBench(const SuiteBenchOptions& opt) {
  if (opt.jobs < 1) {
    std::cerr << "ezone bench: --jobs must be >= 1\n";
    return 2;
  }
  Suite suite = LoadSuite(opt.suite);  // throws SuiteError
  std::vector<const CheckSpec*> specs;
  for (const auto& c : suite.checks) {
    if (opt.vmm_labels.empty() || std::count(opt.vmm_labels.begin(), opt.vmm_labels.end(),
                                             c.vmm_label)) {
      specs.push_back(&c);
    }
  }
  if (specs.empty()) {
    std::cerr << "ezone bench: no checks to run in " << opt.suite << "\n";
    return 2;
  }
  std::string tmpl = (fs::temp_directory_path() / "ezone-suite-bench-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::cerr << "ezone bench: mkdtemp: " << std::strerror(errno) << "\n";
    return 2;
  }
  const fs::path work = tmpl;
  const std::string self = SelfExe();
  // Each check's cost (check_cost.h): `jobs` cores' worth at a time, as
  // `ezone run --jobs` and ctest schedule them.
  PluginRegistry registry;
  registry.Discover(DefaultPluginDirs(opt.plugin_dirs));
  std::cout << "ezone bench: the whole suite " << opt.suite << ": " << specs.size()
            << " checks, " << opt.jobs << " core(s) of checks at a time (their cost: a check"
            << " with a witness or a nested host takes 2), each its own `ezone run` (as ctest)\n"
            << std::flush;

  std::vector<SuiteBenchCheck> results(specs.size());
  std::vector<Json> timings(specs.size());
  std::vector<PoolJob> jobs;
  for (size_t i = 0; i < specs.size(); ++i) {
    const CheckSpec& spec = *specs[i];
    fs::path dir = work / std::to_string(i);
    fs::create_directories(dir);
    PoolJob job;
    job.args = {self};
    for (const auto& d : opt.plugin_dirs) job.args.insert(job.args.end(), {"--plugin-dir", d});
    job.args.insert(job.args.end(),
                    {"run", opt.suite, "--check", spec.id(), "--report-dir", dir.string()});
    if (!opt.guest_dir.empty()) job.args.insert(job.args.end(), {"--guest-dir", opt.guest_dir});
    job.log = dir / "output.log";
    job.cost = CostOf(spec, &registry);
    jobs.push_back(std::move(job));
    results[i].id = spec.id();
    results[i].label = spec.vmm_label;
  }
  auto start = Clock::now();
  CheckPool(CostBudget{opt.jobs, 0}).Run(jobs, nullptr, [&](const PoolEnd& end) {
    SuiteBenchCheck& r = results[end.index];
    r.seconds = end.seconds;
    r.exit_status = end.exit_status;
    ReadJournal(work / std::to_string(end.index), &r, &timings[end.index]);
    std::cout << "  " << Fmt("%6.1f s", r.seconds) << "  " << r.label << "  " << r.id << "  "
              << (r.exit_status == 0    ? "pass"
                  : r.exit_status == 77 ? "skipped"
                                        : "exit " + std::to_string(r.exit_status) + " (" +
                                              r.properties["verdict"] + ")");
    if (r.properties.count("nested_host_mode")) {
      std::cout << "  nested host " << r.properties["nested_host_mode"]
                << (r.properties.count("nested_victim_saved_as") ? " with its victim" : "")
                << " (ready in " << r.properties["host_ready_ms"] << " ms)";
      // RunCheck's rerun: the first host failed before the fault.
      if (r.properties.count("nested_host_attempts")) {
        std::cout << ", attempt " << r.properties["nested_host_attempts"];
      }
    }
    std::cout << "\n" << std::flush;
  });
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<SuiteBenchRow> rows = SuiteBenchRows(results);

  std::printf("\n%-18s %7s %7s %8s %9s %9s %11s  %s\n", "row (VMM label)", "checks", "passed",
              "skipped", "median s", "sum s", "x qemu row", "nested host");
  for (const auto& r : rows) {
    std::string modes;
    for (const auto& [mode, n] : r.nested_host_modes) {
      modes += (modes.empty() ? "" : ", ") + std::to_string(n) + " " + mode;
    }
    std::printf("%-18s %7d %7d %8d %9.1f %9.1f %11s  %s\n", r.label.c_str(), r.checks, r.passed,
                r.skipped, r.median_s, r.sum_s,
                r.ratio_to_qemu > 0 ? Fmt("%.2f", r.ratio_to_qemu).c_str() : "-", modes.c_str());
  }
  std::printf("suite wall time: %.1f s with %d job(s) (%zu checks, %.1f checks/min)\n", wall,
              opt.jobs, specs.size(), wall > 0 ? 60.0 * specs.size() / wall : 0.0);

  // The targets of issue 19.
  Json targets = Json::array();
  auto target = [&](const std::string& what, double value, double limit, const char* unit) {
    bool known = value > 0;
    bool met = known && value <= limit;
    std::printf("target: %-40s %s %8s (<= %g%s)\n", what.c_str(),
                !known ? "n/a    " : met ? "met    " : "NOT met", known ? Fmt("%.2f", value).c_str() : "-",
                limit, unit);
    targets.push_back({{"target", what}, {"value", known ? Json(value) : Json(nullptr)},
                       {"limit", limit}, {"met", known ? Json(met) : Json(nullptr)}});
  };
  for (const auto& r : rows) {
    if (r.label == "kvm@nested") target("kvm@nested check x qemu check", r.ratio_to_qemu, kTargetNestedRatio, "x");
    if (r.label == "kvm-libvirt-tcg") {
      target("kvm-libvirt-tcg check x qemu check", r.ratio_to_qemu, kTargetLibvirtTcgRatio, "x");
    }
  }
  if (suite.name == "paper") {
    target("paper suite wall time, --jobs " + std::to_string(opt.jobs), wall,
           kTargetPaperSuiteSeconds, " s");
  }

  bool all_ok = true;
  Json checks = Json::array();
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    all_ok = all_ok && (r.exit_status == 0 || r.exit_status == 77);
    Json props = Json::object();
    for (const char* key : {"nested_host_mode", "host_ready_ms", "nested_host_restore_ms",
                            "nested_host_state_prepared_ms", "nested_host_restore_rejected",
                            "nested_host_load_ms", "nested_host_refresh",
                            "nested_host_attempts", "nested_host_first_attempt",
                            "nested_victim_saved_as", "nested_victim_state_prepared_ms",
                            "snapshot_prepared_ms", "mode", "verdict"}) {
      if (r.properties.count(key)) props[key] = r.properties.at(key);
    }
    checks.push_back({{"id", r.id}, {"label", r.label}, {"seconds", r.seconds},
                      {"exit_status", r.exit_status}, {"properties", props},
                      {"timing_ms", timings[i]}});
  }
  if (!opt.json.empty()) {
    Json out;
    out["suite_file"] = fs::absolute(opt.suite).string();
    out["jobs"] = opt.jobs;
    out["host_cpus"] = std::thread::hardware_concurrency();
    out["wall_seconds"] = wall;
    Json jrows = Json::array();
    for (const auto& r : rows) {
      jrows.push_back({{"label", r.label}, {"checks", r.checks}, {"passed", r.passed},
                       {"skipped", r.skipped}, {"median_seconds", r.median_s},
                       {"sum_seconds", r.sum_s},
                       {"ratio_to_qemu", r.ratio_to_qemu > 0 ? Json(r.ratio_to_qemu) : Json(nullptr)},
                       {"nested_host_modes", r.nested_host_modes}});
    }
    out["rows"] = jrows;
    out["checks"] = checks;
    out["targets"] = targets;
    std::ofstream(opt.json) << out.dump(2) << "\n";
  }
  if (!all_ok) {
    std::cout << "some checks did not pass; their reports are in " << work << "\n";
  } else {
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  return all_ok ? 0 : 1;
}

}  // namespace ezone
