#include "plugin_registry.h"

#include <dlfcn.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cstdlib>
#include <set>

#include "build_config.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;

// Libraries we loaded. Deliberately never destroyed: unloading a plugin while
// a VM or thread it created still exists would crash the runner.
std::vector<boost::dll::shared_library>& KeptLibraries() {
  static auto* libraries = new std::vector<boost::dll::shared_library>();
  return *libraries;
}

[[noreturn]] void Fail(const fs::path& path, const std::string& why) {
  throw PluginLoadError("plugin " + path.string() + ": " + why);
}

bool IsCString(const char* text) { return text != nullptr && *text != '\0'; }

}  // namespace

const ezone_fault_variant* Plugin::FindVariant(
    const std::string& variant) const {
  for (size_t i = 0; i < descriptor->variant_count; ++i) {
    if (variant == descriptor->variants[i].name) return &descriptor->variants[i];
  }
  return nullptr;
}

void ValidateDescriptor(const fs::path& path,
                        const ezone_plugin_descriptor* d) {
  if (d == nullptr) {
    Fail(path, "entry point returned no descriptor for core ABI major " +
                   std::to_string(EZONE_PLUGIN_ABI_MAJOR) +
                   " (the plugin was built for another ABI)");
  }
  if (d->abi_major != EZONE_PLUGIN_ABI_MAJOR) {
    Fail(path, "ABI major mismatch: plugin has " +
                   std::to_string(d->abi_major) + ", this ezone core has " +
                   std::to_string(EZONE_PLUGIN_ABI_MAJOR) +
                   "; rebuild the plugin against this ezone SDK");
  }
  // Minor versions only append fields, so the descriptor must be at least as
  // large as in minor 0.
  if (d->struct_size < sizeof(ezone_plugin_descriptor)) {
    Fail(path, "invalid descriptor: struct_size " +
                   std::to_string(d->struct_size) + " < " +
                   std::to_string(sizeof(ezone_plugin_descriptor)));
  }
  if (!IsCString(d->name) || !IsCString(d->version)) {
    Fail(path, "invalid descriptor: empty name or version");
  }
  std::string name = d->name;
  if (!std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
      })) {
    Fail(path, "invalid descriptor: name '" + name +
                   "' must be letters, digits and '-'");
  }
  switch (d->kind) {
    case EZONE_KIND_VMM: {
      const ezone_vmm_ops* ops = d->vmm;
      if (ops == nullptr || ops->struct_size < sizeof(ezone_vmm_ops) ||
          !ops->probe || !ops->create || !ops->send_control ||
          !ops->vmm_pid || !ops->version || !ops->destroy) {
        Fail(path, "invalid descriptor: VMM plugin '" + name +
                       "' lacks a complete operation table");
      }
      break;
    }
    case EZONE_KIND_FAULT: {
      if (d->fault == nullptr || d->fault->struct_size < sizeof(ezone_fault_ops) ||
          !d->fault->fire) {
        Fail(path, "invalid descriptor: fault plugin '" + name +
                       "' lacks a fire operation");
      }
      if (d->variants == nullptr || d->variant_count == 0) {
        Fail(path, "invalid descriptor: fault plugin '" + name +
                       "' declares no variants");
      }
      for (size_t i = 0; i < d->variant_count; ++i) {
        const ezone_fault_variant& v = d->variants[i];
        if (!IsCString(v.name) || v.zone < EZONE_ZONE_HOST_KERNEL ||
            v.zone > EZONE_ZONE_GUEST_USER) {
          Fail(path, "invalid descriptor: fault plugin '" + name +
                         "' variant " + std::to_string(i) +
                         " has no name or an unknown zone");
        }
      }
      break;
    }
    default:
      Fail(path, "invalid descriptor: unknown plugin kind " +
                     std::to_string(static_cast<int>(d->kind)));
  }
}

Plugin LoadPlugin(const fs::path& path) {
  boost::dll::shared_library library;
  boost::dll::fs::error_code ec;
  // RTLD_LOCAL: two plugins may carry symbols of the same name.
  library.load(path.string(),
               boost::dll::load_mode::rtld_local | boost::dll::load_mode::rtld_now,
               ec);
  if (ec) {
    // Boost.DLL keeps only an errc; the dynamic loader's own message is the
    // one an author can act on (missing dependency, wrong architecture...).
    const char* why = dlerror();
    Fail(path, std::string("cannot be loaded: ") + (why ? why : ec.message()));
  }
  if (!library.has(EZONE_PLUGIN_ENTRY_SYMBOL)) {
    Fail(path, "is not an ezone plugin: no exported symbol '" +
                   std::string(EZONE_PLUGIN_ENTRY_SYMBOL) + "'");
  }
  auto entry = library.get<const ezone_plugin_descriptor*(uint32_t)>(
      EZONE_PLUGIN_ENTRY_SYMBOL);
  const ezone_plugin_descriptor* descriptor = entry(EZONE_PLUGIN_ABI_MAJOR);
  ValidateDescriptor(path, descriptor);
  KeptLibraries().push_back(std::move(library));
  return Plugin{path, descriptor};
}

std::vector<fs::path> DefaultPluginDirs(const std::vector<std::string>& extra) {
  std::vector<fs::path> dirs(extra.begin(), extra.end());
  if (const char* env = std::getenv("EZONE_PLUGIN_PATH")) {
    std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      if (end > start) dirs.emplace_back(list.substr(start, end - start));
      start = end + 1;
    }
  }
  // An installed ezone must not pick up a build tree's plugins, and the other
  // way round.
  std::string installed = InstallTreeDir(kInstallPluginDir);
  dirs.emplace_back(installed.empty() ? std::string(kBuildPluginDir) : installed);
  return dirs;
}

void PluginRegistry::Discover(const std::vector<fs::path>& dirs) {
  std::set<fs::path> seen;
  for (const fs::path& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".so") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());  // deterministic order
    for (const fs::path& file : files) {
      fs::path canonical = fs::weakly_canonical(file, ec);
      if (!seen.insert(canonical).second) continue;
      try {
        Add(LoadPlugin(file));
      } catch (const PluginLoadError& e) {
        load_errors_.push_back(e.what());
      }
    }
  }
}

void PluginRegistry::Add(Plugin plugin) {
  if (Find(plugin.descriptor->kind, plugin.name()) != nullptr) return;
  plugins_.push_back(std::move(plugin));
}

const Plugin* PluginRegistry::Find(ezone_plugin_kind kind,
                                   const std::string& name) const {
  for (const Plugin& p : plugins_) {
    if (p.descriptor->kind == kind && p.name() == name) return &p;
  }
  return nullptr;
}

const Plugin* PluginRegistry::FindVmm(const std::string& name) const {
  return Find(EZONE_KIND_VMM, name);
}

const Plugin* PluginRegistry::FindFault(const std::string& name) const {
  return Find(EZONE_KIND_FAULT, name);
}

std::string PluginRegistry::Names(ezone_plugin_kind kind) const {
  std::string names;
  for (const Plugin& p : plugins_) {
    if (p.descriptor->kind != kind) continue;
    if (!names.empty()) names += ", ";
    names += p.name();
  }
  return names.empty() ? "none" : names;
}

}  // namespace ezone
