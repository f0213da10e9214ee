#include "build_config.h"

#include <filesystem>
#include <system_error>

namespace ezone {

std::string ExecutableDir() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

std::string InstallTreeDir(const char* relative) {
  std::string dir = ExecutableDir();
  std::error_code ec;
  if (dir.empty() || std::filesystem::equivalent(dir, kBuildBinDir, ec)) return "";
  return (std::filesystem::path(dir) / relative).lexically_normal().string();
}

}  // namespace ezone
