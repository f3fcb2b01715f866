// Resume data: which pieces of a torrent are verified on disk, with each
// file's size, mtime, ctime and inode when that was recorded. It is trusted
// on start only when every one of those still matches, so a file that was
// rewritten (even with its mtime put back: the ctime moves) or replaced is
// re-verified. Kept in SAVE_DIR/.sta/<info-hash>.resume and written
// atomically (temporary file, fsync, rename, fsync of the directory), so a
// crash leaves the old record or the new one; every file is reached through
// root_dir, so a planted symlink cannot redirect it. Blocking file I/O: the
// torrent's control thread.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "base/sha1.hpp"
#include "meta/metainfo.hpp"
#include "storage/root_dir.hpp"

namespace sta::storage {

struct file_stamp {
  std::int64_t size = -1;  // -1: missing
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::int64_t inode = 0;
  friend bool operator==(const file_stamp&, const file_stamp&) = default;
};

file_stamp stamp_of(const struct stat& st);
file_stamp stamp_of(const std::optional<struct stat>& st);

struct resume_data {
  sha1_digest info_hash;
  std::vector<bool> verified;  // one per piece
  std::vector<file_stamp> files;
  // Files that were not selected, whose bytes in boundary pieces live in the
  // parts file (one per file; empty: none), and the parts file's stamp.
  std::vector<bool> in_parts;
  file_stamp parts;
};

// Pure codec: a bencoded dict ("sta resume 2"; records of version 1 do not
// decode and so are simply not trusted).
std::string encode_resume(const resume_data& r);
detailed_result<resume_data> decode_resume(std::string_view bytes);

// The stamps of the torrent's files in SAVE_DIR as they are now.
std::vector<file_stamp> stamp_files(const meta::metainfo& m, const root_dir& root);

// <info-hash hex>.resume and <info-hash hex>.parts, in SAVE_DIR/.sta; and
// <info-hash hex>.fetched.torrent, the metadata a magnet link's torrent
// fetched from peers (not one of the served list's files).
std::string resume_name(const sha1_digest& info_hash);
std::string parts_name(const sha1_digest& info_hash);
std::string fetched_name(const sha1_digest& info_hash);

detailed_result<void> save_resume(const root_dir& root, const resume_data& r);

// The record if it exists, decodes, belongs to this torrent (same info-hash,
// piece and file counts) and every file's stamp still matches, the parts
// file's too if it holds anything.
std::optional<resume_data> load_matching_resume(const root_dir& root, const meta::metainfo& m);

}  // namespace sta::storage
