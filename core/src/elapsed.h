// Milliseconds between two clock readings, one number as text, and the
// local time as a timestamp: what a check's phases, the nested host's
// restore, the bench and the records of runs and campaigns each report.
#ifndef EZONE_CORE_ELAPSED_H_
#define EZONE_CORE_ELAPSED_H_

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace ezone {

inline double MsSince(std::chrono::steady_clock::time_point from,
                      std::chrono::steady_clock::time_point to = std::chrono::steady_clock::now()) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// Now, local time, to the second: "2026-12-02T04:45:46" (JUnit's timestamp).
inline std::string IsoNow() {
  std::time_t t = std::time(nullptr);
  std::tm local{};
  localtime_r(&t, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &local);
  return text;
}

// `value` through a printf format that takes one double ("%.0f ms").
inline std::string Fmt(const char* format, double value) {
  char text[64];
  snprintf(text, sizeof text, format, value);
  return text;
}

}  // namespace ezone

#endif  // EZONE_CORE_ELAPSED_H_
