// torrent_list: the torrents a node brings back when it starts again with
// the same state directory (SAVE_DIR/.sta, or the one given as
// `state_dir`): a copy of each .torrent, named <info-hash hex>.torrent,
// next to its resume record, so a restart needs neither the original files
// nor a rehash. Files are reached like every other state file (no symlink
// followed, nothing outside the state directory). Blocking; the control
// thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.hpp"
#include "base/sha1.hpp"

namespace sta {

// Records (or replaces) the torrent's bytes.
detailed_result<void> remember_torrent(const std::string& save_dir, const std::string& state_dir,
                                       const sha1_digest& info_hash, std::string_view torrent_file);
// Several at once (one sync of the state directory for all): the first error.
detailed_result<void> remember_torrents(const std::string& save_dir, const std::string& state_dir,
                                        const std::vector<std::pair<sha1_digest, std::string_view>>& torrents);
// Forgets it; nothing to do if it was not recorded.
detailed_result<void> forget_torrent(const std::string& save_dir, const std::string& state_dir,
                                     const sha1_digest& info_hash);

// The metadata a magnet link's torrent fetched, as a .torrent
// (<hex>.fetched.torrent), so that adding the same magnet again does not
// fetch it again; and reading it back (nullopt: none, or unreadable).
detailed_result<void> save_fetched_torrent(const std::string& save_dir, const std::string& state_dir,
                                           const sha1_digest& info_hash, std::string_view torrent_file);
std::optional<std::string> load_fetched_torrent(const std::string& save_dir, const std::string& state_dir,
                                                const sha1_digest& info_hash);

struct remembered {
  std::string file;   // as shown in messages: SAVE_DIR/.sta/<hex>.torrent, or STATE_DIR/<hex>.torrent
  std::string bytes;
};
// Every recorded torrent, in name order; none when there is no state
// directory yet.
detailed_result<std::vector<remembered>> remembered_torrents(const std::string& save_dir, const std::string& state_dir);

}  // namespace sta
