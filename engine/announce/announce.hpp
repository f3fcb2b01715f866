// The HTTP tracker protocol (BEP 3 announce, BEP 23 compact peers, BEP 7
// peers6, BEP 48 scrape), both sides: the tracker parses queries and encodes
// responses; the engine's tracker client builds queries and parses
// responses. Pure functions over strings; any thread.
//
// Query values are percent-decoded byte for byte; '+' is taken literally
// (clients percent-encode binary info-hashes and peer ids, and a '+' byte
// must not turn into a space).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "base/sha1.hpp"

namespace sta::announce {

enum class event { none, started, completed, stopped };

struct request {
  sha1_digest info_hash;
  std::string peer_id;  // 20 bytes
  std::uint16_t port = 0;
  std::int64_t uploaded = 0;
  std::int64_t downloaded = 0;
  std::int64_t left = 0;
  event ev = event::none;
  bool compact = true;
  bool no_peer_id = false;
  bool peer_ids_asked = false;  // no_peer_id=0 said outright (the tracker hands ids out only then)
  int numwant = 50;
  std::string key;
  std::string tracker_id;
  std::string ip;  // as sent; the tracker decides whether to believe it
};

inline constexpr int kDefaultNumwant = 50;
inline constexpr int kMaxNumwant = 200;

// A failure reason as the client will show it ("missing info_hash", ...).
using failure = std::string;

// The query string of GET /announce (without '?').
result<request, failure> parse_announce(std::string_view query);
// The info-hashes of GET /scrape; an empty list asks for a full scrape.
result<std::vector<sha1_digest>, failure> parse_scrape(std::string_view query);

// A peer in a response: 4 or 16 address bytes.
struct peer {
  std::array<std::uint8_t, 16> addr{};
  bool v6 = false;
  std::uint16_t port = 0;
  std::string peer_id;  // empty when unknown or not to be sent

  std::string address_text() const;
  friend bool operator==(const peer&, const peer&) = default;
};

struct response {
  std::string failure_reason;  // non-empty: nothing else is meaningful
  std::string warning;
  std::int64_t interval = 0;
  std::int64_t min_interval = 0;
  std::int64_t complete = 0;
  std::int64_t incomplete = 0;
  std::string tracker_id;
  std::vector<peer> peers;  // IPv4 and IPv6 together
};

// Compact: IPv4 peers in 'peers' (6 bytes each), IPv6 in 'peers6' (18).
// Otherwise a list of dicts in 'peers' ('peer id' unless no_peer_id).
std::string encode_response(const response& r, bool compact, bool no_peer_id);
std::string encode_failure(std::string_view reason);

struct scrape_entry {
  sha1_digest info_hash;
  std::int64_t complete = 0;
  std::int64_t downloaded = 0;
  std::int64_t incomplete = 0;
};
std::string encode_scrape(const std::vector<scrape_entry>& files);

// Client side.
// announce_url + '?' or '&' + the query for r. ip is sent only if set.
std::string build_announce_url(std::string_view announce_url, const request& r);
// Parses a tracker's reply; at most max_peers peers are kept. Strings are
// capped: a failure reason or warning longer than kMaxReason is cut there,
// a tracker id longer than kMaxTrackerId is dropped (it is sent back).
inline constexpr std::size_t kMaxReason = 512;
inline constexpr std::size_t kMaxTrackerId = 128;
result<response, failure> parse_response(std::string_view body, std::size_t max_peers = 2000);

// Seconds until the next announce: the tracker's interval (`fallback` when
// it gives none), at least its min interval, kept within [least, most] so
// that no value a tracker sends (0, 1, 2^63 - 1) makes an announce storm or
// silence for days.
inline constexpr std::int64_t kLeastInterval = 10;
inline constexpr std::int64_t kMostInterval = 24 * 3600;
std::int64_t next_interval(const response& r, std::int64_t fallback = 1800, std::int64_t least = kLeastInterval,
                           std::int64_t most = kMostInterval);
// The scrape URL for an announce URL (BEP 48: last path segment
// "announce" -> "scrape"), or nullopt when the tracker has none.
std::optional<std::string> scrape_url(std::string_view announce_url);

}  // namespace sta::announce
