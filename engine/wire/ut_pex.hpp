// The BEP 11 peer exchange message (ut_pex): the payload of an extended
// message, a bencoded dict of compact peer lists — 'added' (6 bytes each)
// with one flag byte per peer in 'added.f', 'added6' (18) with
// 'added6.f', 'dropped' and 'dropped6'. Pure; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/endpoint.hpp"
#include "base/result.hpp"

namespace sta::wire::ut_pex {

// BEP 11 flags of an added peer.
inline constexpr std::uint8_t kPrefersEncryption = 0x01;
inline constexpr std::uint8_t kSeed = 0x02;
inline constexpr std::uint8_t kUtp = 0x04;
inline constexpr std::uint8_t kHolepunch = 0x08;
inline constexpr std::uint8_t kReachable = 0x10;  // we connected to it

// BEP 11: at most 50 added and 50 dropped peers in one message.
inline constexpr std::size_t kMaxPerMessage = 50;

struct peer {
  endpoint addr;
  std::uint8_t flags = 0;
  friend bool operator==(const peer&, const peer&) = default;
};

struct message {
  std::vector<peer> added;      // IPv4 and IPv6 together
  std::vector<endpoint> dropped;
};

// One contiguous payload. Keeps at most `max_peers` of the added and of
// the dropped peers (the rest are ignored, not an error); ports of 0 are
// skipped. bad_message: not a dict, a list that is not a string of whole
// entries. Missing lists are empty; a missing or short flag string gives 0.
result<message> decode(std::span<const std::byte> payload, std::size_t max_peers = kMaxPerMessage);
// IPv4 peers go to 'added'/'dropped', IPv6 to 'added6'/'dropped6'.
std::vector<std::byte> encode(const message& m);

}  // namespace sta::wire::ut_pex
