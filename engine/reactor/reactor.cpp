#include "reactor/reactor.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>

#include "base/page_buffer.hpp"
#include "base/sys_error.hpp"

namespace sta::io {
namespace {

thread_local reactor* current_reactor = nullptr;

constexpr std::uint64_t kTagBit = 1;
constexpr unsigned kBatch = 256;

// How the process's page_arena gets into the rings. Since Linux 6.12 it is
// registered once, with a ring of its own, and cloned into each reactor's
// (IORING_REGISTER_CLONE_BUFFERS): its pages are pinned, and counted
// against RLIMIT_MEMLOCK, once for all rings. An older kernel refuses the
// clone; then that registration goes and each ring registers the arena
// itself, each counted, as far as the limit allows. The rings count against
// the same limit, and so may other processes of the user, so the arena is
// registered as large as fits, down to page_arena::kMinBytes, from its
// start (where allocation begins). When the last reactor using it goes,
// the registration goes too: a node that stops leaves nothing pinned.
class arena_registry {
 public:
  static arena_registry& instance() {
    static arena_registry r;
    return r;
  }

  // Bytes of the arena, from its start, now registered with `ring` (as
  // buffer 0), or 0.
  std::size_t register_with(io_uring& ring, const page_arena& arena) {
    std::lock_guard lock(mutex_);
    if (cloning_) {
      if (users_ == 0) source_bytes_ = register_fitting(source_, arena);
      const int r = source_bytes_ > 0 ? io_uring_clone_buffers(&ring, &source_) : -ENOMEM;
      if (r == 0) {
        ++users_;
        return source_bytes_;
      }
      if (users_ == 0 && source_bytes_ > 0) io_uring_unregister_buffers(&source_);
      if (r != -EINVAL) return 0;
      cloning_ = false;  // this kernel cannot clone: each ring registers its own
    }
    const std::size_t bytes = register_fitting(ring, arena);
    if (bytes > 0) ++users_;
    return bytes;
  }

  // Before `ring`, which registered the arena, goes.
  void release(io_uring& ring) {
    std::lock_guard lock(mutex_);
    io_uring_unregister_buffers(&ring);
    if (--users_ == 0 && cloning_) io_uring_unregister_buffers(&source_);
  }

 private:
  arena_registry() { cloning_ = io_uring_queue_init(2, &source_, 0) == 0; }

  static std::size_t register_fitting(io_uring& ring, const page_arena& arena) {
    for (std::size_t bytes = arena.bytes(); bytes >= page_arena::kMinBytes; bytes -= page_arena::kMinBytes) {
      const iovec iov{arena.region().data(), bytes};
      if (io_uring_register_buffers(&ring, &iov, 1) == 0) return bytes;
    }
    return 0;
  }

  std::mutex mutex_;
  bool cloning_ = false;
  io_uring source_{};  // holds the registration the others clone; lives as long as the process
  std::size_t source_bytes_ = 0;
  unsigned users_ = 0;  // reactor rings that hold the arena
};

}  // namespace

result<std::int32_t> from_cqe(std::int32_t res) {
  if (res < 0) return error_code(-res, boost::system::system_category());
  return res;
}

std::string io_uring_unavailable_reason(int err) {
  std::string why = "io_uring is unavailable (" + std::string(std::strerror(err)) + "): ";
  switch (err) {
    case ENOSYS:
      return why + "this kernel has no io_uring; sta needs Linux 5.19 or newer";
    case EPERM:
      return why + "blocked by kernel.io_uring_disabled or a seccomp policy (containers often block it)";
    case ENOMEM:
      return why + "not enough locked memory (raise RLIMIT_MEMLOCK)";
    default:
      return why + "the kernel refused to create a ring";
  }
}

// The frame that owns a spawned task: it starts when the reactor resumes it
// and destroys itself when it ends (final_suspend never suspends).
struct spawn_wrapper {
  struct promise_type {
    spawn_wrapper get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() const noexcept { std::terminate(); }
  };
  std::coroutine_handle<promise_type> handle;

  static spawn_wrapper run(reactor* r, task<void> t) {
    try {
      co_await std::move(t);
    } catch (const std::exception& e) {
      // A spawned task has nobody to report to; hiding the error would hide
      // a bug.
      std::fprintf(stderr, "sta: internal error in a reactor task: %s\n", e.what());
      std::terminate();
    }
    // A task that hopped to another reactor comes home before it ends, so
    // only this reactor's thread counts its tasks.
    co_await switch_to(*r);
    --r->live_tasks_;
  }
};

result<std::unique_ptr<reactor>, std::string> reactor::create(const options& opts) {
  std::unique_ptr<reactor> r(new reactor());
  // Best first, then fall back flag by flag for older kernels.
  const unsigned attempts[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
      IORING_SETUP_SINGLE_ISSUER,
      0,
  };
  int err = 0;
  for (unsigned flags : attempts) {
    io_uring_params params{};
    params.flags = flags;
    err = -io_uring_queue_init_params(opts.entries, &r->ring_, &params);
    if (err == 0) {
      r->defer_taskrun_ = (flags & IORING_SETUP_DEFER_TASKRUN) != 0;
      break;
    }
    if (err != EINVAL) break;
  }
  if (err != 0) return io_uring_unavailable_reason(err);

  r->wakeup_fd_.reset(::eventfd(0, EFD_CLOEXEC));
  if (!r->wakeup_fd_) {
    const int e = errno;
    io_uring_queue_exit(&r->ring_);
    return std::string("eventfd: ") + std::strerror(e);
  }
  r->wakeup_completion_.set_handler(&reactor::on_wakeup);
  r->wakeup_completion_.owner = r.get();
  return r;
}

reactor::~reactor() {
  // Registered memory is unpinned, and uncounted from RLIMIT_MEMLOCK, now
  // rather than when the kernel gets round to tearing the ring down.
  release_arena();
  io_uring_unregister_buffers(&ring_);
  io_uring_queue_exit(&ring_);
}

reactor* reactor::current() { return current_reactor; }

bool reactor::register_arena(const void* p) {
  const page_arena* arena = page_arena::process();
  if (arena == nullptr || !arena->owns(p)) return false;
  arena_tried_ = true;
  const std::size_t bytes = arena_registry::instance().register_with(ring_, *arena);
  if (bytes == 0) return false;
  fixed_begin_ = reinterpret_cast<std::uintptr_t>(arena->region().data());
  fixed_end_ = fixed_begin_ + bytes;
  return true;
}

void reactor::release_arena() {
  if (fixed_end_ != 0) arena_registry::instance().release(ring_);
  fixed_begin_ = fixed_end_ = 0;
}

result<void> reactor::register_buffers(std::span<const iovec> buffers) {
  arena_tried_ = true;
  release_arena();
  io_uring_unregister_buffers(&ring_);
  if (buffers.empty()) return {};
  const int r = io_uring_register_buffers(&ring_, buffers.data(), static_cast<unsigned>(buffers.size()));
  if (r < 0) return sys_error(-r);
  return {};
}

result<void> reactor::register_files(std::span<const int> fds) {
  io_uring_unregister_files(&ring_);
  if (fds.empty()) return {};
  const int r = io_uring_register_files(&ring_, fds.data(), static_cast<unsigned>(fds.size()));
  if (r < 0) return sys_error(-r);
  return {};
}

io_uring_sqe* reactor::get_sqe() {
  for (;;) {
    if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) return sqe;
    io_uring_submit(&ring_);
  }
}

void reactor::spawn(task<void> t) {
  ++live_tasks_;
  ready_.push_back(spawn_wrapper::run(this, std::move(t)).handle);
}

void reactor::stop() {
  if (stopping_) return;
  stopping_ = true;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
  io_uring_sqe_set_data64(sqe, 0);
}

void reactor::post(std::function<void()> fn) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wakeup_fd_.get(), &one, sizeof one);
}

void reactor::arm_wakeup() {
  if (wakeup_armed_ || stopping_) return;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_read(sqe, wakeup_fd_.get(), &wakeup_value_, sizeof wakeup_value_, 0);
  io_uring_sqe_set_data(sqe, static_cast<completion*>(&wakeup_completion_));
  wakeup_armed_ = true;
}

void reactor::on_wakeup(completion* self, std::int32_t, std::uint32_t, bool) {
  reactor* r = static_cast<wakeup_completion*>(self)->owner;
  r->wakeup_armed_ = false;
  r->drain_posted();
}

void reactor::drain_posted() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(posted_mutex_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
}

void reactor::dispatch(std::uint64_t user_data, std::int32_t res, std::uint32_t flags) {
  if (user_data == 0) return;  // cancel requests and other fire-and-forget SQEs
  const bool tagged = (user_data & kTagBit) != 0;
  auto* c = reinterpret_cast<completion*>(user_data & ~kTagBit);
  c->on_cqe.load(std::memory_order_acquire)(c, res, flags, tagged);
}

void reactor::run() {
  current_reactor = this;
  struct cqe_copy {
    std::uint64_t user_data;
    std::int32_t res;
    std::uint32_t flags;
  };
  std::vector<cqe_copy> batch;
  batch.reserve(kBatch);
  std::vector<std::coroutine_handle<>> running;

  for (;;) {
    // Resume what is ready; resumed coroutines may make more ready.
    while (!ready_.empty()) {
      running.swap(ready_);
      for (auto h : running) h.resume();
      running.clear();
    }
    std::int64_t no_guests = 0;
    if (stopping_ && live_tasks_ == 0 && inflight_ == 0 &&
        guests_.compare_exchange_strong(no_guests, kEnded, std::memory_order_acq_rel)) {
      // A task may have just hopped to another reactor (switch_to): its
      // message must leave before this ring goes quiet.
      io_uring_submit(&ring_);
      break;
    }
    arm_wakeup();

    io_uring_submit_and_wait(&ring_, 1);
    // Copy the CQEs out before dispatching: a resumed coroutine may submit
    // and, with DEFER_TASKRUN, post new CQEs into the ring we are reading.
    io_uring_cqe* cqes[kBatch];
    const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kBatch);
    batch.clear();
    for (unsigned i = 0; i < n; ++i) batch.push_back({cqes[i]->user_data, cqes[i]->res, cqes[i]->flags});
    io_uring_cq_advance(&ring_, n);
    for (const auto& c : batch) dispatch(c.user_data, c.res, c.flags);
  }
  // The wakeup read may still be armed; the ring's teardown cancels it.
  current_reactor = nullptr;
}

bool switch_to::await_suspend(std::coroutine_handle<> h) {
  handle_ = h;
  source_ = reactor::current();
  if (source_ == nullptr) {
    // Not on a reactor thread: fall back to the locked queue.
    target_.post([h] { h.resume(); });
    return true;
  }
  if (target_.guests_.fetch_add(1, std::memory_order_acq_rel) < 0) {
    target_.guests_.fetch_sub(1, std::memory_order_relaxed);
    return false;  // it has ended: go on here
  }
  send();
  return true;
}

void switch_to::send() {
  io_uring_sqe* sqe = source_->get_sqe();
  const auto self = reinterpret_cast<std::uint64_t>(static_cast<completion*>(this));
  io_uring_prep_msg_ring(sqe, target_.ring_fd(), 0, self, 0);
  // The sender's own CQE only comes on failure, when the frame is still
  // ours to retry with; on success the target may already be running it.
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data64(sqe, self | kTagBit);
  // Last touch of *this on this thread: the release pairs with the
  // target's acquire in dispatch().
  set_handler(&switch_to::on_message);
}

void switch_to::on_message(completion* self, std::int32_t res, std::uint32_t, bool tagged) {
  auto* s = static_cast<switch_to*>(self);
  if (!tagged) {
    s->target_.guests_.fetch_sub(1, std::memory_order_release);
    s->handle_.resume();  // on the target's thread
    return;
  }
  // The message did not arrive (the target's CQ was full): sent again. Were
  // the source to end before this CQE, the target would wait for a guest
  // that never comes; a full CQ during a shutdown is the only way there.
  if (res < 0) s->send();
}

}  // namespace sta::io
