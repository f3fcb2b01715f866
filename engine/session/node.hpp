// node: the process (DESIGN.md layer 7). One reactor group, the listening
// sockets, one peer id, the process-wide connection budget and rate limits,
// and the table of torrents keyed by info-hash: an incoming connection is
// matched to its torrent by the info-hash in its handshake. Torrents are
// added, paused, resumed and removed while it runs; each has a lifecycle
// (swarm/STATE.md) and a home reactor of its own for its control plane
// (swarm::control), spread over the reactors. Checks of existing data run
// one at a time on a worker thread, so adding a torrent never blocks the
// reactors.
//
// Threads: reactor 0 is the node's home; the table and every lifecycle
// lives there. The public calls may be made from any thread that is not a
// reactor (the CLI, the web API's thread, a test); they post to the home
// reactor and wait for its answer (after stop() they read directly).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/endpoint.hpp"
#include "base/error.hpp"
#include "base/latency_histogram.hpp"
#include "base/sha1.hpp"
#include "meta/magnet.hpp"
#include "meta/metainfo.hpp"
#include "session/dht_service.hpp"
#include "storage/storage.hpp"
#include "swarm/lifecycle.hpp"
#include "swarm/torrent.hpp"

namespace sta {

enum class torrent_mode {
  download,  // fetch what is missing, then seed
  seed,      // every piece must verify; serve them
};

struct node_options {
  unsigned threads = 0;                // reactors; 0: one per core
  std::vector<endpoint> listen;        // empty: 0.0.0.0:6881 (or the next free port) and [::] on the same port
  unsigned max_connections = 200;      // peer connections of the process, half-open included
  unsigned max_half_open = 8;          // outgoing connects in progress at once
  std::int64_t download_rate = 0;      // bytes/s over every torrent; 0: unlimited
  std::int64_t upload_rate = 0;
  std::size_t max_active = 0;          // torrents live at once (the rest queue); 0: no cap
  std::string tracker_ip;              // sent to trackers as ip= (behind NAT); empty: not sent
  bool verify_tracker_tls = true;      // false: https trackers' certificates are not checked (self-signed)
  dht_options dht;                     // the Mainline DHT: off unless enabled
  // An incoming peer's handshake must arrive this soon after the accept.
  std::chrono::milliseconds handshake_timeout = peer::limits{}.handshake_timeout;
};

struct torrent_options {
  std::string save_dir;
  std::string state_dir;               // resume records, parts files; empty: SAVE_DIR/.sta
  torrent_mode mode = torrent_mode::download;
  std::vector<endpoint> peers;         // connected to directly
  bool use_trackers = true;
  swarm::limits limits;                // max_peers, per host, its own rates, what one peer may cost...
  // Which files to download, one flag per file; empty: all. Unselected files
  // are not created (see storage::file_set).
  std::vector<bool> selected;
  bool sequential = false;             // pieces in index order (streaming) instead of rarest first
  // An existing file larger than the torrent's that verifies no piece is
  // cut to size only when set; otherwise the check fails (file_larger).
  bool allow_truncate = false;
  // Whole pages of a piece written with O_DIRECT (storage::open_params).
  bool direct_writes = true;
  // Where the data lives; empty: files in save_dir (storage::open_disk).
  storage::factory storage;
  // While checking existing data: bytes hashed so far and total (called
  // on the worker thread).
  std::function<void(std::int64_t, std::int64_t)> on_check_progress;
  bool paused = false;                 // added paused: checked, then left paused
};

using torrent_id = std::uint64_t;

// One torrent as the node sees it: the snapshot that the status line,
// --json and (later) the API and dashboard share.
struct torrent_stats {
  torrent_id id = 0;
  std::string name;
  sha1_digest info_hash;
  swarm::torrent_state state = swarm::torrent_state::checking;
  torrent_mode mode = torrent_mode::download;
  std::int64_t checked = 0;         // while checking: bytes hashed so far
  std::int64_t total = 0;           // bytes in the torrent
  std::size_t files = 0;            // in the torrent, padding files included
  std::int64_t selected_total = 0;  // bytes of the pieces the selected files need
  std::int64_t verified = 0;        // bytes of verified pieces among those
  std::uint32_t pieces = 0;         // pieces the selected files need
  std::uint32_t verified_pieces = 0;
  std::int64_t downloaded = 0;   // payload bytes received since it was added to the node
  std::int64_t uploaded = 0;     // payload bytes sent since it was added to the node
  std::int64_t down_rate = 0;    // payload bytes/s over the last second
  std::int64_t up_rate = 0;
  std::int64_t download_limit = 0;  // its own limits, bytes/s; 0: none
  std::int64_t upload_limit = 0;
  std::size_t max_peers = 0;        // its peer cap
  std::int64_t wasted = 0;
  std::int64_t hash_failures = 0;
  std::int64_t read_errors = 0;     // reads of verified pieces that failed (each re-checked)
  std::int64_t disk_read = 0;       // bytes its storage read (to serve, to check a piece again)
  std::int64_t disk_written = 0;    // bytes of verified pieces its storage wrote
  std::int64_t accept_errors = 0;   // of the node: accepts that failed for want of descriptors or memory
  unsigned peers = 0;               // connected (handshake done)
  unsigned seeds = 0;
  unsigned banned_hosts = 0;
  bool complete = false;            // every selected piece verified
  // Why it is in the error state: the check's or a write's error.
  std::optional<std::string> error;
  error_code code;                  // of that error: the check's (for exit codes); io_error for a write
  // How much trouble the torrent survived so far (warnings_since tells what).
  std::uint64_t warnings = 0;
  std::string tracker_status;        // last announce outcome, for display
  // A magnet link's torrent: false until its metadata arrived; while it
  // fetches, peers connected and those offering metadata, and its size
  // once a peer gave it.
  bool has_metadata = true;
  unsigned metadata_peers = 0;
  std::int64_t metadata_size = 0;
};

// A connected peer of a torrent.
struct peer_stats {
  endpoint address;
  std::string client;        // its extended handshake's name ("libtorrent/2.0.8.0"), else from its peer id
  bool outgoing = false;     // we connected to it
  bool am_choking = true;    // we choke it
  bool am_interested = false;
  bool peer_choking = true;  // it chokes us
  bool peer_interested = false;
  bool snubbed = false;
  bool seed = false;
  std::int64_t down_rate = 0;
  std::int64_t up_rate = 0;
  double progress = 0;       // share of the torrent's pieces it has
};

// The pieces of a torrent for a piece map: one state per piece and how
// many connected peers have it.
struct piece_map {
  enum : std::uint8_t { missing = 0, downloading = 1, have = 2, skipped = 3 };
  std::vector<std::uint8_t> state;
  std::vector<std::uint32_t> availability;
};

struct file_stats {
  std::size_t index = 0;     // in the torrent, as `sta info` numbers the files
  std::string path;          // as `sta info` shows it
  std::int64_t size = 0;
  std::int64_t verified = 0; // bytes of it in verified pieces
  bool selected = true;
};

struct tracker_stats {
  std::string url;
  std::size_t tier = 0;
  std::string last;          // "ok, N peers", the error, or empty before the first announce
  std::int64_t peers = 0;    // peers the last good answer gave
  std::int64_t next_in = -1; // seconds until the next announce (-1: none planned)
};

struct node_stats {
  std::size_t torrents = 0;
  std::size_t fetching = 0;          // magnet links fetching their metadata
  std::size_t live = 0;
  std::size_t checking = 0;
  std::size_t queued = 0;
  std::size_t paused = 0;
  std::size_t errors = 0;
  unsigned connections = 0;          // peer connections, half-open included
  std::int64_t accept_errors = 0;
  std::int64_t down_rate = 0;        // over every torrent, bytes/s
  std::int64_t up_rate = 0;
  std::int64_t downloaded = 0;       // payload bytes since the node started, every torrent
  std::int64_t uploaded = 0;
  std::int64_t download_limit = 0;   // the process's, bytes/s; 0: none
  std::int64_t upload_limit = 0;
};

// The process's storage and reactors, for /metrics.
struct node_io {
  std::int64_t disk_read = 0;      // bytes, every torrent since the start
  std::int64_t disk_written = 0;
  latency_histogram::snapshot read_latency;   // one storage read (a batch of blocks)
  latency_histogram::snapshot write_latency;  // one piece written
  std::vector<double> reactor_cpu;            // CPU seconds each reactor's thread used
  std::uint64_t fixed_ops = 0;                // reads and writes from registered memory (the page arena)
  std::size_t registered_bytes = 0;           // of the page arena, registered with the rings (once for all)
};

class node {
 public:
  // Listens and starts the reactors; no torrent yet.
  static detailed_result<std::unique_ptr<node>> start(node_options opts);
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // The addresses listened on, ports resolved.
  const std::vector<endpoint>& listening() const { return listening_; }

  // Adds a torrent; its data is checked on the worker thread, then it goes
  // live (or queues behind max_active). Refused: an info-hash the node has
  // already (exists), a selection that does not fit (bad_value).
  detailed_result<torrent_id> add(meta::metainfo m, torrent_options o);
  // Adds a torrent from a magnet link: it starts fetching its metadata
  // (fetching_metadata) from the magnet's peers (x.pe), o.peers and the
  // peers its trackers (unless !o.use_trackers) and PEX give, then is
  // checked and runs like any other. The fetched metadata is saved in the
  // state directory; a magnet whose metadata was saved before starts from
  // it. The torrent's name is the magnet's dn (else its info-hash) until
  // then. Refused: a file selection (no file list yet), an info-hash the
  // node has already.
  detailed_result<torrent_id> add_magnet(const meta::magnet& m, torrent_options o);
  // The torrent's .torrent file (as fetched, or built around the info
  // dictionary it was added with); nullopt before it has its metadata.
  std::optional<std::string> torrent_file(torrent_id id) const;

  // Lifecycle events (swarm/STATE.md); an event the state does not take is
  // refused with bad_state and the state it is in.
  detailed_result<void> pause(torrent_id id);
  detailed_result<void> resume(torrent_id id);
  // Gone at once from the table's listings; its files are deleted too when
  // `with_data` (once its connections have ended).
  detailed_result<void> remove(torrent_id id, bool with_data);
  // Its own rate limits (bytes/s, 0: none), at once and for the rest of
  // its life (a check again after an error keeps them).
  detailed_result<void> set_rate_limits(torrent_id id, std::int64_t download, std::int64_t upload);
  // Its peer cap (connections, connecting ones included; at most the
  // process's count), at once and for the rest of its life: when lowered,
  // the connections above it that give and take the least are closed.
  detailed_result<void> set_max_peers(torrent_id id, std::size_t max_peers);
  // Which files to download (one flag per file; download mode only). It
  // takes effect by opening the torrent's storage again: a live torrent
  // stops, saves its resume record and is checked again, which trusts
  // every verified piece and moves the bytes of pieces shared with a file
  // whose selection changed between that file and the parts file (nothing
  // verified is fetched again), then goes on in the state it was in.
  // Refused while a check is in flight (bad_state, "checking").
  detailed_result<void> set_selection(torrent_id id, std::vector<bool> selected);
  // Blocks until the torrent's check (if one is in flight) has ended; the
  // check's error if it failed.
  detailed_result<void> wait_checked(torrent_id id);
  // Blocks until the torrent is gone from the node (after remove()).
  void wait_removed(torrent_id id);

  std::optional<torrent_stats> stats(torrent_id id) const;
  std::vector<torrent_stats> torrents() const;
  std::optional<torrent_id> find(const sha1_digest& info_hash) const;
  node_stats totals() const;
  // The DHT's figures (enabled false when it is off or the node stopped).
  dht_stats dht() const;
  // Bytes held by the reactors' block caches (blocks read to serve).
  std::size_t cached_bytes() const;
  // Disk and reactor figures of the process (empty once stopped).
  node_io io() const;
  // Details of one torrent; empty (or nullopt) for an unknown id or one
  // not checked yet.
  std::vector<peer_stats> peers(torrent_id id) const;
  std::optional<piece_map> pieces(torrent_id id) const;
  std::vector<file_stats> files(torrent_id id) const;
  std::vector<tracker_stats> trackers(torrent_id id) const;

  // The latest warnings of a torrent numbered above `after` (numbers from
  // 1; the last few are kept): trouble it survives, like a failed read.
  std::vector<std::pair<std::uint64_t, std::string>> warnings_since(torrent_id id, std::uint64_t after) const;
  // The pieces it verified during this run, in the order they were verified.
  std::vector<std::uint32_t> verified_order(torrent_id id) const;
  // Flushes its data and records which pieces are verified, so the next
  // start trusts them. Blocking; nothing to do before its check passed.
  detailed_result<void> save_resume(torrent_id id);

  // Announces 'stopped' for every live torrent (for at most a few seconds),
  // stops the reactors and saves every checked torrent's resume record;
  // the first error of those. Idempotent.
  detailed_result<void> stop();

  struct core;  // the home reactor's state (node.cpp)

 private:
  node() = default;

  std::vector<endpoint> listening_;
  std::vector<unique_fd> listen_fds_;
  std::unique_ptr<core> core_;
  bool stopped_ = false;
  detailed_result<void> stop_result_;
};

}  // namespace sta
