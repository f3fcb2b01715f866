// Making a .torrent from a file or a directory on disk: walk, hash on every
// core, encode. Blocking; runs on the calling thread plus hash workers.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace sta::storage {

struct create_options {
  std::string path;
  std::vector<std::vector<std::string>> trackers;  // tiers of announce URLs
  std::int64_t piece_length = 0;                   // 0: meta::default_piece_length
  bool is_private = false;
  std::string comment;
  std::string created_by;
  std::optional<std::int64_t> creation_date;
  unsigned threads = 0;
  std::function<void(std::int64_t done, std::int64_t total)> on_progress;
};

// The files of a directory, in the order a torrent lists them: regular files
// only (symlinks and special files are skipped), sorted by their path
// elements compared bytewise. Each entry holds the elements below `root`.
detailed_result<std::vector<std::vector<std::string>>> list_files(const std::string& root);

// The bencoded .torrent.
detailed_result<std::string> create_torrent(const create_options& opts);

}  // namespace sta::storage
