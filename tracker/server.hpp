// sta's tracker. HTTP: Boost.Beast over Asio, one io_context thread per
// core; acceptors run on the first context and hand each connection to the
// contexts in turn; a connection then lives on one thread. Routes:
// /announce, /scrape, / (the live dashboard), /api/stats (JSON), /metrics
// (Prometheus text). UDP (BEP 15): on the same addresses and ports, one
// io_uring reactor per core, each with its own socket per address
// (SO_REUSEPORT), receiving with multishot recvmsg into a buffer ring and
// answering with stateless connection ids. Both share one swarm_store,
// sharded by info-hash, and its limits.
//
// start() binds and starts the threads; stop() closes everything and joins.
// reload_whitelist() may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "tracker/swarm_store.hpp"

namespace sta::tracker {

struct options {
  std::vector<std::string> listen = {"0.0.0.0:6969"};  // ADDR:PORT, [v6]:PORT
  std::chrono::seconds interval{1800};
  unsigned threads = 0;  // 0: one per core
  std::string whitelist_path;  // empty: every torrent is allowed
  bool full_scrape = false;
  // Proxies whose requests may set ip=, and whose X-Forwarded-For names
  // the client; no address is trusted unless listed (loopback neither).
  std::vector<std::string> trusted_proxies;
  store_limits limits;
  std::size_t max_connections = 10'000;  // lowered to what the descriptor limit allows
  std::size_t max_connections_per_ip = 32;  // 0: no limit
  bool udp = true;
  std::chrono::seconds idle_timeout{30};
  std::size_t max_header_bytes = 8192;
  std::function<clock::time_point()> now = [] { return clock::now(); };
};

class server {
 public:
  static result<std::unique_ptr<server>, std::string> start(options opts);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // The bound endpoints as ADDR:PORT (port 0 resolved); the UDP ones are
  // the same (none without udp).
  std::vector<std::string> endpoints() const;
  std::vector<std::string> udp_endpoints() const;
  // The connection cap in force and the descriptor limit it was checked
  // against (0: none).
  std::size_t max_connections() const;
  std::uint64_t descriptor_limit() const;
  // Re-reads the whitelist file; false (with the reason) if it cannot.
  result<void, std::string> reload_whitelist();
  // Drops expired peers now (it also happens every interval / 2).
  void expire_now();
  void stop();

  struct impl;

 private:
  explicit server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// Parses a whitelist file: one 40-character hex info-hash per line; blank
// lines and lines starting with '#' are skipped.
result<std::vector<sha1_digest>, std::string> parse_whitelist(std::string_view text);

}  // namespace sta::tracker
