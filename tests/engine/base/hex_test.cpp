#include "base/hex.hpp"

#include <gtest/gtest.h>

namespace sta {
namespace {

TEST(Hex, RoundTrips) {
  const std::string bytes("\x00\x7f\x80\xff", 4);
  EXPECT_EQ(to_hex(bytes), "007f80ff");
  EXPECT_EQ(*from_hex("007F80fF"), bytes);
}

TEST(Hex, RejectsOddLengthAndNonHex) {
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("zz"));
}

TEST(Base32, DecodesRfc4648Vectors) {
  EXPECT_EQ(*from_base32("MZXW6YTBOI"), "foobar");
  EXPECT_EQ(*from_base32("mzxw6ytb"), "fooba");
  EXPECT_EQ(*from_base32(""), "");
}

TEST(Base32, RejectsBadCharactersAndNonZeroTrailingBits) {
  EXPECT_FALSE(from_base32("MZXW6YT1"));
  EXPECT_FALSE(from_base32("MZXW6YTBOJ"));  // trailing bits set
  EXPECT_FALSE(from_base32("M"));         // not a whole byte
}

}  // namespace
}  // namespace sta
