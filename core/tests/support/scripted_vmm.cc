#include "scripted_vmm.h"

#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace ezone::scripted {
namespace {

std::mutex g_mu;
std::map<std::string, VmScript> g_scripts;
std::atomic<int> g_fault_fired{0};  // bumped when the victim gets "fault"
std::map<std::string, int> g_restored;  // restored VMs by role, under g_mu

std::string NonceOf(const std::string& cmdline) {
  const std::string key = "ezone.nonce=";
  size_t at = cmdline.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  return cmdline.substr(at, cmdline.find(' ', at) - at);
}

class ScriptedVm : public sdk::Vm {
 public:
  ScriptedVm(const sdk::GuestSpec& spec, sdk::VmSink sink)
      : sink_(sink), role_(spec.role), nonce_(NonceOf(spec.cmdline)) {
    {
      std::lock_guard lock(g_mu);
      script_ = g_scripts[role_];
      if (!spec.restore_from.empty()) {
        // Restored: READY was before the save; the agent answers at once,
        // unless this one ends as it resumes (then it never answers).
        script_.boot = {{0, ScriptStep::Kind::kResumed, ""}};
        exited_ = dies_on_resume_ = g_restored[role_]++ < script_.restores_that_die;
      }
    }
    fired_seen_ = g_fault_fired.load();
    thread_ = std::thread([this] { Play(); });
  }
  ~ScriptedVm() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void SendControl(std::string_view bytes) override {
    std::string line(bytes);
    while (!line.empty() && line.back() == '\n') line.pop_back();
    const std::string id = line.substr(0, line.find(' '));
    const std::string command = line.substr(line.find(' ') + 1);
    if (command == "fault") {
      if (script_.reply_to_fault) sink_.Control("OK " + id + " fired\n");
      if (role_ == "victim") ++g_fault_fired;
      std::lock_guard lock(mu_);
      fault_ = true;
      cv_.notify_all();
      return;
    }
    std::lock_guard lock(mu_);
    if (!exited_) sink_.Control("OK " + id + " pong\n");
  }
  std::string Version() const override { return "scripted 1.0"; }
  void SaveSnapshot(const std::string& path) override {
    if (!(std::ofstream(path) << "scripted state of " << role_ << "\n")) {
      throw std::runtime_error("cannot write " + path);
    }
  }

 private:
  // Sleeps `ms`, beating every 100 ms; false once stopped.
  bool Sleep(int ms) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    std::unique_lock lock(mu_);
    while (!stop_) {
      auto next = std::min(until, last_beat_ + std::chrono::milliseconds(100));
      cv_.wait_until(lock, next, [&] { return stop_; });
      if (stop_) return false;
      auto now = std::chrono::steady_clock::now();
      if (ready_ && beating_ && !exited_ && now >= last_beat_ + std::chrono::milliseconds(100)) {
        sink_.Control("HB\n");
        last_beat_ = now;
      }
      if (now >= until) return true;
    }
    return false;
  }

  bool Run(const std::vector<ScriptStep>& steps) {
    for (const ScriptStep& step : steps) {
      if (!Sleep(step.after_ms)) return false;
      std::lock_guard lock(mu_);
      if (exited_) return false;
      switch (step.kind) {
        case ScriptStep::Kind::kConsole:
          sink_.Console(step.text + "\n");
          break;
        case ScriptStep::Kind::kReady:
          sink_.Control("READY " + nonce_ + "\n");
          ready_ = true;
          last_beat_ = std::chrono::steady_clock::now();
          break;
        case ScriptStep::Kind::kResumed:
          ready_ = true;
          last_beat_ = std::chrono::steady_clock::now();
          break;
        case ScriptStep::Kind::kStopHeartbeats:
          beating_ = false;
          break;
        case ScriptStep::Kind::kVmmExit:
          exited_ = true;
          sink_.Event(EZONE_EVENT_VMM_EXITED, step.text.empty() ? "exit status 0" : step.text);
          return false;
        case ScriptStep::Kind::kPanicEvent:
          sink_.Event(EZONE_EVENT_GUEST_PANICKED, step.text);
          break;
      }
    }
    return true;
  }

  void Play() {
    if (dies_on_resume_) {
      sink_.Event(EZONE_EVENT_VMM_EXITED, "guest-reset as it resumed");
      return;
    }
    if (!Run(script_.boot)) return;
    // Wait for the fault: the victim's own command, or the victim's news.
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (stop_) return;
        if (fault_ || (role_ != "victim" && g_fault_fired.load() != fired_seen_)) break;
      }
      if (!Sleep(10)) return;
    }
    if (!Run(script_.on_fault)) return;
    while (Sleep(1000)) {
    }
  }

  sdk::VmSink sink_;
  std::string role_, nonce_;
  VmScript script_;
  int fired_seen_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, fault_ = false, ready_ = false, beating_ = true, exited_ = false;
  bool dies_on_resume_ = false;
  std::chrono::steady_clock::time_point last_beat_ = std::chrono::steady_clock::now();
  std::thread thread_;
};

class ScriptedVmm {
 public:
  static void Probe(const sdk::Options&) {}
  static std::unique_ptr<sdk::Vm> Create(const sdk::GuestSpec& spec, sdk::VmSink sink) {
    return std::make_unique<ScriptedVm>(spec, sink);
  }
};

ezone_status FireScripted(const char* variant, const char*, const ezone_fault_target* target,
                          char* msg, size_t msg_size) {
  char reply[256] = {0};
  ezone_status status =
      target->agent_command(target->core, "fault", 10000, reply, sizeof reply);
  // A fault that brings the VM down may get no answer: that is no failure
  // of the plugin; the core judges from what it observes.
  if (status == EZONE_OK || status == EZONE_VM_GONE) return EZONE_OK;
  snprintf(msg, msg_size, "%s: %s", variant, reply);
  return EZONE_FAILED;
}

constexpr uint64_t kCaps = EZONE_CAP_WITNESS | EZONE_CAP_SNAPSHOT;
const ezone_plugin_descriptor kVmmDescriptor = {
    EZONE_PLUGIN_ABI_MAJOR, EZONE_PLUGIN_ABI_MINOR, sizeof(ezone_plugin_descriptor),
    EZONE_KIND_VMM, "scripted", "1.0", "in-process scripted VMM for tests", kCaps,
    &sdk::detail::VmmAdapter<ScriptedVmm, kCaps>::kOps, nullptr, nullptr, 0};

const ezone_fault_variant kVariants[] = {
    {"crash", EZONE_ZONE_GUEST_KERNEL, EZONE_SIGN_GUEST_KERNEL_CRASH, "a scripted oops"},
    {"hang", EZONE_ZONE_GUEST_KERNEL, EZONE_SIGN_GUEST_HANG, "a scripted hang"},
    {"exit", EZONE_ZONE_HOST_USER, EZONE_SIGN_VMM_EXIT, "a scripted VMM exit"},
};
const ezone_fault_ops kFaultOps = {sizeof(ezone_fault_ops), &FireScripted};
const ezone_plugin_descriptor kFaultDescriptor = {
    EZONE_PLUGIN_ABI_MAJOR, EZONE_PLUGIN_ABI_MINOR, sizeof(ezone_plugin_descriptor),
    EZONE_KIND_FAULT, "scripted-fault", "1.0", "sends the scripted VM its fault", 0, nullptr,
    &kFaultOps, kVariants, sizeof kVariants / sizeof kVariants[0]};

}  // namespace

void SetScripts(std::map<std::string, VmScript> scripts) {
  std::lock_guard lock(g_mu);
  g_scripts = std::move(scripts);
  g_restored.clear();
}

void AddScriptedPlugins(PluginRegistry& registry) {
  registry.Add(Plugin{"(in process)", CoreView(&kVmmDescriptor), &kVmmDescriptor});
  registry.Add(Plugin{"(in process)", CoreView(&kFaultDescriptor), &kFaultDescriptor});
}

}  // namespace ezone::scripted
