#include "meta/build.hpp"

#include "bencode/encode.hpp"

namespace sta::meta {

namespace {

// 'announce' (the first URL) and, with more than one, 'announce-list'.
void add_trackers(bencode::value::dict& root, const std::vector<std::vector<std::string>>& trackers) {
  using bencode::value;
  std::size_t tracker_count = 0;
  for (const auto& tier : trackers) tracker_count += tier.size();
  if (tracker_count > 0) {
    for (const auto& tier : trackers) {
      if (!tier.empty()) {
        root.emplace("announce", tier.front());
        break;
      }
    }
  }
  if (tracker_count > 1) {
    value::list tiers;
    for (const auto& tier : trackers) {
      if (!tier.empty()) tiers.push_back(value::list(tier.begin(), tier.end()));
    }
    root.emplace("announce-list", std::move(tiers));
  }
}

}  // namespace

std::string build_torrent(const torrent_spec& spec) {
  using bencode::value;
  value::dict info;
  info.emplace("name", spec.name);
  info.emplace("piece length", spec.piece_length);
  info.emplace("pieces", spec.piece_hashes);
  if (spec.is_private) info.emplace("private", 1);
  if (spec.multi_file) {
    value::list files;
    for (const auto& f : spec.files) {
      value::list path(f.path.begin(), f.path.end());
      files.push_back(value::dict{{"length", f.size}, {"path", std::move(path)}});
    }
    info.emplace("files", std::move(files));
  } else {
    info.emplace("length", spec.files.empty() ? 0 : spec.files.front().size);
  }

  value::dict root;
  root.emplace("info", std::move(info));
  add_trackers(root, spec.trackers);
  if (!spec.url_list.empty()) {
    root.emplace("url-list", value::list(spec.url_list.begin(), spec.url_list.end()));
  }
  if (!spec.comment.empty()) root.emplace("comment", spec.comment);
  if (!spec.created_by.empty()) root.emplace("created by", spec.created_by);
  if (spec.creation_date) root.emplace("creation date", *spec.creation_date);
  return bencode::encode(value(std::move(root)));
}

std::int64_t default_piece_length(std::int64_t total_size) {
  constexpr std::int64_t kMin = 1 << 20;
  constexpr std::int64_t kMax = 16 << 20;
  constexpr std::int64_t kTargetPieces = 10'500;  // 1 MiB pieces up to ~11 GiB
  std::int64_t len = kMin;
  while (len < kMax && total_size / len > kTargetPieces) len *= 2;
  return len;
}

std::string torrent_from_info(std::string_view info_bytes, const std::vector<std::vector<std::string>>& trackers) {
  bencode::value::dict head;
  add_trackers(head, trackers);
  // The keys before "info" in sorted order, then the info bytes as they are.
  std::string out = bencode::encode(bencode::value(std::move(head)));
  out.pop_back();
  out += "4:info";
  out += info_bytes;
  out += 'e';
  return out;
}

}  // namespace sta::meta
