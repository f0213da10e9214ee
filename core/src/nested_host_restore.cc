#include "nested_host_restore.h"

#include <algorithm>
#include <system_error>

#include "elapsed.h"
#include "ready_watch.h"
#include "snapshot_cache.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;
using report::EvidenceSource;
using report::Severity;
using std::chrono::milliseconds;

// One boot to READY, checked clean and saved by the qemu plugin (a
// migration to a file), unless a saved state exists.
bool PrepareState(const Plugin& qemu, const NestedHostImage& image, const fs::path& console_log,
                  const fs::path& path, milliseconds boot_timeout,
                  const std::function<void()>& on_prepare, NestedHostRestoreResult* out) {
  auto start = Clock::now();
  std::string error;
  bool prepared = false;
  bool ok = EnsureSnapshot(
      path,
      [&](std::string* why) {
        on_prepare();
        // A private queue and watch: a failure here is the state's, not the
        // check's; the check then boots its host.
        EventQueue template_events;
        fs::path log = console_log;
        log.replace_extension(".template.log");
        NestedHost host(qemu, image, log, &template_events);
        if (host.Start(why) != EZONE_OK) return false;
        ReadyWatch watch({});
        watch.Expect(Role::kHost, Clock::now() + boot_timeout);
        for (;;) {
          // Awake once a second to see a boot that stalled (kConsoleStall):
          // the check then boots its own host without waiting out 240 s.
          std::optional<VmEvent> e = template_events.Wait(
              std::min(watch.deadline(), Clock::now() + std::chrono::seconds(1)));
          const auto now = Clock::now();
          ReadyWatch::Step step;
          if (e) {
            step = watch.OnEvent(*e);
          } else if (now >= watch.deadline()) {
            step = watch.OnTimeout(now);
          } else if (auto stalled =
                         watch.Stalled(Role::kHost, host.session().last_console_output(), now)) {
            step = watch.OnStall(Role::kHost, now, *stalled);
          }
          if (step.outcome == ReadyWatch::Outcome::kReady) break;
          if (step.outcome != ReadyWatch::Outcome::kNothing) {
            *why = "the nested host to save did not reach READY: " + step.why;
            return false;
          }
        }
        // Only a clean host is saved: no taint, nothing running.
        std::string reply;
        if (!host.session().AgentCommand("runout /bin/cat /proc/sys/kernel/tainted",
                                         milliseconds(10000), &reply) ||
            reply != "exit=0 0") {
          *why = "the nested host to save is not clean (taint: " + reply + ")";
          return false;
        }
        ezone_status saved = host.SaveState(path.string(), why);
        host.Destroy();
        return saved == EZONE_OK;
      },
      &error, &prepared);
  if (prepared) out->properties["nested_host_state_prepared_ms"] = Fmt("%.0f", MsSince(start));
  if (!ok) {
    out->evidence.push_back({EvidenceSource::kNestedHost, Severity::kWarning,
                             "nested host: no saved state to restore (" + error + "); booting it"});
  }
  return ok;
}

}  // namespace

NestedHostRestoreResult RestoreNestedHost(const Plugin& qemu, const NestedHostImage& image,
                                          const fs::path& console_log, EventQueue* events,
                                          milliseconds boot_timeout,
                                          const std::function<void()>& on_prepare) {
  NestedHostRestoreResult out;
  fs::path path = SnapshotPath(NestedHostStateKey(image, qemu.descriptor->version));
  path.replace_extension(".nested-host.vmstate");
  out.properties["nested_host_state"] = path.string();
  if (!PrepareState(qemu, image, console_log, path, boot_timeout, on_prepare, &out)) return out;
  auto start = Clock::now();
  auto host = std::make_unique<NestedHost>(qemu, image, console_log, events);
  std::string error;
  NestedHostHealth health;
  const bool loaded = host->Restore(path.string(), &error) == EZONE_OK;
  out.properties["nested_host_load_ms"] = Fmt("%.0f", MsSince(start));
  // A restored host answers within seconds (it was READY when saved); one
  // that does not within a minute is not waited for: a boot follows.
  bool ok = loaded && host->Refresh(std::min<milliseconds>(boot_timeout, std::chrono::seconds(60)),
                                    &health, &error);
  if (!host->restore_steps().empty()) out.properties["nested_host_refresh"] = host->restore_steps();
  if (ok) {
    out.properties["nested_host_restore_ms"] = Fmt("%.0f", MsSince(start));
    out.evidence.push_back(
        {EvidenceSource::kNestedHost, Severity::kGood,
         "nested host: restored from its saved state in " + Fmt("%.0f", MsSince(start)) +
             " ms, this check's credentials and clock, libvirtd restarted; verified: agent and "
             "libvirtd answer, taint 0, no domain, no QEMU process"});
    out.host = std::move(host);
    return out;
  }
  // Not as clean as a fresh host, or not up: never used. A state QEMU
  // could not load, or that loaded a dirty host, is removed (the next check
  // saves a new one); a host that did not answer in time may be load, and
  // the state stays.
  out.evidence.push_back({EvidenceSource::kNestedHost, Severity::kWarning,
                          "nested host: the restored host is not used (" + error +
                              "); booting a fresh one"});
  out.properties["nested_host_restore_rejected"] = error;
  const bool dirty =
      health.agent_answers && health.libvirtd_answers && !NestedHostProblem(health).empty();
  if (!loaded || dirty) {
    std::error_code ec;
    fs::remove(path, ec);
  }
  host->Destroy();
  host.reset();
  // What the discarded host said (its QEMU's exit) must not reach the
  // fresh host's boot; nothing else runs yet, so the queue is emptied.
  while (events->Wait(Clock::now())) {
  }
  return out;
}

}  // namespace ezone
