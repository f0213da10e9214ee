#include "crash_report.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <ctime>

namespace ezone {
namespace {

constexpr size_t kMaxTitle = 160;
constexpr size_t kPanicFoldLines = 120;  // a panic this close after a report is its consequence

bool IsIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool Contains(std::string_view s, std::string_view p) { return s.find(p) != std::string_view::npos; }

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  return s;
}
std::string_view Trim(std::string_view s) {
  s = TrimLeft(s);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// "[   12.345678]" (digits, dots, blanks) or a caller id "[   T31]" / "[    C0]".
size_t BracketPrefixLen(std::string_view s) {
  if (s.empty() || s.front() != '[') return 0;
  size_t close = s.find(']');
  if (close == std::string_view::npos || close > 24 || close < 2) return 0;
  std::string_view in = Trim(s.substr(1, close - 1));
  if (in.empty()) return 0;
  bool timestamp = std::all_of(in.begin(), in.end(), [](char c) { return IsDigit(c) || c == '.'; }) &&
                   Contains(in, ".");
  bool caller = (in.front() == 'T' || in.front() == 'C') && in.size() > 1 &&
                std::all_of(in.begin() + 1, in.end(), IsDigit);
  return timestamp || caller ? close + 1 : 0;
}

// A terminal escape sequence (SeaBIOS and the kernel's early console reset
// the screen: ESC c, ESC [ ? 7 l, ESC [ 2 J, ESC [ 0 m).
size_t EscapeLen(std::string_view s) {
  if (s.size() < 2 || s.front() != '\x1b') return 0;
  if (s[1] != '[') return 2;
  size_t i = 2;
  while (i < s.size() && !(s[i] >= 0x40 && s[i] <= 0x7e)) ++i;
  return i < s.size() ? i + 1 : s.size();
}

// "<4>" printk level (also the "<4>[  1.2] " of /dev/kmsg-like dumps).
size_t LevelPrefixLen(std::string_view s) {
  if (s.size() < 3 || s.front() != '<') return 0;
  size_t i = 1;
  while (i < s.size() && i < 4 && IsDigit(s[i])) ++i;
  return i > 1 && i < s.size() && s[i] == '>' ? i + 1 : 0;
}

// The C identifier `s` starts with; empty when there is none, or when it
// starts with a digit ("0xffff..." is an address, not a symbol).
std::string_view LeadingSymbol(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && IsIdentChar(s[n])) ++n;
  return n == 0 || IsDigit(s[0]) ? std::string_view() : s.substr(0, n);
}

// The function of a frame token "func.cold+0x12/0x40 [mod]" (also "func()"),
// without compiler suffixes; empty when it is not a symbol.
std::string FuncOf(std::string_view tok, bool* unreliable = nullptr) {
  tok = TrimLeft(tok);
  if (StartsWith(tok, "[<")) {  // old x86 "[<ffffffff81234567>] func+0x.."
    size_t close = tok.find(">]");
    if (close == std::string_view::npos) return {};
    tok = TrimLeft(tok.substr(close + 2));
    // arm32 "[<80b10c70>] (memset) from [<8062eec8>] (caller+0x154/0x3c4)"
    if (StartsWith(tok, "(")) {
      std::string_view sym = LeadingSymbol(tok.substr(1));
      return !sym.empty() && StartsWith(tok.substr(1 + sym.size()), ")") ? std::string(sym)
                                                                          : std::string();
    }
  }
  if (StartsWith(tok, "? ")) {
    // An unreliable frame ("? func"): stale on the stack, used only when
    // the caller asks (a report whose every frame is unreliable).
    if (unreliable == nullptr) return {};
    *unreliable = true;
    tok.remove_prefix(2);
  }
  std::string_view sym = LeadingSymbol(tok);
  if (sym.empty()) return {};
  std::string_view rest = tok.substr(sym.size());
  // Compiler suffixes (.cold, .isra.0, .constprop.0, .part.0, .llvm.123)
  while (!rest.empty() && rest.front() == '.') {
    size_t k = 1;
    while (k < rest.size() && IsIdentChar(rest[k])) ++k;
    rest.remove_prefix(k);
  }
  if (!(StartsWith(rest, "+0x") || StartsWith(rest, "()"))) return {};
  return std::string(sym);
}

// Frames that never are the guilty function: the reporting machinery, trap
// entry, and the interrupt/timer/workqueue plumbing every stack passes.
bool IsGenericFrame(std::string_view f, bool hung_task) {
  static constexpr std::string_view kPrefixes[] = {
      "dump_stack", "show_stack", "show_trace", "show_regs", "__show_regs", "panic", "__warn",
      "warn_slowpath", "report_bug", "handle_bug", "exc_", "asm_exc_", "asm_sysvec_", "sysvec_",
      "__sysvec_", "do_error_trap", "do_trap", "die", "__die", "oops_", "page_fault_oops",
      "kernelmode_fixup_or_oops", "do_user_addr_fault", "handle_page_fault", "__bad_area",
      "bad_area", "no_context", "kasan_", "__kasan_", "kfence_", "__asan_", "ubsan_", "__ubsan_",
      "nmi_", "watchdog_", "rcu_", "print_", "__list_"};
  for (std::string_view p : kPrefixes)
    if (StartsWith(f, p)) return true;
  static constexpr std::string_view kExact[] = {
      "call_timer_fn", "__run_timers", "run_timer_softirq", "handle_softirqs", "__do_softirq",
      "do_softirq", "__irq_exit_rcu", "irq_exit_rcu", "irq_exit", "hrtimer_interrupt",
      "__hrtimer_run_queues", "tick_sched_timer", "tick_sched_handle", "update_process_times",
      "tick_nohz_handler", "process_one_work", "worker_thread", "kthread", "ret_from_fork",
      "ret_from_fork_asm", "do_idle", "cpu_startup_entry", "default_idle_call", "rest_init",
      "start_kernel", "arch_call_rest_init", "secondary_startup_64_no_verify",
      "start_secondary", "common_startup_64", "x86_64_start_kernel", "x86_64_start_reservations",
      "entry_SYSCALL_64_after_hwframe", "do_syscall_64", "check_cpu_stall", "trigger_single_cpu_backtrace",
      "arch_trigger_cpumask_backtrace", "check_memory_region", "end_report", "fixup_exception",
      "__list_del_entry_valid", "__schedule_bug", "usercopy_abort", "__check_object_size",
      "check_heap_object", "fortify_panic", "__fortify_report", "__fortify_panic",
      "__check_heap_object", "__stack_chk_fail", "sched_show_task",
      // arm's unwinder, and the irq-state tracing every entry passes
      "dump_backtrace", "unwind_backtrace", "trace_hardirqs_off", "trace_hardirqs_on",
      "check_panic_on_warn", "tick_periodic", "do_invalid_op",
      // the lock validator, whose reports come from inside it
      "lock_acquire", "__lock_acquire", "lock_release", "__lock_release", "mark_lock",
      "mark_lock_irq", "check_noncircular", "check_prev_add", "validate_chain",
      "debug_check_no_locks_held"};
  for (std::string_view e : kExact)
    if (f == e) return true;
  if (f == "list_add" || f == "list_del" || f == "BUG" || f == "bug_handler") return true;
  // The scheduler reports ("scheduling while atomic") from inside itself.
  if (f == "__schedule" || f == "schedule" || StartsWith(f, "preempt_schedule")) return true;
  // 6.x function-padding symbols ("? __pfx_kernel_init+0x10/0x10").
  if (StartsWith(f, "__pfx_") || StartsWith(f, "lockdep_")) return true;
  // Lock primitives and might_sleep() checks: the bug is in their caller.
  static constexpr std::string_view kLocking[] = {
      "_raw_spin_", "_raw_read_", "_raw_write_", "do_raw_spin_", "__mutex_lock", "mutex_lock",
      "__might_sleep", "___might_sleep", "__might_fault", "mark_held_locks", "fixup_bug"};
  for (std::string_view p : kLocking)
    if (StartsWith(f, p)) return true;
  if (StartsWith(f, "__sanitizer_") || StartsWith(f, "__stack_chk_fail") ||
      StartsWith(f, "refcount_") || StartsWith(f, "__refcount_"))
    return true;
  if (hung_task) {
    // A hung task's stack ends in the scheduler or a lock's slow path; the
    // guilty frame is the caller that waits.
    static constexpr std::string_view kWait[] = {
        "__schedule", "schedule", "io_schedule", "preempt_schedule", "context_switch", "wait_for_",
        "__wait_for_", "wait_on_", "__wait_on_", "__mutex_lock", "mutex_lock", "rwsem_down_",
        "down_", "__down", "msleep", "usleep_range", "__flush_work", "flush_work", "synchronize_rcu",
        "__synchronize_srcu", "do_nanosleep", "hrtimer_nanosleep"};
    for (std::string_view p : kWait)
      if (StartsWith(f, p)) return true;
  }
  return false;
}

// Titles group runs of the same bug: numbers, addresses, PIDs and offsets
// become "N"/"ADDR"; identifiers that contain digits (ext4_..., sha256) stay.
std::string Normalise(std::string_view s) {
  std::string out;
  out.reserve(std::min(s.size(), kMaxTitle + 8));
  size_t i = 0;
  while (i < s.size() && out.size() < kMaxTitle) {
    char c = s[i];
    bool boundary = i == 0 || !IsIdentChar(s[i - 1]);
    if (boundary && c == '0' && i + 2 < s.size() && (s[i + 1] == 'x' || s[i + 1] == 'X') &&
        IsHex(s[i + 2])) {
      i += 2;
      while (i < s.size() && IsHex(s[i])) ++i;
      out += "ADDR";
      continue;
    }
    if (boundary && IsHex(c)) {
      size_t j = i;
      bool digit = false;
      while (j < s.size() && IsHex(s[j])) digit |= IsDigit(s[j++]);
      if (digit && (j - i >= 8) && (j == s.size() || !IsIdentChar(s[j]))) {
        out += "ADDR";
        i = j;
        continue;
      }
    }
    if (boundary && IsDigit(c)) {
      size_t j = i;
      while (j < s.size() && IsDigit(s[j])) ++j;
      if (j == s.size() || !IsIdentChar(s[j])) {
        out += 'N';
        // "12.5s": a decimal fraction is one number.
        if (j + 1 < s.size() && s[j] == '.' && IsDigit(s[j + 1])) {
          ++j;
          while (j < s.size() && IsDigit(s[j])) ++j;
        }
        i = j;
        continue;
      }
    }
    if (c == '\t' || c == '\r' || c == '\n') c = ' ';
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    if (c == ' ' && (out.empty() || out.back() == ' ')) {
      ++i;
      continue;
    }
    out += c;
    ++i;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ',' || out.back() == ':')) out.pop_back();
  return out;
}

// Words up to the first of the stop strings.
std::string_view UpTo(std::string_view s, std::initializer_list<std::string_view> stops) {
  size_t end = s.size();
  for (std::string_view stop : stops) end = std::min(end, s.find(stop));
  return Trim(s.substr(0, end));
}

// A weak needle ("BUG: ", "UBSAN: ") counts only at the start of a message,
// or right after a glued timestamp/level of another message on the line.
bool AtMessageStart(std::string_view msg, size_t pos) {
  if (pos == 0) return true;
  std::string_view before = msg.substr(0, pos);
  while (!before.empty() && before.back() == ' ') before.remove_suffix(1);
  return !before.empty() && (before.back() == ']' || before.back() == '>' || before.back() == '\r');
}

enum class MatchType { kNone, kStart, kPanic, kOomVictim, kEndPanic };

struct Match {
  MatchType type = MatchType::kNone;
  ReportKind kind = ReportKind::kOops;
  std::string headline;     // title words; the panic reason; the OOM victim
  std::string header_func;  // function the first line names
  bool wants_frame = true;
  bool die_line = false;    // the x86/arm64 die() line "... [#1]" itself
  bool oops_family = false;
  bool single_line = false;  // the report is this line alone
  bool hung_task = false;
  bool oom_invoker = false;
};

// The user comm before "[pid]" ending at `end` ("foo[123]: segfault").
std::string CommBefore(std::string_view msg, size_t end) {
  size_t open = msg.rfind('[', end);
  if (open == std::string_view::npos || open == 0) return "?";
  size_t start = open;
  while (start > 0 && msg[start - 1] != ' ' && msg[start - 1] != ']') --start;
  std::string_view comm = msg.substr(start, open - start);
  return comm.empty() ? "?" : std::string(comm);
}

// x86 trap names die() prints as "<name>: %04lx [#N]" (6.9+: "Oops: <name>: ...").
constexpr std::string_view kTraps[] = {
    "segment-related general protection fault", "general protection fault", "divide error",
    "divide_error", "invalid opcode", "stack segment", "double fault", "int3", "invalid TSS",
    "segment not present"};

// The title of a trap: kernels before 5.8 named the divide trap
// "divide_error"; the title is the same either way.
std::string TrapTitle(std::string_view trap) {
  return trap == "divide_error" ? "divide error" : std::string(trap);
}

// The lock validator's and RCU's reports that print as "INFO: <what>" (a
// debug kernel's; not fatal). Other "INFO: " lines are not reports.
constexpr std::string_view kLockdepInfo[] = {
    "possible circular locking dependency detected", "possible recursive locking detected",
    "inconsistent lock state", "suspicious RCU usage", "trying to register non-static key",
    "possible irq lock inversion dependency detected", "lock held when returning to user space",
    "held lock freed", "bad unlock balance detected",
    "HARDIRQ-safe -> HARDIRQ-unsafe lock order detected",
    "SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected"};

Match Recognise(std::string_view msg) {
  Match m;
  if (msg.size() < 4) return m;
  size_t p;
  // Lockdep's banners before 4.x wear brackets:
  // "[ INFO: possible circular locking dependency detected ]".
  if (StartsWith(msg, "[ ") && msg.size() > 4 && msg[2] != '[') {
    std::string_view inner = Trim(msg);
    if (inner.size() > 4 && inner.substr(inner.size() - 2) == " ]") {
      Match banner = Recognise(Trim(inner.substr(2, inner.size() - 4)));
      if (banner.type != MatchType::kNone) return banner;
    }
  }
  auto start = [&](ReportKind kind, std::string headline) {
    m.type = MatchType::kStart;
    m.kind = kind;
    m.headline = std::move(headline);
    return m;
  };

  if ((p = msg.find("Kernel panic - not syncing")) != std::string_view::npos) {
    if (p >= 4 && msg.substr(p - 4, 4) == "end ") {  // "---[ end Kernel panic - not syncing: .. ]---"
      m.type = MatchType::kEndPanic;
      return m;
    }
    std::string_view reason = msg.substr(p + std::strlen("Kernel panic - not syncing"));
    if (StartsWith(reason, ":")) reason.remove_prefix(1);
    m.type = MatchType::kPanic;
    m.kind = ReportKind::kPanic;
    reason = UpTo(reason, {" ]---"});
    // "stack-protector: Kernel stack is corrupted in: func+0x12/0x40 [mod]"
    size_t in = reason.find("corrupted in: ");
    std::string f = in == std::string_view::npos ? std::string() : FuncOf(reason.substr(in + 14));
    m.headline = f.empty() ? Normalise(reason) : Normalise(reason.substr(0, in + 14)) + " " + f;
    m.wants_frame = false;
    return m;
  }
  // Xen's own console lines (the Xen nested host, issue 22): the
  // hypervisor's panic, and Xen's word that dom0 (the host kernel) crashed.
  // A domU's crash ("domain_crash called from") is not the host's.
  for (std::string_view xen : {std::string_view("(XEN) Panic on CPU"),
                               std::string_view("(XEN) Hardware Dom0 crashed")}) {
    if (msg.find(xen) != std::string_view::npos) {
      m.type = MatchType::kPanic;
      m.kind = ReportKind::kPanic;
      m.headline = std::string(xen.substr(6));
      m.wants_frame = false;
      return m;
    }
  }
  if ((p = msg.find("BUG: soft lockup")) != std::string_view::npos) {
    start(ReportKind::kLockup, "BUG: soft lockup");
    return m;
  }
  if (Contains(msg, "detected hard LOCKUP") || Contains(msg, "Watchdog detected hard LOCKUP")) {
    start(ReportKind::kLockup, "hard LOCKUP");
    return m;
  }
  if (Contains(msg, "BUG: workqueue lockup")) {
    start(ReportKind::kLockup, "BUG: workqueue lockup");
    m.wants_frame = false;
    return m;
  }
  if ((p = msg.find("INFO: rcu")) != std::string_view::npos && Contains(msg.substr(p), "stall")) {
    start(ReportKind::kLockup, Contains(msg.substr(p), "expedited") ? "INFO: rcu detected expedited stall"
                                                                    : "INFO: rcu detected stall");
    return m;
  }
  if ((p = msg.find("INFO: task ")) != std::string_view::npos && Contains(msg.substr(p), " seconds")) {
    // "... can't die for more than 143 seconds": a killed task that hangs on.
    const bool blocked = Contains(msg.substr(p), " blocked ");
    if (blocked || Contains(msg.substr(p), " can't die ")) {
      start(ReportKind::kHungTask, blocked ? "INFO: task hung" : "INFO: task can't die");
      m.hung_task = true;
      return m;
    }
  }
  for (std::string_view tool : {"KASAN: ", "KFENCE: ", "KMSAN: ", "KCSAN: "}) {
    std::string bug = "BUG: " + std::string(tool);
    if ((p = msg.find(bug)) != std::string_view::npos) {
      std::string_view rest = msg.substr(p + bug.size());
      size_t in = rest.find(" in ");
      std::string what = Normalise(UpTo(rest, {" in ", " at ", ":"}));
      start(ReportKind::kMemorySafety, std::string(tool.substr(0, tool.size() - 2)) + ": " + what);
      if (in != std::string_view::npos) m.header_func = FuncOf(rest.substr(in + 4));
      if (in != std::string_view::npos && m.header_func.empty() && tool == "KCSAN: ") {
        // "data-race in reader_fn / writer_fn": bare names, the first racer.
        m.header_func = std::string(LeadingSymbol(rest.substr(in + 4)));
      }
      return m;
    }
  }
  if ((p = msg.find("UBSAN: ")) != std::string_view::npos && AtMessageStart(msg, p)) {
    std::string_view rest = msg.substr(p + 7);
    start(ReportKind::kMemorySafety, "UBSAN: " + Normalise(UpTo(rest, {" in ", " at "})));
    return m;
  }
  // SLUB debugging: "BUG kmalloc-64 (Tainted: G  O): Right Redzone overwritten"
  if (StartsWith(msg, "BUG ") && (p = msg.find("): ")) != std::string_view::npos) {
    start(ReportKind::kMemorySafety, "SLUB: " + Normalise(UpTo(msg.substr(p + 3), {" at ", ":"})));
    return m;
  }
  if (Contains(msg, "stack guard page was hit")) {
    start(ReportKind::kOops, "BUG: stack guard page was hit");
    m.oops_family = true;
    return m;
  }
  if (Contains(msg, "kernel stack overflow")) {
    start(ReportKind::kOops, "kernel stack overflow");
    m.oops_family = true;
    m.die_line = Contains(msg, "[#");
    return m;
  }
  if (Contains(msg, "PANIC: double fault")) {
    start(ReportKind::kOops, "double fault");
    m.oops_family = true;
    return m;
  }
  if (Contains(msg, "kernel tried to execute NX-protected page")) {
    start(ReportKind::kOops, "BUG: kernel tried to execute NX-protected page");
    m.oops_family = true;
    return m;
  }
  if ((p = msg.find("BUG: unable to handle ")) != std::string_view::npos) {
    std::string_view rest = msg.substr(p);
    start(ReportKind::kOops, Normalise(UpTo(rest, {" at ", " for ", ",", " ("})));
    m.oops_family = true;
    return m;
  }
  if (Contains(msg, "BUG: kernel NULL pointer dereference")) {
    start(ReportKind::kOops, "BUG: kernel NULL pointer dereference");
    m.oops_family = true;
    return m;
  }
  if ((p = msg.find("Unable to handle kernel ")) != std::string_view::npos) {  // arm64
    start(ReportKind::kOops, Normalise(UpTo(msg.substr(p), {" at ", ",", " ("})));
    m.oops_family = true;
    return m;
  }
  if ((p = msg.find("Unhandled fault: ")) != std::string_view::npos && AtMessageStart(msg, p)) {
    // arm32, before its die() line: "Unhandled fault: page domain fault (0x81b) at 0x1044"
    start(ReportKind::kOops, "Unhandled fault: " + Normalise(UpTo(msg.substr(p + 17), {" (", " at "})));
    m.oops_family = true;
    return m;
  }
  if ((p = msg.find("Internal error: ")) != std::string_view::npos) {  // arm64 (and arm32) die()
    std::string_view rest = msg.substr(p + 16);
    std::string what = Normalise(UpTo(rest, {":", " ["}));  // arm32: "Internal error: : 81b [#1]"
    start(ReportKind::kOops, what.empty() ? std::string("Internal error") : "Internal error: " + what);
    m.oops_family = true;
    m.die_line = Contains(rest, "[#");
    return m;
  }
  if ((p = msg.find("kernel BUG at ")) != std::string_view::npos) {
    start(ReportKind::kOops, "kernel BUG");
    m.oops_family = true;
    return m;
  }
  for (std::string_view what : {"list_add corruption", "list_del corruption", "list_add_rcu corruption"}) {
    if ((p = msg.find(what)) != std::string_view::npos && AtMessageStart(msg, p)) {
      start(ReportKind::kOops, std::string(what));
      m.oops_family = true;
      return m;
    }
  }
  bool die_line = Contains(msg, "[#");
  bool user_trap = Contains(msg, " ip:") || Contains(msg, " ip ");
  for (std::string_view trap : kTraps) {
    if ((p = msg.find(trap)) == std::string_view::npos) continue;
    if (user_trap && !die_line) {
      // "traps: foo[12] general protection fault ip:..." is a user process.
      size_t t = msg.find("traps: ");
      if (t != std::string_view::npos && t < p) {
        start(ReportKind::kUserSegfault, "user " + TrapTitle(trap) + " in " +
                                             Normalise(CommBefore(msg, p)));
        m.wants_frame = false;
        m.single_line = true;
        return m;
      }
      continue;
    }
    if (!die_line && !(AtMessageStart(msg, p) && Contains(msg.substr(p), ": "))) continue;
    if (trap == "general protection fault" && p >= 16 &&
        msg.substr(p - 16, 16) == "segment-related ")
      continue;  // matched above
    start(ReportKind::kOops, TrapTitle(trap));
    m.oops_family = true;
    m.die_line = die_line;
    return m;
  }
  // "Oops: 0002 [#1]" (x86 after "BUG: unable to handle", 6.9+ "Oops: Oops:"):
  // only with its die counter; "Oops: " alone is too common a word.
  if ((p = msg.find("Oops: ")) != std::string_view::npos && die_line) {
    start(ReportKind::kOops, "Oops");
    m.oops_family = true;
    m.die_line = die_line;
    return m;
  }
  if ((p = msg.find("WARNING: ")) != std::string_view::npos) {
    std::string_view rest = msg.substr(p + 9);
    if (StartsWith(rest, "CPU: ") || StartsWith(rest, "at ")) {
      // "WARNING: CPU: 0 PID: 1 at file.c:12 func+0x1/0x2 [mod]"
      // "WARNING: at file.c:12 func()"
      size_t at = rest.find(" at ");
      if (StartsWith(rest, "at ")) at = 0;
      start(ReportKind::kWarning, "WARNING");
      if (at != std::string_view::npos) {
        std::string_view loc = TrimLeft(rest.substr(at + (at == 0 ? 3 : 4)));
        size_t sp = loc.find(' ');
        if (sp != std::string_view::npos) m.header_func = FuncOf(loc.substr(sp + 1));
      }
      return m;
    }
    // 6.18+: "WARNING: [cond] file.c:12 at func+0x1/0x2, CPU#0: comm/77", the
    // condition only where WARN_ON() printed it (its text may hold blanks).
    std::string_view located = rest;
    if (StartsWith(located, "[")) {
      size_t close = located.find("] ");
      located = close == std::string_view::npos ? std::string_view() : located.substr(close + 2);
    }
    size_t at = located.find(" at ");
    size_t colon = located.find(':');
    if (at != std::string_view::npos && colon < at && IsDigit(located[colon + 1]) &&
        located.substr(0, at).find(' ') == std::string_view::npos &&
        Contains(located.substr(at), ", CPU#")) {
      start(ReportKind::kWarning, "WARNING");
      m.header_func = FuncOf(located.substr(at + 4));
      return m;
    }
    if (AtMessageStart(msg, p) && !rest.empty() && rest.front() >= 'a' && rest.front() <= 'z') {
      // lockdep and friends: "WARNING: possible circular locking dependency detected"
      start(ReportKind::kWarning, "WARNING: " + Normalise(UpTo(rest, {":", " at "})));
      return m;
    }
  }
  for (std::string_view prefix : {"INFO: ", "WARNING: "}) {
    if ((p = msg.find(prefix)) == std::string_view::npos || !AtMessageStart(msg, p)) continue;
    std::string_view rest = msg.substr(p + prefix.size());
    for (std::string_view what : kLockdepInfo) {
      if (StartsWith(rest, what)) {
        start(ReportKind::kWarning, std::string(prefix) + std::string(what));
        return m;
      }
    }
  }
  if ((p = msg.find("BUG: ")) != std::string_view::npos && AtMessageStart(msg, p)) {
    std::string_view rest = msg.substr(p + 5);
    start(ReportKind::kWarning,
          "BUG: " + Normalise(UpTo(rest, {":", " at ", " in ", " - ", "!", " (", ","})));
    return m;
  }
  if ((p = msg.find(" invoked oom-killer:")) != std::string_view::npos) {
    start(ReportKind::kOomKill, "out of memory");
    m.oom_invoker = true;
    m.wants_frame = false;
    return m;
  }
  if ((p = msg.find("out of memory: Killed process ")) != std::string_view::npos ||
      (p = msg.find("Out of memory: Killed process ")) != std::string_view::npos ||
      (p = msg.find("Out of memory (oom_kill_allocating_task): Killed process ")) !=
          std::string_view::npos) {
    size_t open = msg.find('(', msg.find("Killed process ", p));
    size_t close = open == std::string_view::npos ? open : msg.find(')', open);
    std::string victim = open != std::string_view::npos && close != std::string_view::npos
                             ? Normalise(msg.substr(open + 1, close - open - 1))
                             : std::string("?");
    m.type = MatchType::kOomVictim;
    m.kind = ReportKind::kOomKill;
    m.headline = "out of memory: killed " + victim;
    m.wants_frame = false;
    m.single_line = true;
    return m;
  }
  if ((p = msg.find(": segfault at ")) != std::string_view::npos) {
    start(ReportKind::kUserSegfault, "user segfault in " + Normalise(CommBefore(msg, p)));
    m.wants_frame = false;
    m.single_line = true;
    return m;
  }
  return m;
}

enum class Banner { kNone, kFirmware, kKernel };

// The banners arrive glued: "Probing EDD ... ok<ESC>c<ESC>[2J[    0.000000]
// Linux version 6.1.0-56-cloud-amd64 ..." is one line of a real console.
Banner BootBanner(std::string_view msg) {
  size_t p = msg.find("Linux version ");
  if (p != std::string_view::npos && p + 14 < msg.size() && IsDigit(msg[p + 14]) &&
      AtMessageStart(msg, p))
    return Banner::kKernel;
  if (Contains(msg, "SeaBIOS (version ") || StartsWith(msg, "BdsDxe: ") || StartsWith(msg, "U-Boot "))
    return Banner::kFirmware;
  return Banner::kNone;
}

// "RIP: 0010:func+0x12/0x40 [mod]" (kernel CS only) or arm64 "pc : func+0x..".
std::string RipFunc(std::string_view msg) {
  if (StartsWith(msg, "RIP: ")) {
    std::string_view rest = msg.substr(5);
    if (rest.size() > 5 && rest[4] == ':' && !StartsWith(rest, "0033:") && !StartsWith(rest, "0023:"))
      return FuncOf(rest.substr(5));
    return FuncOf(rest);  // "RIP: func+0x../0x.." without CS on some paths
  }
  if (StartsWith(msg, "pc : ")) return FuncOf(msg.substr(5));
  if (StartsWith(msg, "PC is at ")) return FuncOf(msg.substr(9));  // arm32
  return {};
}

// Register dumps and markers that sit inside a stack trace.
bool IsTraceFiller(std::string_view msg) {
  if (msg.empty()) return true;
  if (msg.front() == '<' || StartsWith(msg, "? ")) return true;
  if (StartsWith(msg, "Code: ") || StartsWith(msg, "RIP: ") || StartsWith(msg, "pc : ") ||
      StartsWith(msg, "lr : ") || StartsWith(msg, "sp : "))
    return true;
  // "RAX: ...", "R10: ...", "FS:  ...", "CR2: ...", "x29: ..." register lines
  size_t colon = msg.find(':');
  if (colon != std::string_view::npos && colon >= 2 && colon <= 4) {
    bool reg = true;
    for (size_t i = 0; i < colon; ++i) reg &= IsIdentChar(msg[i]) && !(msg[i] >= 'a' && msg[i] <= 'w');
    // arm32's "r7:00000000 r6:..." between its backtrace's frames
    bool arm32 = msg[0] == 'r' && std::all_of(msg.begin() + 1, msg.begin() + colon, IsDigit);
    if (reg || arm32) return true;
  }
  return false;
}

}  // namespace

const char* ReportKindName(ReportKind kind) {
  switch (kind) {
    case ReportKind::kOops: return "oops";
    case ReportKind::kPanic: return "panic";
    case ReportKind::kLockup: return "lockup";
    case ReportKind::kHungTask: return "hung-task";
    case ReportKind::kWarning: return "warning";
    case ReportKind::kMemorySafety: return "memory-safety";
    case ReportKind::kOomKill: return "oom-kill";
    case ReportKind::kUserSegfault: return "user-segfault";
    case ReportKind::kReboot: return "reboot";
  }
  return "?";
}

bool KindIsFatal(ReportKind kind) {
  switch (kind) {
    case ReportKind::kOops:
    case ReportKind::kPanic:
    case ReportKind::kLockup:
    case ReportKind::kHungTask:
    case ReportKind::kReboot:
      return true;
    default:
      return false;
  }
}

std::string_view StripConsolePrefix(std::string_view line) {
  for (int round = 0; round < 6; ++round) {
    line = TrimLeft(line);
    size_t n = LevelPrefixLen(line);
    if (n == 0) n = BracketPrefixLen(line);
    if (n == 0) n = EscapeLen(line);
    if (n == 0) break;
    line.remove_prefix(n);
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  return line;
}

std::optional<ReportKind> LineStartsReport(std::string_view line) {
  Match m = Recognise(StripConsolePrefix(line));
  if (m.type == MatchType::kStart || m.type == MatchType::kPanic || m.type == MatchType::kOomVictim)
    return m.kind;
  return std::nullopt;
}

void CrashReportParser::Push(CrashReport r) {
  any_report_ = true;
  if (r.fatal) {
    any_fatal_ = true;
    ++fatal_since_boot_;
  }
  last_end_line_ = r.last_line;
  last_fatal_ = r.fatal;
  last_in_queue_ = false;
  if (done_.size() >= kMaxReports) {
    ++dropped_;
    return;
  }
  done_.push_back(std::move(r));
  last_in_queue_ = true;
}

void CrashReportParser::Start(ReportKind kind, std::string headline, std::string header_func,
                              bool wants_frame, size_t line) {
  open_.emplace();
  open_->report.kind = kind;
  open_->report.fatal = KindIsFatal(kind);
  open_->report.first_line = line;
  open_->report.last_line = line;
  open_->headline = std::move(headline);
  if (IsGenericFrame(header_func, false)) header_func.clear();  // "WARNING in refcount_warn_saturate"
  open_->header_func = std::move(header_func);
  open_->wants_frame = wants_frame;
  open_->lines = 1;
  open_->report.title = open_->headline;
  if (!open_->header_func.empty()) open_->report.title += " in " + open_->header_func;
  if (open_->report.fatal) any_fatal_ = true;  // known at once, before the report completes
}

void CrashReportParser::Complete(bool cut_short) {
  if (!open_) return;
  OpenCrashReport& o = *open_;
  std::string func = !o.header_func.empty() ? o.header_func : o.rip_func;
  if (func.empty()) func = o.unreliable_func;  // every frame was "? func"
  // Panics, OOM kills, user faults and reboots are titled by what they say,
  // not by a frame.
  ReportKind k = o.report.kind;
  if (k == ReportKind::kPanic || k == ReportKind::kOomKill || k == ReportKind::kUserSegfault ||
      k == ReportKind::kReboot)
    func.clear();
  CrashReport r = std::move(o.report);
  r.title = o.headline;
  if (!func.empty()) r.title += " in " + func;
  if (r.title.size() > kMaxTitle) r.title.resize(kMaxTitle);
  if (o.wants_frame && func.empty()) {
    r.corrupted = true;
    r.corrupted_reason = cut_short ? "cut short: the log ends before the report names a function"
                                   : "no stack trace: the report names no guilty function";
  } else if (cut_short && o.report.kind == ReportKind::kOomKill) {
    r.corrupted = true;
    r.corrupted_reason = "cut short: the log ends before the OOM killer names its victim";
  }
  open_.reset();
  Push(std::move(r));
}

bool CrashReportParser::FoldPanic(std::string_view reason) {
  // A panic that a report before it caused: "Fatal exception" after an oops,
  // the panic_on_warn / softlockup_panic / hung_task_panic consequences.
  static constexpr std::string_view kConsequences[] = {
      "Fatal exception", "panic_on_warn", "softlockup", "hung_task", "Hard LOCKUP", "hardlockup",
      "RCU Stall", "rcu", "Oops", "KASAN", "UBSAN", "kfence",
      // the oops killed init or the idle task
      "Attempted to kill init", "Attempted to kill the idle task"};
  bool consequence = false;
  for (std::string_view c : kConsequences) consequence |= Contains(reason, c);
  if (open_) {
    ReportKind k = open_->report.kind;
    if (k == ReportKind::kOomKill || k == ReportKind::kUserSegfault || k == ReportKind::kReboot ||
        k == ReportKind::kPanic)
      return false;
    if (!consequence && k != ReportKind::kOops) return false;
    open_->report.fatal = true;
    any_fatal_ = true;
    return true;
  }
  if (!consequence || last_end_line_ == 0 || line_no_ - last_end_line_ > kPanicFoldLines)
    return false;
  // The report already completed. Still queued: it becomes fatal and ends
  // here. Already taken: the runner has it; if it was not fatal (a WARNING
  // that panic_on_warn turned fatal) the panic is a report of its own.
  if (last_in_queue_) {
    CrashReport& last = done_.back();
    if (!last.fatal) {
      last.fatal = true;
      any_fatal_ = true;
      ++fatal_since_boot_;
    }
    last.last_line = line_no_;
  } else if (!last_fatal_) {
    return false;
  }
  last_fatal_ = true;
  last_end_line_ = line_no_;
  return true;
}

std::optional<ReportKind> CrashReportParser::FeedLine(std::string_view line) {
  ++line_no_;
  std::string_view msg = StripConsolePrefix(line);

  Banner banner = BootBanner(msg);
  if (banner != Banner::kNone) {
    bool reboot = banner == Banner::kFirmware ? (kernel_started_ || ready_)
                                              : (kernel_started_ && !firmware_seen_) ||
                                                    (ready_ && !firmware_seen_);
    if (banner == Banner::kFirmware) {
      firmware_seen_ = true;
      kernel_started_ = false;
    } else {
      kernel_started_ = true;
      firmware_seen_ = false;
    }
    if (reboot) {
      if (open_) Complete(true);
      ready_ = false;
      return Rebooted();
    }
    return std::nullopt;
  }

  Match m = Recognise(msg);
  if (m.type == MatchType::kEndPanic) {
    if (open_) {
      open_->report.last_line = line_no_;
      Complete(false);
    }
    return std::nullopt;
  }
  if (m.type == MatchType::kPanic) {
    if (FoldPanic(m.headline)) {
      if (open_) Continue(msg);
      return std::nullopt;
    }
    if (open_) Complete(false);
    Start(ReportKind::kPanic, "kernel panic: " + m.headline, {}, false, line_no_);
    return ReportKind::kPanic;
  }
  if (m.type == MatchType::kOomVictim) {
    if (open_ && open_->report.kind == ReportKind::kOomKill) {
      open_->headline = m.headline;
      open_->report.last_line = line_no_;
      Complete(false);
      return std::nullopt;
    }
    if (open_) Complete(false);
    Start(ReportKind::kOomKill, m.headline, {}, false, line_no_);
    Complete(false);
    return ReportKind::kOomKill;
  }
  if (m.type == MatchType::kStart) {
    if (open_) {
      OpenCrashReport& o = *open_;
      // The lines of one die(): "kernel BUG at" then "invalid opcode: [#1]",
      // "BUG: unable to handle" then "Oops: 0002 [#1]".
      bool same_oops = m.oops_family && o.report.kind == ReportKind::kOops && !o.saw_die_line &&
                       o.lines <= 8;
      if (same_oops) {
        o.saw_die_line |= m.die_line;
        Continue(msg);
        return std::nullopt;
      }
      Complete(false);
    }
    Start(m.kind, m.headline, m.header_func, m.wants_frame, line_no_);
    open_->hung_task = m.hung_task;
    open_->saw_die_line = m.die_line;
    if (m.single_line) Complete(false);
    return m.kind;
  }
  if (open_) Continue(msg);
  return std::nullopt;
}

void CrashReportParser::Continue(std::string_view msg) {
  OpenCrashReport& o = *open_;
  ++o.lines;
  o.report.last_line = line_no_;
  if (!o.saw_die_line && Contains(msg, "[#")) o.saw_die_line = true;
  std::string_view body = TrimLeft(msg);
  if (StartsWith(body, "---[ end trace") || StartsWith(body, "---[ end Kernel panic")) {
    Complete(false);
    return;
  }
  // KASAN's second line says the access: "Read of size 8 at addr ...".
  if (o.report.kind == ReportKind::kMemorySafety && o.lines <= 3 &&
      StartsWith(o.headline, "KASAN: ") && !o.access_named) {
    for (std::string_view access : {"Read", "Write"}) {
      if (StartsWith(body, std::string(access) + " of size ")) {
        o.headline += " " + std::string(access);
        o.access_named = true;
      }
    }
  }
  // The RIP line may arrive glued after another message on the same line.
  size_t rip_at = body.find("RIP: ");
  std::string rip = RipFunc(rip_at == std::string_view::npos ? body : body.substr(rip_at));
  if (!rip.empty()) {
    if (o.rip_func.empty() && !IsGenericFrame(rip, o.hung_task)) o.rip_func = rip;
  } else if (Contains(body, "Call Trace:") || StartsWith(body, "Call trace:") ||
             StartsWith(body, "Backtrace:")) {  // arm32
    o.in_trace = true;
    o.saw_trace = true;
  } else if (o.in_trace) {
    bool unreliable = false;
    std::string f = FuncOf(body, &unreliable);
    if (!f.empty()) {
      ++o.trace_frames;
      if (!IsGenericFrame(f, o.hung_task)) {
        if (!unreliable && o.rip_func.empty()) o.rip_func = f;
        if (unreliable && o.unreliable_func.empty()) o.unreliable_func = f;
      }
    } else if (StartsWith(body, "</TASK>") || !IsTraceFiller(body)) {
      bool ended = o.trace_frames > 0;
      if (ended) {
        o.in_trace = false;
        // Reports without an end marker end with their stack.
        ReportKind k = o.report.kind;
        if (k == ReportKind::kLockup || k == ReportKind::kHungTask) {
          Complete(false);
          return;
        }
      }
    }
  }
  size_t limit = o.report.kind == ReportKind::kOomKill ? 20 * kMaxReportLines : kMaxReportLines;
  if (o.lines >= limit) Complete(false);
}

std::optional<ReportKind> CrashReportParser::MarkReady() {
  const bool again = ready_;
  ready_ = true;
  if (!again) return std::nullopt;
  Finish();  // a report the reboot cut short
  return Rebooted();
}

std::optional<ReportKind> CrashReportParser::Rebooted() {
  const bool explained = fatal_since_boot_ > 0;
  if (!explained) {
    CrashReport r;
    r.kind = ReportKind::kReboot;
    r.fatal = true;
    r.title = "unexpected reboot";
    r.first_line = r.last_line = line_no_;
    Push(std::move(r));
  }
  fatal_since_boot_ = 0;  // the new boot starts clean (Push counted the report)
  return explained ? std::nullopt : std::optional<ReportKind>(ReportKind::kReboot);
}

void CrashReportParser::Finish() {
  if (open_) {
    OpenCrashReport& o = *open_;
    // A report whose stack trace came whole (or that needs none) is sound
    // even without its end marker: the kernel often stops right there.
    bool cut = !(o.saw_trace && o.trace_frames > 0) && o.wants_frame;
    if (o.report.kind == ReportKind::kOomKill) cut = true;
    Complete(cut);
  }
}

std::vector<CrashReport> CrashReportParser::TakeReports() {
  std::vector<CrashReport> out;
  out.swap(done_);
  last_in_queue_ = false;
  return out;
}

const char* LogVerdict(const std::vector<CrashReport>& reports) {
  bool any = false;
  for (const CrashReport& r : reports) {
    if (r.fatal) return "crash";
    any = true;
  }
  return any ? "warning" : "none";
}

double MeasureClassifyMBps(size_t mb) {
  // A boot-like mix of ordinary lines with a full oops every 5000 lines.
  static constexpr std::string_view kOrdinary[] = {
      "[   12.345678] virtio_net virtio1 enp0s2: renamed from eth0",
      "[   12.345679] EXT4-fs (vda1): mounted filesystem with ordered data mode. Quota mode: none.",
      "[   12.345680] systemd[1]: Started Journal Service.",
      "[   12.345681] audit: type=1400 audit(1700000000.123:42): apparmor=\"STATUS\" operation=\"profile_load\"",
      "[   12.345682] ezone-workload: iteration 1234 took 5678 us",
      "[   12.345683] random: crng init done"};
  static constexpr std::string_view kOops[] = {
      "[   13.000000] divide error: 0000 [#1] PREEMPT SMP NOPTI",
      "[   13.000001] CPU: 0 PID: 0 Comm: swapper/0 Tainted: G           OE      6.1.0 #1",
      "[   13.000002] RIP: 0010:kerncrash_divide+0x12/0x19 [kerncrash]",
      "[   13.000003] RSP: 0018:ffffce84c0003ea0 EFLAGS: 00000246",
      "[   13.000004] Call Trace:",
      "[   13.000005]  <IRQ>",
      "[   13.000006]  kerncrash_fire+0x44/0x98 [kerncrash]",
      "[   13.000007]  call_timer_fn+0x27/0x130",
      "[   13.000008]  </IRQ>",
      "[   13.000009] Modules linked in: kerncrash(OE)",
      "[   13.000010] ---[ end trace 0000000000000000 ]---",
      "[   13.000011] ordinary line after the report"};
  const size_t target = mb << 20;
  size_t bytes = 0, n = 0, reports = 0;
  CrashReportParser parser;
  // This thread's CPU time, not the wall clock: the parser's own cost,
  // whatever else the machine runs (a wall-clock figure failed a test once,
  // under a CI run's load).
  auto cpu_seconds = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  };
  const double t0 = cpu_seconds();
  while (bytes < target) {
    if (n % 5000 == 4999) {
      for (std::string_view l : kOops) {
        parser.FeedLine(l);
        bytes += l.size() + 1;
      }
    } else {
      std::string_view l = kOrdinary[n % std::size(kOrdinary)];
      parser.FeedLine(l);
      bytes += l.size() + 1;
    }
    ++n;
    if (n % 100000 == 0) reports += parser.TakeReports().size();
  }
  parser.Finish();
  reports += parser.TakeReports().size();
  const double s = cpu_seconds() - t0;
  return reports > 0 && s > 0 ? static_cast<double>(bytes) / (1 << 20) / s : 0.0;
}

}  // namespace ezone
