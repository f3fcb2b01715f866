// libFuzzer target: the BEP 9 message decoder on arbitrary bytes (a decoded
// message must re-encode and decode to the same message), and a metadata
// assembly fed the decoded messages of two sources in the order the input
// gives, which must never ask for a piece outside the size in use.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "peer/metadata_assembly.hpp"
#include "wire/ut_metadata.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace um = sta::wire::ut_metadata;
  const auto input = std::as_bytes(std::span(data, size));
  if (auto m = um::decode(input)) {
    const auto again = um::decode(m->type == um::kind::data   ? um::encode_data(m->piece, m->total_size, m->data)
                                  : m->type == um::kind::reject ? um::encode_reject(m->piece)
                                                                : um::encode_request(m->piece));
    if (!again || again->type != m->type || again->piece != m->piece || again->total_size != m->total_size ||
        again->data.size() != m->data.size())
      std::abort();
  }
  // Frames: [source, length, bytes...]; source 0xff offers the next byte * 1000 as a size.
  sta::peer::metadata_assembly a(sta::sha1(std::string_view("fuzz")));
  auto now = sta::peer::metadata_assembly::clock::now();
  std::size_t pos = 0;
  while (pos + 2 <= size) {
    const std::uint32_t source = data[pos] % 4;
    const std::size_t n = std::min<std::size_t>(data[pos + 1], size - pos - 2);
    const auto frame = input.subspan(pos + 2, n);
    pos += 2 + n;
    if (n == 1) {
      a.offer(source, static_cast<std::int64_t>(std::to_integer<unsigned>(frame[0])) * 1000);
    } else if (auto m = um::decode(frame)) {
      if (m->type == um::kind::data) a.on_data(source, *m);
      if (m->type == um::kind::reject) a.on_reject(source, m->piece, now);
      if (m->type == um::kind::request) a.gone(source);
    }
    now += std::chrono::seconds(7);
    a.expire(now);
    if (auto p = a.next_request(source, now); p && *p >= um::piece_count(a.size())) std::abort();
    if (a.complete()) (void)a.finish();
  }
  return 0;
}
