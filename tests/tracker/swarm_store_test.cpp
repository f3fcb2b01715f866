#include "tracker/swarm_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

namespace sta::tracker {
namespace {

using namespace std::chrono_literals;

announce::request req(const std::string& torrent, char id, std::int64_t left,
                      announce::event ev = announce::event::started, int numwant = 50) {
  announce::request r;
  r.info_hash = sha1(torrent);
  r.peer_id = std::string(20, id);
  r.port = static_cast<std::uint16_t>(6000 + id);
  r.left = left;
  r.ev = ev;
  r.numwant = numwant;
  return r;
}

peer_address v4(std::uint8_t last) {
  peer_address a;
  a.addr = {127, 0, 0, last};
  return a;
}

const clock::time_point t0{};

// The peers' ids, by their ports (6000 + id; peer ids are not handed out).
std::set<std::string> ids(const announce::response& r) {
  std::set<std::string> out;
  for (const auto& p : r.peers) out.insert(std::string(1, static_cast<char>(p.port - 6000)));
  return out;
}

TEST(SwarmStore, NeverReturnsThePeerToItselfAndCounts) {
  swarm_store s({}, 60s);
  ASSERT_TRUE(s.announce(req("t", 'a', 10), v4(1), t0));
  auto r = s.announce(req("t", 'b', 0), v4(2), t0);
  ASSERT_TRUE(r);
  EXPECT_EQ(ids(*r), (std::set<std::string>{"a"}));
  EXPECT_EQ(r->complete, 1);
  EXPECT_EQ(r->incomplete, 1);
  EXPECT_EQ(r->peers[0].port, 6000 + 'a');
}

TEST(SwarmStore, DoesNotHandSeedsToSeeds) {
  swarm_store s({}, 60s);
  ASSERT_TRUE(s.announce(req("t", 'a', 0), v4(1), t0));
  ASSERT_TRUE(s.announce(req("t", 'b', 5), v4(2), t0));
  auto r = s.announce(req("t", 'c', 0), v4(3), t0);
  ASSERT_TRUE(r);
  EXPECT_EQ(ids(*r), (std::set<std::string>{"b"}));
}

TEST(SwarmStore, PicksARandomSubsetOfALargeSwarm) {
  swarm_store s({}, 60s);
  for (int i = 0; i < 500; ++i) {
    auto r = req("big", 'x', 5);
    r.peer_id = "peer" + std::to_string(i);
    r.peer_id.resize(20, '.');
    r.port = static_cast<std::uint16_t>(10000 + i);
    ASSERT_TRUE(s.announce(r, v4(static_cast<std::uint8_t>(i)), t0));
  }
  std::set<std::string> seen;
  for (int k = 0; k < 20; ++k) {
    auto r = s.announce(req("big", 'q', 5, announce::event::none, 30), v4(250), t0);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->peers.size(), 30u);
    for (const auto& p : r->peers) seen.insert(p.address_text() + ":" + std::to_string(p.port));
  }
  EXPECT_GT(seen.size(), 100u);  // not the same 30 every time
}

TEST(SwarmStore, StoppedRemovesAtOnceAndCompletedIsCounted) {
  swarm_store s({}, 60s);
  ASSERT_TRUE(s.announce(req("t", 'a', 10), v4(1), t0));
  ASSERT_TRUE(s.announce(req("t", 'a', 0, announce::event::completed), v4(1), t0));
  auto sc = s.scrape({sha1("t")});
  ASSERT_EQ(sc.size(), 1u);
  EXPECT_EQ(sc[0].complete, 1);
  EXPECT_EQ(sc[0].downloaded, 1);
  ASSERT_TRUE(s.announce(req("t", 'a', 0, announce::event::stopped), v4(1), t0));
  sc = s.scrape({sha1("t")});
  EXPECT_EQ(sc[0].complete, 0);
  EXPECT_EQ(sc[0].incomplete, 0);
  EXPECT_EQ(sc[0].downloaded, 1);
}

TEST(SwarmStore, PeersExpireAfterTheirTtl) {
  swarm_store s({}, 60s);
  ASSERT_TRUE(s.announce(req("t", 'a', 10), v4(1), t0));
  ASSERT_TRUE(s.announce(req("t", 'b', 10), v4(2), t0 + 50s));
  s.expire(t0 + 61s);
  auto r = s.announce(req("t", 'c', 10), v4(3), t0 + 61s);
  ASSERT_TRUE(r);
  EXPECT_EQ(ids(*r), (std::set<std::string>{"b"}));
  s.expire(t0 + 200s);
  EXPECT_EQ(s.totals().seeders + s.totals().leechers, 0);
  s.expire(t0 + 400s);
  EXPECT_EQ(s.totals().swarms, 0);
}

TEST(SwarmStore, EnforcesLimits) {
  store_limits lim;
  lim.max_swarms = 1;
  lim.max_peers_per_swarm = 2;
  swarm_store s(lim, 60s);
  ASSERT_TRUE(s.announce(req("one", 'a', 1), v4(1), t0));
  ASSERT_TRUE(s.announce(req("one", 'b', 1), v4(2), t0));
  auto full = s.announce(req("one", 'c', 1), v4(3), t0);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), "swarm is full");
  auto many = s.announce(req("two", 'a', 1), v4(1), t0);
  ASSERT_FALSE(many);
  EXPECT_EQ(many.error(), "tracker is full (too many torrents)");
  EXPECT_TRUE(s.announce(req("two", 'a', 1, announce::event::stopped), v4(1), t0));
  EXPECT_EQ(s.totals().swarms, 1);
}

TEST(SwarmStore, TopAndTotals) {
  swarm_store s({}, 60s);
  ASSERT_TRUE(s.announce(req("small", 'a', 0), v4(1), t0));
  for (char id : {'a', 'b', 'c'}) ASSERT_TRUE(s.announce(req("large", id, 1), v4(1), t0));
  EXPECT_TRUE(s.top(1).empty());  // known on the next sweep
  s.expire(t0);
  const auto top = s.top(1);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].info_hash, sha1("large"));
  EXPECT_EQ(top[0].leechers, 3);
  const auto t = s.totals();
  EXPECT_EQ(t.swarms, 2);
  EXPECT_EQ(t.seeders, 1);
  EXPECT_EQ(t.leechers, 3);
}

peer_address v6(std::uint8_t group, std::uint8_t last) {
  peer_address a;
  a.addr = {0x20, 0x01, 0x0d, 0xb8, 0, group, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
  a.v6 = true;
  return a;
}

announce::request keyed(announce::request r, std::string key) {
  r.key = std::move(key);
  return r;
}

TEST(SwarmStore, OnlyThePeersAddressOrItsKeyMayChangeOrRemoveIt) {
  swarm_store s({}, 60s);
  ASSERT_TRUE(s.announce(req("t", 'a', 10), v4(1), t0));
  ASSERT_TRUE(s.announce(keyed(req("t", 'b', 10), "secret"), v4(2), t0));
  // Someone else names a's and b's ids: stopped, and a re-announce that
  // would point them elsewhere. Nothing changes.
  ASSERT_TRUE(s.announce(req("t", 'a', 10, announce::event::stopped), v4(66), t0));
  ASSERT_TRUE(s.announce(keyed(req("t", 'b', 0), "guess"), v4(66), t0));
  ASSERT_TRUE(s.announce(req("t", 'b', 10, announce::event::stopped), v4(66), t0));
  auto r = s.announce(req("t", 'c', 10), v4(3), t0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->incomplete, 3);
  EXPECT_EQ(r->complete, 0);
  for (const auto& p : r->peers) EXPECT_NE(p.addr[3], 66) << p.port;
  EXPECT_TRUE(r->peers[0].peer_id.empty());  // not asked for
  r = s.announce(req("t", 'c', 10), v4(3), t0, true);
  ASSERT_TRUE(r);
  EXPECT_EQ(ids(*r), (std::set<std::string>{"a", "b"}));
  for (const auto& p : r->peers) EXPECT_EQ(p.peer_id, std::string(20, static_cast<char>(p.port - 6000)));
  EXPECT_EQ(s.totals().ignored, 3);
  // b's own key moves it (a new address), and removes it.
  ASSERT_TRUE(s.announce(keyed(req("t", 'b', 10), "secret"), v4(7), t0));
  r = s.announce(req("t", 'c', 10), v4(3), t0);
  ASSERT_TRUE(r);
  const auto b = std::find_if(r->peers.begin(), r->peers.end(), [](const auto& p) { return p.port == 6000 + 'b'; });
  ASSERT_NE(b, r->peers.end());
  EXPECT_EQ(b->addr[3], 7);
  ASSERT_TRUE(s.announce(keyed(req("t", 'b', 10, announce::event::stopped), "secret"), v4(8), t0));
  // a's own address removes it.
  ASSERT_TRUE(s.announce(req("t", 'a', 10, announce::event::stopped), v4(1), t0));
  EXPECT_EQ(s.scrape({sha1("t")})[0].incomplete, 1);
}

TEST(SwarmStore, OneSourceCannotFillASwarm) {
  store_limits lim;
  lim.max_peers_per_source = 3;
  swarm_store s(lim, 60s);
  for (char id : {'a', 'b', 'c'}) ASSERT_TRUE(s.announce(req("t", id, 1), v4(1), t0));
  auto refused = s.announce(req("t", 'd', 1), v4(1), t0);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), "too many peers from your address in this torrent");
  EXPECT_TRUE(s.announce(req("t", 'a', 0), v4(1), t0));  // the ones it has still announce
  EXPECT_TRUE(s.announce(req("other", 'd', 1), v4(1), t0));
  EXPECT_TRUE(s.announce(req("t", 'd', 1), v4(2), t0));
  ASSERT_TRUE(s.announce(req("t", 'b', 1, announce::event::stopped), v4(1), t0));
  EXPECT_TRUE(s.announce(req("t", 'e', 1), v4(1), t0));
  // An IPv6 /64 is one source; another /64 is another.
  for (char id : {'f', 'g', 'h'}) ASSERT_TRUE(s.announce(req("t", id, 1), v6(1, static_cast<std::uint8_t>(id)), t0));
  EXPECT_FALSE(s.announce(req("t", 'i', 1), v6(1, 99), t0));
  EXPECT_TRUE(s.announce(req("t", 'i', 1), v6(2, 99), t0));
  // Expired peers give their places back.
  s.expire(t0 + 61s);
  EXPECT_TRUE(s.announce(req("t", 'j', 1), v4(1), t0 + 61s));
}

TEST(SwarmStore, NewSwarmsFromOneSourceAreLimitedPerMinute) {
  store_limits lim;
  lim.max_new_swarms_per_source = 5;
  swarm_store s(lim, 600s);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.announce(req("flood" + std::to_string(i), 'a', 1), v4(1), t0));
  auto refused = s.announce(req("flood5", 'a', 1), v4(1), t0 + 30s);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), "too many new torrents from your address; try again in a minute");
  EXPECT_TRUE(s.announce(req("flood0", 'b', 1), v4(1), t0 + 30s));  // swarms it has: fine
  EXPECT_TRUE(s.announce(req("real", 'a', 1), v4(2), t0 + 30s));
  EXPECT_TRUE(s.announce(req("flood5", 'a', 1), v4(1), t0 + 60s));
  EXPECT_EQ(s.totals().swarms, 7);
}

TEST(SwarmStore, AtTheCapSwarmsThatAreEmptyOrStaleMakeRoom) {
  store_limits lim;
  lim.max_swarms = 3;
  swarm_store s(lim, 60s);  // stale: nobody announced for 30 s
  ASSERT_TRUE(s.announce(req("real", 'a', 1), v4(1), t0));
  ASSERT_TRUE(s.announce(req("junk1", 'a', 1), v4(2), t0));
  ASSERT_TRUE(s.announce(req("junk2", 'a', 1), v4(3), t0));
  auto full = s.announce(req("new", 'a', 1), v4(4), t0 + 10s);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), "tracker is full (too many torrents)");
  // Within the same second, a refusal costs no search.
  const auto visited = s.swarms_visited();
  EXPECT_FALSE(s.announce(req("new2", 'a', 1), v4(4), t0 + 10s));
  EXPECT_EQ(s.swarms_visited(), visited);
  // The real swarm's peer announces on time; the junk's do not (a
  // "stopped" for an id nobody has does not keep a swarm fresh).
  ASSERT_TRUE(s.announce(req("real", 'a', 1), v4(1), t0 + 25s));
  ASSERT_TRUE(s.announce(req("junk1", 'z', 1, announce::event::stopped), v4(9), t0 + 25s));
  ASSERT_TRUE(s.announce(req("new", 'a', 1), v4(4), t0 + 35s));
  ASSERT_TRUE(s.announce(req("new2", 'a', 1), v4(4), t0 + 35s));
  EXPECT_EQ(s.totals().evicted, 2);
  EXPECT_EQ(s.totals().swarms, 3);
  EXPECT_EQ(s.scrape({sha1("real")})[0].incomplete, 1);
  EXPECT_EQ(s.scrape({sha1("junk1")})[0].incomplete + s.scrape({sha1("junk2")})[0].incomplete, 0);
  // A swarm left empty goes first, however fresh.
  ASSERT_TRUE(s.announce(req("new2", 'a', 1, announce::event::stopped), v4(4), t0 + 36s));
  ASSERT_TRUE(s.announce(req("newest", 'a', 1), v4(5), t0 + 36s));
  EXPECT_EQ(s.scrape({sha1("new")})[0].incomplete, 1);
  EXPECT_EQ(s.totals().evicted, 3);
}

TEST(SwarmStore, APeerRecordedJustAfterASweepsClockIsFresh) {
  swarm_store s({}, 60s);
  ASSERT_TRUE(s.announce(req("t", 'a', 1), v4(1), t0 + 10s));
  s.expire(t0 + 9s);  // another thread read the clock a moment earlier
  EXPECT_EQ(s.scrape({sha1("t")})[0].incomplete, 1);
  s.expire(t0 + 71s);
  EXPECT_EQ(s.scrape({sha1("t")})[0].incomplete, 0);
}

TEST(SwarmStore, CompactPeersOfOneFamilyFillTheWantedNumber) {
  store_limits lim;
  lim.max_peers_per_source = 0;
  swarm_store s(lim, 600s);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(s.announce(req("mixed", static_cast<char>('A' + i), 1), v6(1, 1), t0));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.announce(req("mixed", static_cast<char>('a' + i), 1), v4(1), t0));
  for (int k = 0; k < 20; ++k) {
    std::array<std::byte, 200> buf;
    compact_peers out{buf, false};
    ASSERT_TRUE(s.announce(req("mixed", 'q', 1, announce::event::none, 4), v4(2), t0, false, &out));
    EXPECT_EQ(out.used, 4u * 6) << "round " << k;
  }
}

TEST(SwarmStore, PollingTotalsAndTopDoesNotScanSwarms) {
  for (const int swarms : {10, 20'000}) {
    store_limits lim;
    lim.max_new_swarms_per_source = 0;
    swarm_store s(lim, 600s);
    for (int i = 0; i < swarms; ++i) {
      auto r = req("swarm" + std::to_string(i), 'a', i % 2);
      ASSERT_TRUE(s.announce(r, v4(static_cast<std::uint8_t>(i)), t0));
    }
    s.expire(t0);
    const auto visited = s.swarms_visited();
    for (int poll = 0; poll < 100; ++poll) {
      const auto t = s.totals();
      EXPECT_EQ(t.swarms, swarms);
      EXPECT_EQ(t.seeders + t.leechers, swarms);
      EXPECT_EQ(s.top(100).size(), std::min<std::size_t>(100, static_cast<std::size_t>(swarms)));
    }
    EXPECT_EQ(s.swarms_visited(), visited) << swarms << " swarms";
    EXPECT_GE(visited, static_cast<std::uint64_t>(swarms));  // the sweep did look at each
  }
}

}  // namespace
}  // namespace sta::tracker

namespace sta::tracker {
namespace {

TEST(SwarmStore, PeerIndexMatchesAModelUnderRandomJoinsAndLeaves) {
  store_limits no_source_limits;
  no_source_limits.max_peers_per_source = 0;
  swarm_store s(no_source_limits, std::chrono::hours(1));
  std::set<std::string> model;
  std::mt19937 rng(99);
  for (int step = 0; step < 20'000; ++step) {
    announce::request r;
    r.info_hash = sha1("model");
    // Ids share a client prefix, as real ones do; 600 distinct ones.
    r.peer_id = "-qB4650-" + std::to_string(100000 + rng() % 600);
    r.peer_id.resize(20, '#');
    r.port = 1;
    r.left = 1;
    r.numwant = 0;
    r.ev = rng() % 3 == 0 ? announce::event::stopped : announce::event::none;
    auto res = s.announce(r, peer_address{}, clock::time_point{});
    ASSERT_TRUE(res);
    if (r.ev == announce::event::stopped) model.erase(r.peer_id);
    else model.insert(r.peer_id);
    ASSERT_EQ(res->incomplete, static_cast<std::int64_t>(model.size())) << "step " << step;
  }
}

}  // namespace
}  // namespace sta::tracker
