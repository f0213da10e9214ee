// Finding, loading and validating plugins (Boost.DLL), and looking them up
// by name. Loading a plugin calls nothing but its entry point.
#ifndef EZONE_CORE_PLUGIN_REGISTRY_H_
#define EZONE_CORE_PLUGIN_REGISTRY_H_

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "ezone/plugin_abi.h"

namespace ezone {

// A plugin that could not be loaded; what() names the file and the reason.
class PluginLoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A loaded, validated plugin. The library stays mapped for the life of the
// process (plugins are never unloaded: objects they made may outlive us).
struct Plugin {
  std::filesystem::path path;
  // The core's view of the plugin's descriptor (CoreView below): full-size
  // structs of this core's ABI whatever minor the plugin was built for, so
  // the core reads every field directly; an op the plugin lacks is NULL or
  // its documented default. The plugin's own descriptor is `declared`.
  const ezone_plugin_descriptor* descriptor = nullptr;
  const ezone_plugin_descriptor* declared = nullptr;

  std::string name() const { return descriptor->name; }
  bool is_vmm() const { return descriptor->kind == EZONE_KIND_VMM; }
  bool is_fault() const { return descriptor->kind == EZONE_KIND_FAULT; }
  // The variant of a fault plugin named `variant`, or nullptr.
  const ezone_fault_variant* FindVariant(const std::string& variant) const;
};

// Loads one plugin file; throws PluginLoadError with an actionable message.
Plugin LoadPlugin(const std::filesystem::path& path);

// Checks a descriptor against this core's ABI (any minor: sizes per minor,
// required ops, capability bits with their ops); throws PluginLoadError.
void ValidateDescriptor(const std::filesystem::path& path,
                        const ezone_plugin_descriptor* descriptor);

// The core's view of a validated descriptor: copies of the descriptor and its
// op table at this core's sizes (fields the plugin's struct_size does not
// cover are zero), with the documented defaults for NULL optional ops (probe:
// EZONE_OK; vmm_pid: -1; version: EZONE_FAILED, so callers fall back to the
// descriptor's name and version) and guest_memory/save_snapshot NULL unless
// the matching capability bit is set. Never freed, like the libraries.
// Whoever builds a Plugin by hand (an in-process fake VMM) should pass its
// descriptor through this too.
const ezone_plugin_descriptor* CoreView(const ezone_plugin_descriptor* declared);

// The directories searched, in order: `extra` (--plugin-dir), then
// EZONE_PLUGIN_PATH (colon-separated), then the build tree's plugins when
// ezone runs from the build tree, else the install tree's.
std::vector<std::filesystem::path> DefaultPluginDirs(
    const std::vector<std::string>& extra = {});

class PluginRegistry {
 public:
  // Loads every *.so in `dirs`. A file that fails to load is remembered in
  // load_errors() and does not stop the others. The first plugin of a given
  // kind and name wins (EZONE_PLUGIN_PATH overrides the built-in ones).
  void Discover(const std::vector<std::filesystem::path>& dirs);
  void Add(Plugin plugin);

  const Plugin* FindVmm(const std::string& name) const;
  const Plugin* FindFault(const std::string& name) const;
  const std::vector<Plugin>& plugins() const { return plugins_; }
  const std::vector<std::string>& load_errors() const { return load_errors_; }
  // "qemu, kvm" for messages.
  std::string Names(ezone_plugin_kind kind) const;

 private:
  const Plugin* Find(ezone_plugin_kind kind, const std::string& name) const;
  std::vector<Plugin> plugins_;
  std::vector<std::string> load_errors_;
};

}  // namespace ezone

#endif  // EZONE_CORE_PLUGIN_REGISTRY_H_
