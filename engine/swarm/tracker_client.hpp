// The HTTP tracker client (BEP 3, BEP 23, BEP 7): one announce over a
// reactor socket, the request written by Beast's serializer and the reply
// read by Beast's parser (body capped at 1 MiB), the body decoded by the
// shared announce codec. Host names are resolved off the reactor
// (io::resolve). Reactor thread only.
#pragma once

#include <chrono>
#include <string>

#include "announce/announce.hpp"
#include "base/result.hpp"
#include "reactor/reactor.hpp"
#include "reactor/socket.hpp"
#include "reactor/task.hpp"

namespace sta::swarm {

// The tracker's response, or why there is none in one line ("connection
// refused", "HTTP 404", the tracker's failure reason, ...), all within
// `timeout` from the call. `bind`, when set, is the local address the
// connection leaves from.
io::task<result<announce::response, std::string>> http_announce(io::reactor& r, const std::string& url,
                                                                 const announce::request& req,
                                                                 const endpoint* bind,
                                                                 std::chrono::nanoseconds timeout);

// A peer from a tracker response as a socket address.
endpoint to_endpoint(const announce::peer& p);

}  // namespace sta::swarm
