#include "base/page_buffer.hpp"

#include <algorithm>
#include <mutex>

namespace sta {
namespace {

// Whether this thread's pool exists. Trivially destructible, so still
// readable while other thread-locals (a block cache holding shared
// buffers) are destroyed after the pool.
thread_local bool pool_alive = false;

std::size_t rounded(std::size_t size) { return (size + kPageSize - 1) / kPageSize * kPageSize; }

struct spare_list {
  std::mutex mutex;
  std::vector<std::pair<std::size_t, page_buffer>> kept;
  std::size_t bytes = 0;
};
spare_list& spares() {
  static spare_list list;
  return list;
}

// A buffer of `size` bytes out of `kept` (and its byte count), if any.
page_buffer take_kept(std::vector<std::pair<std::size_t, page_buffer>>& kept, std::size_t& bytes, std::size_t size) {
  const auto it = std::find_if(kept.begin(), kept.end(), [&](const auto& k) { return k.first == size; });
  if (it == kept.end()) return nullptr;
  page_buffer b = std::move(it->second);
  bytes -= size;
  kept.erase(it);
  return b;
}

}  // namespace

page_pool::page_pool() { pool_alive = true; }
page_pool::~page_pool() { pool_alive = false; }

page_buffer page_pool::take(std::size_t size) {
  size = rounded(size);
  if (auto b = take_kept(kept_, bytes_, size)) return b;
  spare_list& s = spares();
  std::lock_guard lock(s.mutex);
  if (auto b = take_kept(s.kept, s.bytes, size)) return b;
  return make_page_buffer(size);
}

void page_pool::give(page_buffer b, std::size_t size) {
  size = rounded(size);
  if (!b) return;
  if (bytes_ + size <= kMaxBytes) {
    bytes_ += size;
    kept_.emplace_back(size, std::move(b));
    return;
  }
  spare_list& s = spares();
  std::lock_guard lock(s.mutex);
  if (s.bytes + size > kSpareBytes) return;
  s.bytes += size;
  s.kept.emplace_back(size, std::move(b));
}

std::size_t page_pool::spare_bytes() {
  spare_list& s = spares();
  std::lock_guard lock(s.mutex);
  return s.bytes;
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
