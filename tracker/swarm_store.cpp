#include "tracker/swarm_store.hpp"

#include <xxhash.h>

#include <algorithm>

namespace sta::tracker {

swarm_store::swarm_store(store_limits limits, clock::duration peer_ttl) : limits_(limits), ttl_(peer_ttl) {}

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

void swarm_store::sweep(swarm& s, std::uint32_t now) {
  s.last_sweep = now;
  const auto ttl = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(ttl_).count());
  for (std::uint32_t i = 0; i < s.peers.size();) {
    if (now - s.peers[i].last_seen > ttl) s.remove(i);
    else ++i;
  }
}

result<announce::response, std::string> swarm_store::announce(const announce::request& req,
                                                              const peer_address& from, clock::time_point when) {
  const std::uint32_t now = seconds_of(when);
  shard& sh = shard_for(req.info_hash);
  std::lock_guard lock(sh.mutex);
  auto it = sh.swarms.find(req.info_hash);
  if (it == sh.swarms.end()) {
    announce::response empty;
    if (req.ev == announce::event::stopped) return empty;
    if (swarm_count_.load(std::memory_order_relaxed) >= limits_.max_swarms) {
      return {boost::system::in_place_error, "tracker is full (too many torrents)"};
    }
    it = sh.swarms.emplace(req.info_hash, swarm{}).first;
    swarm_count_.fetch_add(1, std::memory_order_relaxed);
    it->second.last_sweep = now;
  }
  swarm& s = it->second;
  s.last_activity = now;
  // Expired peers are dropped as their swarm is touched, at most every
  // quarter TTL; expire() sweeps swarms nobody touches.
  if (now - s.last_sweep > std::chrono::duration_cast<std::chrono::seconds>(ttl_).count() / 4) sweep(s, now);

  const bool seed = req.left == 0;
  const auto id = id_of(req.peer_id);
  const std::size_t slot = s.find_slot(id);
  const bool known = slot < s.slots.size();
  if (req.ev == announce::event::stopped) {
    if (known) s.remove(s.slots[slot] - 1);
  } else if (known) {
    peer& p = s.peers[s.slots[slot] - 1];
    if (p.seed != seed) s.seeders += seed ? 1 : -1;
    p.addr = from.addr;
    p.v6 = from.v6;
    p.port = req.port;
    p.seed = seed;
    p.last_seen = now;
  } else {
    if (s.peers.size() >= limits_.max_peers_per_swarm) return {boost::system::in_place_error, "swarm is full"};
    s.insert({from.addr, id, now, req.port, from.v6, seed});
  }
  if (req.ev == announce::event::completed) ++s.completed;

  announce::response r;
  r.complete = s.seeders;
  r.incomplete = static_cast<std::int64_t>(s.peers.size()) - s.seeders;
  if (req.ev == announce::event::stopped || req.numwant == 0) return r;

  // Candidates: everyone but the announcer, and no seeds for a seed.
  auto eligible = [&](const peer& p) { return p.id != id && !(seed && p.seed); };
  const std::size_t want = static_cast<std::size_t>(req.numwant);
  auto add = [&](const peer& p) {
    announce::peer out;
    out.addr = p.addr;
    out.v6 = p.v6;
    out.port = p.port;
    out.peer_id.assign(p.id.data(), p.id.size());
    r.peers.push_back(std::move(out));
  };
  if (s.peers.size() <= want * 2) {
    std::vector<const peer*> all;
    for (const auto& p : s.peers) {
      if (eligible(p)) all.push_back(&p);
    }
    std::shuffle(all.begin(), all.end(), sh.rng);
    for (std::size_t i = 0; i < all.size() && i < want; ++i) add(*all[i]);
  } else {
    // Much larger swarm: the peers after a random start. Every peer is as
    // likely to be chosen as any other, at O(numwant) cost instead of a
    // shuffle of the whole swarm.
    const std::size_t n = s.peers.size();
    const std::size_t start = std::uniform_int_distribution<std::size_t>(0, n - 1)(sh.rng);
    for (std::size_t k = 0; k < n && r.peers.size() < want; ++k) {
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

void swarm_store::expire(clock::time_point when) {
  const std::uint32_t now = seconds_of(when);
  const auto ttl = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(ttl_).count());
  for (auto& sh : shards_) {
    std::lock_guard lock(sh.mutex);
    for (auto it = sh.swarms.begin(); it != sh.swarms.end();) {
      sweep(it->second, now);
      // Keep an empty swarm while its completed count is fresh.
      if (it->second.peers.empty() && now - it->second.last_activity > ttl) {
        it = sh.swarms.erase(it);
        swarm_count_.fetch_sub(1, std::memory_order_relaxed);
      } else {
        ++it;
      }
    }
  }
}

store_totals swarm_store::totals() const {
  store_totals t;
  for (const auto& sh : shards_) {
    std::lock_guard lock(sh.mutex);
    t.swarms += static_cast<std::int64_t>(sh.swarms.size());
    for (const auto& [h, s] : sh.swarms) {
      t.seeders += s.seeders;
      t.leechers += static_cast<std::int64_t>(s.peers.size()) - s.seeders;
      t.completed += s.completed;
    }
  }
  return t;
}

std::vector<swarm_summary> swarm_store::top(std::size_t n) const {
  std::vector<swarm_summary> all;
  for (const auto& sh : shards_) {
    std::lock_guard lock(sh.mutex);
    for (const auto& [h, s] : sh.swarms) {
      all.push_back({h, s.seeders, static_cast<std::int64_t>(s.peers.size()) - s.seeders, s.completed,
                     clock::time_point(std::chrono::seconds(s.last_activity))});
    }
  }
  const auto by_size = [](const swarm_summary& a, const swarm_summary& b) {
    return a.seeders + a.leechers > b.seeders + b.leechers;
  };
  if (all.size() > n) {
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), by_size);
    all.resize(n);
  } else {
    std::sort(all.begin(), all.end(), by_size);
  }
  return all;
}

}  // namespace sta::tracker
