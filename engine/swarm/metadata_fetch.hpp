// metadata_fetch: a magnet link's torrent before it has its info
// dictionary (BEP 9), on its home reactor. It gathers peers from the
// magnet's x.pe entries and --peer, its trackers (BEP 12 tiers) and what
// those peers say by ut_pex, connects to a few at a time (within the
// process's connection budget), and runs each connection with a
// peer::metadata_peer over one shared peer::metadata_assembly. When the
// assembled dictionary hashes to the info-hash, `on_metadata` gets it,
// once, and every connection ends. The node then saves it as a .torrent,
// checks the data and starts the torrent's control plane, which inherits
// the peers found here.
//
// Owned by the node; every coroutine holds its work count, so it is freed
// only once drained(). The getters marked "any thread" read atomics or a
// mutex-held record; the rest is the home reactor's (or anyone's once
// drained).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "base/endpoint.hpp"
#include "base/sha1.hpp"
#include "peer/metadata_assembly.hpp"
#include "reactor/reactor_group.hpp"
#include "reactor/task.hpp"
#include "swarm/control.hpp"
#include "swarm/torrent.hpp"
#include "wire/codec.hpp"

namespace sta::swarm {

struct fetch_options {
  sha1_digest info_hash;
  wire::peer_id self{};
  std::uint16_t listen_port = 0;
  std::vector<endpoint> peers;                  // the magnet's x.pe and --peer
  std::vector<std::vector<std::string>> tiers;  // the magnet's trackers; empty: none
  std::string tracker_ip;
  std::vector<endpoint> listen;                 // where outgoing connections leave from
  bool verify_tls = true;                       // check https trackers' certificates
};

class metadata_fetch {
 public:
  // Connections open at once for one magnet.
  static constexpr unsigned kMaxConnections = 8;
  static constexpr std::size_t kMaxCandidates = 2000;

  metadata_fetch(io::reactor_group& group, unsigned home, shared_limits& process, fetch_options o,
                 std::function<void(std::string)> on_metadata);
  metadata_fetch(const metadata_fetch&) = delete;
  metadata_fetch& operator=(const metadata_fetch&) = delete;

  // Any thread: starts (again, once drained after a stop) or stops it.
  void start();
  void stop();
  bool drained() const { return work_.load(std::memory_order_acquire) == 0; }

  // Any thread.
  unsigned peers() const { return peers_.load(std::memory_order_relaxed); }
  unsigned offering() const { return offering_.load(std::memory_order_relaxed); }
  std::int64_t metadata_size() const { return size_.load(std::memory_order_relaxed); }
  std::uint32_t hash_failures() const { return hash_failures_.load(std::memory_order_relaxed); }
  std::string tracker_status() const;
  std::vector<control::tracker_record> trackers() const;

  // Any thread: peers found elsewhere (the DHT), tried like the others.
  void learned_peers(std::vector<endpoint> peers);

  // Once drained: every peer it heard of, for the torrent's control plane.
  std::vector<endpoint> known_peers() const;

  // The rest is the home reactor's, for metadata_fetch.cpp's coroutines.
  class guard {
   public:
    explicit guard(metadata_fetch& f) : f_(&f) { f.work_.fetch_add(1, std::memory_order_relaxed); }
    guard(guard&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
    guard& operator=(guard&&) = delete;
    ~guard() {
      if (f_) f_->work_.fetch_sub(1, std::memory_order_release);
    }

   private:
    metadata_fetch* f_;
  };
  struct candidate {
    endpoint addr;
    bool busy = false;
    std::chrono::steady_clock::time_point next_try{};
    unsigned failures = 0;
  };

  io::reactor& home() { return group_.at(home_); }
  bool stopping() const { return stopping_.load(std::memory_order_acquire) || done_; }
  void add_candidate(const endpoint& addr);
  void connect_more(std::chrono::steady_clock::time_point now);
  // A connection ended; `useful`: it offered metadata.
  void ended(std::size_t index, bool useful, std::chrono::steady_clock::time_point now);
  // After any change to the assembly: publishes its figures, and when every
  // piece is in, checks the hash and hands the metadata on.
  void progress();
  void record_announce(const std::string& url, std::string outcome, std::int64_t peers);
  std::optional<endpoint> outgoing_bind(int family) const;

  // Ends every connection's operation in flight (a connect, a handshake
  // that never comes), so the fetch drains at once when it is done or
  // stopped.
  void cut_connections();

  const fetch_options opts;
  peer::metadata_assembly assembly;
  std::vector<int> sockets;  // of the connections open or connecting
  std::vector<candidate> candidates;
  unsigned connections = 0;
  std::uint32_t next_source = 1;

 private:
  io::reactor_group& group_;
  unsigned home_;
  shared_limits& process_;
  std::function<void(std::string)> on_metadata_;
  bool done_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<int> work_{0};
  std::atomic<unsigned> peers_{0};
  std::atomic<unsigned> offering_{0};
  std::atomic<std::int64_t> size_{0};
  std::atomic<std::uint32_t> hash_failures_{0};
  mutable std::mutex status_mutex_;
  std::string tracker_status_;
  std::vector<control::tracker_record> records_;

  friend io::task<void> fetch_peer(metadata_fetch& f, std::size_t index, guard g);
};

}  // namespace sta::swarm
