// Checking a torrent's data in SAVE_DIR against its piece hashes, on every
// core. Blocking.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "meta/metainfo.hpp"
#include "storage/piece_hasher.hpp"

namespace sta::storage {

struct verify_report {
  struct wrong_size {
    std::size_t file;
    std::int64_t actual;
  };
  std::vector<std::size_t> missing_files;
  std::vector<wrong_size> wrong_size_files;
  std::int64_t piece_count = 0;
  std::int64_t bad_pieces = 0;  // includes pieces of missing or wrong-size files
  std::vector<bool> verified;   // one per piece

  bool complete() const {
    return missing_files.empty() && wrong_size_files.empty() && bad_pieces == 0;
  }
};

// SAVE_DIR holds the torrent's root name, as libtorrent's save_path does.
// Fails only when SAVE_DIR itself is not a readable directory. A file
// larger than the torrent's is listed in wrong_size_files; with
// `hash_larger_files` its first bytes are hashed all the same (so a caller
// can tell whether it holds any of the torrent's data), otherwise its
// pieces count as bad unread.
detailed_result<verify_report> verify_data(const meta::metainfo& m, const std::string& save_dir,
                                           const hash_options& opts = {}, bool hash_larger_files = false);

}  // namespace sta::storage
