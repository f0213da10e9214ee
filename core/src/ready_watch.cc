#include "ready_watch.h"

#include <algorithm>
#include <cstdio>

namespace ezone {
namespace {

using report::EvidenceSource;
using report::Severity;

EvidenceSource SourceOf(Role role) {
  switch (role) {
    case Role::kWitness: return EvidenceSource::kWitness;
    case Role::kHost: return EvidenceSource::kNestedHost;
    case Role::kVictim:
    case Role::kTemplate: break;
  }
  return EvidenceSource::kVictim;
}

}  // namespace

void ReadyWatch::Expect(Role role, Clock::time_point deadline) {
  ready_.erase(role);
  booting_[role] = deadline;
}

bool ReadyWatch::waiting() const { return !booting_.empty(); }

Clock::time_point ReadyWatch::deadline() const {
  Clock::time_point earliest = Clock::time_point::max();
  for (const auto& [role, deadline] : booting_) earliest = std::min(earliest, deadline);
  return earliest;
}

ReadyWatch::Step ReadyWatch::OnTimeout(Clock::time_point now) {
  for (const auto& [role, deadline] : booting_) {
    if (now >= deadline) return {Outcome::kTimedOut, role, "", now, std::nullopt};
  }
  return {};
}

ReadyWatch::Step ReadyWatch::OnStall(Role role, Clock::time_point now, const std::string& why) {
  if (booting_.count(role) == 0) return {};
  if (options_.boot_again_once && booted_again_.insert(role).second) {
    booting_.erase(role);  // Expect() again once it is started again
    return {Outcome::kBootAgain, role, why, now,
            report::Evidence{EvidenceSource::kRunner, Severity::kInfo,
                             std::string("the ") + RoleName(role) + " stalled before READY (" +
                                 why + "): booted it again, once"}};
  }
  return {Outcome::kFailed, role, "it stalled: " + why, now, std::nullopt};
}

std::optional<std::string> ReadyWatch::Stalled(Role role, Clock::time_point last_output,
                                               Clock::time_point now) const {
  const auto quiet = now - last_output;
  if (booting_.count(role) == 0 || quiet < kConsoleStall) return std::nullopt;
  char text[64];
  snprintf(text, sizeof text, "its console silent for %.0f s",
           std::chrono::duration<double>(quiet).count());
  return text;
}

ReadyWatch::Step ReadyWatch::OnEvent(const VmEvent& e) {
  const Role role = e.role;
  const bool expected = booting_.count(role) != 0 || ready_.count(role) != 0;
  if (!expected) {
    // The nested host under the booting VMs: its failure is the boot's.
    if (role != Role::kHost || !options_.host_underneath) return {};
    const bool died = e.kind == VmEvent::Kind::kVmmExited ||
                      e.kind == VmEvent::Kind::kGuestPanicked ||
                      e.kind == VmEvent::Kind::kGuestStopped ||
                      (e.kind == VmEvent::Kind::kConsole && IsCrash(e.cls));
    if (died) return {Outcome::kHostFailed, role, e.text, e.at, std::nullopt};
    if (e.kind == VmEvent::Kind::kConsole) {
      return {Outcome::kNothing, role, "", e.at,
              report::Evidence{EvidenceSource::kNestedHost, Severity::kWarning,
                               std::string("nested host console (") + ConsoleClassName(e.cls) +
                                   ", while the guest booted): " + e.text}};
    }
    return {};
  }
  switch (e.kind) {
    case VmEvent::Kind::kReady:
      if (booting_.erase(role) == 0) return {};  // a second READY: nothing new
      ready_.insert(role);
      return {Outcome::kReady, role, e.text, e.at, std::nullopt};
    case VmEvent::Kind::kVmmExited:
      if (options_.boot_again_once && booting_.count(role) != 0 &&
          booted_again_.insert(role).second) {
        booting_.erase(role);  // Expect() again once it is started again
        return {Outcome::kBootAgain, role, e.text, e.at,
                report::Evidence{EvidenceSource::kRunner, Severity::kInfo,
                                 std::string("the ") + RoleName(role) + " ended before READY (" +
                                     e.text + "): booted it again, once"}};
      }
      return {Outcome::kFailed, role, "its VMM exited: " + e.text, e.at,
              std::nullopt};
    case VmEvent::Kind::kGuestPanicked:
      return {Outcome::kFailed, role, "it panicked: " + e.text, e.at, std::nullopt};
    case VmEvent::Kind::kConsole:
      if (IsCrash(e.cls)) {
        return {Outcome::kFailed, role, "its kernel crashed: " + e.text, e.at,
                std::nullopt};
      }
      return {Outcome::kNothing, role, "", e.at,
              report::Evidence{SourceOf(role), Severity::kWarning,
                               std::string(RoleName(role)) + " console (" +
                                   ConsoleClassName(e.cls) + ", while booting): " + e.text}};
    default:
      return {};
  }
}

}  // namespace ezone
