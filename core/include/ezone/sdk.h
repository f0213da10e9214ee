// The C++ layer of the ezone plugin SDK (header-only).
//
// A VMM plugin is a class with two static functions and a Vm subclass:
//
//   class MyVmm {
//    public:
//     static void Probe(const ezone::sdk::Options& options);  // throw Declined
//     static std::unique_ptr<ezone::sdk::Vm> Create(
//         const ezone::sdk::GuestSpec& spec, ezone::sdk::VmSink sink);
//   };
//   EZONE_VMM_PLUGIN(MyVmm, "myvmm", "1.0", "what it is", EZONE_CAP_PROCESS)
//
// A fault plugin is a class with a static variant table and Fire():
//
//   class MyFault {
//    public:
//     static constexpr ezone_fault_variant kVariants[] = {...};
//     static void Fire(std::string_view variant, const Options& options,
//                      ezone::sdk::FaultTarget& target);
//   };
//   EZONE_FAULT_PLUGIN(MyFault, "myfault", "1.0", "what it is")
//
// A fault talks to the guest's agent with target.AgentCall(command), whose
// AgentReply says ok / refused (ERR) / timed_out / vm_gone by status.
//
// The SDK keeps the ABI's minor-version rule (plugin_abi.h, "Versions") for
// its user: it reads a field the core appended only when the core's
// struct_size covers it, and leaves an optional op NULL when the plugin does
// not have it.
//
// The wrappers catch every exception: Declined becomes EZONE_DECLINED (the
// check is skipped with its message), anything else EZONE_FAILED (the check
// is an error). Nothing else crosses the C boundary.
#ifndef EZONE_SDK_H_
#define EZONE_SDK_H_

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "ezone/plugin_abi.h"

namespace ezone::sdk {

// An executable by name in PATH (an absolute or relative path is taken as
// it is), or "" when there is none: how VMM plugins find their VMM binary.
inline std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// "Cannot run here, because ..." -> the check is skipped with this reason.
class Declined : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Suite options for a VMM or fault: "key=value;key=value".
class Options {
 public:
  explicit Options(std::string_view text = {}) {
    while (!text.empty()) {
      size_t end = text.find(';');
      std::string_view item = text.substr(0, end);
      size_t eq = item.find('=');
      if (!item.empty()) {
        values_[std::string(item.substr(0, eq))] =
            eq == std::string_view::npos ? "" : std::string(item.substr(eq + 1));
      }
      if (end == std::string_view::npos) break;
      text.remove_prefix(end + 1);
    }
  }
  std::string Get(const std::string& key, std::string fallback = {}) const {
    auto it = values_.find(key);
    return it == values_.end() ? fallback : it->second;
  }
  bool Has(const std::string& key) const { return values_.count(key) != 0; }
  // A whole number; anything else is the suite author's mistake and throws
  // std::invalid_argument naming the key.
  uint64_t GetNumber(const std::string& key, uint64_t fallback) const {
    auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    const std::string& v = it->second;
    if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) {
      throw std::invalid_argument(key + " must be a whole number, not '" + v + "'");
    }
    return std::stoull(v);
  }
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

struct GuestSpec {
  std::string kernel;
  std::string initramfs;
  std::string cmdline;
  uint32_t memory_mib = 256;
  uint32_t vcpus = 1;
  std::string role;
  Options options;
  std::string restore_from;  // EZONE_CAP_SNAPSHOT: restore instead of boot
};

// Where a VM reports to the core. Cheap to copy; valid until the Vm is
// destroyed. Thread-safe: call from any thread.
class VmSink {
 public:
  explicit VmSink(const ezone_vm_sink& sink) : sink_(sink) {}
  void Console(std::string_view bytes) const {
    sink_.console(sink_.core, bytes.data(), bytes.size());
  }
  void Control(std::string_view bytes) const {
    sink_.control(sink_.core, bytes.data(), bytes.size());
  }
  void Event(ezone_vm_event event, const std::string& detail) const {
    sink_.event(sink_.core, event, detail.c_str());
  }

 private:
  ezone_vm_sink sink_;
};

// One running VM. The destructor must stop it and release everything.
class Vm {
 public:
  virtual ~Vm() = default;
  virtual void SendControl(std::string_view bytes) = 0;
  virtual int64_t Pid() const { return -1; }
  virtual std::string Version() const = 0;
  // EZONE_CAP_GUEST_MEMORY: guest-physical memory access. Throw Declined
  // when the VMM cannot (the default).
  virtual void GuestMemory(bool write, uint64_t guest_phys, void* buffer, size_t size) {
    (void)write, (void)guest_phys, (void)buffer, (void)size;
    throw Declined("this VMM has no guest memory access");
  }
  // EZONE_CAP_SNAPSHOT: save the whole VM state to `path`.
  virtual void SaveSnapshot(const std::string& path) {
    (void)path;
    throw Declined("this VMM cannot save snapshots");
  }
};

// Bytes in the form the agent's write/append take for <path> and <data>
// (guest/agent/PROTOCOL.md): printable ASCII as it is, backslash, newline,
// CR, tab and space escaped, any other byte as \xHH.
inline std::string AgentEscape(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case ' ': out += "\\s"; break;
      default:
        if (c > ' ' && c < 0x7f) {
          out += static_cast<char>(c);
        } else {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        }
    }
  }
  return out;
}

// The outcome of one agent command (see ezone_fault_target.agent_command).
struct AgentReply {
  ezone_status status = EZONE_FAILED;
  std::string text;  // after "OK "/"ERR ", or the core's explanation
  bool ok() const { return status == EZONE_OK; }
  // "ERR ...": the agent answered, and said no.
  bool refused() const { return status == EZONE_FAILED; }
  // No answer within the timeout (ABI 1.3; a 1.2 core says EZONE_FAILED).
  bool timed_out() const { return status == EZONE_TIMEOUT; }
  // The VM ended before the agent answered (ABI 1.3).
  bool vm_gone() const { return status == EZONE_VM_GONE; }
  // No answer for either reason: the guest, not the agent, decided.
  bool unanswered() const { return timed_out() || vm_gone(); }
};

// What a fault may do to its target.
class FaultTarget {
 public:
  explicit FaultTarget(const ezone_fault_target& target) : target_(target) {}
  // One agent command; every outcome is a status, nothing throws.
  AgentReply AgentCall(const std::string& command, uint32_t timeout_ms = 10000) const {
    char text[1024] = {0};
    AgentReply reply;
    reply.status = target_.agent_command(target_.core, command.c_str(), timeout_ms, text,
                                         sizeof text);
    reply.text = text;
    // A core older than ABI 1.3 has no EZONE_TIMEOUT: it says EZONE_FAILED
    // with this sentence. Read here, once, so that no plugin has to.
    if (reply.status == EZONE_FAILED &&
        reply.text.rfind("no reply from the agent within ", 0) == 0) {
      reply.status = EZONE_TIMEOUT;
    }
    return reply;
  }
  // `sh <line>`: the line, verbatim, to /bin/sh -c in the guest. One
  // printable line: no newline (use WriteFile for arbitrary bytes). OK with
  // "exit=<code> <last stdout line>", or refused with "signal=<n> ...".
  AgentReply Shell(const std::string& line, uint32_t timeout_ms = 10000) const {
    return AgentCall("sh " + line, timeout_ms);
  }
  // `write <path> <data>` (append: `append`), escaped for the agent: the
  // bytes land in one write(). OK with "wrote=<n>".
  AgentReply WriteFile(const std::string& path, std::string_view data, bool append = false,
                       uint32_t timeout_ms = 10000) const {
    return AgentCall(std::string(append ? "append " : "write ") + AgentEscape(path) + " " +
                         AgentEscape(data),
                     timeout_ms);
  }
  // `nowait <command>`: for a command that takes the guest down. The agent
  // acknowledges ("started") before it runs the command and never replies
  // again; ok() means the command was received and is running. What it did
  // is for the core to observe (the variant's signs). E.g.
  //   target.NoWait("write /proc/sysrq-trigger c");
  AgentReply NoWait(const std::string& command, uint32_t timeout_ms = 10000) const {
    return AgentCall("nowait " + command, timeout_ms);
  }
  // Returns the agent's reply text; throws std::runtime_error on ERR,
  // timeout or a VM gone.
  std::string AgentCommand(const std::string& command,
                           uint32_t timeout_ms = 10000) const {
    std::string reply;
    if (!TryAgentCommand(command, &reply, timeout_ms)) {
      throw std::runtime_error("agent command '" + command + "' failed: " + reply);
    }
    return reply;
  }
  // As AgentCommand, but an ERR reply is an answer, not an exception: false
  // and the reply text (e.g. "signal=11" when the program died of SIGSEGV).
  // AgentCall tells a timeout from an ERR.
  bool TryAgentCommand(const std::string& command, std::string* reply,
                       uint32_t timeout_ms = 10000) const {
    AgentReply r = AgentCall(command, timeout_ms);
    *reply = r.text;
    return r.ok();
  }
  // Reports a sign the fault saw itself (see EZONE_SIGN_*).
  void Observed(uint32_t sign, const std::string& evidence) const {
    target_.observed(target_.core, sign, evidence.c_str());
  }
  // Guest-physical memory of the victim; throws Declined when its VMM
  // cannot, std::runtime_error when the access failed.
  void GuestMemory(bool write, uint64_t guest_phys, void* buffer, size_t size) const {
    char msg[512] = {0};
    ezone_status status = target_.guest_memory(target_.core, write ? 1 : 0, guest_phys,
                                               buffer, size, msg, sizeof msg);
    if (status == EZONE_DECLINED) throw Declined(msg);
    if (status != EZONE_OK) throw std::runtime_error(msg);
  }
  uint32_t GuestMemoryMib() const { return target_.guest_memory_mib; }
  int64_t VmmPid() const { return target_.vmm_pid(target_.core); }
  std::string VmmName() const { return target_.vmm_name; }

 private:
  ezone_fault_target target_;
};

namespace detail {

inline void CopyMessage(std::string_view text, char* out, size_t size) {
  if (out == nullptr || size == 0) return;
  size_t n = text.size() < size - 1 ? text.size() : size - 1;
  std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

// Runs fn, mapping exceptions to statuses: the one place where plugin
// exceptions stop.
template <typename Fn>
ezone_status Guard(char* msg, size_t msg_size, Fn&& fn) noexcept {
  try {
    fn();
    CopyMessage("", msg, msg_size);
    return EZONE_OK;
  } catch (const Declined& e) {
    CopyMessage(e.what(), msg, msg_size);
    return EZONE_DECLINED;
  } catch (const std::exception& e) {
    CopyMessage(e.what(), msg, msg_size);
    return EZONE_FAILED;
  } catch (...) {
    CopyMessage("unknown exception in plugin", msg, msg_size);
    return EZONE_FAILED;
  }
}

// Capabilities decides which optional ops are there: guest_memory and
// save_snapshot are NULL (not supported) without their capability bit.
template <typename T, uint64_t Capabilities = 0>
struct VmmAdapter {
  static ezone_status Probe(const char* options, char* msg, size_t size) {
    return Guard(msg, size, [&] { T::Probe(Options(options ? options : "")); });
  }
  static ezone_status Create(const ezone_guest_spec* spec,
                             const ezone_vm_sink* sink, void** vm, char* msg,
                             size_t size) {
    return Guard(msg, size, [&] {
      GuestSpec s;
      s.kernel = spec->kernel;
      s.initramfs = spec->initramfs;
      s.cmdline = spec->cmdline;
      s.memory_mib = spec->memory_mib;
      s.vcpus = spec->vcpus;
      s.role = spec->role ? spec->role : "victim";
      s.options = Options(spec->options ? spec->options : "");
      // Appended during ABI 1.0: read it only when the core's struct has it.
      if (EZONE_HAS_FIELD(spec, ezone_guest_spec, restore_from) && spec->restore_from) {
        s.restore_from = spec->restore_from;
      }
      std::unique_ptr<Vm> created = T::Create(s, VmSink(*sink));
      *vm = created.release();
    });
  }
  static ezone_status SendControl(void* vm, const char* bytes, size_t n,
                                  char* msg, size_t size) {
    return Guard(msg, size, [&] {
      static_cast<Vm*>(vm)->SendControl(std::string_view(bytes, n));
    });
  }
  static int64_t Pid(void* vm) noexcept {
    try {
      return static_cast<Vm*>(vm)->Pid();
    } catch (...) {
      return -1;
    }
  }
  static ezone_status Version(void* vm, char* out, size_t size) {
    std::string text;
    ezone_status status =
        Guard(out, size, [&] { text = static_cast<Vm*>(vm)->Version(); });
    if (status == EZONE_OK) CopyMessage(text, out, size);
    return status;
  }
  static ezone_status GuestMemory(void* vm, int write, uint64_t phys, void* buffer,
                                  size_t n, char* msg, size_t size) {
    return Guard(msg, size, [&] {
      static_cast<Vm*>(vm)->GuestMemory(write != 0, phys, buffer, n);
    });
  }
  static ezone_status SaveSnapshot(void* vm, const char* path, char* msg, size_t size) {
    return Guard(msg, size, [&] { static_cast<Vm*>(vm)->SaveSnapshot(path ? path : ""); });
  }
  static void Destroy(void* vm) noexcept {
    try {
      delete static_cast<Vm*>(vm);
    } catch (...) {
      // A destructor that throws still leaves nothing we could do better.
    }
  }
  static constexpr ezone_vmm_ops kOps = {
      sizeof(ezone_vmm_ops), &Probe, &Create, &SendControl, &Pid, &Version, &Destroy,
      (Capabilities & EZONE_CAP_GUEST_MEMORY) ? &GuestMemory : nullptr,
      (Capabilities & EZONE_CAP_SNAPSHOT) ? &SaveSnapshot : nullptr};
};

// A fault class's EZONE_CAP_* bits: its kCapabilities, or none.
template <typename T, typename = void>
struct FaultCapabilities : std::integral_constant<uint64_t, 0> {};
template <typename T>
struct FaultCapabilities<T, std::void_t<decltype(T::kCapabilities)>>
    : std::integral_constant<uint64_t, T::kCapabilities> {};

template <typename T>
struct FaultAdapter {
  static ezone_status Fire(const char* variant, const char* options,
                           const ezone_fault_target* target, char* msg,
                           size_t size) {
    return Guard(msg, size, [&] {
      FaultTarget t(*target);
      T::Fire(variant ? variant : "", Options(options ? options : ""), t);
    });
  }
  static constexpr ezone_fault_ops kOps = {sizeof(ezone_fault_ops), &Fire};
};

}  // namespace detail
}  // namespace ezone::sdk

#define EZONE_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

// Defines the plugin's entry point for a VMM class.
#define EZONE_VMM_PLUGIN(Class, name, version, summary, capabilities)       \
  EZONE_PLUGIN_EXPORT const ezone_plugin_descriptor* ezone_plugin_entry(    \
      uint32_t core_abi_major) {                                            \
    static const ezone_plugin_descriptor kDescriptor = {                    \
        EZONE_PLUGIN_ABI_MAJOR, EZONE_PLUGIN_ABI_MINOR,                     \
        sizeof(ezone_plugin_descriptor), EZONE_KIND_VMM, name, version,     \
        summary, capabilities,                                              \
        &::ezone::sdk::detail::VmmAdapter<Class, (capabilities)>::kOps,     \
        nullptr, nullptr, 0};                                               \
    return core_abi_major == EZONE_PLUGIN_ABI_MAJOR ? &kDescriptor : nullptr; \
  }

// Defines the plugin's entry point for a fault class with a kVariants table
// (and, optionally, `static constexpr uint64_t kCapabilities`: EZONE_CAP_HOST_WIDE).
#define EZONE_FAULT_PLUGIN(Class, name, version, summary)                   \
  EZONE_PLUGIN_EXPORT const ezone_plugin_descriptor* ezone_plugin_entry(    \
      uint32_t core_abi_major) {                                            \
    static const ezone_plugin_descriptor kDescriptor = {                    \
        EZONE_PLUGIN_ABI_MAJOR, EZONE_PLUGIN_ABI_MINOR,                     \
        sizeof(ezone_plugin_descriptor), EZONE_KIND_FAULT, name, version,   \
        summary, ::ezone::sdk::detail::FaultCapabilities<Class>::value,     \
        nullptr, &::ezone::sdk::detail::FaultAdapter<Class>::kOps,          \
        Class::kVariants, sizeof(Class::kVariants) / sizeof(Class::kVariants[0])}; \
    return core_abi_major == EZONE_PLUGIN_ABI_MAJOR ? &kDescriptor : nullptr; \
  }

#endif  // EZONE_SDK_H_
