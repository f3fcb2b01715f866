// The DHT's routing table (BEP 5): buckets of at most K = 8 nodes, bucket i
// holding the nodes whose ids share exactly i leading bits with ours and the
// last bucket everything closer; a full last bucket splits. Only nodes that
// answered one of our queries get in. Each bucket keeps a few replacements
// for nodes that go bad. Plain data with the clock passed in; the DHT node
// that owns it is its only user (one thread).
//
// Node states: good (answered within 15 minutes, or queried us within 15
// minutes and has answered before), questionable (quiet for 15 minutes),
// bad (two queries in a row unanswered). A bad node leaves at once: the
// newest replacement of its bucket takes its place, or the next node heard.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <random>
#include <vector>

#include "base/endpoint.hpp"
#include "dht/krpc.hpp"

namespace sta::dht {

using clock = std::chrono::steady_clock;

inline constexpr std::size_t kBucketSize = 8;
inline constexpr auto kQuestionableAfter = std::chrono::minutes(15);
inline constexpr int kFailsToBad = 2;

enum class node_status : std::uint8_t { good, questionable };

class routing_table {
 public:
  struct entry {
    node_id id;
    endpoint addr;
    clock::time_point last_seen;  // its last answer, or a query after it had answered
    int fails = 0;                // our queries it left unanswered in a row
  };

  explicit routing_table(const node_id& self);

  const node_id& self() const { return self_; }

  enum class outcome : std::uint8_t {
    added,        // in a bucket now
    updated,      // was there; seen now
    replacement,  // its bucket is full of good or questionable nodes: kept aside
    refused,      // our own id, or its address or id is held by another entry
  };
  struct heard_result {
    outcome result = outcome::refused;
    // When the bucket is full: its least recently seen questionable node,
    // to ping (BEP 5), if it has one.
    std::optional<node_info> ping;
  };
  // The node answered one of our queries.
  heard_result heard_from(const node_info& n, clock::time_point now);
  // The node sent us a query: counts as activity only if it is in the table.
  void queried_by(const node_info& n, clock::time_point now);
  // A query to the node went unanswered. Returns true when that made it bad
  // and it left the table (a replacement, if any, took its place).
  bool failed(const node_info& n);

  node_status status(const entry& e, clock::time_point now) const;
  bool contains(const node_info& n) const;
  // Whether a node with this id would get a place without a replacement.
  bool has_room(const node_id& id) const;
  std::size_t size() const;
  std::size_t good_count(clock::time_point now) const;
  std::size_t bucket_count() const { return buckets_.size(); }
  std::size_t replacement_count() const;

  // Up to n nodes, closest to target first; only those of
  // `family` (AF_INET, AF_INET6) unless it is 0.
  std::vector<node_info> closest(const node_id& target, std::size_t n, int family = 0) const;
  // Every node in the table, for saving it.
  std::vector<node_info> nodes() const;

  // For each bucket nobody has refreshed or changed for 15 minutes: a
  // random id in its range, to look up with find_node; the bucket counts as
  // refreshed now.
  std::vector<node_id> refresh_targets(clock::time_point now, std::mt19937_64& rng);

  // Per bucket: how many nodes it holds and how many replacements.
  struct bucket_info {
    std::size_t nodes = 0;
    std::size_t replacements = 0;
  };
  std::vector<bucket_info> buckets() const;

 private:
  struct bucket {
    std::vector<entry> live;          // at most kBucketSize
    std::vector<entry> replacements;  // at most kBucketSize, newest last
    clock::time_point refreshed;
  };

  std::size_t bucket_of(const node_id& id) const;
  void split_last();
  entry* find(const node_info& n);
  // True when another entry (or a replacement) holds this id or this host.
  bool conflicts(const node_info& n) const;

  node_id self_;
  std::vector<bucket> buckets_;
};

}  // namespace sta::dht
