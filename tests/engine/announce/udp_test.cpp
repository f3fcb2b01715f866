#include "announce/udp.hpp"

#include <gtest/gtest.h>

namespace sta::announce::udp {
namespace {

announce_request sample_announce() {
  announce_request a;
  a.connection = 0x0123456789abcdefull;
  a.transaction = 77;
  a.info_hash.bytes.fill(0xab);
  a.peer_id.fill('p');
  a.downloaded = 1;
  a.left = 1ll << 40;
  a.uploaded = 3;
  a.ev = event::started;
  a.key = 9;
  a.numwant = 50;
  a.port = 6881;
  return a;
}

TEST(UdpTracker, RequestsRoundTrip) {
  auto c = decode_request(encode(request{connect_request{5}}));
  ASSERT_TRUE(c);
  EXPECT_EQ(std::get<connect_request>(*c).transaction, 5u);

  const auto a = sample_announce();
  const auto wire = encode(request{a});
  EXPECT_EQ(wire.size(), kAnnounceSize);
  auto back = decode_request(wire);
  ASSERT_TRUE(back);
  const auto& b = std::get<announce_request>(*back);
  EXPECT_EQ(b.connection, a.connection);
  EXPECT_EQ(b.transaction, a.transaction);
  EXPECT_EQ(b.info_hash, a.info_hash);
  EXPECT_EQ(b.peer_id, a.peer_id);
  EXPECT_EQ(b.left, a.left);
  EXPECT_EQ(b.ev, event::started);
  EXPECT_EQ(b.numwant, 50);
  EXPECT_EQ(b.port, 6881);

  scrape_request s{1, 2, std::vector<sha1_digest>(3)};
  s.info_hashes[2].bytes.fill(7);
  auto sb = decode_request(encode(request{s}));
  ASSERT_TRUE(sb);
  EXPECT_EQ(std::get<scrape_request>(*sb).info_hashes, s.info_hashes);
}

TEST(UdpTracker, EveryTruncatedRequestIsRefusedAndOptionsAreSkipped) {
  const auto wire = encode(request{sample_announce()});
  for (std::size_t n = 0; n < wire.size(); ++n) EXPECT_FALSE(decode_request(std::span(wire).first(n))) << n;
  // BEP 41: options after the announce (a URL data option here).
  auto with_options = wire;
  for (std::byte b : {std::byte{2}, std::byte{3}, std::byte{'/'}, std::byte{'a'}, std::byte{'b'}, std::byte{1}})
    with_options.push_back(b);
  EXPECT_TRUE(decode_request(with_options));
  // A connect needs the protocol id; an unknown action and a bad event fail.
  auto c = encode(request{connect_request{1}});
  c[0] = std::byte{1};
  EXPECT_FALSE(decode_request(c));
  auto bad_event = wire;
  bad_event[83] = std::byte{9};
  EXPECT_FALSE(decode_request(bad_event));
  EXPECT_FALSE(decode_request(encode(request{scrape_request{1, 2, {}}})));
  EXPECT_FALSE(decode_request(encode(request{scrape_request{1, 2, std::vector<sha1_digest>(kMaxScrapeHashes + 1)}})));
}

TEST(UdpTracker, ResponsesRoundTripOverBothFamilies) {
  auto c = decode_response(encode(response{connect_response{3, 0xfeedull}}), false);
  ASSERT_TRUE(c);
  EXPECT_EQ(std::get<connect_response>(*c).connection, 0xfeedull);

  for (bool v6 : {false, true}) {
    announce_response a{9, 1800, 4, 5, {}};
    for (std::uint8_t i = 1; i <= 3; ++i) {
      peer p;
      p.v6 = v6;
      p.addr[0] = i;
      p.port = static_cast<std::uint16_t>(6880 + i);
      a.peers.push_back(p);
    }
    auto back = decode_response(encode(response{a}), v6);
    ASSERT_TRUE(back);
    const auto& b = std::get<announce_response>(*back);
    EXPECT_EQ(b.interval, 1800);
    EXPECT_EQ(b.leechers, 4);
    EXPECT_EQ(b.seeders, 5);
    EXPECT_EQ(b.peers, a.peers);
    EXPECT_EQ(std::get<announce_response>(*decode_response(encode(response{a}), v6, 2)).peers.size(), 2u);
  }

  // Two IPv4 peers are not a whole number of IPv6 entries.
  announce_response two{1, 60, 0, 0, {peer{}, peer{}}};
  EXPECT_FALSE(decode_response(encode(response{two}), true));

  scrape_response s{4, {{{}, 1, 2, 3}, {{}, 4, 5, 6}}};
  auto sb = decode_response(encode(response{s}), false);
  ASSERT_TRUE(sb);
  ASSERT_EQ(std::get<scrape_response>(*sb).files.size(), 2u);
  EXPECT_EQ(std::get<scrape_response>(*sb).files[1].incomplete, 6);

  auto e = decode_response(encode(response{error_response{8, std::string(2000, 'x')}}), false);
  ASSERT_TRUE(e);
  EXPECT_EQ(std::get<error_response>(*e).transaction, 8u);
  EXPECT_EQ(std::get<error_response>(*e).message.size(), kMaxReason);

  for (std::size_t n = 0; n < 8; ++n) EXPECT_FALSE(decode_response(std::vector<std::byte>(n), false));
  EXPECT_FALSE(decode_response(std::vector<std::byte>(12), false));  // a connect reply without its id
}

}  // namespace
}  // namespace sta::announce::udp
