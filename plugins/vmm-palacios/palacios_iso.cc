#include "palacios_iso.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "ezone/sdk.h"

extern char** environ;

namespace ezone::palacios {

namespace fs = std::filesystem;

namespace {

// Bumped whenever the ISO's layout or isolinux.cfg changes, so old cache
// entries are not reused.
constexpr std::string_view kLayoutVersion = "ezone-palacios-iso-1";

class Sha256 {
 public:
  void Update(std::string_view data) {
    for (unsigned char c : data) {
      block_[used_++] = c;
      if (used_ == 64) {
        Compress();
        used_ = 0;
      }
    }
    bits_ += static_cast<uint64_t>(data.size()) * 8;
  }
  std::string HexDigest() {
    uint64_t bits = bits_;
    block_[used_++] = 0x80;
    if (used_ > 56) {
      while (used_ < 64) block_[used_++] = 0;
      Compress();
      used_ = 0;
    }
    while (used_ < 56) block_[used_++] = 0;
    for (int i = 7; i >= 0; --i) block_[used_++] = static_cast<uint8_t>(bits >> (i * 8));
    Compress();
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (uint32_t v : h_) {
      for (int i = 28; i >= 0; i -= 4) out += kHex[(v >> i) & 0xf];
    }
    return out;
  }

 private:
  static uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
  void Compress() {
    static constexpr uint32_t kK[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = (uint32_t{block_[i * 4]} << 24) | (uint32_t{block_[i * 4 + 1]} << 16) |
             (uint32_t{block_[i * 4 + 2]} << 8) | uint32_t{block_[i * 4 + 3]};
    }
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = Rotr(w[i - 15], 7) ^ Rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = Rotr(w[i - 2], 17) ^ Rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6],
             h = h_[7];
    for (int i = 0; i < 64; ++i) {
      uint32_t t1 = h + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[i] + w[i];
      uint32_t t2 = (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a, h_[1] += b, h_[2] += c, h_[3] += d, h_[4] += e, h_[5] += f, h_[6] += g, h_[7] += h;
  }

  std::array<uint32_t, 8> h_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::array<uint8_t, 64> block_{};
  size_t used_ = 0;
  uint64_t bits_ = 0;
};


std::string EnvOr(const char* name, const char* fallback) {
  const char* v = getenv(name);
  return v && *v ? v : fallback;
}

std::string IsolinuxCfg() {
  std::string append = std::string(kCmdlinePlaceholder);
  append.resize(kCmdlineRegion, ' ');
  // Boots the one entry at once; nothing on the serial ports but the kernel.
  return "DEFAULT ezone\n"
         "PROMPT 0\n"
         "TIMEOUT 0\n"
         "LABEL ezone\n"
         "  LINUX /boot/vmlinuz\n"
         "  INITRD /boot/initrd.gz\n"
         "  APPEND " + append + "\n";
}

void WriteFile(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// Runs argv[0] with stdout and stderr captured; throws with its output when
// it fails or runs longer than `timeout`.
void RunTool(const std::vector<std::string>& args, std::chrono::seconds timeout) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe: " + std::string(strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  std::vector<char*> argv;
  std::vector<std::string> storage = args;
  for (auto& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    throw std::runtime_error("cannot run " + args[0] + ": " + strerror(rc));
  }
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[4096];
    ssize_t got = read(out[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (text.size() < 8192) text.append(buf, static_cast<size_t>(got));
  }
  close(out[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    throw std::runtime_error(args[0] + " ran longer than " + std::to_string(timeout.count()) +
                             " s and was killed");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(args[0] + " failed (status " + std::to_string(status) + "): " + text);
  }
}

// A partial cache file whose writer died is removed by the next writer.
void RemoveStalePartials(const fs::path& cache_dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(cache_dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() < 9 || name[0] != '.' || !name.ends_with(".partial")) continue;
    std::string stem = name.substr(0, name.size() - 8);
    size_t dot = stem.rfind('.');
    if (dot == std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::atol(stem.c_str() + dot + 1));
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) fs::remove(e.path(), ec);
  }
}

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  Sha256 h;
  h.Update(bytes);
  return h.HexDigest();
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string() + ": " + strerror(errno));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error("error reading " + path.string());
  return data;
}

std::optional<IsoTools> FindIsoTools(std::string* why) {
  IsoTools t;
  t.xorriso = ezone::sdk::FindProgram("xorriso");
  t.isolinux_bin = EnvOr("EZONE_ISOLINUX_BIN", "/usr/lib/ISOLINUX/isolinux.bin");
  t.ldlinux_c32 = EnvOr("EZONE_LDLINUX_C32", "/usr/lib/syslinux/modules/bios/ldlinux.c32");
  std::string missing;
  if (t.xorriso.empty()) missing += "xorriso not in PATH (package xorriso)";
  if (access(t.isolinux_bin.c_str(), R_OK) != 0) {
    missing += (missing.empty() ? "" : "; ") + t.isolinux_bin + " absent (package isolinux)";
  }
  if (access(t.ldlinux_c32.c_str(), R_OK) != 0) {
    missing += (missing.empty() ? "" : "; ") + t.ldlinux_c32 + " absent (package syslinux-common)";
  }
  if (!missing.empty()) {
    if (why) *why = "cannot build the boot ISO: " + missing;
    return std::nullopt;
  }
  return t;
}

fs::path DefaultCacheDir() {
  const char* xdg = getenv("XDG_CACHE_HOME");
  if (xdg && *xdg == '/') return fs::path(xdg) / "ezone" / "palacios";
  const char* home = getenv("HOME");
  return fs::path(home && *home ? home : "/tmp") / ".cache" / "ezone" / "palacios";
}

TempDir::TempDir(std::string_view tag) {
  std::error_code ec;
  fs::path base = fs::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string pattern =
      (base / ("ezone-" + std::to_string(getpid()) + "-" + std::string(tag) + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + strerror(errno));
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path CachedBootIso(const IsoTools& tools, const fs::path& kernel, const fs::path& initramfs,
                       const fs::path& cache_dir) {
  std::string cfg = IsolinuxCfg();
  std::string isolinux = ReadFile(tools.isolinux_bin);
  Sha256 key;
  for (std::string_view part :
       {kLayoutVersion, std::string_view(cfg), std::string_view(isolinux)}) {
    key.Update(Sha256Hex(part));
  }
  key.Update(Sha256Hex(ReadFile(tools.ldlinux_c32)));
  key.Update(Sha256Hex(ReadFile(kernel)));
  key.Update(Sha256Hex(ReadFile(initramfs)));
  std::string hex = key.HexDigest();
  fs::path iso = cache_dir / ("boot-" + hex + ".iso");
  std::error_code ec;
  if (fs::is_regular_file(iso, ec)) return iso;

  fs::create_directories(cache_dir, ec);
  if (ec) throw std::runtime_error("cannot create " + cache_dir.string() + ": " + ec.message());
  RemoveStalePartials(cache_dir);

  TempDir tmp("iso");
  // isolinux.bin is patched by -boot-info-table: give xorriso a copy.
  fs::create_directories(tmp.path() / "isolinux");
  WriteFile(tmp.path() / "isolinux" / "isolinux.bin", isolinux);
  fs::copy_file(tools.ldlinux_c32, tmp.path() / "isolinux" / "ldlinux.c32");
  WriteFile(tmp.path() / "isolinux" / "isolinux.cfg", cfg);
  fs::path out = tmp.path() / "boot.iso";
  RunTool({tools.xorriso, "-as", "mkisofs", "-quiet", "-o", out.string(), "-R", "-J", "-V",
           "EZONE_PALACIOS", "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
           "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", "-graft-points",
           "isolinux=" + (tmp.path() / "isolinux").string(), "boot/vmlinuz=" + kernel.string(),
           "boot/initrd.gz=" + initramfs.string()},
          std::chrono::seconds(120));

  // Copy, then rename: readers see a whole ISO or none. A writer killed
  // halfway leaves only a .partial that the next writer removes.
  fs::path partial = cache_dir / ("." + iso.filename().string() + "." + std::to_string(getpid()) + ".partial");
  fs::copy_file(out, partial, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(partial, iso, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(partial, ignored);
    throw std::runtime_error("cannot store the boot ISO in " + cache_dir.string() + ": " + ec.message());
  }
  return iso;
}

void SetCommandLine(std::string& iso, std::string_view cmdline) {
  if (cmdline.size() > kCmdlineRegion) {
    throw std::invalid_argument("kernel command line of " + std::to_string(cmdline.size()) +
                                " bytes; the Palacios boot ISO has room for " +
                                std::to_string(kCmdlineRegion));
  }
  if (cmdline.find_first_of("\r\n") != std::string_view::npos) {
    throw std::invalid_argument("kernel command line with a line break");
  }
  size_t at = iso.find(kCmdlinePlaceholder);
  if (at == std::string::npos || iso.find(kCmdlinePlaceholder, at + 1) != std::string::npos ||
      at + kCmdlineRegion > iso.size()) {
    throw std::runtime_error("the boot ISO has no single command line placeholder");
  }
  size_t pad = iso.find_first_not_of(' ', at + kCmdlinePlaceholder.size());
  if (pad != at + kCmdlineRegion) {
    throw std::runtime_error("the boot ISO's command line region is damaged");
  }
  iso.replace(at, cmdline.size(), cmdline);
  std::fill(iso.begin() + static_cast<std::ptrdiff_t>(at + cmdline.size()),
            iso.begin() + static_cast<std::ptrdiff_t>(at + kCmdlineRegion), ' ');
}

}  // namespace ezone::palacios
