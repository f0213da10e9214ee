#include "suite_plugins.h"

namespace ezone {

std::vector<std::string> FindUnknownPlugins(const Suite& suite, const PluginRegistry& registry) {
  std::vector<std::string> errors;
  std::string last;  // repetitions of one <check> share file:line: say it once
  for (const CheckSpec& c : suite.checks) {
    std::string error;
    const Plugin* fault = registry.FindFault(c.fault);
    if (registry.FindVmm(c.vmm) == nullptr) {
      error = c.where() + ": no VMM plugin named '" + c.vmm +
              "' (found: " + registry.Names(EZONE_KIND_VMM) + ")";
    } else if (fault == nullptr) {
      error = c.where() + ": no fault plugin named '" + c.fault +
              "' (found: " + registry.Names(EZONE_KIND_FAULT) + ")";
    } else if (fault->FindVariant(c.variant) == nullptr) {
      std::string known;
      for (size_t i = 0; i < fault->descriptor->variant_count; ++i) {
        known += (i ? ", " : "") + std::string(fault->descriptor->variants[i].name);
      }
      error = c.where() + ": fault '" + c.fault + "' has no variant '" + c.variant +
              "' (known: " + known + ")";
    }
    if (!error.empty() && error != last) errors.push_back(error);
    last = error;
  }
  return errors;
}

}  // namespace ezone
