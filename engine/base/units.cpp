#include "base/units.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace sta {

std::optional<std::int64_t> parse_size(std::string_view text) {
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data() || !(number >= 0)) return std::nullopt;
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  if (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  std::string lower;
  for (char c : unit) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  double scale = 0;
  if (lower.empty() || lower == "b") scale = 1;
  else if (lower == "k" || lower == "kb" || lower == "kib") scale = 1024.0;
  else if (lower == "m" || lower == "mb" || lower == "mib") scale = 1024.0 * 1024;
  else if (lower == "g" || lower == "gb" || lower == "gib") scale = 1024.0 * 1024 * 1024;
  else if (lower == "t" || lower == "tb" || lower == "tib") scale = 1024.0 * 1024 * 1024 * 1024;
  else return std::nullopt;
  const double bytes = std::round(number * scale);
  if (bytes >= 9.2e18) return std::nullopt;
  return static_cast<std::int64_t>(bytes);
}

std::string format_size(double bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%.0f %s", bytes, units[u]);
  else std::snprintf(buf, sizeof buf, "%.1f %s", bytes, units[u]);
  return buf;
}

}  // namespace sta
