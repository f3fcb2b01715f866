#include "meta/magnet.hpp"

#include <gtest/gtest.h>

#include "base/hex.hpp"

namespace sta::meta {
namespace {

constexpr std::string_view kHex = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

TEST(Magnet, ParsesHexBtihAndParameters) {
  auto m = parse_magnet(
      "magnet:?xt=urn:btih:C12FE1C06BBA254A9DC9F519B335AA7C1367A88A&dn=My%20File+x"
      "&tr=http%3A%2F%2Fa%2Fannounce&tr=udp://b:80&x.pe=10.0.0.1:6881&x.pe=[::1]:1");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->info_hash.hex(), kHex);
  EXPECT_EQ(m->display_name, "My File x");
  EXPECT_EQ(m->trackers, (std::vector<std::string>{"http://a/announce", "udp://b:80"}));
  EXPECT_EQ(m->peers, (std::vector<std::string>{"10.0.0.1:6881", "[::1]:1"}));
}

TEST(Magnet, ParsesBase32Btih) {
  auto m = parse_magnet("magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->info_hash.hex(), kHex);
}

TEST(Magnet, RoundTripsThroughMake) {
  magnet in;
  in.info_hash = sha1_digest::from_raw(*from_hex(kHex));
  in.display_name = "a & b = c";
  in.trackers = {"http://t/announce?x=1&y=2", "http://t/a+b%20c"};
  auto out = parse_magnet(make_magnet(in));
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->info_hash, in.info_hash);
  EXPECT_EQ(out->display_name, in.display_name);
  EXPECT_EQ(out->trackers, in.trackers);
}

TEST(Magnet, Rejects) {
  const std::pair<const char*, errc> cases[] = {
      {"http://example/", errc::bad_magnet},
      {"not a uri at all", errc::bad_magnet},
      {"magnet:?dn=x", errc::missing_field},
      {"magnet:?xt=urn:sha1:abc", errc::missing_field},
      {"magnet:?xt=urn:btih:1234", errc::bad_info_hash},
      {"magnet:?xt=urn:btih:zz2fe1c06bba254a9dc9f519b335aa7c1367a88a", errc::bad_info_hash},
      {"magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKE1", errc::bad_info_hash},
  };
  for (const auto& [uri, code] : cases) {
    auto m = parse_magnet(uri);
    ASSERT_FALSE(m) << uri;
    EXPECT_EQ(m.error().code, make_error_code(code)) << uri;
  }
}

}  // namespace
}  // namespace sta::meta
