// One Mainline DHT node (BEP 5, 32, 42, 43) without I/O: datagrams and the
// clock go in, datagrams to send and found peers come out. It answers ping,
// find_node, get_peers and announce_peer; runs iterative lookups (a few
// queries in flight toward the closest nodes, announcing to the closest that
// gave tokens at the end); keeps its routing table fresh; derives its id from
// the address the network reports (BEP 42). The caller owns the socket and
// the timer; one thread uses a node.
//
// What a node costs is bounded: answers per source per second, packets sent
// per second in all and to one address (libtorrent blocks a host that sends
// it more than about 5 a second), transactions in flight, lookups, stored
// torrents and peers per torrent. Malformed packets get no answer.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/endpoint.hpp"
#include "dht/krpc.hpp"
#include "dht/routing_table.hpp"

namespace sta::dht {

struct config {
  // BEP 43: ask, never answer, and tell others not to add us.
  bool read_only = false;
  // Families of the node's socket: which nodes we may query.
  bool ipv4 = true;
  bool ipv6 = false;
  // Queries in flight per lookup (alpha).
  std::size_t lookup_width = 3;
  std::size_t max_lookups = 32;
  std::size_t max_in_flight = 256;
  clock::duration query_timeout = std::chrono::seconds(5);
  // Limits on what the node answers and sends.
  int answers_per_source_per_second = 4;
  int sends_per_destination_per_second = 4;
  int sends_per_second = 200;
  // The peer store.
  std::size_t max_torrents = 2000;
  std::size_t max_peers_per_torrent = 200;
  std::size_t max_values_per_answer = 50;
  clock::duration peer_lifetime = std::chrono::minutes(30);
};

// Packets per source (an IPv4 address or an IPv6 /64) within the current
// second, for the rate limits; hashed under a random seed, so no one can
// choose sources that collide. Windows that ended are forgotten at most
// once a second, when the map is full.
struct second_window {
  clock::time_point start;
  int count = 0;
};

struct seeded_host_hash {
  std::uint64_t seed = 0;
  std::size_t operator()(const host_key& k) const noexcept;
};

struct rate_windows {
  explicit rate_windows(std::uint64_t seed) : map(64, seeded_host_hash{seed}) {}
  std::unordered_map<host_key, second_window, seeded_host_hash> map;
  clock::time_point swept;
};

struct outgoing {
  endpoint to;
  std::string bytes;
};

// Counters for the dashboard and /metrics.
struct counters {
  static constexpr std::size_t kMethods = 5;  // krpc::method values
  std::array<std::uint64_t, kMethods> queries_in{};
  std::array<std::uint64_t, kMethods> queries_out{};
  std::uint64_t responses_in = 0;
  std::uint64_t responses_out = 0;
  std::uint64_t errors_in = 0;
  std::uint64_t errors_out = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t malformed = 0;       // packets that were not KRPC
  std::uint64_t unexpected = 0;      // responses to nothing we asked, or from elsewhere
  std::uint64_t rate_limited = 0;    // queries left unanswered over a source's limit
  std::uint64_t send_throttled = 0;  // packets not sent (or put off) under the send limits
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t peers_found = 0;
  std::uint64_t id_changes = 0;
};

class node {
 public:
  node(const config& cfg, const node_id& id, std::uint64_t seed, clock::time_point now);

  const node_id& id() const { return table_.self(); }
  const routing_table& table() const { return table_; }
  const counters& stats() const { return stats_; }
  const config& settings() const { return cfg_; }
  std::size_t stored_torrents() const { return store_.size(); }
  std::size_t stored_peers() const;
  std::size_t active_lookups() const { return lookups_.size(); }
  std::size_t in_flight() const { return in_flight_.size(); }
  // The address most nodes report seeing us at (BEP 42 'ip'), once known.
  std::optional<endpoint> external_address() const { return external_; }

  // One datagram from `from`.
  void receive(const endpoint& from, std::span<const std::byte> packet, clock::time_point now);
  // A datagram too long to be KRPC, cut by the socket: counted, not read.
  void oversized(std::size_t bytes) {
    stats_.bytes_in += bytes;
    ++stats_.malformed;
  }
  // Timeouts, lookups held back by the send limits, bucket refreshes, token
  // secrets, the peer store's expiry. Call it about once a second.
  void tick(clock::time_point now);

  // Joins the network through these addresses (routers, saved nodes): a
  // lookup of our own id that starts from them. Repeated by tick() while the
  // table is nearly empty.
  void bootstrap(std::vector<endpoint> contacts, clock::time_point now);
  // A node heard of elsewhere (a peer's PORT message): pinged, and added to
  // the table if it answers and its bucket has room.
  void add_contact(const endpoint& addr, clock::time_point now);

  // Looks up the peers of a torrent; with announce_port, announces us to the
  // closest nodes at the end (port 0: the port our packets come from,
  // 'implied_port'). Returns the lookup's number, or nullopt when too many
  // lookups run already.
  std::optional<std::uint64_t> get_peers(const node_id& info_hash, std::optional<std::uint16_t> announce_port,
                                         clock::time_point now);

  // What the caller takes after each call: datagrams to send, peers found
  // (new ones only, per lookup), lookups finished.
  std::vector<outgoing> take_packets() { return std::exchange(out_, {}); }
  struct found {
    node_id info_hash;
    std::vector<endpoint> peers;
  };
  std::vector<found> take_found() { return std::exchange(found_, {}); }
  struct finished {
    std::uint64_t lookup = 0;
    node_id target;
    std::size_t responded = 0;  // nodes that answered
    std::size_t announced = 0;  // announce_peer queries sent
  };
  std::vector<finished> take_finished() { return std::exchange(finished_, {}); }

 private:
  // probe: a ping to a stranger that queried us (few at once: its address
  // may be forged, and it must not hold the slots our lookups need).
  enum class purpose : std::uint8_t { lookup, ping, probe, announce };
  struct transaction {
    endpoint to;
    std::optional<node_id> id;  // the node's id, when known
    krpc::method name = krpc::method::ping;
    purpose why = purpose::ping;
    std::uint64_t lookup = 0;
    clock::time_point sent;
  };
  struct candidate {
    std::optional<node_id> id;  // unknown for bootstrap contacts
    endpoint addr;
    enum class state : std::uint8_t { fresh, asked, answered, failed } st = state::fresh;
    std::string token;
  };
  struct lookup {
    std::uint64_t number = 0;
    node_id target;
    krpc::method name = krpc::method::find_node;
    std::optional<std::uint16_t> announce_port;
    std::vector<candidate> candidates;  // closest first; unknown ids first of all
    std::size_t asked = 0;              // in flight
    std::size_t queried = 0;            // sent in all (a lookup ends after kMaxQueriesPerLookup)
    std::vector<endpoint> peers;        // seen, for dedup
  };
  // 32 bytes a peer; one per IP address and torrent.
  struct stored_peer {
    host_key host;
    std::uint16_t port = 0;
    clock::time_point seen;
    endpoint addr() const;
  };
  struct torrent_peers {
    std::vector<stored_peer> peers;
    clock::time_point updated;
  };
  void on_query(const endpoint& from, const krpc::message& q, clock::time_point now);
  void on_reply(const endpoint& from, const krpc::message& r, clock::time_point now);
  void answer(const endpoint& to, krpc::message r, const krpc::message& q, clock::time_point now);
  // Sends a query and records its transaction; false when the send limits
  // or the transaction table say not now.
  bool query(const endpoint& to, std::optional<node_id> id, krpc::message q, purpose why, std::uint64_t lookup,
             clock::time_point now);
  // Answers leave a quarter of the send budget to our own queries.
  bool may_send(const endpoint& to, clock::time_point now, bool answer = false);
  void send(const endpoint& to, const krpc::message& m);

  std::uint64_t start_lookup(const node_id& target, krpc::method name, std::optional<std::uint16_t> announce_port,
                             const std::vector<endpoint>& seeds, clock::time_point now);
  void add_candidate(lookup& l, const node_info& n);
  // Sends what the lookup may send now; finishes it when its closest nodes
  // have all answered or failed.
  void pump(lookup& l, clock::time_point now);
  void finish(lookup& l, clock::time_point now);
  lookup* find_lookup(std::uint64_t number);

  std::string token_for(const endpoint& who, std::size_t secret) const;
  bool token_ok(const endpoint& who, std::string_view token) const;
  void store_peer(const node_id& info_hash, const endpoint& peer, clock::time_point now);
  std::vector<endpoint> some_peers(const node_id& info_hash);
  std::vector<node_info> nodes_for(const node_id& target, const krpc::message& q, const endpoint& from) const;
  bool usable(const endpoint& addr) const;

  void vote_external(const endpoint& reporter, const endpoint& address, clock::time_point now);
  void change_id(const endpoint& external, clock::time_point now);
  bool within(rate_windows& w, const endpoint& who, int limit, clock::time_point now);

  config cfg_;
  std::mt19937_64 rng_;
  routing_table table_;
  counters stats_;
  std::unordered_map<std::uint16_t, transaction> in_flight_;
  std::size_t probes_ = 0;  // in flight
  std::vector<lookup> lookups_;
  std::uint64_t next_lookup_ = 1;
  std::map<node_id, torrent_peers> store_;
  std::array<std::array<std::uint8_t, 16>, 2> secrets_{};  // current, previous
  clock::time_point secrets_rotated_;
  clock::time_point last_expiry_;
  std::vector<endpoint> bootstrap_contacts_;
  clock::time_point last_bootstrap_;
  rate_windows answered_;
  rate_windows sent_to_;
  double send_tokens_;
  clock::time_point send_tokens_at_;
  // (reporter, our address as it saw it), of the family our id follows:
  // IPv4 when the node has it, else IPv6.
  std::deque<std::pair<host_key, endpoint>> votes_;
  std::optional<endpoint> external_;
  std::optional<endpoint> move_to_;  // an id change the next tick() makes
  std::optional<clock::time_point> id_changed_;
  std::vector<outgoing> out_;
  std::vector<found> found_;
  std::vector<finished> finished_;
};

}  // namespace sta::dht
