#include "tracker/swarm_store.hpp"

#include <gtest/gtest.h>

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

std::set<std::string> ids(const announce::response& r) {
  std::set<std::string> out;
  for (const auto& p : r.peers) out.insert(p.peer_id.substr(0, 1));
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
    ASSERT_TRUE(s.announce(r, v4(static_cast<std::uint8_t>(i)), t0));
  }
  std::set<std::string> seen;
  for (int k = 0; k < 20; ++k) {
    auto r = s.announce(req("big", 'q', 5, announce::event::none, 30), v4(250), t0);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->peers.size(), 30u);
    for (const auto& p : r->peers) seen.insert(p.peer_id);
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
  const auto top = s.top(1);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].info_hash, sha1("large"));
  EXPECT_EQ(top[0].leechers, 3);
  const auto t = s.totals();
  EXPECT_EQ(t.swarms, 2);
  EXPECT_EQ(t.seeders, 1);
  EXPECT_EQ(t.leechers, 3);
}

}  // namespace
}  // namespace sta::tracker

namespace sta::tracker {
namespace {

TEST(SwarmStore, PeerIndexMatchesAModelUnderRandomJoinsAndLeaves) {
  swarm_store s({}, std::chrono::hours(1));
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
