#include "peer/metadata_assembly.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sta::peer {
namespace {

namespace um = wire::ut_metadata;
using namespace std::chrono_literals;
using clock = metadata_assembly::clock;

std::string info_of(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + i % 23);
  return s;
}

um::message data(const std::string& info, std::uint32_t piece, std::int64_t total = -1) {
  um::message m;
  m.type = um::kind::data;
  m.piece = piece;
  m.total_size = total < 0 ? static_cast<std::int64_t>(info.size()) : total;
  const std::size_t from = piece * um::kPieceSize;
  const std::size_t n = um::piece_size(static_cast<std::int64_t>(info.size()), piece);
  m.data = std::as_bytes(std::span(info.data() + from, n));
  return m;
}

// Asks source s for every piece it is given and answers from `info`.
void serve_all(metadata_assembly& a, metadata_assembly::source s, const std::string& info, clock::time_point now) {
  while (auto p = a.next_request(s, now)) ASSERT_EQ(a.on_data(s, data(info, *p)), metadata_assembly::verdict::accepted);
}

TEST(MetadataAssembly, ASizeThatIsAMultipleOf16KiBHasNoEmptyPiece) {
  const std::string info = info_of(2 * um::kPieceSize);
  metadata_assembly a(sha1(info));
  const auto now = clock::now();
  ASSERT_TRUE(a.offer(1, static_cast<std::int64_t>(info.size())));
  std::vector<std::uint32_t> asked;
  while (auto p = a.next_request(1, now)) {
    asked.push_back(*p);
    a.on_data(1, data(info, *p));
  }
  EXPECT_EQ(asked, (std::vector<std::uint32_t>{0, 1}));
  ASSERT_TRUE(a.complete());
  EXPECT_EQ(a.finish(), info);
}

TEST(MetadataAssembly, AShortLastPieceAndAtMostTwoInFlightPerPeer) {
  const std::string info = info_of(3 * um::kPieceSize + 100);
  metadata_assembly a(sha1(info));
  const auto now = clock::now();
  ASSERT_TRUE(a.offer(1, static_cast<std::int64_t>(info.size())));
  ASSERT_TRUE(a.offer(2, static_cast<std::int64_t>(info.size())));
  EXPECT_EQ(a.next_request(1, now), 0u);
  EXPECT_EQ(a.next_request(1, now), 1u);
  EXPECT_EQ(a.next_request(1, now), std::nullopt);  // two in flight
  EXPECT_EQ(a.next_request(2, now), 2u);
  EXPECT_EQ(a.next_request(2, now), 3u);
  // A short last piece of the wrong length is a lie.
  auto wrong = data(info, 3);
  wrong.data = wrong.data.first(99);
  EXPECT_EQ(a.on_data(2, wrong), metadata_assembly::verdict::distrust);
  // Its requests went back: peer 1 gets them once it has room.
  a.on_data(1, data(info, 0));
  a.on_data(1, data(info, 1));
  serve_all(a, 1, info, now);
  EXPECT_EQ(a.finish(), info);
}

TEST(MetadataAssembly, PeersWithoutASizeOrWithAHugeOneAreNotAsked) {
  metadata_assembly a(sha1("x"));
  EXPECT_FALSE(a.offer(1, std::nullopt));
  EXPECT_FALSE(a.offer(2, 0));
  EXPECT_FALSE(a.offer(3, um::kMaxSize + 1));
  EXPECT_EQ(a.next_request(1, clock::now()), std::nullopt);
  EXPECT_EQ(a.offering(), 0u);
  EXPECT_EQ(a.size(), 0);
}

TEST(MetadataAssembly, ATotalSizeThatContradictsTheHandshakeIsDistrusted) {
  const std::string info = info_of(40000);
  metadata_assembly a(sha1(info));
  const auto now = clock::now();
  a.offer(1, static_cast<std::int64_t>(info.size()));
  const auto p = a.next_request(1, now);
  ASSERT_TRUE(p);
  EXPECT_EQ(a.on_data(1, data(info, *p, 50000)), metadata_assembly::verdict::distrust);
  EXPECT_TRUE(a.distrusted(1));
  EXPECT_FALSE(a.offer(1, static_cast<std::int64_t>(info.size())));  // even when it reconnects
}

TEST(MetadataAssembly, ARejectBacksThatPeerOff) {
  const std::string info = info_of(100);
  metadata_assembly a(sha1(info));
  const auto now = clock::now();
  a.offer(1, 100);
  a.offer(2, 100);
  ASSERT_EQ(a.next_request(1, now), 0u);
  a.on_reject(1, 0, now);
  EXPECT_EQ(a.next_request(1, now + 1s), std::nullopt);
  EXPECT_EQ(a.next_request(2, now + 1s), 0u);
  a.gone(2);
  EXPECT_EQ(a.next_request(1, now + metadata_assembly::kRejectBackoff), 0u);
}

TEST(MetadataAssembly, UnansweredRequestsExpireAndGoToOthers) {
  const std::string info = info_of(100);
  metadata_assembly a(sha1(info));
  const auto now = clock::now();
  a.offer(1, 100);
  a.offer(2, 100);
  ASSERT_EQ(a.next_request(1, now), 0u);
  EXPECT_EQ(a.next_request(2, now), std::nullopt);
  a.expire(now + metadata_assembly::kRequestTimeout);
  EXPECT_EQ(a.next_request(2, now), 0u);
  // The late answer of peer 1 is not taken: the piece is peer 2's now.
  EXPECT_EQ(a.on_data(1, data(info, 0)), metadata_assembly::verdict::ignored);
}

TEST(MetadataAssembly, MetadataThatFailsItsHashIsDiscardedAndItsSendersDistrusted) {
  const std::string info = info_of(um::kPieceSize + 10);
  std::string forged = info;
  forged[5] ^= 1;
  metadata_assembly a(sha1(info));
  const auto now = clock::now();
  a.offer(1, static_cast<std::int64_t>(info.size()));
  serve_all(a, 1, forged, now);
  ASSERT_TRUE(a.complete());
  EXPECT_EQ(a.finish(), std::nullopt);
  EXPECT_EQ(a.hash_failures(), 1u);
  EXPECT_TRUE(a.distrusted(1));
  EXPECT_FALSE(a.complete());
  EXPECT_EQ(a.next_request(1, now), std::nullopt);
  // An honest peer starts it again from its own size.
  ASSERT_TRUE(a.offer(2, static_cast<std::int64_t>(info.size())));
  serve_all(a, 2, info, now);
  EXPECT_EQ(a.finish(), info);
}

TEST(MetadataAssembly, ASilentLiarsSizeHoldsNobodyBack) {
  const std::string info = info_of(30000);
  metadata_assembly a(sha1(info));
  const auto now = clock::now();
  a.offer(1, 50000);  // the liar's size is taken first
  a.offer(2, static_cast<std::int64_t>(info.size()));
  EXPECT_EQ(a.size(), 50000);
  ASSERT_EQ(a.next_request(1, now), 0u);
  EXPECT_EQ(a.next_request(2, now), std::nullopt);  // not asked: its size differs
  // The liar never answers: once its request expires, peer 2's size is used.
  a.expire(now + metadata_assembly::kRequestTimeout);
  const auto later = now + metadata_assembly::kRequestTimeout;
  serve_all(a, 2, info, later);
  EXPECT_EQ(a.size(), 30000);
  EXPECT_EQ(a.finish(), info);
}

}  // namespace
}  // namespace sta::peer
