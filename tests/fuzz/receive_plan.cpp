// libFuzzer target: what a peer sends into a receive planned for 'piece'
// frames (peer::receive_plan). The input picks the plan (how many frames
// of which sizes, the rest of an arriving block, the start of a header
// already received) and the bytes that came. Checked on every input: the
// bytes the plan kept (the rest, frames that came whole or started) and
// the bytes it spilled add up to what came, the spill is exactly the tail
// of the stream, and every frame that came whole holds its bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "peer/receive_plan.hpp"
#include "wire/codec.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using sta::peer::receive_plan;
  if (size < 4) return 0;
  const std::size_t frames = data[0] % receive_plan::kMaxFrames + 1;
  const std::size_t payload = data[1] % 64 + 1;
  const std::size_t rest_len = data[2] % 2 == 0 ? 0 : data[2] % 40;
  const std::size_t had = rest_len == 0 ? data[3] % receive_plan::kHeaderSize : 0;
  auto input = std::as_bytes(std::span(data + 4, size - 4));
  // The header start already received, then what the receive brings.
  const auto came = input.first(std::min(had, input.size()));
  const auto stream = input.subspan(came.size());

  std::vector<std::byte> piece(frames * payload + rest_len);
  receive_plan plan;
  plan.set_rest(std::span(piece).subspan(frames * payload, rest_len));
  for (std::uint32_t i = 0; i < frames; ++i)
    plan.add({{7, i}, sta::wire::encode_piece_header(7, i * static_cast<std::uint32_t>(payload), static_cast<std::uint32_t>(payload)),
              std::span(piece).subspan(i * payload, payload)},
             i == 0 ? came : std::span<const std::byte>{});
  std::size_t n = 0;
  for (const iovec& v : plan.iovecs()) {
    const std::size_t k = std::min(v.iov_len, stream.size() - n);
    if (k > 0) std::memcpy(v.iov_base, stream.data() + n, k);
    n += k;
  }
  sta::peer::recv_buffer spill(64);
  const auto o = plan.resolve(n, spill);

  // The whole stream as the peer sent it: the header start, then the receive.
  std::vector<std::byte> sent(came.begin(), came.end());
  sent.insert(sent.end(), stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(n));
  check(o.rest_got <= rest_len && o.whole <= frames && (!o.started || o.whole < frames));
  check(o.rest_got == rest_len || (o.whole == 0 && !o.started && spill.size() == 0));
  const std::size_t frame_size = receive_plan::kHeaderSize + payload;
  const std::size_t kept = o.rest_got + o.whole * frame_size + (o.started ? receive_plan::kHeaderSize + o.partial : 0);
  check(o.partial < payload);
  check(kept + spill.size() == sent.size());
  check(spill.size() == 0 || std::memcmp(spill.data().data(), sent.data() + kept, spill.size()) == 0);
  for (std::size_t i = 0; i < o.whole; ++i) {
    const std::byte* f = sent.data() + o.rest_got + i * frame_size;
    const auto expected = sta::wire::encode_piece_header(7, static_cast<std::uint32_t>(i * payload), static_cast<std::uint32_t>(payload));
    check(std::memcmp(f, expected.data(), expected.size()) == 0);
    check(std::memcmp(f + receive_plan::kHeaderSize, piece.data() + i * payload, payload) == 0);
  }
  return 0;
}
