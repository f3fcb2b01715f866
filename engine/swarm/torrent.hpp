// torrent: the state one torrent's peers share across every reactor. The
// metainfo, geometry, storage and selection are fixed after construction;
// the rest is atomic words, so peer connections on any reactor use it
// without locks (DESIGN.md "Concurrency rules"):
//  - the piece picker (claims, availability, what we have) and the log of
//    verified pieces, from which every connection sends 'have';
//  - one assembly buffer per piece being downloaded, installed by CAS on the
//    first block and freed by whoever finishes the piece;
//  - per piece a count of blocks written into it, so exactly one writer
//    learns it wrote the last block and finishes the piece;
//  - who sent each block, and which pieces failed with blocks of several
//    peers (suspects), so a host is struck only for blocks it got wrong;
//  - peer slots: a table (made as peers come, up to the process's
//    connection cap) whose entries a connection publishes its rates and
//    flags into and the home reactor's choker reads and steers, and the
//    torrent's own peer cap, which may change while it runs;
//  - byte counters and the rate limits of both directions;
//  - a count of the work running on its behalf (connections, piece tasks,
//    its control loops), so the node frees it, or starts it again after a
//    pause, only once nothing of it runs anywhere.
// It is the torrent_io its connections reach it through (peer_loop.hpp).
// Created by the node on its home reactor once the data is checked; freed
// there when its work count is zero, or after every reactor has stopped.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/bitfield.hpp"
#include "base/endpoint.hpp"
#include "base/page_buffer.hpp"
#include "base/piece_geometry.hpp"
#include "base/rate_limiter.hpp"
#include "base/sha1.hpp"
#include "meta/file_map.hpp"
#include "meta/metainfo.hpp"
#include "peer/limits.hpp"
#include "peer/peer_loop.hpp"
#include "peer/peer_slot.hpp"
#include "peer/slot_table.hpp"
#include "peer/torrent_view.hpp"
#include "picker/piece_picker.hpp"
#include "picker/verified_log.hpp"
#include "storage/storage.hpp"
#include "wire/codec.hpp"

namespace sta::io {
class reactor_group;
}

namespace sta::swarm {

struct limits {
  peer::limits peer;                        // what one connection may cost
  std::size_t max_peers = 200;              // connections of this torrent
  std::size_t max_per_host = 4;             // connections from one IP address
  std::uint32_t strikes_to_ban = 3;         // pieces a host sent bad blocks of
  std::int64_t download_rate = 0;           // bytes/s over all connections; 0: unlimited
  std::int64_t upload_rate = 0;
};

// What the torrents of one process share, owned by the node and outliving
// them: the connection budget and the process-wide rate limits.
struct shared_limits {
  shared_limits(unsigned connections, unsigned half_open, std::int64_t download_rate, std::int64_t upload_rate)
      : max_connections(connections), max_half_open(half_open), download(download_rate), upload(upload_rate) {}
  const unsigned max_connections;  // peer connections of the process, half-open included
  const unsigned max_half_open;    // outgoing connects in progress at once
  std::atomic<unsigned> connections{0};
  std::atomic<unsigned> half_open{0};
  rate_limiter download;
  rate_limiter upload;
};

// What the hash of a piece says about the hosts that sent its blocks, for
// the home reactor to turn into strikes (session.cpp). A failed piece
// lists each block's sender with a digest of what it sent; a passed piece
// that had failed before (a suspect) lists the digests of the good blocks.
struct piece_verdict {
  struct block {
    std::uint32_t index;
    host_key host;
    sha1_digest digest;
  };
  std::uint32_t piece = 0;
  bool passed = false;
  std::vector<block> blocks;
};

class torrent final : public peer::torrent_io {
 public:
  // `have`: pieces verified already; `wanted`: pieces the file selection
  // needs (all, without a selection).
  torrent(const meta::metainfo& m, std::unique_ptr<storage::storage> store, const bitfield& have,
          const bitfield& wanted, const wire::peer_id& self, std::uint16_t listen_port, limits lim,
          shared_limits& process);
  ~torrent() override;
  torrent(const torrent&) = delete;
  torrent& operator=(const torrent&) = delete;

  // torrent_io, for the connections.
  peer::torrent_view view() override {
    return {&geo_,
            &picker_,
            &log_,
            &limits_.peer,
            &counters_,
            meta_.is_private ? std::string_view() : meta_.info_bytes,
            meta_.is_private ? nullptr : &pex_,
            meta_.is_private ? std::uint16_t{0} : dht_port_};
  }
  void learned_peers(std::vector<endpoint> peers) override {
    if (on_peers) on_peers(std::move(peers));
  }
  void dht_node(const endpoint& node) override {
    if (on_dht_node) on_dht_node(node);
  }
  // Before it starts: the node's DHT port (0: no DHT) and where the DHT
  // nodes its peers name go (any reactor calls it).
  void set_dht(std::uint16_t port, std::function<void(const endpoint&)> on_node) {
    dht_port_ = port;
    on_dht_node = std::move(on_node);
  }
  std::uint16_t dht_port() const { return meta_.is_private ? 0 : dht_port_; }
  // Before it starts: the reactors its connections run on, which also hash
  // runs of blocks that landed out of order and are told when it stops
  // (null: every block is hashed where it lands or where the run it ends
  // does; connections notice a stop at their next receive deadline).
  void set_hashers(io::reactor_group* group) { hashers_ = group; }
  io::reactor_group* hashers() const { return hashers_; }
  rate_limits download_limits() override { return {down_limiter_, process_.download}; }
  rate_limits upload_limits() override { return {up_limiter_, process_.upload}; }
  // Its own limits (bytes/s, 0: none), changed while it runs (any thread).
  void set_rates(std::int64_t download, std::int64_t upload) {
    down_limiter_.set_rate(download);
    up_limiter_.set_rate(upload);
  }
  std::int64_t download_rate_limit() const { return down_limiter_.rate(); }
  std::int64_t upload_rate_limit() const { return up_limiter_.rate(); }
  std::uint16_t listen_port() const override { return listen_port_; }
  bool stopping() const override { return stopping_.load(std::memory_order_acquire); }
  void store(io::reactor& r, const peer::block_in& b, picker::owner_id from) override;
  std::span<std::byte> block_place(piece_index p, block_index b) override {
    return {buffer(p) + b.offset(), geo_.block_size(p, b)};
  }
  void landed_in_place(io::reactor& r, piece_index p, block_index b, picker::owner_id from) override;
  io::task<void> serve(io::reactor& r, std::span<const peer::upload> batch, peer::send_list& frames,
                       std::vector<peer::upload>& failed) override;

  const meta::metainfo& meta() const { return meta_; }
  const piece_geometry& geo() const { return geo_; }
  picker::piece_picker& picker() { return picker_; }
  const picker::piece_picker& picker() const { return picker_; }
  const picker::verified_log& log() const { return log_; }
  const limits& lim() const { return limits_; }
  const wire::peer_id& self_id() const { return self_; }
  shared_limits& process() { return process_; }
  storage::storage& store() { return *store_; }
  peer::torrent_counters& counters() { return counters_; }
  const peer::torrent_counters& counters() const { return counters_; }
  // Process-unique: keys this torrent's entries in per-reactor caches.
  std::uint64_t uid() const { return uid_; }
  bool wanted(std::uint32_t piece) const { return wanted_.test(piece); }
  std::int64_t have_bytes() const;
  // Every piece verified (not just the selected ones).
  bool seed() const { return picker_.have_count() == geo_.piece_count(); }

  // Piece assembly. buffer() installs one on first use, not zeroed, as
  // every block is written in before the piece is read, and placed for
  // O_DIRECT: at the start of a page, or, where the piece spans files, as
  // far into one as puts the largest slice's bytes at the same place in a
  // page as in its file, so that they go to disk without a bounce copy.
  std::byte* buffer(piece_index p);
  // Block b of p is in its buffer (received there or copied), from `from`.
  void landed(piece_index p, std::uint32_t b, picker::owner_id from);
  // A piece is hashed as its blocks land, in order, by one thread at a
  // time: the one holding its hashing turn. take_turn() is false while
  // another thread holds it; that one then also hashes what lands meanwhile.
  bool take_turn(piece_index p);
  // With the turn: how many landed blocks follow the ones hashed so far.
  std::uint32_t landed_ahead(piece_index p) const;
  // With the turn: hashes the `ahead` blocks landed_ahead() counted. Once
  // the last block is in the hash, whether the piece matches its SHA-1; the
  // turn is then kept until its buffer goes (drop_buffer, share_buffer).
  std::optional<bool> hash_landed(piece_index p, std::uint32_t ahead);
  // Gives the turn back; true if a block landed at the hashing point
  // meanwhile and the turn was taken again, so the caller goes on hashing.
  bool give_turn(piece_index p);
  // A finished piece's buffer, and its hashing state, go: back to this
  // thread's pool, or into shared ownership (the block cache) that gives
  // it to the pool of the thread that drops it last.
  void drop_buffer(piece_index p);
  std::shared_ptr<const std::byte[]> share_buffer(piece_index p);
  // After a piece is written: 'have' for it goes out.
  void log_verified(piece_index p) { log_.append(p.value()); }
  // The connection that sent a block (0: none yet, in this try of the piece).
  picker::owner_id sender(piece_index p, block_index b) const;
  // A piece failed with blocks from several hosts: its next pass is
  // compared block by block (exchange: true for the one caller that clears it).
  void mark_suspect(piece_index p) { suspect_[p.value()].store(true, std::memory_order_release); }
  bool take_suspect(piece_index p) { return suspect_[p.value()].exchange(false, std::memory_order_acq_rel); }

  // Peer slots; owner id = index + 1.
  const peer::slot_table& slots() const { return slots_; }
  peer::peer_slot& slot(picker::owner_id owner) { return slots_[owner - 1u]; }
  picker::owner_id owner_of(const peer::peer_slot& s) const { return static_cast<picker::owner_id>(s.index + 1); }
  // Home reactor only: a slot for a new connection, while fewer than the
  // peer cap are taken. Counts in the process's connection budget.
  peer::peer_slot* claim_slot(const endpoint& addr, bool outgoing);
  // Its peer cap (connections, connecting ones included), changed while it
  // runs (any thread); the home reactor closes what is above it
  // (control.cpp). At most the process's connection cap counts.
  void set_max_peers(std::size_t n) { max_peers_.store(n, std::memory_order_relaxed); }
  std::size_t max_peers() const { return max_peers_.load(std::memory_order_relaxed); }
  // The connection's reactor, when it is over.
  void release_slot(peer::peer_slot& s);

  // Work running on the torrent's behalf holds one of these for its whole
  // life (moved into the coroutine's frame before it starts).
  class work_guard {
   public:
    explicit work_guard(torrent& t) : t_(&t) { t.work_.fetch_add(1, std::memory_order_relaxed); }
    work_guard(work_guard&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
    work_guard& operator=(work_guard&&) = delete;
    ~work_guard() {
      if (t_) t_->work_.fetch_sub(1, std::memory_order_release);
    }

   private:
    torrent* t_;
  };
  work_guard hold() { return work_guard(*this); }
  // Nothing runs for it: it may be freed, or started again.
  bool drained() const { return work_.load(std::memory_order_acquire) == 0; }

  // Set before the reactors start: where piece verdicts go (any reactor
  // calls it; it must hand them to the home reactor).
  std::function<void(piece_verdict)> on_verdict;
  // Likewise for peers its connections learnt by peer exchange.
  std::function<void(std::vector<endpoint>)> on_peers;
  // Its connected peers as peer exchange tells them (the home reactor
  // writes it); unused for a private torrent.
  peer::pex_board& pex() { return pex_; }

  std::atomic<std::int64_t> hash_failures{0};
  std::atomic<std::int64_t> read_errors{0};
  // Its connections end at once (on every reactor of set_hashers' group).
  void stop();
  // After a pause, once drained: connections may start again.
  void restart() { stopping_.store(false, std::memory_order_release); }

  // The first fatal error (a write failed: disk full, file removed...);
  // the torrent stops.
  void fail(std::string why);
  std::optional<std::string> error() const;
  // Trouble the torrent survives (a read failed, the piece is re-checked),
  // numbered from 1 so the node shows each once; the latest few are kept.
  void warn(std::string what);
  std::uint64_t warnings() const;
  std::vector<std::pair<std::uint64_t, std::string>> warnings_since(std::uint64_t after) const;

 private:
  const meta::metainfo& meta_;
  piece_geometry geo_;
  std::unique_ptr<storage::storage> store_;
  bitfield wanted_;
  picker::piece_picker picker_;
  picker::verified_log log_;
  limits limits_;
  wire::peer_id self_;
  std::uint16_t listen_port_;
  std::uint16_t dht_port_ = 0;
  std::function<void(const endpoint&)> on_dht_node;
  std::uint64_t uid_;
  std::uint32_t blocks_per_piece_;
  rate_limiter down_limiter_;
  rate_limiter up_limiter_;
  peer::torrent_counters counters_;
  shared_limits& process_;
  std::atomic<int> work_{0};

  // Where buffer() places piece p in its allocation (0 for one file).
  std::size_t buffer_shift(piece_index p) const;
  // The page a placed buffer starts in: its allocation, which is page
  // aligned (the shift is less than a page). Needs no metainfo, which may
  // be gone when the torrent is destroyed.
  static std::byte* allocation_of(std::byte* placed) {
    return placed - reinterpret_cast<std::uintptr_t>(placed) % kPageSize;
  }
  page_buffer take_buffer(piece_index p);

  io::reactor_group* hashers_ = nullptr;
  std::optional<meta::file_map> files_;  // several files only
  std::size_t buffer_extra_ = 0;         // bytes allocated past a piece's size, for buffer_shift()
  std::unique_ptr<std::atomic<std::byte*>[]> buffers_;
  // Per piece: blocks hashed, the hashing turn, and the hash so far (used
  // with the turn only).
  std::unique_ptr<std::atomic<std::uint32_t>[]> hashed_;
  std::unique_ptr<std::atomic<bool>[]> turn_;
  std::unique_ptr<std::unique_ptr<sha1_hasher>[]> partial_;
  std::unique_ptr<std::atomic<picker::owner_id>[]> senders_;
  std::unique_ptr<std::atomic<bool>[]> suspect_;
  peer::slot_table slots_;
  std::atomic<std::size_t> max_peers_;
  peer::pex_board pex_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> failed_{false};
  std::atomic<bool> error_ready_{false};
  std::string error_;
  mutable std::mutex warning_mutex_;
  std::uint64_t warnings_ = 0;
  std::deque<std::pair<std::uint64_t, std::string>> recent_warnings_;
};

}  // namespace sta::swarm
