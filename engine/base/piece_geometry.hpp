// piece_geometry: the shape of a torrent's byte stream (its size, pieces and
// 16 KiB blocks), and the one place that turns the raw numbers peers and
// files give into piece and block ids (STYLE rule 9). A piece_index or
// block_index exists only once checked against a geometry, so code that
// holds one never checks it again. Immutable; any thread.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>

namespace sta {

inline constexpr std::uint32_t kBlockSize = 16 * 1024;

class piece_geometry;

class piece_index {
 public:
  constexpr std::uint32_t value() const { return v_; }
  friend constexpr auto operator<=>(piece_index, piece_index) = default;

 private:
  friend class piece_geometry;
  constexpr explicit piece_index(std::uint32_t v) : v_(v) {}
  std::uint32_t v_;
};

// A block of one piece: offset block * 16 KiB within it.
class block_index {
 public:
  constexpr std::uint32_t value() const { return v_; }
  constexpr std::uint32_t offset() const { return v_ * kBlockSize; }
  friend constexpr auto operator<=>(block_index, block_index) = default;

 private:
  friend class piece_geometry;
  constexpr explicit block_index(std::uint32_t v) : v_(v) {}
  std::uint32_t v_;
};

class piece_geometry {
 public:
  // total_size >= 0 and 0 < piece_length <= 2^31 (metainfo::parse checks both).
  piece_geometry(std::int64_t total_size, std::int64_t piece_length);

  std::int64_t total_size() const { return total_; }
  std::uint32_t piece_length() const { return piece_length_; }
  std::uint32_t piece_count() const { return count_; }
  std::uint32_t blocks_per_piece() const { return (piece_length_ + kBlockSize - 1) / kBlockSize; }

  // Checked conversions; nullopt when out of range.
  std::optional<piece_index> piece(std::uint64_t raw) const;
  std::optional<block_index> block(piece_index p, std::uint64_t raw) const;
  // The block that starts at `offset` in the piece: a multiple of 16 KiB.
  std::optional<block_index> block_at(piece_index p, std::uint64_t offset) const;
  // Whether [offset, offset + length) is a non-empty range inside the piece.
  bool contains(piece_index p, std::uint64_t offset, std::uint64_t length) const {
    return length > 0 && offset + length <= piece_size(p);
  }

  std::uint32_t piece_size(piece_index p) const { return p.value() + 1 == count_ ? last_size_ : piece_length_; }
  std::uint32_t blocks_in(piece_index p) const { return (piece_size(p) + kBlockSize - 1) / kBlockSize; }
  std::uint32_t block_size(piece_index p, block_index b) const;
  std::int64_t offset_of(piece_index p) const { return std::int64_t{p.value()} * piece_length_; }

  // Every piece in index order: for (piece_index p : geo.pieces()).
  class piece_range {
   public:
    struct iterator {
      std::uint32_t i;
      piece_index operator*() const { return piece_index(i); }
      iterator& operator++() {
        ++i;
        return *this;
      }
      friend bool operator==(iterator, iterator) = default;
    };
    iterator begin() const { return {0}; }
    iterator end() const { return {count_}; }

   private:
    friend class piece_geometry;
    explicit piece_range(std::uint32_t count) : count_(count) {}
    std::uint32_t count_;
  };
  piece_range pieces() const { return piece_range(count_); }

 private:
  std::int64_t total_;
  std::uint32_t piece_length_;
  std::uint32_t count_;
  std::uint32_t last_size_;
};

}  // namespace sta
