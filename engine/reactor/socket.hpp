// File descriptors and TCP endpoints: an owning fd, ADDR:PORT parsing
// ("1.2.3.4:80", "[::1]:80", "[::]:0"), and making listening and unconnected
// sockets (optionally bound to a local address, so outgoing connections
// leave from it). Plain syscalls; any thread.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.hpp"

namespace sta::io {

class fd {
 public:
  fd() = default;
  explicit fd(int raw) : fd_(raw) {}
  fd(fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  fd& operator=(fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  fd(const fd&) = delete;
  fd& operator=(const fd&) = delete;
  ~fd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset();

 private:
  int fd_ = -1;
};

struct endpoint {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* addr() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  std::uint16_t port() const;
  // "1.2.3.4:80" or "[::1]:80".
  std::string to_string() const;
};

// ADDR:PORT with a numeric IPv4 or bracketed IPv6 address.
std::optional<endpoint> parse_endpoint(std::string_view text);

// A TCP socket bound to `local` and listening, with SO_REUSEADDR.
result<fd> listen_tcp(const endpoint& local, int backlog = 1024);
// An unconnected TCP socket of `family`, bound to `local` when given.
result<fd> tcp_socket(int family, const endpoint* local = nullptr);
// The address a socket is bound to (port 0 resolved).
result<endpoint> local_endpoint(int socket);

}  // namespace sta::io
