// Hashes every piece of a torrent's data on disk, on every core: threads take
// chunks of consecutive pieces from a shared counter and read each chunk with
// large sequential preads. Used by `sta create` and `sta verify` (and later by
// resume re-checks). Blocking; call it from a thread that may block.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/sha1.hpp"
#include "meta/file_map.hpp"

namespace sta::storage {

struct hash_options {
  unsigned threads = 0;  // 0: one per core
  // Called on the calling thread about five times a second, and once at the
  // end, with bytes hashed so far.
  std::function<void(std::int64_t done, std::int64_t total)> on_progress;
  // Files whose bytes are all zero and are never read: BEP 47 padding files.
  std::vector<bool> zero_files;
  // Set by another thread to stop early; the pieces not hashed yet are
  // reported as nullopt.
  const std::atomic<bool>* cancel = nullptr;
};

struct hash_report {
  // One per piece; nullopt when the piece touches an unusable file or a read
  // failed.
  std::vector<std::optional<sha1_digest>> digests;
  // The first read error met, and the file it came from.
  error_code first_error;
  std::string first_error_path;
};

// paths[i] is where file i of the map lives on disk; an empty path marks a
// file as unusable (missing or the wrong size), so every piece that touches
// it is reported as nullopt without being read.
hash_report hash_pieces(const meta::file_map& map, const std::vector<std::string>& paths,
                        const hash_options& opts = {});

}  // namespace sta::storage
