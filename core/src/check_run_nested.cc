// The nested host's part of a check (CheckRun, check_run.h): its host
// restored from the saved state (with its guests, to adopt) or booted, the
// VMM probed there, and a host that falls silent under its guests.
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

#include "check_run.h"

namespace ezone::internal {

std::optional<std::string> CheckRun::HostSilence() const {
  if (!host_ready_) return std::nullopt;
  const auto silent = Clock::now() - host_->session().last_heartbeat();
  if (silent < kHostSilence) return std::nullopt;
  return "it fell silent (no heartbeat for " +
         Fmt("%.0f s", std::chrono::duration<double>(silent).count()) + ")";
}

void CheckRun::FailHostWhileBooting(const std::string& why) {
  // The host under test is down (global), and the check was not carried out.
  o_.host_crashed = true;
  r_.properties[kBedFailed] = "the nested host failed while the guests booted: " + why;
  Finish(Verdict::kError, "the nested host failed while the guest booted: " + why);
}

bool CheckRun::BootHost() {
  if (!host_is_nested()) return true;
  Progress(Phase::kHostBoot, Role::kHost);
  r_.properties["host"] = "nested host (not up)";
  fs::path log = ConsoleLogPath(env_.report_dir, spec_, Role::kHost);
  r_.properties["host_console_log"] = log.string();
  for (const auto& [k, v] : nested_image_.properties) r_.properties[k] = v;
  const Plugin& qemu = *env_.registry->FindVmm("qemu");
  auto start = Clock::now();
  // Restored from the state a boot saved at READY when it can be (seconds
  // instead of a boot); booted otherwise, or when the restored host is
  // not as clean as a fresh one. Either way the host is this check's own.
  // The Xen flavour always boots: QEMU cannot migrate its amd-iommu device
  // ("non-migratable"), which Xen's PVH dom0 needs.
  if (restore_host_ && NestedHostRestoreWanted() && nested_image_.flavour == "kvm") {
    // The victim (and, when asked for, its witness) come with the host,
    // paused at READY, where the VMM can adopt them; a witness check
    // otherwise boots its guests on the restored host.
    std::optional<NestedGuestTemplate> guests;
    if ((vmm_->descriptor->capabilities & EZONE_CAP_ADOPT) && NestedVictimRestoreWanted() &&
        (!spec_.witness || NestedWitnessRestoreWanted())) {
      guests = NestedGuestsTemplate();
    }
    NestedHostRestoreResult restored =
        RestoreNestedHost(qemu, nested_image_, log, &events_, BootTimeout(Role::kHost),
                          [this] { Progress(Phase::kSnapshotPrepare, Role::kHost); },
                          guests ? &*guests : nullptr);
    for (auto& e : restored.evidence) r_.evidence.push_back(std::move(e));
    for (auto& [k, v] : restored.properties) r_.properties[k] = v;
    host_ = std::move(restored.host);
  }
  if (!host_) {
    host_ = std::make_unique<NestedHost>(qemu, nested_image_, log, &events_);
    std::string error;
    ezone_status started = host_->Start(&error);
    if (started != EZONE_OK) {
      Finish(started == EZONE_DECLINED ? Verdict::kSkipped : Verdict::kError,
             "the nested host could not start: " + error);
      return false;
    }
    // READY from its agent comes after libvirtd offers kvm domains. A TCG
    // boot of a full Debian kernel, and libvirtd's first QEMU probe under
    // TCG, take their time: twice the guest's boot timeout (BootTimeout).
    ReadyWatch watch({});
    // Its own full time, whatever a rejected restore took before it.
    watch.Expect(Role::kHost, Clock::now() + BootTimeout(Role::kHost));
    if (!AwaitReady(events_, watch, {}, [](Role, const ReadyWatch::Step&) { return true; })) {
      return false;
    }
  }
  r_.properties["nested_host_mode"] = NestedHostModeName(host_->mode());
  host_ready_ = true;
  r_.properties["host"] = host_->Describe();
  r_.properties["host_ready_ms"] = Fmt("%.0f", MsSince(start));
  Progress(Phase::kHostReady, Role::kHost, MsSince(start));
  vmm_options_ = spec_.vmm_options + (spec_.vmm_options.empty() ? "" : ";") + host_->VmmOptions();
  auto probe_start = Clock::now();
  auto [probe, why] = ProbeOnce(*vmm_, vmm_options_);
  r_.timing.probe = MsSince(probe_start);
  if (probe != EZONE_OK) {
    host_->DumpLogs();
    Finish(probe == EZONE_DECLINED ? Verdict::kSkipped : Verdict::kError,
           Named(spec_.vmm, "on the nested host: " + why));
    return false;
  }
  return true;
}

NestedGuestTemplate CheckRun::NestedGuestsTemplate() {
  NestedGuestTemplate guests;
  guests.key = SnapshotKey();
  // The witness first, as Boot() starts them on a nested host.
  if (spec_.witness) guests.roles.push_back(Role::kWitness);
  guests.roles.push_back(Role::kVictim);
  guests.start = [this](NestedHost& host, EventQueue& events, Role role,
                        std::string* why) -> std::unique_ptr<VmSession> {
    Progress(Phase::kSnapshotPrepare, Role::kTemplate);
    // By their own roles (the plugin declines a remote "template"), with
    // template console logs.
    fs::path log = ConsoleLogPath(env_.report_dir, spec_, Role::kTemplate);
    if (role != Role::kVictim) log.replace_extension(std::string(".") + RoleName(role) + ".log");
    auto vm = std::make_unique<VmSession>(*vmm_, role, MakeNonce(), log, &events);
    BootRequest request = GuestBootRequest(*vm);
    request.options =
        spec_.vmm_options + (spec_.vmm_options.empty() ? "" : ";") + host.VmmOptions();
    if (vm->Start(request, why) != EZONE_OK) return nullptr;
    ReadyWatch watch({.host_underneath = true});
    watch.Expect(role, Clock::now() + spec_.boot_timeout);
    for (;;) {
      std::optional<VmEvent> e = events.Wait(watch.deadline());
      ReadyWatch::Step step = e ? watch.OnEvent(*e) : watch.OnTimeout(Clock::now());
      if (step.outcome == ReadyWatch::Outcome::kReady) return vm;
      if (step.outcome == ReadyWatch::Outcome::kTimedOut) {
        *why = "no READY in " + Fmt("%.0f s", spec_.boot_timeout.count() / 1000.0);
        return nullptr;
      }
      if (step.outcome != ReadyWatch::Outcome::kNothing) {
        *why = step.why;
        return nullptr;
      }
    }
  };
  return guests;
}

bool CheckRun::AdoptNestedGuests(VmSession& victim, VmSession* witness) {
  // Saved paused at READY with the host: each adopted and resumed, the
  // witness first.
  r_.properties["mode"] = "restored with the nested host";
  boot_start_ = Clock::now();
  for (VmSession* vm : {witness, &victim}) {
    if (vm == nullptr) continue;
    auto saved = host_->saved_guests().find(vm->role());
    if (saved == host_->saved_guests().end()) {
      const std::string what =
          std::string("the nested host was saved without a ") + vm->role_name();
      r_.properties[kBedFailed] = what;
      Finish(Verdict::kError, what);
      return false;
    }
    if (!StartRestored(*vm, "running:" + saved->second, /*adopting=*/true)) return false;
  }
  return true;
}

}  // namespace ezone::internal
