// A stand-in for v3vee.ko, behind the plugin's DeviceIo: it checks the
// request numbers and the structures the plugin passes, unpacks the image
// it is given (ReadPackedImage) and checks it has the com1/com2 streams and
// the boot CD, keeps guests in Palacios's run states (a VM is freed only
// when stopped or in error), serves each stream over a socketpair, and can
// fail any call. Tests that use it say "WithFakeDevice" in their names.
#ifndef EZONE_PLUGINS_VMM_PALACIOS_TESTS_FAKE_V3VEE_H_
#define EZONE_PLUGINS_VMM_PALACIOS_TESTS_FAKE_V3VEE_H_

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <pugixml.hpp>
#include <set>
#include <string>
#include <vector>

#include "image_reader.h"
#include "palacios_device.h"

namespace ezone::palacios::testing {

class FakeV3vee : public DeviceIo {
 public:
  struct Guest {
    std::string name;
    std::string state = "stopped";  // Palacios: created VMs are stopped
    std::string xml;
    std::string boot_file;
    std::set<std::string> stream_names;  // from the XML's CHAR_STREAMs
    std::map<std::string, int> peers;    // stream name -> the fake's end
  };

  Paths paths;
  // Every call, in order: "open /dev/v3vee", "ioctl 12", "close vm0", ...
  std::vector<std::string> log;
  // Protocol violations the fake saw (a test expects none).
  std::vector<std::string> violations;
  std::map<int, Guest> guests;
  // Free bytes reported in v3-mem0; unset: no v3-mem file at all.
  std::optional<uint64_t> free_memory = uint64_t{1} << 30;
  std::vector<MemRegionArg> added_memory;
  bool has_proc = true;
  bool control_exists = true;
  // The nth (1-based) call of a request fails with errno.
  struct Failure {
    int nth;
    int error;
  };
  std::map<unsigned long, Failure> fail_ioctl;
  std::map<std::string, int> fail_open;  // path -> errno
  int vm_node_missing_opens = 0;         // ENOENT this many times first

  ~FakeV3vee() override {
    for (auto& [fd, info] : fds_) {
      if (info.kind == Kind::kStream) close(fd);
    }
    for (auto& [i, g] : guests) {
      for (auto& [n, peer] : g.peers) close(peer);
    }
  }

  bool Exists(const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    if (path == paths.control) return control_exists;
    if (path == paths.proc || path == paths.proc + "/v3-guests") return has_proc;
    return false;
  }

  int Open(const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    log.push_back("open " + path);
    if (auto it = fail_open.find(path); it != fail_open.end()) return Fail(it->second);
    if (path == paths.control) {
      if (!control_exists) return Fail(ENOENT);
      return NewFd({Kind::kControl, -1, ""});
    }
    if (path.rfind(paths.vm_prefix, 0) == 0) {
      int index = std::atoi(path.c_str() + paths.vm_prefix.size());
      if (!guests.count(index)) return Fail(ENOENT);
      if (vm_node_missing_opens > 0) {
        --vm_node_missing_opens;
        return Fail(ENOENT);
      }
      return NewFd({Kind::kVm, index, ""});
    }
    return Fail(ENOENT);
  }

  int Ioctl(int fd, unsigned long request, unsigned long arg) override {
    std::lock_guard<std::mutex> l(mu_);
    log.push_back("ioctl " + std::to_string(request));
    auto it = fds_.find(fd);
    if (it == fds_.end()) {
      violations.push_back("ioctl " + std::to_string(request) + " on an fd the fake did not give");
      return Fail(EBADF);
    }
    FdInfo info = it->second;
    if (auto f = fail_ioctl.find(request); f != fail_ioctl.end() && --f->second.nth == 0) {
      return Fail(f->second.error);
    }
    if (info.kind == Kind::kControl) return ControlIoctl(request, arg);
    if (info.kind == Kind::kVm) return VmIoctl(info.index, request, arg);
    violations.push_back("ioctl on a stream fd");
    return Fail(ENOTTY);
  }

  void Close(int fd) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = fds_.find(fd);
    if (it == fds_.end()) {
      violations.push_back("close of an fd the fake did not give");
      return;
    }
    FdInfo info = it->second;
    log.push_back(info.kind == Kind::kControl ? "close control"
                  : info.kind == Kind::kVm   ? "close vm" + std::to_string(info.index)
                                             : "close " + info.stream);
    if (info.kind == Kind::kStream) close(fd);
    fds_.erase(it);
  }

  std::optional<std::string> ReadText(const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    if (!has_proc) return std::nullopt;
    if (path == paths.proc + "/v3-guests") {
      std::string text;
      for (auto& [i, g] : guests) {
        text += g.name + "\t/dev/v3-vm" + std::to_string(i) + "\t" + g.state +
                "\t1 vcores\t1 regions\t268435456 mem\tgeneral\n";
      }
      return text;
    }
    if (path == paths.proc + "/v3-mem0" && free_memory) {
      return "DUMP OF BUDDY MEMORY ZONE:\n  Zone Max Order=28, Min Order=12\n 1 memory pools\n"
             "    Base Addr=0x40000000, order=30, size=1073741824, free=" +
             std::to_string(*free_memory) + "\n";
    }
    return std::nullopt;
  }

  std::vector<std::string> List(const std::string& dir) override {
    std::lock_guard<std::mutex> l(mu_);
    if (!has_proc || dir != paths.proc) return {};
    std::vector<std::string> names = {".", "..", "v3-guests", "v3-info"};
    if (free_memory) names.push_back("v3-mem0");
    return names;
  }

  // The guest side of a stream.
  void GuestWrites(int index, const std::string& stream, std::string_view bytes) {
    int peer = Peer(index, stream);
    ASSERT_GE(peer, 0) << stream << " is not connected";
    ASSERT_EQ(write(peer, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  std::string GuestReads(int index, const std::string& stream, size_t size) {
    int peer = Peer(index, stream);
    std::string out;
    char buf[256];
    while (peer >= 0 && out.size() < size) {
      ssize_t n = read(peer, buf, std::min(sizeof buf, size - out.size()));
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  void SetState(int index, const std::string& state) {
    std::lock_guard<std::mutex> l(mu_);
    guests.at(index).state = state;
  }

  // What is still held: open fds and guests not freed. "" when nothing.
  std::string LeftOver() {
    std::lock_guard<std::mutex> l(mu_);
    std::string out;
    for (auto& [fd, info] : fds_) out += "open fd (kind " + std::to_string(int(info.kind)) + "); ";
    for (auto& [i, g] : guests) out += "guest " + std::to_string(i) + " (" + g.name + ") not freed; ";
    return out;
  }
  bool Logged(const std::string& entry) {
    std::lock_guard<std::mutex> l(mu_);
    return std::find(log.begin(), log.end(), entry) != log.end();
  }

 private:
  enum class Kind { kControl, kVm, kStream };
  struct FdInfo {
    Kind kind;
    int index;
    std::string stream;
  };

  int Fail(int error) {
    errno = error;
    return -1;
  }
  int NewFd(FdInfo info) {
    int fd = next_fd_++;
    fds_[fd] = info;
    return fd;
  }
  int Peer(int index, const std::string& stream) {
    std::lock_guard<std::mutex> l(mu_);
    auto g = guests.find(index);
    if (g == guests.end()) return -1;
    auto p = g->second.peers.find(stream);
    return p == g->second.peers.end() ? -1 : p->second;
  }

  int ControlIoctl(unsigned long request, unsigned long arg) {
    switch (request) {
      case kCreateGuest: {
        const auto* img = reinterpret_cast<const GuestImageArg*>(arg);
        if (img->size == 0 || img->guest_data == nullptr) {
          violations.push_back("create: empty image");
          return Fail(EFAULT);
        }
        if (strnlen(img->name, kNameLen) == kNameLen) violations.push_back("create: name not terminated");
        Guest g;
        g.name = img->name;
        std::string_view image(static_cast<const char*>(img->guest_data), img->size);
        try {
          ReadImage r = ReadPackedImage(image);
          if (r.end != image.size()) violations.push_back("create: size is not the image's end");
          g.xml = r.xml;
          pugi::xml_document doc;
          if (!doc.load_string(r.xml.c_str())) throw std::runtime_error("XML does not parse");
          for (auto d : doc.select_nodes("/vm/devices/device[@class='CHAR_STREAM']")) {
            g.stream_names.insert(d.node().attribute("name").value());
          }
          auto file = doc.select_node("/vm/files/file").node();
          size_t index = file.attribute("index").as_uint(99);
          if (index >= r.files.size()) throw std::runtime_error("file index not in the table");
          g.boot_file = std::string(r.files[index].data);
        } catch (const std::exception& e) {
          violations.push_back(std::string("create: bad image: ") + e.what());
          return Fail(EPERM);  // the module returns -1
        }
        int index = next_guest_++;
        guests[index] = g;
        return index;
      }
      case kFreeGuest: {
        int index = static_cast<int>(arg);
        auto g = guests.find(index);
        if (g == guests.end()) {
          violations.push_back("free of an unknown guest " + std::to_string(index));
          return Fail(EPERM);
        }
        if (g->second.state != "stopped" && g->second.state != "ERROR") {
          violations.push_back("free of a " + g->second.state + " guest");
          return Fail(EPERM);  // "Tried to Free VM in invalid runstate"
        }
        for (auto& [fd, info] : fds_) {
          if (info.index == index && info.kind != Kind::kControl) {
            violations.push_back("free while an fd of the guest is open (" +
                                 (info.stream.empty() ? "vm" : info.stream) + ")");
          }
        }
        for (auto& [n, peer] : g->second.peers) close(peer);
        guests.erase(g);
        return 0;
      }
      case kAddMemory: {
        added_memory.push_back(*reinterpret_cast<const MemRegionArg*>(arg));
        *free_memory += added_memory.back().num_pages * kPageSize;
        return 0;
      }
      default:
        return Fail(EINVAL);  // main.c: "Unhandled global ctrl cmd"
    }
  }

  int VmIoctl(int index, unsigned long request, unsigned long arg) {
    auto gi = guests.find(index);
    if (gi == guests.end()) {
      violations.push_back("ioctl on a freed guest");
      return Fail(ENODEV);
    }
    Guest& g = gi->second;
    auto transition = [&](const char* from, const char* to) {
      if (g.state != from) {
        violations.push_back("ioctl " + std::to_string(request) + " on a " + g.state + " guest");
        return Fail(EPERM);
      }
      g.state = to;
      return 0;
    };
    switch (request) {
      case kVmLaunch:
        return transition("stopped", "running");
      case kVmStop:
        return transition("running", "stopped");
      case kVmPause:
        return transition("running", "paused");
      case kVmContinue:
        return transition("paused", "running");
      case kVmStreamConnect: {
        // The module copies 128 bytes from the argument.
        std::string name(reinterpret_cast<const char*>(arg), strnlen(reinterpret_cast<const char*>(arg), kNameLen));
        log.back() += " " + name;
        if (!g.stream_names.count(name)) return Fail(EFAULT);  // "Could not find stream"
        if (g.peers.count(name)) return Fail(EFAULT);          // "already connected"
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return Fail(errno);
        // Palacios's stream fds never block: EWOULDBLOCK when empty/full.
        fcntl(sv[0], F_SETFL, O_NONBLOCK);
        g.peers[name] = sv[1];
        fds_[sv[0]] = {Kind::kStream, index, name};
        return sv[0];
      }
      default:
        return Fail(EINVAL);
    }
  }

  std::mutex mu_;
  std::map<int, FdInfo> fds_;
  int next_fd_ = 100000;  // never a real fd
  int next_guest_ = 0;
};

}  // namespace ezone::palacios::testing

#endif  // EZONE_PLUGINS_VMM_PALACIOS_TESTS_FAKE_V3VEE_H_
