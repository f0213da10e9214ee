// A suite checked against the plugins it names, reading descriptors only
// (no plugin code runs): an unknown VMM, fault or variant is bad input,
// found by `ezone list` at build time (ezone_add_suite) and by `ezone run`
// before anything boots.
#ifndef EZONE_CORE_SUITE_PLUGINS_H_
#define EZONE_CORE_SUITE_PLUGINS_H_

#include <string>
#include <vector>

#include "plugin_registry.h"
#include "suite.h"

namespace ezone {

// One "<file>:<line>: ..." message per check naming what is not there.
std::vector<std::string> FindUnknownPlugins(const Suite& suite, const PluginRegistry& registry);

}  // namespace ezone

#endif  // EZONE_CORE_SUITE_PLUGINS_H_
