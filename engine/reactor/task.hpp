// task<T>: a lazy coroutine. Nothing runs until it is awaited (or handed to
// reactor::spawn); the awaiting coroutine resumes when it finishes.
//
// Completion is a handshake on one atomic flag between the awaiter and the
// task's final suspend point, so a task that finishes without ever
// suspending returns to its awaiter by plain return, not by another resume:
// a loop of 100,000 such co_awaits does not grow the stack, even at -O0,
// where GCC does not turn symmetric transfer into a tail call. A task that
// did suspend resumes its awaiter by symmetric transfer.
//
// A task is owned by whoever holds it and may be moved, not copied. It runs
// on whichever thread resumes it; the flag's acquire/release ordering makes
// a hand-off between reactors safe.
#pragma once

#include <atomic>
#include <coroutine>
#include <exception>
#include <optional>
#include <utility>

namespace sta::io {

template <class T = void>
class task;

namespace detail {

struct promise_base {
  std::coroutine_handle<> continuation;
  // Set by whichever of (awaiter, final suspend) gets there first; the
  // second one knows the other has finished its part.
  std::atomic<bool> done_or_waiting{false};
  std::exception_ptr error;

  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> h) noexcept {
      auto& p = h.promise();
      if (p.done_or_waiting.exchange(true, std::memory_order_acq_rel)) return p.continuation;
      return std::noop_coroutine();  // the awaiter is still inside await_suspend
    }
    void await_resume() const noexcept {}
  };

  std::suspend_always initial_suspend() const noexcept { return {}; }
  final_awaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }
};

template <class T>
struct promise : promise_base {
  std::optional<T> value;
  task<T> get_return_object() noexcept;
  template <class U>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T take() {
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
};

template <>
struct promise<void> : promise_base {
  task<void> get_return_object() noexcept;
  void return_void() const noexcept {}
  void take() const {
    if (error) std::rethrow_exception(error);
  }
};

}  // namespace detail

template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;

  task() = default;
  explicit task(handle_type h) noexcept : handle_(h) {}
  task(task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (handle_) handle_.destroy();
  }

  auto operator co_await() && noexcept {
    struct awaiter {
      handle_type h;
      bool await_ready() const noexcept { return false; }
      bool await_suspend(std::coroutine_handle<> caller) noexcept {
        h.promise().continuation = caller;
        h.resume();
        // True: the task suspended and will resume the caller itself.
        // False: it already finished; the caller continues right here.
        return !h.promise().done_or_waiting.exchange(true, std::memory_order_acq_rel);
      }
      T await_resume() { return h.promise().take(); }
    };
    return awaiter{handle_};
  }

  // For the reactor's spawn: the task's frame, released to its new owner.
  handle_type release() noexcept { return std::exchange(handle_, {}); }

 private:
  handle_type handle_;
};

namespace detail {
template <class T>
task<T> promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<promise<T>>::from_promise(*this));
}
inline task<void> promise<void>::get_return_object() noexcept {
  return task<void>(std::coroutine_handle<promise<void>>::from_promise(*this));
}
}  // namespace detail

}  // namespace sta::io
