#include "palacios_device.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ezone/sdk.h"

namespace ezone::palacios {

namespace {

class SystemIo : public DeviceIo {
 public:
  bool Exists(const std::string& path) override {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
  }
  int Open(const std::string& path) override { return open(path.c_str(), O_RDONLY | O_CLOEXEC); }
  int Ioctl(int fd, unsigned long request, unsigned long arg) override {
    int r;
    do {
      r = ioctl(fd, request, arg);
    } while (r < 0 && errno == EINTR);
    return r;
  }
  void Close(int fd) override {
    if (fd >= 0) close(fd);
  }
  std::optional<std::string> ReadText(const std::string& path) override {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::vector<std::string> List(const std::string& dir) override {
    std::vector<std::string> names;
    DIR* d = opendir(dir.c_str());
    if (!d) return names;
    while (dirent* e = readdir(d)) names.emplace_back(e->d_name);
    closedir(d);
    return names;
  }
};

std::string Mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

DeviceIo& SystemDeviceIo() {
  static SystemIo io;
  return io;
}

DeviceError::DeviceError(const std::string& what, int error)
    : std::runtime_error(what + ": " + std::strerror(error)), error_(error) {}

std::optional<uint64_t> FreePalaciosMemory(DeviceIo& io, const Paths& paths) {
  bool any = false;
  uint64_t free = 0;
  for (const std::string& name : io.List(paths.proc)) {
    if (name.rfind("v3-mem", 0) != 0) continue;
    std::optional<std::string> text = io.ReadText(paths.proc + "/" + name);
    if (!text) continue;
    any = true;
    // buddy.c: "    Base Addr=0x..., order=N, size=S, free=F" per pool, in bytes.
    for (size_t at = text->find("free="); at != std::string::npos;
         at = text->find("free=", at + 5)) {
      free += std::strtoull(text->c_str() + at + 5, nullptr, 10);
    }
  }
  if (!any) return std::nullopt;
  return free;
}

std::string GuestState(DeviceIo& io, const Paths& paths, int index) {
  std::optional<std::string> text = io.ReadText(paths.proc + "/v3-guests");
  if (!text) return "";
  // main.c: "<name>\t/dev/v3-vm<N>\t<state>\t<n> vcores\t..."
  std::string device = "/dev/v3-vm" + std::to_string(index);
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> fields;
    std::istringstream cols(line);
    std::string field;
    while (std::getline(cols, field, '\t')) fields.push_back(field);
    if (fields.size() >= 3 && fields[1] == device) return fields[2];
  }
  return "";
}

void ProbeHost(DeviceIo& io, const Paths& paths, uint64_t need_bytes, bool may_add_memory) {
  using ezone::sdk::Declined;
  if (!io.Exists(paths.control)) {
    throw Declined("Palacios: " + paths.control + " absent (v3vee.ko not loaded)");
  }
  int fd = io.Open(paths.control);
  if (fd < 0) {
    throw Declined("Palacios: cannot open " + paths.control + ": " + std::strerror(errno) +
                   " (Palacios's tools and ezone need read access to it, usually root)");
  }
  int r = io.Ioctl(fd, kUnusedRequest, 0);
  int error = errno;
  io.Close(fd);
  if (r < 0 && error == ENOTTY) {
    throw Declined("Palacios: " + paths.control +
                   " does not take Palacios's ioctls (ENOTTY): not v3vee.ko's control device, "
                   "or a version this plugin does not know");
  }
  if (!io.Exists(paths.proc) || !io.Exists(paths.proc + "/v3-guests")) {
    throw Declined("Palacios: " + paths.control + " present but " + paths.proc +
                   "/v3-guests missing: a v3vee.ko version this plugin does not know "
                   "(it speaks the devel branch's interface)");
  }
  if (may_add_memory) return;
  std::optional<uint64_t> free = FreePalaciosMemory(io, paths);
  if (!free) {
    throw Declined("Palacios: no memory pools in " + paths.proc +
                   " (no v3-mem* file): add memory with v3_mem");
  }
  if (*free < need_bytes) {
    throw Declined("Palacios: not enough memory added to Palacios: " + Mib(*free) + " free in " +
                   paths.proc + "/v3-mem*, a guest needs " + Mib(need_bytes) +
                   " (add memory with v3_mem, or vmm-options add-memory=1)");
  }
}

}  // namespace ezone::palacios
