#include "peer/peer_loop.hpp"

#include <algorithm>

#include "base/error.hpp"
#include "peer/receive_plan.hpp"
#include "reactor/event.hpp"
#include "reactor/ops.hpp"

namespace sta::peer {
namespace {

using namespace std::chrono_literals;

constexpr auto kTick = 1s;
constexpr std::size_t kSendBatch = 256 * 1024;
// Frames longer than this end the connection: a block with its header and
// room for extension messages, or our torrent's bitfield if larger.
constexpr std::uint32_t kMaxFrame = 256 * 1024;

std::int64_t now_ns(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

io::task<result<void>> send_all(io::reactor& r, int sock, std::span<const std::byte> bytes, clock::time_point deadline) {
  while (!bytes.empty()) {
    auto n = co_await io::send(r, sock, bytes).deadline(io::time_left(deadline));
    if (!n) co_return n.error() == std::errc::timed_out ? make_error_code(errc::handshake_timeout) : n.error();
    if (*n == 0) co_return make_error_code(std::errc::connection_reset);
    bytes = bytes.subspan(*n);
  }
  co_return result<void>{};
}

class connection;

// This reactor thread's live connections, for wake_stopping().
std::vector<connection*>& live_connections() {
  thread_local std::vector<connection*> live;
  return live;
}

class connection {
 public:
  connection(io::reactor& r, torrent_io& t, peer_slot& slot, picker::owner_id owner, connection_start s)
      : r_(r),
        t_(t),
        slot_(slot),
        sock_(std::move(s.sock)),
        theirs_(s.theirs),
        buf_(std::move(s.buf)),
        view_(t.view()),
        state_(view_, slot, owner, clock::now()),
        owner_(owner),
        frame_limits_{.max_frame = std::max(kMaxFrame, view_.geo->piece_count() / 8 + 64)},
        wake_(r),
        writer_done_(r) {
    live_connections().push_back(this);
  }
  ~connection() { std::erase(live_connections(), this); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  io::task<error_code> run();
  // Its torrent stopped: the receive (or its rate-limit wait) ends now.
  void wake_if_stopping(const torrent_io* t) {
    if (&t_ == t && t_.stopping()) recv_cancel_.cancel();
  }
  io::task<void> write_loop();
  void writer_finished() { writer_done_.notify(); }

 private:
  void close(error_code why) {
    if (!closing_) reason_ = why;
    closing_ = true;
  }
  void decode_all(clock::time_point now);
  // Receiving in place: plans the next receive when blocks are expected;
  // after it, lands what came as planned and gives up the rest.
  bool plan_receive(bool guess);
  void took_planned(std::size_t n, clock::time_point now);
  void land_in_place(const picker::block_ref& b, clock::time_point now);
  // One of our requests: its piece and block, and the header it comes with.
  struct expected {
    piece_index piece;
    block_index block;
    receive_plan::header header;
  };
  expected expect(const picker::block_ref& b) const;

  io::reactor& r_;
  torrent_io& t_;
  peer_slot& slot_;
  unique_fd sock_;
  wire::handshake theirs_;
  recv_buffer buf_;
  torrent_view view_;
  peer_state state_;
  picker::owner_id owner_;
  wire::limits frame_limits_;
  std::size_t frame_size_ = 0;  // of the frame waiting for its rest, if known

  receive_plan plan_;
  // A reserved block whose header came: the rest of its bytes go there.
  struct arriving_block {
    picker::block_ref ref;
    std::span<std::byte> rest;
  };
  std::optional<arriving_block> arriving_;
  std::size_t skip_ = 0;  // bytes still to come of a block given up while arriving

  send_list batch_;
  std::vector<upload> todo_;
  std::vector<upload> failed_;

  io::event wake_;
  io::event writer_done_;
  io::cancel_slot recv_cancel_;
  io::cancel_slot send_cancel_;
  bool closing_ = false;
  error_code reason_;
};

io::task<void> run_writer(connection& c) {
  co_await c.write_loop();
  c.writer_finished();
}

void connection::decode_all(clock::time_point now) {
  std::size_t pos = 0;
  frame_size_ = 0;
  while (!closing_) {
    auto d = wire::decode(buf_.data().subspan(pos), {}, frame_limits_);
    if (!d) {
      close(d.error());
      break;
    }
    if (!d->msg) {
      frame_size_ = d->frame_size;
      break;
    }
    auto r = state_.on_message(*d->msg, now);
    if (!r) {
      close(r.error());
      break;
    }
    if (*r) t_.store(r_, **r, owner_);
    pos += d->used;
  }
  buf_.consume(pos);
}

bool connection::plan_receive(bool guess) {
  plan_.clear();
  if (arriving_) plan_.set_rest(arriving_->rest);
  if (!guess || skip_ > 0) return arriving_.has_value();
  // The start of the next frame, already here: a header cut short (checked
  // whole against the first guess), or a whole header and part of its
  // block (which then arrives in place, as after a receive).
  std::span<const std::byte> came = buf_.data();
  if (!arriving_ && came.size() >= receive_plan::kHeaderSize) {
    for (const picker::block_ref& b : state_.requests()) {
      const auto e = expect(b);
      if (!std::equal(e.header.begin(), e.header.end(), came.begin())) continue;
      const auto payload = came.subspan(e.header.size());
      if (payload.size() >= view_.geo->block_size(e.piece, e.block) || !state_.reserve(b)) return false;
      const auto place = t_.block_place(e.piece, e.block);
      std::copy(payload.begin(), payload.end(), place.begin());
      arriving_ = arriving_block{b, place.subspan(payload.size())};
      state_.arriving(b);
      break;
    }
    if (!arriving_) return false;
    buf_.consume(buf_.size());
    came = {};
    plan_.set_rest(arriving_->rest);
  }
  for (const picker::block_ref& b : state_.requests()) {
    if (plan_.frames() == receive_plan::kMaxFrames) break;
    if (arriving_ && b == arriving_->ref) continue;
    const auto e = expect(b);
    if (plan_.frames() == 0 && !std::equal(came.begin(), came.end(), e.header.begin())) break;
    if (!state_.reserve(b)) break;
    plan_.add({b, e.header, t_.block_place(e.piece, e.block)}, plan_.frames() == 0 ? came : std::span<const std::byte>{});
  }
  if (plan_.frames() == 0 && !arriving_) return false;
  if (plan_.frames() > 0) buf_.consume(came.size());  // now in the first frame's header
  return true;
}

void connection::took_planned(std::size_t n, clock::time_point now) {
  const auto o = plan_.resolve(n, buf_);
  if (arriving_) {
    arriving_->rest = arriving_->rest.subspan(o.rest_got);
    if (arriving_->rest.empty()) land_in_place(std::exchange(arriving_, std::nullopt)->ref, now);
  }
  for (std::size_t i = 0; i < o.whole; ++i) land_in_place(plan_.at(i).ref, now);
  std::size_t unused = o.whole;  // the first guess that did not come true
  if (o.started) {
    const auto& f = plan_.at(unused++);
    arriving_ = arriving_block{f.ref, f.payload.subspan(o.partial)};
    state_.arriving(f.ref);
  }
  for (std::size_t i = unused; i < plan_.frames(); ++i) state_.unreserve(plan_.at(i).ref);
}

void connection::land_in_place(const picker::block_ref& b, clock::time_point now) {
  if (!state_.on_block_in_place(b, now)) return;
  const auto e = expect(b);
  t_.landed_in_place(r_, e.piece, e.block, owner_);
}

connection::expected connection::expect(const picker::block_ref& b) const {
  const piece_index p = *view_.geo->piece(b.piece);
  const block_index i = *view_.geo->block(p, b.block);
  return {p, i, wire::encode_piece_header(b.piece, i.offset(), view_.geo->block_size(p, i))};
}

io::task<error_code> connection::run() {
  state_.start(theirs_, t_.listen_port(), clock::now());
  slot_.state.store(peer_slot::connected, std::memory_order_release);
  r_.spawn(run_writer(*this));
  wake_.notify();

  // Bytes that followed the handshake are decoded first.
  bool have_data = buf_.size() > 0;
  while (!closing_) {
    // Also before the first receive: a connection made after its torrent
    // stopped missed the wake (wake_stopping).
    if (t_.stopping()) {
      close(make_error_code(std::errc::operation_canceled));
      break;
    }
    if (!have_data) {
      rate_limits limit = t_.download_limits();
      // Blocks go straight into their pieces; a limit cuts receives short,
      // so under one only the rest of a block that is arriving does.
      const bool planned = plan_receive(limit.unlimited());
      result<std::size_t> n{std::size_t{0}};
      if (planned) {
        // What is there now, at once: guessed blocks stay reserved only
        // while the receive runs, never while the peer keeps us waiting
        // (in endgame that would throw away another peer's copy of them).
        n = co_await io::recvv(r_, sock_.get(), plan_.iovecs(), MSG_DONTWAIT).cancel_with(recv_cancel_);
        took_planned(n ? *n : 0, clock::now());
        if (!n && n.error() == std::errc::resource_unavailable_try_again) {
          // Nothing yet: wait for bytes with nothing reserved, then plan again.
          std::byte probe{};
          n = co_await io::recv(r_, sock_.get(), std::span(&probe, 1), MSG_PEEK).deadline(kTick).cancel_with(recv_cancel_);
          if (n && *n > 0) continue;
        }
      } else {
        auto room = buf_.room(frame_size_ > buf_.size() ? frame_size_ - buf_.size() : 1);
        if (!limit.unlimited())
          room = room.first(std::min<std::size_t>(room.size(), static_cast<std::size_t>(limit.quantum())));
        n = co_await io::recv(r_, sock_.get(), room).deadline(kTick).cancel_with(recv_cancel_);
      }
      const auto now = clock::now();
      if (!n) {
        if (n.error() != std::errc::timed_out) {
          close(n.error());
          break;
        }
      } else if (*n == 0) {
        close(make_error_code(std::errc::connection_reset));
        break;
      } else {
        if (!planned) buf_.commit(*n);
        // The rest of a block given up while it was arriving.
        const std::size_t skipped = std::min(skip_, buf_.size());
        buf_.consume(skipped);
        skip_ -= skipped;
        // Over the download limit: the next recv waits, and TCP makes the
        // peer wait too.
        if (const auto wait = limit.charge(static_cast<std::int64_t>(*n), now_ns(now)); wait > 0) {
          if (!co_await io::sleep(r_, std::chrono::nanoseconds(wait)).cancel_with(recv_cancel_)) {
            close(make_error_code(std::errc::operation_canceled));
            break;
          }
        }
      }
    }
    have_data = false;
    const auto now = clock::now();
    decode_all(now);
    if (auto learnt = state_.take_pex_peers(); !learnt.empty()) t_.learned_peers(std::move(learnt));
    if (auto node = state_.take_dht_node()) t_.dht_node(*node);
    if (t_.stopping()) close(make_error_code(std::errc::operation_canceled));
    if (!closing_) {
      if (auto u = state_.update(now); !u) close(u.error());
    }
    // Its request was given up (the peer stopped answering): what is still
    // to come of it is dropped, and it is not ours to write any more.
    if (arriving_ && state_.arriving() != arriving_->ref) {
      const arriving_block gone = *std::exchange(arriving_, std::nullopt);
      skip_ = gone.rest.size();
      const auto e = expect(gone.ref);
      view_.counters->wasted.fetch_add(view_.geo->block_size(e.piece, e.block), std::memory_order_relaxed);
    }
    if (state_.wants_to_send()) wake_.notify();
  }

  wake_.notify();
  send_cancel_.cancel();
  co_await writer_done_.wait();
  co_return reason_;
}

io::task<void> connection::write_loop() {
  while (!closing_) {
    if (!state_.wants_to_send()) {
      co_await wake_.wait();
      continue;
    }
    batch_.clear();
    state_.take_frames(batch_.own());
    batch_.own_appended();
    rate_limits limit = t_.upload_limits();
    const std::size_t batch_limit =
        limit.unlimited() ? kSendBatch : std::min<std::size_t>(kSendBatch, static_cast<std::size_t>(limit.quantum()));
    todo_.clear();
    std::size_t planned = batch_.size();
    while (planned < batch_limit) {
      const auto u = state_.next_upload();
      if (!u) break;
      todo_.push_back(*u);
      planned += u->length + 13;
    }
    std::int64_t payload = 0;
    if (!todo_.empty()) {
      failed_.clear();
      co_await t_.serve(r_, todo_, batch_, failed_);
      for (const upload& u : todo_) payload += u.length;
      for (const upload& u : failed_) {
        payload -= u.length;
        state_.upload_failed(u);
      }
      view_.counters->uploaded.fetch_add(payload, std::memory_order_relaxed);
    }
    const std::size_t bytes = batch_.size();
    while (!closing_ && !batch_.empty()) {
      auto n = co_await io::sendv(r_, sock_.get(), batch_.iovecs())
                   .deadline(view_.lim->send_timeout)
                   .cancel_with(send_cancel_);
      if (!n || *n == 0) {
        close(n ? error_code(make_error_code(std::errc::connection_reset)) : n.error());
        recv_cancel_.cancel();
        break;
      }
      batch_.sent(*n);
    }
    // The blocks it held may leave the cache now; an idle connection keeps none.
    batch_.clear();
    const auto now = clock::now();
    state_.sent(static_cast<std::size_t>(payload), now);
    // Over the upload limit: the next batch waits. Batches of messages
    // alone (requests, haves) are not charged, so a download never waits
    // for the upload limit.
    if (payload > 0) {
      const auto wait = limit.charge(static_cast<std::int64_t>(bytes), now_ns(now));
      if (wait > 0 && !closing_) co_await io::sleep(r_, std::chrono::nanoseconds(wait)).cancel_with(send_cancel_);
    }
  }
}

}  // namespace

io::task<result<void>> send_handshake(io::reactor& r, int sock, const wire::handshake& ours,
                                      clock::time_point deadline) {
  const auto bytes = wire::encode_handshake(ours);
  co_return co_await send_all(r, sock, bytes, deadline);
}

io::task<result<wire::handshake>> recv_handshake(io::reactor& r, int sock, clock::time_point deadline,
                                                 recv_buffer& buf) {
  while (buf.size() < wire::kHandshakeSize) {
    auto n = co_await io::recv(r, sock, buf.room(wire::kHandshakeSize)).deadline(io::time_left(deadline));
    if (!n) co_return n.error() == std::errc::timed_out ? make_error_code(errc::handshake_timeout) : n.error();
    if (*n == 0) co_return make_error_code(std::errc::connection_reset);
    buf.commit(*n);
  }
  auto theirs = wire::decode_handshake(buf.data().first(wire::kHandshakeSize));
  if (!theirs) co_return theirs.error();
  buf.consume(wire::kHandshakeSize);
  co_return *theirs;
}

void wake_stopping(const torrent_io* t) {
  for (connection* c : live_connections()) c->wake_if_stopping(t);
}

io::task<error_code> run_peer(torrent_io& t, peer_slot& slot, picker::owner_id owner, connection_start start) {
  connection c(*io::reactor::current(), t, slot, owner, std::move(start));
  co_return co_await c.run();
}

}  // namespace sta::peer
