// The files of one torrent under SAVE_DIR, opened once so that reads and
// writes go to file descriptors that cannot point outside SAVE_DIR: every
// path is resolved with openat2(RESOLVE_BENEATH), so neither a hostile name
// (already refused by meta::parse) nor a symlink planted in SAVE_DIR can make
// sta touch other files. Built on the control thread; afterwards the fds are
// read-only data that any reactor may use for I/O. Owns the fds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "meta/metainfo.hpp"

namespace sta::storage {

enum class open_mode {
  // Seeding: every file must exist with its exact size.
  existing,
  // Downloading: missing files and directories are created and every file
  // is preallocated to its size, so a full disk fails now, not mid-download.
  create,
};

class file_set {
 public:
  static detailed_result<file_set> open(const meta::metainfo& m, const std::string& save_dir, open_mode mode);

  file_set(file_set&& other) noexcept;
  file_set& operator=(file_set&& other) noexcept;
  file_set(const file_set&) = delete;
  file_set& operator=(const file_set&) = delete;
  ~file_set();

  // The fd of file i, or -1 for zero-length and BEP 47 padding files, which
  // hold no bytes on disk.
  int fd(std::size_t file) const { return fds_[file]; }
  std::size_t size() const { return fds_.size(); }

 private:
  file_set() = default;
  void close_all();
  std::vector<int> fds_;
};

}  // namespace sta::storage
