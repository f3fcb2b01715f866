// The tracker's swarms: peers per info-hash, sharded 64 ways by info-hash so
// that announces for different torrents never wait on one lock (each shard
// has its own mutex, held for one swarm update). Time is passed in, so
// expiry is testable without waiting. Any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

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
};

struct swarm_summary {
  sha1_digest info_hash;
  std::int64_t seeders = 0;
  std::int64_t leechers = 0;
  std::int64_t completed = 0;
  clock::time_point last_activity;
};

struct store_totals {
  std::int64_t swarms = 0;
  std::int64_t seeders = 0;
  std::int64_t leechers = 0;
  std::int64_t completed = 0;
};

class swarm_store {
 public:
  // Peers not heard from for peer_ttl are dropped.
  swarm_store(store_limits limits, clock::duration peer_ttl);

  // Records the announce and returns counts and up to numwant other peers
  // (never the announcer, never seeds to a seed), chosen at random when
  // there are more; or a failure reason.
  result<announce::response, std::string> announce(const announce::request& req, const peer_address& from,
                                                   clock::time_point now);
  std::vector<announce::scrape_entry> scrape(const std::vector<sha1_digest>& hashes) const;
  std::vector<announce::scrape_entry> scrape_all() const;

  // Drops expired peers and empty swarms everywhere.
  void expire(clock::time_point now);

  store_totals totals() const;
  // The n swarms with the most peers.
  std::vector<swarm_summary> top(std::size_t n) const;

 private:
  // 44 bytes a peer: a million peers take ~50 MB, not the ~200 MB that a
  // std::string id and a node-based index per peer cost.
  struct peer {
    std::array<std::uint8_t, 16> addr;
    std::array<char, 20> id;
    std::uint32_t last_seen;  // seconds of the clock
    std::uint16_t port;
    bool v6;
    bool seed;
  };
  // Peers in a vector; an open-addressing table (linear probing) of
  // index + 1 into it, kept at most half full, finds a peer by id.
  struct swarm {
    std::vector<peer> peers;
    std::vector<std::uint32_t> slots;
    std::int64_t seeders = 0;
    std::int64_t completed = 0;
    std::uint32_t last_activity = 0;
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
  struct shard {
    mutable std::mutex mutex;
    std::unordered_map<sha1_digest, swarm, digest_hash> swarms;
    std::mt19937_64 rng{std::random_device{}()};
  };
  static constexpr std::size_t kShards = 64;

  shard& shard_for(const sha1_digest& h) { return shards_[h.bytes[19] % kShards]; }
  const shard& shard_for(const sha1_digest& h) const { return shards_[h.bytes[19] % kShards]; }
  void sweep(swarm& s, std::uint32_t now);

  store_limits limits_;
  clock::duration ttl_;
  std::atomic<std::size_t> swarm_count_{0};
  std::array<shard, kShards> shards_;
};

}  // namespace sta::tracker
