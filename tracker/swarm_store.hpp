// The tracker's swarms: peers per info-hash, sharded 64 ways by info-hash so
// that announces for different torrents never wait on one lock (each shard
// has its own mutex, held for one swarm update). Time is passed in, so
// expiry is testable without waiting. Any thread.
//
// A peer is known by its peer id, but only announces from its address (or
// carrying the key it first announced with) may change or remove it, so
// nobody can empty or redirect someone else's swarm. Per source (an IPv4
// address or an IPv6 /64): a few peers per swarm, a few new swarms a
// minute. At the swarm cap, swarms that are empty or whose peers all
// missed their announce go first. Totals are kept as counters and the
// largest swarms are found as the sweep passes, so a poll of the totals
// or of top() costs the same at a million swarms as at ten.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "announce/announce.hpp"
#include "base/result.hpp"
#include "base/sha1.hpp"

namespace sta::tracker {

using clock = std::chrono::steady_clock;

struct peer_address {
  std::array<std::uint8_t, 16> addr{};  // 4 bytes used for IPv4
  bool v6 = false;
};

struct store_limits {
  std::size_t max_swarms = 1'000'000;
  std::size_t max_peers_per_swarm = 100'000;
  std::size_t max_peers_per_source = 8;        // in one swarm; 0: no limit
  std::size_t max_new_swarms_per_source = 30;  // a minute; 0: no limit
};

struct swarm_summary {
  sha1_digest info_hash;
  std::int64_t seeders = 0;
  std::int64_t leechers = 0;
  std::int64_t completed = 0;
  clock::time_point last_activity;
};

// Where announce() may write the peers it picks as compact entries (BEP 15
// and BEP 23: address and port, big-endian) of one family, instead of into
// the response's list.
struct compact_peers {
  std::span<std::byte> buf;
  bool v6 = false;
  std::size_t used = 0;
};

struct store_totals {
  std::int64_t swarms = 0;
  std::int64_t seeders = 0;
  std::int64_t leechers = 0;
  std::int64_t completed = 0;  // every completed event recorded, ever
  std::int64_t evicted = 0;    // swarms dropped at the cap to make room
  std::int64_t ignored = 0;    // announces for a peer from elsewhere, without its key
};

class swarm_store {
 public:
  // Peers not heard from for peer_ttl are dropped; a swarm none of whose
  // peers announced within peer_ttl / 2 may be evicted at the cap.
  swarm_store(store_limits limits, clock::duration peer_ttl);

  // Records the announce and returns counts and up to numwant other peers
  // (never the announcer, never seeds to a seed), chosen at random when
  // there are more (with their peer ids only if with_ids); or a failure
  // reason. An announce that may not change the peer it names is answered
  // without being recorded.
  result<announce::response, std::string> announce(const announce::request& req, const peer_address& from,
                                                   clock::time_point now, bool with_ids = false,
                                                   compact_peers* compact = nullptr);
  std::vector<announce::scrape_entry> scrape(const std::vector<sha1_digest>& hashes) const;
  std::vector<announce::scrape_entry> scrape_all() const;

  // Drops expired peers and empty swarms everywhere.
  void expire(clock::time_point now);
  // The same for the next shard in turn (kShards calls cover the store),
  // and the largest swarms of that shard are noted for top().
  void expire_next(clock::time_point now);

  store_totals totals() const;
  // The n (at most kTop) swarms with the most peers, as of the last sweep.
  std::vector<swarm_summary> top(std::size_t n) const;
  // Swarms looked at by sweeps and eviction: what the store's upkeep cost.
  std::uint64_t swarms_visited() const { return visited_.load(std::memory_order_relaxed); }

  static constexpr std::size_t kShards = 64;
  static constexpr std::size_t kTop = 100;

 private:
  // 44 bytes a peer: a million peers take ~50 MB, not the ~200 MB that a
  // std::string id and a node-based index per peer cost. Its time is a
  // byte: ticks of 1/120 of the peer lifetime (at least a second), read
  // modulo 256. A difference of the last few ticks below 256 is a peer
  // another thread recorded just "after" a sweep's clock (fresh); up to
  // 249 ticks (twice the lifetime) are ages, and a sweep reaches every
  // swarm long before that.
  struct peer {
    std::array<std::uint8_t, 16> addr;
    std::array<char, 20> id;
    std::uint32_t key;  // a keyed hash of the announce's key; 0: none
    std::uint16_t port;
    std::uint8_t last_seen;  // tick_of()
    std::uint8_t v6 : 1;
    std::uint8_t seed : 1;
  };
  static_assert(sizeof(peer) == 44);
  // Peers in a vector; an open-addressing table (linear probing) of
  // index + 1 into it, kept at most half full, finds a peer by id.
  struct swarm {
    std::vector<peer> peers;
    std::vector<std::uint32_t> slots;
    std::int64_t seeders = 0;
    std::int64_t completed = 0;
    std::uint32_t last_activity = 0;  // a peer recorded or changed
    std::uint32_t last_sweep = 0;

    std::size_t find_slot(const std::array<char, 20>& id) const;  // slots.size() when absent
    void insert(peer p);
    void remove(std::uint32_t index);
    void rehash(std::size_t capacity);
  };
  struct digest_hash {
    std::size_t operator()(const sha1_digest& d) const noexcept {
      std::size_t h;
      std::memcpy(&h, d.bytes.data(), sizeof h);
      return h;
    }
  };
  using swarm_map = std::unordered_map<sha1_digest, swarm, digest_hash>;
  struct shard {
    mutable std::mutex mutex;
    swarm_map swarms;
    // Peers per (swarm, source), kept only while that limit is on.
    boost::unordered_flat_map<std::uint64_t, std::uint16_t> per_source;
    std::int64_t seeders = 0;
    std::int64_t leechers = 0;
    std::int64_t completed = 0;
    std::size_t evict_bucket = 0;  // where the next eviction search starts
    std::mt19937_64 rng{std::random_device{}()};
  };

  shard& shard_for(const sha1_digest& h) { return shards_[h.bytes[19] % kShards]; }
  const shard& shard_for(const sha1_digest& h) const { return shards_[h.bytes[19] % kShards]; }
  std::uint64_t source_key(const sha1_digest& h, const peer_address& from) const;
  std::uint32_t key_hash(const std::string& key) const;
  bool new_swarm_allowed(const peer_address& from, std::uint32_t now);
  bool make_room(shard& sh, std::uint32_t now);
  bool evict_from(shard& sh, std::uint32_t now);
  void add_peer(shard& sh, const sha1_digest& h, swarm& s, const peer& p);
  void drop_peer(shard& sh, const sha1_digest& h, swarm& s, std::uint32_t index);
  void sweep(shard& sh, const sha1_digest& h, swarm& s, std::uint32_t now);
  void expire_shard(std::size_t i, std::uint32_t now);
  std::uint32_t ttl_seconds() const;
  std::uint8_t tick_of(std::uint32_t now) const { return static_cast<std::uint8_t>(now / tick_); }
  bool expired(const peer& p, std::uint32_t now) const {
    const auto ticks = static_cast<std::uint8_t>(tick_of(now) - p.last_seen);
    return ticks > ttl_ticks_ && ticks < 250;
  }
  // Seconds from `then` to `now`; 0 when another thread recorded `then`
  // after `now` was read.
  static std::uint32_t age(std::uint32_t now, std::uint32_t then) { return now > then ? now - then : 0; }

  store_limits limits_;
  clock::duration ttl_;
  std::uint32_t tick_;       // seconds
  std::uint32_t ttl_ticks_;  // at most 120
  std::uint64_t seed_;
  std::atomic<std::size_t> swarm_count_{0};
  std::atomic<std::int64_t> evicted_{0};
  std::atomic<std::int64_t> ignored_{0};
  std::atomic<std::uint64_t> visited_{0};
  std::atomic<std::uint32_t> full_until_{0};  // no evictable swarm was found before this second
  std::atomic<std::size_t> next_shard_{0};
  std::array<shard, kShards> shards_;

  // New swarms per source in the current minute.
  std::mutex new_swarms_mutex_;
  std::uint32_t new_swarms_minute_ = 0;
  boost::unordered_flat_map<std::uint64_t, std::uint16_t> new_swarms_;

  // The largest swarms of each shard as of its last sweep, and all of
  // them merged.
  mutable std::mutex top_mutex_;
  std::array<std::vector<swarm_summary>, kShards> shard_top_;
  std::vector<swarm_summary> top_;
};

}  // namespace sta::tracker
