// Resume data: which pieces of a torrent are verified on disk, with the size
// and mtime of every file when that was recorded. It is trusted on start only
// when every file still has that size and mtime; otherwise the data is
// re-verified. Written atomically (temporary file, fsync, rename, fsync of the
// directory), so a crash leaves either the old record or the new one.
// Blocking file I/O: call from the torrent's control thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "base/sha1.hpp"
#include "meta/metainfo.hpp"

namespace sta::storage {

struct file_stamp {
  std::int64_t size = -1;  // -1: missing
  std::int64_t mtime_ns = 0;
  friend bool operator==(const file_stamp&, const file_stamp&) = default;
};

struct resume_data {
  sha1_digest info_hash;
  std::vector<bool> verified;  // one per piece
  std::vector<file_stamp> files;
  // Files that were not selected, whose bytes in boundary pieces live in the
  // parts file (one per file; empty: none), and the parts file's stamp.
  std::vector<bool> in_parts;
  file_stamp parts;
};

// Pure codec: a bencoded dict.
std::string encode_resume(const resume_data& r);
detailed_result<resume_data> decode_resume(std::string_view bytes);

// The stamps of the torrent's files in SAVE_DIR as they are now.
std::vector<file_stamp> stamp_files(const meta::metainfo& m, const std::string& save_dir);

// The stamp of one file (size -1 if it is missing).
file_stamp stamp_file(const std::string& path);

// SAVE_DIR/.sta/<info-hash hex>.resume
std::string resume_path(const std::string& save_dir, const sha1_digest& info_hash);
// SAVE_DIR/.sta/<info-hash hex>.parts
std::string parts_path(const std::string& save_dir, const sha1_digest& info_hash);

detailed_result<void> save_resume(const std::string& path, const resume_data& r);

// The record at path if it exists, decodes, belongs to this torrent (same
// info-hash, piece and file counts) and every file's stamp still matches,
// the parts file's too if it holds anything.
std::optional<resume_data> load_matching_resume(const std::string& path, const meta::metainfo& m,
                                                const std::string& save_dir);

}  // namespace sta::storage
