#include "vm_session.h"

#include "agent_line.h"

#include <cstring>
#include <random>

namespace ezone {
void EventQueue::Push(VmEvent event) {
  std::lock_guard lock(mu_);
  if (events_.size() >= kMaxQueued) {
    ++dropped_;
    return;
  }
  events_.push_back(std::move(event));
  cv_.notify_all();
}

std::optional<VmEvent> EventQueue::Wait(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_until(lock, deadline, [&] { return !events_.empty(); })) {
    return std::nullopt;
  }
  VmEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

ConsoleRecorder::ConsoleRecorder(const std::filesystem::path& log_path)
    : log_path_(log_path) {
  if (!log_path_.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(log_path_.parent_path(), ec);
    log_ = std::fopen(log_path_.c_str(), "wbe");
  }
}

ConsoleRecorder::~ConsoleRecorder() { Close(); }

void ConsoleRecorder::Reopen(std::string_view marker) {
  if (log_ || log_path_.empty()) return;
  log_ = std::fopen(log_path_.c_str(), "abe");
  Write("\n[ezone: " + std::string(marker) + "]\n");
}

void ConsoleRecorder::Close() {
  if (log_) std::fclose(log_);
  log_ = nullptr;
}

void ConsoleRecorder::Write(std::string_view bytes) {
  if (!log_ || log_bytes_ >= kMaxLogBytes) return;
  size_t n = std::min(bytes.size(), kMaxLogBytes - log_bytes_);
  std::fwrite(bytes.data(), 1, n, log_);
  log_bytes_ += n;
  if (log_bytes_ >= kMaxLogBytes) {
    std::fputs("\n[ezone: console log truncated at 16 MiB]\n", log_);
  }
  std::fflush(log_);  // the log must survive a runner that is killed
}

ConsoleClass ConsoleRecorder::AddLine(std::string_view line) {
  ConsoleClass cls = ClassifyConsoleLine(line);
  if (crashed_) {
    if (excerpt_.size() < kContextBefore + kContextAfter) excerpt_.emplace_back(line);
    return cls;
  }
  recent_.emplace_back(line);
  if (recent_.size() > kContextBefore) recent_.pop_front();
  if (IsCrash(cls)) {
    crashed_ = true;
    excerpt_.assign(recent_.begin(), recent_.end());
  }
  return cls;
}

std::string ConsoleRecorder::Excerpt() const {
  std::string out;
  const auto& lines = crashed_ ? excerpt_ : std::vector<std::string>(recent_.begin(), recent_.end());
  for (const auto& l : lines) {
    out += l;
    out += '\n';
  }
  return out;
}

const char* RoleName(Role role) {
  switch (role) {
    case Role::kVictim: return "victim";
    case Role::kWitness: return "witness";
    case Role::kHost: return "host";
    case Role::kTemplate: return "template";
  }
  return "?";
}

VmSession::VmSession(const Plugin& vmm, Role role, std::string nonce,
                     const std::filesystem::path& console_log, EventQueue* events)
    : vmm_(vmm),
      ops_(vmm.descriptor->vmm),
      role_(role),
      nonce_(std::move(nonce)),
      events_(events),
      console_(console_log),
      console_lines_([this](std::string_view line) {
        // The line class reacts at once (the first line of an oops); the
        // report parser gives the whole report's kind and title when it
        // completes.
        ConsoleClass cls = console_.AddLine(line);
        if (cls != ConsoleClass::kNone) Push(VmEvent::Kind::kConsole, std::string(line), cls);
        reports_parser_.FeedLine(line);
        CollectReports();
      }),
      control_lines_([this](std::string_view line) { HandleControlLine(line); }) {
  sink_.core = this;
  sink_.console = &VmSession::OnConsole;
  sink_.control = &VmSession::OnControl;
  sink_.event = &VmSession::OnEvent;
}

VmSession::~VmSession() { Destroy(); }

void VmSession::CollectReports() {
  for (CrashReport& report : reports_parser_.TakeReports()) {
    VmEvent e{VmEvent::Kind::kReport, Clock::now(), report.title, ConsoleClass::kNone, role_, 0};
    e.report = report;
    if (reports_.size() < kMaxReports) reports_.push_back(std::move(report));
    events_->Push(std::move(e));
  }
}

std::vector<CrashReport> VmSession::kernel_reports() const {
  std::lock_guard lock(console_mu_);
  return reports_;
}

std::string MakeNonce() {
  std::random_device rd;
  std::uniform_int_distribution<uint64_t> dist;
  char text[17];
  snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(dist(rd)));
  return text;
}

std::string AgentCmdline(const std::string& nonce, int heartbeat_ms, const std::string& extra,
                         BootVerbosity verbosity) {
  // cryptomgr.notests: the kernel's self-tests of its crypto algorithms
  // took 0.5 s of a 3.6 s boot to READY under TCG (measured 2026-12-02, six
  // boots each way), and no check is about them.
  std::string cmdline = "console=ttyS0 ezone.nonce=" + nonce +
                        " ezone.hb_ms=" + std::to_string(heartbeat_ms) +
                        " panic=-1 cryptomgr.notests";
  if (verbosity == BootVerbosity::kQuiet) cmdline += " quiet";
  return extra.empty() ? cmdline : cmdline + " " + extra;
}

ezone_status VmSession::Start(const BootRequest& request, std::string* error) {
  {
    std::lock_guard lock(mu_);
    gone_.clear();  // a VM booted (again) can answer
    last_console_ = Clock::now();
  }
  {
    std::lock_guard lock(console_mu_);
    came_up_ = false;
  }
  ezone_guest_spec spec{};
  spec.struct_size = sizeof spec;
  spec.kernel = request.kernel.c_str();
  spec.initramfs = request.initramfs.c_str();
  spec.cmdline = request.cmdline.c_str();
  spec.memory_mib = request.memory_mib;
  spec.vcpus = request.vcpus;
  spec.role = RoleName(role_);
  spec.options = request.options.c_str();
  spec.restore_from = request.restore_from.c_str();
  char msg[1024] = {0};
  ezone_status status = ops_->create(&spec, &sink_, &vm_, msg, sizeof msg);
  if (status != EZONE_OK) {
    vm_ = nullptr;
    *error = msg[0] ? msg : "create failed without a message";
    // A plugin returning garbage is a failure, not a skip.
    return status == EZONE_DECLINED ? EZONE_DECLINED : EZONE_FAILED;
  }
  return EZONE_OK;
}

void VmSession::OnConsole(void* self, const char* bytes, size_t size) {
  auto* s = static_cast<VmSession*>(self);
  {
    std::lock_guard lock(s->mu_);
    s->last_console_ = Clock::now();
  }
  std::lock_guard lock(s->console_mu_);
  s->console_.Write(std::string_view(bytes, size));
  s->console_lines_.Feed(std::string_view(bytes, size));
}

void VmSession::OnControl(void* self, const char* bytes, size_t size) {
  auto* s = static_cast<VmSession*>(self);
  std::lock_guard lock(s->control_mu_);
  s->control_lines_.Feed(std::string_view(bytes, size));
}

void VmSession::OnEvent(void* self, ezone_vm_event event, const char* detail) {
  auto* s = static_cast<VmSession*>(self);
  VmEvent::Kind kind = VmEvent::Kind::kNote;
  switch (event) {
    case EZONE_EVENT_GUEST_PANICKED: kind = VmEvent::Kind::kGuestPanicked; break;
    case EZONE_EVENT_VMM_EXITED:
    case EZONE_EVENT_GUEST_STOPPED: {
      kind = event == EZONE_EVENT_VMM_EXITED ? VmEvent::Kind::kVmmExited
                                             : VmEvent::Kind::kGuestStopped;
      // Nothing will answer a command now: waiting commands return at once.
      std::lock_guard lock(s->mu_);
      if (s->gone_.empty()) {
        s->gone_ = std::string(event == EZONE_EVENT_VMM_EXITED ? "its VMM exited" : "it stopped") +
                   (detail && *detail ? std::string(" (") + detail + ")" : "");
      }
      s->replied_.notify_all();
      break;
    }
    case EZONE_EVENT_NOTE: break;
    case EZONE_EVENT_PLUGIN_ERROR: {
      kind = VmEvent::Kind::kPluginError;
      std::lock_guard lock(s->mu_);
      if (s->plugin_error_.empty()) s->plugin_error_ = detail && *detail ? detail : "(no detail)";
      break;
    }
  }
  s->Push(kind, detail ? detail : "");
}

void VmSession::Push(VmEvent::Kind kind, std::string text, ConsoleClass cls) {
  VmEvent e{kind, Clock::now(), std::move(text), cls, role_, 0};
  events_->Push(std::move(e));
}

void VmSession::HandleControlLine(std::string_view raw) {
  AgentLine line = ParseAgentLine(raw);
  switch (line.kind) {
    case AgentLine::Kind::kReady: {
      // Before READY, a READY without our nonce is from another run or a
      // stale console. After it, any READY on this VM's own channel (a
      // restored VM carries its template's nonce) is its kernel booted
      // again: with a quiet boot no banner says so.
      {
        std::lock_guard lock(console_mu_);
        if (line.nonce != nonce_ && !came_up_) {
          Push(VmEvent::Kind::kNote, "agent: READY with a foreign nonce ignored");
          return;
        }
        // From now on a boot banner, or a READY again, is a reboot nobody
        // reported.
        came_up_ = true;
        reports_parser_.MarkReady();
        CollectReports();
      }
      {
        std::lock_guard lock(mu_);
        last_heartbeat_ = Clock::now();
      }
      Push(VmEvent::Kind::kReady, std::move(line.rest));
      return;
    }
    case AgentLine::Kind::kHeartbeat: {
      std::lock_guard lock(mu_);
      auto now = Clock::now();
      if (heartbeats_ > 0) max_gap_ = std::max(max_gap_, now - last_heartbeat_);
      last_heartbeat_ = now;
      ++heartbeats_;
      if (beats_.size() < kMaxBeats) beats_.push_back(now);
      return;
    }
    case AgentLine::Kind::kReply: {
      std::lock_guard lock(mu_);
      replies_[line.id] = {line.ok, std::move(line.text)};
      replied_.notify_all();
      return;
    }
    case AgentLine::Kind::kOther:
      // Only the agent talks here, and a garbled line must not confuse the
      // oracle: ignored.
      return;
  }
}

AgentStatus VmSession::Command(const std::string& command, std::chrono::milliseconds timeout,
                               std::string* reply) {
  int id;
  {
    std::lock_guard lock(mu_);
    id = next_command_id_++;
    if (!gone_.empty()) {
      *reply = "the VM cannot answer: " + gone_;
      return AgentStatus::kVmGone;
    }
  }
  std::string line = std::to_string(id) + " " + command + "\n";
  char msg[512] = {0};
  if (vm_ == nullptr ||
      ops_->send_control(vm_, line.data(), line.size(), msg, sizeof msg) != EZONE_OK) {
    *reply = std::string("cannot send to the agent: ") + msg;
    return AgentStatus::kUnreachable;
  }
  std::unique_lock lock(mu_);
  if (!replied_.wait_for(lock, timeout,
                         [&] { return replies_.count(id) != 0 || !gone_.empty(); })) {
    *reply = "no reply from the agent within " + std::to_string(timeout.count()) + " ms";
    return AgentStatus::kTimeout;
  }
  if (replies_.count(id) == 0) {
    *reply = "the VM cannot answer: " + gone_;
    return AgentStatus::kVmGone;
  }
  auto [ok, text] = replies_[id];
  replies_.erase(id);
  *reply = text;
  return ok ? AgentStatus::kOk : AgentStatus::kError;
}

Clock::time_point VmSession::last_heartbeat() const {
  std::lock_guard lock(mu_);
  return last_heartbeat_;
}

Clock::time_point VmSession::last_console_output() const {
  std::lock_guard lock(mu_);
  return last_console_;
}

int VmSession::heartbeats() const {
  std::lock_guard lock(mu_);
  return heartbeats_;
}

std::chrono::milliseconds VmSession::max_heartbeat_gap() const {
  std::lock_guard lock(mu_);
  // The silence still going on counts too: a dead guest sends no last beat.
  auto current = heartbeats_ > 0 ? Clock::now() - last_heartbeat_ : Clock::duration{};
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::max(max_gap_, current));
}

std::vector<Clock::time_point> VmSession::heartbeat_times() const {
  std::lock_guard lock(mu_);
  return beats_;
}

void VmSession::MarkAlive() {
  {
    std::lock_guard lock(mu_);
    last_heartbeat_ = Clock::now();
  }
  std::lock_guard lock(console_mu_);
  came_up_ = true;
  reports_parser_.MarkReady();
}

ezone_status VmSession::SaveSnapshot(const std::string& path, std::string* error) {
  if (vm_ == nullptr || ops_->save_snapshot == nullptr) {
    *error = vmm_.name() + " cannot save snapshots";
    return EZONE_DECLINED;
  }
  char msg[512] = {0};
  ezone_status status = ops_->save_snapshot(vm_, path.c_str(), msg, sizeof msg);
  *error = msg;
  return status;
}

void VmSession::ResetGaps() {
  std::lock_guard lock(mu_);
  max_gap_ = {};
}

ezone_status VmSession::GuestMemory(bool write, uint64_t phys, void* buffer, size_t size,
                                    std::string* error) {
  if (vm_ == nullptr || ops_->guest_memory == nullptr ||
      !(vmm_.descriptor->capabilities & EZONE_CAP_GUEST_MEMORY)) {
    *error = vmm_.name() + " has no guest memory access";
    return EZONE_DECLINED;
  }
  char msg[512] = {0};
  ezone_status status = ops_->guest_memory(vm_, write ? 1 : 0, phys, buffer, size, msg, sizeof msg);
  *error = msg;
  return status;
}

int64_t VmSession::Pid() const { return vm_ ? ops_->vmm_pid(vm_) : -1; }

std::string VmSession::Version() const {
  char out[256] = {0};
  if (vm_ && ops_->version(vm_, out, sizeof out) == EZONE_OK) return out;
  return std::string(vmm_.descriptor->name) + " " + vmm_.descriptor->version;
}

ezone_status VmSession::Reboot(const BootRequest& request, const std::string& why,
                               std::string* error) {
  Destroy();
  {
    std::lock_guard lock(console_mu_);
    console_.Reopen(why + ": booting again");
  }
  return Start(request, error);
}

void VmSession::Destroy() {
  if (vm_ == nullptr) return;
  ops_->destroy(vm_);
  vm_ = nullptr;
  {
    // An unterminated agent line ("REA", "HB") of this VM is no message, and
    // must not be glued to the first line of a VM booted next (Reboot).
    std::lock_guard lock(control_mu_);
    control_lines_.Discard();
  }
  std::lock_guard lock(console_mu_);
  console_lines_.Flush();  // the console's last words are evidence
  reports_parser_.Finish();  // a report cut short by the VM's end, marked corrupted
  CollectReports();
  console_.Close();  // no descriptor outlives the VM
}

std::string VmSession::plugin_error() const {
  std::lock_guard lock(mu_);
  return plugin_error_;
}

std::string VmSession::ConsoleExcerpt() const {
  std::lock_guard lock(console_mu_);
  return console_.Excerpt();
}

}  // namespace ezone
