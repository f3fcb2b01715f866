// block_cache: blocks of verified pieces that this reactor read to serve
// peers or has just downloaded, so that peers asking for the same blocks
// are served from memory. Bounded in bytes (least recently used extents
// go first), holding only what was asked for (16 KiB-aligned ranges, not
// whole pieces). Keys carry the torrent's process-unique id, so a torrent
// that is gone leaves nothing a new one could meet. A hit shares ownership
// of its extent, so the bytes stay valid while the caller copies them even
// if the extent is evicted meanwhile. One per reactor thread
// (for_this_thread()); never shared between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <unordered_map>

#include "base/piece_geometry.hpp"

namespace sta::storage {

class block_cache {
 public:
  static constexpr std::size_t kDefaultBytes = 16u << 20;

  explicit block_cache(std::size_t max_bytes = kDefaultBytes) : max_bytes_(max_bytes) {}

  struct hit {
    std::shared_ptr<const std::byte[]> owner;
    const std::byte* data;  // the block's first byte
    std::uint32_t size;     // bytes of the block held (16 KiB, or less for a piece's last)
  };

  std::optional<hit> find(std::uint64_t torrent, piece_index p, block_index b);
  // `count` consecutive blocks of piece p from `first`, `size` bytes in all.
  // An extent larger than a quarter of the cache is not kept.
  void insert(std::uint64_t torrent, piece_index p, block_index first, std::uint32_t count,
              std::shared_ptr<const std::byte[]> data, std::size_t size);
  // Forgets a piece (it could not be read) or a whole torrent (removed).
  void erase(std::uint64_t torrent, piece_index p);
  void erase_torrent(std::uint64_t torrent);

  std::size_t bytes() const { return bytes_; }
  std::size_t max_bytes() const { return max_bytes_; }

  static block_cache& for_this_thread();

 private:
  struct key {
    std::uint64_t torrent;
    std::uint64_t block;  // piece << 32 | block
    friend bool operator==(const key&, const key&) = default;
  };
  struct key_hash {
    std::size_t operator()(const key& k) const noexcept {
      return static_cast<std::size_t>((k.torrent * 0x9E3779B97F4A7C15ull) ^ (k.block * 0xC2B2AE3D27D4EB4Full));
    }
  };
  struct extent {
    std::uint64_t torrent;
    std::uint32_t piece;
    std::uint32_t first;
    std::uint32_t count;
    std::shared_ptr<const std::byte[]> data;
    std::size_t size;
  };
  using list = std::list<extent>;

  static key key_of(std::uint64_t torrent, std::uint32_t piece, std::uint32_t block) {
    return {torrent, std::uint64_t{piece} << 32 | block};
  }
  void drop(list::iterator e);

  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  list lru_;  // most recently used first
  std::unordered_map<key, list::iterator, key_hash> index_;
};

}  // namespace sta::storage
