// Host-name resolution for a reactor. getaddrinfo blocks, for seconds when
// DNS is slow, and a blocked reactor stalls every connection on it, so the
// lookup runs on a thread of its own and wakes the awaiting coroutine with
// an eventfd that the coroutine reads through the reactor. A numeric address
// needs no thread. When the timeout passes or the reactor stops first, the
// coroutine goes on with an error and the thread's late answer is dropped.
// Reactor thread only.
#pragma once

#include <chrono>
#include <string>

#include "base/endpoint.hpp"
#include "base/result.hpp"
#include "reactor/reactor.hpp"
#include "reactor/task.hpp"

namespace sta::io {

// The first address of `host` (a name, a numeric IPv4 or IPv6 address) with
// `port`, or why there is none in one line.
task<result<endpoint, std::string>> resolve(reactor& r, std::string host, std::uint16_t port,
                                             std::chrono::nanoseconds timeout);

}  // namespace sta::io
