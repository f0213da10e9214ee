#include "boot_image.h"

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "build_config.h"

namespace ezone {

namespace fs = std::filesystem;

BootImage FindBootImage(const std::vector<fs::path>& candidates, const BootImageLayout& layout) {
  BootImage image;
  for (const fs::path& dir : candidates) {
    std::error_code ec;
    if (!fs::exists(dir / layout.kernel, ec) || !fs::exists(dir / layout.initramfs, ec)) continue;
    image.kernel = dir / layout.kernel;
    image.initramfs = dir / layout.initramfs;
    image.manifest = dir / layout.manifest;
    try {
      std::ifstream in(image.manifest);
      auto manifest = nlohmann::json::parse(in);
      for (auto& [key, value] : manifest.items()) {
        image.properties[layout.property_prefix + key] =
            value.is_string() ? value.get<std::string>() : value.dump();
      }
    } catch (const std::exception& e) {
      image.properties[layout.property_prefix + "manifest_error"] =
          image.manifest.string() + ": " + e.what();
    }
    return image;
  }
  std::string searched;
  for (const auto& c : candidates) searched += (searched.empty() ? "" : ", ") + c.string();
  image.missing = layout.what + " not found (" + layout.kernel + " and " + layout.initramfs +
                  " in: " + searched + "); " + layout.how_to_build;
  return image;
}

std::vector<fs::path> BootImageDirs(const char* env_var, const char* install_relative,
                                    const char* build_dir) {
  // A directory named in the environment is the user's choice: no fallback
  // that would hide a wrong one.
  if (const char* env = std::getenv(env_var)) return {fs::path(env)};
  std::string installed = InstallTreeDir(install_relative);
  return {installed.empty() ? fs::path(build_dir) : fs::path(installed)};
}

}  // namespace ezone
