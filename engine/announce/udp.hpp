// The UDP tracker protocol (BEP 15), both sides, as pure functions over
// datagrams: connect, announce (IPv4 and IPv6 peers, BEP 15's IPv6 form)
// and scrape requests and their responses, and error replies. BEP 41
// options after an announce are skipped safely. Any thread.
//
// Every datagram is whole (UDP keeps boundaries), so there is no need-more
// state: a datagram is either a message or an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "announce/announce.hpp"
#include "base/result.hpp"
#include "base/sha1.hpp"

namespace sta::announce::udp {

inline constexpr std::uint64_t kProtocolId = 0x41727101980ull;
// A scrape of more info-hashes than fit one reply in a 1500-byte packet.
inline constexpr std::size_t kMaxScrapeHashes = 74;
inline constexpr std::size_t kAnnounceSize = 98;

enum class action : std::uint32_t { connect = 0, announce = 1, scrape = 2, error = 3 };

// Client to tracker.
struct connect_request {
  std::uint32_t transaction = 0;
};
struct announce_request {
  std::uint64_t connection = 0;
  std::uint32_t transaction = 0;
  sha1_digest info_hash;
  std::array<std::uint8_t, 20> peer_id{};
  std::int64_t downloaded = 0;
  std::int64_t left = 0;
  std::int64_t uploaded = 0;
  event ev = event::none;
  std::uint32_t ip = 0;  // IPv4, network order value; 0: the sender's
  std::uint32_t key = 0;
  std::int32_t numwant = -1;  // -1: the tracker's default
  std::uint16_t port = 0;
};
struct scrape_request {
  std::uint64_t connection = 0;
  std::uint32_t transaction = 0;
  std::vector<sha1_digest> info_hashes;  // 1 .. kMaxScrapeHashes
};
using request = std::variant<connect_request, announce_request, scrape_request>;

// Tracker to client.
struct connect_response {
  std::uint32_t transaction = 0;
  std::uint64_t connection = 0;
};
struct announce_response {
  std::uint32_t transaction = 0;
  std::int32_t interval = 0;
  std::int32_t leechers = 0;
  std::int32_t seeders = 0;
  std::vector<peer> peers;  // all IPv4 or all IPv6
};
struct scrape_response {
  std::uint32_t transaction = 0;
  std::vector<scrape_entry> files;  // info_hash left empty: in request order
};
struct error_response {
  std::uint32_t transaction = 0;
  std::string message;
};
using response = std::variant<connect_response, announce_response, scrape_response, error_response>;

std::vector<std::byte> encode(const request& r);
std::vector<std::byte> encode(const response& r);

// The tracker's side. bad_message: too short, an unknown action, a connect
// without the protocol id, a scrape of no or too many hashes, a bad event.
result<request> decode_request(std::span<const std::byte> datagram);
// The client's side: `v6` says which peer form the announce reply uses
// (the address family the request went over); at most max_peers are kept,
// and an error message is cut to kMaxReason. bad_message as above, or a
// peer list that is not whole entries.
result<response> decode_response(std::span<const std::byte> datagram, bool v6, std::size_t max_peers = 2000);

}  // namespace sta::announce::udp
