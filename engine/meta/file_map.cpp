#include "meta/file_map.hpp"

#include <algorithm>

#include "meta/metainfo.hpp"

namespace sta::meta {
namespace {

std::vector<std::int64_t> sizes_of(const metainfo& m) {
  std::vector<std::int64_t> sizes;
  sizes.reserve(m.files.size());
  for (const auto& f : m.files) sizes.push_back(f.size);
  return sizes;
}

}  // namespace

file_map::file_map(std::vector<std::int64_t> file_sizes, std::int64_t piece_length)
    : sizes_(std::move(file_sizes)), piece_length_(piece_length) {
  offsets_.reserve(sizes_.size());
  for (auto s : sizes_) {
    offsets_.push_back(total_);
    total_ += s;
  }
  piece_count_ = total_ / piece_length_ + (total_ % piece_length_ != 0 ? 1 : 0);
}

file_map::file_map(const metainfo& m) : file_map(sizes_of(m), m.piece_length) {}

std::int64_t file_map::piece_size(std::int64_t piece) const {
  return std::min(piece_length_, total_ - piece * piece_length_);
}

std::size_t file_map::first_file_at(std::int64_t pos) const {
  // The last file starting at or before pos. Zero-length files share their
  // offset with the next file, so this is the file that holds pos.
  auto it = std::upper_bound(offsets_.begin(), offsets_.end(), pos);
  if (it == offsets_.begin()) return 0;
  const auto i = static_cast<std::size_t>(std::distance(offsets_.begin(), it) - 1);
  return i;
}

std::vector<file_slice> file_map::slices(std::int64_t piece, std::int64_t offset,
                                         std::int64_t length) const {
  std::vector<file_slice> out;
  for_each_slice(piece, offset, length, [&](const file_slice& s) { out.push_back(s); });
  return out;
}

file_map::piece_range file_map::file_pieces(std::size_t file) const {
  if (sizes_[file] == 0) return {1, 0};
  return {offsets_[file] / piece_length_, (offsets_[file] + sizes_[file] - 1) / piece_length_};
}

}  // namespace sta::meta
