#include "dht/node.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "dht/node_id.hpp"

namespace sta::dht {
namespace {

using namespace std::chrono_literals;

endpoint ep(const std::string& text) { return *parse_endpoint(text); }
std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

node_id random_id(std::mt19937_64& rng) {
  node_id id;
  for (auto& b : id.bytes) b = static_cast<std::uint8_t>(rng());
  return id;
}

// Many nodes on a made-up network and clock: every datagram a node emits is
// delivered at once (unless the destination is down), and time moves only
// when a test says so.
struct network {
  clock::time_point now{};
  std::mt19937_64 rng{42};
  std::map<std::string, std::unique_ptr<node>> nodes;
  std::set<std::string> down;
  std::vector<std::pair<std::string, std::string>> sent;  // every datagram: from, to

  node& add(const std::string& addr, config cfg = {}, std::optional<node_id> id = std::nullopt) {
    auto& n = nodes[addr];
    n = std::make_unique<node>(cfg, id ? *id : random_id(rng), rng(), now);
    return *n;
  }
  node& at(const std::string& addr) { return *nodes.at(addr); }

  void deliver() {
    for (int round = 0; round < 1000; ++round) {
      bool any = false;
      for (auto& [from, n] : nodes) {
        for (auto& p : n->take_packets()) {
          any = true;
          const auto to = p.to.to_string();
          sent.emplace_back(from, to);
          auto it = nodes.find(to);
          if (it != nodes.end() && !down.contains(to)) it->second->receive(ep(from), bytes(p.bytes), now);
        }
      }
      if (!any) return;
    }
    FAIL() << "the network never went quiet";
  }
  void run(clock::duration d) {
    for (auto end = now + d; now < end;) {
      now += 1s;
      for (auto& [addr, n] : nodes) n->tick(now);
      deliver();
    }
  }
};

std::string addr_of(int i) { return "10.0." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1) + ":6881"; }

// A network of n nodes (at address(i)) that each bootstrapped from the first.
network make_network(int n, config cfg = {}, std::string (*address)(int) = addr_of) {
  network net;
  for (int i = 0; i < n; ++i) net.add(address(i), cfg);
  for (int i = 1; i < n; ++i) {
    net.at(address(i)).bootstrap({ep(address(0))}, net.now);
    net.deliver();
  }
  net.run(30s);
  return net;
}

// `announcer` looks up info_hash and announces itself with `port`; then
// `seeker` looks it up: the peers it found.
std::vector<node::found> announce_then_find(network& net, const std::string& announcer, const std::string& seeker,
                                            const node_id& info_hash, std::uint16_t port) {
  net.at(announcer).get_peers(info_hash, port, net.now);
  net.run(10s);
  net.at(seeker).get_peers(info_hash, std::nullopt, net.now);
  net.run(10s);
  return net.at(seeker).take_found();
}

// The k ids of the network closest to target.
std::vector<std::string> truly_closest(network& net, const node_id& target, std::size_t k) {
  std::vector<std::pair<node_id, std::string>> all;
  for (auto& [addr, n] : net.nodes) all.emplace_back(n->id(), addr);
  std::sort(all.begin(), all.end(), [&](const auto& a, const auto& b) { return closer(target, a.first, b.first); });
  std::vector<std::string> out;
  for (std::size_t i = 0; i < k && i < all.size(); ++i) out.push_back(all[i].second);
  return out;
}

TEST(DhtNode, LookupsConvergeAndOtherNodesFindWhatWasAnnounced) {
  auto net = make_network(48);
  for (auto& [addr, n] : net.nodes) EXPECT_GE(n->table().size(), kBucketSize) << addr;

  const node_id info_hash = random_id(net.rng);
  auto& seeder = net.at(addr_of(7));
  const auto lookup = seeder.get_peers(info_hash, 51413, net.now);
  ASSERT_TRUE(lookup);
  net.run(10s);
  auto done = seeder.take_finished();
  std::erase_if(done, [&](const node::finished& f) { return f.lookup != *lookup; });
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].target, info_hash);
  EXPECT_GE(done[0].responded, kBucketSize);
  EXPECT_GE(done[0].announced, kBucketSize - 1);

  // The nodes that stored the announce are the closest ones of the network.
  std::size_t stored_by_closest = 0;
  for (const auto& addr : truly_closest(net, info_hash, kBucketSize))
    stored_by_closest += net.at(addr).stored_torrents() == 1;
  EXPECT_GE(stored_by_closest, kBucketSize - 2);

  auto& leecher = net.at(addr_of(40));
  const auto second = leecher.get_peers(info_hash, std::nullopt, net.now);
  ASSERT_TRUE(second);
  net.run(10s);
  auto found = leecher.take_found();
  ASSERT_FALSE(found.empty());
  EXPECT_EQ(found[0].info_hash, info_hash);
  EXPECT_EQ(found[0].peers[0], ep(addr_of(7)).with_port(51413));
  const auto finished = leecher.take_finished();
  EXPECT_TRUE(std::any_of(finished.begin(), finished.end(), [&](const node::finished& f) { return f.lookup == *second; }));
}

TEST(DhtNode, IPv6NodesFindEachOtherThroughNodes6) {
  config six;
  six.ipv4 = false;
  six.ipv6 = true;
  // Each in a /64 of its own (the rate limits count a /64 as one source).
  constexpr auto addr6 = [](int i) { return "[fd00:" + std::to_string(i + 1) + "::1]:6881"; };
  auto net = make_network(16, six, +addr6);
  for (auto& [addr, n] : net.nodes) EXPECT_GE(n->table().size(), kBucketSize) << addr;
  const auto found = announce_then_find(net, addr6(4), addr6(11), random_id(net.rng), 6882);
  ASSERT_FALSE(found.empty());
  EXPECT_EQ(found[0].peers[0], ep("[fd00:5::1]:6882"));
  // An IPv4 address is never asked by an IPv6-only node.
  EXPECT_TRUE(std::none_of(net.sent.begin(), net.sent.end(), [](const auto& p) { return p.second.front() != '['; }));
}

TEST(DhtNode, ImpliedPortAnnouncesTheSourcePort) {
  auto net = make_network(12);
  const auto found = announce_then_find(net, addr_of(3), addr_of(5), random_id(net.rng), 0);
  ASSERT_FALSE(found.empty());
  EXPECT_EQ(found[0].peers[0], ep(addr_of(3)));
}

// A node of our own making on the other end of the wire.
struct fake_peer {
  endpoint addr;
  node_id id;
  int next = 0;

  std::string query(krpc::method name, const node_id& target = {}, std::string token = {}, std::uint16_t port = 0) {
    krpc::message q;
    q.transaction = "q" + std::to_string(next++ % 10);
    q.id = id;
    q.name = name;
    q.target = target;
    q.token = std::move(token);
    q.port = port;
    return krpc::encode(q);
  }
};

// Sends one datagram to n and decodes what n answers the sender with (not
// its own queries, such as a ping to see whether the sender is real).
std::vector<krpc::message> exchange(node& n, const endpoint& from, const std::string& packet, clock::time_point now) {
  n.receive(from, bytes(packet), now);
  std::vector<krpc::message> out;
  for (auto& p : n.take_packets()) {
    if (!(p.to == from)) continue;
    auto m = krpc::decode(bytes(p.bytes));
    EXPECT_TRUE(m);
    if (m && m->type != krpc::kind::query) out.push_back(*m);
  }
  return out;
}

TEST(DhtNode, TokensOutliveOneRotationButNotTwo) {
  clock::time_point now{};
  node n({}, node_id{}, 1, now);
  fake_peer p{ep("10.1.0.1:7000"), node_id::from_raw(std::string(20, 'p'))};
  const node_id info_hash = node_id::from_raw(std::string(20, 'h'));

  auto reply = exchange(n, p.addr, p.query(krpc::method::get_peers, info_hash), now);
  ASSERT_EQ(reply.size(), 1u);
  const std::string token = reply[0].token;
  EXPECT_EQ(reply[0].ip, p.addr);  // BEP 42: the requester's address echoed

  // Another address cannot use it.
  fake_peer other{ep("10.1.0.2:7000"), node_id::from_raw(std::string(20, 'o'))};
  reply = exchange(n, other.addr, other.query(krpc::method::announce_peer, info_hash, token, 6881), now);
  ASSERT_EQ(reply.size(), 1u);
  EXPECT_EQ(reply[0].type, krpc::kind::error);
  EXPECT_EQ(reply[0].error_code, krpc::kProtocolError);

  now += 6min;
  n.tick(now);  // one rotation: the token is the previous secret's
  reply = exchange(n, p.addr, p.query(krpc::method::announce_peer, info_hash, token, 6881), now);
  ASSERT_EQ(reply.size(), 1u);
  EXPECT_EQ(reply[0].type, krpc::kind::response);
  EXPECT_EQ(n.stored_peers(), 1u);

  now += 6min;
  n.tick(now);  // two rotations: gone
  reply = exchange(n, p.addr, p.query(krpc::method::announce_peer, info_hash, token, 6881), now);
  ASSERT_EQ(reply.size(), 1u);
  EXPECT_EQ(reply[0].type, krpc::kind::error);

  // What was stored comes back to anyone who asks, until it expires.
  reply = exchange(n, other.addr, other.query(krpc::method::get_peers, info_hash), now);
  ASSERT_EQ(reply.size(), 1u);
  ASSERT_EQ(reply[0].values.size(), 1u);
  EXPECT_EQ(reply[0].values[0], p.addr.with_port(6881));
  now += 31min;
  n.tick(now);
  EXPECT_EQ(n.stored_torrents(), 0u);
}

TEST(DhtNode, NodesThatStopAnsweringLeaveTheTableAndOthersTakeTheirPlace) {
  auto net = make_network(24);
  auto& me = net.at(addr_of(1));
  const auto before = me.table().nodes();
  ASSERT_FALSE(before.empty());
  // The node closest to some target goes down; two lookups toward it time
  // out on it.
  const auto victim = before.front();
  net.down.insert(victim.addr.to_string());
  for (int i = 0; i < 2; ++i) {
    me.get_peers(victim.id, std::nullopt, net.now);
    net.run(10s);
  }
  EXPECT_FALSE(me.table().contains(victim));
  EXPECT_GE(me.stats().timeouts, 2u);
  // Its place is taken: by a replacement the bucket held, or by a newcomer
  // next to it in the id space as soon as the node hears of it.
  node_id near = victim.id;
  near.bytes[19] ^= 1;
  net.add("10.9.0.1:6881", {}, near).bootstrap({me.table().nodes().front().addr}, net.now);
  net.deliver();
  me.get_peers(near, std::nullopt, net.now);
  net.run(10s);
  EXPECT_GE(me.table().size(), before.size());
}

TEST(DhtNode, AQueryStormFromOneAddressIsAnsweredWithinItsLimit) {
  clock::time_point now{};
  config cfg;
  node n(cfg, node_id{}, 1, now);
  fake_peer p{ep("10.1.0.1:7000"), node_id::from_raw(std::string(20, 'p'))};
  std::size_t answers = 0;
  for (int i = 0; i < 10000; ++i) answers += exchange(n, p.addr, p.query(krpc::method::find_node, p.id), now).size();
  EXPECT_GE(answers, 1u);
  EXPECT_LE(answers, static_cast<std::size_t>(cfg.sends_per_destination_per_second));
  EXPECT_GE(n.stats().rate_limited, 9990u);
  // The next second it answers again.
  now += 1s;
  EXPECT_EQ(exchange(n, p.addr, p.query(krpc::method::ping), now).size(), 1u);
}

TEST(DhtNode, QueriesFromManyAddressesStayUnderTheGlobalSendLimit) {
  clock::time_point now{};
  config cfg;
  node n(cfg, node_id{}, 1, now);
  std::size_t answers = 0;
  for (int i = 0; i < 5000; ++i) {
    fake_peer p{*endpoint::from_ip(std::array<std::uint8_t, 4>{10, 2, static_cast<std::uint8_t>(i >> 8),
                                                              static_cast<std::uint8_t>(i)},
                                   7000),
                node_id::from_raw(std::string(20, 'p'))};
    answers += exchange(n, p.addr, p.query(krpc::method::get_peers, p.id), now).size();
  }
  EXPECT_LE(answers, static_cast<std::size_t>(cfg.sends_per_second));
  EXPECT_GE(answers, static_cast<std::size_t>(cfg.sends_per_second) / 4);
}

TEST(DhtNode, MalformedAndOversizedPacketsGetNoAnswer) {
  clock::time_point now{};
  node n({}, node_id{}, 1, now);
  const endpoint from = ep("10.1.0.1:7000");
  std::mt19937_64 rng(5);
  std::size_t answers = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 3000, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    if (i % 3 == 0) junk = "d1:t2:aa1:y1:q1:q4:ping1:ad2:id3:abcee";  // a short id
    if (i % 7 == 0) junk = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:q" + std::string(5000, 'x') + "e";
    answers += exchange(n, from, junk, now).size();
  }
  EXPECT_EQ(answers, 0u);
  EXPECT_EQ(n.stats().malformed, 2000u);
  fake_peer p{from, node_id::from_raw(std::string(20, 'p'))};
  auto reply = exchange(n, from, p.query(krpc::method::ping), now);
  ASSERT_EQ(reply.size(), 1u);
  EXPECT_EQ(reply[0].type, krpc::kind::response);
  // Unknown methods get error 204.
  krpc::message put;
  put.transaction = "zz";
  put.id = p.id;
  put.name = krpc::method::unknown;
  auto text = krpc::encode(put);
  const auto q = text.find("1:q0:");
  ASSERT_NE(q, std::string::npos);
  text.replace(q, 5, "1:q3:put");
  reply = exchange(n, from, text, now + 1s);
  ASSERT_EQ(reply.size(), 1u);
  EXPECT_EQ(reply[0].error_code, krpc::kMethodUnknown);
}

TEST(DhtNode, AnswersFromAnotherAddressOrToNothingAreIgnored) {
  network net;
  auto& a = net.add("10.0.0.1:6881");
  a.add_contact(ep("10.0.0.2:6881"), net.now);
  auto sent = a.take_packets();
  ASSERT_EQ(sent.size(), 1u);
  auto q = krpc::decode(bytes(sent[0].bytes));
  ASSERT_TRUE(q);
  krpc::message r;
  r.type = krpc::kind::response;
  r.transaction = q->transaction;
  r.id = node_id::from_raw(std::string(20, 'b'));
  a.receive(ep("10.0.0.3:6881"), bytes(krpc::encode(r)), net.now);  // forged source
  EXPECT_EQ(a.table().size(), 0u);
  r.transaction = "zz";
  a.receive(ep("10.0.0.2:6881"), bytes(krpc::encode(r)), net.now);  // no such transaction
  EXPECT_EQ(a.table().size(), 0u);
  EXPECT_EQ(a.stats().unexpected, 2u);
  r.transaction = q->transaction;
  a.receive(ep("10.0.0.2:6881"), bytes(krpc::encode(r)), net.now);
  EXPECT_EQ(a.table().size(), 1u);
}

TEST(DhtNode, ReadOnlyNodesAskButNeitherAnswerNorGetAdded) {
  auto net = make_network(10);
  config ro;
  ro.read_only = true;
  auto& reader = net.add("10.8.0.1:6881", ro);
  reader.bootstrap({ep(addr_of(0))}, net.now);
  net.run(10s);
  EXPECT_GE(reader.table().size(), 5u);
  for (int i = 0; i < 10; ++i) {
    const auto nodes = net.at(addr_of(i)).table().nodes();
    EXPECT_TRUE(std::none_of(nodes.begin(), nodes.end(), [](const node_info& n) { return n.addr == ep("10.8.0.1:6881"); }));
  }
  fake_peer p{ep("10.1.0.1:7000"), node_id::from_raw(std::string(20, 'p'))};
  EXPECT_TRUE(exchange(reader, p.addr, p.query(krpc::method::ping), net.now).empty());
}

TEST(DhtNode, OurIdFollowsTheAddressOthersReport) {
  clock::time_point now{};
  node n({}, node_id::from_raw(std::string(20, 'x')), 1, now);
  const endpoint external = ep("203.0.113.9:6881");
  ASSERT_FALSE(id_matches(n.id(), external));
  // Reporters answer a ping (1-3) or a lookup's query (4-7), saying where
  // they see us: `address` (and a node of the same network, for lookups).
  const auto vote = [&](int i, const endpoint& address, bool lookup) {
    const endpoint reporter = ep("198.51.100." + std::to_string(i) + ":6881");
    if (lookup)
      n.bootstrap({reporter}, now);
    else
      n.add_contact(reporter, now);
    auto sent = n.take_packets();
    const auto to = std::find_if(sent.begin(), sent.end(), [&](const outgoing& o) { return o.to == reporter; });
    ASSERT_NE(to, sent.end());
    auto q = krpc::decode(bytes(to->bytes));
    krpc::message r;
    r.type = krpc::kind::response;
    r.transaction = q->transaction;
    r.id = node_id::from_raw(std::string(20, static_cast<char>('a' + i)));
    r.ip = address;
    if (lookup) r.nodes = {{node_id::from_raw(std::string(20, 'n')), ep("198.51.100.200:6881")}};
    n.receive(reporter, bytes(krpc::encode(r)), now);
    n.take_packets();
  };
  // Other families' reports do not count for an IPv4 node's id.
  for (int i = 1; i <= 4; ++i) {
    const endpoint reporter = ep("[2001:db8::" + std::to_string(i) + "]:6881");
    n.receive(reporter, bytes("d1:ip18:" + std::string(18, '\x20') + "1:rd2:id20:" + std::string(20, 'q') + "e1:t2:xx1:y1:re"),
              now);
  }
  for (int i = 1; i <= 3; ++i) vote(i, external, false);
  // The fourth agreeing report comes with a lookup's answer: the id moves
  // at the next tick, not under the lookup's feet.
  vote(4, external, true);
  EXPECT_FALSE(id_matches(n.id(), external));
  n.tick(now);
  EXPECT_TRUE(id_matches(n.id(), external));
  EXPECT_EQ(n.external_address(), external.with_port(0));
  EXPECT_EQ(n.stats().id_changes, 1u);
  // Another address, soon after: reported, but the id stays for now.
  const endpoint other = ep("203.0.113.77:6881");
  for (int i = 5; i <= 8; ++i) vote(i, other, i % 2 == 0);
  n.tick(now);
  EXPECT_EQ(n.external_address(), other.with_port(0));
  EXPECT_TRUE(id_matches(n.id(), external));
  EXPECT_EQ(n.stats().id_changes, 1u);
}

TEST(DhtNode, ALookupEndsThoughLiarsKeepNamingCloserNodes) {
  clock::time_point now{};
  node n({}, node_id::from_raw(std::string(20, 'x')), 1, now);
  n.bootstrap({ep("10.1.0.1:6881")}, now);
  // Every address answers (the liars hold them all), each time with eight
  // "nodes" closer to the lookup's target than any before, at new addresses.
  std::uint32_t next = 2;
  std::map<std::string, node_id> ids;
  std::size_t queries = 0;
  for (int round = 0; round < 5000 && n.active_lookups() > 0; ++round) {
    auto sent = n.take_packets();
    if (sent.empty()) {
      now += 1s;
      n.tick(now);
      continue;
    }
    for (const auto& p : sent) {
      auto q = krpc::decode(bytes(p.bytes));
      ASSERT_TRUE(q);
      ++queries;
      krpc::message r;
      r.type = krpc::kind::response;
      r.transaction = q->transaction;
      const auto known = ids.find(p.to.to_string());
      r.id = known != ids.end() ? known->second : node_id::from_raw(std::string(20, 'L'));
      for (int k = 0; k < 8; ++k, ++next) {
        // Ever smaller distances: the count of leading zero bits grows.
        node_id id = q->target;
        const std::uint32_t depth = std::min<std::uint32_t>(150, next / 8);
        id.bytes[depth / 8] ^= static_cast<std::uint8_t>(0x80 >> (depth % 8));
        id.bytes[19] ^= static_cast<std::uint8_t>(next & 0x7f);
        const auto addr = "10.2." + std::to_string(next / 250 % 250) + "." + std::to_string(next % 250 + 1) + ":6881";
        ids.emplace(addr, id);
        r.nodes.push_back({id, ep(addr)});
      }
      n.receive(p.to, bytes(krpc::encode(r)), now);
    }
  }
  EXPECT_EQ(n.active_lookups(), 0u);
  EXPECT_LE(queries, 130u) << "the lookup ends at its query cap";
}

TEST(DhtNode, PingsToStrangersAreFewAndLeaveRoomForLookups) {
  auto net = make_network(10);
  node& n = net.at(addr_of(0));
  // 200 queries from strangers whose ids fit (local addresses): a few are
  // pinged back, the rest only answered.
  for (int i = 0; i < 200; ++i) {
    krpc::message q;
    q.type = krpc::kind::query;
    q.name = krpc::method::ping;
    q.transaction = "pp";
    std::mt19937_64 rng(static_cast<std::uint64_t>(i));
    q.id = random_id(rng);
    n.receive(ep("10.9." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1) + ":6881"),
              bytes(krpc::encode(q)), net.now);
  }
  EXPECT_LE(n.in_flight(), 16u);
  n.take_packets();
  const node_id target = random_id(net.rng);
  ASSERT_TRUE(n.get_peers(target, std::nullopt, net.now));
  EXPECT_FALSE(n.take_packets().empty());  // the lookup's queries go out
}

TEST(DhtNode, ThePeerStoreIsBounded) {
  clock::time_point now{};
  config cfg;
  cfg.max_torrents = 50;
  cfg.max_peers_per_torrent = 10;
  cfg.answers_per_source_per_second = 1000;
  cfg.sends_per_destination_per_second = 1000;
  cfg.sends_per_second = 100000;
  node n(cfg, node_id{}, 1, now);
  const auto announce = [&](int i, const node_id& info_hash) {
    fake_peer p{*endpoint::from_ip(std::array<std::uint8_t, 4>{10, 3, static_cast<std::uint8_t>(i >> 8),
                                                              static_cast<std::uint8_t>(i)},
                                   7000),
                node_id::from_raw(std::string(20, 'p'))};
    auto reply = exchange(n, p.addr, p.query(krpc::method::get_peers, info_hash), now);
    ASSERT_EQ(reply.size(), 1u);
    reply = exchange(n, p.addr, p.query(krpc::method::announce_peer, info_hash, reply[0].token, 6881), now);
    ASSERT_EQ(reply.size(), 1u);
    EXPECT_EQ(reply[0].type, krpc::kind::response);
    now += 1ms;
  };
  // A flood of info-hashes: the oldest torrents make room.
  for (int i = 0; i < 3000; ++i) {
    node_id info_hash;
    info_hash.bytes[0] = static_cast<std::uint8_t>(i % 100);
    info_hash.bytes[1] = static_cast<std::uint8_t>(i / 100);
    announce(i, info_hash);
  }
  EXPECT_EQ(n.stored_torrents(), 50u);
  EXPECT_EQ(n.stored_peers(), 50u);
  // A flood of peers of one torrent: the oldest peers make room.
  const node_id busy = node_id::from_raw(std::string(20, 'b'));
  for (int i = 0; i < 300; ++i) announce(3000 + i, busy);
  EXPECT_EQ(n.stored_torrents(), 50u);
  fake_peer asker{ep("10.4.0.1:7000"), node_id::from_raw(std::string(20, 'q'))};
  auto reply = exchange(n, asker.addr, asker.query(krpc::method::get_peers, busy), now);
  ASSERT_EQ(reply.size(), 1u);
  EXPECT_EQ(reply[0].values.size(), cfg.max_peers_per_torrent);
}

}  // namespace
}  // namespace sta::dht
