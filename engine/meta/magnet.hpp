// Magnet URIs for v1 torrents (BEP 9): xt=urn:btih:<hex or base32>, dn, tr
// (many), x.pe (many). Pure; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "base/sha1.hpp"

namespace sta::meta {

struct metainfo;

struct magnet {
  sha1_digest info_hash;
  std::string display_name;
  std::vector<std::string> trackers;
  std::vector<std::string> peers;  // x.pe host:port entries
};

detailed_result<magnet> parse_magnet(std::string_view uri);

// magnet:?xt=urn:btih:<40 hex>&dn=<name>&tr=<url>... with every tracker of
// every tier, percent-encoded.
std::string make_magnet(const metainfo& m);
std::string make_magnet(const magnet& m);

}  // namespace sta::meta
