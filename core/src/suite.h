// Suite files: which checks to run. Format in docs/suite-format.md.
#ifndef EZONE_CORE_SUITE_H_
#define EZONE_CORE_SUITE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "ezone/report/policy.h"

namespace ezone {

// A malformed suite; what() is "<file>:<line>: <what is wrong>".
class SuiteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How the VMs of a check start.
enum class BootMode {
  kBoot,      // boot the kernel to READY (the default)
  kSnapshot,  // restore a state saved at READY (EZONE_CAP_SNAPSHOT), made once and cached
};
// Which machine is the host under test.
enum class HostKind {
  kLocal,   // the machine ezone runs on
  kNested,  // a VM booted from the nested host image (nested-host/)
};
const char* BootModeName(BootMode mode);  // "boot", "snapshot"
const char* HostKindName(HostKind host);  // "local", "nested"

// One check, one repetition: a VMM, a fault variant, a policy.
struct CheckSpec {
  std::string suite;      // suite name, e.g. "paper"
  std::string classname;  // e.g. "GuestKernelCrashMustNotKillHost"
  std::string name;       // e.g. "qemu_kerncrash_divzero_1"
  std::string vmm;        // the plugin's name
  std::string vmm_label;  // how reports name it, e.g. "kvm-libvirt-tcg"
  std::string vmm_options;  // "key=value;..."
  std::string fault;
  std::string variant;
  std::string fault_options;
  report::Policy policy = report::Policy::kStrongIsolation;
  std::vector<std::string> labels;
  int repetition = 1;
  std::chrono::milliseconds boot_timeout{30000};
  std::chrono::milliseconds observe_timeout{20000};
  // How long to keep watching after the first sign, for the rest of the
  // evidence (the panic after the oops) or for late effects (bit flips).
  std::chrono::milliseconds settle{2000};
  uint32_t memory_mib = 256;
  std::string kernel_args;  // appended to the guest kernel command line
  bool witness = false;     // boot a witness VM beside the victim
  BootMode mode = BootMode::kBoot;
  HostKind host = HostKind::kLocal;
  std::filesystem::path file;
  int line = 0;

  std::string id() const { return classname + "/" + name; }
  bool nested() const { return host == HostKind::kNested; }
  std::string where() const { return file.string() + ":" + std::to_string(line); }
};

struct Suite {
  std::string name;
  std::filesystem::path file;
  std::vector<CheckSpec> checks;
};

// Parses a suite file; throws SuiteError naming the file and line.
Suite LoadSuite(const std::filesystem::path& file);
// The same for a suite's bytes (`file` names it in errors): for tests and
// the fuzz target (fuzz/suite_fuzz.cc).
Suite ParseSuite(const std::filesystem::path& file, const std::string& text);

// Limits on what a suite may ask for (docs/suite-format.md). A suite over
// them is an error naming the file and line, never a runner that registers
// millions of tests or a number that wraps.
inline constexpr size_t kMaxChecks = 10000;          // checks in one suite, repetitions included
inline constexpr uint64_t kMaxRepeat = 9999;         // repeat="..."
inline constexpr uint32_t kMinMemoryMib = 64;        // memory="..."
inline constexpr uint32_t kMaxMemoryMib = 65536;
inline constexpr size_t kMaxSuiteBytes = 4u << 20;   // the file itself

// "30s", "500ms", "2m" -> milliseconds; throws std::invalid_argument.
std::chrono::milliseconds ParseDuration(const std::string& text);


}  // namespace ezone

#endif  // EZONE_CORE_SUITE_H_
