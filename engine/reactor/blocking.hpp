// blocking: runs a blocking call (a name lookup, a TLS exchange through
// Beast) on a thread of its own and resumes the calling coroutine on its
// reactor when it returns, or when `timeout` passes first (the thread then
// finishes on its own; its answer is dropped). The reactor never blocks.
// Reactor thread only.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "reactor/ops.hpp"
#include "reactor/task.hpp"

namespace sta::io {

template <class T>
task<result<T, std::string>> blocking(reactor& r, std::function<result<T, std::string>()> fn,
                                      std::chrono::nanoseconds timeout, std::string what) {
  using answer = result<T, std::string>;
  // Shared by the coroutine and the thread; whoever is last frees it.
  struct pending {
    unique_fd wake{::eventfd(0, EFD_CLOEXEC)};
    std::mutex mutex;
    std::optional<answer> out;
  };
  auto p = std::make_shared<pending>();
  if (!p->wake) co_return answer(boost::system::in_place_error, what + ": no eventfd");
  std::thread([p, fn = std::move(fn)] {
    answer a = fn();
    {
      std::lock_guard lock(p->mutex);
      p->out = std::move(a);
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(p->wake.get(), &one, sizeof one);
  }).detach();
  std::uint64_t count = 0;
  auto n = co_await io::read(r, p->wake.get(), std::as_writable_bytes(std::span(&count, 1)), 0).deadline(timeout);
  if (!n) co_return answer(boost::system::in_place_error, what + ": " + n.error().message());
  std::lock_guard lock(p->mutex);
  co_return std::move(*p->out);
}

}  // namespace sta::io
