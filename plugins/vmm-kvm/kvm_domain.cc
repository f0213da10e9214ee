#include "kvm_domain.h"

#include <fcntl.h>
#include <libvirt/virterror.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <pugixml.hpp>
#include <sstream>
#include <thread>

namespace ezone::kvm {
namespace {

pugi::xml_node Child(pugi::xml_node parent, const char* name, const std::string& text = {}) {
  pugi::xml_node node = parent.append_child(name);
  if (!text.empty()) node.text().set(text.c_str());
  return node;
}

void Attr(pugi::xml_node node, const char* name, const std::string& value) {
  node.append_attribute(name).set_value(value.c_str());
}

// libvirt prints every error to stderr unless told otherwise; the plugin
// reports them itself, with context.
void QuietErrors(void*, virErrorPtr) {}

// libvirt's src/qemu/qemu_saveimage.h (version 2, host byte order).
constexpr char kSaveMagic[] = "LibvirtQemudSave";
constexpr size_t kSaveMagicLen = sizeof kSaveMagic - 1;
constexpr size_t kSaveHeaderLen = kSaveMagicLen + 4 * 19;
constexpr size_t kCookieOffsetAt = kSaveMagicLen + 4 * 4;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

struct SaveImage {
  unsigned char header[kSaveHeaderLen];
  uint32_t data_len = 0, cookie_offset = 0;
  std::string data;  // data_len bytes: XML, NUL, cookie, NUL, padding
  uint64_t size = 0;
};

uint32_t U32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

SaveImage ReadSaveImage(int fd, const std::string& path) {
  SaveImage img;
  struct stat st{};
  if (fstat(fd, &st) != 0) throw std::runtime_error(Errno("stat " + path));
  img.size = static_cast<uint64_t>(st.st_size);
  if (pread(fd, img.header, kSaveHeaderLen, 0) != static_cast<ssize_t>(kSaveHeaderLen) ||
      std::memcmp(img.header, kSaveMagic, kSaveMagicLen) != 0 ||
      U32(img.header + kSaveMagicLen) != 2) {
    throw std::runtime_error(path + " is not a complete libvirt qemu save image (version 2)");
  }
  img.data_len = U32(img.header + kSaveMagicLen + 4);
  img.cookie_offset = U32(img.header + kCookieOffsetAt);
  if (img.data_len > (16u << 20) || kSaveHeaderLen + img.data_len > img.size ||
      img.cookie_offset >= img.data_len) {
    throw std::runtime_error(path + ": implausible save image header");
  }
  img.data.resize(img.data_len);
  if (pread(fd, img.data.data(), img.data_len, kSaveHeaderLen) != static_cast<ssize_t>(img.data_len)) {
    throw std::runtime_error(Errno("reading " + path));
  }
  return img;
}

int OpenOrThrow(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(Errno("opening the saved state " + path));
  return fd;
}

}  // namespace

std::string SaveImageXml(const std::string& in_path) {
  int fd = OpenOrThrow(in_path);
  try {
    SaveImage img = ReadSaveImage(fd, in_path);
    close(fd);
    return img.data.substr(0, img.data.find('\0'));
  } catch (...) {
    close(fd);
    throw;
  }
}

void CopySaveImageRenamed(const std::string& in_path, int out_fd, const std::string& name) {
  int fd = OpenOrThrow(in_path);
  try {
    SaveImage img = ReadSaveImage(fd, in_path);
    std::string xml = img.data.substr(0, img.data.find('\0'));
    std::string cookie;
    if (img.cookie_offset > 0) {
      cookie = img.data.substr(img.cookie_offset);
      cookie = cookie.substr(0, cookie.find('\0'));
    }
    pugi::xml_document doc;
    pugi::xml_node domain;
    if (!doc.load_string(xml.c_str(), pugi::parse_default | pugi::parse_declaration) ||
        !(domain = doc.child("domain")) || !domain.child("name")) {
      throw std::runtime_error(in_path + ": the saved domain XML does not parse");
    }
    domain.child("name").text().set(name.c_str());
    domain.remove_child("uuid");
    std::ostringstream out;
    doc.save(out, "  ", pugi::format_default | pugi::format_no_declaration);
    std::string data = out.str();
    data.push_back('\0');
    uint32_t cookie_offset = 0;
    if (!cookie.empty()) {
      cookie_offset = static_cast<uint32_t>(data.size());
      data += cookie;
      data.push_back('\0');
    }
    if (data.size() > img.data_len) {
      throw std::runtime_error(in_path + ": the renamed domain XML does not fit its save image");
    }
    data.resize(img.data_len, '\0');
    std::memcpy(img.header + kCookieOffsetAt, &cookie_offset, 4);
    auto write_all = [&](const char* p, size_t n) {
      while (n > 0) {
        ssize_t w = write(out_fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw std::runtime_error(Errno("writing the restore image"));
        p += w;
        n -= static_cast<size_t>(w);
      }
    };
    write_all(reinterpret_cast<const char*>(img.header), kSaveHeaderLen);
    write_all(data.data(), data.size());
    off_t offset = static_cast<off_t>(kSaveHeaderLen + img.data_len);
    while (static_cast<uint64_t>(offset) < img.size) {
      ssize_t n = sendfile(out_fd, fd, &offset, img.size - static_cast<uint64_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error(Errno("copying the saved state " + in_path));
    }
    close(fd);
  } catch (...) {
    close(fd);
    throw;
  }
}

namespace {

// A Xen PVH domU for libvirt's libxl driver (the xen plugin): the same
// guest kernel and initramfs as every other row, loaded by Xen's toolstack
// directly (no firmware, no device model). HVM was tried first and left:
// under TCG its boot through hvmloader, SeaBIOS and QEMU's linuxboot ROM
// (QEMU as Xen's device model in dom0) had not reached the kernel's console
// after 5 minutes. A PVH domU has no UARTs: its console is Xen's PV console
// (hvc0, xenconsoled), and the agent shares it (ezone.ctl=hvc0; the plugin
// splits the agent's lines from the kernel's), because libvirt 9.0's libxl
// driver opens no second console (no PV console but the first, no channel;
// and it crashes, a NULL write in its serial_list setup, on two <serial>
// devices of an HVM domain). libxl has no pvpanic device: a guest kernel
// crash shows on the console, and its panic ends the domain (on_crash,
// on_reboot: destroy).
std::string BuildXenDomainXml(const DomainConfig& c) {
  pugi::xml_document doc;
  pugi::xml_node domain = doc.append_child("domain");
  Attr(domain, "type", "xen");
  Child(domain, "name", c.name);
  Attr(Child(domain, "memory", std::to_string(c.memory_mib)), "unit", "MiB");
  Child(domain, "vcpu", std::to_string(c.vcpus));
  pugi::xml_node os = Child(domain, "os");
  pugi::xml_node type = Child(os, "type", "xenpvh");
  Attr(type, "arch", "x86_64");
  Attr(type, "machine", c.machine.empty() ? "xenpvh" : c.machine);
  Child(os, "kernel", c.kernel);
  Child(os, "initrd", c.initrd);
  Child(os, "cmdline", c.cmdline);
  pugi::xml_node features = Child(domain, "features");
  Child(features, "acpi");
  Child(domain, "on_poweroff", "destroy");
  Child(domain, "on_reboot", "destroy");
  Child(domain, "on_crash", "destroy");
  pugi::xml_node devices = Child(domain, "devices");
  if (!c.emulator.empty()) Child(devices, "emulator", c.emulator);
  pugi::xml_node console = Child(devices, "console");  // hvc0: console and agent
  Attr(console, "type", "pty");
  pugi::xml_node target = Child(console, "target");
  Attr(target, "type", "xen");
  Attr(target, "port", "0");
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_default | pugi::format_no_declaration);
  return out.str();
}

}  // namespace

std::string BuildDomainXml(const DomainConfig& c) {
  if (c.domain_type == "xen") return BuildXenDomainXml(c);
  pugi::xml_document doc;
  pugi::xml_node domain = doc.append_child("domain");
  Attr(domain, "type", c.domain_type);
  Child(domain, "name", c.name);
  Attr(Child(domain, "memory", std::to_string(c.memory_mib)), "unit", "MiB");
  Child(domain, "vcpu", std::to_string(c.vcpus));

  pugi::xml_node os = Child(domain, "os");
  pugi::xml_node type = Child(os, "type", "hvm");
  Attr(type, "arch", "x86_64");
  Attr(type, "machine", c.machine);
  Child(os, "kernel", c.kernel);
  Child(os, "initrd", c.initrd);
  Child(os, "cmdline", c.cmdline);

  // Without <acpi/> libvirt passes -no-acpi, and the guest's pvpanic driver
  // finds its device through ACPI (QEMU0001).
  Child(Child(domain, "features"), "acpi");
  std::string cpu_mode = c.cpu_mode;
  if (cpu_mode.empty()) cpu_mode = c.domain_type == "kvm" ? "host-passthrough" : "maximum";
  Attr(Child(domain, "cpu"), "mode", cpu_mode);

  // The guest's end is the end of the domain: a transient domain that stops
  // is gone, like the qemu plugin's process that exits. destroy rather than
  // preserve on crash, because the evidence (console, the CRASHED event) is
  // already streamed out, and a preserved domain would hold its qemu until
  // teardown for nothing; the core's verdict does not depend on either.
  Child(domain, "on_poweroff", "destroy");
  Child(domain, "on_reboot", "destroy");
  Child(domain, "on_crash", "destroy");

  // No relabeling: libvirt would otherwise chown the shared guest image in
  // the build tree to the qemu user. The image only needs to be readable.
  pugi::xml_node seclabel = Child(domain, "seclabel");
  Attr(seclabel, "type", "none");
  Attr(seclabel, "model", "dac");

  pugi::xml_node devices = Child(domain, "devices");
  if (!c.emulator.empty()) Child(devices, "emulator", c.emulator);
  for (int port : {0, 1}) {  // ttyS0: kernel console, ttyS1: agent
    pugi::xml_node serial = Child(devices, "serial");
    Attr(serial, "type", "pty");
    Attr(Child(serial, "target"), "port", std::to_string(port));
  }
  pugi::xml_node panic = Child(devices, "panic");
  Attr(panic, "model", "isa");
  pugi::xml_node usb = Child(devices, "controller");
  Attr(usb, "type", "usb");
  Attr(usb, "model", "none");
  Attr(Child(devices, "memballoon"), "model", "none");

  std::ostringstream out;
  doc.save(out, "  ", pugi::format_default | pugi::format_no_declaration);
  return out.str();
}

bool IsLocalUri(const std::string& uri) {
  size_t scheme_end = uri.find("://");
  if (scheme_end == std::string::npos) return false;
  std::string scheme = uri.substr(0, scheme_end);
  size_t plus = scheme.find('+');
  if (plus != std::string::npos && scheme.substr(plus + 1) != "unix") return false;
  size_t host_start = scheme_end + 3;
  size_t host_end = uri.find_first_of("/?", host_start);
  std::string host = uri.substr(host_start, host_end == std::string::npos ? std::string::npos
                                                                           : host_end - host_start);
  return host.empty() || host == "localhost";
}

std::string LastError(const std::string& fallback) {
  const virError* e = virGetLastError();
  if (e == nullptr || e->message == nullptr) return fallback;
  return e->message;
}

ConnectResult Connect(const std::string& uri) {
  EnsureEventLoop();
  ConnectResult r;
  virResetLastError();
  r.conn = virConnectOpenAuth(uri.c_str(), virConnectAuthPtrDefault, 0);
  if (r.conn != nullptr) {
    virConnSetErrorFunc(r.conn, nullptr, &QuietErrors);
    return r;
  }
  const virError* e = virGetLastError();
  std::string why = LastError();
  // A socket that is not there, a refused connection, an ssh that cannot
  // reach the node: the daemon is not reachable. Anything else (no driver
  // for the scheme, a path the driver does not know, an unparsable URI) is
  // the URI's fault.
  r.unreachable = e != nullptr && e->code == VIR_ERR_SYSTEM_ERROR && e->domain == VIR_FROM_RPC;
  if (r.unreachable) {
    r.error = "libvirtd not reachable at " + uri + ": " + why +
              "; start it with scripts/start-libvirtd (or: virtlogd -d && libvirtd -d; "
              "systemctl start libvirtd where systemd runs)";
  } else {
    r.error = "bad libvirt URI '" + uri + "': " + why;
  }
  return r;
}

void EnsureEventLoop() {
  static std::once_flag once;
  std::call_once(once, [] {
    virSetErrorFunc(nullptr, &QuietErrors);
    virEventRegisterDefaultImpl();
    std::thread([] {
      for (;;) {
        if (virEventRunDefaultImpl() < 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }).detach();
  });
}

}  // namespace ezone::kvm
