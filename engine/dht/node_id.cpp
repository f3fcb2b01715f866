#include "dht/node_id.hpp"

#include <array>
#include <bit>

#include <boost/crc.hpp>

namespace sta::dht {
namespace {

using crc32c = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

// BEP 42's CRC input: the address's first 4 (IPv4) or 8 (IPv6) bytes masked,
// with r's low three bits in the top of the first byte.
std::uint32_t masked_crc(const endpoint& address, std::uint8_t r) {
  static constexpr std::array<std::uint8_t, 4> kMask4{0x03, 0x0f, 0x3f, 0xff};
  static constexpr std::array<std::uint8_t, 8> kMask6{0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff};
  const auto ip = address.ip();
  const bool v4 = ip.size() == 4;
  std::array<std::uint8_t, 8> bytes{};
  const std::size_t n = v4 ? 4 : 8;
  for (std::size_t i = 0; i < n; ++i) bytes[i] = ip[i] & (v4 ? kMask4[i] : kMask6[i]);
  bytes[0] |= static_cast<std::uint8_t>((r & 0x7) << 5);
  crc32c crc;
  crc.process_bytes(bytes.data(), n);
  return crc.checksum();
}

}  // namespace

int shared_prefix(const node_id& a, const node_id& b) {
  for (std::size_t i = 0; i < a.bytes.size(); ++i) {
    const std::uint8_t x = a.bytes[i] ^ b.bytes[i];
    if (x != 0) return static_cast<int>(i * 8) + std::countl_zero(x);
  }
  return 160;
}

bool closer(const node_id& target, const node_id& a, const node_id& b) {
  for (std::size_t i = 0; i < target.bytes.size(); ++i) {
    const std::uint8_t da = a.bytes[i] ^ target.bytes[i];
    const std::uint8_t db = b.bytes[i] ^ target.bytes[i];
    if (da != db) return da < db;
  }
  return false;
}

node_id random_id_near(const node_id& near, int bits, std::mt19937_64& rng) {
  node_id id;
  for (auto& b : id.bytes) b = static_cast<std::uint8_t>(rng());
  for (int i = 0; i < bits && i < 160; ++i) {
    const auto mask = static_cast<std::uint8_t>(0x80u >> (i % 8));
    id.bytes[i / 8] = static_cast<std::uint8_t>((id.bytes[i / 8] & ~mask) | (near.bytes[i / 8] & mask));
  }
  if (bits < 160) {
    const auto mask = static_cast<std::uint8_t>(0x80u >> (bits % 8));
    id.bytes[bits / 8] = static_cast<std::uint8_t>((id.bytes[bits / 8] & ~mask) | (~near.bytes[bits / 8] & mask));
  }
  return id;
}

bool is_local(const endpoint& e) {
  const auto ip = e.ip();
  if (ip.size() == 4) {
    return ip[0] == 127 || ip[0] == 10 || (ip[0] == 172 && (ip[1] & 0xf0) == 16) ||
           (ip[0] == 192 && ip[1] == 168) || (ip[0] == 169 && ip[1] == 254);
  }
  if (ip.size() == 16) {
    if (e.is_loopback()) return true;
    return (ip[0] & 0xfe) == 0xfc || (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80);
  }
  return true;
}

node_id secure_id(const endpoint& address, std::uint8_t r, std::mt19937_64& rng) {
  node_id id;
  for (auto& b : id.bytes) b = static_cast<std::uint8_t>(rng());
  const std::uint32_t crc = masked_crc(address, r);
  id.bytes[0] = static_cast<std::uint8_t>(crc >> 24);
  id.bytes[1] = static_cast<std::uint8_t>(crc >> 16);
  id.bytes[2] = static_cast<std::uint8_t>(((crc >> 8) & 0xf8) | (id.bytes[2] & 0x7));
  id.bytes[19] = r;
  return id;
}

bool id_matches(const node_id& id, const endpoint& address) {
  if (is_local(address)) return true;
  const std::uint32_t crc = masked_crc(address, id.bytes[19]);
  return id.bytes[0] == static_cast<std::uint8_t>(crc >> 24) && id.bytes[1] == static_cast<std::uint8_t>(crc >> 16) &&
         (id.bytes[2] & 0xf8) == static_cast<std::uint8_t>((crc >> 8) & 0xf8);
}

}  // namespace sta::dht
