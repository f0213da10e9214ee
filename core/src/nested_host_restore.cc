#include "nested_host_restore.h"

#include <algorithm>
#include <fstream>
#include <sstream>
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

// Makes the state at `path` with make() (once, under its lock) unless it
// exists. `prepared_key` records what it cost the check that made it; when
// there is none, the evidence says so, and what the check does instead.
bool EnsureState(const fs::path& path, const char* prepared_key, const std::string& what,
                 const std::string& instead, const std::function<bool(std::string*)>& make,
                 NestedHostRestoreResult* out) {
  auto start = Clock::now();
  std::string error;
  bool prepared = false;
  bool ok = EnsureSnapshot(path, make, &error, &prepared);
  // Only a state that was made: a failed attempt is in the evidence.
  if (prepared && ok) out->properties[prepared_key] = Fmt("%.0f", MsSince(start));
  if (!ok) {
    out->evidence.push_back({EvidenceSource::kNestedHost, Severity::kWarning,
                             "nested host: no saved state" + what + " (" + error + "); " + instead});
  }
  return ok;
}

// One boot to READY, checked clean and saved by the qemu plugin (a
// migration to a file), unless a saved state exists.
bool PrepareState(const Plugin& qemu, const NestedHostImage& image, const fs::path& console_log,
                  const fs::path& path, milliseconds boot_timeout,
                  const std::function<void()>& on_prepare, NestedHostRestoreResult* out) {
  return EnsureState(
      path, "nested_host_state_prepared_ms", " to restore", "booting it",
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
      out);
}

fs::path DomainFile(const fs::path& state) { return fs::path(state.string() + ".domain"); }

void RemoveState(const fs::path& state) {
  std::error_code ec;
  fs::remove(state, ec);
  fs::remove(DomainFile(state), ec);
}

// The host restored from its own state, the victim started on it to READY
// and paused, then the host saved with it. The victim's domain name goes
// beside the state (<state>.domain, written before the state exists) for
// the check to adopt and for the restored host's verification.
bool PrepareGuestState(const Plugin& qemu, const NestedHostImage& image,
                       const fs::path& console_log, const fs::path& host_state,
                       const fs::path& path, const NestedGuestTemplate& guest,
                       const std::function<void()>& on_prepare, NestedHostRestoreResult* out) {
  return EnsureState(
      path, "nested_victim_state_prepared_ms", " with the victim",
      "the victim boots on a restored host",
      [&](std::string* why) {
        on_prepare();
        EventQueue template_events;
        fs::path log = console_log;
        log.replace_extension(".victim-template.log");
        NestedHost host(qemu, image, log, &template_events);
        NestedHostHealth health;
        if (host.Restore(host_state.string(), why) != EZONE_OK ||
            !host.Refresh(std::chrono::seconds(60), &health, why)) {
          host.Destroy();
          return false;
        }
        std::unique_ptr<VmSession> vm = guest.start(host, template_events, why);
        auto give_up = [&](const std::string& what) {
          *why = what;
          host.Destroy();
          return false;
        };
        if (!vm) return give_up("the victim to save did not come up: " + *why);
        std::string reply;
        if (!host.session().AgentCommand("sh virsh -q -c qemu:///system list --name",
                                         milliseconds(10000), &reply) ||
            reply.rfind("exit=0 ", 0) != 0) {
          return give_up("listing the nested host's domains failed (" + reply + ")");
        }
        std::istringstream names(reply.substr(7));
        std::vector<std::string> domains;
        for (std::string name; names >> name;) domains.push_back(name);
        if (domains.size() != 1) {
          return give_up("the nested host to save runs " + std::to_string(domains.size()) +
                         " domains, not the victim alone");
        }
        {
          fs::path partial = DomainFile(path).string() + ".partial";
          std::ofstream(partial) << domains[0] << "\n";
          std::error_code ec;
          fs::rename(partial, DomainFile(path), ec);
          if (ec) return give_up("writing " + DomainFile(path).string() + ": " + ec.message());
        }
        if (!host.session().AgentCommand("sh virsh -q -c qemu:///system suspend " + domains[0],
                                         milliseconds(10000), &reply) ||
            reply.rfind("exit=0", 0) != 0) {
          return give_up("pausing the victim to save failed (" + reply + ")");
        }
        ezone_status saved = host.SaveState(path.string(), why);
        host.Destroy();
        vm.reset();  // its domain went with the host
        return saved == EZONE_OK;
      },
      out);
}

std::string ReadDomainFile(const fs::path& state) {
  std::ifstream in(DomainFile(state));
  std::string name;
  in >> name;
  return name;
}

}  // namespace

NestedHostRestoreResult RestoreNestedHost(const Plugin& qemu, const NestedHostImage& image,
                                          const fs::path& console_log, EventQueue* events,
                                          milliseconds boot_timeout,
                                          const std::function<void()>& on_prepare,
                                          const NestedGuestTemplate* guest) {
  NestedHostRestoreResult out;
  fs::path path = SnapshotPath(NestedHostStateKey(image, qemu.descriptor->version));
  path.replace_extension(".nested-host.vmstate");
  out.properties["nested_host_state"] = path.string();
  if (!PrepareState(qemu, image, console_log, path, boot_timeout, on_prepare, &out)) return out;
  std::string saved_guest;
  if (guest) {
    fs::path with_guest =
        SnapshotPath(NestedHostStateKey(image, qemu.descriptor->version) + "|victim|" + guest->key);
    with_guest.replace_extension(".nested-host-victim.vmstate");
    out.properties["nested_victim_state"] = with_guest.string();
    if (PrepareGuestState(qemu, image, console_log, path, with_guest, *guest, on_prepare, &out)) {
      path = with_guest;
      saved_guest = ReadDomainFile(path);
    }
  }
  auto start = Clock::now();
  auto host = std::make_unique<NestedHost>(qemu, image, console_log, events);
  std::string error;
  NestedHostHealth health;
  const bool loaded = host->Restore(path.string(), &error, saved_guest) == EZONE_OK;
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
             "libvirtd answer, taint 0, " +
             (saved_guest.empty() ? std::string("no domain, no QEMU process")
                                  : "the victim saved with it (" + saved_guest +
                                        ", paused, its QEMU running) and no other domain")});
    if (!saved_guest.empty()) out.properties["nested_victim_saved_as"] = saved_guest;
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
  if (!loaded || dirty) RemoveState(path);
  host->Destroy();
  host.reset();
  // What the discarded host said (its QEMU's exit) must not reach the
  // fresh host's boot; nothing else runs yet, so the queue is emptied.
  while (events->Wait(Clock::now())) {
  }
  return out;
}

}  // namespace ezone
