// latency_histogram: durations counted into fixed buckets (100 µs to 2.5 s,
// and one for longer) with their sum, the shape a Prometheus histogram is
// exposed in. Recording is two relaxed atomic adds; any thread records, any
// thread reads. A read is not a cut at one instant: a count may run ahead
// of the sum by the observations being recorded meanwhile.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace sta {

class latency_histogram {
 public:
  // Upper bounds of the buckets, in seconds; the last bucket has none.
  static constexpr std::array<double, 12> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                     0.01,   0.025,   0.05,   0.1,   0.25,   2.5};

  void record(std::chrono::nanoseconds d) {
    const double s = std::chrono::duration<double>(d).count();
    const auto at = static_cast<std::size_t>(std::lower_bound(kBounds.begin(), kBounds.end(), s) - kBounds.begin());
    counts_[at].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(0, d.count())), std::memory_order_relaxed);
  }

  struct snapshot {
    std::array<std::uint64_t, kBounds.size() + 1> counts{};  // per bucket, not cumulative
    std::uint64_t count = 0;
    double sum_seconds = 0;
  };
  snapshot read() const {
    snapshot s;
    for (std::size_t i = 0; i < s.counts.size(); ++i) {
      s.counts[i] = counts_[i].load(std::memory_order_relaxed);
      s.count += s.counts[i];
    }
    s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return s;
  }

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> counts_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

}  // namespace sta
