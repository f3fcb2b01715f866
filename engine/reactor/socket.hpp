// TCP sockets: making listening and unconnected sockets (optionally bound
// to a local address, so outgoing connections leave from it) and asking a
// socket where it is bound. Plain syscalls; any thread.
#pragma once

#include <cstdint>

#include "base/endpoint.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace sta::io {

// A TCP socket bound to `local` and listening, with SO_REUSEADDR.
// A UDP socket connected to `to` (so send and recv reach only it), bound
// to `local` when given.
result<unique_fd> connected_udp(const endpoint& to, const endpoint* local = nullptr);

// An unconnected UDP socket bound to `local` (IPv6 only for an IPv6 address);
// with reuse_port, one of several sockets on the port (SO_REUSEPORT: the
// kernel spreads the senders over them).
result<unique_fd> bound_udp(const endpoint& local, bool reuse_port = false);

result<unique_fd> listen_tcp(const endpoint& local, int backlog = 1024);
// An unconnected TCP socket of `family`, bound to `local` when given.
result<unique_fd> tcp_socket(int family, const endpoint* local = nullptr);
// The address a socket is bound to (port 0 resolved).
result<endpoint> local_endpoint(int socket);
// The address of a connected socket's peer.
result<endpoint> peer_endpoint(int socket);

// Raises the soft limit on open descriptors (RLIMIT_NOFILE) to the hard
// limit, as a server with many peers and files needs; returns the new soft
// limit. Start-up only.
std::uint64_t raise_fd_limit();

}  // namespace sta::io
