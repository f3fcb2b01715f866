#include "http/metrics.hpp"

#include <charconv>
#include <cmath>

namespace sta::http {

void metrics_text::family(std::string_view name, std::string_view type, std::string_view help) {
  out_.append("# HELP ").append(name).append(" ");
  // HELP text escapes backslash and newline.
  for (char c : help) {
    if (c == '\\') out_ += "\\\\";
    else if (c == '\n') out_ += "\\n";
    else out_ += c;
  }
  out_.append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
}

void metrics_text::sample(std::string_view name, std::initializer_list<label> labels, double value) {
  out_.append(name);
  if (labels.size() > 0) {
    out_ += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out_ += ',';
      first = false;
      out_.append(k).append("=\"").append(escape_label(v)).append("\"");
    }
    out_ += '}';
  }
  out_ += ' ';
  if (std::isnan(value)) {
    out_ += "NaN";
  } else if (std::isinf(value)) {
    out_ += value > 0 ? "+Inf" : "-Inf";
  } else if (value == std::floor(value) && std::abs(value) < 9e15) {
    out_ += std::to_string(static_cast<std::int64_t>(value));
  } else {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, value);
    out_.append(buf, r.ptr);
  }
  out_ += '\n';
}

void metrics_text::single(std::string_view name, std::string_view type, std::string_view help, double value) {
  family(name, type, help);
  sample(name, value);
}

void metrics_text::histogram(std::string_view name, std::string_view help, std::span<const double> bounds,
                             std::span<const std::uint64_t> counts, double sum) {
  family(name, "histogram", help);
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    total += counts[i];
    std::string le = "+Inf";
    if (i < bounds.size()) {
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof buf, bounds[i]);
      le.assign(buf, r.ptr);
    }
    sample(bucket, {{"le", le}}, static_cast<double>(total));
  }
  sample(std::string(name) + "_sum", sum);
  sample(std::string(name) + "_count", static_cast<double>(total));
}

std::string metrics_text::escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace sta::http
