#include "storage/block_cache.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace sta::storage {
namespace {

const piece_geometry kGeo(64 * kBlockSize, 4 * kBlockSize);  // 16 pieces of 4 blocks

std::shared_ptr<const std::byte[]> bytes_of(std::size_t n, std::uint8_t fill) {
  std::shared_ptr<std::byte[]> b(new std::byte[n]);
  std::memset(b.get(), fill, n);
  return b;
}

piece_index piece(std::uint32_t i) { return *kGeo.piece(i); }
block_index block(std::uint32_t p, std::uint32_t b) { return *kGeo.block(piece(p), b); }

TEST(BlockCache, FindsEachBlockOfAnExtent) {
  block_cache c(1 << 20);
  c.insert(1, piece(2), block(2, 1), 2, bytes_of(2 * kBlockSize, 7), 2 * kBlockSize);
  EXPECT_FALSE(c.find(1, piece(2), block(2, 0)));
  const auto hit = c.find(1, piece(2), block(2, 2));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->size, kBlockSize);
  EXPECT_EQ(hit->data[0], std::byte{7});
  EXPECT_FALSE(c.find(2, piece(2), block(2, 1)));  // another torrent's key
}

TEST(BlockCache, IsBoundedInBytesAndEvictsTheLeastRecentlyUsed) {
  block_cache c(8 * kBlockSize);
  for (std::uint32_t p = 0; p < 4; ++p) c.insert(1, piece(p), block(p, 0), 2, bytes_of(2 * kBlockSize, 1), 2 * kBlockSize);
  EXPECT_EQ(c.bytes(), 8u * kBlockSize);
  ASSERT_TRUE(c.find(1, piece(0), block(0, 0)));  // piece 0 is now the most recent
  c.insert(1, piece(4), block(4, 0), 2, bytes_of(2 * kBlockSize, 1), 2 * kBlockSize);
  EXPECT_LE(c.bytes(), c.max_bytes());
  EXPECT_TRUE(c.find(1, piece(0), block(0, 0)));
  EXPECT_FALSE(c.find(1, piece(1), block(1, 0)));  // the oldest went
  // An extent larger than a quarter of the cache is not kept at all.
  c.insert(1, piece(9), block(9, 0), 4, bytes_of(4 * kBlockSize, 1), 4 * kBlockSize);
  EXPECT_FALSE(c.find(1, piece(9), block(9, 0)));
}

TEST(BlockCache, AHitKeepsItsBytesAliveAfterEviction) {
  block_cache c(4 * kBlockSize);
  c.insert(1, piece(0), block(0, 0), 1, bytes_of(kBlockSize, 9), kBlockSize);
  const auto hit = c.find(1, piece(0), block(0, 0));
  ASSERT_TRUE(hit);
  for (std::uint32_t p = 1; p < 8; ++p) c.insert(1, piece(p), block(p, 0), 1, bytes_of(kBlockSize, 1), kBlockSize);
  EXPECT_FALSE(c.find(1, piece(0), block(0, 0)));
  EXPECT_EQ(hit->data[kBlockSize - 1], std::byte{9});
}

TEST(BlockCache, ErasesAPieceOrATorrent) {
  block_cache c(1 << 20);
  c.insert(1, piece(0), block(0, 0), 1, bytes_of(kBlockSize, 1), kBlockSize);
  c.insert(1, piece(1), block(1, 0), 1, bytes_of(kBlockSize, 1), kBlockSize);
  c.insert(2, piece(1), block(1, 0), 1, bytes_of(kBlockSize, 1), kBlockSize);
  c.erase(1, piece(1));
  EXPECT_FALSE(c.find(1, piece(1), block(1, 0)));
  EXPECT_TRUE(c.find(2, piece(1), block(1, 0)));
  c.erase_torrent(1);
  EXPECT_FALSE(c.find(1, piece(0), block(0, 0)));
  EXPECT_EQ(c.bytes(), std::size_t{kBlockSize});
}

TEST(BlockCache, ShortLastBlockReportsItsSize) {
  const piece_geometry g(kBlockSize + 100, 2 * kBlockSize);
  block_cache c(1 << 20);
  const auto p = *g.piece(0);
  c.insert(1, p, *g.block(p, 0), 2, bytes_of(kBlockSize + 100, 3), kBlockSize + 100);
  EXPECT_EQ(c.find(1, p, *g.block(p, 1))->size, 100u);
}

}  // namespace
}  // namespace sta::storage
