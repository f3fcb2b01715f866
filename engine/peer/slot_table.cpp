#include "peer/slot_table.hpp"

#include <algorithm>

namespace sta::peer {

slot_table::slot_table(std::size_t capacity)
    : capacity_(std::clamp<std::size_t>(capacity, 1, kMaxCapacity)),
      owned_(std::make_unique<std::unique_ptr<peer_slot[]>[]>((capacity_ + kChunk - 1) / kChunk)),
      chunks_(std::make_unique<std::atomic<peer_slot*>[]>((capacity_ + kChunk - 1) / kChunk)) {}

slot_table::~slot_table() = default;

peer_slot* slot_table::find_free(std::size_t limit) {
  std::size_t used = 0;
  peer_slot* found = nullptr;
  for (auto& s : *this) {
    if (s.state.load(std::memory_order_acquire) != peer_slot::free) ++used;
    else if (found == nullptr) found = &s;
  }
  if (used >= std::min(limit, capacity_)) return nullptr;
  if (found != nullptr) return found;
  const std::size_t made = made_.load(std::memory_order_relaxed);
  if (made >= capacity_) return nullptr;
  const std::size_t count = std::min(kChunk, capacity_ - made);
  auto& chunk = owned_[made / kChunk];
  chunk = std::make_unique<peer_slot[]>(kChunk);
  for (std::size_t i = 0; i < count; ++i) chunk[i].index = static_cast<std::uint32_t>(made + i);
  chunks_[made / kChunk].store(chunk.get(), std::memory_order_release);
  made_.store(made + count, std::memory_order_release);
  return &chunk[0];
}

}  // namespace sta::peer
