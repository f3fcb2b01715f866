// Encoding a v1 .torrent from its parts (the inverse of meta::parse), and the
// default piece length. Pure; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sta::meta {

struct torrent_spec {
  struct file {
    std::vector<std::string> path;  // below the root name; empty for single-file
    std::int64_t size = 0;
  };
  std::string name;
  bool multi_file = false;
  std::vector<file> files;
  std::int64_t piece_length = 0;
  std::string piece_hashes;  // 20 bytes per piece
  std::vector<std::vector<std::string>> trackers;  // tiers
  std::vector<std::string> url_list;
  bool is_private = false;
  std::string comment;
  std::string created_by;
  std::optional<std::int64_t> creation_date;
};

// The bencoded torrent: 'announce' is the first tracker, 'announce-list' is
// written when there is more than one tracker.
std::string build_torrent(const torrent_spec& spec);

// A .torrent around an info dictionary as it came (a magnet's, fetched from
// peers: its bytes, and so its info-hash, are kept exactly), with the
// tracker tiers as 'announce' and 'announce-list'.
std::string torrent_from_info(std::string_view info_bytes, const std::vector<std::vector<std::string>>& trackers);

// 1 MiB up to about 11 GiB of content, then doubling with the size so the
// piece count stays near 10,000, capped at 16 MiB.
std::int64_t default_piece_length(std::int64_t total_size);

}  // namespace sta::meta
