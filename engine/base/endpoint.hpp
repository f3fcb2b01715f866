// endpoint: an IPv4 or IPv6 address with a port, held as the sockaddr the
// kernel takes, and the one place that converts between it and the other
// forms sta meets: "1.2.3.4:80" / "[::1]:80" text, the raw 4 or 16 address
// bytes of tracker responses and BEP 10's yourip, and a host key for
// per-address tables. Plain data; any thread.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sta {

struct endpoint {
  sockaddr_storage storage{};
  socklen_t length = 0;

  // From raw address bytes: 4 (IPv4) or 16 (IPv6); nullopt for any other size.
  static std::optional<endpoint> from_ip(std::span<const std::uint8_t> address, std::uint16_t port);

  const sockaddr* addr() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* addr() { return reinterpret_cast<sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  std::uint16_t port() const;
  endpoint with_port(std::uint16_t port) const;
  // The address bytes: 4 for IPv4, 16 for IPv6, none when unset.
  std::span<const std::uint8_t> ip() const;
  // 0.0.0.0 or ::
  bool is_unspecified() const;
  // 127.0.0.0/8 or ::1.
  bool is_loopback() const;
  bool same_host(const endpoint& other) const;
  // "1.2.3.4:80" or "[::1]:80".
  std::string to_string() const;
  // The address alone: "1.2.3.4" or "::1".
  std::string host_string() const;

  friend bool operator==(const endpoint& a, const endpoint& b) { return a.same_host(b) && a.port() == b.port(); }
};

// The address of an endpoint without its port, for tables keyed by host
// (connections per IP, strikes and bans). IPv4 as ::ffff:a.b.c.d.
using host_key = std::array<std::uint8_t, 16>;
host_key host_of(const endpoint& e);

struct host_key_hash {
  std::size_t operator()(const host_key& k) const noexcept;
};

// The local address connections of `family` leave from, given the node's
// --listen addresses: the first of that family (any port), unless it is a
// wildcard or there is none (then the kernel chooses).
std::optional<endpoint> outgoing_bind(std::span<const endpoint> listen, int family);

// ADDR:PORT with a numeric IPv4 or bracketed IPv6 address.
std::optional<endpoint> parse_endpoint(std::string_view text);

}  // namespace sta
