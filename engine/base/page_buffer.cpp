#include "base/page_buffer.hpp"

#include <algorithm>

namespace sta {
namespace {

// Whether this thread's pool exists. Trivially destructible, so still
// readable while other thread-locals (a block cache holding shared
// buffers) are destroyed after the pool.
thread_local bool pool_alive = false;

std::size_t rounded(std::size_t size) { return (size + kPageSize - 1) / kPageSize * kPageSize; }

}  // namespace

page_pool::page_pool() { pool_alive = true; }
page_pool::~page_pool() { pool_alive = false; }

page_buffer page_pool::take(std::size_t size) {
  size = rounded(size);
  const auto it = std::find_if(kept_.begin(), kept_.end(), [&](const auto& k) { return k.first == size; });
  if (it == kept_.end()) return make_page_buffer(size);
  page_buffer b = std::move(it->second);
  bytes_ -= size;
  kept_.erase(it);
  return b;
}

void page_pool::give(page_buffer b, std::size_t size) {
  size = rounded(size);
  if (!b || bytes_ + size > kMaxBytes) return;
  bytes_ += size;
  kept_.emplace_back(size, std::move(b));
}

page_pool& page_pool::for_this_thread() {
  thread_local page_pool pool;
  return pool;
}

std::shared_ptr<const std::byte[]> page_pool::share(page_buffer b, std::size_t size) {
  return std::shared_ptr<const std::byte[]>(b.release(), [size](const std::byte* p) {
    page_buffer owned(const_cast<std::byte*>(p));
    if (pool_alive) for_this_thread().give(std::move(owned), size);
  });
}

}  // namespace sta
