#include "storage/verify.hpp"

#include <filesystem>

#include "base/sys_error.hpp"
#include "meta/file_map.hpp"

namespace sta::storage {
namespace fs = std::filesystem;

detailed_result<verify_report> verify_data(const meta::metainfo& m, const std::string& save_dir,
                                           const hash_options& opts, bool hash_larger_files) {
  std::error_code ec;
  if (!fs::is_directory(save_dir, ec)) {
    return detailed_error{sys_error(ec ? ec.value() : ENOTDIR),
                          save_dir};
  }

  verify_report report;
  report.piece_count = m.piece_count();
  std::vector<std::string> paths(m.files.size());
  hash_options hopts = opts;
  hopts.zero_files.assign(m.files.size(), false);
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    if (m.files[i].pad) {
      hopts.zero_files[i] = true;
      continue;
    }
    const fs::path p = fs::path(save_dir) / m.relative_path(i);
    const auto status = fs::status(p, ec);
    if (ec || !fs::is_regular_file(status)) {
      if (m.files[i].size > 0 || !fs::exists(status)) report.missing_files.push_back(i);
      continue;
    }
    const auto size = static_cast<std::int64_t>(fs::file_size(p, ec));
    if (ec) {
      report.missing_files.push_back(i);
      continue;
    }
    if (size != m.files[i].size) {
      report.wrong_size_files.push_back({i, size});
      if (!hash_larger_files || size < m.files[i].size) continue;
    }
    paths[i] = p.string();
  }

  const meta::file_map map(m);
  const auto hashed = hash_pieces(map, paths, hopts);
  report.verified.resize(static_cast<std::size_t>(m.piece_count()));
  for (std::int64_t p = 0; p < m.piece_count(); ++p) {
    const auto& d = hashed.digests[static_cast<std::size_t>(p)];
    const bool ok = d && *d == m.piece_hash(p);
    report.verified[static_cast<std::size_t>(p)] = ok;
    if (!ok) ++report.bad_pieces;
  }
  return report;
}

}  // namespace sta::storage
