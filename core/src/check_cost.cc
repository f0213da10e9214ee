#include "check_cost.h"

#include <fstream>
#include <sstream>

#include "nested_host.h"
#include "plugin_registry.h"

namespace ezone {

CheckCost CostOf(const CheckSpec& spec, const PluginRegistry* registry) {
  CheckCost cost;
  const Plugin* fault = registry ? registry->FindFault(spec.fault) : nullptr;
  const bool host_wide =
      fault && fault->descriptor && (fault->descriptor->capabilities & EZONE_CAP_HOST_WIDE);
  if (spec.nested()) {
    // The nested host's vCPUs carry its guests: they are the cost here, and
    // a host-wide load stays inside it.
    cost.cores = static_cast<int>(NestedHost::kVcpus);
    cost.memory_mib = NestedHost::kMemoryMib + kVmmOverheadMib;
    // Its heartbeat is judged, and TCG nested hosts are fragile under load:
    // its peak, never shared.
    cost.load_percent = cost.cores * 100;
    cost.why = "a nested host (" + std::to_string(NestedHost::kVcpus) + " vCPUs)";
    return cost;
  }
  const int vms = spec.witness ? 2 : 1;
  cost.cores = vms;  // one vCPU each (the guest image's VMs are uniprocessor)
  cost.memory_mib = static_cast<uint64_t>(vms) * (spec.memory_mib + kVmmOverheadMib);
  cost.why = spec.witness ? "victim and witness" : "a victim";
  // A witness's rhythm is a verdict: its check keeps its peak.
  cost.load_percent = spec.witness ? cost.cores * 100 : kLoneVictimLoadPercent;
  if (host_wide) {
    cost.exclusive = true;
    cost.load_percent = cost.cores * 100;
    cost.why += ", a fault that loads the host (runs alone)";
  }
  return cost;
}

bool Fits(const CheckCost& next, const std::vector<CheckCost>& running, const CostBudget& budget) {
  if (running.empty()) return true;
  if (next.exclusive) return false;
  int cores = next.cores;
  uint64_t memory = next.memory_mib;
  for (const CheckCost& c : running) {
    if (c.exclusive) return false;
    cores += c.cores;
    memory += c.memory_mib;
  }
  if (cores > budget.cores) return false;
  return budget.memory_mib == 0 || memory <= budget.memory_mib;
}

uint64_t AvailableMemoryMib() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    uint64_t kib = 0;
    if (fields >> key >> kib && key == "MemAvailable:") return kib / 1024;
  }
  return 0;
}

}  // namespace ezone
