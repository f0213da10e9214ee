#include "observer.h"

#include <algorithm>
#include <cstdio>

namespace ezone {
namespace {

using report::EvidenceSource;
using report::Severity;

// Notes (evidence that is neither a sign nor damage: warnings of the
// victim, the nested host's warnings) beyond this many are dropped: a
// guest flooding warnings must not flood the report.
constexpr size_t kMaxNotes = 100;

std::string Ms(double ms) {
  char text[32];
  snprintf(text, sizeof text, "%.0f ms", ms);
  return text;
}

double MsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace

Observer::Observer(const ObserverConfig& config)
    : c_(config),
      deadline_(config.fired_at + config.observe_timeout),
      victim_beat_(config.fired_at),
      host_beat_(config.fired_at) {}

Clock::time_point Observer::wake_at() const {
  Clock::time_point wake = deadline_;
  if (!victim_hang_reported_) wake = std::min(wake, victim_beat_ + c_.heartbeat_loss);
  if (c_.nested_host && !host_hang_reported_) wake = std::min(wake, host_beat_ + c_.host_hang);
  return wake;
}

const report::Evidence* Observer::detection_evidence() const {
  return detection_index_ ? &evidence_[*detection_index_] : nullptr;
}

void Observer::Note(EvidenceSource source, Severity severity, std::string text) {
  if (notes_++ >= kMaxNotes) return;
  evidence_.push_back({source, severity, std::move(text)});
}

void Observer::Sign(uint32_t which, Clock::time_point at, EvidenceSource source,
                    std::string text) {
  evidence_.push_back({source, source == EvidenceSource::kFault ? Severity::kInfo : Severity::kBad,
                       std::move(text)});
  // Only the signs the fault declared count, and only the first sets the
  // detection time.
  if ((c_.signs & which) == 0 || first_sign_) return;
  first_sign_ = at;
  detection_index_ = evidence_.size() - 1;
  if (which == EZONE_SIGN_FAULT_CONFIRMED) {
    o_.fault_confirmed = true;
  } else {
    o_.victim_showed_fault = true;
  }
  detection_ms_ = MsBetween(c_.fired_at, at);
  // Keep listening a little: the panic after the oops, late effects.
  CloseBy(at);
}

void Observer::CloseBy(Clock::time_point at) { deadline_ = std::min(deadline_, at + c_.settle); }

void Observer::OnHeartbeat(Role role, Clock::time_point last) {
  if (role == Role::kVictim) victim_beat_ = std::max(victim_beat_, last);
  if (role == Role::kHost) host_beat_ = std::max(host_beat_, last);
}

void Observer::OnTick(Clock::time_point now) {
  if (done_) return;
  if (now >= deadline_) {
    done_ = true;
    return;
  }
  if (c_.nested_host && !host_hang_reported_ && now - host_beat_ >= c_.host_hang) {
    host_hang_reported_ = true;
    o_.host_crashed = true;
    Sign(EZONE_SIGN_HOST_HANG, now, EvidenceSource::kNestedHost,
         "nested host: its agent's heartbeat stopped (none for " +
             Ms(MsBetween(host_beat_, now)) + ")");
  }
  if (!victim_hang_reported_ && now - victim_beat_ >= c_.heartbeat_loss) {
    victim_hang_reported_ = true;
    Sign(EZONE_SIGN_GUEST_HANG, now, EvidenceSource::kVictim,
         "agent: heartbeat lost (none for " + Ms(MsBetween(victim_beat_, now)) + ", period " +
             std::to_string(c_.heartbeat_period_ms) + " ms)");
  }
}

void Observer::OnReboot(const VmEvent& e) {
  // A kernel that booted again after READY, without the VMM saying so, went
  // down first: a crash, never a pass.
  const std::string text = "reboot: the kernel booted again after READY (its banner, or its agent's READY again)";
  switch (e.role) {
    case Role::kWitness:
      o_.witness_crashed = true;
      evidence_.push_back({EvidenceSource::kWitness, Severity::kBad, "witness " + text});
      break;
    case Role::kHost:
      o_.host_crashed = true;
      Sign(EZONE_SIGN_HOST_KERNEL_CRASH, e.at, EvidenceSource::kNestedHost, "nested host " + text);
      break;
    default:
      Sign(EZONE_SIGN_GUEST_KERNEL_CRASH, e.at, EvidenceSource::kVictim, "guest " + text);
      break;
  }
}

void Observer::OnEvent(const VmEvent& e) {
  if (e.kind == VmEvent::Kind::kReport) {
    // Whole reports: their first lines were seen as they came; only a
    // reboot is news.
    if (e.report && e.report->kind == ReportKind::kReboot && (!done_ || e.role == Role::kWitness)) {
      OnReboot(e);
    }
    return;
  }
  // A witness that suffered at any time during the check counts, even if
  // its news arrives after the window (the final drain).
  if (e.role == Role::kWitness) {
    OnWitnessEvent(e);
    return;
  }
  if (done_) return;
  if (e.at >= deadline_) {
    done_ = true;  // stamped after the window: not this check's evidence
    return;
  }
  if (e.role == Role::kHost) {
    OnHostEvent(e);
    return;
  }
  OnVictimEvent(e);
}

void Observer::OnVictimEvent(const VmEvent& e) {
  switch (e.kind) {
    case VmEvent::Kind::kConsole:
      if (IsCrash(e.cls)) {
        Sign(EZONE_SIGN_GUEST_KERNEL_CRASH, e.at, EvidenceSource::kVictim,
             std::string("guest console (") + ConsoleClassName(e.cls) + "): " + e.text);
      } else if (e.cls == ConsoleClass::kOomKill) {
        Sign(EZONE_SIGN_GUEST_OOM_KILL, e.at, EvidenceSource::kVictim,
             "guest console (oom-kill): " + e.text);
      } else if (e.cls == ConsoleClass::kUserSegfault) {
        Sign(EZONE_SIGN_GUEST_PROCESS_DIED, e.at, EvidenceSource::kVictim,
             "guest console (user-segfault): " + e.text);
      } else {
        Note(EvidenceSource::kVictim, Severity::kWarning,
             std::string("guest console (") + ConsoleClassName(e.cls) + ", not a crash): " +
                 e.text);
      }
      break;
    case VmEvent::Kind::kGuestPanicked:
      Sign(EZONE_SIGN_GUEST_KERNEL_CRASH, e.at, EvidenceSource::kVmm,
           "vmm: guest panicked (" + e.text + ")");
      break;
    case VmEvent::Kind::kVmmExited:
      Sign(EZONE_SIGN_VMM_EXIT, e.at, EvidenceSource::kVmm, "vmm: process exited: " + e.text);
      // Nothing more can come from the victim. A witness may still have
      // something to say, and an E-Zone 1 fault takes the victim with the
      // host: then keep watching within the settle window.
      if (!c_.witness && !c_.host_fault) {
        done_ = true;
      } else {
        CloseBy(e.at);
      }
      break;
    case VmEvent::Kind::kFaultObserved:
      Sign(e.sign, e.at, EvidenceSource::kFault, "fault: " + e.text);
      break;
    case VmEvent::Kind::kGuestStopped:
      evidence_.push_back({EvidenceSource::kVmm, Severity::kInfo, "vmm: guest stopped: " + e.text});
      break;
    case VmEvent::Kind::kNote:
      Note(EvidenceSource::kVmm, Severity::kInfo, "vmm: " + e.text);
      break;
    case VmEvent::Kind::kPluginError:
      done_ = true;  // nothing it says can be trusted now: the runner makes it an error
      break;
    case VmEvent::Kind::kReady:
    case VmEvent::Kind::kReport:
      break;
  }
}

void Observer::OnWitnessEvent(const VmEvent& e) {
  switch (e.kind) {
    case VmEvent::Kind::kConsole:
      if (IsCrash(e.cls)) o_.witness_crashed = true;
      evidence_.push_back({EvidenceSource::kWitness,
                           IsCrash(e.cls) ? Severity::kBad : Severity::kWarning,
                           std::string("witness console (") + ConsoleClassName(e.cls) + "): " +
                               e.text});
      break;
    case VmEvent::Kind::kGuestPanicked:
    case VmEvent::Kind::kVmmExited:
    case VmEvent::Kind::kGuestStopped:
      o_.witness_crashed = true;
      evidence_.push_back({EvidenceSource::kWitness, Severity::kBad, "witness died: " + e.text});
      break;
    default:
      break;
  }
}

void Observer::OnHostEvent(const VmEvent& e) {
  switch (e.kind) {
    case VmEvent::Kind::kConsole:
      if (IsCrash(e.cls)) {
        o_.host_crashed = true;
        Sign(EZONE_SIGN_HOST_KERNEL_CRASH, e.at, EvidenceSource::kNestedHost,
             std::string("nested host console (") + ConsoleClassName(e.cls) + "): " + e.text);
      } else {
        // A warning from before the fault (queued while the VMs booted) is
        // not the fault's doing.
        if (e.cls == ConsoleClass::kWarning && e.at >= c_.fired_at) o_.host_degraded = true;
        Note(EvidenceSource::kNestedHost, Severity::kWarning,
             std::string("nested host console (") + ConsoleClassName(e.cls) + "): " + e.text);
      }
      break;
    case VmEvent::Kind::kGuestPanicked:
      o_.host_crashed = true;
      Sign(EZONE_SIGN_HOST_KERNEL_CRASH, e.at, EvidenceSource::kNestedHost,
           "nested host panicked (its pvpanic: " + e.text + ")");
      break;
    case VmEvent::Kind::kVmmExited:
      o_.host_crashed = true;
      Sign(EZONE_SIGN_HOST_KERNEL_CRASH, e.at, EvidenceSource::kNestedHost,
           "nested host is gone: its QEMU exited: " + e.text);
      CloseBy(e.at);
      break;
    case VmEvent::Kind::kGuestStopped:
      // Its kernel reset or powered off: the host under test is gone.
      o_.host_crashed = true;
      Sign(EZONE_SIGN_HOST_KERNEL_CRASH, e.at, EvidenceSource::kNestedHost,
           "nested host stopped: " + e.text);
      CloseBy(e.at);
      break;
    default:
      break;
  }
}

void Observer::OnWitnessFinal(bool answered, const std::string& reply, milliseconds max_gap) {
  // A positive sign of life, not only the absence of bad news.
  if (!answered) {
    o_.witness_crashed = true;
    evidence_.push_back({EvidenceSource::kWitness, Severity::kBad,
                         "witness died: its agent does not answer (" + reply + ")"});
  }
  witness_gap_ = max_gap;
  std::string text = "witness: longest heartbeat gap " + std::to_string(max_gap.count()) +
                     " ms in the fault window (period " +
                     std::to_string(c_.heartbeat_period_ms) + " ms)";
  Severity severity = Severity::kGood;
  if (max_gap >= c_.witness_hang) {
    o_.witness_crashed = true;
    text += ": hung";
    severity = Severity::kBad;
  } else if (max_gap >= c_.witness_stutter) {
    o_.witness_degraded = true;
    text += ": stuttered";
    severity = Severity::kWarning;
  } else {
    text += ": steady";
  }
  evidence_.push_back({EvidenceSource::kWitness, severity, std::move(text)});
}

void Observer::Finish(int victim_heartbeats) {
  done_ = true;
  if (first_sign_) return;
  char window[32];
  snprintf(window, sizeof window, "%.1f s", c_.observe_timeout.count() / 1000.0);
  evidence_.push_back({EvidenceSource::kRunner, Severity::kInfo,
                       std::string("no sign of the fault within ") + window +
                           " (heartbeats: " + std::to_string(victim_heartbeats) + ")"});
}

}  // namespace ezone
