// session: the engine's public face, the one header tools/ includes for
// downloading and seeding. A session runs one torrent on a group of
// reactors (one per core by default): reactor 0 is its home (listening,
// handshakes, connecting, announcing, choking, strikes and bans), and peer
// connections are spread over all of them once their handshake is done.
// start() and stop() are called from one control thread and block;
// stats() may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/endpoint.hpp"
#include "base/error.hpp"
#include "meta/metainfo.hpp"
#include "storage/storage.hpp"
#include "swarm/torrent.hpp"

namespace sta::io {
class reactor_group;
}

namespace sta {

enum class torrent_mode {
  download,  // fetch what is missing, then seed
  seed,      // every piece must verify; serve them
};

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
  // Which files to download, one flag per file; empty: all. Unselected files
  // are not created (see storage::file_set).
  std::vector<bool> selected;
  bool sequential = false;             // pieces in index order (streaming) instead of rarest first
  // An existing file larger than the torrent's that verifies no piece is
  // cut to size only when set; otherwise start() refuses (file_larger).
  bool allow_truncate = false;
  // Where the data lives; empty: files in save_dir (storage::open_disk).
  storage::factory storage;
  // While checking existing data at start: bytes hashed so far and total.
  std::function<void(std::int64_t, std::int64_t)> on_check_progress;
};

struct session_stats {
  std::int64_t total = 0;           // bytes in the torrent
  std::int64_t selected_total = 0;  // bytes of the pieces the selected files need
  std::int64_t verified = 0;        // bytes of verified pieces among those
  std::uint32_t pieces = 0;         // pieces the selected files need
  std::uint32_t verified_pieces = 0;
  std::int64_t downloaded = 0;   // payload bytes received this run
  std::int64_t uploaded = 0;     // payload bytes sent this run
  std::int64_t wasted = 0;
  std::int64_t hash_failures = 0;
  std::int64_t read_errors = 0;     // reads of verified pieces that failed (each re-checked)
  std::int64_t accept_errors = 0;   // accepts that failed for want of descriptors or memory
  unsigned peers = 0;               // connected (handshake done)
  unsigned seeds = 0;
  unsigned banned_hosts = 0;
  bool complete = false;            // every selected piece verified
  std::optional<std::string> error;  // fatal: the torrent stopped
  // How much trouble the torrent survived so far (warnings_since tells what).
  std::uint64_t warnings = 0;
  std::string tracker_status;        // last announce outcome, for display
};

class session {
 public:
  // Opens the storage (for files: trusting a matching resume record, else
  // hashing on every core; creating what is missing to download), starts
  // the reactors, listens, and starts announcing and connecting.
  static detailed_result<std::unique_ptr<session>> start(const meta::metainfo& m, session_options opts);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  session_stats stats() const;
  // The addresses listened on, ports resolved.
  const std::vector<endpoint>& listening() const { return listening_; }

  // The latest warnings numbered above `after` (numbers from 1; the last
  // few are kept): trouble the torrent survives, like a failed read.
  std::vector<std::pair<std::uint64_t, std::string>> warnings_since(std::uint64_t after) const {
    return torrent_->warnings_since(after);
  }

  // The pieces verified during this run, in the order they were verified.
  std::vector<std::uint32_t> verified_order() const;

  // Flushes the data and records which pieces are verified, so the next
  // start trusts them. Blocking.
  detailed_result<void> save_resume();

  // Announces 'stopped' (for at most a few seconds), stops every reactor,
  // and saves the resume record; its error, if that failed. Idempotent.
  detailed_result<void> stop();

  struct control;  // the home reactor's state (session.cpp)

 private:
  session() = default;

  const meta::metainfo* meta_ = nullptr;
  session_options opts_;
  std::vector<endpoint> listening_;
  std::vector<unique_fd> listen_fds_;
  std::unique_ptr<swarm::torrent> torrent_;
  std::unique_ptr<control> control_;
  std::unique_ptr<io::reactor_group> group_;
  // Fixed at start: the selection's size, and what was verified already of
  // pieces outside it (seeded, but not part of the selection's progress).
  std::int64_t selected_total_ = 0;
  std::uint32_t selected_pieces_ = 0;
  std::int64_t unselected_have_bytes_ = 0;
  std::uint32_t unselected_have_pieces_ = 0;
  bool stopped_ = false;
  detailed_result<void> stop_result_;
};

}  // namespace sta
