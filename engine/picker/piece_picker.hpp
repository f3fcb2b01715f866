// The piece picker of one torrent, shared by the peers of that torrent on
// every reactor. Lock-free: every call may run on any thread concurrently
// with every other (except the constructor and destructor); all shared
// state is atomic words changed by compare-and-swap. It sees plain data
// (bitfields, owner ids, block references), never peers or sockets. Its
// states and transitions are in STATE.md beside this header.
//
// What it decides: which blocks a peer should request next. Rarest first
// (availability counted from bitfields, 'have's and seeds) with a random
// tie-break; pieces already partly requested first; a fast peer claims a
// whole free piece for itself, a slow one shares pieces block by block;
// endgame (no unrequested block left that the peer could get) hands out
// blocks already requested by others, and the caller cancels the
// duplicates when the first copy arrives. Optional sequential order.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/bitfield.hpp"
#include "base/piece_geometry.hpp"

namespace sta::picker {

struct block_ref {
  std::uint32_t piece = 0;
  std::uint32_t block = 0;  // offset / 16 KiB
  friend bool operator==(const block_ref&, const block_ref&) = default;
};

// Identifies a peer connection to the picker (whole-piece claims). 0 means
// "nobody"; the torrent hands out ids 1..65535 and reuses them only after
// release_owner().
using owner_id = std::uint16_t;

struct geometry {
  std::uint32_t piece_count = 0;
  std::uint32_t blocks_per_piece = 0;      // piece_length / 16 KiB, rounded up
  std::uint32_t blocks_in_last_piece = 0;  // 1..blocks_per_piece

  static geometry of(const piece_geometry& g) {
    if (g.piece_count() == 0) return {0, g.blocks_per_piece(), 0};
    return {g.piece_count(), g.blocks_per_piece(), g.blocks_in(*g.piece(g.piece_count() - 1))};
  }
};

class piece_picker {
 public:
  explicit piece_picker(geometry g, std::uint64_t seed = 0);
  ~piece_picker();
  piece_picker(const piece_picker&) = delete;
  piece_picker& operator=(const piece_picker&) = delete;

  std::uint32_t piece_count() const;
  std::uint32_t blocks_in(std::uint32_t piece) const;

  // Availability. A peer that has everything (have_all, or a full bitfield)
  // is counted with add_seed() instead of once per piece.
  void add_peer(const bitfield& has);
  void remove_peer(const bitfield& has);
  void add_have(std::uint32_t piece);
  // The peer no longer has a piece it announced (lt_donthave).
  void remove_have(std::uint32_t piece);
  void add_seed();
  void remove_seed();
  std::uint32_t availability(std::uint32_t piece) const;  // seeds included

  // What we have (verified and written, and readable as far as we know).
  bool have(std::uint32_t piece) const;
  std::uint32_t have_count() const;
  // Every wanted piece is ours: nothing left to download.
  bool complete() const;
  bitfield have_bits() const;
  // At start, from resume data or a re-verify: no claims exist yet.
  void mark_have(std::uint32_t piece);

  // File selection, at start before any pick: the piece is not wanted and
  // is never picked (a piece we already have stays ours to seed).
  void skip(std::uint32_t piece);
  bool skipped(std::uint32_t piece) const;
  // Neither have nor skipped: still to be downloaded.
  bool wanted(std::uint32_t piece) const;
  // Some of its blocks are requested or received, or it is being hashed or
  // checked again (for display).
  bool in_progress(std::uint32_t piece) const;

  // Pieces in index order instead of rarest first.
  void set_sequential(bool on);

  // Appends to out up to `max` blocks that a peer should request next and
  // marks them requested. `has` is the peer's bitfield (nullptr: the peer is
  // a seed). `whole_piece`: when a new piece must be started, claim it for
  // `owner` alone (fast peers); otherwise share it. `in_flight` is what this
  // peer has requested and not yet received: endgame never hands the same
  // block to the same peer twice. Returns how many were appended.
  std::size_t pick(const bitfield* has, owner_id owner, bool whole_piece, std::size_t max,
                   std::span<const block_ref> in_flight, std::vector<block_ref>& out);

  // Like pick(), but only from `pieces` (which the peer has), in that
  // order, and never in endgame: O(the pieces given), for a peer that just
  // announced them.
  std::size_t pick_from(std::span<const std::uint32_t> pieces, owner_id owner, bool whole_piece, std::size_t max,
                        std::vector<block_ref>& out);

  // True once some pick had to hand out an already-requested block.
  bool in_endgame() const;

  enum class receipt {
    duplicate,       // already received (endgame): drop the data
    accepted,        // first copy of this block: keep the data
    piece_complete,  // first copy, and the last block of its piece: hash it
  };
  // Exactly one caller gets `accepted`/`piece_complete` per block until
  // on_hash_failed() frees the piece again.
  receipt on_block(block_ref b);

  // on_block in two steps, for a block received straight into its piece:
  // reserve() before its bytes may arrive, true for the one caller that
  // may then write them (every other copy is a duplicate from now on);
  // land() once they are all in (accepted or piece_complete). A reserved
  // block that will not land is given up with unreserve(): unreceived
  // again, whatever its bytes in the piece are now, and still requested
  // (the caller still waits for it, or on_abort()s it after).
  bool reserve(block_ref b);
  receipt land(block_ref b);
  void unreserve(block_ref b);

  // Whether some peer's copy of the block has been accepted (endgame: the
  // others cancel theirs).
  bool received(block_ref b) const;

  // A requested block that will not arrive from this peer (rejected, timed
  // out, peer choked or gone): requestable again unless already received.
  void on_abort(block_ref b);
  // The peer `owner` is gone: its whole-piece claims become shared pieces
  // (their unreceived blocks must have been on_abort()ed by the caller).
  void release_owner(owner_id owner);
  // `owner` will not fetch the piece after all (the peer rejected a block
  // of it, choked us or stopped answering): if it claimed the piece, the
  // piece is shared now, so that other peers may take its blocks.
  void release_claim(std::uint32_t piece, owner_id owner);
  // Whether `owner` has claimed the piece whole (and it is not complete).
  bool claimed_by(std::uint32_t piece, owner_id owner) const;

  // After piece_complete: the hash passed and the data is written...
  void on_hash_passed(std::uint32_t piece);
  // ...or it failed: every block of the piece is unrequested again.
  void on_hash_failed(std::uint32_t piece);

  // A piece we have could not be read back: it is neither had nor
  // pickable until it is checked again. `wanted`: whether the selection
  // wants it (then it counts as missing). True for the one caller that
  // moved it out of `have`.
  bool on_lost(std::uint32_t piece, bool wanted);
  // The check after on_lost: had again, or to be downloaded again (wanted)
  // or left alone (not selected).
  void on_rechecked(std::uint32_t piece, bool passed, bool wanted);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sta::picker
