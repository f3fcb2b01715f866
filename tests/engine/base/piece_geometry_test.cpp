#include "base/piece_geometry.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace sta {
namespace {

TEST(PieceGeometry, ChecksPieceAndBlockNumbers) {
  const piece_geometry g(3 * 65536 + 100, 65536);  // 4 pieces, the last of 100 bytes
  EXPECT_EQ(g.piece_count(), 4u);
  EXPECT_TRUE(g.piece(3));
  EXPECT_FALSE(g.piece(4));
  EXPECT_FALSE(g.piece(1ull << 40));
  const piece_index last = *g.piece(3);
  EXPECT_EQ(g.piece_size(last), 100u);
  EXPECT_EQ(g.blocks_in(last), 1u);
  EXPECT_TRUE(g.block_at(last, 0));
  EXPECT_FALSE(g.block_at(last, kBlockSize));
  const piece_index first = *g.piece(0);
  EXPECT_EQ(g.blocks_in(first), 4u);
  EXPECT_EQ(g.block_at(first, 3 * kBlockSize)->value(), 3u);
  EXPECT_FALSE(g.block_at(first, 100));  // not 16 KiB aligned
  EXPECT_EQ(g.block_size(last, *g.block(last, 0)), 100u);
  EXPECT_TRUE(g.contains(first, 65535, 1));
  EXPECT_FALSE(g.contains(first, 65535, 2));
  EXPECT_FALSE(g.contains(first, 0, 0));
  EXPECT_EQ(g.offset_of(last), 3 * 65536);
}

TEST(PieceGeometry, IteratesEveryPiece) {
  const piece_geometry g(10, 3);
  std::vector<std::uint32_t> seen;
  for (piece_index p : g.pieces()) seen.push_back(p.value());
  EXPECT_EQ(seen, (std::vector<std::uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(piece_geometry(0, 16384).piece_count(), 0u);
}

}  // namespace
}  // namespace sta
