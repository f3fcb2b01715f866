#include "peer/receive_plan.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "wire/codec.hpp"

namespace sta::peer {
namespace {

constexpr std::uint32_t kPayload = 40;

using bytes = std::vector<std::byte>;

// Block i of piece 3: a 40-byte payload whose bytes all read i + 1.
bytes frame_bytes(std::uint32_t i) {
  const auto h = wire::encode_piece_header(3, i * kPayload, kPayload);
  bytes out(h.begin(), h.end());
  out.insert(out.end(), kPayload, std::byte(i + 1));
  return out;
}

bytes operator+(bytes a, const bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A piece's buffer, and a plan of frames expected in block order.
struct fixture {
  bytes piece = bytes(16 * kPayload, std::byte{0xee});
  receive_plan plan;

  void expect(std::uint32_t first, std::uint32_t count, std::span<const std::byte> came = {}) {
    for (std::uint32_t i = first; i < first + count; ++i)
      plan.add({{3, i}, wire::encode_piece_header(3, i * kPayload, kPayload),
                std::span(piece).subspan(i * kPayload, kPayload)},
               i == first ? came : std::span<const std::byte>{});
  }
  // What recvmsg does: the stream's bytes into the buffers, in order.
  std::size_t receive(const bytes& stream) {
    std::size_t at = 0;
    for (const iovec& v : plan.iovecs()) {
      const std::size_t n = std::min(v.iov_len, stream.size() - at);
      std::memcpy(v.iov_base, stream.data() + at, n);
      at += n;
    }
    return at;
  }
  bool block_in_place(std::uint32_t i) const {
    for (std::uint32_t k = 0; k < kPayload; ++k)
      if (piece[i * kPayload + k] != std::byte(i + 1)) return false;
    return true;
  }
};

bytes spilled(const recv_buffer& b) { return bytes(b.data().begin(), b.data().end()); }

TEST(ReceivePlan, FramesThatComeAsGuessedLandInTheirPieceAndNothingIsSpilled) {
  fixture f;
  f.expect(0, 3);
  const bytes stream = frame_bytes(0) + frame_bytes(1) + frame_bytes(2);
  ASSERT_EQ(f.receive(stream), stream.size());
  recv_buffer spill;
  const auto o = f.plan.resolve(stream.size(), spill);
  EXPECT_EQ(o.whole, 3u);
  EXPECT_FALSE(o.started);
  EXPECT_EQ(spill.size(), 0u);
  for (std::uint32_t i = 0; i < 3; ++i) EXPECT_TRUE(f.block_in_place(i)) << i;
}

TEST(ReceivePlan, AStreamEndingInAPayloadStartsThatBlock) {
  fixture f;
  f.expect(0, 3);
  const bytes stream = frame_bytes(0) + frame_bytes(1);
  const std::size_t n = stream.size() - 15;
  f.receive(stream);
  recv_buffer spill;
  const auto o = f.plan.resolve(n, spill);
  EXPECT_EQ(o.whole, 1u);
  EXPECT_TRUE(o.started);
  EXPECT_EQ(o.partial, kPayload - 15);
  EXPECT_EQ(spill.size(), 0u);
}

TEST(ReceivePlan, AHeaderCutShortIsSpilledForTheNextReceive) {
  fixture f;
  f.expect(0, 2);
  const bytes stream = frame_bytes(0) + frame_bytes(1);
  const std::size_t n = frame_bytes(0).size() + 5;
  f.receive(stream);
  recv_buffer spill;
  const auto o = f.plan.resolve(n, spill);
  EXPECT_EQ(o.whole, 1u);
  EXPECT_FALSE(o.started);
  EXPECT_EQ(spilled(spill), bytes(stream.begin() + frame_bytes(0).size(), stream.begin() + n));
}

TEST(ReceivePlan, WhateverCameOtherwiseIsSpilledWholeAndInOrder) {
  // Another message first, blocks out of order, and a true guess followed
  // by a wrong one: the receive buffer gets exactly the bytes from the
  // first wrong header on, across however many guessed buffers they fell in.
  const bytes have = bytes{std::byte{0}, std::byte{0}, std::byte{0}, std::byte{5}, std::byte{4},
                                    std::byte{0}, std::byte{0}, std::byte{0}, std::byte{7}};
  const std::vector<std::pair<bytes, std::size_t>> cases = {
      {have + frame_bytes(0) + frame_bytes(1) + frame_bytes(2), 0},
      {frame_bytes(1) + frame_bytes(0) + frame_bytes(2), 0},
      {frame_bytes(0) + frame_bytes(2) + frame_bytes(1) + frame_bytes(3), 1},
  };
  for (const auto& [stream, whole] : cases) {
    fixture f;
    f.expect(0, 4);
    const std::size_t n = f.receive(stream);
    ASSERT_EQ(n, stream.size());
    recv_buffer spill;
    const auto o = f.plan.resolve(n, spill);
    EXPECT_EQ(o.whole, whole);
    EXPECT_FALSE(o.started);
    const std::size_t kept = whole * frame_bytes(0).size();
    EXPECT_EQ(spilled(spill), bytes(stream.begin() + static_cast<std::ptrdiff_t>(kept), stream.end()));
    for (std::size_t i = 0; i < whole; ++i) EXPECT_TRUE(f.block_in_place(static_cast<std::uint32_t>(i)));
  }
}

TEST(ReceivePlan, TheRestOfABlockComesFirst) {
  fixture f;
  f.plan.set_rest(std::span(f.piece).subspan(5 * kPayload + 10, kPayload - 10));
  f.expect(0, 2);
  bytes stream(kPayload - 10, std::byte{6});
  stream = stream + frame_bytes(0) + frame_bytes(1);
  recv_buffer spill;
  f.receive(stream);
  auto o = f.plan.resolve(20, spill);
  EXPECT_EQ(o.rest_got, 20u);
  EXPECT_EQ(o.whole, 0u);
  EXPECT_FALSE(o.started);
  EXPECT_EQ(spill.size(), 0u);
  // All of it this time.
  o = f.plan.resolve(stream.size(), spill);
  EXPECT_EQ(o.rest_got, kPayload - 10);
  EXPECT_EQ(o.whole, 2u);
  EXPECT_EQ(spill.size(), 0u);
  EXPECT_EQ(f.piece[5 * kPayload + 10], std::byte{6});
  EXPECT_EQ(f.piece[6 * kPayload - 1], std::byte{6});
  EXPECT_TRUE(f.block_in_place(0));
  EXPECT_TRUE(f.block_in_place(1));
}

TEST(ReceivePlan, AHeaderStartedBeforeTheReceiveIsCheckedWhole) {
  const bytes frame = frame_bytes(0);
  const std::span<const std::byte> start(frame.data(), 5);
  {
    fixture f;
    f.expect(0, 1, start);
    const bytes stream(frame.begin() + 5, frame.end());
    recv_buffer spill;
    const auto o = f.plan.resolve(f.receive(stream), spill);
    EXPECT_EQ(o.whole, 1u);
    EXPECT_TRUE(f.block_in_place(0));
  }
  {
    // The same start, then another block's header: all 13 bytes are spilled.
    fixture f;
    f.expect(0, 1, start);
    const bytes other = frame_bytes(1);
    const bytes stream(other.begin() + 5, other.end());
    recv_buffer spill;
    const auto o = f.plan.resolve(f.receive(stream), spill);
    EXPECT_EQ(o.whole, 0u);
    EXPECT_EQ(spilled(spill), bytes(start.begin(), start.end()) + stream);
  }
}

}  // namespace
}  // namespace sta::peer
