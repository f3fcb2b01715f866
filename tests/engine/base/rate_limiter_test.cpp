#include "base/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace sta {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kMiB = 1 << 20;

// A sender that moves a quantum whenever the limiter lets it, on a made-up
// clock: how many bytes it moved in `seconds`.
template <class Limiter>
std::int64_t greedy_bytes(Limiter& l, std::int64_t seconds) {
  std::int64_t now = 0, moved = 0;
  while (now < seconds * kSecond) {
    moved += l.quantum();
    now += l.charge(l.quantum(), now);
  }
  return moved;
}

TEST(RateLimiter, UnlimitedNeverWaits) {
  rate_limiter l(0);
  EXPECT_TRUE(l.unlimited());
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(l.charge(1 << 30, 0), 0);
}

TEST(RateLimiter, GreedySenderGetsTheRateOverTenSecondsFrom1MiBTo1GiB) {
  for (std::int64_t rate : {kMiB, 20 * kMiB, 100 * kMiB, 1024 * kMiB}) {
    rate_limiter l(rate);
    const double moved = static_cast<double>(greedy_bytes(l, 10));
    const double expected = static_cast<double>(rate) * 10;
    // The first burst (100 ms) and one quantum come on top: ~1%.
    EXPECT_GE(moved, expected) << rate;
    EXPECT_LE(moved, expected * 1.02) << rate;
  }
}

TEST(RateLimiter, WaitsOnceBeyondTheBurstForExactlyTheExcess) {
  rate_limiter l(10 * kMiB);  // burst: 100 ms = 1 MiB
  std::int64_t charged = 0;
  while (l.charge(64 * 1024, 0) == 0) charged += 64 * 1024;
  charged += 64 * 1024;
  EXPECT_GT(charged, kMiB);
  EXPECT_LE(charged, kMiB + 64 * 1024);
  // The excess over the burst, at 10 MiB/s.
  const std::int64_t wait = l.charge(64 * 1024, 0);
  EXPECT_NEAR(static_cast<double>(wait), static_cast<double>(charged + 64 * 1024 - kMiB) * kSecond / (10 * kMiB), 2);
  // Time that passes pays the debt back.
  EXPECT_EQ(l.charge(1, wait + kSecond), 0);
}

TEST(RateLimiter, ConcurrentChargesAreAllCounted) {
  rate_limiter l(16 * kMiB);  // 1 ns per 16.7 bytes; 1 MiB = 62.5 ms
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) l.charge(16 * 1024, 0);
    });
  for (auto& t : threads) t.join();
  // 4,000 blocks of 16 KiB = 62.5 MiB = 3.90625 s of the rate, minus the
  // 100 ms burst.
  const std::int64_t wait = l.charge(0, 0);
  EXPECT_NEAR(static_cast<double>(wait), 3.90625e9 - 1e8, 4000);
}

TEST(RateLimiter, ANewRateHoldsFromTheNextCharge) {
  rate_limiter l(0);
  EXPECT_TRUE(l.unlimited());
  l.set_rate(2 * kMiB);
  EXPECT_FALSE(l.unlimited());
  EXPECT_EQ(l.quantum(), 2 * kMiB / 50);
  EXPECT_NEAR(static_cast<double>(greedy_bytes(l, 4) / 4), 2 * kMiB, 0.03 * 2 * kMiB);
  l.set_rate(50 * kMiB);
  EXPECT_EQ(l.quantum(), 50 * kMiB / 50);
  l.set_rate(0);
  EXPECT_TRUE(l.unlimited());
  EXPECT_EQ(l.charge(1 << 30, 0), 0);
}

TEST(RateLimits, TheSlowerOfTheTorrentAndTheProcessSetsThePace) {
  rate_limiter torrent(0), process(10 * kMiB);
  rate_limits both(torrent, process);
  EXPECT_FALSE(both.unlimited());
  EXPECT_EQ(both.quantum(), process.quantum());
  // The process's 10 MiB/s holds a torrent that has no limit of its own.
  EXPECT_NEAR(static_cast<double>(greedy_bytes(both, 4) / 4), 10 * kMiB, 0.03 * 10 * kMiB);

  rate_limiter slow(1 * kMiB), process2(10 * kMiB);
  rate_limits tight(slow, process2);
  EXPECT_EQ(tight.quantum(), slow.quantum());
  EXPECT_NEAR(static_cast<double>(greedy_bytes(tight, 4) / 4), kMiB, 0.03 * kMiB);

  rate_limiter none(0), none2(0);
  EXPECT_TRUE(rate_limits(none, none2).unlimited());
}

}  // namespace
}  // namespace sta
