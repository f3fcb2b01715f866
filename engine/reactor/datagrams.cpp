#include "reactor/datagrams.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace sta::io {
namespace {

// Buffer group ids are per ring; one counter for the process keeps them
// apart on every ring.
std::atomic<std::uint16_t> next_group{1};

}  // namespace

datagram_socket::datagram_socket(reactor& r, unique_fd fd, options o, handler h)
    : reactor_(r), fd_(std::move(fd)), opts_(o), handle_(std::move(h)) {
  receive_.owner = this;
  receive_.set_handler(&datagram_socket::on_receive);
  group_ = next_group.fetch_add(1, std::memory_order_relaxed);
  ring_bytes_ = opts_.buffers * sizeof(io_uring_buf);
  void* mem = ::mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem != MAP_FAILED) {
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(mem);
    reg.ring_entries = opts_.buffers;
    reg.bgid = group_;
    if (io_uring_register_buf_ring(reactor_.ring(), &reg, 0) == 0) {
      ring_ = static_cast<io_uring_buf_ring*>(mem);
      multishot_ = true;
    } else {
      ::munmap(mem, ring_bytes_);
    }
  }
  buffers_ = std::make_unique_for_overwrite<std::byte[]>((multishot_ ? opts_.buffers : 1) * opts_.buffer_size);
  if (multishot_) {
    io_uring_buf_ring_init(ring_);
    for (unsigned bid = 0; bid < opts_.buffers; ++bid)
      io_uring_buf_ring_add(ring_, buffers_.get() + bid * opts_.buffer_size, static_cast<unsigned>(opts_.buffer_size),
                            static_cast<unsigned short>(bid), io_uring_buf_ring_mask(opts_.buffers),
                            static_cast<int>(bid));
    io_uring_buf_ring_advance(ring_, static_cast<int>(opts_.buffers));
  }
  // One block for every slot's bytes: its pages are touched only as
  // slots are used.
  send_bytes_ = std::make_unique_for_overwrite<std::byte[]>(opts_.send_slots * opts_.send_size);
  slots_.reserve(opts_.send_slots);
  for (unsigned i = 0; i < opts_.send_slots; ++i) {
    auto s = std::make_unique<send_slot>();
    s->owner = this;
    s->set_handler(&datagram_socket::on_sent);
    s->bytes = send_bytes_.get() + i * opts_.send_size;
    free_slots_.push_back(s.get());
    slots_.push_back(std::move(s));
  }
}

datagram_socket::~datagram_socket() {
  if (ring_) {
    (void)io_uring_unregister_buf_ring(reactor_.ring(), group_);
    ::munmap(ring_, ring_bytes_);
  }
}

void datagram_socket::serve_awaiter::await_suspend(std::coroutine_handle<> h) { s.waiter_ = h; }

datagram_socket::serve_awaiter datagram_socket::serve() {
  if (!receiving_ && !reactor_.stopping()) arm();
  return {*this};
}

void datagram_socket::arm() {
  io_uring_sqe* sqe = reactor_.get_sqe();
  msg_ = {};
  if (multishot_) {
    msg_.msg_namelen = sizeof(sockaddr_storage);
    io_uring_prep_recvmsg_multishot(sqe, fd_.get(), &msg_, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = group_;
  } else {
    iov_ = {buffers_.get(), opts_.buffer_size};
    msg_.msg_name = from_.addr();
    msg_.msg_namelen = sizeof from_.storage;
    msg_.msg_iov = &iov_;
    msg_.msg_iovlen = 1;
    io_uring_prep_recvmsg(sqe, fd_.get(), &msg_, 0);
  }
  io_uring_sqe_set_data(sqe, static_cast<completion*>(&receive_));
  reactor_.add_inflight(1);
  receiving_ = true;
}

void datagram_socket::on_datagram(std::span<std::byte> buf, std::size_t n) {
  if (!multishot_) {
    if (msg_.msg_flags & MSG_TRUNC) {
      ++stats_.truncated;
      return;
    }
    from_.length = msg_.msg_namelen;
    ++stats_.received;
    handle_(from_, buf.first(n));
    return;
  }
  auto* out = io_uring_recvmsg_validate(buf.data(), static_cast<int>(n), &msg_);
  if (!out || (out->flags & MSG_TRUNC)) {
    ++stats_.truncated;
    return;
  }
  endpoint from;
  const auto name_len = std::min<std::uint32_t>(out->namelen, msg_.msg_namelen);
  std::memcpy(from.addr(), io_uring_recvmsg_name(out), name_len);
  from.length = name_len;
  const auto* payload = static_cast<const std::byte*>(io_uring_recvmsg_payload(out, &msg_));
  const auto length = io_uring_recvmsg_payload_length(out, static_cast<int>(n), &msg_);
  ++stats_.received;
  handle_(from, std::span(payload, length));
}

void datagram_socket::recycle(unsigned bid) {
  io_uring_buf_ring_add(ring_, buffers_.get() + bid * opts_.buffer_size, static_cast<unsigned>(opts_.buffer_size),
                        static_cast<unsigned short>(bid), io_uring_buf_ring_mask(opts_.buffers), 0);
  io_uring_buf_ring_advance(ring_, 1);
}

void datagram_socket::on_receive(completion* self, std::int32_t res, std::uint32_t flags, bool) {
  auto& s = *static_cast<receive_completion*>(self)->owner;
  if (!(flags & IORING_CQE_F_MORE)) {
    s.reactor_.remove_inflight();
    s.receiving_ = false;
  }
  if (res >= 0) {
    if (!s.multishot_) {
      s.on_datagram(std::span(s.buffers_.get(), s.opts_.buffer_size), static_cast<std::size_t>(res));
    } else if (flags & IORING_CQE_F_BUFFER) {
      const unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
      s.on_datagram(std::span(s.buffers_.get() + bid * s.opts_.buffer_size, s.opts_.buffer_size),
                    static_cast<std::size_t>(res));
      s.recycle(bid);
    }
  }
  bool fell_back = false;
  if (res == -EINVAL && s.multishot_ && s.stats_.received == 0) {
    // Buffer rings but no multishot recvmsg (a kernel before 6.0).
    s.multishot_ = false;
    fell_back = true;
  }
  if (s.receiving_) return;
  // Started again after a datagram, a ring that ran dry or an interrupted
  // wait; any other error would only come back at once (a socket that is
  // gone): the socket stops receiving, counted, rather than spin.
  const bool again = res >= 0 || res == -ENOBUFS || res == -EINTR || fell_back;
  if (s.reactor_.stopping() || !again) {
    if (!s.reactor_.stopping() && res != -ECANCELED) ++s.stats_.failed;
    s.maybe_finish();
    return;
  }
  if (s.multishot_) ++s.stats_.rearmed;
  s.arm();
}

bool datagram_socket::send(const endpoint& to, std::span<const std::byte> data) {
  if (reactor_.stopping() || data.size() > opts_.send_size || free_slots_.empty()) {
    ++stats_.send_dropped;
    return false;
  }
  send_slot* slot = free_slots_.back();
  free_slots_.pop_back();
  std::memcpy(slot->bytes, data.data(), data.size());
  slot->to = to;
  slot->iov = {slot->bytes, data.size()};
  slot->msg = {};
  slot->msg.msg_name = slot->to.addr();
  slot->msg.msg_namelen = slot->to.length;
  slot->msg.msg_iov = &slot->iov;
  slot->msg.msg_iovlen = 1;
  io_uring_sqe* sqe = reactor_.get_sqe();
  io_uring_prep_sendmsg(sqe, fd_.get(), &slot->msg, MSG_NOSIGNAL);
  io_uring_sqe_set_data(sqe, static_cast<completion*>(slot));
  reactor_.add_inflight(1);
  ++sends_in_flight_;
  return true;
}

void datagram_socket::on_sent(completion* self, std::int32_t res, std::uint32_t, bool) {
  auto* slot = static_cast<send_slot*>(self);
  auto& s = *slot->owner;
  s.reactor_.remove_inflight();
  --s.sends_in_flight_;
  s.free_slots_.push_back(slot);
  if (res < 0)
    ++s.stats_.send_dropped;
  else
    ++s.stats_.sent;
  s.maybe_finish();
}

void datagram_socket::maybe_finish() {
  if (idle() && waiter_) reactor_.schedule(std::exchange(waiter_, {}));
}

}  // namespace sta::io
