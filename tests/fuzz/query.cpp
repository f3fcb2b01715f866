// Walks arbitrary bytes as a query string (the web API's and the tracker's
// parameters): every decoded value is no longer than the text it came from,
// and walking stops at a bad escape. The first 20 bytes also go through
// client_name, as a peer id from the network would.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "base/query.hpp"
#include "peer/client_name.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t decoded = 0;
  sta::for_each_param(text, [&](std::string_view key, const std::string& value) {
    if (key.size() + value.size() > text.size()) std::abort();
    decoded += key.size() + value.size();
    return true;
  });
  if (decoded > text.size()) std::abort();
  if (size >= 20) {
    sta::wire::peer_id id{};
    std::memcpy(id.data(), data, 20);
    if (sta::peer::client_name(id).empty()) std::abort();
  }
  return 0;
}
