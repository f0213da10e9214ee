// An in-process fake VMM written with the SDK (ezone/sdk.h), for driving
// the real check runner through scripted sequences without booting
// anything: each VM plays a script of console lines, agent lines and VMM
// events, beats every 100 ms while alive, and answers the agent's commands.
// Registered by hand (CoreView) under the name "scripted", with a fault
// plugin "scripted-fault" whose variants send the command "fault".
#ifndef EZONE_CORE_TESTS_SUPPORT_SCRIPTED_VMM_H_
#define EZONE_CORE_TESTS_SUPPORT_SCRIPTED_VMM_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ezone/sdk.h"
#include "plugin_registry.h"

namespace ezone::scripted {

struct ScriptStep {
  enum class Kind {
    kConsole,         // a console line
    kReady,           // the agent's READY with this boot's nonce
    kStopHeartbeats,  // the agent falls silent
    kVmmExit,         // the VMM process ends (EZONE_EVENT_VMM_EXITED)
    kPanicEvent,      // the VMM saw the guest panic (EZONE_EVENT_GUEST_PANICKED)
    kResumed,         // a restored VM runs: the agent answers, no READY
  };
  int after_ms;  // after the previous step
  Kind kind;
  std::string text;
};

// What one role's VM does: at boot, and once the fault fired (the victim on
// the command "fault"; any other role when the victim got it).
struct VmScript {
  std::vector<ScriptStep> boot = {{50, ScriptStep::Kind::kReady, ""}};
  // Snapshot mode (EZONE_CAP_SNAPSHOT): a restored VM answers at once and
  // sends no READY; the first `restores_that_die` restored VMs of this role
  // end (VMM exit) as they resume instead.
  int restores_that_die = 0;
  std::vector<ScriptStep> on_fault;
  bool reply_to_fault = true;  // false: the fault kills it before it answers
};

// The scripts of the next check, by role ("victim", "witness"). Set before
// RunCheck; read by the VMs as they are created.
void SetScripts(std::map<std::string, VmScript> scripts);

// Adds "scripted" (a VMM with EZONE_CAP_WITNESS and EZONE_CAP_SNAPSHOT: its
// saved state is a small file) and "scripted-fault"
// (variants: crash [guest kernel crash], hang [guest hang], exit [VMM exit],
// all E-Zone 3 but exit, E-Zone 2) to `registry`.
void AddScriptedPlugins(PluginRegistry& registry);

}  // namespace ezone::scripted

#endif  // EZONE_CORE_TESTS_SUPPORT_SCRIPTED_VMM_H_
