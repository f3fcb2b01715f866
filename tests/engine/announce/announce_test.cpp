#include "announce/announce.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "bencode/decode.hpp"

namespace sta::announce {
namespace {

request sample() {
  request r;
  r.info_hash = sha1("torrent");
  r.peer_id = std::string("-ST0100-\x00\x01+%&= \xff\xfe\x80zz", 20);
  r.port = 6881;
  r.uploaded = 1;
  r.downloaded = 2;
  r.left = 3;
  r.ev = event::started;
  r.numwant = 80;
  r.key = "k+y";
  r.ip = "10.0.0.1";
  return r;
}

std::string query_of(const request& r) {
  const std::string url = build_announce_url("http://t/announce", r);
  return url.substr(url.find('?') + 1);
}

TEST(Announce, QueryRoundTrips) {
  const request in = sample();
  auto out = parse_announce(query_of(in));
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(out->info_hash, in.info_hash);
  EXPECT_EQ(out->peer_id, in.peer_id);
  EXPECT_EQ(out->port, 6881);
  EXPECT_EQ(out->uploaded, 1);
  EXPECT_EQ(out->downloaded, 2);
  EXPECT_EQ(out->left, 3);
  EXPECT_EQ(out->ev, event::started);
  EXPECT_EQ(out->numwant, 80);
  EXPECT_EQ(out->key, "k+y");
  EXPECT_EQ(out->ip, "10.0.0.1");
  EXPECT_TRUE(out->compact);
}

TEST(Announce, DefaultsAndCaps) {
  request in = sample();
  std::string q = query_of(in);
  q.replace(q.find("numwant=80"), 10, "numwant=999");
  auto out = parse_announce(q);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->numwant, kMaxNumwant);
  auto minimal = parse_announce("info_hash=" + std::string(20, 'a') + "&peer_id=" + std::string(20, 'b') + "&port=1");
  ASSERT_TRUE(minimal) << minimal.error();
  EXPECT_EQ(minimal->numwant, kDefaultNumwant);
  EXPECT_EQ(minimal->ev, event::none);
  EXPECT_TRUE(minimal->compact);
}

TEST(Announce, EachMalformedQueryHasItsOwnReason) {
  const std::string hash = "info_hash=" + std::string(20, 'a');
  const std::string id = "&peer_id=" + std::string(20, 'b');
  const std::pair<std::string, std::string> cases[] = {
      {id + "&port=1", "missing info_hash"},
      {hash + "&port=1", "missing peer_id"},
      {hash + id, "missing port"},
      {"info_hash=abc" + id + "&port=1", "info_hash is not 20 bytes"},
      {hash + "&peer_id=short&port=1", "peer_id is not 20 bytes"},
      {hash + id + "&port=0", "invalid port"},
      {hash + id + "&port=70000", "invalid port"},
      {hash + id + "&port=x", "invalid port"},
      {hash + id + "&port=1&left=-1", "invalid left"},
      {hash + id + "&port=1&uploaded=lots", "invalid uploaded"},
      {hash + id + "&port=1&downloaded=", "invalid downloaded"},
      {hash + id + "&port=1&event=exploded", "invalid event"},
      {hash + id + "&port=1&numwant=-5", "invalid numwant"},
      {hash + id + "&port=1&key=%zz", "malformed query string"},
      {hash + "&" + hash + id + "&port=1", "more than one info_hash"},
      {std::string(5000, 'a'), "request too long"},
  };
  for (const auto& [query, reason] : cases) {
    auto r = parse_announce(query);
    ASSERT_FALSE(r) << query;
    EXPECT_EQ(r.error(), reason) << query;
  }
}

TEST(Announce, EveryPrefixOfAQueryParsesOrFailsCleanly) {
  const std::string q = query_of(sample());
  for (std::size_t cut = 0; cut < q.size(); ++cut) {
    auto r = parse_announce(std::string_view(q).substr(0, cut));
    if (!r) {
      EXPECT_FALSE(r.error().empty());
    }
  }
  EXPECT_TRUE(parse_announce(q));
}

response sample_response() {
  response r;
  r.interval = 1800;
  r.min_interval = 900;
  r.complete = 3;
  r.incomplete = 4;
  peer a;
  a.addr = {127, 0, 0, 11};
  a.port = 6881;
  a.peer_id = std::string(20, 'a');
  peer b;
  b.v6 = true;
  b.addr[15] = 1;
  b.port = 51413;
  b.peer_id = std::string(20, 'b');
  r.peers = {a, b};
  return r;
}

TEST(Announce, CompactResponseRoundTripsWithPeers6) {
  const auto in = sample_response();
  const std::string body = encode_response(in, true, false);
  EXPECT_NE(body.find("6:peers6"), std::string::npos);
  auto out = parse_response(body);
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(out->interval, 1800);
  EXPECT_EQ(out->min_interval, 900);
  EXPECT_EQ(out->complete, 3);
  EXPECT_EQ(out->incomplete, 4);
  ASSERT_EQ(out->peers.size(), 2u);
  EXPECT_EQ(out->peers[0].address_text(), "127.0.0.11");
  EXPECT_EQ(out->peers[0].port, 6881);
  EXPECT_EQ(out->peers[1].address_text(), "::1");
  EXPECT_EQ(out->peers[1].port, 51413);
}

TEST(Announce, DictionaryResponseWithAndWithoutPeerIds) {
  const auto in = sample_response();
  auto with = parse_response(encode_response(in, false, false));
  ASSERT_TRUE(with) << with.error();
  ASSERT_EQ(with->peers.size(), 2u);
  EXPECT_EQ(with->peers[0].peer_id, std::string(20, 'a'));
  EXPECT_EQ(with->peers[1].address_text(), "::1");
  const std::string without = encode_response(in, false, true);
  EXPECT_EQ(without.find("peer id"), std::string::npos);
  EXPECT_TRUE(parse_response(without));
}

TEST(Announce, FailureAndBadResponses) {
  auto f = parse_response(encode_failure("torrent not allowed"));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->failure_reason, "torrent not allowed");
  EXPECT_FALSE(parse_response("le"));
  EXPECT_FALSE(parse_response("d5:peers5:abcdee"));
  EXPECT_FALSE(parse_response("d5:peersi3ee"));
  const std::string body = encode_response(sample_response(), true, false);
  for (std::size_t cut = 0; cut < body.size(); ++cut) EXPECT_FALSE(parse_response(body.substr(0, cut)));
}

TEST(Announce, ResponsePeerCountIsBounded) {
  response r;
  for (int i = 0; i < 100; ++i) {
    peer p;
    p.addr = {10, 0, 0, static_cast<std::uint8_t>(i)};
    p.port = 1;
    r.peers.push_back(p);
  }
  auto out = parse_response(encode_response(r, true, false), 10);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->peers.size(), 10u);
}

TEST(Scrape, ParsesManyHashesAndEncodesFiles) {
  const auto h1 = sha1("a"), h2 = sha1("b");
  request r;
  r.info_hash = h1;
  std::string q = query_of(r);
  q = q.substr(0, q.find('&'));
  r.info_hash = h2;
  std::string q2 = query_of(r);
  q += "&" + q2.substr(0, q2.find('&'));
  auto hashes = parse_scrape(q);
  ASSERT_TRUE(hashes) << hashes.error();
  EXPECT_EQ(*hashes, (std::vector<sha1_digest>{h1, h2}));
  EXPECT_TRUE(parse_scrape("")->empty());
  EXPECT_EQ(parse_scrape("info_hash=abc").error(), "info_hash is not 20 bytes");

  const std::string body = encode_scrape({{h2, 1, 2, 3}, {h1, 4, 5, 6}});
  auto doc = bencode::decode(body);
  ASSERT_TRUE(doc);
  auto files = doc->root().find("files");
  ASSERT_TRUE(files);
  auto e = files->find(h1.raw());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->find("complete")->int_value(), 4);
  EXPECT_EQ(e->find("downloaded")->int_value(), 5);
  EXPECT_EQ(e->find("incomplete")->int_value(), 6);
}

TEST(Scrape, UrlFromAnnounceUrl) {
  EXPECT_EQ(*scrape_url("http://t:1/announce"), "http://t:1/scrape");
  EXPECT_EQ(*scrape_url("http://t/x/announce.php?k=1"), "http://t/x/scrape.php?k=1");
  EXPECT_FALSE(scrape_url("http://t/a"));
}


TEST(AnnounceClient, IntervalsAreKeptSane) {
  response r;
  EXPECT_EQ(next_interval(r), 1800);  // none given
  r.interval = 1;
  EXPECT_EQ(next_interval(r), kLeastInterval);
  r.interval = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(next_interval(r), kMostInterval);
  r.interval = 60;
  r.min_interval = 300;
  EXPECT_EQ(next_interval(r), 300);
  r.min_interval = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(next_interval(r), kMostInterval);
}

TEST(AnnounceClient, StringsFromTheTrackerAreCapped) {
  const std::string long_reason(10'000, 'r');
  auto f = parse_response(encode_failure(long_reason));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->failure_reason.size(), kMaxReason);
  const std::string id_ok(kMaxTrackerId, 'i');
  auto ok = parse_response("d10:tracker id" + std::to_string(id_ok.size()) + ":" + id_ok + "e");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->tracker_id, id_ok);
  const std::string id_long(kMaxTrackerId + 1, 'i');
  auto dropped = parse_response("d10:tracker id" + std::to_string(id_long.size()) + ":" + id_long +
                                "15:warning message5000:" + std::string(5000, 'w') + "e");
  ASSERT_TRUE(dropped);
  EXPECT_TRUE(dropped->tracker_id.empty());
  EXPECT_EQ(dropped->warning.size(), kMaxReason);
}

}  // namespace
}  // namespace sta::announce
