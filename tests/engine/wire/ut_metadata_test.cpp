#include "wire/ut_metadata.hpp"

#include <gtest/gtest.h>

#include <string>

#include "base/error.hpp"

namespace sta::wire::ut_metadata {
namespace {

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

TEST(UtMetadata, RequestAndRejectRoundTrip) {
  for (std::uint32_t piece : {0u, 1u, 2047u}) {
    auto r = decode(encode_request(piece));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->type, kind::request);
    EXPECT_EQ(r->piece, piece);
    auto j = decode(encode_reject(piece));
    ASSERT_TRUE(j);
    EXPECT_EQ(j->type, kind::reject);
    EXPECT_EQ(j->piece, piece);
  }
}

TEST(UtMetadata, DataCarriesItsBytesAfterTheDict) {
  const std::string piece(kPieceSize, 'x');
  const auto encoded = encode_data(3, 70000, bytes(piece));
  auto m = decode(encoded);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, kind::data);
  EXPECT_EQ(m->piece, 3u);
  EXPECT_EQ(m->total_size, 70000);
  ASSERT_EQ(m->data.size(), kPieceSize);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m->data.data()), m->data.size()), piece);
  // The exact bytes libtorrent sends: keys in order, data right after 'e'.
  auto lt = decode(bytes("d8:msg_typei1e5:piecei0e10:total_sizei5eehello"));
  ASSERT_TRUE(lt);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(lt->data.data()), lt->data.size()), "hello");
}

TEST(UtMetadata, RefusesMalformedMessages) {
  const char* const bad[] = {
      "",                                                      // nothing
      "le",                                                    // not a dict
      "d5:piecei0ee",                                          // no msg_type
      "d8:msg_typei0ee",                                       // no piece
      "d8:msg_typei3e5:piecei0ee",                             // unknown type
      "d8:msg_type1:05:piecei0ee",                             // ill-typed
      "d8:msg_typei0e5:piecei-1ee",                            // negative piece
      "d8:msg_typei0e5:piecei2048ee",                          // beyond 32 MiB
      "d8:msg_typei1e5:piecei0eexx",                           // data without total_size
      "d8:msg_typei1e5:piecei0e10:total_sizei0eexx",           // data of nothing
      "d8:msg_typei0e5:piecei0e",                              // truncated
  };
  for (const char* b : bad) EXPECT_FALSE(decode(bytes(b))) << b;
  const std::string too_long = "d8:msg_typei1e5:piecei0e10:total_sizei99999ee" + std::string(kPieceSize + 1, 'x');
  EXPECT_FALSE(decode(bytes(too_long)));
}

TEST(UtMetadata, PiecesEndWithAShortOneAndNeverAnEmptyOne) {
  EXPECT_EQ(piece_count(0), 0u);
  EXPECT_EQ(piece_count(1), 1u);
  EXPECT_EQ(piece_count(kPieceSize), 1u);
  EXPECT_EQ(piece_count(2 * kPieceSize), 2u);
  EXPECT_EQ(piece_count(2 * kPieceSize + 1), 3u);
  EXPECT_EQ(piece_size(2 * kPieceSize, 1), kPieceSize);
  EXPECT_EQ(piece_size(2 * kPieceSize, 2), 0u);
  EXPECT_EQ(piece_size(2 * kPieceSize + 5, 2), 5u);
}

}  // namespace
}  // namespace sta::wire::ut_metadata
