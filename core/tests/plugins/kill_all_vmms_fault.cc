// Test plugin: a fault that escapes its victim. It SIGKILLs every VMM
// process of the runner (plugins run inside the runner, so those are its
// children): the victim and the witness both die. ezone must call that a
// failure with a global effect, never a pass. Built for core/tests only.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "ezone/sdk.h"

namespace {

class KillAllVmmsFault {
 public:
  static constexpr ezone_fault_variant kVariants[] = {
      {"escape", EZONE_ZONE_GUEST_KERNEL, EZONE_SIGN_VMM_EXIT,
       "kills every VMM of the runner, the witness's too (test only)"},
  };

  static void Fire(std::string_view, const ezone::sdk::Options&, ezone::sdk::FaultTarget&) {
    std::string runner = std::to_string(getppid() == 0 ? 0 : getpid());
    int killed = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      std::string name = e.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream in(e.path() / "stat");
      std::string stat;
      std::getline(in, stat);
      size_t close = stat.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(stat.substr(close + 1));
      std::string state, ppid;
      rest >> state >> ppid;
      if (ppid == runner && kill(std::stoi(name), SIGKILL) == 0) ++killed;
    }
    if (killed < 2) throw std::runtime_error("expected a victim and a witness VMM to kill");
  }
};

}  // namespace

EZONE_FAULT_PLUGIN(KillAllVmmsFault, "selftest-kill-all-vmms", "1.0",
                   "test only: a fault that takes the witness down too")
