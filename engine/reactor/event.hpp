// event: wakes one coroutine from another on the same reactor. notify()
// before wait() is remembered, so a wake-up is never lost; the waiter is
// resumed on the reactor's next turn, never inside notify(). Reactor thread
// only. A waiter is not cancelled by reactor::stop(): whoever owns the event
// must notify it on the way out.
#pragma once

#include <coroutine>
#include <utility>

#include "reactor/reactor.hpp"

namespace sta::io {

class event {
 public:
  explicit event(reactor& r) : reactor_(r) {}
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  void notify() {
    if (waiter_) reactor_.schedule(std::exchange(waiter_, {}));
    else pending_ = true;
  }

  auto wait() {
    struct awaiter {
      event& e;
      bool await_ready() const noexcept { return std::exchange(e.pending_, false); }
      void await_suspend(std::coroutine_handle<> h) noexcept { e.waiter_ = h; }
      void await_resume() const noexcept {}
    };
    return awaiter{*this};
  }

 private:
  reactor& reactor_;
  std::coroutine_handle<> waiter_;
  bool pending_ = false;
};

}  // namespace sta::io
