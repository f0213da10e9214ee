// The oracle's watching half, with no I/O: fed the events of the check's
// VMs, their heartbeat times and clock readings, it decides when the fault
// showed, what the witness and the nested host suffered, and when watching
// is over. It never waits; CheckRun waits on the event queue until
// wake_at() and hands over what arrived. Unit-tested with scripted
// sequences (core/tests/observer_test.cc).
#ifndef EZONE_CORE_OBSERVER_H_
#define EZONE_CORE_OBSERVER_H_

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "ezone/report/check_record.h"
#include "verdict.h"
#include "vm_session.h"

namespace ezone {

using std::chrono::milliseconds;

struct ObserverConfig {
  uint32_t signs = 0;              // the fault's declared EZONE_SIGN_* bits
  Clock::time_point fired_at{};    // when the fault plugin was called
  milliseconds observe_timeout{20000};
  milliseconds settle{2000};       // keep listening this long after the first sign
  bool witness = false;            // a witness VM runs beside the victim
  bool nested_host = false;        // the host under test is the nested host
  bool host_fault = false;         // an E-Zone 1 fault: it may take the victim with the host
  int heartbeat_period_ms = 100;
  milliseconds heartbeat_loss{1500};   // victim silent this long: hung
  milliseconds host_hang{5000};        // nested host's agent silent this long: hung
  milliseconds witness_stutter{1000};  // witness gap: varied
  milliseconds witness_hang{5000};     // witness gap: global
};

class Observer {
 public:
  explicit Observer(const ObserverConfig& config);

  // An event of any VM of the check. Events stamped after the window
  // closed end it and are not signs.
  void OnEvent(const VmEvent& e);
  // The last heartbeat of the victim or the nested host, as the session saw
  // it (the runner reads it before every wait).
  void OnHeartbeat(Role role, Clock::time_point last);
  // Nothing arrived up to `now`: deadlines and overdue heartbeats.
  void OnTick(Clock::time_point now);

  // Watching is over: the deadline passed, or nothing more can come.
  bool done() const { return done_; }
  // When the runner must call OnTick at the latest.
  Clock::time_point wake_at() const;

  // After the window: the witness's answer to a ping and its longest
  // heartbeat gap in the window (the runner asks the session).
  void OnWitnessFinal(bool answered, const std::string& reply, milliseconds max_gap);
  // Closes the observation: adds "no sign" when nothing showed.
  void Finish(int victim_heartbeats);

  const Observation& observation() const { return o_; }
  const std::vector<report::Evidence>& evidence() const { return evidence_; }
  // ms from firing to the first declared sign; unset when none showed.
  std::optional<double> detection_ms() const { return detection_ms_; }
  // The evidence that set the detection time (for progress), or null.
  const report::Evidence* detection_evidence() const;
  // The witness's longest heartbeat gap, once OnWitnessFinal ran.
  std::optional<milliseconds> witness_max_gap() const { return witness_gap_; }

 private:
  void Sign(uint32_t which, Clock::time_point at, report::EvidenceSource source,
            std::string text);
  void Note(report::EvidenceSource source, report::Severity severity, std::string text);
  void OnVictimEvent(const VmEvent& e);
  void OnWitnessEvent(const VmEvent& e);
  void OnHostEvent(const VmEvent& e);
  void OnReboot(const VmEvent& e);
  void CloseBy(Clock::time_point at);  // the window ends `settle` after `at`, if sooner

  ObserverConfig c_;
  Observation o_;
  std::vector<report::Evidence> evidence_;
  size_t notes_ = 0;  // evidence that is neither sign nor damage, capped
  Clock::time_point deadline_;
  std::optional<Clock::time_point> first_sign_;
  std::optional<double> detection_ms_;
  std::optional<size_t> detection_index_;
  Clock::time_point victim_beat_, host_beat_;
  bool victim_hang_reported_ = false;
  bool host_hang_reported_ = false;
  bool done_ = false;
  std::optional<milliseconds> witness_gap_;
};

}  // namespace ezone

#endif  // EZONE_CORE_OBSERVER_H_
