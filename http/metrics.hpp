// metrics: Prometheus text exposition format (version 0.0.4), written by
// the node's /metrics and the tracker's. Families are announced once with
// HELP and TYPE; label values are escaped as the format requires (\\, \",
// \n). Plain data, any thread.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace sta::http {

class metrics_text {
 public:
  using label = std::pair<std::string_view, std::string_view>;

  // `type`: counter or gauge.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<label> labels, double value);
  void sample(std::string_view name, double value) { sample(name, {}, value); }
  // family() and one unlabelled sample.
  void single(std::string_view name, std::string_view type, std::string_view help, double value);
  // A histogram family: `counts` holds one count per bucket (not
  // cumulative), the last for values above every bound; written as the
  // format wants, cumulative _bucket series with le labels, +Inf, _sum and
  // _count.
  void histogram(std::string_view name, std::string_view help, std::span<const double> bounds,
                 std::span<const std::uint64_t> counts, double sum);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

  static std::string escape_label(std::string_view value);

 private:
  std::string out_;
};

}  // namespace sta::http
