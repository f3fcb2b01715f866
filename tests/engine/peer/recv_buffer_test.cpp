#include "peer/recv_buffer.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace sta::peer {
namespace {

TEST(RecvBuffer, GrowsForALargeFrameAndShrinksBackOnceItIsConsumed) {
  recv_buffer b(1024);
  auto room = b.room();
  ASSERT_EQ(room.size(), 1024u);
  std::fill(room.begin(), room.begin() + 100, std::byte{1});
  b.commit(100);
  // A frame of 64 KiB is announced: the rest must fit at once.
  room = b.room(64 * 1024);
  EXPECT_GE(room.size(), 64u * 1024);
  EXPECT_GT(b.capacity(), 1024u);
  std::fill(room.begin(), room.begin() + 64 * 1024, std::byte{2});
  b.commit(64 * 1024);
  EXPECT_EQ(b.data()[99], std::byte{1});
  EXPECT_EQ(b.data()[100], std::byte{2});
  b.consume(64 * 1024);  // the frame is decoded; 100 bytes are left
  EXPECT_EQ(b.capacity(), 1024u);
  EXPECT_EQ(b.size(), 100u);
  EXPECT_EQ(b.data()[0], std::byte{2});
}

TEST(RecvBuffer, KeepsItsSizeWhileTheDataDoesNotFit) {
  recv_buffer b(1024);
  b.room(4096);
  b.commit(4096);
  b.consume(1024);
  EXPECT_GE(b.capacity(), 3072u);
  b.consume(3072);
  EXPECT_EQ(b.capacity(), 1024u);
}

}  // namespace
}  // namespace sta::peer
