// peer_state: the BitTorrent peer protocol of one connection, apart from
// its socket (STYLE rule 3). It is fed the peer's handshake, each decoded
// message and the clock, and answers with what to do: frames to send (kept
// in its outbox), a received block to store, requests of the peer's to
// serve (next_upload), and, as an error, the reason to close. It sees the
// torrent only through a torrent_view (picker, geometry, verified log,
// limits, counters) and its own peer_slot; never a socket, a reactor or a
// file. Every limit on what a peer may cost is enforced here (peer/limits):
// no input costs more than O(1) or O(its own size), and nothing it queues
// grows without bound. peer_loop (peer_loop.hpp) is the coroutine that
// moves bytes between a socket and this.
//
// One connection's thread only; the destructor gives back what the peer
// held in the torrent (picker claims and requests, its availability, its
// unchoke).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/bitfield.hpp"
#include "base/piece_geometry.hpp"
#include "base/result.hpp"
#include "peer/extensions.hpp"
#include "peer/peer_slot.hpp"
#include "peer/torrent_view.hpp"
#include "wire/codec.hpp"

namespace sta::peer {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;

// A request of the peer's to serve: `length` bytes at `offset` in `piece`.
struct upload {
  piece_index piece;
  std::uint32_t offset;
  std::uint32_t length;
  friend bool operator==(const upload&, const upload&) = default;
};

// A block the peer sent that we asked for and nobody delivered first: copy
// it into its piece (payload, then payload_tail; views into the input).
struct block_in {
  piece_index piece;
  block_index block;
  std::span<const std::byte> payload;
  std::span<const std::byte> payload_tail;
};

class peer_state {
 public:
  // `owner`: this connection's id in the picker (its slot's).
  peer_state(torrent_view t, peer_slot& slot, picker::owner_id owner, time_point now);
  ~peer_state();
  peer_state(const peer_state&) = delete;
  peer_state& operator=(const peer_state&) = delete;

  // Both handshakes have been exchanged: queues our extended handshake
  // (when the peer speaks BEP 10) and what we have.
  void start(const wire::handshake& theirs, std::uint16_t listen_port, time_point now);

  // One message from the peer; an error is the reason to close.
  result<std::optional<block_in>> on_message(const wire::message& m, time_point now);

  // After each batch of messages, and at least once a second: the timers
  // (rates, idle, snubbing, keep-alive), 'have's, endgame cancels, our
  // choke and interest, and new requests. An error is the reason to close.
  result<void> update(time_point now);

  // Receiving in place (peer_loop): a block's bytes go straight into its
  // piece when they come in the order we asked for them. Our requests,
  // oldest first: the order the peer normally answers them in.
  std::span<const picker::block_ref> requests() const { return in_flight_; }
  // Before bytes of one of our requests may be received into its piece:
  // true when this connection alone may write them (never in endgame, so
  // that a reservation never holds back another peer's first copy).
  // Every reservation ends in on_block_in_place(), or in unreserve() when
  // the block did not come as guessed (it stays requested from the peer).
  bool reserve(const picker::block_ref& b);
  void unreserve(const picker::block_ref& b);
  // The header of reserved block b came and its payload follows on the
  // wire. If b's request is given up before it is all in (the peer
  // stopped answering), it is unreserved and arriving() no longer names
  // it: the rest of its bytes are not ours to write.
  void arriving(const picker::block_ref& b) { arriving_ = b; }
  std::optional<picker::block_ref> arriving() const { return arriving_; }
  // Every byte of reserved block b is in its piece: true when it is kept
  // (then its piece has it), false when it was no longer asked for (then
  // it is unreserved, and requestable again).
  bool on_block_in_place(const picker::block_ref& b, time_point now);

  // The writer's side. Frames queued so far, appended to `out`.
  void take_frames(std::vector<std::byte>& out);
  // The next request to serve, while we do not choke the peer.
  std::optional<upload> next_upload();
  // A read for an upload failed: the peer gets a reject (and lt_donthave).
  void upload_failed(const upload& u);
  // After a send: `payload` bytes of blocks went out.
  void sent(std::size_t payload, time_point now);
  bool wants_to_send() const { return !frames_.empty() || (!am_choking_ && live_uploads_ > 0); }

  // State, for tests, the fuzzer and the loop.
  bool am_choking() const { return am_choking_; }
  bool am_interested() const { return am_interested_; }
  bool peer_choking() const { return peer_choking_; }
  bool peer_interested() const { return peer_interested_; }
  bool peer_is_seed() const { return peer_seed_; }
  bool fast() const { return fast_; }
  std::size_t frames_queued() const { return frames_.size(); }
  std::size_t uploads_queued() const { return live_uploads_; }
  // Entries kept for them, cancelled ones included (bounded too).
  std::size_t upload_entries() const { return uploads_.size(); }
  std::size_t requests_in_flight() const { return in_flight_.size(); }
  std::size_t outbox_limit() const { return outbox_limit_; }
  std::size_t peer_reqq() const { return peer_reqq_; }
  std::uint8_t peer_extension_id(extension e) const { return extensions_.peer_id(e); }
  // Peers the peer told us of by ut_pex since the last call (bounded).
  std::vector<endpoint> take_pex_peers() { return std::exchange(pex_in_, {}); }
  // The DHT node the peer told us of by its 'port' message (BEP 5), once.
  std::optional<endpoint> take_dht_node() { return std::exchange(dht_node_, std::nullopt); }

 private:
  struct upload_key {
    std::uint32_t piece, offset, length;
    friend bool operator==(const upload_key&, const upload_key&) = default;
  };
  struct upload_key_hash {
    std::size_t operator()(const upload_key& k) const noexcept {
      return (std::size_t{k.piece} * 0x9E3779B97F4A7C15ull) ^ (std::size_t{k.offset} << 20) ^ k.length;
    }
  };

  result<void> on_have(std::uint32_t raw);
  result<void> on_bitfield(const wire::message& m);
  result<void> on_have_all_or_none(bool all);
  result<void> on_request(const wire::message& m);
  result<void> on_cancel(const wire::message& m);
  result<std::optional<block_in>> on_piece(const wire::message& m, time_point now);
  bool took_block(const picker::block_ref& ref, std::size_t size, time_point now);
  result<void> on_reject(const wire::message& m);
  result<void> on_extended(const wire::message& m);
  result<void> on_donthave(std::span<const std::byte> payload, std::span<const std::byte> tail);
  result<void> on_metadata_message(const wire::message& m);
  void on_pex(std::span<const std::byte> payload);
  void send_pex(time_point now);

  result<void> check_outbox() const;
  void tick(time_point now);
  void take_log();
  void cancel_received();
  void set_interest(bool want);
  void recount_interest();
  void set_choking(bool choke);
  // A request or cancel of one of our blocks.
  void encode_block(wire::msg_type type, const picker::block_ref& b);
  void reject(std::uint32_t piece, std::uint32_t offset, std::uint32_t length);
  void abort_requests(bool send_cancel);
  // Every whole-piece claim we may hold becomes a shared piece.
  void release_claims();
  void top_up(time_point now);
  void compact_uploads();

  torrent_view t_;
  peer_slot& slot_;
  picker::owner_id owner_;
  bool started_ = false;

  // What the peer said about itself.
  bool fast_ = false;
  bool extended_ = false;
  extension_table extensions_;
  bitfield peer_has_;
  bool peer_seed_ = false;
  bool counted_availability_ = false;  // peer_has_ (or the seed) is in the picker
  bool peer_choking_ = true;
  bool peer_interested_ = false;
  std::size_t peer_reqq_;

  // Our side.
  bool am_choking_ = true;
  bool am_interested_ = false;
  // The peer's pieces we want and do not have, kept as they change (its
  // count is kept too), so interest costs O(1) per message.
  bitfield interesting_;
  std::uint32_t lost_seen_ = 0;
  // Two cursors into the verified log: 'have's go out at the peer's pace
  // (outbox permitting), interest follows at once.
  std::size_t have_cursor_ = 0;
  std::size_t interest_cursor_ = 0;

  // Our requests to the peer, oldest first.
  std::vector<picker::block_ref> in_flight_;
  std::optional<picker::block_ref> arriving_;  // reserved, payload on the wire
  std::vector<picker::block_ref> picked_;
  // Pieces we claimed whole and may still hold, so that a choke or a
  // timeout gives them up without a scan of every piece: those still
  // claimed by us, kept at each pick, bounded by what is in flight.
  std::vector<std::uint32_t> claimed_;
  // A pick scans every piece, so it runs when it may find something new:
  // blocks arrived, the peer told us what it has, or a second passed
  // (refill_due_); or the peer unchoked us, rejected or dropped requests,
  // or became interesting (event_refill_, a few a second at most).
  bool refill_due_ = false;
  bool event_refill_ = false;
  unsigned event_picks_ = 0;
  // Wanted pieces the peer announced since the last pick: picked alone.
  std::vector<std::uint32_t> hints_;

  // The peer's requests to us, in order. Cancelled ones stay in the deque
  // until they come up or a compaction drops them; `live_` counts the ones
  // still wanted, so a cancel costs O(1).
  std::deque<upload> uploads_;
  std::unordered_map<upload_key, std::uint32_t, upload_key_hash> live_;
  std::size_t live_uploads_ = 0;
  std::unordered_set<std::uint32_t> donthave_sent_;

  std::vector<std::byte> frames_;
  std::size_t outbox_limit_;

  // Peer exchange: what we told the peer so far, when we may tell it more,
  // and what it told us, kept until the loop takes it.
  std::vector<endpoint> pex_sent_;
  time_point next_pex_{};
  std::vector<endpoint> pex_in_;
  std::optional<endpoint> dht_node_;
  bool dht_node_taken_ = false;
  std::optional<time_point> last_pex_in_;

  // Rates and timers.
  time_point last_tick_;
  time_point last_recv_;
  time_point last_send_;
  time_point last_block_;
  time_point snubbed_until_{};
  std::int64_t down_bytes_ = 0;  // since the last tick
  std::int64_t up_bytes_ = 0;
  std::int64_t down_rate_ = 0;
  std::int64_t up_rate_ = 0;
  bool rate_known_ = false;      // a tick has seen blocks from the peer
  std::size_t slow_start_ = 0;   // blocks received before that
};

}  // namespace sta::peer
