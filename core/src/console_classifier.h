// Classifies guest (and host) kernel log lines as they arrive: is this line
// the kernel reporting a crash, a hang, or only a warning?
#ifndef EZONE_CORE_CONSOLE_CLASSIFIER_H_
#define EZONE_CORE_CONSOLE_CLASSIFIER_H_

#include <functional>
#include <string>
#include <string_view>

namespace ezone {

enum class ConsoleClass {
  kNone,     // ordinary output
  kWarning,  // WARNING:, taint notes: the kernel carries on; not a crash
  kOops,     // divide error, GPF, NULL dereference, BUG, invalid opcode
  kPanic,    // Kernel panic - not syncing
  kLockup,   // soft/hard lockup, RCU stall, hung task
  kOomKill,  // the OOM killer killed a process: the kernel coped
  kUserSegfault,  // a user process died of a fault: the kernel coped
};

const char* ConsoleClassName(ConsoleClass c);

// True for the classes that mean the kernel is dead or dying.
inline bool IsCrash(ConsoleClass c) {
  return c == ConsoleClass::kOops || c == ConsoleClass::kPanic ||
         c == ConsoleClass::kLockup;
}

// Classifies one line (without its newline). The "[   1.234567] " timestamp
// prefix is ignored.
ConsoleClass ClassifyConsoleLine(std::string_view line);

// Splits a byte stream into lines. Lines longer than max_line are cut into
// pieces of max_line bytes (a line of exactly max_line bytes is one line),
// so a guest that floods garbage without newlines cannot grow memory.
class LineAssembler {
 public:
  using LineFn = std::function<void(std::string_view line)>;
  explicit LineAssembler(LineFn on_line, size_t max_line = 4096)
      : on_line_(std::move(on_line)), max_line_(max_line) {}
  void Feed(std::string_view bytes);
  // Emits the unterminated rest as a line of its own.
  void Flush();
  // Forgets the unterminated rest: the stream it belonged to has ended.
  void Discard();

 private:
  LineFn on_line_;
  size_t max_line_;
  std::string partial_;
};

}  // namespace ezone

#endif  // EZONE_CORE_CONSOLE_CLASSIFIER_H_
