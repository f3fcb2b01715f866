// The piece <-> file-slice map: which byte ranges of which files make up a
// piece (or a block of one). Pure arithmetic over the file sizes; immutable
// after construction, so any thread may read it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sta::meta {

struct metainfo;

struct file_slice {
  std::size_t file = 0;      // index into the torrent's file list
  std::int64_t offset = 0;   // within that file
  std::int64_t length = 0;
  friend bool operator==(const file_slice&, const file_slice&) = default;
};

class file_map {
 public:
  // piece_length > 0; sizes >= 0 and their sum fits in int64 (metainfo::parse
  // guarantees both).
  file_map(std::vector<std::int64_t> file_sizes, std::int64_t piece_length);
  explicit file_map(const metainfo& m);

  std::int64_t total_size() const { return total_; }
  std::int64_t piece_length() const { return piece_length_; }
  std::int64_t piece_count() const { return piece_count_; }
  std::size_t file_count() const { return sizes_.size(); }
  std::int64_t file_size(std::size_t file) const { return sizes_[file]; }
  std::int64_t file_offset(std::size_t file) const { return offsets_[file]; }
  std::int64_t piece_size(std::int64_t piece) const;

  // Calls f(file_slice) for each non-empty slice of the byte range
  // [piece * piece_length + offset, ... + length), in order. Zero-length files
  // never appear. The range must lie within the torrent.
  template <class F>
  void for_each_slice(std::int64_t piece, std::int64_t offset, std::int64_t length, F&& f) const {
    std::int64_t pos = piece * piece_length_ + offset;
    std::int64_t left = length;
    for (std::size_t i = first_file_at(pos); left > 0 && i < sizes_.size(); ++i) {
      const std::int64_t in_file = pos - offsets_[i];
      const std::int64_t n = std::min(left, sizes_[i] - in_file);
      if (n <= 0) continue;
      f(file_slice{i, in_file, n});
      pos += n;
      left -= n;
    }
  }

  std::vector<file_slice> slices(std::int64_t piece, std::int64_t offset, std::int64_t length) const;
  std::vector<file_slice> piece_slices(std::int64_t piece) const {
    return slices(piece, 0, piece_size(piece));
  }

  // The pieces [first, last] that hold bytes of a file; for a zero-length
  // file first > last.
  struct piece_range { std::int64_t first; std::int64_t last; };
  piece_range file_pieces(std::size_t file) const;

 private:
  std::size_t first_file_at(std::int64_t pos) const;

  std::vector<std::int64_t> sizes_;
  std::vector<std::int64_t> offsets_;
  std::int64_t piece_length_;
  std::int64_t total_ = 0;
  std::int64_t piece_count_ = 0;
};

}  // namespace sta::meta
