// Test torrents made from a file list, with placeholder piece hashes.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "base/sha1.hpp"
#include "meta/build.hpp"
#include "meta/metainfo.hpp"

namespace sta::test {

inline meta::metainfo multi_file_torrent(const std::string& name, std::vector<meta::torrent_spec::file> files,
                                         std::int64_t piece_length = 16384) {
  meta::torrent_spec spec;
  spec.name = name;
  spec.multi_file = true;
  spec.files = std::move(files);
  spec.piece_length = piece_length;
  std::int64_t total = 0;
  for (const auto& f : spec.files) total += f.size;
  spec.piece_hashes = std::string(static_cast<std::size_t>((total + piece_length - 1) / piece_length) * 20, 'x');
  auto m = meta::parse(meta::build_torrent(spec));
  if (!m) throw std::logic_error(m.error().message());
  return std::move(*m);
}

}  // namespace sta::test

namespace sta::test {

// A single-file torrent of `data` with its real piece hashes, made in
// memory (for sessions on the memory backend).
inline meta::metainfo torrent_of(const std::string& name, const std::string& data, std::int64_t piece_length) {
  meta::torrent_spec spec;
  spec.name = name;
  spec.piece_length = piece_length;
  spec.files = {{{}, static_cast<std::int64_t>(data.size())}};
  for (std::size_t at = 0; at < data.size(); at += static_cast<std::size_t>(piece_length))
    spec.piece_hashes += sha1(std::string_view(data).substr(at, static_cast<std::size_t>(piece_length))).raw();
  auto m = meta::parse(meta::build_torrent(spec));
  if (!m) throw std::logic_error(m.error().message());
  return std::move(*m);
}

}  // namespace sta::test
