#include "progress.h"

#include <cstdio>

namespace ezone {
namespace {

std::string Seconds(const std::optional<double>& ms, const char* format = "%.2f s") {
  if (!ms) return "";
  char text[32];
  snprintf(text, sizeof text, format, *ms / 1000.0);
  return text;
}

}  // namespace

const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kHostBoot: return "host-boot";
    case Phase::kHostReady: return "host-ready";
    case Phase::kSnapshotPrepare: return "snapshot-prepare";
    case Phase::kBoot: return "boot";
    case Phase::kStarted: return "started";
    case Phase::kReady: return "ready";
    case Phase::kRestored: return "restored";
    case Phase::kBootAgain: return "boot-again";
    case Phase::kFire: return "fire";
    case Phase::kObserve: return "observe";
    case Phase::kDetected: return "detected";
    case Phase::kTeardown: return "teardown";
    case Phase::kRetry: return "retry";
  }
  return "?";
}

std::string DescribeProgress(const ProgressEvent& e) {
  const std::string role = e.role ? RoleName(*e.role) : "VM";
  const std::string detail = e.detail.empty() ? "" : ": " + e.detail;
  switch (e.phase) {
    case Phase::kHostBoot: return "booting the nested host";
    case Phase::kHostReady: return "nested host ready in " + Seconds(e.ms, "%.1f s");
    case Phase::kSnapshotPrepare: return "preparing the snapshot (boot to READY once, then save)";
    case Phase::kBoot: return "booting the " + role;
    case Phase::kStarted: return "started the " + role + detail;
    case Phase::kReady: return role + " ready in " + Seconds(e.ms);
    case Phase::kRestored: return role + " restored and answering in " + Seconds(e.ms);
    case Phase::kBootAgain: return "the " + role + " ended before READY; booting it again" + detail;
    case Phase::kFire: return "firing " + e.detail;
    case Phase::kObserve: return "observing";
    case Phase::kDetected: {
      char ms[32] = "";
      if (e.ms) snprintf(ms, sizeof ms, "%.0f ms", *e.ms);
      return std::string("detected after ") + ms + detail;
    }
    case Phase::kTeardown: return "tearing down the " + role;
    case Phase::kRetry:
      if (e.role == Role::kHost) {
        return "the nested host failed before the fault (" + e.detail +
               "); running the check again on a fresh nested host";
      }
      return "the test bed failed before the fault (" + e.detail + "); running the check again";
  }
  return PhaseName(e.phase);
}

std::string JournalPhase(const ProgressEvent& e) {
  std::string name = PhaseName(e.phase);
  if (e.role) name += std::string(" (") + RoleName(*e.role) + ")";
  return name;
}

}  // namespace ezone
