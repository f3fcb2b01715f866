// A byte-rate limit shared by every reactor of the process without a lock:
// a token bucket kept as one atomic word, the "theoretical arrival time"
// (GCRA): the time at which the bucket would be full again if nobody took
// more. Charging n bytes moves it n / rate seconds forward with one CAS
// (from now, if it lies in the past); the caller may go on at once while it
// lies at most `burst` ahead of now, else it waits the difference first.
// Bytes are charged after the fact (what a recv read, what a send batch
// holds), so an idle connection reserves nothing. Callers charge a batch at
// a time, up to quantum() bytes: never a lock or an atomic per block.
// Pure: the caller passes the time, so tests run it on a made-up clock.
#pragma once

#include <atomic>
#include <cstdint>

namespace sta {

class rate_limiter {
 public:
  // bytes_per_second 0: unlimited.
  explicit rate_limiter(std::int64_t bytes_per_second = 0);
  rate_limiter(const rate_limiter&) = delete;
  rate_limiter& operator=(const rate_limiter&) = delete;

  bool unlimited() const { return rate() == 0; }
  std::int64_t rate() const { return rate_.load(std::memory_order_relaxed); }
  // Any thread, while others charge: the new rate holds from their next
  // charge on (the debt they built up at the old rate stays).
  void set_rate(std::int64_t bytes_per_second);

  // The most one taker should ask for at once: 1/50 s of the rate (at least
  // one 16 KiB block and its header), so many connections share it evenly.
  std::int64_t quantum() const { return quantum_.load(std::memory_order_relaxed); }

  // Charges n bytes at time now_ns (any steady clock, in ns). Returns how
  // many ns the caller must wait before it moves more bytes: 0 while the
  // bucket is within its burst.
  std::int64_t charge(std::int64_t n, std::int64_t now_ns);

 private:
  static std::int64_t ns_for(std::int64_t n, std::int64_t rate);

  std::atomic<std::int64_t> rate_;
  std::int64_t burst_ns_;
  std::atomic<std::int64_t> quantum_;
  std::atomic<std::int64_t> tat_{0};
};

// The limits one transfer obeys at once: its torrent's and the process's.
// The quantum is the smaller of the limited ones; charging charges both and
// the caller waits for the later of the two.
class rate_limits {
 public:
  rate_limits(rate_limiter& torrent, rate_limiter& process) : a_(&torrent), b_(&process) {}

  bool unlimited() const { return a_->unlimited() && b_->unlimited(); }
  std::int64_t quantum() const;
  std::int64_t charge(std::int64_t n, std::int64_t now_ns) {
    const std::int64_t wa = a_->charge(n, now_ns);
    const std::int64_t wb = b_->charge(n, now_ns);
    return wa > wb ? wa : wb;
  }

 private:
  rate_limiter* a_;
  rate_limiter* b_;
};

}  // namespace sta
