#include "wire/ut_pex.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sta::wire::ut_pex {
namespace {

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

endpoint ep(const char* text) { return *parse_endpoint(text); }

TEST(UtPex, AddedAndDroppedRoundTripOverBothFamilies) {
  message m;
  m.added = {{ep("10.0.0.1:6881"), kSeed | kReachable}, {ep("[2001:db8::1]:51413"), kUtp}, {ep("10.0.0.2:1"), 0}};
  m.dropped = {ep("10.0.0.3:6882"), ep("[::1]:7000")};
  auto back = decode(encode(m));
  ASSERT_TRUE(back);
  // IPv4 first, then IPv6, each in order.
  ASSERT_EQ(back->added.size(), 3u);
  EXPECT_EQ(back->added[0], m.added[0]);
  EXPECT_EQ(back->added[1], m.added[2]);
  EXPECT_EQ(back->added[2], m.added[1]);
  ASSERT_EQ(back->dropped.size(), 2u);
  EXPECT_EQ(back->dropped[0], m.dropped[0]);
  EXPECT_EQ(back->dropped[1], m.dropped[1]);
}

TEST(UtPex, KeepsAtMostTheCapAndSkipsPortZero) {
  std::string added;
  for (int i = 0; i < 80; ++i) added += std::string("\x0a\x00\x00", 3) + static_cast<char>(i) + std::string("\x1a\xe1", 2);
  added += std::string("\x0a\x00\x00\x63\x00\x00", 6);
  const std::string payload = "d5:added" + std::to_string(added.size()) + ":" + added + "e";
  auto m = decode(bytes(payload), 50);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->added.size(), 50u);
  EXPECT_EQ(m->added[0].flags, 0);  // no added.f
  auto all = decode(bytes(payload), 1000);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->added.size(), 80u);  // the port-0 entry is skipped
}

TEST(UtPex, RefusesWhatIsNotWholeEntries) {
  EXPECT_FALSE(decode(bytes("le")));
  EXPECT_FALSE(decode(bytes("d5:added5:abcdee")));
  EXPECT_FALSE(decode(bytes("d6:added6i1ee")));
  EXPECT_FALSE(decode(bytes("d7:dropped7:abcdefge")));
  auto empty = decode(bytes("de"));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->added.empty());
  EXPECT_TRUE(empty->dropped.empty());
}

}  // namespace
}  // namespace sta::wire::ut_pex
