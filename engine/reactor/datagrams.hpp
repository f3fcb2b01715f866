// datagram_socket: a UDP socket served by one reactor. Datagrams come in
// through one multishot recvmsg into a ring of provided buffers (the kernel
// picks a buffer per datagram, so a burst costs no SQE per datagram and no
// copy before the handler sees it); replies go out through a fixed pool of
// send slots, each a sendmsg SQE that leaves with the reactor's next batch.
// Where the kernel has no buffer rings (before 5.19) or no multishot
// recvmsg (before 6.0), one recvmsg at a time into one buffer does the same.
//
// Reactor thread only. The socket lives in the coroutine that awaits
// serve(), which returns once the reactor stops and nothing of the socket
// is in flight, so the frame (and the buffers) go only after the kernel is
// done with them.
#pragma once

#include <liburing.h>
#include <sys/socket.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "base/endpoint.hpp"
#include "base/unique_fd.hpp"
#include "reactor/reactor.hpp"

namespace sta::io {

class datagram_socket {
 public:
  // Called for each datagram, on the reactor thread; `data` is valid for
  // the call only.
  using handler = std::function<void(const endpoint& from, std::span<const std::byte> data)>;
  struct options {
    unsigned buffers = 512;        // a power of two
    std::size_t buffer_size = 2048;  // longer datagrams are counted and dropped
    unsigned send_slots = 512;
    std::size_t send_size = 4096;  // the longest datagram send() takes
  };
  struct counters {
    std::uint64_t received = 0;
    std::uint64_t truncated = 0;     // longer than a buffer: dropped
    std::uint64_t sent = 0;
    std::uint64_t send_dropped = 0;  // every slot busy, too long, or the send failed
    std::uint64_t rearmed = 0;       // the multishot receive ended (out of buffers) and was started again
    std::uint64_t failed = 0;        // receiving stopped on an error that would only repeat
  };

  datagram_socket(reactor& r, unique_fd fd, options o, handler h);
  ~datagram_socket();
  datagram_socket(const datagram_socket&) = delete;
  datagram_socket& operator=(const datagram_socket&) = delete;

  // Receives until the reactor stops; completes when nothing of this
  // socket is in flight any more.
  struct serve_awaiter {
    datagram_socket& s;
    bool await_ready() const noexcept { return s.idle(); }
    void await_suspend(std::coroutine_handle<> h);
    void await_resume() const noexcept {}
  };
  serve_awaiter serve();

  // Queues a datagram to `to`; false (and counted) when it cannot go.
  bool send(const endpoint& to, std::span<const std::byte> data);

  bool multishot() const { return multishot_; }
  const counters& stats() const { return stats_; }
  int fd() const { return fd_.get(); }

 private:
  struct receive_completion : completion {
    datagram_socket* owner;
  };
  struct send_slot : completion {
    datagram_socket* owner = nullptr;
    endpoint to;
    iovec iov{};
    msghdr msg{};
    std::byte* bytes = nullptr;  // in send_bytes_
  };

  bool idle() const { return !receiving_ && sends_in_flight_ == 0; }
  void arm();
  void maybe_finish();
  void on_datagram(std::span<std::byte> buf, std::size_t n);
  void recycle(unsigned bid);
  static void on_receive(completion* self, std::int32_t res, std::uint32_t flags, bool tagged);
  static void on_sent(completion* self, std::int32_t res, std::uint32_t flags, bool tagged);

  reactor& reactor_;
  unique_fd fd_;
  options opts_;
  handler handle_;
  counters stats_;

  // The buffer ring: entries the kernel reads, and the buffers themselves.
  io_uring_buf_ring* ring_ = nullptr;
  std::size_t ring_bytes_ = 0;
  std::unique_ptr<std::byte[]> buffers_;
  std::uint16_t group_ = 0;
  bool multishot_ = false;

  msghdr msg_{};  // the multishot's template: a name, no control
  endpoint from_;  // the single-shot receive's sender
  iovec iov_{};
  receive_completion receive_;
  bool receiving_ = false;

  std::unique_ptr<std::byte[]> send_bytes_;
  std::vector<std::unique_ptr<send_slot>> slots_;
  std::vector<send_slot*> free_slots_;
  std::size_t sends_in_flight_ = 0;
  std::coroutine_handle<> waiter_;
};

}  // namespace sta::io
