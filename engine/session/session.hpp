// session: a node that runs exactly one torrent, for the tools and tests
// that need no more (sta-bench, the swarm tests). start() returns once the
// torrent's data is checked, with the check's error if it failed; the rest
// forwards to the node (node.hpp says which thread may call what).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "session/node.hpp"

namespace sta {

struct session_options {
  std::string save_dir;
  torrent_mode mode = torrent_mode::download;
  unsigned threads = 0;                // reactors; 0: one per core
  std::vector<endpoint> listen;        // empty: 0.0.0.0:6881 (or the next free port) and [::] on the same port
  std::vector<endpoint> peers;         // connected to directly
  bool use_trackers = true;
  std::string tracker_ip;              // sent to trackers as ip= (behind NAT); empty: not sent
  swarm::limits limits;                // max_peers, per host, rates, what one peer may cost...
  unsigned max_connections = 200;      // peer connections of the process, half-open included
  unsigned max_half_open = 8;          // outgoing connects in progress at once
  std::vector<bool> selected;          // one flag per file; empty: all
  bool sequential = false;
  bool allow_truncate = false;
  bool direct_writes = true;           // whole pages of a piece written with O_DIRECT
  storage::factory storage;            // empty: files in save_dir
  std::function<void(std::int64_t, std::int64_t)> on_check_progress;
};

class session {
 public:
  static detailed_result<std::unique_ptr<session>> start(const meta::metainfo& m, session_options opts);
  ~session() { stop(); }
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  torrent_stats stats() const { return *node_->stats(id_); }
  const std::vector<endpoint>& listening() const { return node_->listening(); }
  std::vector<std::pair<std::uint64_t, std::string>> warnings_since(std::uint64_t after) const {
    return node_->warnings_since(id_, after);
  }
  std::vector<std::uint32_t> verified_order() const { return node_->verified_order(id_); }
  // CPU seconds each of its reactors' threads has used.
  std::vector<double> reactor_cpu() const { return node_->io().reactor_cpu; }
  detailed_result<void> save_resume() { return node_->save_resume(id_); }
  detailed_result<void> stop() { return node_ ? node_->stop() : detailed_result<void>{}; }

 private:
  session() = default;
  std::unique_ptr<node> node_;
  torrent_id id_ = 0;
};

}  // namespace sta
