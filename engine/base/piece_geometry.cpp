#include "base/piece_geometry.hpp"

#include <algorithm>

namespace sta {

piece_geometry::piece_geometry(std::int64_t total_size, std::int64_t piece_length)
    : total_(total_size),
      piece_length_(static_cast<std::uint32_t>(piece_length)),
      count_(static_cast<std::uint32_t>((total_size + piece_length - 1) / piece_length)),
      last_size_(count_ == 0 ? 0 : static_cast<std::uint32_t>(total_size - std::int64_t{count_ - 1} * piece_length)) {}

std::optional<piece_index> piece_geometry::piece(std::uint64_t raw) const {
  if (raw >= count_) return std::nullopt;
  return piece_index(static_cast<std::uint32_t>(raw));
}

std::optional<block_index> piece_geometry::block(piece_index p, std::uint64_t raw) const {
  if (raw >= blocks_in(p)) return std::nullopt;
  return block_index(static_cast<std::uint32_t>(raw));
}

std::optional<block_index> piece_geometry::block_at(piece_index p, std::uint64_t offset) const {
  if (offset % kBlockSize != 0) return std::nullopt;
  return block(p, offset / kBlockSize);
}

std::uint32_t piece_geometry::block_size(piece_index p, block_index b) const {
  return std::min(kBlockSize, piece_size(p) - b.offset());
}

}  // namespace sta
