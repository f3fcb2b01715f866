#include "meta/file_map.hpp"

#include <gtest/gtest.h>

namespace sta::meta {
namespace {

using slices = std::vector<file_slice>;

TEST(FileMap, SingleFileWithShortLastPiece) {
  const file_map map({100}, 32);
  EXPECT_EQ(map.piece_count(), 4);
  EXPECT_EQ(map.piece_size(3), 4);
  EXPECT_EQ(map.piece_slices(3), (slices{{0, 96, 4}}));
  EXPECT_EQ(map.piece_slices(0), (slices{{0, 0, 32}}));
}

TEST(FileMap, ExactMultipleHasNoShortPiece) {
  const file_map map({64}, 32);
  EXPECT_EQ(map.piece_count(), 2);
  EXPECT_EQ(map.piece_size(1), 32);
}

TEST(FileMap, PieceSpanningManyFiles) {
  const file_map map({5, 3, 7, 20}, 16);
  EXPECT_EQ(map.piece_slices(0), (slices{{0, 0, 5}, {1, 0, 3}, {2, 0, 7}, {3, 0, 1}}));
  EXPECT_EQ(map.piece_slices(1), (slices{{3, 1, 16}}));
  EXPECT_EQ(map.piece_slices(2), (slices{{3, 17, 3}}));
}

TEST(FileMap, ZeroLengthFilesNeverAppear) {
  const file_map map({0, 10, 0, 0, 10, 0}, 8);
  EXPECT_EQ(map.piece_count(), 3);
  EXPECT_EQ(map.piece_slices(0), (slices{{1, 0, 8}}));
  EXPECT_EQ(map.piece_slices(1), (slices{{1, 8, 2}, {4, 0, 6}}));
  EXPECT_EQ(map.piece_slices(2), (slices{{4, 6, 4}}));
  EXPECT_GT(map.file_pieces(0).first, map.file_pieces(0).last);
  EXPECT_GT(map.file_pieces(5).first, map.file_pieces(5).last);
}

TEST(FileMap, FileSmallerThanAPiece) {
  const file_map map({3, 100}, 64);
  EXPECT_EQ(map.piece_slices(0), (slices{{0, 0, 3}, {1, 0, 61}}));
  EXPECT_EQ(map.file_pieces(0).first, 0);
  EXPECT_EQ(map.file_pieces(0).last, 0);
  EXPECT_EQ(map.file_pieces(1).first, 0);
  EXPECT_EQ(map.file_pieces(1).last, 1);
}

TEST(FileMap, BlockRangesInsideAPiece) {
  const file_map map({10, 10, 10}, 16);
  EXPECT_EQ(map.slices(0, 8, 4), (slices{{0, 8, 2}, {1, 0, 2}}));
  EXPECT_EQ(map.slices(1, 0, 14), (slices{{1, 6, 4}, {2, 0, 10}}));
}

TEST(FileMap, SlicesCoverEveryByteExactlyOnce) {
  const std::vector<std::int64_t> sizes{0, 1, 17, 0, 64, 3, 0, 128, 5};
  for (std::int64_t piece_length : {1, 2, 7, 16, 64, 1024}) {
    const file_map map(sizes, piece_length);
    std::int64_t expected_pos = 0;
    for (std::int64_t p = 0; p < map.piece_count(); ++p) {
      std::int64_t piece_bytes = 0;
      for (const auto& s : map.piece_slices(p)) {
        EXPECT_EQ(map.file_offset(s.file) + s.offset, expected_pos);
        EXPECT_GT(s.length, 0);
        expected_pos += s.length;
        piece_bytes += s.length;
      }
      EXPECT_EQ(piece_bytes, map.piece_size(p));
    }
    EXPECT_EQ(expected_pos, map.total_size());
  }
}

}  // namespace
}  // namespace sta::meta
