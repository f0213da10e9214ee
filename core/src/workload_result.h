// The result line of guest/workload/ezone-workload.c, as `ezone bench
// --workload` reads it from the agent's runout reply and from a native run.
// A pure function of its own, for the unit tests and the fuzz target
// (fuzz/workload_result_fuzz.cc): the text comes from a guest.
#ifndef EZONE_CORE_WORKLOAD_RESULT_H_
#define EZONE_CORE_WORKLOAD_RESULT_H_

#include <map>
#include <string>
#include <string_view>

namespace ezone {

// One workload run's figures from its result line, which may follow other
// words (the agent's reply is "exit=0 ezone-workload v=1 int_mops=..."):
// key -> value for every numeric key=value after "ezone-workload v=1".
// Empty, with *error set, when the text holds no such line or a known figure
// is missing or not a positive finite number. Error texts quote at most 300
// bytes of the input.
std::map<std::string, double> ParseWorkloadResult(std::string_view text, std::string* error);

// The figures every run reports, in the order they are printed.
struct WorkloadMetric {
  const char* key;    // in the result line and the JSON
  const char* label;  // for people
  const char* unit;
  bool higher_is_better;  // false: a time per operation
};
inline constexpr WorkloadMetric kWorkloadMetrics[] = {
    {"int_mops", "integer", "Mops/s", true},
    {"fp_mflops", "floating point", "Mflop/s", true},
    {"mem_mib_s", "memcpy", "MiB/s", true},
    {"syscall_ns", "getppid", "ns/call", false},
};

}  // namespace ezone

#endif  // EZONE_CORE_WORKLOAD_RESULT_H_
