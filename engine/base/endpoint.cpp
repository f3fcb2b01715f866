#include "base/endpoint.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace sta {

std::optional<endpoint> endpoint::from_ip(std::span<const std::uint8_t> address, std::uint16_t port) {
  endpoint ep;
  if (address.size() == 4) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ep.storage);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    std::memcpy(&a->sin_addr, address.data(), 4);
    ep.length = sizeof(sockaddr_in);
    return ep;
  }
  if (address.size() == 16) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ep.storage);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    std::memcpy(&a->sin6_addr, address.data(), 16);
    ep.length = sizeof(sockaddr_in6);
    return ep;
  }
  return std::nullopt;
}

std::uint16_t endpoint::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

endpoint endpoint::with_port(std::uint16_t port) const {
  endpoint out = *this;
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&out.storage)->sin_port = htons(port);
  else if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&out.storage)->sin6_port = htons(port);
  return out;
}

std::span<const std::uint8_t> endpoint::ip() const {
  if (family() == AF_INET)
    return {reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr), 4};
  if (family() == AF_INET6)
    return {reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr), 16};
  return {};
}

bool endpoint::is_unspecified() const {
  for (std::uint8_t b : ip())
    if (b != 0) return false;
  return true;
}

bool endpoint::is_loopback() const {
  const auto a = ip();
  if (family() == AF_INET) return a.size() == 4 && a[0] == 127;
  if (a.size() != 16) return false;
  for (std::size_t i = 0; i < 15; ++i)
    if (a[i] != 0) return false;
  return a[15] == 1;
}

bool endpoint::same_host(const endpoint& other) const {
  const auto a = ip(), b = other.ip();
  return family() == other.family() && a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string endpoint::host_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() != AF_INET && family() != AF_INET6) return "-";
  ::inet_ntop(family(), ip().data(), buf, sizeof buf);
  return buf;
}

std::string endpoint::to_string() const {
  if (family() == AF_INET6) return "[" + host_string() + "]:" + std::to_string(port());
  return host_string() + ":" + std::to_string(port());
}

host_key host_of(const endpoint& e) {
  host_key k{};
  const auto a = e.ip();
  if (a.size() == 16) {
    std::memcpy(k.data(), a.data(), 16);
  } else if (a.size() == 4) {
    k[10] = k[11] = 0xff;
    std::memcpy(k.data() + 12, a.data(), 4);
  }
  return k;
}

std::size_t host_key_hash::operator()(const host_key& k) const noexcept {
  std::uint64_t a, b;
  std::memcpy(&a, k.data(), 8);
  std::memcpy(&b, k.data() + 8, 8);
  return static_cast<std::size_t>((a * 0x9E3779B97F4A7C15ull) ^ (b + 0x632BE59BD9B4E019ull + (a << 6)));
}

std::optional<endpoint> parse_endpoint(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= text.size()) return std::nullopt;
  unsigned port = 0;
  const auto port_text = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) return std::nullopt;
  const std::string_view host = text.substr(0, colon);
  std::array<std::uint8_t, 16> bytes{};
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    const std::string h(host.substr(1, host.size() - 2));
    if (::inet_pton(AF_INET6, h.c_str(), bytes.data()) != 1) return std::nullopt;
    return endpoint::from_ip(bytes, static_cast<std::uint16_t>(port));
  }
  const std::string h(host);
  if (::inet_pton(AF_INET, h.c_str(), bytes.data()) != 1) return std::nullopt;
  return endpoint::from_ip(std::span(bytes).first(4), static_cast<std::uint16_t>(port));
}

std::optional<endpoint> outgoing_bind(std::span<const endpoint> listen, int family) {
  for (const auto& l : listen) {
    if (l.family() != family) continue;
    if (l.is_unspecified()) return std::nullopt;
    return l.with_port(0);
  }
  return std::nullopt;
}

}  // namespace sta
