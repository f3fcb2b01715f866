#include "base/page_buffer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>

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

}  // namespace
}  // namespace sta
