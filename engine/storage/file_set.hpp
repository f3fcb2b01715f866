// The files of one torrent under SAVE_DIR, opened once through root_dir, so
// reads and writes go to file descriptors that cannot point outside
// SAVE_DIR. Built on the control thread; afterwards the fds are read-only
// data that any reactor may use for I/O. Owns the fds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/unique_fd.hpp"
#include "meta/file_map.hpp"
#include "meta/metainfo.hpp"
#include "storage/root_dir.hpp"

namespace sta::storage {

enum class open_mode {
  // Seeding: every file must exist with its exact size.
  existing,
  // Downloading: missing files and directories are created and every file
  // is preallocated to its size, so a full disk fails now, not mid-download.
  create,
};

// Where a slice of a file lives on disk.
struct location {
  int fd = -1;              // -1: nowhere (padding): reads as zeros, writes are dropped
  std::int64_t offset = 0;  // in fd
  int direct_fd = -1;       // the same file opened with O_DIRECT, for aligned writes; -1: none
};

class file_set {
 public:
  // `selected`: one flag per file, or empty for all. A file that is not
  // selected is never created or opened; the bytes of it that belong to a
  // piece we download anyway (one shared with a selected file) are kept in
  // the parts file SAVE_DIR/.sta/<info-hash>.parts, at their offset in the
  // torrent (a sparse file). Only with open_mode::create, which also removes
  // a parts file that the selection no longer needs.
  // `direct`: files of at least kDirectMin bytes are also opened with
  // O_DIRECT (create only), where the file system allows it, so aligned
  // writes skip the page cache (disk_storage).
  static detailed_result<file_set> open(const meta::metainfo& m, const root_dir& root, open_mode mode,
                                        const std::vector<bool>& selected = {}, bool direct = false);
  static constexpr std::int64_t kDirectMin = 1 << 20;

  // The fd of file i, or -1 for zero-length and BEP 47 padding files, which
  // hold no bytes on disk.
  int fd(std::size_t file) const { return fds_[file].get(); }
  std::size_t size() const { return fds_.size(); }
  // Whether the file's bytes live in the parts file.
  bool in_parts(std::size_t file) const { return parts_offsets_[file] >= 0; }
  // The parts file, or -1 if every file is selected.
  int parts_fd() const { return parts_fd_.get(); }

  location locate(const meta::file_slice& s) const {
    if (parts_offsets_[s.file] >= 0) return {parts_fd_.get(), parts_offsets_[s.file] + s.offset};
    return {fds_[s.file].get(), s.offset, direct_fds_[s.file].get()};
  }

 private:
  file_set() = default;
  std::vector<unique_fd> fds_;
  std::vector<unique_fd> direct_fds_;
  std::vector<std::int64_t> parts_offsets_;  // the file's offset in the torrent, or -1
  unique_fd parts_fd_;
};

}  // namespace sta::storage
