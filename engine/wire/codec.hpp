// The BitTorrent peer-wire codec (BEP 3, the fast extension BEP 6 and the
// extension protocol BEP 10): the handshake, an incremental message decoder
// that is fed bytes and yields messages, encoders for every message, and the
// BEP 10 extended handshake. Pure: no sockets, no clocks, no allocation on
// the decode path (payloads are views into the caller's bytes). Any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/piece_geometry.hpp"
#include "base/result.hpp"
#include "base/sha1.hpp"

namespace sta::wire {

inline constexpr std::size_t kHandshakeSize = 68;
inline constexpr std::uint32_t kBlockSize = sta::kBlockSize;

using peer_id = std::array<std::uint8_t, 20>;

struct handshake {
  std::array<std::uint8_t, 8> reserved{};
  sha1_digest info_hash;
  peer_id id{};

  // reserved[7] & 0x04 (BEP 6) and reserved[5] & 0x10 (BEP 10).
  bool fast() const { return (reserved[7] & 0x04) != 0; }
  bool extended() const { return (reserved[5] & 0x10) != 0; }
  // reserved[7] & 0x01 (BEP 5): it runs a DHT node and sends 'port'.
  bool dht() const { return (reserved[7] & 0x01) != 0; }
  void set_dht() { reserved[7] |= 0x01; }
  void set_fast() { reserved[7] |= 0x04; }
  void set_extended() { reserved[5] |= 0x10; }
};

std::array<std::byte, kHandshakeSize> encode_handshake(const handshake& h);
// Exactly kHandshakeSize bytes; bad_handshake unless they start with
// "\x13BitTorrent protocol".
result<handshake> decode_handshake(std::span<const std::byte> bytes);

enum class msg_type : std::uint8_t {
  choke = 0,
  unchoke = 1,
  interested = 2,
  not_interested = 3,
  have = 4,
  bitfield = 5,
  request = 6,
  piece = 7,
  cancel = 8,
  port = 9,  // BEP 5
  suggest = 13,
  have_all = 14,
  have_none = 15,
  reject = 16,
  allowed_fast = 17,
  extended = 20,
  keep_alive = 255,  // not on the wire: a zero-length frame
};

// A decoded message. Which fields are meaningful depends on `type`:
//   have, suggest, allowed_fast: piece
//   request, cancel, reject:     piece, offset, length
//   piece:                       piece, offset, payload (the block)
//   bitfield:                    payload (the raw bits, MSB first)
//   extended:                    ext_id, payload (bencoded dict or data)
//   port:                        port
// payload views the decoder's input; when the input was given as two spans
// and the payload straddles them, payload_tail holds the part in the second.
struct message {
  msg_type type = msg_type::keep_alive;
  std::uint32_t piece = 0;
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
  std::uint16_t port = 0;
  std::uint8_t ext_id = 0;
  std::span<const std::byte> payload;
  std::span<const std::byte> payload_tail;

  std::size_t payload_size() const { return payload.size() + payload_tail.size(); }
};

// The payload in one piece: a view of it when it is, else a copy in
// `scratch` (extension payloads are parsed as a whole).
inline std::span<const std::byte> contiguous_payload(const message& m, std::vector<std::byte>& scratch) {
  if (m.payload_tail.empty()) return m.payload;
  scratch.assign(m.payload.begin(), m.payload.end());
  scratch.insert(scratch.end(), m.payload_tail.begin(), m.payload_tail.end());
  return scratch;
}

struct limits {
  // Frames longer than this are refused (a 16 KiB block plus headroom, or a
  // bitfield of a very large torrent, whichever is larger).
  std::uint32_t max_frame = 1u << 20;
};

struct decoded {
  // Engaged when a whole frame was available.
  std::optional<message> msg;
  // Bytes of input the frame used (0 when msg is empty).
  std::size_t used = 0;
  // When msg is empty: the size of the whole frame (4-byte length prefix
  // included) if the prefix has arrived, else 0. Lets the caller receive
  // the rest straight into place.
  std::size_t frame_size = 0;
};

// Decodes the first frame in head followed by tail (a wrapped ring buffer
// parses without copying; tail may be empty). Errors: message_too_large
// (length prefix above limits.max_frame), bad_message (a known type with the
// wrong length, e.g. a 'have' that is not 5 bytes, or a 'piece' shorter
// than 9). Unknown message types decode as is, type set to the raw id, with
// the body in payload, so the caller may ignore them (BEP 3 says to).
result<decoded> decode(std::span<const std::byte> head, std::span<const std::byte> tail, const limits& lim = {});

// Encoders append the whole frame (length prefix included) to out.
void encode_keep_alive(std::vector<std::byte>& out);
// choke, unchoke, interested, not_interested, have_all, have_none.
void encode_simple(std::vector<std::byte>& out, msg_type type);
// have, suggest, allowed_fast.
void encode_piece_index(std::vector<std::byte>& out, msg_type type, std::uint32_t piece);
// request, cancel, reject.
void encode_block_ref(std::vector<std::byte>& out, msg_type type, std::uint32_t piece, std::uint32_t offset,
                      std::uint32_t length);
void encode_bitfield(std::vector<std::byte>& out, std::span<const std::byte> bits);
// BEP 5: the UDP port of our DHT node.
void encode_port(std::vector<std::byte>& out, std::uint16_t port);
// Only the 13-byte header of a 'piece' message whose block (block_length
// bytes) the caller sends right after it, so the block is never copied.
std::array<std::byte, 13> encode_piece_header(std::uint32_t piece, std::uint32_t offset,
                                              std::uint32_t block_length);
void encode_extended(std::vector<std::byte>& out, std::uint8_t ext_id, std::span<const std::byte> payload);

// The BEP 10 extended handshake (extended message id 0).
struct ext_handshake {
  std::vector<std::pair<std::string, std::uint8_t>> m;  // extension name -> id
  std::string v;                                        // client name and version
  std::optional<std::uint32_t> reqq;                    // requests the peer queues
  std::optional<std::uint16_t> p;                       // its listen port
  std::string yourip;                                   // 4 or 16 raw bytes, or empty
  std::optional<std::uint32_t> metadata_size;           // BEP 9
};

std::vector<std::byte> encode_ext_handshake(const ext_handshake& h);
// A bencoded dictionary; unknown keys are ignored, ill-typed known keys are
// bad_message.
result<ext_handshake> decode_ext_handshake(std::span<const std::byte> payload);

}  // namespace sta::wire
