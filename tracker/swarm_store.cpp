#include "tracker/swarm_store.hpp"

#include <xxhash.h>

#include <algorithm>

namespace sta::tracker {

swarm_store::swarm_store(store_limits limits, clock::duration peer_ttl)
    : limits_(limits),
      ttl_(peer_ttl),
      tick_(std::max<std::uint32_t>(1, (ttl_seconds() + 119) / 120)),
      ttl_ticks_(ttl_seconds() / tick_),
      seed_(std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32)) {}

namespace {

std::uint32_t seconds_of(clock::time_point t) {
  return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

std::array<char, 20> id_of(const std::string& peer_id) {
  std::array<char, 20> id{};
  std::memcpy(id.data(), peer_id.data(), std::min(peer_id.size(), id.size()));
  return id;
}

// Peer ids share their first 8 bytes (the client's tag): hash all 20.
std::size_t home_of(const std::array<char, 20>& id, std::size_t mask) {
  return static_cast<std::size_t>(XXH3_64bits(id.data(), id.size())) & mask;
}

}  // namespace

std::size_t swarm_store::swarm::find_slot(const std::array<char, 20>& id) const {
  if (slots.empty()) return 0;
  const std::size_t mask = slots.size() - 1;
  for (std::size_t i = home_of(id, mask);; i = (i + 1) & mask) {
    if (slots[i] == 0) return slots.size();
    if (peers[slots[i] - 1].id == id) return i;
  }
}

void swarm_store::swarm::rehash(std::size_t capacity) {
  slots.assign(capacity, 0);
  const std::size_t mask = capacity - 1;
  for (std::uint32_t k = 0; k < peers.size(); ++k) {
    std::size_t i = home_of(peers[k].id, mask);
    while (slots[i] != 0) i = (i + 1) & mask;
    slots[i] = k + 1;
  }
}

void swarm_store::swarm::insert(peer p) {
  if ((peers.size() + 1) * 2 > slots.size()) rehash(std::max<std::size_t>(8, slots.size() * 2));
  peers.push_back(p);
  const std::size_t mask = slots.size() - 1;
  std::size_t i = home_of(p.id, mask);
  while (slots[i] != 0) i = (i + 1) & mask;
  slots[i] = static_cast<std::uint32_t>(peers.size());
  if (p.seed) ++seeders;
}

void swarm_store::swarm::remove(std::uint32_t index) {
  const std::size_t mask = slots.size() - 1;
  // Backward-shift deletion keeps every probe chain unbroken.
  std::size_t hole = find_slot(peers[index].id);
  for (std::size_t j = (hole + 1) & mask; slots[j] != 0; j = (j + 1) & mask) {
    const std::size_t home = home_of(peers[slots[j] - 1].id, mask);
    // Move j into the hole unless its home lies cyclically in (hole, j].
    const bool home_between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!home_between) {
      slots[hole] = slots[j];
      hole = j;
    }
  }
  slots[hole] = 0;
  if (peers[index].seed) --seeders;
  const auto last = static_cast<std::uint32_t>(peers.size() - 1);
  if (index != last) {
    peers[index] = peers[last];
    slots[find_slot(peers[index].id)] = index + 1;
  }
  peers.pop_back();
}

std::uint32_t swarm_store::ttl_seconds() const {
  return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(ttl_).count());
}

// The source of an announce for the per-source limits: an IPv4 address or
// an IPv6 /64 (one host may hold a whole /64), hashed with the info-hash
// (for the limit in one swarm) or alone, under the store's random seed.
std::uint64_t swarm_store::source_key(const sha1_digest& h, const peer_address& from) const {
  std::array<std::uint8_t, 29> buf{};
  std::memcpy(buf.data(), h.bytes.data(), 20);
  std::memcpy(buf.data() + 20, from.addr.data(), from.v6 ? 8 : 4);
  buf[28] = from.v6 ? 6 : 4;
  return XXH3_64bits_withSeed(buf.data(), buf.size(), seed_);
}

std::uint32_t swarm_store::key_hash(const std::string& key) const {
  if (key.empty()) return 0;
  const auto h = static_cast<std::uint32_t>(XXH3_64bits_withSeed(key.data(), key.size(), seed_ ^ 0x6b6579));
  return h == 0 ? 1 : h;
}

bool swarm_store::new_swarm_allowed(const peer_address& from, std::uint32_t now) {
  if (limits_.max_new_swarms_per_source == 0) return true;
  const std::uint64_t source = source_key(sha1_digest{}, from);
  std::lock_guard lock(new_swarms_mutex_);
  if (now / 60 != new_swarms_minute_) {
    new_swarms_minute_ = now / 60;
    new_swarms_.clear();
  }
  auto it = new_swarms_.find(source);
  if (it != new_swarms_.end() && it->second >= limits_.max_new_swarms_per_source) return false;
  if (it == new_swarms_.end()) new_swarms_.emplace(source, 1);
  else ++it->second;
  return true;
}

void swarm_store::add_peer(shard& sh, const sha1_digest& h, swarm& s, const peer& p) {
  s.insert(p);
  ++(p.seed ? sh.seeders : sh.leechers);
  if (limits_.max_peers_per_source != 0) ++sh.per_source[source_key(h, {p.addr, p.v6 != 0})];
}

void swarm_store::drop_peer(shard& sh, const sha1_digest& h, swarm& s, std::uint32_t index) {
  const peer& p = s.peers[index];
  --(p.seed ? sh.seeders : sh.leechers);
  if (limits_.max_peers_per_source != 0) {
    if (auto it = sh.per_source.find(source_key(h, {p.addr, p.v6 != 0})); it != sh.per_source.end() && --it->second == 0)
      sh.per_source.erase(it);
  }
  s.remove(index);
}

void swarm_store::sweep(shard& sh, const sha1_digest& h, swarm& s, std::uint32_t now) {
  s.last_sweep = now;
  for (std::uint32_t i = 0; i < s.peers.size();) {
    if (expired(s.peers[i], now)) drop_peer(sh, h, s, i);
    else ++i;
  }
}

// Drops one swarm of this shard that is empty or whose peers all missed
// their announce, looking at a bounded number from where the last search
// stopped. The caller holds sh.mutex.
bool swarm_store::evict_from(shard& sh, std::uint32_t now) {
  constexpr std::size_t kLook = 32;
  const std::uint32_t stale = ttl_seconds() / 2;
  const std::size_t buckets = sh.swarms.bucket_count();
  std::size_t looked = 0;
  std::size_t k = 0;
  for (; k < buckets && k < 8 * kLook && looked < kLook; ++k) {
    const std::size_t b = (sh.evict_bucket + k) % buckets;
    for (auto it = sh.swarms.begin(b); it != sh.swarms.end(b); ++it) {
      ++looked;
      swarm& s = it->second;
      if (!s.peers.empty() && age(now, s.last_activity) <= stale) continue;
      const sha1_digest h = it->first;
      while (!s.peers.empty()) drop_peer(sh, h, s, static_cast<std::uint32_t>(s.peers.size() - 1));
      sh.swarms.erase(h);
      sh.evict_bucket = (b + 1) % buckets;
      swarm_count_.fetch_sub(1, std::memory_order_relaxed);
      evicted_.fetch_add(1, std::memory_order_relaxed);
      visited_.fetch_add(looked, std::memory_order_relaxed);
      return true;
    }
  }
  if (buckets != 0) sh.evict_bucket = (sh.evict_bucket + k) % buckets;
  visited_.fetch_add(looked, std::memory_order_relaxed);
  return false;
}

// Room for one more swarm at the cap: from this shard, else from any other
// that is not busy (try_lock: two shards never wait on each other). When
// nothing can go, new swarms are refused for a second without searching.
bool swarm_store::make_room(shard& sh, std::uint32_t now) {
  if (now < full_until_.load(std::memory_order_relaxed)) return false;
  if (evict_from(sh, now)) return true;
  const auto mine = static_cast<std::size_t>(&sh - shards_.data());
  for (std::size_t k = 1; k < kShards; ++k) {
    shard& other = shards_[(mine + k) % kShards];
    std::unique_lock lock(other.mutex, std::try_to_lock);
    if (lock && evict_from(other, now)) return true;
  }
  full_until_.store(now + 1, std::memory_order_relaxed);
  return false;
}

result<announce::response, std::string> swarm_store::announce(const announce::request& req,
                                                              const peer_address& from, clock::time_point when,
                                                              bool with_ids, compact_peers* compact) {
  const std::uint32_t now = seconds_of(when);
  shard& sh = shard_for(req.info_hash);
  std::lock_guard lock(sh.mutex);
  auto it = sh.swarms.find(req.info_hash);
  if (it == sh.swarms.end()) {
    announce::response empty;
    if (req.ev == announce::event::stopped) return empty;
    if (!new_swarm_allowed(from, now)) {
      return {boost::system::in_place_error, "too many new torrents from your address; try again in a minute"};
    }
    if (swarm_count_.load(std::memory_order_relaxed) >= limits_.max_swarms && !make_room(sh, now)) {
      return {boost::system::in_place_error, "tracker is full (too many torrents)"};
    }
    it = sh.swarms.emplace(req.info_hash, swarm{}).first;
    swarm_count_.fetch_add(1, std::memory_order_relaxed);
    it->second.last_sweep = now;
    it->second.last_activity = now;
  }
  const sha1_digest& h = it->first;
  swarm& s = it->second;
  // Expired peers are dropped as their swarm is touched, at most every
  // quarter TTL; expire() sweeps swarms nobody touches.
  if (age(now, s.last_sweep) > ttl_seconds() / 4) sweep(sh, h, s, now);

  const bool seed = req.left == 0;
  const auto id = id_of(req.peer_id);
  const std::uint32_t key = key_hash(req.key);
  bool recorded = true;
  bool changed = false;  // a peer added, changed or removed
  // The announcer's place in s.peers, if it has one now: the answer
  // leaves it out by index (no id compared per candidate).
  std::size_t self = s.peers.size();
  std::size_t slot = s.find_slot(id);
  if (slot < s.slots.size()) {
    const std::uint32_t index = s.slots[slot] - 1;
    const peer& p = s.peers[index];
    const bool same_address = p.addr == from.addr && p.v6 == from.v6;
    if (!same_address && (p.key == 0 || p.key != key)) {
      // Someone else's peer id: the peer stays as it is.
      recorded = false;
      ignored_.fetch_add(1, std::memory_order_relaxed);
    } else if (req.ev == announce::event::stopped || !same_address) {
      // Gone, or moved (its key says so): the move is a new entry, under
      // the limits of its new address.
      drop_peer(sh, h, s, index);
      slot = s.slots.size();
      changed = true;
    } else {
      self = index;
      changed = true;
      peer& q = s.peers[index];
      if (q.seed != seed) {
        s.seeders += seed ? 1 : -1;
        ++(seed ? sh.seeders : sh.leechers);
        --(seed ? sh.leechers : sh.seeders);
      }
      q.port = req.port;
      q.seed = seed;
      q.last_seen = tick_of(now);
      if (key != 0 && q.key == 0) q.key = key;
    }
  }
  if (recorded && slot == s.slots.size() && req.ev != announce::event::stopped) {
    if (s.peers.size() >= limits_.max_peers_per_swarm) return {boost::system::in_place_error, "swarm is full"};
    if (limits_.max_peers_per_source != 0) {
      const auto n = sh.per_source.find(source_key(h, from));
      if (n != sh.per_source.end() && n->second >= limits_.max_peers_per_source)
        return {boost::system::in_place_error, "too many peers from your address in this torrent"};
    }
    add_peer(sh, h, s, {from.addr, id, key, req.port, tick_of(now), from.v6, seed});
    self = s.peers.size() - 1;
    changed = true;
  }
  if (changed) {
    s.last_activity = std::max(s.last_activity, now);
    if (req.ev == announce::event::completed) {
      ++s.completed;
      ++sh.completed;
    }
  }

  announce::response r;
  r.complete = s.seeders;
  r.incomplete = static_cast<std::int64_t>(s.peers.size()) - s.seeders;
  if (req.ev == announce::event::stopped || req.numwant == 0) return r;

  // Candidates: everyone but the announcer (by place, or by id when it is
  // not recorded), and no seeds for a seed.
  const bool self_known = self < s.peers.size();
  auto eligible = [&](const peer& p) {
    if (seed && p.seed) return false;
    if (compact && p.v6 != compact->v6) return false;  // the reply's one form
    return self_known ? &p != &s.peers[self] : p.id != id;
  };
  const std::size_t want = static_cast<std::size_t>(req.numwant);
  if (!compact) r.peers.reserve(std::min(want, s.peers.size()));
  std::size_t added = 0;
  auto add = [&](const peer& p) {
    if (compact) {
      const std::size_t len = p.v6 ? 16 : 4;
      if (compact->used + len + 2 > compact->buf.size()) return;
      auto* at = compact->buf.data() + compact->used;
      std::memcpy(at, p.addr.data(), len);
      at[len] = static_cast<std::byte>(p.port >> 8);
      at[len + 1] = static_cast<std::byte>(p.port & 0xff);
      compact->used += len + 2;
      ++added;
      return;
    }
    ++added;
    announce::peer out;
    out.addr = p.addr;
    out.v6 = p.v6;
    out.port = p.port;
    if (with_ids) out.peer_id.assign(p.id.data(), p.id.size());
    r.peers.push_back(std::move(out));
  };
  if (s.peers.size() <= want * 2) {
    std::vector<const peer*> all;
    for (const auto& p : s.peers) {
      if (eligible(p)) all.push_back(&p);
    }
    std::shuffle(all.begin(), all.end(), sh.rng);
    for (std::size_t i = 0; i < all.size() && added < want; ++i) add(*all[i]);
  } else {
    // Much larger swarm: the peers after a random start. Every peer is as
    // likely to be chosen as any other, at O(numwant) cost instead of a
    // shuffle of the whole swarm.
    const std::size_t n = s.peers.size();
    const std::size_t start = std::uniform_int_distribution<std::size_t>(0, n - 1)(sh.rng);
    for (std::size_t k = 0; k < n && added < want; ++k) {
      const peer& p = s.peers[(start + k) % n];
      if (eligible(p)) add(p);
    }
  }
  return r;
}

std::vector<announce::scrape_entry> swarm_store::scrape(const std::vector<sha1_digest>& hashes) const {
  std::vector<announce::scrape_entry> out;
  for (const auto& h : hashes) {
    const shard& sh = shard_for(h);
    std::lock_guard lock(sh.mutex);
    announce::scrape_entry e{h, 0, 0, 0};
    if (auto it = sh.swarms.find(h); it != sh.swarms.end()) {
      e.complete = it->second.seeders;
      e.incomplete = static_cast<std::int64_t>(it->second.peers.size()) - it->second.seeders;
      e.downloaded = it->second.completed;
    }
    out.push_back(e);
  }
  return out;
}

std::vector<announce::scrape_entry> swarm_store::scrape_all() const {
  std::vector<announce::scrape_entry> out;
  for (const auto& sh : shards_) {
    std::lock_guard lock(sh.mutex);
    for (const auto& [h, s] : sh.swarms) {
      out.push_back({h, s.seeders, s.completed, static_cast<std::int64_t>(s.peers.size()) - s.seeders});
    }
  }
  return out;
}

namespace {

bool larger(const swarm_summary& a, const swarm_summary& b) {
  return a.seeders + a.leechers > b.seeders + b.leechers;
}

void keep_largest(std::vector<swarm_summary>& v, std::size_t n) {
  if (v.size() > n) {
    std::partial_sort(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n), v.end(), larger);
    v.resize(n);
  } else {
    std::sort(v.begin(), v.end(), larger);
  }
}

}  // namespace

void swarm_store::expire_shard(std::size_t i, std::uint32_t now) {
  shard& sh = shards_[i];
  const auto ttl = ttl_seconds();
  std::vector<swarm_summary> largest;
  largest.reserve(4 * kTop);
  {
    std::lock_guard lock(sh.mutex);
    visited_.fetch_add(sh.swarms.size(), std::memory_order_relaxed);
    for (auto it = sh.swarms.begin(); it != sh.swarms.end();) {
      swarm& s = it->second;
      sweep(sh, it->first, s, now);
      // Keep an empty swarm while its completed count is fresh.
      if (s.peers.empty() && age(now, s.last_activity) > ttl) {
        it = sh.swarms.erase(it);
        swarm_count_.fetch_sub(1, std::memory_order_relaxed);
        continue;
      }
      if (!s.peers.empty()) {
        largest.push_back({it->first, s.seeders, static_cast<std::int64_t>(s.peers.size()) - s.seeders, s.completed,
                           clock::time_point(std::chrono::seconds(s.last_activity))});
        if (largest.size() >= 4 * kTop) keep_largest(largest, kTop);
      }
      ++it;
    }
  }
  keep_largest(largest, kTop);
  largest.shrink_to_fit();
  std::lock_guard lock(top_mutex_);
  shard_top_[i] = std::move(largest);
  // The kTop largest of all shards' lists, through a heap of kTop: top_
  // never holds more.
  const auto smaller = [](const swarm_summary& a, const swarm_summary& b) { return larger(b, a); };
  top_.clear();
  for (const auto& list : shard_top_) {
    for (const auto& t : list) {
      if (top_.size() < kTop) {
        top_.push_back(t);
        std::push_heap(top_.begin(), top_.end(), larger);
      } else if (smaller(top_.front(), t)) {
        std::pop_heap(top_.begin(), top_.end(), larger);
        top_.back() = t;
        std::push_heap(top_.begin(), top_.end(), larger);
      }
    }
  }
  std::sort_heap(top_.begin(), top_.end(), larger);
}

void swarm_store::expire(clock::time_point when) {
  const std::uint32_t now = seconds_of(when);
  for (std::size_t i = 0; i < kShards; ++i) expire_shard(i, now);
}

void swarm_store::expire_next(clock::time_point when) {
  expire_shard(next_shard_.fetch_add(1, std::memory_order_relaxed) % kShards, seconds_of(when));
}

store_totals swarm_store::totals() const {
  store_totals t;
  t.swarms = static_cast<std::int64_t>(swarm_count_.load(std::memory_order_relaxed));
  for (const auto& sh : shards_) {
    std::lock_guard lock(sh.mutex);
    t.seeders += sh.seeders;
    t.leechers += sh.leechers;
    t.completed += sh.completed;
  }
  t.evicted = evicted_.load(std::memory_order_relaxed);
  t.ignored = ignored_.load(std::memory_order_relaxed);
  return t;
}

std::vector<swarm_summary> swarm_store::top(std::size_t n) const {
  std::lock_guard lock(top_mutex_);
  return {top_.begin(), top_.begin() + static_cast<std::ptrdiff_t>(std::min(n, top_.size()))};
}

}  // namespace sta::tracker
