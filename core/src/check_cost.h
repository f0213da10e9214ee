// What one check takes from the machine it runs on while it runs: the unit
// of every scheduler of checks (`ezone run --jobs`, `ezone bench --suite`,
// ctest's PROCESSORS and RUN_SERIAL written by `ezone list --ctest-script`).
// Cores are the emulated CPUs its VMs keep busy at their peak (a guest
// booting under TCG is one busy host thread per vCPU): two checks whose
// guests boot on one core slow each other's heartbeats, and the witness's
// rhythm is a verdict. Load is what they use on average over the whole
// check, which packs tighter where a slower boot is no harm (ctest's
// resource groups, docs/ARCHITECTURE.md "Side by side").
#ifndef EZONE_CORE_CHECK_COST_H_
#define EZONE_CORE_CHECK_COST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "suite.h"

namespace ezone {

class PluginRegistry;

struct CheckCost {
  int cores = 1;             // vCPUs of the VMs it runs on this machine
  uint64_t memory_mib = 0;   // their memory, each VMM's own included
  bool exclusive = false;    // its fault loads the host every check shares
  std::string why;           // for people: "victim and witness", ...
  int load_percent = 100;    // their average use of the machine, % of one core
};

// The memory one QEMU (TCG) takes beyond its guest's: its code cache,
// device model and libraries (measured: 110-150 MiB RSS for a 256 MiB guest).
inline constexpr uint64_t kVmmOverheadMib = 160;

// A lone victim's average load, % of one core: it boots (or restores) on a
// busy core, then mostly waits for its fault to show and settle. Measured
// 2026-12-02 on 2 cores: 75 LKDTM checks (snapshot mode) kept the machine
// 45 % busy under ctest -j2, the qemu rows of the matrix, paper and smoke
// suites (booted, witnesses among them) 62 %; at -j4 the LKDTM checks ran
// in 55 % of the time with the same verdicts.
inline constexpr int kLoneVictimLoadPercent = 50;

// A check's cost from its spec; `registry` says whether its fault plugin
// declares EZONE_CAP_HOST_WIDE (null: it does not).
CheckCost CostOf(const CheckSpec& spec, const PluginRegistry* registry);

// What a scheduler may run at once: `cores` (--jobs, ctest -j) and the
// memory it may fill.
struct CostBudget {
  int cores = 1;
  uint64_t memory_mib = 0;  // 0: not limited
};

// May a check costing `next` start beside `running` within `budget`? One
// that alone exceeds the budget starts when nothing runs (it is not refused
// for ever); an exclusive one only then, and nothing starts beside it.
bool Fits(const CheckCost& next, const std::vector<CheckCost>& running, const CostBudget& budget);

// This machine's available memory (MemAvailable), in MiB; 0 when unknown.
uint64_t AvailableMemoryMib();

}  // namespace ezone

#endif  // EZONE_CORE_CHECK_COST_H_
