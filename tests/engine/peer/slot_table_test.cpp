#include "peer/slot_table.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace sta::peer {
namespace {

std::size_t in_use(const slot_table& t) {
  std::size_t n = 0;
  for (const auto& s : t) n += s.state.load() != peer_slot::free ? 1 : 0;
  return n;
}

peer_slot* claim(slot_table& t, std::size_t limit) {
  peer_slot* s = t.find_free(limit);
  if (s != nullptr) s->state.store(peer_slot::claimed, std::memory_order_release);
  return s;
}

TEST(SlotTable, MakesSlotsOnlyAsConnectionsCome) {
  slot_table t(200);
  EXPECT_EQ(t.made(), 0u);
  EXPECT_EQ(t.begin(), t.end());
  ASSERT_NE(claim(t, 200), nullptr);
  EXPECT_EQ(t.made(), slot_table::kChunk);
  for (std::size_t i = 1; i < slot_table::kChunk + 1; ++i) ASSERT_NE(claim(t, 200), nullptr);
  EXPECT_EQ(t.made(), 2 * slot_table::kChunk);
  EXPECT_EQ(in_use(t), slot_table::kChunk + 1);
  // Each slot knows its index, which is its owner id - 1.
  for (std::size_t i = 0; i < t.made(); ++i) EXPECT_EQ(t[i].index, i);
}

TEST(SlotTable, AFreedSlotIsUsedBeforeANewChunk) {
  slot_table t(64);
  std::vector<peer_slot*> taken;
  for (std::size_t i = 0; i < slot_table::kChunk; ++i) taken.push_back(claim(t, 64));
  taken[5]->state.store(peer_slot::free);
  EXPECT_EQ(claim(t, 64), taken[5]);
  EXPECT_EQ(t.made(), slot_table::kChunk);
}

TEST(SlotTable, TheLimitCountsSlotsInUseAndMayChange) {
  slot_table t(100);
  for (int i = 0; i < 3; ++i) ASSERT_NE(claim(t, 3), nullptr);
  EXPECT_EQ(claim(t, 3), nullptr);
  // Lowered below what is in use: nothing more, nothing taken away here.
  EXPECT_EQ(claim(t, 1), nullptr);
  EXPECT_EQ(in_use(t), 3u);
  EXPECT_NE(claim(t, 4), nullptr);
}

TEST(SlotTable, NeverMoreThanItsCapacity) {
  slot_table t(20);  // one full chunk and one cut to 4
  for (int i = 0; i < 20; ++i) ASSERT_NE(claim(t, 1000), nullptr) << i;
  EXPECT_EQ(t.made(), 20u);
  EXPECT_EQ(claim(t, 1000), nullptr);
  EXPECT_EQ(slot_table(0).capacity(), 1u);
  EXPECT_EQ(slot_table(1u << 20).capacity(), slot_table::kMaxCapacity);
}

// Chunks are published while other threads read the table (TSan checks the
// hand-over): every slot a reader sees below made() is a whole slot.
TEST(SlotTable, ReadersOnOtherThreadsSeeWholeChunks) {
  slot_table t(2048);
  std::atomic<bool> done{false};
  std::thread reader([&] {
    std::size_t seen = 0;
    while (!done.load(std::memory_order_acquire) || seen < t.made()) {
      seen = 0;
      for (const auto& s : t) {
        EXPECT_EQ(s.index, seen);
        ++seen;
      }
    }
  });
  for (int i = 0; i < 2048; ++i) ASSERT_NE(claim(t, 2048), nullptr);
  done.store(true, std::memory_order_release);
  reader.join();
  EXPECT_EQ(in_use(t), 2048u);
}

}  // namespace
}  // namespace sta::peer
