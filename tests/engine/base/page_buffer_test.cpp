#include "base/page_buffer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

namespace sta {
namespace {

TEST(PagePool, BuffersArePageAlignedAndAFreedOneIsTakenAgainForTheSameSize) {
  page_pool pool;
  page_buffer a = pool.take(1 << 20);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.get()) % kPageSize, 0u);
  std::byte* const first = a.get();
  pool.give(std::move(a), 1 << 20);
  EXPECT_EQ(pool.bytes(), std::size_t{1} << 20);
  page_buffer other = pool.take(256 * 1024);  // another size: a new buffer
  EXPECT_NE(other.get(), first);
  page_buffer again = pool.take(1 << 20);
  EXPECT_EQ(again.get(), first);
  EXPECT_EQ(pool.bytes(), 0u);
}

TEST(PagePool, KeepsNoMoreThanItsBoundAndNoNullBuffer) {
  page_pool pool;
  const std::size_t size = 1 << 20;
  for (std::size_t i = 0; i < page_pool::kMaxBytes / size + 3; ++i) pool.give(make_page_buffer(size), size);
  EXPECT_EQ(pool.bytes(), page_pool::kMaxBytes / size * size);
  EXPECT_LE(pool.bytes(), page_pool::kMaxBytes);
  page_pool empty;
  empty.give(page_buffer(), size);
  EXPECT_EQ(empty.bytes(), 0u);
  EXPECT_NE(empty.take(size).get(), nullptr);
}

TEST(PagePool, ASharedBufferGoesToThePoolOfTheThreadThatDropsItLast) {
  page_buffer b = page_pool::for_this_thread().take(64 * 1024);
  std::byte* const raw = b.get();
  auto shared = page_pool::share(std::move(b), 64 * 1024);
  std::size_t kept_there = 0;
  std::thread([&] {
    page_pool& theirs = page_pool::for_this_thread();
    const std::size_t before = theirs.bytes();
    shared.reset();  // the last owner, on this thread
    kept_there = theirs.bytes() - before;
    EXPECT_EQ(theirs.take(64 * 1024).get(), raw);
  }).join();
  EXPECT_EQ(kept_there, std::size_t{64} * 1024);
}

TEST(PagePool, AnEightMiBPiecePlacedAcrossFilesIsStillKept) {
  // swarm::torrent gives such a piece one page more, for its placement.
  const std::size_t size = (8u << 20) + kPageSize;
  page_pool pool;
  pool.give(make_page_buffer(size), size);
  EXPECT_EQ(pool.bytes(), size);
}

TEST(PagePool, WhatAFullPoolCannotKeepIsTakenByAnotherThreadsPool) {
  // A piece started on one reactor and dropped on another: that one's pool
  // is full, the other's empty. A size no other test uses.
  const std::size_t size = (1 << 20) + 3 * kPageSize;
  page_pool full;
  while (full.bytes() + size <= page_pool::kMaxBytes) full.give(make_page_buffer(size), size);
  page_buffer extra = make_page_buffer(size);
  std::byte* const raw = extra.get();
  const std::size_t spares = page_pool::spare_bytes();
  full.give(std::move(extra), size);  // no room here: a spare
  EXPECT_EQ(page_pool::spare_bytes(), spares + size);
  std::thread([&] {
    page_pool empty;
    EXPECT_EQ(empty.take(size).get(), raw);
  }).join();
  EXPECT_EQ(page_pool::spare_bytes(), spares);
}

TEST(PageArena, HandsOutRunsOfWholePagesFirstFitAndTakesThemBack) {
  page_arena arena(16 * kPageSize);
  ASSERT_EQ(arena.bytes(), 16 * kPageSize);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(arena.region().data()) % kPageSize, 0u);
  std::byte* const a = arena.allocate(3 * kPageSize);
  std::byte* const b = arena.allocate(1);  // a page
  std::byte* const c = arena.allocate(12 * kPageSize);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(b, a + 3 * kPageSize);
  EXPECT_EQ(c, b + kPageSize);
  EXPECT_TRUE(arena.owns(a) && arena.owns(c + 12 * kPageSize - 1));
  EXPECT_FALSE(arena.owns(c + 12 * kPageSize));
  EXPECT_EQ(arena.free_bytes(), 0u);
  EXPECT_EQ(arena.allocate(1), nullptr);  // full

  arena.free(b);
  EXPECT_EQ(arena.allocate(2 * kPageSize), nullptr);  // a one-page hole
  EXPECT_EQ(arena.allocate(kPageSize), b);
  arena.free(a);
  arena.free(b);
  EXPECT_EQ(arena.free_bytes(), 4 * kPageSize);
  EXPECT_EQ(arena.allocate(4 * kPageSize), a);  // freed neighbours make one run
  arena.free(a);
  arena.free(c);
  EXPECT_EQ(arena.allocate(16 * kPageSize), a);
}

TEST(PagePool, ABufferForWritingComesFromTheArenaAndGoesBackGivenOrDropped) {
  page_arena* arena = page_arena::process();
  ASSERT_NE(arena, nullptr);  // RLIMIT_MEMLOCK is 8 MiB by default
  page_pool pool;
  const std::size_t before = arena->free_bytes();
  page_buffer b = pool.take_for_write(100 * 1024);
  ASSERT_TRUE(arena->owns(b.get()));
  EXPECT_EQ(arena->free_bytes(), before - 100 * 1024);
  pool.give(std::move(b), 100 * 1024);
  EXPECT_EQ(pool.bytes(), 0u);  // the arena's, not the pool's
  EXPECT_EQ(arena->free_bytes(), before);

  auto shared = page_pool::share(pool.take_for_write(kPageSize), kPageSize);
  EXPECT_EQ(arena->free_bytes(), before - kPageSize);
  std::thread([&] { shared.reset(); }).join();
  EXPECT_EQ(arena->free_bytes(), before);

  // An arena with no room left: the pool's own buffers.
  std::vector<page_buffer> all;
  while (page_buffer whole = pool.take_for_write(1 << 20)) {
    if (!arena->owns(whole.get())) {
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(whole.get()) % kPageSize, 0u);
      break;
    }
    all.push_back(std::move(whole));
  }
  EXPECT_EQ(all.size(), before / (1 << 20));
}

}  // namespace
}  // namespace sta
