#include "base/page_buffer.hpp"

#include <sanitizer/asan_interface.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>

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

// Huge pages come in 2 MiB on x86-64: the arena starts at such a boundary.
constexpr std::size_t kHugePage = 2u << 20;

}  // namespace

void free_page_buffer(std::byte* p) noexcept {
  if (p == nullptr) return;
  if (page_arena* a = page_arena::process(); a != nullptr && a->owns(p)) {
    a->free(p);
    return;
  }
  ::operator delete[](p, std::align_val_t{kPageSize});
}

page_arena* page_arena::process() {
  static page_arena* const arena = []() -> page_arena* {
    rlimit limit{};
    std::size_t bytes = kMaxBytes;
    if (::getrlimit(RLIMIT_MEMLOCK, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
      bytes = std::min<std::size_t>(bytes, limit.rlim_cur);
    if (bytes < kMinBytes) return nullptr;
    // Lives as long as the process: buffers from it are freed from any
    // thread, up to the last static destructor.
    auto* a = new page_arena(bytes);
    if (a->bytes() > 0) return a;
    delete a;
    return nullptr;
  }();
  return arena;
}

page_arena::page_arena(std::size_t bytes) {
  bytes = bytes / kPageSize * kPageSize;
  if (bytes == 0) return;
  void* m = ::mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return;
  mapping_ = static_cast<std::byte*>(m);
  mapped_ = bytes + kHugePage;
  base_ = mapping_ + (kHugePage - reinterpret_cast<std::uintptr_t>(mapping_) % kHugePage) % kHugePage;
  ::madvise(base_, bytes, MADV_HUGEPAGE);  // a hint: fewer TLB misses while the kernel copies into it
  bytes_ = bytes;
  run_.assign(bytes / kPageSize, 0);
  // Under AddressSanitizer, pages not handed out are poisoned, so a use
  // after free of an arena buffer is caught as it would be on the heap.
  ASAN_POISON_MEMORY_REGION(base_, bytes_);
}

page_arena::~page_arena() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapped_);
}

std::byte* page_arena::allocate(std::size_t size) {
  const std::size_t want = std::max<std::size_t>(1, rounded(size) / kPageSize);
  std::lock_guard lock(mutex_);
  // Allocated runs are stepped over whole, so only a run's first page is
  // ever looked at.
  std::size_t start = 0;
  for (std::size_t i = 0; i < run_.size();) {
    if (run_[i] != 0) {
      i += run_[i];
      start = i;
      continue;
    }
    if (++i - start == want) {
      run_[start] = static_cast<std::uint32_t>(want);
      used_pages_ += want;
      ASAN_UNPOISON_MEMORY_REGION(base_ + start * kPageSize, want * kPageSize);
      return base_ + start * kPageSize;
    }
  }
  return nullptr;
}

void page_arena::free(std::byte* p) {
  const std::size_t page = static_cast<std::size_t>(p - base_) / kPageSize;
  std::lock_guard lock(mutex_);
  ASAN_POISON_MEMORY_REGION(p, run_[page] * kPageSize);
  used_pages_ -= run_[page];
  run_[page] = 0;
}

std::size_t page_arena::free_bytes() const {
  std::lock_guard lock(mutex_);
  return (run_.size() - used_pages_) * kPageSize;
}

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

page_buffer page_pool::take_for_write(std::size_t size) {
  if (page_arena* a = page_arena::process())
    if (std::byte* p = a->allocate(size)) return page_buffer(p);
  return take(size);
}

void page_pool::give(page_buffer b, std::size_t size) {
  size = rounded(size);
  if (!b) return;
  if (page_arena* a = page_arena::process(); a != nullptr && a->owns(b.get())) return;  // b's deleter frees it there
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
