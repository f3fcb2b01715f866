// KRPC, the Mainline DHT's message format (BEP 5), with IPv6 nodes (BEP 32),
// the requester's address echoed in 'ip' (BEP 42) and read-only queriers
// (BEP 43): one bencoded dict per UDP datagram, a query, a response or an
// error. Pure; any thread.
//
// A datagram is whole, so decode() has no need-more state. It checks what
// the node relies on (a 20-byte id in every query and response, a 20-byte
// target or info-hash where the method needs one, whole compact entries)
// and caps lists, so a hostile packet costs a bounded amount of work.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/endpoint.hpp"
#include "base/result.hpp"
#include "base/sha1.hpp"

namespace sta::dht {

using node_id = sha1_digest;

// A node as KRPC passes it around: 26 bytes (IPv4) or 38 (IPv6) compact.
struct node_info {
  node_id id;
  endpoint addr;
  friend bool operator==(const node_info&, const node_info&) = default;
};

}  // namespace sta::dht

namespace sta::dht::krpc {

// Bytes of the largest datagram decode() accepts.
inline constexpr std::size_t kMaxPacket = 4096;
// A transaction id longer than this is refused (libtorrent sends 2 bytes).
inline constexpr std::size_t kMaxTransaction = 16;
inline constexpr std::size_t kMaxToken = 64;
// Entries kept of a response's 'nodes' (and 'nodes6') and 'values'; the rest
// are ignored, not an error.
inline constexpr std::size_t kMaxNodes = 16;
inline constexpr std::size_t kMaxValues = 200;

enum class kind : std::uint8_t { query, response, error };
enum class method : std::uint8_t { ping, find_node, get_peers, announce_peer, unknown };

// BEP 5 error codes.
inline constexpr int kGenericError = 201;
inline constexpr int kServerError = 202;
inline constexpr int kProtocolError = 203;
inline constexpr int kMethodUnknown = 204;

// 'want' of a query (BEP 32): which families of nodes the querier wants.
inline constexpr std::uint8_t kWant4 = 1;
inline constexpr std::uint8_t kWant6 = 2;

// One message; which fields mean something depends on `type` and `name`.
struct message {
  kind type = kind::query;
  std::string transaction;          // 't'
  std::optional<endpoint> ip;       // 'ip': the requester as the responder saw it
  bool read_only = false;           // 'ro': 1 in a query
  // Queries ('a') and responses ('r').
  node_id id;
  // Queries.
  method name = method::ping;
  node_id target;                   // find_node 'target'; get_peers/announce_peer 'info_hash'
  std::uint16_t port = 0;           // announce_peer
  bool implied_port = false;        // announce_peer: use the packet's source port
  std::uint8_t want = 0;            // kWant4 | kWant6; 0: not given
  // announce_peer queries and get_peers responses.
  std::string token;
  // Responses.
  std::vector<node_info> nodes;     // 'nodes' and 'nodes6' together
  std::vector<endpoint> values;     // get_peers: peers of the torrent
  // Errors ('e').
  int error_code = 0;
  std::string error_message;
};

// bad_message: not a dict, no or an overlong 't', an unknown 'y', a query or
// response without a 20-byte 'id', a query without the target its method
// needs, an announce_peer without port or token, nodes that are not whole
// entries, an error that is not [code, message]. Unknown methods decode with
// name == method::unknown so the node can answer 204.
result<message> decode(std::span<const std::byte> packet);
std::string encode(const message& m);

// The method's name on the wire ("ping", ...); empty for unknown.
std::string_view method_name(method m);

}  // namespace sta::dht::krpc
