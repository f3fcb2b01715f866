// The BEP 9 metadata exchange messages (ut_metadata): the payload of an
// extended message, a bencoded dict ({msg_type, piece[, total_size]}),
// followed in a 'data' message by up to 16 KiB of the info dictionary.
// Pure; any thread. The wire codec frames it (wire/codec.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/result.hpp"

namespace sta::wire::ut_metadata {

inline constexpr std::size_t kPieceSize = 16 * 1024;
// Metadata larger than this is refused (a torrent of ~1.6 M pieces at
// 20 bytes each; libtorrent's default cap is 30 MiB).
inline constexpr std::int64_t kMaxSize = 32ll << 20;

enum class kind : std::uint8_t { request = 0, data = 1, reject = 2 };

struct message {
  kind type = kind::request;
  std::uint32_t piece = 0;
  std::int64_t total_size = 0;       // data only
  std::span<const std::byte> data;   // data only: views the input
};

// One contiguous payload. bad_message: not a dict, a missing or ill-typed
// msg_type or piece, an unknown msg_type, a 'data' without total_size or
// with more than kPieceSize bytes.
result<message> decode(std::span<const std::byte> payload);

std::vector<std::byte> encode_request(std::uint32_t piece);
std::vector<std::byte> encode_reject(std::uint32_t piece);
std::vector<std::byte> encode_data(std::uint32_t piece, std::int64_t total_size, std::span<const std::byte> data);

// Pieces of metadata of `size` bytes: the last one is short, and a size
// that is a multiple of kPieceSize has no empty piece after it.
std::uint32_t piece_count(std::int64_t size);
// Bytes of piece `p` of metadata of `size` bytes.
std::size_t piece_size(std::int64_t size, std::uint32_t p);

}  // namespace sta::wire::ut_metadata
