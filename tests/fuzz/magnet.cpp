// Parses arbitrary text as a magnet URI; what parses must survive make_magnet
// and parse again to the same info-hash, name and trackers.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "meta/magnet.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto m = sta::meta::parse_magnet(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!m) return 0;
  auto again = sta::meta::parse_magnet(sta::meta::make_magnet(*m));
  if (!again || again->info_hash != m->info_hash || again->display_name != m->display_name ||
      again->trackers != m->trackers) {
    std::abort();
  }
  return 0;
}
