#include "plugin_registry.h"

#include <dlfcn.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cstdlib>
#include <cstring>
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

// The minimum sizes of the plugin's structs for a declared minor (a minor
// newer than ours is held to ours: it may only have appended).
struct MinSizes {
  size_t descriptor, vmm_ops, fault_ops;
};
MinSizes MinSizesFor(uint32_t minor) {
  switch (minor) {
    case 0:
      return {EZONE_DESCRIPTOR_SIZE_1_0, EZONE_VMM_OPS_SIZE_1_0, EZONE_FAULT_OPS_SIZE_1_0};
    case 1:
      return {EZONE_DESCRIPTOR_SIZE_1_1, EZONE_VMM_OPS_SIZE_1_1, EZONE_FAULT_OPS_SIZE_1_1};
    case 2:
      return {EZONE_DESCRIPTOR_SIZE_1_2, EZONE_VMM_OPS_SIZE_1_2, EZONE_FAULT_OPS_SIZE_1_2};
    case 3:
      return {EZONE_DESCRIPTOR_SIZE_1_3, EZONE_VMM_OPS_SIZE_1_3, EZONE_FAULT_OPS_SIZE_1_3};
    case 4:
      return {EZONE_DESCRIPTOR_SIZE_1_4, EZONE_VMM_OPS_SIZE_1_4, EZONE_FAULT_OPS_SIZE_1_4};
    default:
      static_assert(EZONE_PLUGIN_ABI_MINOR == 5, "add the new minor's sizes here");
      return {EZONE_DESCRIPTOR_SIZE_1_5, EZONE_VMM_OPS_SIZE_1_5, EZONE_FAULT_OPS_SIZE_1_5};
  }
}

std::string Version(uint32_t minor) {
  return std::to_string(EZONE_PLUGIN_ABI_MAJOR) + "." + std::to_string(minor);
}

// "struct_size 16 is smaller than ABI 1.0's 88" when `size` is too small.
void CheckSize(const fs::path& path, const std::string& what, size_t size,
               uint32_t declared_minor, size_t min_declared) {
  size_t min_1_0 = what == "descriptor"  ? EZONE_DESCRIPTOR_SIZE_1_0
                   : what == "VMM ops"   ? EZONE_VMM_OPS_SIZE_1_0
                                         : EZONE_FAULT_OPS_SIZE_1_0;
  if (size < min_1_0) {
    Fail(path, "invalid descriptor: " + what + " struct_size " + std::to_string(size) +
                   " is smaller than ABI " + Version(0) + "'s " + std::to_string(min_1_0) +
                   ", the smallest this core accepts (is struct_size set to sizeof?)");
  }
  if (size < min_declared) {
    Fail(path, "invalid descriptor: " + what + " struct_size " + std::to_string(size) +
                   " is smaller than ABI " +
                   Version(std::min<uint32_t>(declared_minor, EZONE_PLUGIN_ABI_MINOR)) +
                   "'s " + std::to_string(min_declared) + ", which the plugin declares");
  }
}

// Copies the first `size` bytes of a plugin's struct into a zeroed struct of
// this core's size: fields the plugin does not have read as 0 / NULL.
template <typename T>
T* CopyCovered(const T* from, size_t size) {
  auto* to = new T{};  // never freed: the core keeps pointing at it
  std::memcpy(static_cast<void*>(to), from, std::min(size, sizeof(T)));
  to->struct_size = sizeof(T);
  return to;
}

ezone_status DefaultProbe(const char*, char* msg, size_t msg_size) {
  if (msg != nullptr && msg_size > 0) msg[0] = '\0';
  return EZONE_OK;
}
int64_t DefaultVmmPid(void*) { return -1; }
ezone_status DefaultVersion(void*, char* out, size_t out_size) {
  if (out != nullptr && out_size > 0) out[0] = '\0';
  return EZONE_FAILED;
}

}  // namespace

const ezone_plugin_descriptor* CoreView(const ezone_plugin_descriptor* d) {
  auto* view = CopyCovered(d, d->struct_size);
  if (d->kind == EZONE_KIND_VMM && d->vmm != nullptr) {
    auto* ops = CopyCovered(d->vmm, d->vmm->struct_size);
    if (ops->probe == nullptr) ops->probe = &DefaultProbe;
    if (ops->vmm_pid == nullptr) ops->vmm_pid = &DefaultVmmPid;
    if (ops->version == nullptr) ops->version = &DefaultVersion;
    // One way to say "not supported": NULL. The SDK fills every slot and lets
    // the capability bit decide, so a slot without its bit is dropped here.
    if (!(d->capabilities & EZONE_CAP_GUEST_MEMORY)) ops->guest_memory = nullptr;
    if (!(d->capabilities & EZONE_CAP_SNAPSHOT)) ops->save_snapshot = nullptr;
    view->vmm = ops;
  }
  if (d->kind == EZONE_KIND_FAULT && d->fault != nullptr) {
    view->fault = CopyCovered(d->fault, d->fault->struct_size);
  }
  return view;
}

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
  // Minor versions only append: the structs must be at least as large as in
  // the minor the plugin declares (and never smaller than in 1.0); anything
  // past what this core knows is not read.
  const MinSizes min = MinSizesFor(d->abi_minor);
  CheckSize(path, "descriptor", d->struct_size, d->abi_minor, min.descriptor);
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
      if (ops == nullptr) {
        Fail(path, "invalid descriptor: VMM plugin '" + name + "' has no operation table");
      }
      CheckSize(path, "VMM ops", ops->struct_size, d->abi_minor, min.vmm_ops);
      std::string missing;
      if (!ops->create) missing += " create";
      if (!ops->send_control) missing += " send_control";
      if (!ops->destroy) missing += " destroy";
      // A capability promises its op: NULL, or an op the struct does not
      // reach, would make the core call nothing.
      if ((d->capabilities & EZONE_CAP_GUEST_MEMORY) &&
          !(EZONE_HAS_FIELD(ops, ezone_vmm_ops, guest_memory) && ops->guest_memory)) {
        missing += " guest_memory (EZONE_CAP_GUEST_MEMORY)";
      }
      if ((d->capabilities & EZONE_CAP_SNAPSHOT) &&
          !(EZONE_HAS_FIELD(ops, ezone_vmm_ops, save_snapshot) && ops->save_snapshot)) {
        missing += " save_snapshot (EZONE_CAP_SNAPSHOT)";
      }
      if (!missing.empty()) {
        Fail(path, "invalid descriptor: VMM plugin '" + name +
                       "' lacks required operations:" + missing);
      }
      break;
    }
    case EZONE_KIND_FAULT: {
      if (d->fault == nullptr) {
        Fail(path, "invalid descriptor: fault plugin '" + name + "' has no operation table");
      }
      CheckSize(path, "fault ops", d->fault->struct_size, d->abi_minor, min.fault_ops);
      if (!d->fault->fire) {
        Fail(path, "invalid descriptor: fault plugin '" + name +
                       "' lacks required operations: fire");
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
  return Plugin{path, CoreView(descriptor), descriptor};
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
