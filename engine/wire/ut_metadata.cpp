#include "wire/ut_metadata.hpp"

#include <string>

#include "base/error.hpp"
#include "bencode/decode.hpp"
#include "bencode/encode.hpp"

namespace sta::wire::ut_metadata {
namespace {

std::vector<std::byte> header(kind type, std::uint32_t piece, std::int64_t total_size) {
  std::string out;
  bencode::writer w(out);
  w.begin_dict().string("msg_type").integer(static_cast<std::int64_t>(type)).string("piece").integer(piece);
  if (type == kind::data) w.string("total_size").integer(total_size);
  w.end();
  const auto* p = reinterpret_cast<const std::byte*>(out.data());
  return {p, p + out.size()};
}

}  // namespace

result<message> decode(std::span<const std::byte> payload) {
  const std::string_view in(reinterpret_cast<const char*>(payload.data()), payload.size());
  bencode::limits lim;
  lim.max_depth = 4;
  lim.max_tokens = 64;
  auto d = bencode::decode_prefix(in, lim);
  if (!d) return make_error_code(errc::bad_message);
  const auto root = d->doc.root();
  if (!root.is_dict()) return make_error_code(errc::bad_message);
  const auto type = root.find("msg_type");
  const auto piece = root.find("piece");
  if (!type || !type->is_int() || !piece || !piece->is_int() || piece->int_value() < 0 ||
      piece->int_value() >= static_cast<std::int64_t>(kMaxSize / kPieceSize))
    return make_error_code(errc::bad_message);
  message m;
  m.piece = static_cast<std::uint32_t>(piece->int_value());
  switch (type->int_value()) {
    case 0: m.type = kind::request; break;
    case 1: m.type = kind::data; break;
    case 2: m.type = kind::reject; break;
    default: return make_error_code(errc::bad_message);
  }
  if (m.type != kind::data) return m;
  const auto total = root.find("total_size");
  if (!total || !total->is_int() || total->int_value() <= 0) return make_error_code(errc::bad_message);
  m.total_size = total->int_value();
  m.data = payload.subspan(d->used);
  if (m.data.size() > kPieceSize) return make_error_code(errc::bad_message);
  return m;
}

std::vector<std::byte> encode_request(std::uint32_t piece) { return header(kind::request, piece, 0); }

std::vector<std::byte> encode_reject(std::uint32_t piece) { return header(kind::reject, piece, 0); }

std::vector<std::byte> encode_data(std::uint32_t piece, std::int64_t total_size, std::span<const std::byte> data) {
  auto out = header(kind::data, piece, total_size);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::uint32_t piece_count(std::int64_t size) {
  if (size <= 0) return 0;
  return static_cast<std::uint32_t>((size + static_cast<std::int64_t>(kPieceSize) - 1) / static_cast<std::int64_t>(kPieceSize));
}

std::size_t piece_size(std::int64_t size, std::uint32_t p) {
  const std::int64_t start = static_cast<std::int64_t>(p) * static_cast<std::int64_t>(kPieceSize);
  if (start >= size) return 0;
  return static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(kPieceSize), size - start));
}

}  // namespace sta::wire::ut_metadata
