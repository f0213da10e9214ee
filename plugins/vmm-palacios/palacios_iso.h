// The boot medium. Palacios boots a guest through its BIOS (no bzImage +
// initrd direct boot), so the kernel and initramfs go on an El Torito ISO
// with ISOLINUX, built by xorriso.
//
// The kernel command line carries a fresh nonce per boot, so it cannot be
// part of a cached ISO. The cached ISO (one per kernel + initramfs, keyed by
// content hash) instead has an APPEND line with a reserved region of
// kCmdlineRegion bytes that starts with kCmdlinePlaceholder; each boot
// writes its command line over that region in memory, padded with spaces.
// ISO 9660 stores file data uncompressed and contiguous, so the bytes of
// isolinux.cfg are in the image as they are on disk.
#ifndef EZONE_PLUGINS_VMM_PALACIOS_PALACIOS_ISO_H_
#define EZONE_PLUGINS_VMM_PALACIOS_PALACIOS_ISO_H_

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace ezone::palacios {

inline constexpr std::string_view kCmdlinePlaceholder = "@EZONE-PALACIOS-CMDLINE@";
inline constexpr size_t kCmdlineRegion = 1024;

// Debian 12 packages: xorriso, isolinux (isolinux.bin), syslinux-common
// (ldlinux.c32).
struct IsoTools {
  std::string xorriso;
  std::string isolinux_bin;
  std::string ldlinux_c32;
};

// Finds the tools (xorriso in PATH, the rest at Debian's paths; the
// environment variables EZONE_ISOLINUX_BIN and EZONE_LDLINUX_C32 override).
// On failure `why` says what is missing and which package has it.
std::optional<IsoTools> FindIsoTools(std::string* why);

// $XDG_CACHE_HOME/ezone/palacios, or ~/.cache/ezone/palacios.
std::filesystem::path DefaultCacheDir();

// The cached boot ISO for this kernel and initramfs, built first when it is
// not there. Temporary files live in a directory ezone-<pid>-iso-XXXXXX
// under the temp dir, removed on every path. Throws std::runtime_error.
std::filesystem::path CachedBootIso(const IsoTools& tools, const std::filesystem::path& kernel,
                                    const std::filesystem::path& initramfs,
                                    const std::filesystem::path& cache_dir);

// Writes `cmdline` over the reserved region of an ISO's bytes (exactly one
// placeholder must be there). Throws std::invalid_argument for a command
// line that does not fit or has a line break, std::runtime_error when the
// placeholder is missing or not unique.
void SetCommandLine(std::string& iso, std::string_view cmdline);

// The hex SHA-256 of a byte string (cache keys).
std::string Sha256Hex(std::string_view bytes);

// Reads a whole file; throws std::runtime_error naming it.
std::string ReadFile(const std::filesystem::path& path);

// A directory <temp>/ezone-<pid>-<tag>-XXXXXX, removed with its contents by
// the destructor.
class TempDir {
 public:
  explicit TempDir(std::string_view tag);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace ezone::palacios

#endif  // EZONE_PLUGINS_VMM_PALACIOS_PALACIOS_ISO_H_
