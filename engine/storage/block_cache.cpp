#include "storage/block_cache.hpp"

#include <algorithm>

namespace sta::storage {

std::optional<block_cache::hit> block_cache::find(std::uint64_t torrent, piece_index p, block_index b) {
  const auto it = index_.find(key_of(torrent, p.value(), b.value()));
  if (it == index_.end()) return std::nullopt;
  const list::iterator e = it->second;
  lru_.splice(lru_.begin(), lru_, e);
  const std::size_t at = std::size_t{b.value() - e->first} * kBlockSize;
  return hit{e->data, e->data.get() + at, static_cast<std::uint32_t>(std::min<std::size_t>(kBlockSize, e->size - at))};
}

void block_cache::insert(std::uint64_t torrent, piece_index p, block_index first, std::uint32_t count,
                         std::shared_ptr<const std::byte[]> data, std::size_t size) {
  if (count == 0 || size > max_bytes_ / 4) return;
  lru_.push_front({torrent, p.value(), first.value(), count, std::move(data), size});
  bytes_ += size;
  for (std::uint32_t i = 0; i < count; ++i) index_[key_of(torrent, p.value(), first.value() + i)] = lru_.begin();
  while (bytes_ > max_bytes_) drop(std::prev(lru_.end()));
}

void block_cache::drop(list::iterator e) {
  for (std::uint32_t i = 0; i < e->count; ++i) {
    const auto it = index_.find(key_of(e->torrent, e->piece, e->first + i));
    if (it != index_.end() && it->second == e) index_.erase(it);
  }
  bytes_ -= e->size;
  lru_.erase(e);
}

void block_cache::erase(std::uint64_t torrent, piece_index p) {
  for (auto e = lru_.begin(); e != lru_.end();) {
    const auto next = std::next(e);
    if (e->torrent == torrent && e->piece == p.value()) drop(e);
    e = next;
  }
}

void block_cache::erase_torrent(std::uint64_t torrent) {
  for (auto e = lru_.begin(); e != lru_.end();) {
    const auto next = std::next(e);
    if (e->torrent == torrent) drop(e);
    e = next;
  }
}

block_cache& block_cache::for_this_thread() {
  thread_local block_cache cache;
  return cache;
}

}  // namespace sta::storage
