#include "session/torrent_list.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/sys_error.hpp"
#include "storage/resume.hpp"
#include "storage/root_dir.hpp"

namespace sta {
namespace {

constexpr std::size_t kMaxTorrentFile = 64u << 20;
constexpr std::string_view kSuffix = ".torrent";

std::string name_of(const sha1_digest& info_hash) { return info_hash.hex() + std::string(kSuffix); }

bool is_list_name(std::string_view name) {
  if (name.size() != 40 + kSuffix.size() || name.substr(40) != kSuffix) return false;
  return name.substr(0, 40).find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

detailed_result<void> remember_torrent(const std::string& save_dir, const std::string& state_dir,
                                       const sha1_digest& info_hash, std::string_view torrent_file) {
  return remember_torrents(save_dir, state_dir, {{info_hash, torrent_file}});
}

detailed_result<void> remember_torrents(const std::string& save_dir, const std::string& state_dir,
                                        const std::vector<std::pair<sha1_digest, std::string_view>>& torrents) {
  auto root = storage::root_dir::open(save_dir, false, state_dir);
  if (!root) return root.error();
  std::vector<std::pair<std::string, std::string_view>> files;
  for (const auto& [hash, bytes] : torrents) files.emplace_back(name_of(hash), bytes);
  return storage::write_state_files(*root, files);
}

detailed_result<void> forget_torrent(const std::string& save_dir, const std::string& state_dir,
                                     const sha1_digest& info_hash) {
  auto root = storage::root_dir::open(save_dir, false, state_dir);
  if (!root) return root.error();
  auto dir = root->state_dir(false);
  if (!dir) return {};
  const std::string name = name_of(info_hash);
  if (::unlinkat(dir->get(), name.c_str(), 0) != 0 && errno != ENOENT)
    return detailed_error{last_sys_error(), root->shown_state(name)};
  return {};
}

detailed_result<std::vector<remembered>> remembered_torrents(const std::string& save_dir, const std::string& state_dir) {
  std::vector<remembered> out;
  auto root = storage::root_dir::open(save_dir, false, state_dir);
  if (!root) return root.error();
  auto dir = root->state_dir(false);
  if (!dir) return out;
  // fdopendir takes the descriptor it is given: a duplicate of ours.
  DIR* d = ::fdopendir(::fcntl(dir->get(), F_DUPFD_CLOEXEC, 0));
  if (d == nullptr) return detailed_error{last_sys_error(), root->shown_state("")};
  std::vector<std::string> names;
  while (const dirent* ent = ::readdir(d))
    if (is_list_name(ent->d_name)) names.emplace_back(ent->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    auto bytes = storage::read_state_file(dir->get(), name, kMaxTorrentFile);
    if (!bytes) return detailed_error{last_sys_error(), root->shown_state(name)};
    out.push_back({root->shown_state(name), std::move(*bytes)});
  }
  return out;
}

detailed_result<void> save_fetched_torrent(const std::string& save_dir, const std::string& state_dir,
                                           const sha1_digest& info_hash, std::string_view torrent_file) {
  auto root = storage::root_dir::open(save_dir, true, state_dir);
  if (!root) return root.error();
  return storage::write_state_file(*root, storage::fetched_name(info_hash), torrent_file);
}

std::optional<std::string> load_fetched_torrent(const std::string& save_dir, const std::string& state_dir,
                                                const sha1_digest& info_hash) {
  auto root = storage::root_dir::open(save_dir, false, state_dir);
  if (!root) return std::nullopt;
  auto dir = root->state_dir(false);
  if (!dir) return std::nullopt;
  return storage::read_state_file(dir->get(), storage::fetched_name(info_hash), kMaxTorrentFile);
}

}  // namespace sta
