// torrent: the state one torrent's peers share across every reactor. The
// metainfo, file map and open files are immutable after construction; the
// rest is atomic words, so peer connections on any reactor use it without
// locks (DESIGN.md "Concurrency rules"):
//  - the piece picker (claims, availability, what we have);
//  - one assembly buffer per piece being downloaded, installed by CAS on the
//    first block and freed by whoever finishes the piece;
//  - per piece a count of blocks written into it, so exactly one writer
//    learns it wrote the last block and hashes the piece;
//  - who sent each block, to give strikes when a piece fails its hash;
//  - an append-only log of verified pieces, from which every connection
//    sends 'have' at its own pace;
//  - peer slots: a fixed table whose entries a connection publishes its
//    rates and flags into and the home reactor's choker reads and steers;
//  - byte counters and the rate limits of both directions.
// The torrent is created on the control thread before any reactor touches
// it and destroyed after every reactor has stopped.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/bitfield.hpp"
#include "base/rate_limiter.hpp"
#include "meta/file_map.hpp"
#include "meta/metainfo.hpp"
#include "picker/piece_picker.hpp"
#include "reactor/socket.hpp"
#include "storage/file_set.hpp"
#include "wire/codec.hpp"

namespace sta::swarm {

struct limits {
  std::size_t max_peers = 200;              // connections of this torrent
  std::size_t max_queued_requests = 4096;   // from one peer; more is a flood
  std::size_t max_pipeline = 500;           // our requests in flight to one peer
  std::size_t min_pipeline = 16;
  std::uint32_t strikes_to_ban = 3;         // pieces that failed with a peer's blocks in them
  std::int64_t download_rate = 0;           // bytes/s over all connections; 0: unlimited
  std::int64_t upload_rate = 0;
};

// One peer connection's public face. `state` is claimed on the home reactor
// (acquire/release publish `addr`); everything else is written by the
// owning connection and read by the choker, or the other way round
// (`unchoke_wanted`).
struct peer_slot {
  enum : std::uint8_t { free = 0, claimed = 1, connected = 2 };
  std::atomic<std::uint8_t> state{free};
  std::atomic<std::uint32_t> generation{0};  // bumped on release
  endpoint addr;                         // written before state leaves `free`
  bool outgoing = false;

  std::atomic<bool> peer_is_seed{false};
  std::atomic<bool> peer_interested{false};
  std::atomic<bool> snubbed{false};
  std::atomic<bool> unchoke_wanted{false};  // the choker's decision
  std::atomic<bool> banned{false};
  std::atomic<std::uint32_t> strikes{0};
  std::atomic<std::int64_t> down_rate{0};  // payload bytes/s from the peer
  std::atomic<std::int64_t> up_rate{0};    // payload bytes/s to the peer
};

class torrent {
 public:
  // `have`: pieces verified on disk already (resume data or a re-check).
  torrent(const meta::metainfo& m, storage::file_set files, const bitfield& have, const wire::peer_id& self,
          std::uint16_t listen_port, limits lim = {});
  ~torrent();
  torrent(const torrent&) = delete;
  torrent& operator=(const torrent&) = delete;

  const meta::metainfo& meta() const { return meta_; }
  const meta::file_map& map() const { return map_; }
  const storage::file_set& files() const { return files_; }
  picker::piece_picker& picker() { return picker_; }
  const picker::piece_picker& picker() const { return picker_; }
  const limits& lim() const { return limits_; }
  const wire::peer_id& self_id() const { return self_; }
  std::uint16_t listen_port() const { return listen_port_; }
  std::uint32_t piece_count() const { return piece_count_; }
  std::uint32_t block_size(picker::block_ref b) const;
  std::int64_t have_bytes() const;
  // Every piece verified (not just the selected ones).
  bool seed() const { return picker_.have_count() == piece_count_; }

  // Charged by every connection on every reactor: bytes received, bytes sent.
  rate_limiter& download_limiter() { return down_limiter_; }
  rate_limiter& upload_limiter() { return up_limiter_; }

  // Piece assembly. buffer() installs one on first use.
  std::byte* buffer(std::uint32_t piece);
  // The caller has copied one block into the piece's buffer; true for
  // exactly one caller per piece: the one whose block was the last.
  bool block_written(std::uint32_t piece);
  // Frees the buffer and the written count before a failed piece is made
  // requestable again.
  void reset_piece(std::uint32_t piece) { take_buffer(piece); }
  // The same, handing the buffer to the caller (a verified piece moves into
  // the seeding cache).
  std::unique_ptr<std::byte[]> take_buffer(std::uint32_t piece);

  void set_sender(picker::block_ref b, picker::owner_id who);
  // The distinct owners that sent blocks of a piece.
  std::vector<picker::owner_id> senders(std::uint32_t piece) const;

  // The verified-piece log: appended once per piece after it is written.
  void log_verified(std::uint32_t piece);
  // The piece at log position i, if that entry has been published.
  std::optional<std::uint32_t> verified_at(std::size_t i) const;
  std::size_t verified_published() const;

  // Peer slots; owner id = index + 1.
  std::span<peer_slot> slots() { return {slots_.get(), limits_.max_peers}; }
  std::span<const peer_slot> slots() const { return {slots_.get(), limits_.max_peers}; }
  peer_slot& slot(picker::owner_id owner) { return slots_[owner - 1u]; }
  picker::owner_id owner_of(const peer_slot& s) const {
    return static_cast<picker::owner_id>(&s - slots_.get() + 1);
  }
  // Home reactor only.
  peer_slot* claim_slot(const endpoint& addr, bool outgoing);
  // The connection's reactor, when it is over.
  void release_slot(peer_slot& s);

  std::atomic<std::int64_t> downloaded{0};  // payload bytes received and kept
  std::atomic<std::int64_t> uploaded{0};    // payload bytes sent
  std::atomic<std::int64_t> wasted{0};      // duplicate or failed-hash bytes
  std::atomic<std::int64_t> hash_failures{0};
  std::atomic<std::uint32_t> unchoked{0};   // peers we currently unchoke
  std::atomic<bool> stopping{false};

  // The first fatal error (a write failed: disk full, file removed...).
  void fail(std::string why);
  std::optional<std::string> error() const;

 private:
  const meta::metainfo& meta_;
  meta::file_map map_;
  storage::file_set files_;
  picker::piece_picker picker_;
  limits limits_;
  wire::peer_id self_;
  std::uint16_t listen_port_;
  std::uint32_t piece_count_;
  std::uint32_t blocks_per_piece_;
  rate_limiter down_limiter_;
  rate_limiter up_limiter_;

  std::unique_ptr<std::atomic<std::byte*>[]> buffers_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> written_;
  std::unique_ptr<std::atomic<picker::owner_id>[]> senders_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> log_;  // piece + 1; 0 = not yet
  std::atomic<std::size_t> log_reserved_{0};
  std::unique_ptr<peer_slot[]> slots_;

  std::atomic<bool> failed_{false};
  std::atomic<bool> error_ready_{false};
  std::string error_;
};

picker::geometry geometry_of(const meta::metainfo& m);

}  // namespace sta::swarm
