// Snapshot mode's saved states: one per guest image, VMM build, options and
// guest settings, under $EZONE_CACHE_DIR/snapshots (else
// $XDG_CACHE_HOME/ezone/snapshots, else ~/.cache/ezone/snapshots). A lock
// file makes parallel checks (ctest -j) prepare each state once.
#ifndef EZONE_CORE_SNAPSHOT_CACHE_H_
#define EZONE_CORE_SNAPSHOT_CACHE_H_

#include <filesystem>
#include <functional>
#include <string>

namespace ezone {

// ezone's cache root (the kernel debs live under it too).
std::filesystem::path CacheDir();

// The state file for everything `key` names (hashed).
std::filesystem::path SnapshotPath(const std::string& key);

// Calls prepare(path, error) under the state's lock unless the state exists
// already. False with *error set when the lock or prepare failed.
// *prepared says whether this call made it.
bool EnsureSnapshot(const std::filesystem::path& path,
                    const std::function<bool(std::string* error)>& prepare, std::string* error,
                    bool* prepared);

}  // namespace ezone

#endif  // EZONE_CORE_SNAPSHOT_CACHE_H_
