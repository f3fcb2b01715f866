// Stateless connection ids for the UDP tracker (BEP 15): the tracker keeps
// nothing per client. An id is the minute it was made (32 bits) and 32 bits
// of SHA-256 over a random secret, that minute and the client's IP address;
// it is good in that minute and the next (one to two minutes) and only
// from that address, and is checked in constant time. A spoofed source
// cannot announce, since it never sees the id sent to the address it forges.
// Any thread (const after construction).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "base/endpoint.hpp"

namespace sta::tracker {

class connection_ids {
 public:
  explicit connection_ids(const std::array<std::uint8_t, 32>& secret) : secret_(secret) {}
  static connection_ids random();

  std::uint64_t make(const endpoint& client, std::uint64_t now_seconds) const;
  bool valid(std::uint64_t id, const endpoint& client, std::uint64_t now_seconds) const;

 private:
  std::optional<std::uint32_t> mac(std::uint32_t minute, const endpoint& client) const;
  std::array<std::uint8_t, 32> secret_;
};

}  // namespace sta::tracker
