// session: the engine's public face, the one header tools/ includes for
// downloading and seeding. A session runs one torrent on a group of
// reactors (one per core by default): reactor 0 is its home (listening,
// connecting, announcing, choking), and peer connections are spread over
// all of them. start() and stop() are called from one control thread and
// block; stats() may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "meta/metainfo.hpp"
#include "reactor/socket.hpp"
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
  std::vector<endpoint> listen;    // empty: 0.0.0.0:6881 (or the next free port) and [::] on the same port
  std::vector<endpoint> peers;     // connected to directly
  bool use_trackers = true;
  std::string tracker_ip;              // sent to trackers as ip= (behind NAT); empty: not sent
  swarm::limits limits;                // max_peers, rates...
  unsigned max_connections = 200;      // peer connections of the process, half-open included
  unsigned max_half_open = 8;          // outgoing connects in progress at once
  // Which files to download, one flag per file; empty: all. Unselected files
  // are not created (see storage::file_set).
  std::vector<bool> selected;
  bool sequential = false;             // pieces in index order (streaming) instead of rarest first
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
  unsigned peers = 0;            // connected (handshake done)
  unsigned seeds = 0;
  bool complete = false;          // every selected piece verified
  std::optional<std::string> error;  // fatal: the torrent stopped
  std::string tracker_status;        // last announce outcome, for display
};

class session {
 public:
  // Checks the data in save_dir (trusting a matching resume file, else
  // hashing on every core), opens or creates the files, starts the
  // reactors, listens, and starts announcing and connecting.
  static detailed_result<std::unique_ptr<session>> start(const meta::metainfo& m, session_options opts);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  session_stats stats() const;
  // The addresses listened on, ports resolved.
  const std::vector<endpoint>& listening() const { return listening_; }

  // The pieces verified during this run, in the order they were verified.
  std::vector<std::uint32_t> verified_order() const;

  // Writes the resume file: which pieces are verified, with the files'
  // sizes and mtimes after flushing them to disk. Blocking.
  detailed_result<void> save_resume();

  // Announces 'stopped' (for at most a few seconds), stops every reactor,
  // and writes the resume file. Idempotent.
  void stop();

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
};

}  // namespace sta
