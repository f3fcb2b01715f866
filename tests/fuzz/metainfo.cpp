// Parses arbitrary bytes as a .torrent; a parsed torrent must be internally
// consistent (piece count, file offsets, safe paths).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "meta/file_map.hpp"
#include "meta/metainfo.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto m = sta::meta::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!m) return 0;
  const sta::meta::file_map map(*m);
  if (map.piece_count() != m->piece_count() || map.total_size() != m->total_size) std::abort();
  for (const auto& f : m->files) {
    for (const auto& e : f.path) {
      if (!sta::meta::is_safe_path_element(e)) std::abort();
    }
  }
  // Walk at most a few pieces so huge declared sizes stay cheap.
  for (std::int64_t p = 0; p < std::min<std::int64_t>(m->piece_count(), 4); ++p) {
    std::int64_t bytes = 0;
    for (const auto& s : map.piece_slices(p)) bytes += s.length;
    if (bytes != m->piece_size(p)) std::abort();
  }
  return 0;
}
