// Awaitable io_uring operations. Each awaiter lives in the awaiting
// coroutine's frame and its address is the SQE's user_data, so an operation
// allocates nothing. Every one returns result<...>; errors come from the
// kernel through from_cqe() and nowhere else.
//
//   auto n = co_await io::recv(r, fd, buf);                  // result<size_t>
//   auto n = co_await io::recv(r, fd, buf).deadline(2s);     // timed_out after 2 s
//   io::cancel_slot slot;  co_await io::recv(r, fd, buf).cancel_with(slot);
//   ... elsewhere on the same reactor: slot.cancel();        // operation_canceled
//
// Once the reactor is stopping, a new operation fails at once with
// operation_canceled. Reactor thread only.
#pragma once

#include <liburing.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "base/endpoint.hpp"
#include "reactor/reactor.hpp"

namespace sta::io {

template <class Derived>
class basic_op;

// Lets code other than the awaiting coroutine cancel its operation. Lives
// at least as long as the operation; reactor thread only.
class cancel_slot {
 public:
  // Asks the kernel to cancel the operation, if one is in flight; it then
  // completes with operation_canceled.
  void cancel();
  bool active() const { return op_ != nullptr; }

 private:
  template <class Derived>
  friend class basic_op;
  reactor* reactor_ = nullptr;
  completion* op_ = nullptr;
};

template <class Derived>
class basic_op : protected completion {
 public:
  explicit basic_op(reactor& r) : reactor_(r) {}
  // Moved only before it is awaited (deadline(), cancel_with() return a
  // copy); once submitted its address is in the kernel's hands.
  basic_op(basic_op&&) = default;
  basic_op(const basic_op&) = delete;
  basic_op& operator=(const basic_op&) = delete;

  // Fails with timed_out if the operation has not completed within d
  // (an IORING_OP_LINK_TIMEOUT linked to it).
  Derived deadline(std::chrono::nanoseconds d) && {
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(d);
    timeout_.tv_sec = s.count();
    timeout_.tv_nsec = (d - s).count();
    has_deadline_ = true;
    return std::move(static_cast<Derived&>(*this));
  }
  Derived cancel_with(cancel_slot& slot) && {
    slot_ = &slot;
    return std::move(static_cast<Derived&>(*this));
  }

  bool await_ready() noexcept {
    if (!reactor_.stopping()) return false;
    res_ = -ECANCELED;
    return true;
  }

  void await_suspend(std::coroutine_handle<> h) {
    handle_ = h;
    set_handler(&basic_op::complete);
    io_uring_sqe* sqe = reactor_.get_sqe();
    static_cast<Derived*>(this)->prepare(sqe);
    io_uring_sqe_set_data(sqe, static_cast<completion*>(this));
    pending_ = 1;
    if (has_deadline_) {
      sqe->flags |= IOSQE_IO_LINK;
      io_uring_sqe* t = reactor_.get_sqe();
      io_uring_prep_link_timeout(t, &timeout_, 0);
      io_uring_sqe_set_data64(t, reinterpret_cast<std::uint64_t>(static_cast<completion*>(this)) | 1);
      pending_ = 2;
    }
    reactor_.add_inflight(pending_);
    if (slot_) {
      slot_->reactor_ = &reactor_;
      slot_->op_ = this;
    }
  }

  auto await_resume() {
    if (timed_out_ && res_ == -ECANCELED) res_ = -ETIMEDOUT;
    return static_cast<Derived*>(this)->result_of(res_);
  }

 protected:
  reactor& reactor_;
  std::uint32_t flags_ = 0;  // of the operation's (first) CQE

 private:
  static void complete(completion* self, std::int32_t res, std::uint32_t flags, bool tagged) {
    auto* op = static_cast<basic_op*>(self);
    op->reactor_.remove_inflight();
    if (tagged) {
      op->timed_out_ = res == -ETIME;
    } else if (flags & IORING_CQE_F_NOTIF) {
      // SEND_ZC: the kernel is done with the buffer; the result came first.
    } else {
      op->res_ = res;
      op->flags_ = flags;
      if (flags & IORING_CQE_F_MORE) {  // SEND_ZC: a notification follows
        ++op->pending_;
        op->reactor_.add_inflight(1);
      }
    }
    if (--op->pending_ > 0) return;
    if (op->slot_) op->slot_->op_ = nullptr;
    op->handle_.resume();
  }

  std::coroutine_handle<> handle_;
  std::int32_t res_ = 0;
  int pending_ = 0;
  bool has_deadline_ = false;
  bool timed_out_ = false;
  __kernel_timespec timeout_{};
  cancel_slot* slot_ = nullptr;
};

// Operations whose result is a byte count.
template <class Derived>
class size_op : public basic_op<Derived> {
 public:
  using basic_op<Derived>::basic_op;
  result<std::size_t> result_of(std::int32_t res) const {
    auto r = from_cqe(res);
    if (!r) return r.error();
    return static_cast<std::size_t>(*r);
  }
};

// Operations whose result is a file descriptor or nothing.
template <class Derived>
class int_op : public basic_op<Derived> {
 public:
  using basic_op<Derived>::basic_op;
  result<int> result_of(std::int32_t res) const { return from_cqe(res); }
};

class recv_op : public size_op<recv_op> {
 public:
  recv_op(reactor& r, int fd, std::span<std::byte> buf, int flags) : size_op(r), fd_(fd), buf_(buf), flags_in_(flags) {}
  void prepare(io_uring_sqe* sqe) { io_uring_prep_recv(sqe, fd_, buf_.data(), buf_.size(), flags_in_); }

 private:
  int fd_;
  std::span<std::byte> buf_;
  int flags_in_;
};

class send_op : public size_op<send_op> {
 public:
  send_op(reactor& r, int fd, std::span<const std::byte> buf, int flags, bool zero_copy)
      : size_op(r), fd_(fd), buf_(buf), flags_in_(flags), zero_copy_(zero_copy) {}
  void prepare(io_uring_sqe* sqe) {
    if (zero_copy_) io_uring_prep_send_zc(sqe, fd_, buf_.data(), buf_.size(), flags_in_, 0);
    else io_uring_prep_send(sqe, fd_, buf_.data(), buf_.size(), flags_in_);
  }

 private:
  int fd_;
  std::span<const std::byte> buf_;
  int flags_in_;
  bool zero_copy_;
};

// Several buffers in one send on a connected socket (sendmsg). The msghdr
// lives in the awaiter; the iovecs must stay put until it completes.
class sendv_op : public size_op<sendv_op> {
 public:
  sendv_op(reactor& r, int fd, std::span<const iovec> iov) : size_op(r), fd_(fd), iov_(iov) {}
  void prepare(io_uring_sqe* sqe) {
    msg_ = {};
    msg_.msg_iov = const_cast<iovec*>(iov_.data());
    msg_.msg_iovlen = iov_.size();
    io_uring_prep_sendmsg(sqe, fd_, &msg_, MSG_NOSIGNAL);
  }

 private:
  int fd_;
  std::span<const iovec> iov_;
  msghdr msg_{};
};

// One receive on a connected socket into several buffers, in order
// (recvmsg). The msghdr lives in the awaiter, like sendv_op's. With
// MSG_DONTWAIT it completes at once, resource_unavailable_try_again when
// there is nothing to read.
class recvv_op : public size_op<recvv_op> {
 public:
  recvv_op(reactor& r, int fd, std::span<const iovec> iov, int flags)
      : size_op(r), fd_(fd), iov_(iov), flags_(flags) {}
  void prepare(io_uring_sqe* sqe) {
    msg_ = {};
    msg_.msg_iov = const_cast<iovec*>(iov_.data());
    msg_.msg_iovlen = iov_.size();
    io_uring_prep_recvmsg(sqe, fd_, &msg_, static_cast<unsigned>(flags_));
  }

 private:
  int fd_;
  std::span<const iovec> iov_;
  int flags_;
  msghdr msg_{};
};

// A datagram on an unconnected socket: recvmsg with the sender's address,
// sendmsg to an address. The msghdr lives in the awaiter, which stays put
// from prepare() to completion.
class recvfrom_op : public size_op<recvfrom_op> {
 public:
  recvfrom_op(reactor& r, int fd, std::span<std::byte> buf, endpoint& from) : size_op(r), fd_(fd), buf_(buf), from_(from) {}
  void prepare(io_uring_sqe* sqe) {
    iov_ = {buf_.data(), buf_.size()};
    msg_ = {};
    msg_.msg_name = from_.addr();
    msg_.msg_namelen = sizeof from_.storage;
    msg_.msg_iov = &iov_;
    msg_.msg_iovlen = 1;
    io_uring_prep_recvmsg(sqe, fd_, &msg_, 0);
  }
  // A datagram longer than buf comes cut: message_size.
  result<std::size_t> result_of(std::int32_t res) const {
    auto n = size_op::result_of(res);
    if (!n) return n;
    from_.length = msg_.msg_namelen;
    if (msg_.msg_flags & MSG_TRUNC) return make_error_code(std::errc::message_size);
    return n;
  }

 private:
  int fd_;
  std::span<std::byte> buf_;
  endpoint& from_;
  iovec iov_{};
  msghdr msg_{};
};

class sendto_op : public size_op<sendto_op> {
 public:
  sendto_op(reactor& r, int fd, std::span<const std::byte> buf, const endpoint& to) : size_op(r), fd_(fd), buf_(buf), to_(to) {}
  void prepare(io_uring_sqe* sqe) {
    iov_ = {const_cast<std::byte*>(buf_.data()), buf_.size()};
    msg_ = {};
    msg_.msg_name = const_cast<sockaddr*>(to_.addr());
    msg_.msg_namelen = to_.length;
    msg_.msg_iov = &iov_;
    msg_.msg_iovlen = 1;
    io_uring_prep_sendmsg(sqe, fd_, &msg_, MSG_NOSIGNAL);
  }

 private:
  int fd_;
  std::span<const std::byte> buf_;
  endpoint to_;
  iovec iov_{};
  msghdr msg_{};
};

class rw_op : public size_op<rw_op> {
 public:
  enum kind { read, write, read_fixed, write_fixed };
  rw_op(reactor& r, kind k, int fd, std::byte* data, std::size_t len, std::uint64_t offset, int buf_index,
        bool fixed_file)
      : size_op(r), kind_(k), fd_(fd), data_(data), len_(len), offset_(offset), buf_index_(buf_index),
        fixed_file_(fixed_file) {}
  // A plain read or write of a registered buffer (the page_arena) goes as
  // a fixed one: the kernel need not pin and release its pages.
  void prepare(io_uring_sqe* sqe) {
    const auto n = static_cast<unsigned>(len_);
    if (kind_ == read || kind_ == write) {
      if (const int index = reactor_.fixed_buffer_for(data_, len_); index >= 0) {
        kind_ = kind_ == read ? read_fixed : write_fixed;
        buf_index_ = index;
      }
    }
    switch (kind_) {
      case read: io_uring_prep_read(sqe, fd_, data_, n, offset_); break;
      case write: io_uring_prep_write(sqe, fd_, data_, n, offset_); break;
      case read_fixed: io_uring_prep_read_fixed(sqe, fd_, data_, n, offset_, buf_index_); break;
      case write_fixed: io_uring_prep_write_fixed(sqe, fd_, data_, n, offset_, buf_index_); break;
    }
    if (fixed_file_) sqe->flags |= IOSQE_FIXED_FILE;
  }

 private:
  kind kind_;
  int fd_;
  std::byte* data_;
  std::size_t len_;
  std::uint64_t offset_;
  int buf_index_;
  bool fixed_file_;
};

class accept_op : public int_op<accept_op> {
 public:
  accept_op(reactor& r, int fd) : int_op(r), fd_(fd) {}
  void prepare(io_uring_sqe* sqe) { io_uring_prep_accept(sqe, fd_, nullptr, nullptr, SOCK_CLOEXEC); }

 private:
  int fd_;
};

class connect_op : public int_op<connect_op> {
 public:
  connect_op(reactor& r, int fd, const sockaddr* addr, socklen_t len) : int_op(r), fd_(fd), addr_(addr), len_(len) {}
  void prepare(io_uring_sqe* sqe) { io_uring_prep_connect(sqe, fd_, addr_, len_); }

 private:
  int fd_;
  const sockaddr* addr_;
  socklen_t len_;
};

class splice_op : public size_op<splice_op> {
 public:
  splice_op(reactor& r, int in, std::int64_t in_off, int out, std::int64_t out_off, unsigned len)
      : size_op(r), in_(in), out_(out), in_off_(in_off), out_off_(out_off), len_(len) {}
  void prepare(io_uring_sqe* sqe) { io_uring_prep_splice(sqe, in_, in_off_, out_, out_off_, len_, 0); }

 private:
  int in_, out_;
  std::int64_t in_off_, out_off_;
  unsigned len_;
};

class file_op : public int_op<file_op> {
 public:
  enum kind { fsync, fallocate };
  file_op(reactor& r, kind k, int fd, int mode, std::uint64_t offset, std::uint64_t len)
      : int_op(r), kind_(k), fd_(fd), mode_(mode), offset_(offset), len_(len) {}
  void prepare(io_uring_sqe* sqe) {
    if (kind_ == fsync) io_uring_prep_fsync(sqe, fd_, 0);
    else io_uring_prep_fallocate(sqe, fd_, mode_, offset_, len_);
  }

 private:
  kind kind_;
  int fd_, mode_;
  std::uint64_t offset_, len_;
};

class sleep_op : public int_op<sleep_op> {
 public:
  sleep_op(reactor& r, std::chrono::nanoseconds d) : int_op(r) {
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(d);
    ts_.tv_sec = s.count();
    ts_.tv_nsec = (d - s).count();
  }
  void prepare(io_uring_sqe* sqe) { io_uring_prep_timeout(sqe, &ts_, 0, 0); }
  // The timer expiring is success.
  result<int> result_of(std::int32_t res) const { return from_cqe(res == -ETIME ? 0 : res); }

 private:
  __kernel_timespec ts_{};
};

inline recv_op recv(reactor& r, int fd, std::span<std::byte> buf, int flags = 0) { return {r, fd, buf, flags}; }
inline send_op send(reactor& r, int fd, std::span<const std::byte> buf, int flags = MSG_NOSIGNAL) {
  return {r, fd, buf, flags, false};
}
inline sendv_op sendv(reactor& r, int fd, std::span<const iovec> iov) { return {r, fd, iov}; }
inline recvv_op recvv(reactor& r, int fd, std::span<const iovec> iov, int flags = 0) { return {r, fd, iov, flags}; }
inline recvfrom_op recv_from(reactor& r, int fd, std::span<std::byte> buf, endpoint& from) { return {r, fd, buf, from}; }
inline sendto_op send_to(reactor& r, int fd, std::span<const std::byte> buf, const endpoint& to) {
  return {r, fd, buf, to};
}
// Zero-copy send: resumes once the kernel no longer needs buf.
inline send_op send_zc(reactor& r, int fd, std::span<const std::byte> buf, int flags = MSG_NOSIGNAL) {
  return {r, fd, buf, flags, true};
}
inline rw_op read(reactor& r, int fd, std::span<std::byte> buf, std::uint64_t offset) {
  return {r, rw_op::read, fd, buf.data(), buf.size(), offset, 0, false};
}
inline rw_op write(reactor& r, int fd, std::span<const std::byte> buf, std::uint64_t offset) {
  return {r, rw_op::write, fd, const_cast<std::byte*>(buf.data()), buf.size(), offset, 0, false};
}
// With a buffer registered as buf_index (registered_buffers), and
// optionally a registered file index instead of an fd.
inline rw_op read_fixed(reactor& r, int fd, std::span<std::byte> buf, std::uint64_t offset, int buf_index,
                        bool fixed_file = false) {
  return {r, rw_op::read_fixed, fd, buf.data(), buf.size(), offset, buf_index, fixed_file};
}
inline rw_op write_fixed(reactor& r, int fd, std::span<const std::byte> buf, std::uint64_t offset, int buf_index,
                         bool fixed_file = false) {
  return {r, rw_op::write_fixed, fd, const_cast<std::byte*>(buf.data()), buf.size(), offset, buf_index, fixed_file};
}
inline accept_op accept(reactor& r, int listen_fd) { return {r, listen_fd}; }
inline connect_op connect(reactor& r, int fd, const sockaddr* addr, socklen_t len) { return {r, fd, addr, len}; }
inline splice_op splice(reactor& r, int in, std::int64_t in_off, int out, std::int64_t out_off, unsigned len) {
  return {r, in, in_off, out, out_off, len};
}
inline file_op fsync(reactor& r, int fd) { return {r, file_op::fsync, fd, 0, 0, 0}; }
inline file_op fallocate(reactor& r, int fd, int mode, std::uint64_t offset, std::uint64_t len) {
  return {r, file_op::fallocate, fd, mode, offset, len};
}
inline sleep_op sleep(reactor& r, std::chrono::nanoseconds d) { return {r, d}; }

// What is left of a deadline shared by several operations, for .deadline():
// at least 1 ns, so an operation started after it fails with timed_out.
inline std::chrono::nanoseconds time_left(std::chrono::steady_clock::time_point deadline) {
  return std::max(std::chrono::nanoseconds(1), std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                   deadline - std::chrono::steady_clock::now()));
}

}  // namespace sta::io
