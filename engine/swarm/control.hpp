// control: one torrent's control plane, on its home reactor (DESIGN.md
// "Concurrency rules"): its peer candidates and the connections it opens,
// the incoming connections the node hands it once their handshake named
// it, tit-for-tat choking, strikes and bans per host, and announcing to its
// trackers (BEP 12 tiers). Everything here runs on the home reactor except
// the few getters marked "any thread". Owned by the node next to its
// torrent and freed with it; every coroutine it starts holds the torrent's
// work guard, so the torrent is not freed under it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/endpoint.hpp"
#include "base/unique_fd.hpp"
#include "peer/recv_buffer.hpp"
#include "reactor/reactor_group.hpp"
#include "announce/announce.hpp"
#include "reactor/task.hpp"
#include "swarm/torrent.hpp"
#include "swarm/tracker_client.hpp"

namespace sta::swarm {

using clock = std::chrono::steady_clock;

struct control_options {
  std::vector<endpoint> peers;                  // connected to directly
  std::vector<std::vector<std::string>> tiers;  // announce URLs; empty: no announcing
  std::string tracker_ip;                       // sent as ip=; empty: not sent
  std::vector<endpoint> listen;                 // the node's --listen: where outgoing connections leave from
  bool downloading = true;                      // announce 'completed' once it has every piece
  bool verify_tls = true;                       // check https trackers' certificates
};

class control {
 public:
  control(torrent& t, io::reactor_group& group, unsigned home, control_options o);
  control(const control&) = delete;
  control& operator=(const control&) = delete;

  io::reactor& home() { return group_.at(home_); }

  // Any thread. Opens the torrent for peers: announcing, connecting,
  // choking (once it has drained from an earlier run).
  void start();
  // Any thread. Closes it: connections end at their next step, the
  // announce loop ends and 'stopped' is announced (within a few seconds).
  void stop();

  // A connection whose handshake named this torrent, received by the node
  // before `deadline`: admitted (bans, connection limits, duplicate peer
  // ids), answered with our handshake and run on a reactor of its own.
  io::task<void> take_incoming(unique_fd sock, endpoint remote, wire::handshake theirs, peer::recv_buffer buf,
                               clock::time_point deadline, torrent::work_guard guard);

  // Any reactor: a piece's verdict, carried to the home reactor.
  void post_verdict(piece_verdict v);

  // What a later run of the same torrent keeps (it is checked again after
  // an error or a new file selection): the peers it knew, and the strikes
  // and bans of each host. Taken once the torrent has drained; given to the
  // new control before it starts.
  struct host_record {
    std::uint32_t strikes = 0;
    bool banned = false;
  };
  struct carried {
    std::vector<endpoint> peers;
    std::unordered_map<host_key, host_record, host_key_hash> hosts;
  };
  carried carry() const;
  void adopt(carried c);

  // Any thread.
  std::string tracker_status() const;
  struct tracker_record {
    std::string url;
    std::size_t tier = 0;
    std::string last;        // the last announce's outcome; empty before the first
    std::int64_t peers = 0;  // peers its last good answer gave
  };
  std::vector<tracker_record> trackers() const;
  // When the next announce is due, if one is planned.
  std::optional<clock::time_point> next_announce() const;
  // Since the last stop(): its 'stopped' announce is done (or was not due).
  std::atomic<bool> stopped_announced{true};
  unsigned banned_hosts() const { return banned_hosts_.load(std::memory_order_relaxed); }

  // The rest is the home reactor's, used by control.cpp's coroutines.
  struct candidate {
    endpoint addr;
    peer::peer_slot* slot = nullptr;  // while connecting or connected
    std::uint32_t generation = 0;
    clock::time_point next_try{};
    unsigned failures = 0;
  };

  torrent& t;
  const control_options opts;
  std::vector<candidate> candidates;
  // Strikes and bans per host (IP address), kept for the torrent's life: a
  // host that reconnects keeps its strikes, a banned one never gets a slot.
  std::unordered_map<host_key, host_record, host_key_hash> hosts;
  // Pieces that failed with blocks from several hosts: who sent what.
  std::unordered_map<std::uint32_t, std::vector<piece_verdict::block>> suspects;
  std::vector<std::vector<std::string>> tiers;
  std::string tracker_id;
  udp_connections udp;  // connection ids of its UDP trackers
  bool announced = false;         // a 'started' was answered (and no 'stopped' since)
  bool started_sent = false;      // a 'started' went out (answered or not) and no 'stopped' since
  unsigned announcing = 0;        // announces in flight
  bool completed_announced = false;
  std::mt19937_64 rng{std::random_device{}()};
  clock::time_point last_choke{};
  clock::time_point last_optimistic{};
  peer::peer_slot* optimistic = nullptr;

  io::reactor& pick_reactor() { return group_.at(next_reactor_++ % group_.size()); }
  void set_status(std::string s);
  void record_announce(const std::string& url, std::string outcome, std::int64_t peers);
  void set_next_announce(std::optional<clock::time_point> at);
  void add_candidate(const endpoint& addr);
  unsigned connections_from(const host_key& h) const;
  bool is_banned(const host_key& h) const;
  void strike(const host_key& h);
  void on_verdict(const piece_verdict& v);
  result<void> check_handshake(const wire::handshake& theirs, peer::peer_slot& slot);
  wire::handshake our_handshake() const;
  std::optional<endpoint> outgoing_bind(int family) const;
  announce::request make_request(announce::event ev) const;

 private:
  io::reactor_group& group_;
  unsigned home_;
  unsigned next_reactor_ = 0;
  std::atomic<unsigned> banned_hosts_{0};
  mutable std::mutex status_mutex_;
  std::string tracker_status_;
  std::vector<tracker_record> records_;
  std::optional<clock::time_point> next_announce_;
};

}  // namespace sta::swarm
