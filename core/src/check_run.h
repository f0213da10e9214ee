// One check's run, shared by the units that carry it out (private to
// core/src): the CheckRun class, whose phases live in check_runner.cc (the
// script: resolve, boot, fire, observe, tear down), check_run_nested.cc (the
// nested host: restored or booted, its guests adopted, its silence) and
// check_run_restore.cc (snapshot mode: a state made once, VMs started from
// it). RunCheck (check_runner.h) is the only way in.
#ifndef EZONE_CORE_CHECK_RUN_H_
#define EZONE_CORE_CHECK_RUN_H_

#include <chrono>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "check_runner.h"
#include "elapsed.h"
#include "host_oracle.h"
#include "nested_host.h"
#include "nested_host_restore.h"
#include "observer.h"
#include "ready_watch.h"
#include "verdict.h"
#include "vm_session.h"

namespace ezone::internal {

namespace fs = std::filesystem;
using report::CheckRecord;
using report::Evidence;
using report::EvidenceSource;
using report::Severity;
using report::Verdict;
using std::chrono::milliseconds;

// Set on a record whose test bed failed before any fault (the nested host,
// while it or the guests booted; a guest on it that ended after its READY;
// a restored VM that ended before it answered): the value says what failed,
// and RunCheck runs the check again.
inline constexpr const char* kBedFailed = "test_bed_failed";

// A nested host beats every 100 ms; its longest gap in CI runs was 0.15 s
// (the Xen flavour's 0.8 s). Ten seconds of silence is a frozen host.
inline constexpr milliseconds kHostSilence{10000};

// "<vmm>: <reason>", unless the plugin's reason already starts with its name.
std::string Named(const std::string& vmm, const std::string& reason);
// The VMM's probe with these options, asked once per run.
std::pair<ezone_status, std::string> ProbeOnce(const Plugin& vmm, const std::string& options);

// Everything one check carries from phase to phase. Execute() is the
// script; each phase is a member that Finish()es the record and returns
// false when the check cannot go on.
class CheckRun {
 public:
  // `restore_host`: the nested host may be restored from its saved state
  // (RunCheck's rerun after a restored host failed boots one instead).
  CheckRun(const CheckSpec& spec, RunEnvironment& env, bool restore_host = true)
      : spec_(spec), env_(env), r_(RecordOf(spec)), restore_host_(restore_host) {
    r_.timestamp = IsoNow();
    r_.properties["suite_file"] = spec.where();
    r_.properties["repetition"] = std::to_string(spec.repetition);
  }

  CheckRecord Run() {
    start_ = Clock::now();
    Execute();
    r_.seconds = MsSince(start_) / 1000.0;
    r_.timing.total = MsSince(start_);
    return std::move(r_);
  }

 private:
  void Progress(Phase phase, std::optional<Role> role = std::nullopt,
                std::optional<double> ms = std::nullopt, std::string detail = "") {
    if (env_.progress) env_.progress(spec_, ProgressEvent{phase, role, ms, std::move(detail)});
  }
  void Finish(Verdict verdict, const std::string& message) {
    r_.verdict = verdict;
    r_.message = message;
  }
  void Add(EvidenceSource source, Severity severity, std::string text) {
    r_.evidence.push_back({source, severity, std::move(text)});
  }

  void Execute();
  // 1. Plugins, variant, guest image; a VMM that declines is a skip.
  bool Resolve();
  // 2. host="nested": boot the nested host, then probe the VMM there.
  //    Restored from its saved state where it can be (nested_host_restore.h).
  bool BootHost();
  // 3. The witness and the victim to READY (or restored: snapshot mode).
  bool Boot(VmSession& victim, VmSession* witness);
  bool Restore(VmSession& victim, VmSession* witness);
  // One saved state per guest image, VMM build, options and guest settings.
  std::string SnapshotKey() const {
    std::string key = env_.image.properties.count("guest_image_sha256")
                          ? env_.image.properties.at("guest_image_sha256")
                          : env_.image.kernel.string();
    return key + "|" + vmm_->name() + "|" + vmm_->descriptor->version + "|" + spec_.vmm_options +
           "|" + std::to_string(spec_.memory_mib) + "|" + spec_.kernel_args;
  }
  // On a nested host: the victim and its witness saved with it
  // (NestedGuestTemplate), and taking them over in place of a boot.
  NestedGuestTemplate NestedGuestsTemplate();
  bool AdoptNestedGuests(VmSession& victim, VmSession* witness);
  // `vm` from a saved state or, `adopting`, a paused VM ("running:<name>"),
  // then a fresh ping (a restored agent sends no READY); a restored VM that
  // does not answer is the test bed's failure (RunCheck's rerun).
  bool StartRestored(VmSession& vm, const std::string& restore_from, bool adopting);
  bool PrepareSnapshot(const fs::path& path);
  bool Start(VmSession& vm, const std::string& restore_from = "");
  BootRequest GuestBootRequest(const VmSession& vm, const std::string& restore_from = "") const;
  // Waits on `events` until `watch` expects no VM; on_ready(role) runs as
  // each says READY (false: it Finish()ed). `vms` are the VMs it may boot
  // again.
  bool AwaitReady(EventQueue& events, ReadyWatch& watch, const std::map<Role, VmSession*>& vms,
                  const std::function<bool(Role, const ReadyWatch::Step&)>& on_ready);
  void FailBoot(Role role, const std::string& what, const VmSession* vm);
  // The nested host under booting guests fell silent (no heartbeat for
  // kHostSilence): why, or nothing. A restored host now and then froze
  // whole as its first KVM guest started (CI, about one in ten): libvirt
  // then waited out its keepalive and the check erred.
  std::optional<std::string> HostSilence() const;
  // The nested host failed before any fault: the check could not be
  // carried out, the host under test is down, and RunCheck may run it again.
  void FailHostWhileBooting(const std::string& why);
  milliseconds BootTimeout(Role role) const {
    return role == Role::kHost ? 2 * spec_.boot_timeout : spec_.boot_timeout;
  }
  // 4. Fire the fault through its plugin.
  bool Fire(VmSession& victim);
  // 5. Watch until the fault showed and settled, or the deadline.
  void Observe(VmSession& victim, VmSession* witness);
  // 6. Tear a VM down and check its VMM process is gone.
  void Teardown(VmSession& vm);
  // 7. The host oracles' readings into the observation and the evidence.
  void AddAssessment(const HostAssessment& a);
  // The kernels' reports (parsed from each console) and the check's crash
  // title: the worst fatal report's, the nested host's before the
  // witness's before the victim's.
  void AddKernelReports(std::initializer_list<VmSession*> vms);

  bool host_is_nested() const { return spec_.nested(); }
  bool zone1() const { return variant_->zone == EZONE_ZONE_HOST_KERNEL; }

  const CheckSpec& spec_;
  RunEnvironment& env_;
  CheckRecord r_;
  Observation o_;
  EventQueue events_;
  Clock::time_point start_;
  const Plugin* vmm_ = nullptr;
  const Plugin* fault_ = nullptr;
  const ezone_fault_variant* variant_ = nullptr;
  Clock::time_point boot_start_;
  Clock::time_point fired_at_;
  // The VMM options the check runs with: the suite's, plus where the nested
  // host's libvirtd is.
  std::string vmm_options_;
  NestedHostImage nested_image_;
  std::unique_ptr<NestedHost> host_;
  bool restore_host_ = true;
  bool host_ready_ = false;  // the nested host said READY
  std::unique_ptr<HostOracle> host_oracle_;  // the nested host's
};

}  // namespace ezone::internal

#endif  // EZONE_CORE_CHECK_RUN_H_
