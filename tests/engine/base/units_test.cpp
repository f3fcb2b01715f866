#include "base/units.hpp"

#include <gtest/gtest.h>

namespace sta {
namespace {

TEST(Units, ParsesSizesInPowersOf1024) {
  EXPECT_EQ(parse_size("16384"), 16384);
  EXPECT_EQ(parse_size("256k"), 256 * 1024);
  EXPECT_EQ(parse_size("1MiB"), 1 << 20);
  EXPECT_EQ(parse_size("1 MB"), 1 << 20);
  EXPECT_EQ(parse_size("1.5G"), 3ll << 29);
  EXPECT_EQ(parse_size("0"), 0);
}

TEST(Units, RejectsGarbage) {
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("fast"));
  EXPECT_FALSE(parse_size("-1"));
  EXPECT_FALSE(parse_size("10 parsecs"));
  EXPECT_FALSE(parse_size("99999999T"));
}

TEST(Units, FormatsSizes) {
  EXPECT_EQ(format_size(512), "512 B");
  EXPECT_EQ(format_size(1536), "1.5 KiB");
  EXPECT_EQ(format_size(1 << 30), "1.0 GiB");
}

}  // namespace
}  // namespace sta
