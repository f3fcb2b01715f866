#include "reactor/socket.hpp"

#include <netinet/tcp.h>
#include <sys/resource.h>

#include "base/sys_error.hpp"

namespace sta::io {

result<unique_fd> tcp_socket(int family, const endpoint* local) {
  unique_fd s(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!s) return last_sys_error();
  const int one = 1;
  ::setsockopt(s.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (local) {
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(s.get(), local->addr(), local->length) != 0) return last_sys_error();
  }
  return s;
}

result<unique_fd> connected_udp(const endpoint& to, const endpoint* local) {
  unique_fd s(::socket(to.family(), SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!s) return last_sys_error();
  if (local && ::bind(s.get(), local->addr(), local->length) != 0) return last_sys_error();
  if (::connect(s.get(), to.addr(), to.length) != 0) return last_sys_error();
  return s;
}

result<unique_fd> bound_udp(const endpoint& local, bool reuse_port) {
  unique_fd s(::socket(local.family(), SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!s) return last_sys_error();
  const int one = 1;
  if (local.family() == AF_INET6) ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (reuse_port && ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) return last_sys_error();
  if (::bind(s.get(), local.addr(), local.length) != 0) return last_sys_error();
  return s;
}

result<unique_fd> listen_tcp(const endpoint& local, int backlog) {
  unique_fd s(::socket(local.family(), SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!s) return last_sys_error();
  const int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (local.family() == AF_INET6) ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(s.get(), local.addr(), local.length) != 0) return last_sys_error();
  if (::listen(s.get(), backlog) != 0) return last_sys_error();
  return s;
}

result<endpoint> local_endpoint(int socket) {
  endpoint ep;
  ep.length = sizeof ep.storage;
  if (::getsockname(socket, ep.addr(), &ep.length) != 0) return last_sys_error();
  return ep;
}

result<endpoint> peer_endpoint(int socket) {
  endpoint ep;
  ep.length = sizeof ep.storage;
  if (::getpeername(socket, ep.addr(), &ep.length) != 0) return last_sys_error();
  return ep;
}

std::uint64_t raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur;
}

}  // namespace sta::io
