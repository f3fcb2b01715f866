#include "meta/metainfo.hpp"

#include <limits>

#include "bencode/decode.hpp"

namespace sta::meta {

std::string file_entry::joined_path() const {
  std::string out;
  for (const auto& e : path) {
    if (!out.empty()) out.push_back('/');
    out += e;
  }
  return out;
}

std::string metainfo::relative_path(std::size_t file) const {
  if (!multi_file) return name;
  return name + "/" + files[file].joined_path();
}

std::int64_t metainfo::piece_size(std::int64_t piece) const {
  if (piece + 1 < piece_count()) return piece_length;
  return total_size - piece_length * (piece_count() - 1);
}

bool is_safe_path_element(std::string_view s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string_view::npos &&
         s.find('\0') == std::string_view::npos;
}

namespace {

using bencode::node;

detailed_error field_error(errc e, std::string_view field) { return fail(e, std::string(field)); }

detailed_result<node> require(node dict, std::string_view key, bencode::type t, std::string_view field) {
  auto v = dict.find(key);
  if (!v) return field_error(errc::missing_field, field);
  if (v->kind() != t) return field_error(errc::wrong_type, field);
  return *v;
}

// Optional field: absent is fine, the wrong type is an error.
detailed_result<std::optional<node>> optional(node dict, std::string_view key, bencode::type t,
                                              std::string_view field) {
  auto v = dict.find(key);
  if (!v) return std::optional<node>{};
  if (v->kind() != t) return field_error(errc::wrong_type, field);
  return std::optional<node>{*v};
}

detailed_result<std::vector<std::string>> parse_path(node list, const std::string& field,
                                                     const parse_limits& lim) {
  std::vector<std::string> out;
  std::size_t bytes = 0;
  std::size_t i = 0;
  for (auto e : list) {
    const std::string element_field = field + "[" + std::to_string(i++) + "]";
    if (!e.is_string()) return field_error(errc::wrong_type, element_field);
    if (!is_safe_path_element(e.string_value())) return field_error(errc::bad_path, element_field);
    bytes += e.string_value().size() + 1;
    out.emplace_back(e.string_value());
  }
  if (out.empty()) return field_error(errc::bad_path, field);
  if (out.size() > lim.max_path_elements || bytes > lim.max_path_bytes) {
    return field_error(errc::bad_value, field);
  }
  return out;
}

detailed_result<void> parse_trackers(node root, metainfo& m) {
  auto list = optional(root, "announce-list", bencode::type::list, "announce-list");
  if (!list) return list.error();
  if (*list) {
    std::size_t t = 0;
    for (auto tier : **list) {
      const std::string tier_field = "announce-list[" + std::to_string(t++) + "]";
      if (!tier.is_list()) return field_error(errc::wrong_type, tier_field);
      std::vector<std::string> urls;
      for (auto url : tier) {
        if (!url.is_string()) return field_error(errc::wrong_type, tier_field);
        if (!url.string_value().empty()) urls.emplace_back(url.string_value());
      }
      if (!urls.empty()) m.trackers.push_back(std::move(urls));
    }
  }
  auto announce = optional(root, "announce", bencode::type::string, "announce");
  if (!announce) return announce.error();
  // BEP 12: announce-list, when present, takes precedence over announce.
  if (m.trackers.empty() && *announce && !(*announce)->string_value().empty()) {
    m.trackers.push_back({std::string((*announce)->string_value())});
  }
  return {};
}

detailed_result<void> parse_url_list(node root, metainfo& m) {
  auto v = root.find("url-list");
  if (!v) return {};
  if (v->is_string()) {
    if (!v->string_value().empty()) m.url_list.emplace_back(v->string_value());
    return {};
  }
  if (!v->is_list()) return field_error(errc::wrong_type, "url-list");
  for (auto u : *v) {
    if (!u.is_string()) return field_error(errc::wrong_type, "url-list");
    m.url_list.emplace_back(u.string_value());
  }
  return {};
}

detailed_result<void> parse_files(node info, metainfo& m, const parse_limits& lim) {
  auto length = info.find("length");
  auto files = info.find("files");
  if (length && files) return field_error(errc::bad_value, "info: both 'length' and 'files'");
  if (!length && !files) return field_error(errc::missing_field, "info.length");
  constexpr auto max = std::numeric_limits<std::int64_t>::max();

  if (length) {
    if (!length->is_int()) return field_error(errc::wrong_type, "info.length");
    if (length->int_value() < 0) return field_error(errc::bad_value, "info.length");
    m.files.push_back({{}, length->int_value(), 0, false});
    m.total_size = length->int_value();
    return {};
  }

  if (!files->is_list()) return field_error(errc::wrong_type, "info.files");
  m.multi_file = true;
  std::int64_t offset = 0;
  std::size_t i = 0;
  for (auto f : *files) {
    const std::string field = "info.files[" + std::to_string(i++) + "]";
    if (m.files.size() >= lim.max_files) return field_error(errc::too_large, "info.files");
    if (!f.is_dict()) return field_error(errc::wrong_type, field);
    auto len = require(f, "length", bencode::type::integer, field + ".length");
    if (!len) return len.error();
    if (len->int_value() < 0) return field_error(errc::bad_value, field + ".length");
    auto path = require(f, "path", bencode::type::list, field + ".path");
    if (!path) return path.error();
    auto elements = parse_path(*path, field + ".path", lim);
    if (!elements) return elements.error();
    bool pad = false;
    if (auto attr = f.find("attr"); attr && attr->is_string()) {
      pad = attr->string_value().find('p') != std::string_view::npos;
    }
    if (len->int_value() > max - offset) return field_error(errc::size_overflow, field + ".length");
    m.files.push_back({std::move(*elements), len->int_value(), offset, pad});
    offset += len->int_value();
  }
  if (m.files.empty()) return field_error(errc::bad_value, "info.files: empty");
  m.total_size = offset;
  return {};
}

}  // namespace

detailed_result<metainfo> parse(std::string_view torrent_file, const parse_limits& lim) {
  bencode::limits blim;
  blim.max_size = lim.max_file_size;
  auto doc = bencode::decode(torrent_file, blim);
  if (!doc) return detailed_error{doc.error(), "torrent"};
  const node root = doc->root();
  if (!root.is_dict()) return field_error(errc::wrong_type, "torrent (top level)");

  metainfo m;
  auto info = require(root, "info", bencode::type::dict, "info");
  if (!info) return info.error();
  m.info_bytes = std::string(info->raw());
  m.info_hash = sha1(info->raw());

  auto name = require(*info, "name", bencode::type::string, "info.name");
  if (!name) return name.error();
  if (!is_safe_path_element(name->string_value())) return field_error(errc::bad_path, "info.name");
  m.name = std::string(name->string_value());

  auto piece_length = require(*info, "piece length", bencode::type::integer, "info.piece length");
  if (!piece_length) return piece_length.error();
  if (piece_length->int_value() <= 0 || piece_length->int_value() > lim.max_piece_length) {
    return field_error(errc::bad_value, "info.piece length");
  }
  m.piece_length = piece_length->int_value();

  auto pieces = require(*info, "pieces", bencode::type::string, "info.pieces");
  if (!pieces) return pieces.error();
  if (pieces->string_value().size() % 20 != 0) return field_error(errc::bad_pieces, "info.pieces");
  m.piece_hashes = std::string(pieces->string_value());

  if (auto r = parse_files(*info, m, lim); !r) return r.error();

  const std::int64_t expected_pieces =
      m.total_size / m.piece_length + (m.total_size % m.piece_length != 0 ? 1 : 0);
  if (expected_pieces != m.piece_count()) return field_error(errc::piece_count_mismatch, "info.pieces");

  if (auto priv = optional(*info, "private", bencode::type::integer, "info.private"); !priv) {
    return priv.error();
  } else if (*priv) {
    m.is_private = (*priv)->int_value() == 1;
  }

  if (auto r = parse_trackers(root, m); !r) return r.error();
  if (auto r = parse_url_list(root, m); !r) return r.error();

  if (auto v = optional(root, "creation date", bencode::type::integer, "creation date"); !v) {
    return v.error();
  } else if (*v) {
    m.creation_date = (*v)->int_value();
  }
  if (auto v = optional(root, "comment", bencode::type::string, "comment"); !v) {
    return v.error();
  } else if (*v) {
    m.comment = std::string((*v)->string_value());
  }
  if (auto v = optional(root, "created by", bencode::type::string, "created by"); !v) {
    return v.error();
  } else if (*v) {
    m.created_by = std::string((*v)->string_value());
  }
  return m;
}

}  // namespace sta::meta
