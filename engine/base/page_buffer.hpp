// page_buffer: bytes aligned to a page and not zeroed, for what is filled
// before it is read (a piece being assembled) and may be written with
// O_DIRECT, which needs the memory, the file offset and the length aligned.
//
// page_pool keeps the buffers a thread frees for the next piece of the same
// size, so that a download does not map, fault in and unmap a fresh buffer
// for every piece. One per thread (for_this_thread()), bounded in bytes.
// A piece may be started on one reactor and finished (and its buffer
// dropped) on another, so what a full pool cannot keep goes to a bounded
// process-wide spare list (a mutex, taken only when a pool is full or has
// none of the size), where another thread's pool looks before it makes a
// new buffer. Both bounds leave room for the page a piece that spans files
// may carry (swarm::torrent::buffer), so that 8 MiB pieces still fit.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace sta {

inline constexpr std::size_t kPageSize = 4096;

struct page_free {
  void operator()(std::byte* p) const noexcept { ::operator delete[](p, std::align_val_t{kPageSize}); }
};
using page_buffer = std::unique_ptr<std::byte[], page_free>;

inline page_buffer make_page_buffer(std::size_t size) {
  return page_buffer(static_cast<std::byte*>(::operator new[](size, std::align_val_t{kPageSize})));
}

class page_pool {
 public:
  static constexpr std::size_t kMaxBytes = (8u << 20) + 16 * kPageSize;
  static constexpr std::size_t kSpareBytes = (16u << 20) + 16 * kPageSize;  // process-wide

  page_pool();
  ~page_pool();
  page_pool(const page_pool&) = delete;
  page_pool& operator=(const page_pool&) = delete;
  // A kept buffer of `size` bytes (this pool's, else a spare), else a new one.
  page_buffer take(std::size_t size);
  // Keeps `b` (of `size` bytes) while the pool has room, else as a spare
  // while the process's spares have room, else frees it.
  void give(page_buffer b, std::size_t size);
  std::size_t bytes() const { return bytes_; }
  // Bytes kept as the process's spares.
  static std::size_t spare_bytes();

  static page_pool& for_this_thread();
  // Shared ownership of `b` that gives it to the pool of the thread that
  // drops it last (frees it if that thread has no pool, or no longer).
  static std::shared_ptr<const std::byte[]> share(page_buffer b, std::size_t size);

 private:
  std::vector<std::pair<std::size_t, page_buffer>> kept_;
  std::size_t bytes_ = 0;
};

}  // namespace sta
