// Snapshot mode's part of a check (CheckRun, check_run.h): the state saved
// once at READY, and VMs started from a state or adopted, each proved alive
// by a fresh ping.
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

#include "check_run.h"
#include "snapshot_cache.h"

namespace ezone::internal {

bool CheckRun::StartRestored(VmSession& vm, const std::string& restore_from, bool adopting) {
  if (!Start(vm, restore_from)) {
    // A guest saved with its nested host that cannot be taken over is the
    // test bed's failure, before any fault.
    if (adopting && r_.verdict == Verdict::kError) r_.properties[kBedFailed] = r_.message;
    return false;
  }
  std::string pong;
  if (!vm.AgentCommand("ping", spec_.boot_timeout, &pong)) {
    // Before any fault: a restored guest that crashed as it resumed (once
    // in CI, a NULL dereference in an interrupt) is the test bed's failure,
    // and RunCheck runs the check again, once, on the record.
    const std::string what =
        std::string("the restored ") + vm.role_name() + " does not answer: " + pong;
    r_.properties[kBedFailed] = what;
    Finish(Verdict::kError, what);
    return false;
  }
  vm.MarkAlive();
  if (vm.role() == Role::kVictim) r_.timing.ready = MsSince(boot_start_);
  Progress(Phase::kRestored, vm.role(), MsSince(boot_start_));
  return true;
}

// Boots a template VM to READY and saves it, unless a saved state exists.
bool CheckRun::PrepareSnapshot(const fs::path& path) {
  auto start = Clock::now();
  bool declined = false;
  std::string error;
  bool prepared = false;
  bool ok = EnsureSnapshot(
      path,
      [&](std::string* why) {
        Progress(Phase::kSnapshotPrepare, Role::kTemplate);
        EventQueue template_events;
        VmSession vm(*vmm_, Role::kTemplate, MakeNonce(),
                     ConsoleLogPath(env_.report_dir, spec_, Role::kTemplate), &template_events);
        ReadyWatch watch({});
        bool ready = Start(vm);
        if (ready) {
          watch.Expect(Role::kTemplate, Clock::now() + spec_.boot_timeout);
          ready = AwaitReady(template_events, watch, {{Role::kTemplate, &vm}},
                             [](Role, const ReadyWatch::Step&) { return true; });
        }
        if (!ready) {
          vm.Destroy();
          return false;  // Start() or AwaitReady() said why
        }
        ezone_status saved = vm.SaveSnapshot(path.string(), why);
        vm.Destroy();
        declined = saved == EZONE_DECLINED;
        return saved == EZONE_OK;
      },
      &error, &prepared);
  if (prepared) r_.properties["snapshot_prepared_ms"] = Fmt("%.0f", MsSince(start));
  if (ok) return true;
  if (declined) {
    Finish(Verdict::kSkipped, Named(spec_.vmm, "cannot save a snapshot here: " + error));
  } else if (!error.empty()) {
    Finish(Verdict::kError, "saving the snapshot failed: " + error);
  }
  return false;
}

bool CheckRun::Restore(VmSession& victim, VmSession* witness) {
  if (!(vmm_->descriptor->capabilities & EZONE_CAP_SNAPSHOT)) {
    Finish(Verdict::kSkipped, spec_.vmm + " cannot save and restore VMs (snapshot mode)");
    return false;
  }
  fs::path path = SnapshotPath(SnapshotKey());
  r_.properties["snapshot"] = path.string();
  if (!PrepareSnapshot(path)) return false;
  // Restored VMs were READY when saved; a fresh ping proves each lives.
  boot_start_ = Clock::now();
  for (VmSession* vm : {witness, &victim}) {
    if (vm != nullptr && !StartRestored(*vm, path.string(), /*adopting=*/false)) return false;
  }
  return true;
}

}  // namespace ezone::internal
