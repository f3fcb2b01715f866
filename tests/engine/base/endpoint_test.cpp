#include "base/endpoint.hpp"

#include <gtest/gtest.h>

#include <array>

namespace sta {
namespace {

TEST(Endpoint, ParsesAndPrintsIpv4AndBracketedIpv6) {
  const auto a = parse_endpoint("10.1.2.3:6881");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->family(), AF_INET);
  EXPECT_EQ(a->port(), 6881);
  EXPECT_EQ(a->to_string(), "10.1.2.3:6881");
  const auto b = parse_endpoint("[::1]:80");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->family(), AF_INET6);
  EXPECT_EQ(b->to_string(), "[::1]:80");
  EXPECT_EQ(b->host_string(), "::1");
}

TEST(Endpoint, LoopbackIsAll127AndOnlyColonColonOne) {
  EXPECT_TRUE(parse_endpoint("127.0.0.1:1")->is_loopback());
  EXPECT_TRUE(parse_endpoint("127.200.3.4:1")->is_loopback());
  EXPECT_TRUE(parse_endpoint("[::1]:1")->is_loopback());
  EXPECT_FALSE(parse_endpoint("128.0.0.1:1")->is_loopback());
  EXPECT_FALSE(parse_endpoint("0.0.0.0:1")->is_loopback());
  EXPECT_FALSE(parse_endpoint("[::]:1")->is_loopback());
  EXPECT_FALSE(parse_endpoint("[::2]:1")->is_loopback());
}

TEST(Endpoint, RefusesMalformedText) {
  for (const char* bad : {"", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "::1:80", "[::1]", "host:80", "1.2.3.4:8x"})
    EXPECT_FALSE(parse_endpoint(bad)) << bad;
}

TEST(Endpoint, RawAddressBytesRoundTrip) {
  const std::array<std::uint8_t, 4> v4{192, 0, 2, 7};
  const auto a = endpoint::from_ip(v4, 51413);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->to_string(), "192.0.2.7:51413");
  EXPECT_TRUE(std::equal(a->ip().begin(), a->ip().end(), v4.begin(), v4.end()));
  std::array<std::uint8_t, 16> v6{};
  v6[15] = 1;
  EXPECT_EQ(endpoint::from_ip(v6, 1)->to_string(), "[::1]:1");
  EXPECT_FALSE(endpoint::from_ip(std::span(v6).first(5), 1));
}

TEST(Endpoint, SameHostIgnoresThePortAndHostKeysMatchIt) {
  const auto a = *parse_endpoint("127.0.0.5:1000");
  const auto b = *parse_endpoint("127.0.0.5:2000");
  const auto c = *parse_endpoint("127.0.0.6:1000");
  EXPECT_TRUE(a.same_host(b));
  EXPECT_FALSE(a == b);
  EXPECT_FALSE(a.same_host(c));
  EXPECT_EQ(host_of(a), host_of(b));
  EXPECT_NE(host_of(a), host_of(c));
  EXPECT_NE(host_of(a), host_of(*parse_endpoint("[::7f00:5]:1000")));
  EXPECT_EQ(host_of(a), host_of(*parse_endpoint("[::ffff:127.0.0.5]:9")));
}

TEST(Endpoint, WildcardsAndPorts) {
  EXPECT_TRUE(parse_endpoint("0.0.0.0:0")->is_unspecified());
  EXPECT_TRUE(parse_endpoint("[::]:0")->is_unspecified());
  EXPECT_FALSE(parse_endpoint("127.0.0.1:0")->is_unspecified());
  EXPECT_EQ(parse_endpoint("127.0.0.1:5")->with_port(0).port(), 0);
}

}  // namespace
}  // namespace sta
