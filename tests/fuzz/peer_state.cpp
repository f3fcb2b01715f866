// libFuzzer target: peer_state driven by an arbitrary sequence of peer
// messages (the input decoded as peer-wire frames), with the clock moving
// and the writer draining at points the input chooses. After every step
// the invariants must hold: the outbox, the upload queue and our requests
// stay within their limits; and once the connection is gone, everything
// it added to the torrent is given back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "peer/peer_state.hpp"
#include "wire/ut_pex.hpp"

namespace {

using namespace sta;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::uint8_t flags = data[0];
  const std::uint32_t pieces = 1 + data[1] % 40;
  const std::uint32_t piece_length = kBlockSize * (1 + data[2] % 4);
  auto input = std::as_bytes(std::span(data + 3, size - 3));

  const piece_geometry geo(std::int64_t{pieces} * piece_length - (flags & 0x40 ? 100 : 0), piece_length);
  picker::piece_picker picker(picker::geometry::of(geo), 1);
  picker::verified_log log(geo.piece_count());
  for (std::uint32_t i = 0; i < geo.piece_count(); ++i) {
    if ((i * 7 + data[1]) % 3 == 0) picker.mark_have(i);
    else if ((i * 5 + data[2]) % 7 == 0) picker.skip(i);
  }
  peer::limits lim;
  lim.max_queued_requests = 32;
  lim.max_pipeline = 24;
  lim.min_pipeline = 4;
  lim.max_outbox = 1024;
  peer::torrent_counters counters;
  peer::peer_slot slot;
  slot.addr = *parse_endpoint("127.0.0.1:1");
  slot.unchoke_wanted.store((flags & 0x20) != 0);
  auto now = peer::clock::time_point(std::chrono::hours(1));
  {
    // With the top flag bit: metadata to serve (BEP 9) and peers to exchange (BEP 11).
    static const std::string metadata(20'000, 'm');
    peer::pex_board board;
    board.publish({{*parse_endpoint("10.0.0.1:6881"), 0}, {*parse_endpoint("[::1]:7000"), 2}});
    const bool extras = (flags & 0x80) != 0;
    peer::peer_state st({&geo, &picker, &log, &lim, &counters, extras ? std::string_view(metadata) : std::string_view(),
                         extras ? &board : nullptr},
                        slot, 1, now);
    wire::handshake h;
    if (flags & 1) h.set_fast();
    if (flags & 2) h.set_extended();
    st.start(h, 6881, now);
    const wire::limits wlim{.max_frame = 1u << 16};
    std::vector<std::byte> out;
    std::uint32_t step = 0;
    while (!input.empty()) {
      auto d = wire::decode(input, {}, wlim);
      if (!d || !d->msg) break;
      const auto r = st.on_message(*d->msg, now);
      if (!r) break;
      if (*r) {
        check((*r)->payload.size() + (*r)->payload_tail.size() == geo.block_size((*r)->piece, (*r)->block));
        if (((*r)->piece.value() + step) % 2 == 0) log.append((*r)->piece.value());
      }
      // The input's own bytes say when time passes and when the writer runs.
      const auto knob = std::to_integer<unsigned>(input[d->used - 1]);
      input = input.subspan(d->used);
      if (knob & 1) now += std::chrono::milliseconds(400 * (knob >> 5));
      if (knob & 2) slot.unchoke_wanted.store(!slot.unchoke_wanted.load());
      if (!st.update(now)) break;
      check(st.frames_queued() <= st.outbox_limit() + 64);
      check(st.uploads_queued() <= lim.max_queued_requests);
      check(st.upload_entries() <= 2 * lim.max_queued_requests + 65);
      check(st.requests_in_flight() <= lim.max_pipeline);
      check(st.take_pex_peers().size() <= 2 * wire::ut_pex::kMaxPerMessage);
      if (knob & 4) {
        out.clear();
        st.take_frames(out);
        while (auto u = st.next_upload()) {
          check(geo.contains(u->piece, u->offset, u->length) && picker.have(u->piece.value()));
          if (knob & 8) st.upload_failed(*u);
        }
        st.sent(1000, now);
      }
      ++step;
    }
  }
  check(counters.unchoked.load() == 0);
  for (std::uint32_t i = 0; i < geo.piece_count(); ++i) check(picker.availability(i) == 0);
  return 0;
}
