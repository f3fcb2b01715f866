#include "bencode/decode.hpp"

#include <gtest/gtest.h>

#include <string>

#include "bencode/encode.hpp"

namespace sta::bencode {
namespace {

const char* const kValid[] = {
    "i0e",
    "i-42e",
    "i9223372036854775807e",
    "i-9223372036854775808e",
    "0:",
    "4:spam",
    "le",
    "de",
    "l4:spami42ee",
    "d3:bar4:spam3:fooi42ee",
    "d4:infod6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces0:ee",
    "lllleeee",
    "d1:ald1:bleee1:ci-1ee",
};

TEST(BencodeDecode, AcceptsValidDocuments) {
  for (const char* text : kValid) {
    auto doc = decode(text);
    ASSERT_TRUE(doc) << text << ": " << doc.error().message();
    EXPECT_EQ(doc->root().raw(), text);
  }
}

TEST(BencodeDecode, RoundTripsCanonicalInput) {
  for (const char* text : kValid) {
    auto doc = decode(text);
    ASSERT_TRUE(doc);
    EXPECT_EQ(encode(to_value(doc->root())), text);
  }
}

TEST(BencodeDecode, EveryProperPrefixIsTruncated) {
  for (const std::string text : kValid) {
    for (std::size_t cut = 0; cut < text.size(); ++cut) {
      auto doc = decode(std::string_view(text).substr(0, cut));
      ASSERT_FALSE(doc) << text << " cut at " << cut;
      EXPECT_EQ(doc.error(), make_error_code(errc::truncated)) << text << " cut at " << cut;
    }
  }
}

TEST(BencodeDecode, ReadsValues) {
  auto doc = decode("d3:bar4:spam3:fooi42e4:listli1ei2eee");
  ASSERT_TRUE(doc);
  auto root = doc->root();
  ASSERT_TRUE(root.is_dict());
  EXPECT_EQ(root.find("bar")->string_value(), "spam");
  EXPECT_EQ(root.find("foo")->int_value(), 42);
  EXPECT_FALSE(root.find("nope"));
  auto list = root.find("list");
  ASSERT_TRUE(list && list->is_list());
  EXPECT_EQ(list->child_count(), 2u);
  EXPECT_EQ((*list->begin()).int_value(), 1);
  EXPECT_EQ(list->raw(), "li1ei2ee");
  std::string keys;
  for (auto [k, v] : root.items()) keys += std::string(k) + ",";
  EXPECT_EQ(keys, "bar,foo,list,");
}

TEST(BencodeDecode, StringsAreViewsIntoTheInput) {
  const std::string input = "l5:helloe";
  auto doc = decode(input);
  ASSERT_TRUE(doc);
  EXPECT_EQ((*doc->root().begin()).string_value().data(), input.data() + 3);
}

struct bad_case {
  const char* input;
  errc expected;
};

TEST(BencodeDecode, RejectsMalformedInput) {
  const bad_case cases[] = {
      {"", errc::truncated},
      {"x", errc::bad_syntax},
      {"e", errc::bad_syntax},
      {"i-0e", errc::bad_integer},
      {"i01e", errc::bad_integer},
      {"ie", errc::bad_integer},
      {"i-e", errc::bad_integer},
      {"i1x2e", errc::bad_integer},
      {"i9223372036854775808e", errc::bad_integer},
      {"i-9223372036854775809e", errc::bad_integer},
      {"i12", errc::truncated},
      {"i1a", errc::bad_integer},
      {"01:a", errc::bad_string_length},
      {"5:abc", errc::truncated},
      {"99999999999999999999999:a", errc::truncated},
      {"3x", errc::bad_string_length},
      {"di1e1:ae", errc::bad_syntax},
      {"d1:ae", errc::bad_syntax},
      {"i1ei2e", errc::trailing_data},
      {"4:spamx", errc::trailing_data},
      {"l", errc::truncated},
      {"d1:a", errc::truncated},
  };
  for (const auto& c : cases) {
    auto doc = decode(c.input);
    ASSERT_FALSE(doc) << c.input;
    EXPECT_EQ(doc.error(), make_error_code(c.expected)) << c.input << ": " << doc.error().message();
  }
}

TEST(BencodeDecode, EnforcesDepthLimit) {
  limits lim;
  lim.max_depth = 3;
  EXPECT_TRUE(decode("llleee", lim));
  auto deep = decode("lllleeee", lim);
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error(), make_error_code(errc::too_deep));
  const std::string very_deep(100'000, 'l');
  EXPECT_EQ(decode(very_deep).error(), make_error_code(errc::too_deep));
}

TEST(BencodeDecode, EnforcesTokenAndSizeLimits) {
  limits lim;
  lim.max_tokens = 3;
  EXPECT_TRUE(decode("li1ei2ee", lim));
  EXPECT_EQ(decode("li1ei2ei3ee", lim).error(), make_error_code(errc::too_many_tokens));
  lim = {};
  lim.max_size = 4;
  EXPECT_TRUE(decode("i12e", lim));
  EXPECT_EQ(decode("i123e", lim).error(), make_error_code(errc::too_large));
}

}  // namespace
}  // namespace sta::bencode

namespace sta::bencode {
namespace {

TEST(BencodeDecode, APrefixLeavesWhatFollowsTheValue) {
  auto d = decode_prefix("d8:msg_typei1e5:piecei0eeRAW BYTES");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->used, 25u);
  EXPECT_EQ(d->doc.root().find("piece")->int_value(), 0);
  EXPECT_EQ(decode_prefix("d8:msg_typei1e").error(), make_error_code(errc::truncated));
  EXPECT_EQ(decode("d8:msg_typei1e5:piecei0eeRAW").error(), make_error_code(errc::trailing_data));
}

}  // namespace
}  // namespace sta::bencode
