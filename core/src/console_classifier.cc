#include "console_classifier.h"

#include <array>

namespace ezone {
namespace {

struct Pattern {
  std::string_view needle;
  ConsoleClass cls;
  bool at_start;  // must start the message (after the timestamp)
};

// Order matters: the first match wins. Lockups and panics before oopses,
// because "BUG: soft lockup" is a lockup, not a generic BUG.
constexpr std::array kPatterns = {
    Pattern{"Kernel panic - not syncing", ConsoleClass::kPanic, false},
    // Xen's own console lines (the Xen nested host, issue 22): the
    // hypervisor's panic, and Xen's word that dom0 (the host kernel) crashed.
    // A domU's crash ("domain_crash called from") is not the host's.
    Pattern{"(XEN) Panic on CPU", ConsoleClass::kPanic, false},
    Pattern{"(XEN) Hardware Dom0 crashed", ConsoleClass::kPanic, false},
    Pattern{"BUG: soft lockup", ConsoleClass::kLockup, false},
    Pattern{"Watchdog detected hard LOCKUP", ConsoleClass::kLockup, false},
    Pattern{"rcu_sched self-detected stall", ConsoleClass::kLockup, false},
    Pattern{"rcu: INFO: rcu_sched detected stalls", ConsoleClass::kLockup, false},
    Pattern{"rcu: INFO: rcu_preempt detected stalls", ConsoleClass::kLockup, false},
    Pattern{"blocked for more than", ConsoleClass::kLockup, false},
    Pattern{"divide error: ", ConsoleClass::kOops, true},
    Pattern{"general protection fault", ConsoleClass::kOops, true},
    Pattern{"BUG: kernel NULL pointer dereference", ConsoleClass::kOops, true},
    Pattern{"BUG: unable to handle", ConsoleClass::kOops, true},
    Pattern{"kernel BUG at ", ConsoleClass::kOops, true},
    Pattern{"invalid opcode: ", ConsoleClass::kOops, true},
    Pattern{"Oops: ", ConsoleClass::kOops, true},
    Pattern{"double fault: ", ConsoleClass::kOops, true},
    Pattern{"stack guard page was hit", ConsoleClass::kOops, false},
    Pattern{"Unable to handle kernel", ConsoleClass::kOops, true},
    Pattern{"Out of memory: Killed process", ConsoleClass::kOomKill, true},
    Pattern{"Memory cgroup out of memory: Killed process", ConsoleClass::kOomKill, true},
    Pattern{": segfault at ", ConsoleClass::kUserSegfault, false},
    Pattern{"WARNING: CPU: ", ConsoleClass::kWarning, true},
    Pattern{"WARNING: at ", ConsoleClass::kWarning, true},
    Pattern{"BUG: ", ConsoleClass::kWarning, true},  // e.g. "sleeping function"
};

std::string_view StripTimestamp(std::string_view line) {
  // Carriage returns and the "<6>" printk level prefix some consoles add.
  while (!line.empty() && (line.front() == '\r' || line.front() == ' ')) line.remove_prefix(1);
  while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!line.empty() && line.front() == '[') {
    size_t close = line.find(']');
    if (close != std::string_view::npos && close < 20) {
      line.remove_prefix(close + 1);
      while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    }
  }
  return line;
}

}  // namespace

const char* ConsoleClassName(ConsoleClass c) {
  switch (c) {
    case ConsoleClass::kNone: return "none";
    case ConsoleClass::kWarning: return "warning";
    case ConsoleClass::kOops: return "oops";
    case ConsoleClass::kPanic: return "panic";
    case ConsoleClass::kLockup: return "lockup";
    case ConsoleClass::kOomKill: return "oom-kill";
    case ConsoleClass::kUserSegfault: return "user-segfault";
  }
  return "?";
}

ConsoleClass ClassifyConsoleLine(std::string_view raw) {
  std::string_view line = StripTimestamp(raw);
  for (const Pattern& p : kPatterns) {
    size_t at = line.find(p.needle);
    if (at == std::string_view::npos) continue;
    if (p.at_start && at != 0) continue;
    return p.cls;
  }
  return ConsoleClass::kNone;
}

void LineAssembler::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    std::string_view chunk = bytes.substr(0, nl);
    size_t room = max_line_ - partial_.size();
    // A line of exactly max_line bytes waits for its newline like any other
    // (">=" here once emitted it and then the newline as an empty line).
    if (chunk.size() > room) {
      // Too long: emit what fits as a line of its own.
      partial_.append(chunk.substr(0, room));
      on_line_(partial_);
      partial_.clear();
      bytes.remove_prefix(room);
      continue;
    }
    partial_.append(chunk);
    if (nl == std::string_view::npos) return;
    on_line_(partial_);
    partial_.clear();
    bytes.remove_prefix(nl + 1);
  }
}

void LineAssembler::Discard() { partial_.clear(); }

void LineAssembler::Flush() {
  if (!partial_.empty()) {
    on_line_(partial_);
    partial_.clear();
  }
}

}  // namespace ezone
