// libFuzzer target: the peer-wire decoder over arbitrary bytes split at an
// arbitrary point, and the BEP 10 extended handshake parser.
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto input = std::as_bytes(std::span(data + 1, size - 1));
  const std::size_t cut = input.empty() ? 0 : data[0] % (input.size() + 1);
  auto head = input.first(cut);
  auto tail = input.subspan(cut);
  while (true) {
    auto d = sta::wire::decode(head, tail, {.max_frame = 1u << 16});
    if (!d || !d->msg) break;
    std::size_t used = d->used;
    const std::size_t from_head = std::min(used, head.size());
    head = head.subspan(from_head);
    tail = tail.subspan(used - from_head);
  }
  (void)sta::wire::decode_ext_handshake(input);
  (void)sta::wire::decode_handshake(input.first(std::min<std::size_t>(input.size(), sta::wire::kHandshakeSize)));
  return 0;
}
