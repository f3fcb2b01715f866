#include "storage/create.hpp"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "meta/build.hpp"
#include "meta/file_map.hpp"
#include "meta/metainfo.hpp"
#include "base/sys_error.hpp"
#include "storage/piece_hasher.hpp"

namespace sta::storage {
namespace fs = std::filesystem;

namespace {

detailed_error fs_error(const std::error_code& ec, const std::string& subject) {
  return {sys_error(ec.value()), subject};
}

bool valid_piece_length(std::int64_t len) {
  return len >= (16 << 10) && len <= (256ll << 20) && (len & (len - 1)) == 0;
}

}  // namespace

detailed_result<std::vector<std::vector<std::string>>> list_files(const std::string& root) {
  std::vector<std::vector<std::string>> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  if (ec) return fs_error(ec, root);
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return fs_error(ec, it->path().string());
    const auto status = it->symlink_status(ec);
    if (ec) return fs_error(ec, it->path().string());
    if (!fs::is_regular_file(status)) continue;
    std::vector<std::string> elements;
    for (const auto& e : fs::relative(it->path(), root, ec)) elements.push_back(e.string());
    if (ec) return fs_error(ec, it->path().string());
    for (const auto& e : elements) {
      if (!meta::is_safe_path_element(e)) return fail(errc::bad_path, it->path().string());
    }
    files.push_back(std::move(elements));
  }
  if (ec) return fs_error(ec, root);
  std::sort(files.begin(), files.end());
  return files;
}

detailed_result<std::string> create_torrent(const create_options& opts) {
  std::error_code ec;
  const fs::path root = fs::absolute(opts.path, ec).lexically_normal();
  if (ec) return fs_error(ec, opts.path);
  const auto status = fs::status(root, ec);
  if (ec) return fs_error(ec, opts.path);

  meta::torrent_spec spec;
  spec.name = (root.has_filename() ? root.filename() : root.parent_path().filename()).string();
  if (!meta::is_safe_path_element(spec.name)) return fail(errc::bad_path, opts.path);

  std::vector<std::string> disk_paths;
  if (fs::is_regular_file(status)) {
    const auto size = fs::file_size(root, ec);
    if (ec) return fs_error(ec, opts.path);
    spec.files.push_back({{}, static_cast<std::int64_t>(size)});
    disk_paths.push_back(root.string());
  } else if (fs::is_directory(status)) {
    spec.multi_file = true;
    auto files = list_files(root.string());
    if (!files) return files.error();
    for (auto& elements : *files) {
      fs::path p = root;
      for (const auto& e : elements) p /= e;
      const auto size = fs::file_size(p, ec);
      if (ec) return fs_error(ec, p.string());
      disk_paths.push_back(p.string());
      spec.files.push_back({std::move(elements), static_cast<std::int64_t>(size)});
    }
    if (spec.files.empty()) return fail(errc::bad_value, opts.path + ": no files to share");
  } else {
    return fail(errc::bad_value, opts.path + ": not a regular file or directory");
  }

  std::int64_t total = 0;
  std::vector<std::int64_t> sizes;
  for (const auto& f : spec.files) {
    total += f.size;
    sizes.push_back(f.size);
  }
  if (total == 0) return fail(errc::bad_value, opts.path + ": nothing to share (total size is 0)");

  spec.piece_length = opts.piece_length ? opts.piece_length : meta::default_piece_length(total);
  if (!valid_piece_length(spec.piece_length)) {
    return fail(errc::bad_value, "piece length (a power of two from 16 KiB to 256 MiB)");
  }

  const meta::file_map map(std::move(sizes), spec.piece_length);
  hash_options hopts;
  hopts.threads = opts.threads;
  hopts.on_progress = opts.on_progress;
  auto report = hash_pieces(map, disk_paths, hopts);
  if (report.first_error) return detailed_error{report.first_error, report.first_error_path};
  spec.piece_hashes.reserve(report.digests.size() * 20);
  for (const auto& d : report.digests) spec.piece_hashes += d->raw();

  spec.trackers = opts.trackers;
  spec.is_private = opts.is_private;
  spec.comment = opts.comment;
  spec.created_by = opts.created_by;
  spec.creation_date = opts.creation_date;
  return meta::build_torrent(spec);
}

}  // namespace sta::storage
