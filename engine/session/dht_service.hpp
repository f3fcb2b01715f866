// dht_service: the node's Mainline DHT (DESIGN.md layer 6) on its home
// reactor: a dht::node and a UDP socket per address family on the node's
// listen port, the bootstrap (saved nodes first, then the configured
// routers, resolved off the reactor), and a lookup of every torrent the node
// names every 15 minutes (every 30 seconds while a lookup finds nobody),
// announcing the node's listen port. Peers found go to `on_peers`.
//
// Home reactor only, except stats(), which any thread may call while the
// reactors run (it posts and waits). Owned by the node; its coroutines end
// when the reactor stops.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/endpoint.hpp"
#include "base/error.hpp"
#include "base/result.hpp"
#include "base/sha1.hpp"
#include "base/unique_fd.hpp"
#include "dht/node.hpp"
#include "reactor/reactor.hpp"
#include "reactor/task.hpp"

namespace sta {

// The public routers, for users: tests, the demo and benchmarks never use them.
inline const std::vector<std::string> kDefaultDhtRouters = {
    "router.bittorrent.com:6881", "router.utorrent.com:6881", "dht.transmissionbt.com:6881", "dht.libtorrent.org:25401"};

struct dht_options {
  bool enabled = false;                // the library's default; sta get/serve turn it on unless --no-dht
  std::vector<std::string> bootstrap;  // HOST:PORT; empty: kDefaultDhtRouters
  bool read_only = false;              // BEP 43
  // Where dht.dat (our id and the routing table) is kept: the state
  // directory of this save directory; empty: not kept.
  std::string save_dir;
  std::string state_dir;
};

// A snapshot for --json, the API, the dashboard and /metrics.
struct dht_stats {
  bool enabled = false;
  std::string id;                        // hex
  std::vector<std::string> sockets;      // addresses bound
  std::optional<std::string> external;   // the address others see us at (BEP 42)
  std::size_t nodes = 0;                 // in the routing table
  std::size_t good_nodes = 0;
  std::size_t replacements = 0;
  std::vector<std::size_t> buckets;      // nodes per bucket
  std::size_t torrents = 0;              // the node's torrents it looks up
  std::size_t stored_torrents = 0;       // info-hashes others announced to us
  std::size_t stored_peers = 0;
  std::size_t lookups = 0;               // running
  std::size_t in_flight = 0;             // queries awaiting an answer
  dht::counters counters;
};

class dht_service {
 public:
  // Binds the sockets (on each family of `listen`, port `port`), loads
  // dht.dat. Start-up only; the error names the address that failed.
  static detailed_result<std::unique_ptr<dht_service>> open(io::reactor& home, const std::vector<endpoint>& listen,
                                                            std::uint16_t port, dht_options o);
  ~dht_service();

  // Home reactor: starts the receive loops, the bootstrap and the timer.
  // `wanted` names the torrents to look up (called once a second);
  // `on_peers` gets what lookups find.
  void start(std::function<std::vector<sha1_digest>()> wanted,
             std::function<void(const sha1_digest&, std::vector<endpoint>)> on_peers);
  // Home reactor: a node a peer told us of (its PORT message).
  void add_contact(const endpoint& addr);
  // Home reactor.
  dht_stats stats() const;
  // Home reactor (or any thread once the reactor stopped): saves dht.dat.
  void save() const;

  // For the coroutines in dht_service.cpp.
  struct socket {
    unique_fd fd;
    endpoint local;
  };
  io::reactor& home;
  dht::node node;
  std::vector<socket> sockets;
  std::vector<endpoint> saved_nodes;
  dht_options opts;
  std::uint16_t announce_port = 0;
  struct wanted_torrent {
    dht::clock::time_point next{};
    std::optional<std::uint64_t> lookup;
    bool found = false;
  };
  std::map<sha1_digest, wanted_torrent> torrents;
  std::function<std::vector<sha1_digest>()> wanted;
  std::function<void(const sha1_digest&, std::vector<endpoint>)> on_peers;

  // Sends what the node has queued and hands on what it found.
  void flush();
  void lookups(dht::clock::time_point now);

 private:
  dht_service(io::reactor& r, const dht::node_id& id, dht::config cfg);
};

}  // namespace sta
