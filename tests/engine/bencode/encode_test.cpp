#include "bencode/encode.hpp"

#include <gtest/gtest.h>

namespace sta::bencode {
namespace {

TEST(BencodeEncode, WritesEachType) {
  std::string out;
  writer(out).begin_dict().string("a").integer(-7).string("b").begin_list().string("").end().end();
  EXPECT_EQ(out, "d1:ai-7e1:bl0:ee");
}

TEST(BencodeEncode, SortsDictKeysBytewise) {
  value v = value::dict{{"zeta", 1}, {"Alpha", 2}, {"alpha", 3}};
  EXPECT_EQ(encode(v), "d5:Alphai2e5:alphai3e4:zetai1ee");
}

TEST(BencodeEncode, EncodesBinaryStrings) {
  const std::string binary("\0\xff:e", 4);
  EXPECT_EQ(encode(value(binary)), std::string("4:\0\xff:e", 6));
}

TEST(BencodeEncode, DecodeOfEncodeIsIdentity) {
  value v = value::dict{{"list", value::list{1, "two", value::dict{{"x", -3}}}}, {"n", 0}};
  const std::string text = encode(v);
  auto doc = decode(text);
  ASSERT_TRUE(doc);
  EXPECT_EQ(to_value(doc->root()), v);
}

}  // namespace
}  // namespace sta::bencode
