#include "peer/peer_state.hpp"

#include <algorithm>

#include <boost/endian/conversion.hpp>

#include "base/error.hpp"
#include "base/version.hpp"
#include "wire/ut_metadata.hpp"
#include "wire/ut_pex.hpp"

namespace sta::peer {
namespace {

using namespace std::chrono_literals;

constexpr auto kTick = 1s;
constexpr std::int64_t kSecondsOfRequests = 3;
constexpr unsigned kEventPicksPerTick = 4;
constexpr std::size_t kMaxHints = 64;

error_code violation() { return make_error_code(errc::protocol_violation); }

}  // namespace

peer_state::peer_state(torrent_view t, peer_slot& slot, picker::owner_id owner, time_point now)
    : t_(t),
      slot_(slot),
      owner_(owner),
      peer_has_(t.geo->piece_count()),
      peer_reqq_(250),
      interesting_(t.geo->piece_count()),
      lost_seen_(t.counters->lost.load(std::memory_order_relaxed)),
      outbox_limit_(t.lim->max_outbox + t.geo->piece_count() / 8 + 64),
      last_tick_(now),
      last_recv_(now),
      last_send_(now),
      last_block_(now) {}

peer_state::~peer_state() {
  abort_requests(false);
  t_.picker->release_owner(owner_);
  if (peer_seed_) t_.picker->remove_seed();
  else if (counted_availability_) t_.picker->remove_peer(peer_has_);
  if (!am_choking_) t_.counters->unchoked.fetch_sub(1, std::memory_order_relaxed);
}

void peer_state::start(const wire::handshake& theirs, std::uint16_t listen_port, time_point now) {
  started_ = true;
  fast_ = theirs.fast();
  extended_ = theirs.extended();
  last_recv_ = last_send_ = last_tick_ = last_block_ = now;
  if (extended_) {
    wire::ext_handshake ext;
    // A private torrent has neither metadata to hand out nor peer exchange.
    ext.m = extension_table::advertised({extension::donthave});
    if (!t_.metadata.empty()) {
      ext.m.emplace_back(std::string(kExtensionNames[1]), extension_table::our_id(extension::metadata));
      ext.metadata_size = static_cast<std::uint32_t>(t_.metadata.size());
    }
    if (t_.pex != nullptr) ext.m.emplace_back(std::string(kExtensionNames[2]), extension_table::our_id(extension::pex));
    ext.v = kClientName;
    ext.reqq = static_cast<std::uint32_t>(t_.lim->max_queued_requests);
    ext.p = listen_port;
    const auto ip = slot_.addr.ip();
    ext.yourip.assign(reinterpret_cast<const char*>(ip.data()), ip.size());
    wire::encode_extended(frames_, 0, wire::encode_ext_handshake(ext));
  }
  if (theirs.dht() && t_.dht_port != 0) wire::encode_port(frames_, t_.dht_port);
  // Pieces verified from here on are announced with 'have'; the ones
  // before are in the bitfield.
  have_cursor_ = interest_cursor_ = t_.log->published();
  const bitfield mine = t_.picker->have_bits();
  if (fast_ && mine.all()) wire::encode_simple(frames_, wire::msg_type::have_all);
  else if (fast_ && mine.none()) wire::encode_simple(frames_, wire::msg_type::have_none);
  else if (!mine.none()) wire::encode_bitfield(frames_, mine.wire());
}

result<std::optional<block_in>> peer_state::on_message(const wire::message& m, time_point now) {
  using wire::msg_type;
  last_recv_ = now;
  auto done = [](result<void> r) -> result<std::optional<block_in>> {
    if (!r) return r.error();
    return std::optional<block_in>{};
  };
  switch (m.type) {
    case msg_type::keep_alive: return std::optional<block_in>{};
    case msg_type::choke:
      peer_choking_ = true;
      // Without the fast extension a choke discards our requests; with it
      // the peer rejects each one it drops. Either way the rest of a piece
      // it claimed is open to other peers while it chokes us.
      if (!fast_) abort_requests(false);
      release_claims();
      return std::optional<block_in>{};
    case msg_type::unchoke:
      if (peer_choking_) event_refill_ = true;
      peer_choking_ = false;
      return std::optional<block_in>{};
    case msg_type::interested:
      peer_interested_ = true;
      slot_.peer_interested.store(true, std::memory_order_relaxed);
      // Fill a free upload slot at once instead of waiting for the choker.
      if (am_choking_ && t_.counters->unchoked.load(std::memory_order_relaxed) < t_.lim->max_unchoked)
        slot_.unchoke_wanted.store(true, std::memory_order_relaxed);
      return std::optional<block_in>{};
    case msg_type::not_interested:
      peer_interested_ = false;
      slot_.peer_interested.store(false, std::memory_order_relaxed);
      return std::optional<block_in>{};
    case msg_type::have: return done(on_have(m.piece));
    case msg_type::bitfield: return done(on_bitfield(m));
    case msg_type::have_all:
    case msg_type::have_none: return done(on_have_all_or_none(m.type == msg_type::have_all));
    case msg_type::request: return done(on_request(m));
    case msg_type::cancel: return done(on_cancel(m));
    case msg_type::piece: return on_piece(m, now);
    case msg_type::reject: return done(on_reject(m));
    case msg_type::extended: return done(on_extended(m));
    case msg_type::port:
      // One per connection: the DHT pings it, and a peer cannot make it
      // ping a list of others.
      if (t_.dht_port != 0 && m.port != 0 && !dht_node_taken_) {
        dht_node_ = slot_.addr.with_port(m.port);
        dht_node_taken_ = true;
      }
      return std::optional<block_in>{};
    // Accepted and not acted on: suggestions, allowed-fast sets
    // (we request only when unchoked), and ids we do not know (BEP 3).
    default: return std::optional<block_in>{};
  }
}

result<void> peer_state::on_have(std::uint32_t raw) {
  const auto p = t_.geo->piece(raw);
  if (!p) return violation();
  counted_availability_ = true;
  if (peer_has_.test(raw)) return {};
  peer_has_.set(raw);
  if (peer_seed_) return {};
  t_.picker->add_have(raw);
  if (t_.picker->wanted(raw)) {
    interesting_.set(raw);
    if (!am_interested_) set_interest(true);
    // A pick of this piece alone, so a stream of 'have's costs O(1) each.
    if (hints_.size() < kMaxHints) hints_.push_back(raw);
  }
  return {};
}

result<void> peer_state::on_bitfield(const wire::message& m) {
  if (counted_availability_) return violation();
  if (!peer_has_.assign_wire(m.payload, t_.geo->piece_count())) return make_error_code(errc::bad_message);
  counted_availability_ = true;
  if (peer_has_.all()) {
    peer_seed_ = true;
    slot_.peer_is_seed.store(true, std::memory_order_relaxed);
    t_.picker->add_seed();
  } else {
    t_.picker->add_peer(peer_has_);
  }
  recount_interest();
  refill_due_ = true;
  return {};
}

result<void> peer_state::on_have_all_or_none(bool all) {
  if (!fast_ || counted_availability_) return violation();
  counted_availability_ = true;
  if (all) {
    peer_has_.set_all();
    peer_seed_ = true;
    slot_.peer_is_seed.store(true, std::memory_order_relaxed);
    t_.picker->add_seed();
  }
  recount_interest();
  refill_due_ = true;
  return {};
}

result<void> peer_state::on_request(const wire::message& m) {
  const auto p = t_.geo->piece(m.piece);
  if (!p || m.length > t_.lim->max_request_length || !t_.geo->contains(*p, m.offset, m.length)) return violation();
  if (am_choking_ || !t_.picker->have(m.piece)) {
    reject(m.piece, m.offset, m.length);
    return check_outbox();
  }
  if (live_uploads_ >= t_.lim->max_queued_requests) return violation();  // a flood beyond our reqq
  uploads_.push_back({*p, m.offset, m.length});
  ++live_[{m.piece, m.offset, m.length}];
  ++live_uploads_;
  return {};
}

result<void> peer_state::on_cancel(const wire::message& m) {
  const auto it = live_.find({m.piece, m.offset, m.length});
  if (it == live_.end()) return {};  // served already, or never asked
  if (--it->second == 0) live_.erase(it);
  --live_uploads_;
  // BEP 6: with the fast extension every cancel gets exactly one answer,
  // the block or a reject.
  reject(m.piece, m.offset, m.length);
  compact_uploads();
  return check_outbox();
}

result<std::optional<block_in>> peer_state::on_piece(const wire::message& m, time_point now) {
  const auto p = t_.geo->piece(m.piece);
  const auto b = p ? t_.geo->block_at(*p, m.offset) : std::nullopt;
  if (!b || m.payload_size() != t_.geo->block_size(*p, *b)) return violation();
  const picker::block_ref ref{p->value(), b->value()};
  if (!took_block(ref, m.payload_size(), now)) return std::optional<block_in>{};
  if (t_.picker->on_block(ref) == picker::piece_picker::receipt::duplicate) {
    t_.counters->wasted.fetch_add(static_cast<std::int64_t>(m.payload_size()), std::memory_order_relaxed);
    return std::optional<block_in>{};
  }
  t_.counters->downloaded.fetch_add(static_cast<std::int64_t>(m.payload_size()), std::memory_order_relaxed);
  return std::optional<block_in>{block_in{*p, *b, m.payload, m.payload_tail}};
}

bool peer_state::took_block(const picker::block_ref& ref, std::size_t size, time_point now) {
  const auto it = std::find(in_flight_.begin(), in_flight_.end(), ref);
  if (it == in_flight_.end()) {
    // Not (or no longer) asked for: after a cancel, or unsolicited. It is
    // no answer to our requests, so their timeout keeps running.
    t_.counters->wasted.fetch_add(static_cast<std::int64_t>(size), std::memory_order_relaxed);
    return false;
  }
  last_block_ = now;
  if (slot_.snubbed.load(std::memory_order_relaxed)) slot_.snubbed.store(false, std::memory_order_relaxed);
  in_flight_.erase(it);
  refill_due_ = true;
  if (!rate_known_) ++slow_start_;
  down_bytes_ += static_cast<std::int64_t>(size);
  return true;
}

bool peer_state::reserve(const picker::block_ref& b) { return !t_.picker->in_endgame() && t_.picker->reserve(b); }

void peer_state::unreserve(const picker::block_ref& b) { t_.picker->unreserve(b); }

bool peer_state::on_block_in_place(const picker::block_ref& b, time_point now) {
  if (arriving_ == b) arriving_.reset();
  last_recv_ = now;
  const piece_index p = *t_.geo->piece(b.piece);
  const std::uint32_t size = t_.geo->block_size(p, *t_.geo->block(p, b.block));
  if (!took_block(b, size, now)) {
    t_.picker->unreserve(b);
    t_.picker->on_abort(b);
    return false;
  }
  t_.picker->land(b);
  t_.counters->downloaded.fetch_add(size, std::memory_order_relaxed);
  return true;
}

result<void> peer_state::on_reject(const wire::message& m) {
  const picker::block_ref b{m.piece, m.offset / kBlockSize};
  const auto it = std::find(in_flight_.begin(), in_flight_.end(), b);
  if (it == in_flight_.end() || m.offset % kBlockSize != 0) return {};
  in_flight_.erase(it);
  t_.picker->on_abort(b);
  t_.picker->release_claim(b.piece, owner_);
  event_refill_ = true;
  return {};
}

result<void> peer_state::on_extended(const wire::message& m) {
  if (m.ext_id == 0) {
    std::vector<std::byte> scratch;
    const auto payload = wire::contiguous_payload(m, scratch);
    auto h = wire::decode_ext_handshake(payload);
    if (!h) return {};  // a malformed handshake only costs the peer its extensions
    if (h->reqq && *h->reqq > 0)
      peer_reqq_ = std::clamp<std::size_t>(*h->reqq, 1, t_.lim->max_pipeline);
    extensions_.learn(h->m);
    if (h->p && *h->p != 0) slot_.listen_port.store(*h->p, std::memory_order_relaxed);
    if (!h->v.empty() && !slot_.has_client.load(std::memory_order_relaxed)) {
      // For display: printable ASCII only, cut to the slot's size.
      const std::size_t n = std::min(h->v.size(), slot_.client.size() - 1);
      for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(h->v[i]);
        slot_.client[i] = c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
      }
      slot_.client[n] = '\0';
      slot_.has_client.store(true, std::memory_order_release);
    }
    return {};
  }
  const auto e = extension_table::from_our_id(m.ext_id);
  if (!e) return {};  // an id we never advertised
  switch (*e) {
    case extension::donthave: return on_donthave(m.payload, m.payload_tail);
    case extension::metadata: return on_metadata_message(m);
    case extension::pex: {
      std::vector<std::byte> scratch;
      on_pex(wire::contiguous_payload(m, scratch));
      return {};
    }
  }
  return {};
}

// BEP 11: at most one message a minute is expected; one that comes much
// sooner is ignored, as is anything a private torrent's peer sends. What
// it adds is kept (bounded) for the torrent's candidates.
void peer_state::on_pex(std::span<const std::byte> payload) {
  constexpr auto kLeastGap = std::chrono::seconds(20);
  if (t_.pex == nullptr || (last_pex_in_ && last_recv_ - *last_pex_in_ < kLeastGap)) return;
  last_pex_in_ = last_recv_;
  auto msg = wire::ut_pex::decode(payload);
  if (!msg) return;
  for (const auto& p : msg->added)
    if (pex_in_.size() < 2 * wire::ut_pex::kMaxPerMessage) pex_in_.push_back(p.addr);
}

// The torrent's connected peers this peer has not heard of from us (the
// peer itself left out), and those we told it of that are gone: at most
// 50 of each, at most once a minute.
void peer_state::send_pex(time_point now) {
  const std::uint8_t id = extensions_.peer_id(extension::pex);
  if (t_.pex == nullptr || id == 0 || now < next_pex_) return;
  const auto board = t_.pex->read();
  const std::uint16_t its_port = slot_.listen_port.load(std::memory_order_relaxed);
  auto is_peer = [&](const endpoint& e) {
    return e.same_host(slot_.addr) && (e.port() == slot_.addr.port() || e.port() == its_port);
  };
  wire::ut_pex::message msg;
  for (const auto& p : board) {
    if (msg.added.size() == wire::ut_pex::kMaxPerMessage) break;
    if (!is_peer(p.addr) && std::find(pex_sent_.begin(), pex_sent_.end(), p.addr) == pex_sent_.end())
      msg.added.push_back(p);
  }
  for (const auto& e : pex_sent_) {
    if (msg.dropped.size() == wire::ut_pex::kMaxPerMessage) break;
    if (std::none_of(board.begin(), board.end(), [&](const auto& p) { return p.addr == e; })) msg.dropped.push_back(e);
  }
  if (msg.added.empty() && msg.dropped.empty()) {
    next_pex_ = now + std::chrono::seconds(1);
    return;
  }
  for (const auto& e : msg.dropped) std::erase(pex_sent_, e);
  for (const auto& p : msg.added) pex_sent_.push_back(p.addr);
  wire::encode_extended(frames_, id, wire::ut_pex::encode(msg));
  next_pex_ = now + std::chrono::seconds(60);
}

// BEP 9: a request for a piece of the info dictionary is answered at once
// while the outbox has room (so a peer cannot queue more than it), and
// rejected otherwise, or when we do not hand it out (private).
result<void> peer_state::on_metadata_message(const wire::message& m) {
  namespace um = wire::ut_metadata;
  std::vector<std::byte> scratch;
  auto msg = um::decode(wire::contiguous_payload(m, scratch));
  if (!msg) return make_error_code(errc::bad_message);
  const std::uint8_t id = extensions_.peer_id(extension::metadata);
  if (msg->type != um::kind::request || id == 0) return {};
  const auto size = static_cast<std::int64_t>(t_.metadata.size());
  if (msg->piece >= um::piece_count(size) || frames_.size() + um::kPieceSize > outbox_limit_) {
    wire::encode_extended(frames_, id, um::encode_reject(msg->piece));
    return {};
  }
  const auto data = std::as_bytes(std::span(t_.metadata.data(), t_.metadata.size()))
                        .subspan(msg->piece * um::kPieceSize, um::piece_size(size, msg->piece));
  wire::encode_extended(frames_, id, um::encode_data(msg->piece, size, data));
  return {};
}

result<void> peer_state::on_donthave(std::span<const std::byte> payload, std::span<const std::byte> tail) {
  if (payload.size() + tail.size() != 4) return make_error_code(errc::bad_message);
  std::byte raw[4];
  std::copy(payload.begin(), payload.end(), raw);
  std::copy(tail.begin(), tail.end(), raw + payload.size());
  const std::uint32_t piece = boost::endian::load_big_u32(reinterpret_cast<const unsigned char*>(raw));
  if (!t_.geo->piece(piece)) return violation();
  if (!peer_has_.test(piece)) return {};
  // Our requests for it will be rejected or time out; what we have not
  // asked for goes to other peers now.
  t_.picker->release_claim(piece, owner_);
  if (peer_seed_) {
    // No longer a seed: counted piece by piece from now on (once).
    peer_seed_ = false;
    slot_.peer_is_seed.store(false, std::memory_order_relaxed);
    peer_has_.reset(piece);
    t_.picker->add_peer(peer_has_);
    t_.picker->remove_seed();
    recount_interest();
    return {};
  }
  peer_has_.reset(piece);
  t_.picker->remove_have(piece);
  interesting_.reset(piece);
  return {};
}

result<void> peer_state::update(time_point now) {
  if (slot_.banned.load(std::memory_order_relaxed)) return make_error_code(errc::peer_banned);
  if (slot_.dropped.load(std::memory_order_relaxed)) return make_error_code(errc::too_many_peers);
  if (now - last_tick_ >= kTick) {
    tick(now);
    if (now - last_recv_ > t_.lim->idle_timeout) return make_error_code(std::errc::timed_out);
    // Two seeds have nothing to say to each other.
    if (peer_seed_ && t_.picker->complete()) return make_error_code(std::errc::operation_canceled);
  }
  take_log();
  if (t_.picker->in_endgame()) cancel_received();
  if (am_interested_ && t_.picker->complete()) set_interest(false);
  set_choking(!(peer_interested_ && slot_.unchoke_wanted.load(std::memory_order_relaxed)));
  top_up(now);
  return check_outbox();
}

void peer_state::tick(time_point now) {
  const double dt = std::chrono::duration<double>(now - last_tick_).count();
  last_tick_ = now;
  send_pex(now);
  if (down_bytes_ > 0) rate_known_ = true;
  // A short moving average: half the last second, half the past.
  down_rate_ = (down_rate_ + static_cast<std::int64_t>(static_cast<double>(down_bytes_) / dt)) / 2;
  up_rate_ = (up_rate_ + static_cast<std::int64_t>(static_cast<double>(up_bytes_) / dt)) / 2;
  down_bytes_ = up_bytes_ = 0;
  slot_.down_rate.store(down_rate_, std::memory_order_relaxed);
  slot_.up_rate.store(up_rate_, std::memory_order_relaxed);
  slot_.am_choking.store(am_choking_, std::memory_order_relaxed);
  slot_.am_interested.store(am_interested_, std::memory_order_relaxed);
  slot_.peer_choking.store(peer_choking_, std::memory_order_relaxed);
  slot_.peer_pieces.store(static_cast<std::uint32_t>(peer_has_.count()), std::memory_order_relaxed);
  event_picks_ = 0;
  refill_due_ = true;

  // A piece we had was lost: the peer may have something we want again.
  const std::uint32_t lost = t_.counters->lost.load(std::memory_order_relaxed);
  if (lost != lost_seen_) {
    lost_seen_ = lost;
    recount_interest();
  }
  if (!in_flight_.empty() && now - last_block_ > t_.lim->request_timeout) {
    // The peer stopped answering: its blocks go to other peers, and it gets
    // one request at a time until it delivers again.
    abort_requests(true);
    slot_.snubbed.store(true, std::memory_order_relaxed);
    snubbed_until_ = now + t_.lim->request_timeout;
  }
  // Pieces we said we no longer have and that verified again since.
  for (auto it = donthave_sent_.begin(); it != donthave_sent_.end();) {
    if (!t_.picker->have(*it)) {
      ++it;
      continue;
    }
    wire::encode_piece_index(frames_, wire::msg_type::have, *it);
    it = donthave_sent_.erase(it);
  }
  if (now - last_send_ > t_.lim->keep_alive && frames_.empty()) wire::encode_keep_alive(frames_);
}

void peer_state::take_log() {
  // Interest follows every newly verified piece at once...
  while (const auto p = t_.log->at(interest_cursor_)) {
    ++interest_cursor_;
    interesting_.reset(*p);
  }
  if (am_interested_ && !peer_seed_ && interesting_.none()) set_interest(false);
  // ...'have's go out while the outbox has room, the rest later.
  while (frames_.size() < outbox_limit_ / 2) {
    const auto p = t_.log->at(have_cursor_);
    if (!p) break;
    ++have_cursor_;
    if (!peer_has_.test(*p)) wire::encode_piece_index(frames_, wire::msg_type::have, *p);
  }
}

void peer_state::cancel_received() {
  // Blocks that another peer delivered first: cancel our copy.
  std::erase_if(in_flight_, [&](const picker::block_ref& b) {
    if (b == arriving_ || !t_.picker->received(b)) return false;
    encode_block(wire::msg_type::cancel, b);
    return true;
  });
}

void peer_state::set_interest(bool want) {
  if (want == am_interested_) return;
  am_interested_ = want;
  if (want) event_refill_ = true;
  wire::encode_simple(frames_, want ? wire::msg_type::interested : wire::msg_type::not_interested);
}

void peer_state::recount_interest() {
  interesting_ = bitfield(t_.geo->piece_count());
  if (!peer_seed_) {
    for (std::uint32_t i = 0; i < t_.geo->piece_count(); ++i)
      if (peer_has_.test(i) && t_.picker->wanted(i)) interesting_.set(i);
  }
  set_interest(!t_.picker->complete() && (peer_seed_ || !interesting_.none()));
}

void peer_state::set_choking(bool choke) {
  if (choke == am_choking_) return;
  am_choking_ = choke;
  if (choke) {
    t_.counters->unchoked.fetch_sub(1, std::memory_order_relaxed);
    wire::encode_simple(frames_, wire::msg_type::choke);
    // Requests we will not serve: rejected one by one with the fast
    // extension, dropped silently without it (BEP 3).
    for (const upload& u : uploads_) {
      const auto it = live_.find({u.piece.value(), u.offset, u.length});
      if (it == live_.end()) continue;
      if (--it->second == 0) live_.erase(it);
      reject(u.piece.value(), u.offset, u.length);
    }
    uploads_.clear();
    live_.clear();
    live_uploads_ = 0;
  } else {
    t_.counters->unchoked.fetch_add(1, std::memory_order_relaxed);
    wire::encode_simple(frames_, wire::msg_type::unchoke);
  }
}

void peer_state::encode_block(wire::msg_type type, const picker::block_ref& b) {
  // The picker hands out blocks of this torrent only.
  const piece_index p = *t_.geo->piece(b.piece);
  wire::encode_block_ref(frames_, type, b.piece, b.block * kBlockSize, t_.geo->block_size(p, *t_.geo->block(p, b.block)));
}

void peer_state::reject(std::uint32_t piece, std::uint32_t offset, std::uint32_t length) {
  if (fast_) wire::encode_block_ref(frames_, wire::msg_type::reject, piece, offset, length);
}

result<void> peer_state::check_outbox() const {
  if (frames_.size() > outbox_limit_) return make_error_code(errc::peer_not_reading);
  return {};
}

void peer_state::abort_requests(bool send_cancel) {
  if (arriving_) t_.picker->unreserve(*std::exchange(arriving_, std::nullopt));
  for (const auto& b : in_flight_) {
    if (send_cancel) encode_block(wire::msg_type::cancel, b);
    t_.picker->on_abort(b);
  }
  in_flight_.clear();
  event_refill_ = true;
  release_claims();
}

void peer_state::release_claims() {
  for (const std::uint32_t p : claimed_) t_.picker->release_claim(p, owner_);
  claimed_.clear();
}

void peer_state::top_up(time_point now) {
  // Picks the peer causes without sending data (unchokes, rejects, our
  // interest coming and going) are a few a second at most.
  const bool event = event_refill_ && event_picks_ < kEventPicksPerTick;
  if (!started_ || peer_choking_ || !am_interested_ || now < snubbed_until_ ||
      (!refill_due_ && !event && hints_.empty())) {
    hints_.clear();
    return;
  }
  const auto& lim = *t_.lim;
  const std::size_t most = std::min(lim.max_pipeline, peer_reqq_);
  std::size_t target = static_cast<std::size_t>(down_rate_ * kSecondsOfRequests / kBlockSize);
  // Until a tick has measured the peer's rate, one more request for each
  // block it sent: the pipeline doubles every round trip (TCP's slow
  // start), so a fast peer is not held to min_pipeline for its first second.
  if (!rate_known_) target = std::max(target, lim.min_pipeline + slow_start_);
  target = std::clamp(target, std::min(lim.min_pipeline, most), most);
  if (slot_.snubbed.load(std::memory_order_relaxed)) target = 1;
  // Refill when a quarter of the pipeline has drained, so the picker runs
  // per batch of blocks rather than per block.
  if (in_flight_.size() >= target || (!in_flight_.empty() && in_flight_.size() + target / 4 > target)) {
    hints_.clear();
    return;
  }
  // A peer that can fetch a whole piece within the request horizon claims
  // whole pieces; slower ones share pieces block by block. Before a tick
  // has measured its rate, one that has sent a whole piece's worth already
  // (in under a second) is fast enough: otherwise a download that takes a
  // second or two would share every piece among its fast peers, their
  // blocks interleaved, and hash most of them out of order.
  const std::int64_t piece_length = t_.geo->piece_length();
  const bool whole =
      rate_known_ ? down_rate_ * kSecondsOfRequests >= piece_length : down_bytes_ >= piece_length;
  picked_.clear();
  if (refill_due_ || event) {
    if (!refill_due_) ++event_picks_;
    t_.picker->pick(peer_seed_ ? nullptr : &peer_has_, owner_, whole, target - in_flight_.size(), in_flight_, picked_);
  } else {
    t_.picker->pick_from(hints_, owner_, whole, target - in_flight_.size(), picked_);
  }
  refill_due_ = event_refill_ = false;
  hints_.clear();
  if (whole) {
    std::erase_if(claimed_, [&](std::uint32_t p) { return !t_.picker->claimed_by(p, owner_); });
    for (const auto& b : picked_)
      if (std::find(claimed_.begin(), claimed_.end(), b.piece) == claimed_.end() &&
          t_.picker->claimed_by(b.piece, owner_))
        claimed_.push_back(b.piece);
  }
  if (picked_.empty()) return;
  if (in_flight_.empty()) last_block_ = now;  // the request timer starts now
  for (const auto& b : picked_) {
    encode_block(wire::msg_type::request, b);
    in_flight_.push_back(b);
  }
}

void peer_state::take_frames(std::vector<std::byte>& out) {
  if (out.empty()) std::swap(out, frames_);
  else out.insert(out.end(), frames_.begin(), frames_.end());
  frames_.clear();
}

std::optional<upload> peer_state::next_upload() {
  while (!am_choking_ && !uploads_.empty()) {
    const upload u = uploads_.front();
    uploads_.pop_front();
    const auto it = live_.find({u.piece.value(), u.offset, u.length});
    if (it == live_.end()) continue;  // cancelled
    if (--it->second == 0) live_.erase(it);
    --live_uploads_;
    if (!t_.picker->have(u.piece.value())) {
      upload_failed(u);  // lost since it was asked for
      continue;
    }
    return u;
  }
  return std::nullopt;
}

void peer_state::upload_failed(const upload& u) {
  reject(u.piece.value(), u.offset, u.length);
  const std::uint8_t id = extensions_.peer_id(extension::donthave);
  if (id == 0 || !donthave_sent_.insert(u.piece.value()).second) return;
  std::array<std::byte, 4> payload;
  boost::endian::store_big_u32(reinterpret_cast<unsigned char*>(payload.data()), u.piece.value());
  wire::encode_extended(frames_, id, payload);
}

void peer_state::sent(std::size_t payload, time_point now) {
  last_send_ = now;
  up_bytes_ += static_cast<std::int64_t>(payload);
}

void peer_state::compact_uploads() {
  // Cancelled entries wait in the deque; once they outnumber the live ones
  // they go, so the deque stays within twice the queue limit.
  if (uploads_.size() <= 2 * live_uploads_ + 64) return;
  std::deque<upload> kept;
  std::unordered_map<upload_key, std::uint32_t, upload_key_hash> seen;
  for (const upload& u : uploads_) {
    const upload_key k{u.piece.value(), u.offset, u.length};
    const auto it = live_.find(k);
    if (it != live_.end() && seen[k]++ < it->second) kept.push_back(u);
  }
  uploads_ = std::move(kept);
}

}  // namespace sta::peer
