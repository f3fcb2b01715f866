// The tracker's query parsers and the client's response parser on arbitrary
// bytes; a parsed announce must survive build_announce_url and parse again
// to the same request, and a parsed response must re-encode and re-parse to
// the same peers.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "announce/announce.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sta::announce;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)parse_scrape(input);
  if (auto r = parse_announce(input)) {
    const std::string url = build_announce_url("http://t/announce", *r);
    auto again = parse_announce(std::string_view(url).substr(url.find('?') + 1));
    if (!again || again->info_hash != r->info_hash || again->peer_id != r->peer_id || again->port != r->port ||
        again->left != r->left || again->ev != r->ev || again->numwant != r->numwant) {
      std::abort();
    }
  }
  if (auto resp = parse_response(input); resp && resp->failure_reason.empty()) {
    auto again = parse_response(encode_response(*resp, true, false));
    if (!again || again->peers.size() != resp->peers.size()) std::abort();
    for (std::size_t i = 0; i < resp->peers.size(); ++i) {
      if (again->peers[i].addr != resp->peers[i].addr || again->peers[i].port != resp->peers[i].port) std::abort();
    }
  }
  return 0;
}
