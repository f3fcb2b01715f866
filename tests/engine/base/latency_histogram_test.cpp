#include "base/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace sta {
namespace {

using namespace std::chrono_literals;

TEST(LatencyHistogram, EachDurationGoesToTheFirstBucketThatHoldsIt) {
  latency_histogram h;
  h.record(50us);    // <= 100 µs
  h.record(100us);   // on the bound: still the first
  h.record(101us);   // <= 250 µs
  h.record(2ms);     // <= 2.5 ms
  h.record(3s);      // above every bound
  const auto s = h.read();
  EXPECT_EQ(s.count, 5u);
  EXPECT_EQ(s.counts[0], 2u);
  EXPECT_EQ(s.counts[1], 1u);
  EXPECT_EQ(s.counts[4], 1u);
  EXPECT_EQ(s.counts.back(), 1u);
  EXPECT_NEAR(s.sum_seconds, 3.002251, 1e-9);
}

TEST(LatencyHistogram, ThreadsRecordTogether) {
  latency_histogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) h.record(1ms);
    });
  for (auto& t : threads) t.join();
  const auto s = h.read();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_EQ(s.counts[3], 40000u);
  EXPECT_NEAR(s.sum_seconds, 40.0, 1e-6);
}

}  // namespace
}  // namespace sta
