#include "nested_host_restore.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
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

// "<role> <domain>" per line; a line with a name alone (a state saved
// before witnesses were) is the victim's.
std::map<Role, std::string> ReadDomainFile(const fs::path& state) {
  std::map<Role, std::string> guests;
  std::ifstream in(DomainFile(state));
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string first, second;
    if (!(fields >> first)) continue;
    if (!(fields >> second)) {
      guests[Role::kVictim] = first;
    } else if (first == RoleName(Role::kWitness)) {
      guests[Role::kWitness] = second;
    } else if (first == RoleName(Role::kVictim)) {
      guests[Role::kVictim] = second;
    }
  }
  return guests;
}

// The domains the host's libvirtd lists, or nothing with *why.
std::optional<std::vector<std::string>> ListDomains(NestedHost& host, std::string* why) {
  std::string reply;
  // One line: an agent reply carries the first line of the output only.
  if (!host.session().AgentCommand("sh echo $(virsh -q -c qemu:///system list --name)",
                                   milliseconds(10000), &reply) ||
      reply.rfind("exit=0", 0) != 0) {
    *why = "listing the nested host's domains failed (" + reply + ")";
    return std::nullopt;
  }
  std::istringstream names(reply.substr(6));
  std::vector<std::string> domains;
  for (std::string name; names >> name;) domains.push_back(name);
  return domains;
}

// The host restored from its own state, the guests started on it to READY
// one by one and paused, then the host saved with them. Their domain names
// go beside the state (<state>.domain, written before the state exists) for
// the check to adopt and for the restored host's verification.
bool PrepareGuestState(const Plugin& qemu, const NestedHostImage& image,
                       const fs::path& console_log, const fs::path& host_state,
                       const fs::path& path, const NestedGuestTemplate& guests,
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
        auto give_up = [&](const std::string& what) {
          *why = what;
          host.Destroy();
          return false;
        };
        // Each guest's domain is the one that appeared when it started.
        std::vector<std::unique_ptr<VmSession>> vms;
        std::vector<std::pair<Role, std::string>> saved;
        std::vector<std::string> before;
        for (Role role : guests.roles) {
          vms.push_back(guests.start(host, template_events, role, why));
          if (!vms.back()) {
            return give_up(std::string("the ") + RoleName(role) + " to save did not come up: " +
                           *why);
          }
          std::optional<std::vector<std::string>> now = ListDomains(host, why);
          if (!now) return give_up(*why);
          std::vector<std::string> added;
          for (const auto& name : *now) {
            if (std::find(before.begin(), before.end(), name) == before.end()) added.push_back(name);
          }
          if (added.size() != 1 || now->size() != before.size() + 1) {
            return give_up("the nested host to save runs " + std::to_string(now->size()) +
                           " domains after the " + RoleName(role) + " started, not " +
                           std::to_string(before.size() + 1));
          }
          saved.push_back({role, added[0]});
          before = *now;
        }
        {
          fs::path partial = DomainFile(path).string() + ".partial";
          std::ofstream file(partial);
          for (const auto& [role, name] : saved) file << RoleName(role) << " " << name << "\n";
          file.close();
          std::error_code ec;
          fs::rename(partial, DomainFile(path), ec);
          if (ec) return give_up("writing " + DomainFile(path).string() + ": " + ec.message());
        }
        std::string reply;
        for (const auto& [role, name] : saved) {
          if (!host.session().AgentCommand("sh virsh -q -c qemu:///system suspend " + name,
                                           milliseconds(10000), &reply) ||
              reply.rfind("exit=0", 0) != 0) {
            return give_up(std::string("pausing the ") + RoleName(role) + " to save failed (" +
                           reply + ")");
          }
        }
        ezone_status saved_state = host.SaveState(path.string(), why);
        host.Destroy();
        vms.clear();  // their domains went with the host
        return saved_state == EZONE_OK;
      },
      out);
}

// "victim <name>, witness <name>", for the evidence.
std::string GuestList(const std::map<Role, std::string>& guests) {
  std::string text;
  for (const auto& [role, name] : guests) {
    text += (text.empty() ? "" : ", ") + std::string(RoleName(role)) + " " + name;
  }
  return text;
}

}  // namespace

NestedHostRestoreResult RestoreNestedHost(const Plugin& qemu, const NestedHostImage& image,
                                          const fs::path& console_log, EventQueue* events,
                                          milliseconds boot_timeout,
                                          const std::function<void()>& on_prepare,
                                          const NestedGuestTemplate* guests) {
  NestedHostRestoreResult out;
  fs::path path = SnapshotPath(NestedHostStateKey(image, qemu.descriptor->version));
  path.replace_extension(".nested-host.vmstate");
  out.properties["nested_host_state"] = path.string();
  if (!PrepareState(qemu, image, console_log, path, boot_timeout, on_prepare, &out)) return out;
  std::map<Role, std::string> saved_guests;
  if (guests) {
    std::string roles;
    for (Role role : guests->roles) roles += std::string("|") + RoleName(role);
    fs::path with_guests = SnapshotPath(NestedHostStateKey(image, qemu.descriptor->version) +
                                        "|guests" + roles + "|" + guests->key);
    with_guests.replace_extension(".nested-host-victim.vmstate");
    out.properties["nested_victim_state"] = with_guests.string();
    if (PrepareGuestState(qemu, image, console_log, path, with_guests, *guests, on_prepare,
                          &out)) {
      path = with_guests;
      saved_guests = ReadDomainFile(path);
    }
  }
  auto start = Clock::now();
  auto host = std::make_unique<NestedHost>(qemu, image, console_log, events);
  std::string error;
  NestedHostHealth health;
  const bool loaded = host->Restore(path.string(), &error, saved_guests) == EZONE_OK;
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
             (saved_guests.empty() ? std::string("no domain, no QEMU process")
                                   : "the guests saved with it (" + GuestList(saved_guests) +
                                         ", paused, their QEMU running) and no other domain")});
    for (const auto& [role, name] : saved_guests) {
      out.properties[std::string("nested_") + RoleName(role) + "_saved_as"] = name;
    }
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
