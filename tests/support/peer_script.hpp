// A scripted peer_state for tests and the fuzzer: a torrent in memory (its
// geometry, picker, verified log, counters and the connection's slot), a
// made-up clock, messages written as shorthand and the frames peer_state
// queues read back as shorthand, so a test reads like the exchange it checks:
//
//   peer_script s("....");                 // 4 pieces, none ours
//   s.start();                             // fast + extended handshake
//   s.in("bitfield 1111; unchoke");
//   EXPECT_EQ(s.out(), "interested; request 0:0; ...");
//
// Messages in: choke unchoke interested not_interested have_all have_none
// keep_alive, "have P", "bitfield 0101", "request P OFF LEN", "cancel P OFF
// LEN", "reject P OFF LEN", "piece P OFF" (a block of the right size),
// "piece P OFF LEN", "ext_handshake [reqq=N] [v=NAME] [lt_donthave=ID]", "ext ID
// HEX", "donthave P" (to our lt_donthave id). Frames out: the same names;
// "request P:B" (piece:block), "have P", "bitfield 0101", "reject
// P:OFF+LEN", "cancel P:B", "ext_handshake", "ext ID HEX".
#pragma once

#include <charconv>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "peer/peer_state.hpp"

namespace sta::test {

inline std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    const auto at = s.find(sep);
    std::string_view part = s.substr(0, at);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.push_back(part);
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return out;
}

inline std::uint32_t number(std::string_view s) {
  std::uint32_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// The frame for one shorthand message.
inline std::vector<std::byte> frame_of(std::string_view text, std::uint32_t piece_length, std::uint8_t donthave_id = 1) {
  using wire::msg_type;
  const auto w = split(text, ' ');
  std::vector<std::byte> f;
  const std::string_view name = w.at(0);
  if (name == "keep_alive") wire::encode_keep_alive(f);
  else if (name == "choke") wire::encode_simple(f, msg_type::choke);
  else if (name == "unchoke") wire::encode_simple(f, msg_type::unchoke);
  else if (name == "interested") wire::encode_simple(f, msg_type::interested);
  else if (name == "not_interested") wire::encode_simple(f, msg_type::not_interested);
  else if (name == "have_all") wire::encode_simple(f, msg_type::have_all);
  else if (name == "have_none") wire::encode_simple(f, msg_type::have_none);
  else if (name == "have") wire::encode_piece_index(f, msg_type::have, number(w.at(1)));
  else if (name == "bitfield") {
    const auto bits = bitfield::from_string(w.at(1));
    wire::encode_bitfield(f, bits.wire());
  } else if (name == "request" || name == "cancel" || name == "reject") {
    const auto type = name == "request" ? msg_type::request : name == "cancel" ? msg_type::cancel : msg_type::reject;
    wire::encode_block_ref(f, type, number(w.at(1)), number(w.at(2)), number(w.at(3)));
  } else if (name == "piece") {
    const std::uint32_t len = w.size() > 3 ? number(w.at(3)) : std::min<std::uint32_t>(kBlockSize, piece_length - number(w.at(2)));
    const auto h = wire::encode_piece_header(number(w.at(1)), number(w.at(2)), len);
    f.assign(h.begin(), h.end());
    f.resize(f.size() + len, std::byte{0x5a});
  } else if (name == "ext_handshake") {
    wire::ext_handshake h;
    for (std::size_t i = 1; i < w.size(); ++i) {
      const auto kv = split(w[i], '=');
      if (kv.at(0) == "reqq") h.reqq = number(kv.at(1));
      else if (kv.at(0) == "v") h.v = std::string(kv.at(1));
      else h.m.emplace_back(std::string(kv.at(0)), static_cast<std::uint8_t>(number(kv.at(1))));
    }
    wire::encode_extended(f, 0, wire::encode_ext_handshake(h));
  } else if (name == "ext") {
    std::vector<std::byte> payload;
    const std::string_view hex = w.size() > 2 ? w[2] : std::string_view{};
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
      unsigned v = 0;
      std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
      payload.push_back(std::byte(v));
    }
    wire::encode_extended(f, static_cast<std::uint8_t>(number(w.at(1))), payload);
  } else if (name == "donthave") {
    const std::uint32_t p = number(w.at(1));
    const std::byte payload[4] = {std::byte(p >> 24), std::byte(p >> 16), std::byte(p >> 8), std::byte(p)};
    wire::encode_extended(f, donthave_id, payload);
  } else {
    throw std::invalid_argument("unknown message " + std::string(text));
  }
  return f;
}

// The frames in `bytes` as shorthand, "; " between them.
inline std::string describe(std::span<const std::byte> bytes) {
  using wire::msg_type;
  std::ostringstream out;
  const char* sep = "";
  while (!bytes.empty()) {
    auto d = wire::decode(bytes, {}, {.max_frame = 1u << 24});
    if (!d || !d->msg) {
      out << sep << "<garbage>";
      break;
    }
    const wire::message& m = *d->msg;
    out << sep;
    sep = "; ";
    switch (m.type) {
      case msg_type::keep_alive: out << "keep_alive"; break;
      case msg_type::choke: out << "choke"; break;
      case msg_type::unchoke: out << "unchoke"; break;
      case msg_type::interested: out << "interested"; break;
      case msg_type::not_interested: out << "not_interested"; break;
      case msg_type::have_all: out << "have_all"; break;
      case msg_type::have_none: out << "have_none"; break;
      case msg_type::have: out << "have " << m.piece; break;
      case msg_type::bitfield: {
        out << "bitfield ";
        for (std::byte b : m.payload)
          for (int i = 7; i >= 0; --i) out << ((std::to_integer<unsigned>(b) >> i) & 1);
        break;
      }
      case msg_type::request: out << "request " << m.piece << ":" << m.offset / kBlockSize; break;
      case msg_type::cancel: out << "cancel " << m.piece << ":" << m.offset / kBlockSize; break;
      case msg_type::reject: out << "reject " << m.piece << ":" << m.offset << "+" << m.length; break;
      case msg_type::extended: {
        if (m.ext_id == 0) {
          out << "ext_handshake";
        } else {
          out << "ext " << unsigned{m.ext_id} << " ";
          static constexpr char hex[] = "0123456789abcdef";
          for (std::byte b : m.payload) out << hex[std::to_integer<unsigned>(b) >> 4] << hex[std::to_integer<unsigned>(b) & 15];
        }
        break;
      }
      default: out << "msg" << unsigned(m.type); break;
    }
    bytes = bytes.subspan(d->used);
  }
  return out.str();
}

class peer_script {
 public:
  // One character per piece: '*' ours already, '-' not wanted (file
  // selection), anything else wanted and missing.
  explicit peer_script(std::string_view pieces, std::uint32_t piece_length = 2 * kBlockSize, peer::limits lim = {})
      : geo(std::int64_t{piece_length} * static_cast<std::int64_t>(pieces.size()), piece_length),
        picker(picker::geometry::of(geo), 7),
        log(geo.piece_count()),
        lim(lim) {
    for (std::uint32_t i = 0; i < pieces.size(); ++i) {
      if (pieces[i] == '*') picker.mark_have(i);
      else if (pieces[i] == '-') picker.skip(i);
    }
    slot.addr = *parse_endpoint("127.0.0.9:6881");
    state = std::make_unique<peer::peer_state>(view(), slot, 1, now);
  }

  peer::torrent_view view() { return {&geo, &picker, &log, &lim, &counters, metadata, pex, dht_port}; }

  // The connection again, for a torrent that hands out `info` by
  // ut_metadata and tells peers of `board` by ut_pex.
  void reopen(std::string_view info, const peer::pex_board* board) {
    metadata = info;
    pex = board;
    state = std::make_unique<peer::peer_state>(view(), slot, 1, now);
  }

  void start(bool fast = true, bool extended = true, bool dht = false) {
    wire::handshake h;
    if (fast) h.set_fast();
    if (extended) h.set_extended();
    if (dht) h.set_dht();
    state->start(h, 6881, now);
  }

  // Feeds each message (';' between them), then update(); the first error
  // ends it and is returned. Accepted blocks are kept in `blocks`.
  result<void> in(std::string_view script) {
    for (auto text : split(script, ';')) {
      const auto f = frame_of(text, geo.piece_length(), donthave_id);
      auto d = wire::decode(f, {}, {.max_frame = 1u << 24});
      if (!d || !d->msg) throw std::logic_error("bad test frame");
      auto r = state->on_message(*d->msg, now);
      if (!r) return r.error();
      if (*r) blocks.push_back({(*r)->piece.value(), (*r)->block.value()});
    }
    return state->update(now);
  }

  // Advances the clock and runs update().
  result<void> wait(std::chrono::milliseconds d) {
    now += d;
    return state->update(now);
  }

  // The frames queued since the last call, as shorthand.
  std::string out() {
    std::vector<std::byte> bytes;
    state->take_frames(bytes);
    return describe(bytes);
  }

  piece_geometry geo;
  picker::piece_picker picker;
  picker::verified_log log;
  peer::limits lim;
  peer::torrent_counters counters;
  peer::peer_slot slot;
  peer::time_point now{std::chrono::hours(1)};
  std::unique_ptr<peer::peer_state> state;
  std::vector<picker::block_ref> blocks;
  std::uint8_t donthave_id = 1;  // our lt_donthave id
  std::string_view metadata;
  const peer::pex_board* pex = nullptr;
  std::uint16_t dht_port = 0;  // our DHT's, for reopen()
};

}  // namespace sta::test
