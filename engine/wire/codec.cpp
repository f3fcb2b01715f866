#include "wire/codec.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

#include <boost/endian/conversion.hpp>

#include "bencode/decode.hpp"
#include "bencode/encode.hpp"

namespace sta::wire {
namespace {

constexpr std::string_view kProtocol = "\x13" "BitTorrent protocol";

// Reads from the logical concatenation head + tail without copying it.
class split_input {
 public:
  split_input(std::span<const std::byte> head, std::span<const std::byte> tail) : head_(head), tail_(tail) {}
  std::size_t size() const { return head_.size() + tail_.size(); }
  std::byte at(std::size_t i) const { return i < head_.size() ? head_[i] : tail_[i - head_.size()]; }
  std::uint32_t u32(std::size_t i) const {
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) v = (v << 8) | std::to_integer<std::uint32_t>(at(i + k));
    return v;
  }
  std::uint16_t u16(std::size_t i) const {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(at(i)) << 8) | std::to_integer<unsigned>(at(i + 1)));
  }
  // [from, from + n) as up to two views.
  std::pair<std::span<const std::byte>, std::span<const std::byte>> range(std::size_t from, std::size_t n) const {
    if (from >= head_.size()) return {tail_.subspan(from - head_.size(), n), {}};
    const std::size_t in_head = std::min(n, head_.size() - from);
    return {head_.subspan(from, in_head), tail_.first(n - in_head)};
  }

 private:
  std::span<const std::byte> head_, tail_;
};

void put_u32(std::vector<std::byte>& out, std::uint32_t v) {
  const std::uint32_t be = boost::endian::native_to_big(v);
  const auto* p = reinterpret_cast<const std::byte*>(&be);
  out.insert(out.end(), p, p + 4);
}

void put_header(std::vector<std::byte>& out, std::uint32_t body_length, msg_type type) {
  put_u32(out, body_length);
  out.push_back(static_cast<std::byte>(type));
}

// The body length (id byte included) each fixed-size message must have; 0
// for variable-size or unknown ones.
std::uint32_t fixed_length(std::uint8_t id) {
  switch (static_cast<msg_type>(id)) {
    case msg_type::choke:
    case msg_type::unchoke:
    case msg_type::interested:
    case msg_type::not_interested:
    case msg_type::have_all:
    case msg_type::have_none: return 1;
    case msg_type::have:
    case msg_type::suggest:
    case msg_type::allowed_fast: return 5;
    case msg_type::request:
    case msg_type::cancel:
    case msg_type::reject: return 13;
    case msg_type::port: return 3;
    default: return 0;
  }
}

}  // namespace

std::array<std::byte, kHandshakeSize> encode_handshake(const handshake& h) {
  std::array<std::byte, kHandshakeSize> out{};
  std::memcpy(out.data(), kProtocol.data(), kProtocol.size());
  std::memcpy(out.data() + 20, h.reserved.data(), 8);
  std::memcpy(out.data() + 28, h.info_hash.bytes.data(), 20);
  std::memcpy(out.data() + 48, h.id.data(), 20);
  return out;
}

result<handshake> decode_handshake(std::span<const std::byte> bytes) {
  if (bytes.size() != kHandshakeSize || std::memcmp(bytes.data(), kProtocol.data(), kProtocol.size()) != 0)
    return make_error_code(errc::bad_handshake);
  handshake h;
  std::memcpy(h.reserved.data(), bytes.data() + 20, 8);
  std::memcpy(h.info_hash.bytes.data(), bytes.data() + 28, 20);
  std::memcpy(h.id.data(), bytes.data() + 48, 20);
  return h;
}

result<decoded> decode(std::span<const std::byte> head, std::span<const std::byte> tail, const limits& lim) {
  const split_input in(head, tail);
  decoded d;
  if (in.size() < 4) return d;
  const std::uint32_t length = in.u32(0);
  if (length > lim.max_frame) return make_error_code(errc::message_too_large);
  const std::size_t frame = std::size_t{4} + length;
  if (in.size() < frame) {
    d.frame_size = frame;
    return d;
  }
  message m;
  if (length == 0) {
    m.type = msg_type::keep_alive;
  } else {
    const std::uint8_t id = std::to_integer<std::uint8_t>(in.at(4));
    m.type = static_cast<msg_type>(id);
    if (const std::uint32_t want = fixed_length(id); want != 0 && length != want)
      return make_error_code(errc::bad_message);
    switch (m.type) {
      case msg_type::have:
      case msg_type::suggest:
      case msg_type::allowed_fast: m.piece = in.u32(5); break;
      case msg_type::request:
      case msg_type::cancel:
      case msg_type::reject:
        m.piece = in.u32(5);
        m.offset = in.u32(9);
        m.length = in.u32(13);
        break;
      case msg_type::piece: {
        if (length < 9) return make_error_code(errc::bad_message);
        m.piece = in.u32(5);
        m.offset = in.u32(9);
        m.length = length - 9;
        std::tie(m.payload, m.payload_tail) = in.range(13, length - 9);
        break;
      }
      case msg_type::port: m.port = in.u16(5); break;
      case msg_type::extended: {
        if (length < 2) return make_error_code(errc::bad_message);
        m.ext_id = std::to_integer<std::uint8_t>(in.at(5));
        std::tie(m.payload, m.payload_tail) = in.range(6, length - 2);
        break;
      }
      case msg_type::choke:
      case msg_type::unchoke:
      case msg_type::interested:
      case msg_type::not_interested:
      case msg_type::have_all:
      case msg_type::have_none: break;
      default:  // bitfield and ids we do not know: the body as is
        std::tie(m.payload, m.payload_tail) = in.range(5, length - 1);
        break;
    }
  }
  d.msg = m;
  d.used = frame;
  return d;
}

void encode_keep_alive(std::vector<std::byte>& out) { put_u32(out, 0); }

void encode_simple(std::vector<std::byte>& out, msg_type type) { put_header(out, 1, type); }

void encode_port(std::vector<std::byte>& out, std::uint16_t port) {
  put_header(out, 3, msg_type::port);
  out.push_back(static_cast<std::byte>(port >> 8));
  out.push_back(static_cast<std::byte>(port & 0xff));
}

void encode_piece_index(std::vector<std::byte>& out, msg_type type, std::uint32_t piece) {
  put_header(out, 5, type);
  put_u32(out, piece);
}

void encode_block_ref(std::vector<std::byte>& out, msg_type type, std::uint32_t piece, std::uint32_t offset,
                      std::uint32_t length) {
  put_header(out, 13, type);
  put_u32(out, piece);
  put_u32(out, offset);
  put_u32(out, length);
}

void encode_bitfield(std::vector<std::byte>& out, std::span<const std::byte> bits) {
  put_header(out, static_cast<std::uint32_t>(1 + bits.size()), msg_type::bitfield);
  out.insert(out.end(), bits.begin(), bits.end());
}

std::array<std::byte, 13> encode_piece_header(std::uint32_t piece, std::uint32_t offset, std::uint32_t block_length) {
  std::vector<std::byte> v;
  v.reserve(13);
  put_header(v, 9 + block_length, msg_type::piece);
  put_u32(v, piece);
  put_u32(v, offset);
  std::array<std::byte, 13> out{};
  std::copy(v.begin(), v.end(), out.begin());
  return out;
}

void encode_extended(std::vector<std::byte>& out, std::uint8_t ext_id, std::span<const std::byte> payload) {
  put_header(out, static_cast<std::uint32_t>(2 + payload.size()), msg_type::extended);
  out.push_back(std::byte{ext_id});
  out.insert(out.end(), payload.begin(), payload.end());
}

std::vector<std::byte> encode_ext_handshake(const ext_handshake& h) {
  bencode::value::dict d;
  bencode::value::dict m;
  for (const auto& [name, id] : h.m) m[name] = bencode::value(std::int64_t{id});
  d["m"] = std::move(m);
  if (h.metadata_size) d["metadata_size"] = bencode::value(std::int64_t{*h.metadata_size});
  if (h.p) d["p"] = bencode::value(std::int64_t{*h.p});
  if (h.reqq) d["reqq"] = bencode::value(std::int64_t{*h.reqq});
  if (!h.v.empty()) d["v"] = bencode::value(h.v);
  if (!h.yourip.empty()) d["yourip"] = bencode::value(h.yourip);
  const std::string s = bencode::encode(bencode::value(std::move(d)));
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

result<ext_handshake> decode_ext_handshake(std::span<const std::byte> payload) {
  bencode::limits lim;
  lim.max_depth = 8;
  lim.max_tokens = 4096;
  auto doc = bencode::decode(payload, lim);
  if (!doc) return make_error_code(errc::bad_message);
  const bencode::node root = doc->root();
  if (!root.is_dict()) return make_error_code(errc::bad_message);
  ext_handshake h;
  auto uint_field = [&](std::string_view key, std::int64_t max) -> result<std::optional<std::int64_t>> {
    auto n = root.find(key);
    if (!n) return std::optional<std::int64_t>{};
    if (!n->is_int() || n->int_value() < 0 || n->int_value() > max) return make_error_code(errc::bad_message);
    return std::optional<std::int64_t>{n->int_value()};
  };
  if (auto m = root.find("m")) {
    if (!m->is_dict()) return make_error_code(errc::bad_message);
    for (auto [name, id] : m->items()) {
      // Ids are 0..255; 0 means "disabled". Others are skipped, not fatal.
      if (id.is_int() && id.int_value() >= 0 && id.int_value() <= 255)
        h.m.emplace_back(std::string(name), static_cast<std::uint8_t>(id.int_value()));
    }
  }
  auto reqq = uint_field("reqq", 0xffffffffll);
  if (!reqq) return reqq.error();
  if (*reqq) h.reqq = static_cast<std::uint32_t>(**reqq);
  auto p = uint_field("p", 65535);
  if (!p) return p.error();
  if (*p) h.p = static_cast<std::uint16_t>(**p);
  auto size = uint_field("metadata_size", 0xffffffffll);
  if (!size) return size.error();
  if (*size) h.metadata_size = static_cast<std::uint32_t>(**size);
  if (auto v = root.find("v")) {
    if (!v->is_string()) return make_error_code(errc::bad_message);
    h.v = std::string(v->string_value().substr(0, 256));
  }
  if (auto ip = root.find("yourip")) {
    if (!ip->is_string()) return make_error_code(errc::bad_message);
    if (ip->string_value().size() == 4 || ip->string_value().size() == 16) h.yourip = std::string(ip->string_value());
  }
  return h;
}

}  // namespace sta::wire
