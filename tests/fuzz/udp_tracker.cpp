// libFuzzer target: the BEP 15 request and response decoders on arbitrary
// datagrams; a decoded request or response must re-encode and decode to
// the same kind of message.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "announce/udp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace udp = sta::announce::udp;
  const auto input = std::as_bytes(std::span(data, size));
  if (auto r = udp::decode_request(input)) {
    auto again = udp::decode_request(udp::encode(*r));
    if (!again || again->index() != r->index()) std::abort();
  }
  for (bool v6 : {false, true}) {
    if (auto r = udp::decode_response(input, v6)) {
      auto again = udp::decode_response(udp::encode(*r), v6);
      if (!again || again->index() != r->index()) std::abort();
    }
  }
  return 0;
}
