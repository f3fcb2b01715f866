// root_dir: SAVE_DIR opened once, and where sta keeps its state for it
// (SAVE_DIR/.sta, or a state directory of the user's choice). Every path
// sta opens below either (the data files, its own resume records, parts
// files and torrent list) is resolved from a directory fd with
// openat2(RESOLVE_BENEATH), so neither a hostile name nor a symlink planted
// there can make sta touch a file outside it. sta's own files are opened
// with RESOLVE_NO_SYMLINKS too: a symlink in their path is refused, never
// followed. Blocking syscalls; the control thread. Owns its fd.
#pragma once

#include <sys/stat.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.hpp"
#include "base/unique_fd.hpp"

namespace sta::storage {

// The name of sta's state directory in SAVE_DIR (resume records, parts files).
inline constexpr char kStateDir[] = ".sta";

class root_dir {
 public:
  // The directory at `path`, made first when `create` (its parent must
  // exist). `state` is the state directory; empty: SAVE_DIR/.sta.
  static detailed_result<root_dir> open(const std::string& path, bool create, const std::string& state = {});

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }
  // "SAVE_DIR/rel", for messages.
  std::string shown(const std::string& rel) const { return path_ + "/" + rel; }
  // "SAVE_DIR/.sta/name" (or "STATE_DIR/name"), for messages about sta's own files.
  std::string shown_state(const std::string& name) const {
    return state_.empty() ? shown(std::string(kStateDir) + "/" + name) : state_ + "/" + name;
  }

  // A data file below SAVE_DIR (symlinks that stay inside are followed).
  result<unique_fd> open_file(const std::string& rel, int flags, mode_t mode = 0644) const;
  // What open_file(rel) would open, or nullopt when there is nothing (or
  // it cannot be reached beneath SAVE_DIR).
  std::optional<struct stat> stat(const std::string& rel) const;
  // Makes each missing directory of a path given as its elements.
  detailed_result<void> make_dirs(const std::vector<std::string>& elements) const;

  // SAVE_DIR/.sta: made when `create`; a symlink or a non-directory there
  // is refused. A state directory given instead is made when `create` (its
  // parent must exist) and opened as given. The fd may be used with the
  // *at() calls and open_state_file.
  detailed_result<unique_fd> state_dir(bool create) const;

 private:
  root_dir() = default;
  std::string path_;
  std::string state_;  // empty: SAVE_DIR/.sta
  unique_fd fd_;
};

// A file directly in the state directory: no symlink, no other directory.
result<unique_fd> open_state_file(int state_dir, const std::string& name, int flags, mode_t mode = 0644);
// stat of such a file, or nullopt.
std::optional<struct stat> stat_state_file(int state_dir, const std::string& name);
// Replaces such a file (the state directory is made if missing) with
// `bytes`: written to NAME.tmp, synced, renamed over NAME. The error names
// the file.
detailed_result<void> write_state_file(const root_dir& root, const std::string& name, std::string_view bytes);
// Several at once, each the same way, with one sync of the directory for
// all of them. The first error; the files written before it stay.
detailed_result<void> write_state_files(const root_dir& root,
                                        const std::vector<std::pair<std::string, std::string_view>>& files);
// The whole file, or nullopt when it is missing, unreadable or longer
// than `limit`.
std::optional<std::string> read_state_file(int state_dir, const std::string& name, std::size_t limit);

}  // namespace sta::storage
