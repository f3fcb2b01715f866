#include "tracker/swarm_store.hpp"

#include <algorithm>

namespace sta::tracker {

swarm_store::swarm_store(store_limits limits, clock::duration peer_ttl) : limits_(limits), ttl_(peer_ttl) {}

void swarm_store::remove_peer(swarm& s, std::uint32_t index) {
  if (s.peers[index].seed) --s.seeders;
  s.by_id.erase(s.peers[index].peer_id);
  if (index + 1 != s.peers.size()) {
    s.peers[index] = std::move(s.peers.back());
    s.by_id[s.peers[index].peer_id] = index;
  }
  s.peers.pop_back();
}

void swarm_store::sweep(swarm& s, clock::time_point now) {
  s.last_sweep = now;
  for (std::uint32_t i = 0; i < s.peers.size();) {
    if (now - s.peers[i].last_seen > ttl_) remove_peer(s, i);
    else ++i;
  }
}

result<announce::response, std::string> swarm_store::announce(const announce::request& req,
                                                              const peer_address& from, clock::time_point now) {
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
  if (now - s.last_sweep > ttl_ / 4) sweep(s, now);

  const bool seed = req.left == 0;
  auto known = s.by_id.find(req.peer_id);
  if (req.ev == announce::event::stopped) {
    if (known != s.by_id.end()) remove_peer(s, known->second);
  } else if (known != s.by_id.end()) {
    peer& p = s.peers[known->second];
    if (p.seed != seed) s.seeders += seed ? 1 : -1;
    p.address = from;
    p.port = req.port;
    p.seed = seed;
    p.last_seen = now;
  } else {
    if (s.peers.size() >= limits_.max_peers_per_swarm) return {boost::system::in_place_error, "swarm is full"};
    s.by_id.emplace(req.peer_id, static_cast<std::uint32_t>(s.peers.size()));
    s.peers.push_back({from, req.port, req.peer_id, seed, now});
    if (seed) ++s.seeders;
  }
  if (req.ev == announce::event::completed) ++s.completed;

  announce::response r;
  r.complete = s.seeders;
  r.incomplete = static_cast<std::int64_t>(s.peers.size()) - s.seeders;
  if (req.ev == announce::event::stopped || req.numwant == 0) return r;

  // Candidates: everyone but the announcer, and no seeds for a seed.
  auto eligible = [&](const peer& p) { return p.peer_id != req.peer_id && !(seed && p.seed); };
  const std::size_t want = static_cast<std::size_t>(req.numwant);
  auto add = [&](const peer& p) {
    announce::peer out;
    out.addr = p.address.addr;
    out.v6 = p.address.v6;
    out.port = p.port;
    out.peer_id = p.peer_id;
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

void swarm_store::expire(clock::time_point now) {
  for (auto& sh : shards_) {
    std::lock_guard lock(sh.mutex);
    for (auto it = sh.swarms.begin(); it != sh.swarms.end();) {
      sweep(it->second, now);
      // Keep an empty swarm while its completed count is fresh.
      if (it->second.peers.empty() && now - it->second.last_activity > ttl_) {
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
                     s.last_activity});
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
