#include "reactor/socket.hpp"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace sta::io {
namespace {

error_code last_error() { return {errno, boost::system::system_category()}; }

}  // namespace

void fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::uint16_t endpoint::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
}

std::string endpoint::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(port());
  }
  ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf, sizeof buf);
  return "[" + std::string(buf) + "]:" + std::to_string(port());
}

std::optional<endpoint> parse_endpoint(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= text.size()) return std::nullopt;
  unsigned port = 0;
  const auto port_text = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  endpoint ep;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    const std::string h(host.substr(1, host.size() - 2));
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ep.storage);
    if (::inet_pton(AF_INET6, h.c_str(), &a6->sin6_addr) != 1) return std::nullopt;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<std::uint16_t>(port));
    ep.length = sizeof(sockaddr_in6);
    return ep;
  }
  const std::string h(host);
  auto* a4 = reinterpret_cast<sockaddr_in*>(&ep.storage);
  if (::inet_pton(AF_INET, h.c_str(), &a4->sin_addr) != 1) return std::nullopt;
  a4->sin_family = AF_INET;
  a4->sin_port = htons(static_cast<std::uint16_t>(port));
  ep.length = sizeof(sockaddr_in);
  return ep;
}

result<fd> tcp_socket(int family, const endpoint* local) {
  fd s(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!s) return last_error();
  const int one = 1;
  ::setsockopt(s.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (local) {
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(s.get(), local->addr(), local->length) != 0) return last_error();
  }
  return s;
}

result<fd> listen_tcp(const endpoint& local, int backlog) {
  fd s(::socket(local.family(), SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!s) return last_error();
  const int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (local.family() == AF_INET6) ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(s.get(), local.addr(), local.length) != 0) return last_error();
  if (::listen(s.get(), backlog) != 0) return last_error();
  return s;
}

result<endpoint> local_endpoint(int socket) {
  endpoint ep;
  ep.length = sizeof ep.storage;
  if (::getsockname(socket, reinterpret_cast<sockaddr*>(&ep.storage), &ep.length) != 0) return last_error();
  return ep;
}

}  // namespace sta::io
