// reactor: one thread, one io_uring, and the coroutines that run on it.
//
// A reactor is created and run on the same thread (the ring is set up with
// IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN where the kernel
// has them, without them where it has not). Everything here except post() is
// for that thread only; other reactors reach it with switch_to() (an
// IORING_OP_MSG_RING from their own ring: no lock) and other threads with
// post() (a locked queue and an eventfd: control plane only).
//
// Every in-flight operation is a `completion` whose address is its SQE's
// user_data; the awaiters in ops.hpp live in coroutine frames, so an
// operation allocates nothing. stop() cancels everything in flight; run()
// returns once every spawned task has finished and been destroyed and no
// operation is left in flight.
#pragma once

#include <liburing.h>
#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "reactor/task.hpp"

namespace sta::io {

// Base of everything whose address is an SQE's user_data. A second CQE for
// the same object (a linked timeout, a MSG_RING sender's own CQE) carries
// the address with its low bit set: `tagged`.
//
// The handler is stored with release and loaded with acquire: a completion
// handed to another reactor's ring (switch_to) is read on that thread, and
// this pair makes the kernel's ordering visible to the C++ memory model (and
// to TSan). On x86 both are plain moves.
struct completion {
  using handler = void (*)(completion* self, std::int32_t res, std::uint32_t flags, bool tagged);
  std::atomic<handler> on_cqe{nullptr};

  completion() = default;
  completion(completion&& other) noexcept : on_cqe(other.on_cqe.load(std::memory_order_relaxed)) {}
  void set_handler(handler h) { on_cqe.store(h, std::memory_order_release); }
};

// The one place where a CQE's negative result becomes an error_code.
result<std::int32_t> from_cqe(std::int32_t res);

// Why io_uring cannot be used here, in one line that names the likely cause
// (kernel too old, seccomp, kernel.io_uring_disabled), for an errno from
// io_uring_queue_init.
std::string io_uring_unavailable_reason(int err);

class reactor {
 public:
  struct options {
    unsigned entries = 1024;
  };

  // Sets up the ring for the calling thread; that thread must call run().
  // On failure the error's subject is io_uring_unavailable_reason().
  static result<std::unique_ptr<reactor>, std::string> create(const options& opts);
  static result<std::unique_ptr<reactor>, std::string> create() { return create(options{}); }
  ~reactor();
  reactor(const reactor&) = delete;
  reactor& operator=(const reactor&) = delete;

  // Runs tasks and completions until stop() and everything has drained.
  void run();
  // Cancels every in-flight operation; new ones fail at once with
  // operation_canceled. Idempotent.
  void stop();
  bool stopping() const { return stopping_; }

  // Starts t on this reactor; the reactor owns it until it finishes.
  void spawn(task<void> t);
  std::size_t live_tasks() const { return live_tasks_; }
  // Resumes h on the next turn of the run loop (not inline).
  void schedule(std::coroutine_handle<> h) { ready_.push_back(h); }

  // Any thread: runs fn on this reactor's thread. Slow path (a lock).
  void post(std::function<void()> fn);

  // The reactor running on the calling thread, or nullptr.
  static reactor* current();

  // Registers buffers for read_fixed/write_fixed (index = position) and
  // files for fixed-file operations. Replaces earlier registrations, the
  // page_arena's included.
  result<void> register_buffers(std::span<const iovec> buffers);
  result<void> register_files(std::span<const int> fds);

  // For a read or write about to be prepared: the index of the registered
  // buffer that holds [p, p + n), or -1 (then it is a plain one). The
  // process's page_arena is registered with this ring the first time a
  // range in it is asked for; where that fails (RLIMIT_MEMLOCK), never.
  int fixed_buffer_for(const void* p, std::size_t n) {
    if (const auto a = reinterpret_cast<std::uintptr_t>(p); a >= fixed_begin_ && a + n <= fixed_end_) {
      ++fixed_ops_;
      return 0;
    }
    if (arena_tried_) return -1;
    return register_arena(p) ? fixed_buffer_for(p, n) : -1;
  }
  // Reads and writes prepared on a registered buffer so far.
  std::uint64_t fixed_ops() const { return fixed_ops_; }
  // Bytes of the page_arena registered with this ring (0: none, or not yet).
  std::size_t arena_bytes() const {
    return fixed_end_ - fixed_begin_;
  }

  // For awaitables: a free SQE (submits first when the ring is full).
  io_uring_sqe* get_sqe();
  // For awaitables: count CQEs owed to an operation; run() waits for them.
  void add_inflight(int n) { inflight_ += n; }
  void remove_inflight() { --inflight_; }
  int ring_fd() const { return ring_.ring_fd; }
  io_uring* ring() { return &ring_; }
  bool defer_taskrun() const { return defer_taskrun_; }

 private:
  reactor() = default;
  void dispatch(std::uint64_t user_data, std::int32_t res, std::uint32_t flags);
  void arm_wakeup();
  void drain_posted();
  static void on_wakeup(completion* self, std::int32_t res, std::uint32_t flags, bool tagged);

  friend struct spawn_wrapper;
  friend class switch_to;

  // Registers the process's page_arena if `p` lies in it; false if it
  // does not or the registration failed (then never tried again).
  bool register_arena(const void* p);
  void release_arena();

  io_uring ring_{};
  bool defer_taskrun_ = false;
  bool arena_tried_ = false;
  std::uintptr_t fixed_begin_ = 0;  // the page_arena's registered part, once registered (index 0)
  std::uintptr_t fixed_end_ = 0;
  std::uint64_t fixed_ops_ = 0;
  bool stopping_ = false;
  std::size_t live_tasks_ = 0;
  std::int64_t inflight_ = 0;
  // Coroutines on their way here from another reactor (switch_to): a
  // stopping reactor runs until they have arrived, so none is lost; once it
  // has ended (kEnded), a switch_to it goes on where it is instead.
  static constexpr std::int64_t kEnded = std::numeric_limits<std::int64_t>::min() / 2;
  // Apart from the fields this thread writes per operation: other threads
  // change it on every hop here.
  alignas(64) std::atomic<std::int64_t> guests_{0};
  std::vector<std::coroutine_handle<>> ready_;

  // post(): other threads push under the lock and write the eventfd.
  unique_fd wakeup_fd_;
  std::uint64_t wakeup_value_ = 0;
  struct wakeup_completion : completion {
    reactor* owner;
  } wakeup_completion_;
  bool wakeup_armed_ = false;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
};

// Resumes the awaiting coroutine on `target`'s thread, by an
// IORING_OP_MSG_RING from the current reactor's ring (no lock, batched with
// the ring's other submissions). Must be awaited on a reactor thread. A
// target that has stopped and ended already leaves the coroutine where it
// is (only shutdown races meet one).
class switch_to : completion {
 public:
  explicit switch_to(reactor& target) : target_(target) {}
  bool await_ready() const noexcept { return reactor::current() == &target_; }
  bool await_suspend(std::coroutine_handle<> h);
  void await_resume() const noexcept {}

 private:
  void send();
  static void on_message(completion* self, std::int32_t res, std::uint32_t flags, bool tagged);
  reactor& target_;
  reactor* source_ = nullptr;
  std::coroutine_handle<> handle_;
};

}  // namespace sta::io
