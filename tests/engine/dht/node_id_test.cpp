#include "dht/node_id.hpp"

#include <gtest/gtest.h>

#include "base/hex.hpp"

namespace sta::dht {
namespace {

endpoint ep(const char* text) { return *parse_endpoint(text); }

node_id id_hex(std::string_view hex) { return node_id::from_raw(*from_hex(hex)); }

// The table of BEP 42: an address, the random number and an id it allows.
TEST(NodeId, Bep42ExamplesMatchTheirAddressesOnly) {
  struct example {
    const char* ip;
    int r;
    const char* id;
  };
  const example examples[] = {
      {"124.31.75.21:1", 1, "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401"},
      {"21.75.31.124:1", 86, "5a3ce9c14e7a08645677bbd1cfe7d8f956d53256"},
      {"65.23.51.170:1", 22, "a5d43220bc8f112a3d426c84764f8c2a1150e616"},
      {"84.124.73.14:1", 65, "1b0321dd1bb1fe518101ceef99462b947a01ff41"},
      {"43.213.53.83:1", 90, "e56f6cbf5b7c4be0237986d5243b87aa6d51305a"},
  };
  std::mt19937_64 rng(7);
  for (const auto& e : examples) {
    const auto id = id_hex(e.id);
    EXPECT_TRUE(id_matches(id, ep(e.ip))) << e.ip;
    EXPECT_FALSE(id_matches(id, ep("8.8.8.8:1"))) << e.ip;
    const auto made = secure_id(ep(e.ip), static_cast<std::uint8_t>(e.r), rng);
    EXPECT_EQ(made.bytes[0], id.bytes[0]);
    EXPECT_EQ(made.bytes[1], id.bytes[1]);
    EXPECT_EQ(made.bytes[2] & 0xf8, id.bytes[2] & 0xf8);
    EXPECT_EQ(made.bytes[19], e.r);
    EXPECT_TRUE(id_matches(made, ep(e.ip)));
  }
  const auto six = secure_id(ep("[2001:db8:1:2::5]:1"), 3, rng);
  EXPECT_TRUE(id_matches(six, ep("[2001:db8:1:2::9]:1")));
  EXPECT_FALSE(id_matches(six, ep("[2001:db9::9]:1")));
}

TEST(NodeId, LocalAddressesAreExempt) {
  const node_id any = node_id::from_raw(std::string(20, 'z'));
  for (const char* local : {"127.0.0.5:1", "10.1.2.3:1", "172.20.0.1:1", "192.168.1.1:1", "169.254.0.1:1", "[::1]:1",
                            "[fd00::1]:1", "[fe80::1]:1"})
    EXPECT_TRUE(id_matches(any, ep(local))) << local;
  EXPECT_FALSE(is_local(ep("172.32.0.1:1")));
}

TEST(NodeId, DistanceAndRandomIdsInABucket) {
  const node_id a = node_id::from_raw(std::string(20, '\0'));
  node_id b = a;
  b.bytes[2] = 0x10;  // shares 19 bits
  EXPECT_EQ(shared_prefix(a, b), 19);
  EXPECT_EQ(shared_prefix(a, a), 160);
  node_id c = a;
  c.bytes[2] = 0x20;
  EXPECT_TRUE(closer(a, b, c));
  EXPECT_FALSE(closer(a, c, b));
  EXPECT_FALSE(closer(a, b, b));
  std::mt19937_64 rng(1);
  for (int bits : {0, 1, 7, 8, 63, 159}) EXPECT_EQ(shared_prefix(a, random_id_near(a, bits, rng)), bits);
}

}  // namespace
}  // namespace sta::dht
