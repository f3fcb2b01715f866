#include "swarm/peer_connection.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <vector>

#include "base/version.hpp"
#include "reactor/event.hpp"
#include "reactor/ops.hpp"
#include "swarm/piece_io.hpp"

namespace sta::swarm {
namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kTick = 1s;
constexpr auto kHandshakeTimeout = 10s;
constexpr auto kIdleTimeout = 120s;      // nothing at all received
constexpr auto kKeepAlive = 60s;         // nothing sent
constexpr auto kRequestTimeout = 15s;    // requests out, no block back
constexpr auto kSendTimeout = 60s;
constexpr std::size_t kRecvBuffer = 256 * 1024;
constexpr std::size_t kSendBatch = 256 * 1024;
constexpr std::uint32_t kMaxRequestLength = 128 * 1024;
constexpr std::uint32_t kMaxUnchoked = 5;  // 4 regular + 1 optimistic
constexpr std::int64_t kSecondsOfRequests = 3;

std::int64_t now_ns(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

struct served_request {
  std::uint32_t piece;
  std::uint32_t offset;
  std::uint32_t length;
  friend bool operator==(const served_request&, const served_request&) = default;
};

class connection {
 public:
  connection(io::reactor& r, torrent& t, unique_fd sock, peer_slot& slot)
      : r_(r), t_(t), sock_(std::move(sock)), slot_(slot), owner_(t.owner_of(slot)),
        peer_has_(t.piece_count()), wake_(r), writer_done_(r) {}

  io::task<void> run();
  io::task<void> write_loop();
  void writer_finished() { writer_done_.notify(); }

 private:
  io::task<result<void>> handshake();
  result<void> handle(const wire::message& m);
  result<void> on_bitfield(const wire::message& m);
  result<void> on_have(std::uint32_t piece);
  result<void> on_request(const wire::message& m);
  result<void> on_piece(const wire::message& m);
  void on_reject(const wire::message& m);
  void on_extended(const wire::message& m);
  void after_batch(clock::time_point now);
  void tick(clock::time_point now);
  void top_up(clock::time_point now);
  void flush_haves();
  void update_interest();
  void set_choking(bool choke);
  void abort_requests(bool send_cancel);
  void cleanup();
  void close(error_code why) {
    if (!closing_) close_reason_ = why;
    closing_ = true;
  }
  bool peer_lacks_nothing_we_want() const;

  io::reactor& r_;
  torrent& t_;
  unique_fd sock_;
  peer_slot& slot_;
  picker::owner_id owner_;

  // Peer protocol state.
  bool fast_ = false;
  bool extended_ = false;
  bitfield peer_has_;
  bool peer_seed_ = false;
  bool counted_availability_ = false;
  bool peer_choking_ = true;
  bool peer_interested_ = false;
  bool am_choking_ = true;
  bool am_interested_ = false;
  std::size_t peer_reqq_ = 250;
  std::size_t have_cursor_ = 0;

  // Our requests to the peer, oldest first.
  std::vector<picker::block_ref> in_flight_;
  std::vector<picker::block_ref> picked_;
  // The peer's requests to us.
  std::deque<served_request> served_;

  // Buffers: the reader fills rbuf_ and out_; the writer sends out_ (after
  // swapping it into batch_) followed by blocks for served_.
  std::vector<std::byte> rbuf_;
  std::size_t rlen_ = 0;
  std::vector<std::byte> out_;
  std::vector<std::byte> batch_;

  // Rates and timers.
  clock::time_point last_tick_ = clock::now();
  clock::time_point last_recv_ = clock::now();
  clock::time_point last_send_ = clock::now();
  clock::time_point last_block_ = clock::now();
  clock::time_point snubbed_until_{};
  std::int64_t down_bytes_ = 0;  // since the last tick
  std::int64_t up_bytes_ = 0;
  std::int64_t down_rate_ = 0;
  std::int64_t up_rate_ = 0;

  io::event wake_;
  io::event writer_done_;
  io::cancel_slot recv_cancel_;
  io::cancel_slot send_cancel_;
  bool closing_ = false;
  error_code close_reason_;
};

io::task<void> run_writer(connection& c) {
  co_await c.write_loop();
  c.writer_finished();
}

io::task<result<void>> connection::handshake() {
  wire::handshake ours;
  ours.info_hash = t_.meta().info_hash;
  ours.id = t_.self_id();
  ours.set_fast();
  ours.set_extended();
  const auto ours_bytes = wire::encode_handshake(ours);
  rbuf_.resize(kRecvBuffer);

  if (slot_.outgoing) {
    auto sent = co_await io::send(r_, sock_.get(), ours_bytes).deadline(kHandshakeTimeout);
    if (!sent) co_return sent.error();
    if (*sent != ours_bytes.size()) co_return make_error_code(std::errc::connection_reset);
  }
  while (rlen_ < wire::kHandshakeSize) {
    auto n = co_await io::recv(r_, sock_.get(), std::span(rbuf_).subspan(rlen_)).deadline(kHandshakeTimeout);
    if (!n) co_return n.error();
    if (*n == 0) co_return make_error_code(std::errc::connection_reset);
    rlen_ += *n;
  }
  auto theirs = wire::decode_handshake(std::span(rbuf_).first(wire::kHandshakeSize));
  if (!theirs) co_return theirs.error();
  if (theirs->info_hash != t_.meta().info_hash) co_return make_error_code(errc::wrong_torrent);
  if (theirs->id == t_.self_id()) co_return make_error_code(errc::wrong_torrent);  // ourselves
  fast_ = theirs->fast();
  extended_ = theirs->extended();
  std::memmove(rbuf_.data(), rbuf_.data() + wire::kHandshakeSize, rlen_ - wire::kHandshakeSize);
  rlen_ -= wire::kHandshakeSize;

  if (!slot_.outgoing) {
    auto sent = co_await io::send(r_, sock_.get(), ours_bytes).deadline(kHandshakeTimeout);
    if (!sent) co_return sent.error();
    if (*sent != ours_bytes.size()) co_return make_error_code(std::errc::connection_reset);
  }

  if (extended_) {
    wire::ext_handshake ext;
    ext.v = kClientName;
    ext.reqq = static_cast<std::uint32_t>(t_.lim().max_queued_requests);
    ext.p = t_.listen_port();
    const auto ip = slot_.addr.ip();
    ext.yourip.assign(reinterpret_cast<const char*>(ip.data()), ip.size());
    wire::encode_extended(out_, 0, wire::encode_ext_handshake(ext));
  }
  // Pieces verified from here on are announced with 'have'; the ones before
  // are in the bitfield.
  have_cursor_ = t_.verified_published();
  const bitfield mine = t_.picker().have_bits();
  if (fast_ && mine.all()) wire::encode_simple(out_, wire::msg_type::have_all);
  else if (fast_ && mine.none()) wire::encode_simple(out_, wire::msg_type::have_none);
  else if (!mine.none()) wire::encode_bitfield(out_, mine.wire());
  co_return result<void>{};
}

io::task<void> connection::run() {
  if (auto h = co_await handshake(); !h) {
    close(h.error());
    cleanup();
    co_return;
  }
  slot_.state.store(peer_slot::connected, std::memory_order_release);
  r_.spawn(run_writer(*this));
  wake_.notify();

  const wire::limits lim{.max_frame = std::max<std::uint32_t>(
                             (1u << 20), static_cast<std::uint32_t>(t_.piece_count() / 8 + 64))};
  std::size_t pos = 0;
  // Bytes that followed the handshake in the same segment are decoded
  // first.
  bool have_data = rlen_ > 0;
  while (!closing_) {
    if (!have_data) {
      if (rlen_ == rbuf_.size()) rbuf_.resize(rbuf_.size() * 2);
      rate_limiter& limit = t_.download_limiter();
      auto room = std::span(rbuf_).subspan(rlen_);
      if (!limit.unlimited()) room = room.first(std::min<std::size_t>(room.size(), limit.quantum()));
      auto n = co_await io::recv(r_, sock_.get(), room).deadline(kTick).cancel_with(recv_cancel_);
      const auto now = clock::now();
      if (!n) {
        if (n.error() == std::errc::timed_out) {
          after_batch(now);
          continue;
        }
        close(n.error());
        break;
      }
      if (*n == 0) {
        close(make_error_code(std::errc::connection_reset));
        break;
      }
      rlen_ += *n;
      last_recv_ = now;
      // Over the download limit: the next recv waits, and TCP makes the
      // peer wait too.
      if (const auto wait = limit.charge(static_cast<std::int64_t>(*n), now_ns(now)); wait > 0) {
        if (!co_await io::sleep(r_, std::chrono::nanoseconds(wait)).cancel_with(recv_cancel_)) {
          close(make_error_code(std::errc::operation_canceled));
          break;
        }
      }
    }
    have_data = false;

    pos = 0;
    while (!closing_) {
      auto d = wire::decode(std::span(rbuf_).subspan(pos, rlen_ - pos), {}, lim);
      if (!d) {
        close(d.error());
        break;
      }
      if (!d->msg) {
        if (d->frame_size > rbuf_.size()) rbuf_.resize(d->frame_size);
        break;
      }
      if (auto h = handle(*d->msg); !h) {
        close(h.error());
        break;
      }
      pos += d->used;
    }
    if (pos > 0) {
      std::memmove(rbuf_.data(), rbuf_.data() + pos, rlen_ - pos);
      rlen_ -= pos;
    }
    after_batch(clock::now());
  }

  wake_.notify();
  send_cancel_.cancel();
  co_await writer_done_.wait();
  cleanup();
}

io::task<void> connection::write_loop() {
  while (!closing_) {
    if (out_.empty() && (served_.empty() || am_choking_)) {
      co_await wake_.wait();
      continue;
    }
    batch_.clear();
    std::swap(batch_, out_);
    rate_limiter& limit = t_.upload_limiter();
    const std::size_t batch_limit =
        limit.unlimited() ? kSendBatch : std::min<std::size_t>(kSendBatch, static_cast<std::size_t>(limit.quantum()));
    std::int64_t payload = 0;
    while (!closing_ && !am_choking_ && !served_.empty() && batch_.size() < batch_limit) {
      const served_request req = served_.front();
      served_.pop_front();
      const std::byte* data = cached_piece(t_, req.piece);
      if (data == nullptr) {
        auto loaded = co_await read_piece(r_, t_, req.piece);
        if (!loaded) {
          t_.fail("cannot read piece " + std::to_string(req.piece) + ": " + loaded.error().message());
          close(loaded.error());
          break;
        }
        data = *loaded;
      }
      const auto header = wire::encode_piece_header(req.piece, req.offset, req.length);
      batch_.insert(batch_.end(), header.begin(), header.end());
      batch_.insert(batch_.end(), data + req.offset, data + req.offset + req.length);
      up_bytes_ += req.length;
      payload += req.length;
      t_.uploaded.fetch_add(req.length, std::memory_order_relaxed);
    }
    std::size_t off = 0;
    while (!closing_ && off < batch_.size()) {
      auto n = co_await io::send(r_, sock_.get(), std::span<const std::byte>(batch_).subspan(off))
                   .deadline(kSendTimeout)
                   .cancel_with(send_cancel_);
      if (!n || *n == 0) {
        close(n ? error_code(make_error_code(std::errc::connection_reset)) : n.error());
        recv_cancel_.cancel();
        break;
      }
      off += *n;
    }
    last_send_ = clock::now();
    // Over the upload limit: the next batch waits. Batches of messages
    // alone (requests, haves) are not charged, so a download never waits
    // for the upload limit.
    if (payload > 0) {
      const auto wait = limit.charge(static_cast<std::int64_t>(batch_.size()), now_ns(last_send_));
      if (wait > 0 && !closing_) co_await io::sleep(r_, std::chrono::nanoseconds(wait)).cancel_with(send_cancel_);
    }
  }
}

result<void> connection::handle(const wire::message& m) {
  using wire::msg_type;
  switch (m.type) {
    case msg_type::keep_alive: return {};
    case msg_type::choke:
      peer_choking_ = true;
      // Without the fast extension a choke discards our requests; with it
      // the peer rejects each one it drops.
      if (!fast_) abort_requests(false);
      return {};
    case msg_type::unchoke: peer_choking_ = false; return {};
    case msg_type::interested:
      peer_interested_ = true;
      slot_.peer_interested.store(true, std::memory_order_relaxed);
      // Fill a free upload slot at once instead of waiting for the choker.
      if (am_choking_ && t_.unchoked.load(std::memory_order_relaxed) < kMaxUnchoked)
        slot_.unchoke_wanted.store(true, std::memory_order_relaxed);
      return {};
    case msg_type::not_interested:
      peer_interested_ = false;
      slot_.peer_interested.store(false, std::memory_order_relaxed);
      return {};
    case msg_type::have: return on_have(m.piece);
    case msg_type::bitfield: return on_bitfield(m);
    case msg_type::have_all:
    case msg_type::have_none: {
      if (!fast_ || counted_availability_) return make_error_code(errc::protocol_violation);
      counted_availability_ = true;
      if (m.type == msg_type::have_all) {
        peer_has_.set_all();
        peer_seed_ = true;
        slot_.peer_is_seed.store(true, std::memory_order_relaxed);
        t_.picker().add_seed();
      }
      update_interest();
      return {};
    }
    case msg_type::request: return on_request(m);
    case msg_type::cancel: {
      const served_request req{m.piece, m.offset, m.length};
      if (auto it = std::find(served_.begin(), served_.end(), req); it != served_.end()) served_.erase(it);
      return {};
    }
    case msg_type::piece: return on_piece(m);
    case msg_type::reject: on_reject(m); return {};
    case msg_type::extended: on_extended(m); return {};
    // Accepted and not acted on: DHT port, suggestions, allowed-fast sets
    // (we request only when unchoked), and ids we do not know (BEP 3).
    default: return {};
  }
}

result<void> connection::on_bitfield(const wire::message& m) {
  if (counted_availability_) return make_error_code(errc::protocol_violation);
  if (!peer_has_.assign_wire(m.payload, t_.piece_count())) return make_error_code(errc::bad_message);
  counted_availability_ = true;
  if (peer_has_.all()) {
    peer_seed_ = true;
    slot_.peer_is_seed.store(true, std::memory_order_relaxed);
    t_.picker().add_seed();
  } else {
    t_.picker().add_peer(peer_has_);
  }
  update_interest();
  return {};
}

result<void> connection::on_have(std::uint32_t piece) {
  if (piece >= t_.piece_count()) return make_error_code(errc::protocol_violation);
  counted_availability_ = true;
  if (peer_has_.test(piece)) return {};
  peer_has_.set(piece);
  if (!peer_seed_) t_.picker().add_have(piece);
  if (!am_interested_ && !t_.picker().have(piece)) update_interest();
  return {};
}

result<void> connection::on_request(const wire::message& m) {
  if (m.piece >= t_.piece_count() || m.length == 0 || m.length > kMaxRequestLength ||
      std::int64_t{m.offset} + m.length > t_.map().piece_size(m.piece))
    return make_error_code(errc::protocol_violation);
  if (am_choking_ || !t_.picker().have(m.piece)) {
    if (fast_) wire::encode_block_ref(out_, wire::msg_type::reject, m.piece, m.offset, m.length);
    return {};
  }
  if (served_.size() >= t_.lim().max_queued_requests) return make_error_code(errc::protocol_violation);
  served_.push_back({m.piece, m.offset, m.length});
  return {};
}

result<void> connection::on_piece(const wire::message& m) {
  if (m.piece >= t_.piece_count() || m.offset % wire::kBlockSize != 0)
    return make_error_code(errc::protocol_violation);
  const picker::block_ref b{m.piece, m.offset / wire::kBlockSize};
  if (b.block >= t_.picker().blocks_in(b.piece) || m.payload_size() != t_.block_size(b))
    return make_error_code(errc::protocol_violation);
  last_block_ = clock::now();
  if (slot_.snubbed.load(std::memory_order_relaxed)) slot_.snubbed.store(false, std::memory_order_relaxed);
  auto it = std::find(in_flight_.begin(), in_flight_.end(), b);
  if (it == in_flight_.end()) {
    // Not (or no longer) asked for: after a cancel, or unsolicited.
    t_.wasted.fetch_add(m.payload_size(), std::memory_order_relaxed);
    return {};
  }
  in_flight_.erase(it);
  down_bytes_ += m.payload_size();
  if (t_.picker().on_block(b) == picker::piece_picker::receipt::duplicate) {
    t_.wasted.fetch_add(m.payload_size(), std::memory_order_relaxed);
    return {};
  }
  std::byte* piece = t_.buffer(b.piece);
  std::memcpy(piece + m.offset, m.payload.data(), m.payload.size());
  if (!m.payload_tail.empty())
    std::memcpy(piece + m.offset + m.payload.size(), m.payload_tail.data(), m.payload_tail.size());
  t_.set_sender(b, owner_);
  t_.downloaded.fetch_add(m.payload_size(), std::memory_order_relaxed);
  if (t_.block_written(b.piece)) r_.spawn(finish_piece(r_, t_, b.piece));
  return {};
}

void connection::on_reject(const wire::message& m) {
  const picker::block_ref b{m.piece, m.offset / wire::kBlockSize};
  auto it = std::find(in_flight_.begin(), in_flight_.end(), b);
  if (it == in_flight_.end()) return;
  in_flight_.erase(it);
  t_.picker().on_abort(b);
}

void connection::on_extended(const wire::message& m) {
  if (m.ext_id != 0) return;  // we offer no extension messages yet
  auto h = wire::decode_ext_handshake(m.payload);
  if (!h) return;  // a malformed handshake only costs the peer its extensions
  if (h->reqq && *h->reqq > 0) peer_reqq_ = *h->reqq;
}

void connection::update_interest() {
  const bool want = !t_.picker().complete() && !peer_lacks_nothing_we_want();
  if (want == am_interested_) return;
  am_interested_ = want;
  wire::encode_simple(out_, want ? wire::msg_type::interested : wire::msg_type::not_interested);
}

bool connection::peer_lacks_nothing_we_want() const {
  auto& p = t_.picker();
  for (std::uint32_t i = 0; i < t_.piece_count(); ++i)
    if (peer_has_.test(i) && p.wanted(i)) return false;
  return true;
}

void connection::set_choking(bool choke) {
  if (choke == am_choking_) return;
  am_choking_ = choke;
  if (choke) {
    t_.unchoked.fetch_sub(1, std::memory_order_relaxed);
    wire::encode_simple(out_, wire::msg_type::choke);
    if (fast_)
      for (const auto& req : served_) wire::encode_block_ref(out_, wire::msg_type::reject, req.piece, req.offset, req.length);
    served_.clear();
  } else {
    t_.unchoked.fetch_add(1, std::memory_order_relaxed);
    wire::encode_simple(out_, wire::msg_type::unchoke);
  }
}

void connection::abort_requests(bool send_cancel) {
  for (const auto& b : in_flight_) {
    if (send_cancel)
      wire::encode_block_ref(out_, wire::msg_type::cancel, b.piece, b.block * wire::kBlockSize, t_.block_size(b));
    t_.picker().on_abort(b);
  }
  in_flight_.clear();
}

void connection::flush_haves() {
  while (auto p = t_.verified_at(have_cursor_)) {
    ++have_cursor_;
    if (!peer_has_.test(*p)) wire::encode_piece_index(out_, wire::msg_type::have, *p);
  }
}

void connection::top_up(clock::time_point now) {
  if (peer_choking_ || !am_interested_ || now < snubbed_until_) return;
  const bool snubbed = slot_.snubbed.load(std::memory_order_relaxed);
  const auto& lim = t_.lim();
  std::size_t target = static_cast<std::size_t>(down_rate_ * kSecondsOfRequests / wire::kBlockSize);
  target = std::clamp(target, lim.min_pipeline, std::min(lim.max_pipeline, peer_reqq_));
  if (snubbed) target = 1;
  // Refill when a quarter of the pipeline has drained, so the picker runs
  // per batch of blocks rather than per block.
  if (in_flight_.size() >= target || (!in_flight_.empty() && in_flight_.size() + target / 4 > target)) return;
  // A peer that can fetch a whole piece within the request horizon claims
  // whole pieces; slower ones share pieces block by block.
  const bool whole = down_rate_ * kSecondsOfRequests >= t_.map().piece_length();
  picked_.clear();
  t_.picker().pick(peer_seed_ ? nullptr : &peer_has_, owner_, whole, target - in_flight_.size(), in_flight_,
                   picked_);
  if (picked_.empty() && in_flight_.empty()) {
    update_interest();
    return;
  }
  if (in_flight_.empty()) last_block_ = now;  // the request timer starts now
  for (const auto& b : picked_) {
    wire::encode_block_ref(out_, wire::msg_type::request, b.piece, b.block * wire::kBlockSize, t_.block_size(b));
    in_flight_.push_back(b);
  }
}

void connection::after_batch(clock::time_point now) {
  if (now - last_tick_ >= kTick) tick(now);
  flush_haves();
  if (t_.picker().in_endgame()) {
    // Blocks that another peer delivered first: cancel our copy.
    std::erase_if(in_flight_, [&](const picker::block_ref& b) {
      if (!t_.picker().received(b)) return false;
      wire::encode_block_ref(out_, wire::msg_type::cancel, b.piece, b.block * wire::kBlockSize, t_.block_size(b));
      return true;
    });
  }
  if (am_interested_ && t_.picker().complete()) update_interest();
  set_choking(!(peer_interested_ && slot_.unchoke_wanted.load(std::memory_order_relaxed)));
  top_up(now);
  if (!out_.empty() || (!served_.empty() && !am_choking_)) wake_.notify();
}

void connection::tick(clock::time_point now) {
  const double dt = std::chrono::duration<double>(now - last_tick_).count();
  last_tick_ = now;
  // A short moving average: half the last second, half the past.
  down_rate_ = (down_rate_ + static_cast<std::int64_t>(static_cast<double>(down_bytes_) / dt)) / 2;
  up_rate_ = (up_rate_ + static_cast<std::int64_t>(static_cast<double>(up_bytes_) / dt)) / 2;
  down_bytes_ = up_bytes_ = 0;
  slot_.down_rate.store(down_rate_, std::memory_order_relaxed);
  slot_.up_rate.store(up_rate_, std::memory_order_relaxed);

  if (t_.stopping.load(std::memory_order_acquire)) return close(make_error_code(std::errc::operation_canceled));
  if (slot_.banned.load(std::memory_order_relaxed)) return close(make_error_code(errc::peer_banned));
  if (now - last_recv_ > kIdleTimeout) return close(make_error_code(std::errc::timed_out));
  // Two seeds have nothing to say to each other.
  if (peer_seed_ && t_.picker().complete()) return close(make_error_code(std::errc::operation_canceled));

  if (!in_flight_.empty() && now - last_block_ > kRequestTimeout) {
    // The peer stopped answering: its blocks go to other peers, and it gets
    // one request at a time until it delivers again.
    abort_requests(true);
    slot_.snubbed.store(true, std::memory_order_relaxed);
    snubbed_until_ = now + kRequestTimeout;
  }
  if (now - last_send_ > kKeepAlive && out_.empty()) wire::encode_keep_alive(out_);
}

void connection::cleanup() {
  abort_requests(false);
  t_.picker().release_owner(owner_);
  if (peer_seed_) t_.picker().remove_seed();
  else if (counted_availability_) t_.picker().remove_peer(peer_has_);
  if (!am_choking_) t_.unchoked.fetch_sub(1, std::memory_order_relaxed);
  t_.release_slot(slot_);
}

}  // namespace

io::task<void> run_peer(torrent& t, unique_fd sock, peer_slot& slot) {
  connection c(*io::reactor::current(), t, std::move(sock), slot);
  co_await c.run();
}

}  // namespace sta::swarm
