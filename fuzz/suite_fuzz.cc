// Suite files (core/src/suite.cc): any bytes either parse into checks
// within the documented limits or give a SuiteError naming file and line.
#include <string>

#include "fuzz_util.h"
#include "suite.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    ezone::Suite suite = ezone::ParseSuite("fuzz.xml", text);
    ezone::fuzz::Require(!suite.checks.empty() && suite.checks.size() <= ezone::kMaxChecks,
                         "check count out of bounds");
    for (const ezone::CheckSpec& c : suite.checks) {
      ezone::fuzz::Require(c.line >= 1, "a check without a line");
      ezone::fuzz::Require(c.memory_mib >= ezone::kMinMemoryMib &&
                               c.memory_mib <= ezone::kMaxMemoryMib,
                           "memory out of range");
      ezone::fuzz::Require(c.boot_timeout.count() >= 0 && c.observe_timeout.count() >= 0 &&
                               c.settle.count() >= 0,
                           "negative duration");
    }
  } catch (const ezone::SuiteError& e) {
    std::string what = e.what();
    ezone::fuzz::Require(what.rfind("fuzz.xml:", 0) == 0, "error without the file", what);
  }
  return 0;
}
