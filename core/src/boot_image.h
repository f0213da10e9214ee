// A bootable image on disk: a kernel, an initramfs and a JSON manifest of
// versions, looked up in a list of directories. The guest image (guest/) and
// the nested host image (nested-host/) are both found this way.
#ifndef EZONE_CORE_BOOT_IMAGE_H_
#define EZONE_CORE_BOOT_IMAGE_H_

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ezone {

// How loud the guest kernel boots. kQuiet ("quiet") only for an agent that
// turns the console up again before READY (protocol 2, guest/agent/
// PROTOCOL.md): a boot's chatter costs seconds where each console byte is
// an exit to the VMM, and it is not what a check observes.
enum class BootVerbosity { kLoud, kQuiet };

struct BootImage {
  std::filesystem::path kernel, initramfs, manifest;
  std::map<std::string, std::string> properties;  // <prefix><manifest key>, for reports
  std::string missing;  // non-empty: why the image cannot be used
};

struct BootImageLayout {
  std::string kernel, initramfs, manifest;  // file names in the directory
  std::string property_prefix;              // e.g. "guest_"
  std::string what;                         // e.g. "guest image", for `missing`
  std::string how_to_build;                 // appended to `missing`
};

// The first of `candidates` holding the kernel and the initramfs; otherwise
// `missing` names every directory searched.
BootImage FindBootImage(const std::vector<std::filesystem::path>& candidates,
                        const BootImageLayout& layout);

// Where to look: $<env_var> alone if set; else the install tree's directory
// (relative to the executable) or, running from the build tree, build_dir.
std::vector<std::filesystem::path> BootImageDirs(const char* env_var, const char* install_relative,
                                                 const char* build_dir);

}  // namespace ezone

#endif  // EZONE_CORE_BOOT_IMAGE_H_
