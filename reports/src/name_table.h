// Stable names for the enums of the reports layer (policy.h, check_record.h):
// one table per enum, read both ways.
#ifndef EZONE_REPORTS_SRC_NAME_TABLE_H_
#define EZONE_REPORTS_SRC_NAME_TABLE_H_

#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace ezone::report::internal {

template <typename E, std::size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

// The value's name, or `fallback` for a value the table lacks.
template <typename E, std::size_t N>
std::string_view NameOf(const NameTable<E, N>& table, E value, std::string_view fallback) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return fallback;
}

template <typename E, std::size_t N>
std::optional<E> ParseName(const NameTable<E, N>& table, std::string_view name) {
  for (const auto& [e, n] : table) {
    if (n == name) return e;
  }
  return std::nullopt;
}

}  // namespace ezone::report::internal

#endif  // EZONE_REPORTS_SRC_NAME_TABLE_H_
