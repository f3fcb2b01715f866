// verified_log: a torrent's pieces in the order they were first verified,
// shared by every connection on every reactor; each connection sends 'have'
// for new entries at its own pace, from a cursor of its own. Append-only and
// lock-free: an appender reserves a position with one fetch_add and
// publishes the piece there with a release store; readers stop at the first
// unpublished position. A piece is appended once at most, even if it is
// verified again later (re-checked after a failed read, or downloaded
// again), so the log never outgrows the piece count.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

namespace sta::picker {

class verified_log {
 public:
  explicit verified_log(std::uint32_t pieces)
      : size_(pieces), log_(new std::atomic<std::uint32_t>[pieces]), logged_(new std::atomic<bool>[pieces]) {
    for (std::uint32_t i = 0; i < pieces; ++i) {
      log_[i].store(0, std::memory_order_relaxed);
      logged_[i].store(false, std::memory_order_relaxed);
    }
  }

  void append(std::uint32_t piece) {
    if (piece >= size_ || logged_[piece].exchange(true, std::memory_order_relaxed)) return;
    const std::size_t i = reserved_.fetch_add(1, std::memory_order_relaxed);
    log_[i].store(piece + 1, std::memory_order_release);
  }

  // The piece at position i, once published.
  std::optional<std::uint32_t> at(std::size_t i) const {
    if (i >= size_) return std::nullopt;
    const std::uint32_t v = log_[i].load(std::memory_order_acquire);
    if (v == 0) return std::nullopt;
    return v - 1;
  }

  // How many entries are published from the start (O(entries)).
  std::size_t published() const {
    std::size_t i = 0;
    while (at(i)) ++i;
    return i;
  }

 private:
  std::uint32_t size_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> log_;  // piece + 1; 0: not yet
  std::unique_ptr<std::atomic<bool>[]> logged_;
  std::atomic<std::size_t> reserved_{0};
};

}  // namespace sta::picker
