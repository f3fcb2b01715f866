#include "dht/routing_table.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "dht/node_id.hpp"

namespace sta::dht {
namespace {

using namespace std::chrono_literals;

const clock::time_point t0{};

// Our own id in these tests: all zero bits.
const node_id kSelf{};

// A node whose id starts with the bits of `prefix` ("01": shares one bit
// with kSelf), made unique by n in its last bytes, at its own 10.x address.
node_info node_at(std::string_view prefix, int n) {
  node_id id;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (prefix[i] == '1') id.bytes[i / 8] |= static_cast<std::uint8_t>(0x80u >> (i % 8));
  id.bytes[18] = static_cast<std::uint8_t>(n >> 8);
  id.bytes[19] = static_cast<std::uint8_t>(n);
  static int address = 0;
  ++address;
  auto addr = endpoint::from_ip(std::array<std::uint8_t, 4>{10, 0, static_cast<std::uint8_t>(address >> 8),
                                                            static_cast<std::uint8_t>(address)},
                                6881);
  return {id, *addr};
}

// Shorthand: "1:8 01:3" adds 8 nodes starting with 1 and 3 starting with 01,
// all heard from at t0.
routing_table make_table(std::string_view spec, std::vector<node_info>* added = nullptr) {
  routing_table t(kSelf);
  std::istringstream in{std::string(spec)};
  std::string item;
  int n = 0;
  while (in >> item) {
    const auto colon = item.find(':');
    const int count = std::stoi(item.substr(colon + 1));
    for (int i = 0; i < count; ++i) {
      const auto node = node_at(item.substr(0, colon), ++n);
      t.heard_from(node, t0);
      if (added) added->push_back(node);
    }
  }
  return t;
}

// Live nodes per bucket, "+R" when the bucket has R replacements.
std::string shape(const routing_table& t) {
  std::string out;
  for (const auto& b : t.buckets()) {
    if (!out.empty()) out += ' ';
    out += std::to_string(b.nodes);
    if (b.replacements) out += '+' + std::to_string(b.replacements);
  }
  return out;
}

TEST(RoutingTable, SplitsOnlyTheBucketThatHoldsOurOwnId) {
  EXPECT_EQ(shape(make_table("1:8")), "8");
  EXPECT_EQ(shape(make_table("1:8 01:1")), "8 1");
  // Bucket 0 no longer holds our id: a ninth far node waits as a replacement.
  EXPECT_EQ(shape(make_table("1:8 01:1 1:1")), "8+1 1");
  // Close nodes keep splitting the last bucket.
  EXPECT_EQ(shape(make_table("1:3 01:3 001:3 0001:3")), "3 3 6");
  EXPECT_EQ(shape(make_table("1:9 01:9 001:2")), "8+1 8+1 2");
}

TEST(RoutingTable, AFullBucketNamesItsLeastRecentlySeenQuestionableNodeToPing) {
  std::vector<node_info> nodes;
  auto t = make_table("1:8 01:1", &nodes);
  const auto later = t0 + 20min;
  // All quiet for 20 minutes; the first one is seen again, so the second is
  // the least recently seen.
  t.queried_by(nodes[0], later - 1min);
  auto r = t.heard_from(node_at("1", 100), later);
  EXPECT_EQ(r.result, routing_table::outcome::replacement);
  ASSERT_TRUE(r.ping);
  EXPECT_EQ(r.ping->id, nodes[1].id);
  // Within 15 minutes nobody is questionable: nothing to ping.
  auto fresh = make_table("1:8 01:1");
  EXPECT_FALSE(fresh.heard_from(node_at("1", 101), t0 + 1min).ping);
}

TEST(RoutingTable, ANodeThatFailsTwiceIsReplacedByTheNewestReplacement) {
  std::vector<node_info> nodes;
  auto t = make_table("1:8 01:1", &nodes);
  const auto spare = node_at("1", 200);
  const auto newest = node_at("1", 201);
  t.heard_from(spare, t0);
  t.heard_from(newest, t0);
  EXPECT_EQ(shape(t), "8+2 1");
  EXPECT_FALSE(t.failed(nodes[3]));
  EXPECT_TRUE(t.contains(nodes[3]));
  EXPECT_TRUE(t.failed(nodes[3]));
  EXPECT_FALSE(t.contains(nodes[3]));
  EXPECT_TRUE(t.contains(newest));
  EXPECT_EQ(shape(t), "8+1 1");
  // An answer in between clears the count.
  t.failed(nodes[4]);
  t.heard_from(nodes[4], t0 + 1s);
  EXPECT_FALSE(t.failed(nodes[4]));
  // Without replacements a bad node just leaves; the next one heard takes
  // its place.
  std::vector<node_info> others;
  auto u = make_table("1:8 01:1", &others);
  u.failed(others[0]);
  u.failed(others[0]);
  EXPECT_EQ(shape(u), "7 1");
  EXPECT_EQ(u.heard_from(node_at("1", 300), t0).result, routing_table::outcome::added);
  EXPECT_EQ(shape(u), "8 1");
}

TEST(RoutingTable, RefusesOurIdAndASecondEntryForAnIdOrHost) {
  std::vector<node_info> nodes;
  auto t = make_table("1:2", &nodes);
  EXPECT_EQ(t.heard_from({kSelf, nodes[0].addr}, t0).result, routing_table::outcome::refused);
  // Same host, other port and id.
  auto other = node_at("01", 400);
  other.addr = nodes[0].addr.with_port(7000);
  EXPECT_EQ(t.heard_from(other, t0).result, routing_table::outcome::refused);
  // Same id, other host.
  auto moved = node_at("01", 401);
  moved.id = nodes[1].id;
  EXPECT_EQ(t.heard_from(moved, t0).result, routing_table::outcome::refused);
  EXPECT_EQ(t.heard_from(nodes[1], t0 + 1s).result, routing_table::outcome::updated);
  EXPECT_EQ(t.size(), 2u);
}

TEST(RoutingTable, ClosestAreByXorDistanceWithoutBadNodes) {
  std::vector<node_info> nodes;
  auto t = make_table("1:4 01:2 001:2 0001:1", &nodes);
  auto c = t.closest(kSelf, 3);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].id, nodes[8].id);  // 0001
  EXPECT_TRUE(c[1].id == nodes[6].id || c[1].id == nodes[7].id);
  t.failed(nodes[8]);
  t.failed(nodes[8]);
  EXPECT_NE(t.closest(kSelf, 1)[0].id, nodes[8].id);
  EXPECT_EQ(t.closest(kSelf, 100).size(), 8u);
  EXPECT_TRUE(t.closest(kSelf, 100, AF_INET6).empty());
}

TEST(RoutingTable, StatusFollowsTheClock) {
  std::vector<node_info> nodes;
  auto t = make_table("1:1", &nodes);
  EXPECT_EQ(t.good_count(t0 + 14min), 1u);
  EXPECT_EQ(t.good_count(t0 + 16min), 0u);
  // A query from a node in the table counts as activity; from a stranger it
  // does not put it in the table.
  t.queried_by(nodes[0], t0 + 16min);
  EXPECT_EQ(t.good_count(t0 + 17min), 1u);
  t.queried_by(node_at("01", 500), t0);
  EXPECT_EQ(t.size(), 1u);
}

TEST(RoutingTable, RefreshesOnlyBucketsQuietForFifteenMinutes) {
  std::vector<node_info> nodes;
  auto t = make_table("1:8 01:2", &nodes);
  std::mt19937_64 rng(3);
  EXPECT_TRUE(t.refresh_targets(t0 + 10min, rng).empty());
  t.heard_from(node_at("01", 600), t0 + 10min);  // the last bucket changes
  auto targets = t.refresh_targets(t0 + 16min, rng);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(shared_prefix(kSelf, targets[0]), 0);
  EXPECT_TRUE(t.refresh_targets(t0 + 17min, rng).empty());
  EXPECT_EQ(t.refresh_targets(t0 + 32min, rng).size(), 2u);
}

}  // namespace
}  // namespace sta::dht
