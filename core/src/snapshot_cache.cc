#include "snapshot_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ezone {

namespace fs = std::filesystem;

fs::path CacheDir() {
  if (const char* env = std::getenv("EZONE_CACHE_DIR"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return fs::path(xdg) / "ezone";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/tmp") / ".cache" / "ezone";
}

fs::path SnapshotPath(const std::string& key) {
  char name[32];
  snprintf(name, sizeof name, "%016zx.vmstate", std::hash<std::string>{}(key));
  return CacheDir() / "snapshots" / name;
}

bool EnsureSnapshot(const fs::path& path, const std::function<bool(std::string*)>& prepare,
                    std::string* error, bool* prepared) {
  *prepared = false;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  int lock = open((path.string() + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0 || flock(lock, LOCK_EX) != 0) {
    *error = "cannot lock the snapshot " + path.string() + ": " + std::strerror(errno);
    if (lock >= 0) close(lock);
    return false;
  }
  bool ok = true;
  if (!fs::exists(path, ec)) {
    *prepared = true;
    ok = prepare(error);
  }
  close(lock);
  return ok;
}

}  // namespace ezone
