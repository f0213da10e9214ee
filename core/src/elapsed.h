// Milliseconds between two clock readings, and one number as text: what a
// check's phases, the nested host's restore and the bench each report.
#ifndef EZONE_CORE_ELAPSED_H_
#define EZONE_CORE_ELAPSED_H_

#include <chrono>
#include <cstdio>
#include <string>

namespace ezone {

inline double MsSince(std::chrono::steady_clock::time_point from,
                      std::chrono::steady_clock::time_point to = std::chrono::steady_clock::now()) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// `value` through a printf format that takes one double ("%.0f ms").
inline std::string Fmt(const char* format, double value) {
  char text[64];
  snprintf(text, sizeof text, format, value);
  return text;
}

}  // namespace ezone

#endif  // EZONE_CORE_ELAPSED_H_
