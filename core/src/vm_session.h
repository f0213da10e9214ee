// One VM as the core sees it: the plugin's VM plus everything it reports,
// turned into a queue of events the check runner waits on.
#ifndef EZONE_CORE_VM_SESSION_H_
#define EZONE_CORE_VM_SESSION_H_

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "boot_image.h"
#include "console_classifier.h"
#include "crash_report.h"
#include "plugin_registry.h"

namespace ezone {

using Clock = std::chrono::steady_clock;

// Which VM of a check an event or a session belongs to.
enum class Role {
  kVictim,    // the VM the fault is fired into
  kWitness,   // a VM beside it that must not notice
  kHost,      // the nested host (host="nested")
  kTemplate,  // snapshot mode: the VM booted once to save its state
};
const char* RoleName(Role role);  // "victim", "witness", "host", "template"

struct VmEvent {
  enum class Kind {
    kConsole,        // a console line the classifier flagged (cls != kNone)
    kReady,          // the agent's READY with our nonce
    kGuestPanicked,  // the VMM saw the guest panic (pvpanic, libvirt crashed)
    kVmmExited,      // the VMM process ended
    kGuestStopped,   // the guest shut down
    kFaultObserved,  // the fault plugin reported a sign itself (sign, text)
    kNote,           // anything else worth keeping as evidence
    kPluginError,    // the VMM plugin can no longer watch this VM: an error
    kReport,         // a kernel report completed (report): kind, title, fatal
  };
  Kind kind;
  Clock::time_point at;
  std::string text;
  ConsoleClass cls = ConsoleClass::kNone;
  Role role = Role::kVictim;  // which VM it came from
  uint32_t sign = 0;  // kFaultObserved: EZONE_SIGN_*
  std::optional<CrashReport> report;  // kReport
};

// The events of all VMs of one check, in arrival order, so the runner waits
// on one queue whether it watches a victim alone or a victim and a witness.
class EventQueue {
 public:
  void Push(VmEvent event);
  // Next event, or nullopt when the deadline passed first.
  std::optional<VmEvent> Wait(Clock::time_point deadline);

 private:
  // A guest flooding warnings must not grow the queue without bound.
  static constexpr size_t kMaxQueued = 1000;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<VmEvent> events_;
  size_t dropped_ = 0;
};

// Keeps the console: the whole log on disk (capped), the lines around the
// first crash in memory (capped). Memory stays bounded whatever the guest
// prints.
class ConsoleRecorder {
 public:
  explicit ConsoleRecorder(const std::filesystem::path& log_path);
  ~ConsoleRecorder();
  void Write(std::string_view bytes);  // raw bytes to the log file
  // Returns the line's class; remembers the context of the first crash.
  ConsoleClass AddLine(std::string_view line);
  std::string Excerpt() const;
  void Close();  // the log file; the excerpt stays
  void Reopen(std::string_view marker);  // append to the log again, after `marker`
  const std::filesystem::path& log_path() const { return log_path_; }

 private:
  static constexpr size_t kContextBefore = 30;
  static constexpr size_t kContextAfter = 200;
  static constexpr size_t kMaxLogBytes = 16 << 20;
  std::filesystem::path log_path_;
  std::FILE* log_ = nullptr;
  size_t log_bytes_ = 0;
  std::deque<std::string> recent_;
  std::vector<std::string> excerpt_;  // frozen at the first crash line
  bool crashed_ = false;
};

// How an agent command ended. Only kOk and kError are the agent's answer;
// the others say why there is none.
enum class AgentStatus {
  kOk,           // OK <text>
  kError,        // ERR <text>: the agent ran it and it failed
  kTimeout,      // no reply within the timeout
  kUnreachable,  // the command could not be sent
  kVmGone,       // the VM stopped or its VMM exited: no reply can come
};

// What to boot, owning its strings (ezone_guest_spec only points at them).
struct BootRequest {
  std::string kernel, initramfs, cmdline;
  uint32_t memory_mib = 256;
  uint32_t vcpus = 1;
  std::string options;       // "key=value;..." for the VMM plugin
  std::string restore_from;  // snapshot mode: a saved state; "" to boot
};

// The kernel command line the agent reads: the console, this boot's nonce
// (so the READY waited for is this boot's) and its heartbeat period, then
// `extra` (last, so that a suite's loglevel= wins over "quiet").
std::string AgentCmdline(const std::string& nonce, int heartbeat_ms,
                         const std::string& extra = "",
                         BootVerbosity verbosity = BootVerbosity::kLoud);

// 16 random hex digits: a fresh nonce for one boot.
std::string MakeNonce();

class VmSession {
 public:
  // The console log goes to console_log; events go to `events` tagged with
  // `role`. The plugin and the queue must outlive the session.
  VmSession(const Plugin& vmm, Role role, std::string nonce,
            const std::filesystem::path& console_log, EventQueue* events);
  ~VmSession();
  VmSession(const VmSession&) = delete;
  VmSession& operator=(const VmSession&) = delete;

  // Boots the VM; anything but EZONE_OK sets *error (EZONE_DECLINED: this
  // host cannot run it, a skip).
  ezone_status Start(const BootRequest& request, std::string* error);
  // Destroys the VM and boots it again; its console log goes on after a
  // marker line. For a VM that ended before READY.
  ezone_status Reboot(const BootRequest& request, const std::string& why, std::string* error);
  // Sends "<id> <command>" to the agent and waits for OK/ERR with that id,
  // the timeout, or the VM's end (a VM that has exited returns at once).
  // *reply: the agent's text, or why there is none.
  AgentStatus Command(const std::string& command, std::chrono::milliseconds timeout,
                      std::string* reply);
  // The same; true for OK.
  bool AgentCommand(const std::string& command, std::chrono::milliseconds timeout,
                    std::string* reply) {
    return Command(command, timeout, reply) == AgentStatus::kOk;
  }
  Clock::time_point last_heartbeat() const;
  // When its console last said anything, or when it was (re)started.
  Clock::time_point last_console_output() const;
  int heartbeats() const;
  // When the heartbeats arrived (the first kMaxBeats of them), for the
  // report's timeline.
  std::vector<Clock::time_point> heartbeat_times() const;
  // The longest silence between two heartbeats since ResetGaps().
  std::chrono::milliseconds max_heartbeat_gap() const;
  void ResetGaps();
  // The guest is known alive now (a restored VM sends no READY).
  void MarkAlive();
  // EZONE_CAP_SNAPSHOT: save this VM's state to `path`.
  ezone_status SaveSnapshot(const std::string& path, std::string* error);
  // Guest-physical memory through the VMM (EZONE_CAP_GUEST_MEMORY).
  ezone_status GuestMemory(bool write, uint64_t phys, void* buffer, size_t size,
                           std::string* error);
  Role role() const { return role_; }
  const char* role_name() const { return RoleName(role_); }
  const std::string& nonce() const { return nonce_; }
  int64_t Pid() const;
  std::string Version() const;
  // Stops the VM; afterwards no callback runs. Idempotent.
  void Destroy();
  std::string ConsoleExcerpt() const;
  // The kernel reports its console held (crash_report.h), in order; after
  // Destroy() a report cut short by the VM's end is among them. Capped.
  std::vector<CrashReport> kernel_reports() const;
  // The first EZONE_EVENT_PLUGIN_ERROR's detail, or "": when set, what this
  // session saw cannot be trusted and the check is an error.
  std::string plugin_error() const;
  const std::filesystem::path& console_log() const { return console_.log_path(); }

 private:
  static void OnConsole(void* self, const char* bytes, size_t size);
  static void OnControl(void* self, const char* bytes, size_t size);
  static void OnEvent(void* self, ezone_vm_event event, const char* detail);
  void Push(VmEvent::Kind kind, std::string text,
            ConsoleClass cls = ConsoleClass::kNone);
  void HandleControlLine(std::string_view line);

  const Plugin& vmm_;
  const ezone_vmm_ops* ops_;
  Role role_;
  std::string nonce_;
  EventQueue* events_;
  void* vm_ = nullptr;
  ezone_vm_sink sink_{};

  mutable std::mutex console_mu_;  // guards console_, console_lines_, reports
  ConsoleRecorder console_;
  LineAssembler console_lines_;
  CrashReportParser reports_parser_;
  bool came_up_ = false;  // READY (or restored alive) since this VM's Start
  std::vector<CrashReport> reports_;
  static constexpr size_t kMaxReports = 32;
  void CollectReports();  // console_mu_ held
  std::mutex control_mu_;  // guards control_lines_
  LineAssembler control_lines_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable replied_;
  std::map<int, std::pair<bool, std::string>> replies_;
  int next_command_id_ = 1;
  Clock::time_point last_heartbeat_{};
  Clock::time_point last_console_{};
  Clock::duration max_gap_{};
  int heartbeats_ = 0;
  static constexpr size_t kMaxBeats = 3000;  // 5 minutes at 100 ms
  std::vector<Clock::time_point> beats_;
  std::string plugin_error_;
  std::string gone_;  // why the VM cannot answer any more; "" while it can
};

}  // namespace ezone

#endif  // EZONE_CORE_VM_SESSION_H_
