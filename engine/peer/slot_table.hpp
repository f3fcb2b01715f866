// slot_table: a torrent's peer slots, made in chunks of kChunk as
// connections come, up to a capacity fixed at construction (the process's
// connection cap, since a torrent can never have more): a torrent without
// peers holds no slots, and its peer cap can be raised or lowered while it
// runs without moving a slot.
//
// Threads: chunks are added by the home reactor alone (claim) and are never
// freed before the table, so a slot's address is stable. A chunk is
// published (release) before the count of slots that covers it, so any
// reactor that reads the count (acquire) may use every slot below it: by
// its index (owner id - 1), or by iterating.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>

#include "peer/peer_slot.hpp"

namespace sta::peer {

class slot_table {
 public:
  static constexpr std::size_t kChunk = 16;
  // The most a table may hold: owner ids are 16 bits, 0 meaning none.
  static constexpr std::size_t kMaxCapacity = 65535;

  explicit slot_table(std::size_t capacity);
  ~slot_table();
  slot_table(const slot_table&) = delete;
  slot_table& operator=(const slot_table&) = delete;

  std::size_t capacity() const { return capacity_; }
  // Slots made so far (whole chunks, the last one cut at the capacity).
  std::size_t made() const { return made_.load(std::memory_order_acquire); }
  // A slot below made().
  peer_slot& operator[](std::size_t index) const {
    return chunks_[index / kChunk].load(std::memory_order_acquire)[index % kChunk];
  }

  // Home reactor only. A free slot when fewer than `limit` are in use,
  // making a chunk if every slot made is taken; nullptr otherwise. The slot
  // is returned still free: the caller fills it in and claims it.
  peer_slot* find_free(std::size_t limit);

  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = peer_slot;
    using difference_type = std::ptrdiff_t;
    using pointer = peer_slot*;
    using reference = peer_slot&;
    iterator() = default;
    iterator(const slot_table* t, std::size_t i) : t_(t), i_(i) {}
    peer_slot& operator*() const { return (*t_)[i_]; }
    peer_slot* operator->() const { return &(*t_)[i_]; }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++i_;
      return old;
    }
    friend bool operator==(const iterator& a, const iterator& b) { return a.i_ == b.i_; }

   private:
    const slot_table* t_ = nullptr;
    std::size_t i_ = 0;
  };
  // The slots made when begin() or end() is called; a range-for reads the
  // count once.
  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, made()}; }

 private:
  std::size_t capacity_;
  std::unique_ptr<std::unique_ptr<peer_slot[]>[]> owned_;  // the home reactor's; freed with the table
  std::unique_ptr<std::atomic<peer_slot*>[]> chunks_;      // the same chunks, published to every reactor
  std::atomic<std::size_t> made_{0};
};

}  // namespace sta::peer
