#include "dht/node.hpp"

#include <xxhash.h>

#include <algorithm>

#include "base/sha1.hpp"
#include "dht/node_id.hpp"

namespace sta::dht {
namespace {

using namespace std::chrono_literals;

constexpr auto kSecretLifetime = 5min;
constexpr auto kExpiryInterval = 1min;
constexpr auto kBootstrapInterval = 1min;
// A table this small is not joined yet: bootstrap again.
constexpr std::size_t kJoinedSize = 8;
constexpr std::size_t kMaxCandidates = 64;
constexpr std::size_t kTokenSize = 8;
constexpr std::size_t kVotes = 16;
// Reporters that must agree on our address before the id follows it.
constexpr std::size_t kVotesToMove = 4;
// ...and a majority of the recent votes; the id moves at most this often.
constexpr auto kIdChangeInterval = 30min;
constexpr std::size_t kMaxWindows = 4096;
// A lookup that has sent this many queries ends (nodes that keep answering
// with ever closer made-up ids cannot keep it going).
constexpr std::size_t kMaxQueriesPerLookup = 128;
// Strangers pinged at once (their source may be forged).
constexpr std::size_t kMaxProbes = 16;

std::size_t index_of(krpc::method m) { return static_cast<std::size_t>(m); }

bool v4_mapped(std::span<const std::uint8_t> ip) {
  return ip.size() == 16 && ip[10] == 0xff && ip[11] == 0xff &&
         std::all_of(ip.begin(), ip.begin() + 10, [](std::uint8_t b) { return b == 0; });
}

// An IPv4 address, or the /64 of an IPv6 one (one host may own a whole /64).
host_key source_of(const endpoint& e) {
  auto k = host_of(e);
  if (!v4_mapped(k)) std::fill(k.begin() + 8, k.end(), 0);
  return k;
}

}  // namespace

std::size_t seeded_host_hash::operator()(const host_key& k) const noexcept {
  return static_cast<std::size_t>(XXH3_64bits_withSeed(k.data(), k.size(), seed));
}

// Counts one more in `who`'s current one-second window; false when that
// would pass `limit`. A full map forgets the windows that ended, at most
// once a second; until then new sources are refused.
bool node::within(rate_windows& w, const endpoint& who, int limit, clock::time_point now) {
  auto& map = w.map;
  if (map.size() >= kMaxWindows && now - w.swept >= 1s) {
    w.swept = now;
    std::erase_if(map, [&](const auto& kv) { return now - kv.second.start >= 1s; });
  }
  const auto key = source_of(who);
  auto it = map.find(key);
  if (it == map.end()) {
    if (map.size() >= kMaxWindows) return false;
    it = map.emplace(key, second_window{now, 0}).first;
  }
  auto& win = it->second;
  if (now - win.start >= 1s) win = {now, 0};
  if (win.count >= limit) return false;
  ++win.count;
  return true;
}

endpoint node::stored_peer::addr() const {
  const auto e = v4_mapped(host) ? endpoint::from_ip(std::span(host.data() + 12, 4), port) : endpoint::from_ip(host, port);
  return e ? *e : endpoint{};
}

node::node(const config& cfg, const node_id& id, std::uint64_t seed, clock::time_point now)
    : cfg_(cfg),
      rng_(seed),
      table_(id),
      secrets_rotated_(now),
      last_expiry_(now),
      answered_(rng_()),
      sent_to_(rng_()),
      send_tokens_(cfg.sends_per_second),
      send_tokens_at_(now) {
  for (auto& s : secrets_)
    for (auto& b : s) b = static_cast<std::uint8_t>(rng_());
}

std::size_t node::stored_peers() const {
  std::size_t n = 0;
  for (const auto& [hash, t] : store_) n += t.peers.size();
  return n;
}

bool node::usable(const endpoint& addr) const {
  if (addr.port() == 0 || addr.is_unspecified()) return false;
  // An IPv4-mapped address in nodes6 cannot be reached from an IPv6 socket.
  if (addr.family() == AF_INET6 && v4_mapped(addr.ip())) return false;
  return addr.family() == AF_INET6 ? cfg_.ipv6 : cfg_.ipv4;
}

// --- packets in -------------------------------------------------------------

void node::receive(const endpoint& from, std::span<const std::byte> packet, clock::time_point now) {
  stats_.bytes_in += packet.size();
  auto m = krpc::decode(packet);
  if (!m) {
    ++stats_.malformed;
    return;
  }
  if (m->type == krpc::kind::query)
    on_query(from, *m, now);
  else
    on_reply(from, *m, now);
}

void node::on_query(const endpoint& from, const krpc::message& q, clock::time_point now) {
  ++stats_.queries_in[index_of(q.name)];
  if (cfg_.read_only || q.id == id()) return;
  if (!within(answered_, from, cfg_.answers_per_source_per_second, now)) {
    ++stats_.rate_limited;
    return;
  }
  const node_info who{q.id, from};
  if (!q.read_only) {
    table_.queried_by(who, now);
    // A stranger whose id fits its address: ask it once, and the answer
    // puts it in the table (a query alone never does: its source may be forged).
    if (!table_.contains(who) && id_matches(q.id, from) && table_.has_room(q.id) && usable(from) &&
        probes_ < kMaxProbes &&
        std::none_of(in_flight_.begin(), in_flight_.end(), [&](const auto& kv) { return kv.second.to == from; })) {
      krpc::message ping;
      ping.name = krpc::method::ping;
      if (query(from, q.id, std::move(ping), purpose::probe, 0, now)) ++probes_;
    }
  }
  krpc::message r;
  r.type = krpc::kind::response;
  switch (q.name) {
    case krpc::method::ping:
      break;
    case krpc::method::find_node:
      r.nodes = nodes_for(q.target, q, from);
      break;
    case krpc::method::get_peers:
      r.token = token_for(from, 0);
      r.values = some_peers(q.target);
      r.nodes = nodes_for(q.target, q, from);
      break;
    case krpc::method::announce_peer:
      if (!token_ok(from, q.token)) {
        r.type = krpc::kind::error;
        r.error_code = krpc::kProtocolError;
        r.error_message = "bad token";
        break;
      }
      store_peer(q.target, q.implied_port ? from : from.with_port(q.port), now);
      break;
    case krpc::method::unknown:
      r.type = krpc::kind::error;
      r.error_code = krpc::kMethodUnknown;
      r.error_message = "method unknown";
      break;
  }
  answer(from, std::move(r), q, now);
}

void node::answer(const endpoint& to, krpc::message r, const krpc::message& q, clock::time_point now) {
  if (!may_send(to, now, true)) return;
  r.transaction = q.transaction;
  r.id = id();
  r.ip = to;
  if (r.type == krpc::kind::error)
    ++stats_.errors_out;
  else
    ++stats_.responses_out;
  send(to, r);
}

void node::on_reply(const endpoint& from, const krpc::message& r, clock::time_point now) {
  if (r.transaction.size() != 2) {
    ++stats_.unexpected;
    return;
  }
  const auto t = static_cast<std::uint16_t>(static_cast<std::uint8_t>(r.transaction[0]) << 8 |
                                            static_cast<std::uint8_t>(r.transaction[1]));
  auto it = in_flight_.find(t);
  if (it == in_flight_.end() || !(it->second.to == from)) {
    ++stats_.unexpected;
    return;
  }
  const transaction tx = it->second;
  in_flight_.erase(it);
  if (tx.why == purpose::probe) --probes_;
  lookup* l = tx.why == purpose::lookup ? find_lookup(tx.lookup) : nullptr;
  candidate* c = nullptr;
  if (l) {
    --l->asked;
    for (auto& cand : l->candidates)
      if (cand.addr == from && cand.st == candidate::state::asked) c = &cand;
  }

  if (r.type == krpc::kind::error) {
    ++stats_.errors_in;
    if (c) c->st = candidate::state::failed;
    if (l) pump(*l, now);
    return;
  }
  ++stats_.responses_in;
  // A node that changed its id between our query and its answer is not the
  // one we asked.
  if (tx.id && *tx.id != r.id) {
    if (c) c->st = candidate::state::failed;
    if (l) pump(*l, now);
    return;
  }
  // A change of id this brings waits for tick(): the lookups and
  // candidates below must stay where they are.
  if (r.ip) vote_external(from, *r.ip, now);
  const node_info who{r.id, from};
  if (id_matches(r.id, from)) {
    auto heard = table_.heard_from(who, now);
    const auto& p = heard.ping;
    if (p && std::none_of(in_flight_.begin(), in_flight_.end(), [&](const auto& kv) { return kv.second.to == p->addr; })) {
      krpc::message ping;
      ping.name = krpc::method::ping;
      query(heard.ping->addr, heard.ping->id, std::move(ping), purpose::ping, 0, now);
    }
  }
  if (!l) return;
  if (c) {
    const bool had_id = c->id.has_value();
    c->st = candidate::state::answered;
    c->id = r.id;
    c->token = r.token;
    // A contact whose id we learn only now moves to its place by distance.
    if (!had_id) std::stable_sort(l->candidates.begin(), l->candidates.end(), [&](const candidate& a, const candidate& b) {
      if (!a.id || !b.id) return !a.id && b.id;
      return closer(l->target, *a.id, *b.id);
    });
  }
  if (l->name == krpc::method::get_peers && !r.values.empty()) {
    found f{l->target, {}};
    for (const auto& v : r.values) {
      if (l->peers.size() >= cfg_.max_peers_per_torrent) break;
      if (std::find(l->peers.begin(), l->peers.end(), v) != l->peers.end()) continue;
      l->peers.push_back(v);
      f.peers.push_back(v);
    }
    if (!f.peers.empty()) {
      stats_.peers_found += f.peers.size();
      found_.push_back(std::move(f));
    }
  }
  for (const auto& n : r.nodes) add_candidate(*l, n);
  pump(*l, now);
}

// --- packets out ------------------------------------------------------------

bool node::may_send(const endpoint& to, clock::time_point now, bool answer) {
  const double elapsed = std::chrono::duration<double>(now - send_tokens_at_).count();
  send_tokens_ = std::min<double>(cfg_.sends_per_second, send_tokens_ + elapsed * cfg_.sends_per_second);
  send_tokens_at_ = now;
  const double reserve = answer ? cfg_.sends_per_second / 4.0 : 0;
  if (send_tokens_ < 1 + reserve || !within(sent_to_, to, cfg_.sends_per_destination_per_second, now)) {
    ++stats_.send_throttled;
    return false;
  }
  send_tokens_ -= 1;
  return true;
}

void node::send(const endpoint& to, const krpc::message& m) {
  auto bytes = krpc::encode(m);
  stats_.bytes_out += bytes.size();
  out_.push_back({to, std::move(bytes)});
}

bool node::query(const endpoint& to, std::optional<node_id> id, krpc::message q, purpose why, std::uint64_t lookup,
                 clock::time_point now) {
  if (in_flight_.size() >= cfg_.max_in_flight || !usable(to) || !may_send(to, now)) return false;
  // Random, so that a forged answer has to guess it.
  auto t = static_cast<std::uint16_t>(rng_());
  while (in_flight_.contains(t)) t = static_cast<std::uint16_t>(rng_());
  q.type = krpc::kind::query;
  q.transaction = {static_cast<char>(t >> 8), static_cast<char>(t & 0xff)};
  q.id = this->id();
  q.read_only = cfg_.read_only;
  if (cfg_.ipv4 && cfg_.ipv6 && (q.name == krpc::method::find_node || q.name == krpc::method::get_peers))
    q.want = krpc::kWant4 | krpc::kWant6;
  ++stats_.queries_out[index_of(q.name)];
  in_flight_[t] = {to, id, q.name, why, lookup, now};
  send(to, q);
  return true;
}

// --- lookups ----------------------------------------------------------------

node::lookup* node::find_lookup(std::uint64_t number) {
  for (auto& l : lookups_)
    if (l.number == number) return &l;
  return nullptr;
}

void node::add_candidate(lookup& l, const node_info& n) {
  if (n.id == id() || !usable(n.addr)) return;
  // One candidate per IP address: one host cannot fill a lookup.
  for (auto& c : l.candidates) {
    if (c.addr.same_host(n.addr)) {
      if (c.addr == n.addr && !c.id && c.st == candidate::state::fresh) c.id = n.id;
      return;
    }
  }
  const auto before = [&](const candidate& c) {
    // Contacts without an id go first; the rest by distance to the target.
    return !c.id || closer(l.target, *c.id, n.id);
  };
  auto at = std::find_if_not(l.candidates.begin(), l.candidates.end(), before);
  if (at - l.candidates.begin() >= static_cast<std::ptrdiff_t>(kMaxCandidates)) return;
  l.candidates.insert(at, candidate{n.id, n.addr, candidate::state::fresh, {}});
  if (l.candidates.size() > kMaxCandidates) {
    // Drop the farthest one that is not in flight.
    for (auto it = l.candidates.end(); it != l.candidates.begin();) {
      --it;
      if (it->st != candidate::state::asked) {
        l.candidates.erase(it);
        break;
      }
    }
  }
}

std::uint64_t node::start_lookup(const node_id& target, krpc::method name, std::optional<std::uint16_t> announce_port,
                                 const std::vector<endpoint>& seeds, clock::time_point now) {
  lookup l;
  l.number = next_lookup_++;
  l.target = target;
  l.name = name;
  l.announce_port = announce_port;
  for (const auto& s : seeds) {
    if (l.candidates.size() >= kMaxCandidates) break;
    if (!usable(s)) continue;
    if (std::none_of(l.candidates.begin(), l.candidates.end(), [&](const candidate& c) { return c.addr == s; }))
      l.candidates.insert(l.candidates.begin(), candidate{std::nullopt, s, candidate::state::fresh, {}});
  }
  for (const auto& n : table_.closest(target, kMaxCandidates / 2)) add_candidate(l, n);
  lookups_.push_back(std::move(l));
  const auto number = lookups_.back().number;
  pump(lookups_.back(), now);
  return number;
}

void node::pump(lookup& l, clock::time_point now) {
  // The closest kBucketSize candidates that have not failed decide the end.
  std::size_t considered = 0;
  bool pending = false;
  for (auto& c : l.candidates) {
    if (considered == kBucketSize) break;
    if (c.st == candidate::state::failed) continue;
    ++considered;
    if (c.st == candidate::state::answered) continue;
    if (c.st == candidate::state::fresh && l.queried >= kMaxQueriesPerLookup) continue;
    pending = true;
    if (c.st == candidate::state::asked || l.asked >= cfg_.lookup_width) continue;
    krpc::message q;
    q.name = l.name;
    q.target = l.target;
    if (query(c.addr, c.id, std::move(q), purpose::lookup, l.number, now)) {
      c.st = candidate::state::asked;
      ++l.asked;
      ++l.queried;
    } else if (!usable(c.addr)) {
      c.st = candidate::state::failed;
    }
  }
  if (!pending && l.asked == 0) finish(l, now);
}

void node::finish(lookup& l, clock::time_point now) {
  finished done{l.number, l.target, 0, 0};
  std::size_t announce_to = kBucketSize;
  for (const auto& c : l.candidates) {
    if (c.st != candidate::state::answered) continue;
    ++done.responded;
    if (!l.announce_port || c.token.empty() || announce_to == 0) continue;
    krpc::message a;
    a.name = krpc::method::announce_peer;
    a.target = l.target;
    a.port = *l.announce_port;
    a.implied_port = *l.announce_port == 0;
    a.token = c.token;
    if (query(c.addr, c.id, std::move(a), purpose::announce, 0, now)) {
      ++done.announced;
      --announce_to;
    }
  }
  finished_.push_back(done);
  const auto number = l.number;
  std::erase_if(lookups_, [&](const lookup& x) { return x.number == number; });
}

void node::bootstrap(std::vector<endpoint> contacts, clock::time_point now) {
  bootstrap_contacts_ = std::move(contacts);
  last_bootstrap_ = now;
  if (lookups_.size() < cfg_.max_lookups)
    start_lookup(id(), krpc::method::find_node, std::nullopt, bootstrap_contacts_, now);
}

void node::add_contact(const endpoint& addr, clock::time_point now) {
  if (!usable(addr) || table_.size() >= kBucketSize * 160) return;
  krpc::message ping;
  ping.name = krpc::method::ping;
  query(addr, std::nullopt, std::move(ping), purpose::ping, 0, now);
}

std::optional<std::uint64_t> node::get_peers(const node_id& info_hash, std::optional<std::uint16_t> announce_port,
                                             clock::time_point now) {
  if (lookups_.size() >= cfg_.max_lookups) return std::nullopt;
  // With an empty table, the bootstrap contacts are all there is to ask.
  std::vector<endpoint> seeds;
  if (table_.size() < kJoinedSize) seeds = bootstrap_contacts_;
  return start_lookup(info_hash, krpc::method::get_peers, announce_port, seeds, now);
}

// --- timers -----------------------------------------------------------------

void node::tick(clock::time_point now) {
  if (move_to_) change_id(*std::exchange(move_to_, std::nullopt), now);
  // Unanswered queries.
  std::vector<transaction> expired;
  std::erase_if(in_flight_, [&](const auto& kv) {
    if (now - kv.second.sent < cfg_.query_timeout) return false;
    expired.push_back(kv.second);
    return true;
  });
  for (const auto& tx : expired) {
    ++stats_.timeouts;
    if (tx.why == purpose::probe) --probes_;
    if (tx.id) table_.failed({*tx.id, tx.to});
    if (tx.why != purpose::lookup) continue;
    if (auto* l = find_lookup(tx.lookup)) {
      --l->asked;
      for (auto& c : l->candidates)
        if (c.addr == tx.to && c.st == candidate::state::asked) c.st = candidate::state::failed;
    }
  }
  // Lookups go on (some may have waited for the send limits).
  std::vector<std::uint64_t> numbers;
  for (const auto& l : lookups_) numbers.push_back(l.number);
  for (auto n : numbers)
    if (auto* l = find_lookup(n)) pump(*l, now);

  if (now - secrets_rotated_ >= kSecretLifetime) {
    secrets_[1] = secrets_[0];
    for (auto& b : secrets_[0]) b = static_cast<std::uint8_t>(rng_());
    secrets_rotated_ = now;
  }
  if (now - last_expiry_ >= kExpiryInterval) {
    last_expiry_ = now;
    for (auto it = store_.begin(); it != store_.end();) {
      std::erase_if(it->second.peers, [&](const stored_peer& p) { return now - p.seen >= cfg_.peer_lifetime; });
      it = it->second.peers.empty() ? store_.erase(it) : std::next(it);
    }
  }
  if (table_.size() < kJoinedSize && !bootstrap_contacts_.empty() && now - last_bootstrap_ >= kBootstrapInterval) {
    bootstrap(bootstrap_contacts_, now);
  } else if (table_.size() > 0) {
    for (const auto& target : table_.refresh_targets(now, rng_)) {
      if (lookups_.size() >= cfg_.max_lookups) break;
      start_lookup(target, krpc::method::find_node, std::nullopt, {}, now);
    }
  }
}

// --- what the node answers with ---------------------------------------------

std::string node::token_for(const endpoint& who, std::size_t secret) const {
  sha1_hasher h;
  h.update(std::as_bytes(std::span(secrets_[secret])));
  h.update(std::as_bytes(who.ip()));
  return std::string(h.finish().raw().substr(0, kTokenSize));
}

bool node::token_ok(const endpoint& who, std::string_view token) const {
  return token.size() == kTokenSize && (token == token_for(who, 0) || token == token_for(who, 1));
}

void node::store_peer(const node_id& info_hash, const endpoint& peer, clock::time_point now) {
  auto it = store_.find(info_hash);
  if (it == store_.end()) {
    if (store_.size() >= cfg_.max_torrents) {
      // Full: the torrent nobody announced for the longest goes.
      auto oldest = std::min_element(store_.begin(), store_.end(),
                                     [](const auto& a, const auto& b) { return a.second.updated < b.second.updated; });
      store_.erase(oldest);
    }
    it = store_.emplace(info_hash, torrent_peers{}).first;
  }
  auto& t = it->second;
  t.updated = now;
  const stored_peer entry{host_of(peer), peer.port(), now};
  for (auto& p : t.peers) {
    if (p.host == entry.host) {  // one per address: the last port it announced
      p = entry;
      return;
    }
  }
  if (t.peers.size() >= cfg_.max_peers_per_torrent) {
    auto oldest = std::min_element(t.peers.begin(), t.peers.end(),
                                   [](const stored_peer& a, const stored_peer& b) { return a.seen < b.seen; });
    *oldest = entry;
    return;
  }
  t.peers.push_back(entry);
}

std::vector<endpoint> node::some_peers(const node_id& info_hash) {
  std::vector<endpoint> out;
  auto it = store_.find(info_hash);
  if (it == store_.end()) return out;
  const auto& peers = it->second.peers;
  std::vector<std::size_t> order(peers.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng_);
  for (std::size_t i = 0; i < order.size() && out.size() < cfg_.max_values_per_answer; ++i)
    out.push_back(peers[order[i]].addr());
  return out;
}

std::vector<node_info> node::nodes_for(const node_id& target, const krpc::message& q, const endpoint& from) const {
  const std::uint8_t want = q.want != 0 ? q.want : (from.family() == AF_INET6 ? krpc::kWant6 : krpc::kWant4);
  std::vector<node_info> out;
  if (want & krpc::kWant4) out = table_.closest(target, kBucketSize, AF_INET);
  if (want & krpc::kWant6) {
    auto six = table_.closest(target, kBucketSize, AF_INET6);
    out.insert(out.end(), six.begin(), six.end());
  }
  return out;
}

// --- our id (BEP 42) --------------------------------------------------------

// Our id follows one family's address (one id cannot fit an IPv4 and an
// IPv6 address both): IPv4 when the node has it. It moves when at least
// kVotesToMove reporters, and most of the recent ones, agree, at most once
// per kIdChangeInterval.
void node::vote_external(const endpoint& reporter, const endpoint& address, clock::time_point now) {
  if (address.family() != (cfg_.ipv4 ? AF_INET : AF_INET6) || reporter.family() != address.family()) return;
  const auto who = host_of(reporter);
  std::erase_if(votes_, [&](const auto& v) { return v.first == who; });
  votes_.emplace_back(who, address.with_port(0));
  if (votes_.size() > kVotes) votes_.pop_front();
  std::size_t agree = 0;
  for (const auto& v : votes_) agree += v.second.same_host(address);
  if (agree < kVotesToMove || 2 * agree <= votes_.size()) return;
  external_ = address.with_port(0);
  if (id_matches(id(), address) || (id_changed_ && now - *id_changed_ < kIdChangeInterval)) return;
  move_to_ = external_;
  id_changed_ = now;
  votes_.clear();
}

void node::change_id(const endpoint& external, clock::time_point now) {
  ++stats_.id_changes;
  const auto old_nodes = table_.nodes();
  table_ = routing_table(secure_id(external, static_cast<std::uint8_t>(rng_()), rng_));
  // The old table's nodes are still there: join again through them (or
  // the next bootstrap does, when lookups are at their limit).
  std::vector<endpoint> contacts = bootstrap_contacts_;
  for (const auto& n : old_nodes) contacts.push_back(n.addr);
  last_bootstrap_ = now;
  if (lookups_.size() < cfg_.max_lookups) start_lookup(id(), krpc::method::find_node, std::nullopt, contacts, now);
}

}  // namespace sta::dht
