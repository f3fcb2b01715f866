// A parsed v1 .torrent file (BEP 3, with BEP 12 announce-list, BEP 27
// private and BEP 19 url-list). The info-hash is the SHA-1 of the exact bytes
// of the 'info' dict in the file. Parsing is pure and owns copies of
// everything it returns; a metainfo is immutable and may be shared read-only
// between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "base/sha1.hpp"

namespace sta::meta {

struct file_entry {
  std::vector<std::string> path;  // elements below the torrent's root name
  std::int64_t size = 0;
  std::int64_t offset = 0;  // of its first byte in the torrent's byte stream
  bool pad = false;         // BEP 47 padding file: never written to disk

  // The elements joined with '/'.
  std::string joined_path() const;
};

struct metainfo {
  std::string name;
  sha1_digest info_hash;
  std::int64_t piece_length = 0;
  std::int64_t total_size = 0;
  std::string piece_hashes;  // 20 bytes per piece
  // Single-file torrents have one entry with an empty path: the file is
  // SAVE_DIR/name. Multi-file torrents store SAVE_DIR/name/path...
  std::vector<file_entry> files;
  bool multi_file = false;
  std::vector<std::vector<std::string>> trackers;  // tiers of announce URLs
  std::vector<std::string> url_list;
  bool is_private = false;
  std::optional<std::int64_t> creation_date;
  std::string comment;
  std::string created_by;
  std::string info_bytes;  // exact bencoded 'info' dict

  // Path of file i relative to SAVE_DIR: "name" or "name/a/b". Every element
  // passed is_safe_path_element, so it cannot leave SAVE_DIR.
  std::string relative_path(std::size_t file) const;

  std::int64_t piece_count() const { return static_cast<std::int64_t>(piece_hashes.size() / 20); }
  std::int64_t piece_size(std::int64_t piece) const;
  sha1_digest piece_hash(std::int64_t piece) const {
    return sha1_digest::from_raw(std::string_view(piece_hashes).substr(static_cast<std::size_t>(piece) * 20, 20));
  }
};

struct parse_limits {
  std::size_t max_file_size = 64u << 20;  // of the .torrent file itself
  std::size_t max_files = 1'000'000;
  std::size_t max_path_elements = 256;
  std::size_t max_path_bytes = 4096;
  std::int64_t max_piece_length = 256ll << 20;
};

// Errors name the field, e.g. "info.files[3].path[1]: unsafe or empty path element".
detailed_result<metainfo> parse(std::string_view torrent_file, const parse_limits& lim = {});

// True when s is a safe file or directory name: non-empty, not '.' or '..',
// no '/' and no NUL.
bool is_safe_path_element(std::string_view s);

}  // namespace sta::meta
