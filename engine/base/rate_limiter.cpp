#include "base/rate_limiter.hpp"

#include <algorithm>

namespace sta {
namespace {

constexpr std::int64_t kNsPerSecond = 1'000'000'000;
constexpr std::int64_t kBurstNs = kNsPerSecond / 10;  // up to 100 ms of the rate at once
constexpr std::int64_t kMinQuantum = 16 * 1024 + 13;  // one block with its message header

}  // namespace

rate_limiter::rate_limiter(std::int64_t bytes_per_second) : rate_(0), burst_ns_(kBurstNs), quantum_(kMinQuantum) {
  set_rate(bytes_per_second);
}

void rate_limiter::set_rate(std::int64_t bytes_per_second) {
  const std::int64_t rate = std::max<std::int64_t>(bytes_per_second, 0);
  quantum_.store(std::max(kMinQuantum, rate / 50), std::memory_order_relaxed);
  rate_.store(rate, std::memory_order_relaxed);
}

std::int64_t rate_limiter::ns_for(std::int64_t n, std::int64_t rate) {
  // n * 1e9 / rate, rounded up, without overflow for n up to 2^33.
  return static_cast<std::int64_t>((static_cast<__int128>(n) * kNsPerSecond + rate - 1) / rate);
}

std::int64_t rate_limiter::charge(std::int64_t n, std::int64_t now_ns) {
  const std::int64_t rate = rate_.load(std::memory_order_relaxed);
  if (rate == 0) return 0;
  std::int64_t tat = tat_.load(std::memory_order_relaxed);
  std::int64_t next = 0;
  do next = std::max(tat, now_ns) + ns_for(n, rate);
  while (!tat_.compare_exchange_weak(tat, next, std::memory_order_relaxed));
  return std::max<std::int64_t>(0, next - now_ns - burst_ns_);
}

std::int64_t rate_limits::quantum() const {
  if (a_->unlimited()) return b_->quantum();
  if (b_->unlimited()) return a_->quantum();
  return std::min(a_->quantum(), b_->quantum());
}

}  // namespace sta
