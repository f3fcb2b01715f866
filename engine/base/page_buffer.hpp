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
//
// Buffers the disk is written from (take_for_write) come first from the
// process's page_arena: one mapping, on huge pages where the kernel gives
// them, that the reactors register with their rings (reactor.cpp), so that
// writing from it is a fixed-buffer write whose pages the kernel pinned
// once. Freeing a page_buffer gives arena pages back to the arena, from
// any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <utility>
#include <vector>

namespace sta {

inline constexpr std::size_t kPageSize = 4096;

// Frees a page_buffer's memory: back to the page_arena if it came from
// there, else to the heap.
void free_page_buffer(std::byte* p) noexcept;

struct page_free {
  void operator()(std::byte* p) const noexcept { free_page_buffer(p); }
};
using page_buffer = std::unique_ptr<std::byte[], page_free>;

// Whole pages out of one mapping, first fit, any thread (a mutex, taken
// once per piece). Registered memory counts against RLIMIT_MEMLOCK, so the
// process's arena is no larger than that limit (kMaxBytes at most).
class page_arena {
 public:
  static constexpr std::size_t kMaxBytes = 8u << 20;
  static constexpr std::size_t kMinBytes = 1u << 20;

  // The process's arena, mapped on first use; nullptr when RLIMIT_MEMLOCK
  // is below kMinBytes or the mapping failed.
  static page_arena* process();

  explicit page_arena(std::size_t bytes);  // rounded down to pages; bytes() == 0 if the mapping failed
  ~page_arena();
  page_arena(const page_arena&) = delete;
  page_arena& operator=(const page_arena&) = delete;

  // `size` bytes rounded up to pages, or nullptr when no run that long is free.
  std::byte* allocate(std::size_t size);
  // Gives back what allocate() returned.
  void free(std::byte* p);
  bool owns(const void* p) const {
    const auto a = reinterpret_cast<std::uintptr_t>(p), b = reinterpret_cast<std::uintptr_t>(base_);
    return a >= b && a - b < bytes_;
  }
  std::span<std::byte> region() const { return {base_, bytes_}; }
  std::size_t bytes() const { return bytes_; }
  std::size_t free_bytes() const;

 private:
  std::byte* mapping_ = nullptr;  // what mmap gave: base_ is its first huge page boundary
  std::size_t mapped_ = 0;
  std::byte* base_ = nullptr;
  std::size_t bytes_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::uint32_t> run_;  // per page: length of the run allocated from it, else 0
  std::size_t used_pages_ = 0;
};

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
  // For bytes the disk will be written from: out of the process's
  // page_arena while it has room, else take(size).
  page_buffer take_for_write(std::size_t size);
  // Keeps `b` (of `size` bytes) while the pool has room, else as a spare
  // while the process's spares have room, else frees it. Arena pages go
  // back to the arena.
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
