// The tracker client. HTTP (BEP 3, BEP 23, BEP 7): one announce over a
// reactor socket, the request written by Beast's serializer and the reply
// read by Beast's parser (body capped at 1 MiB), the body decoded by the
// shared announce codec. Host names are resolved off the reactor
// (io::resolve). HTTPS: Beast's SSL stream with OpenSSL on a thread of its
// own (io::blocking), the certificate checked against the system's store
// unless told not to (a self-signed test tracker). UDP (BEP 15): the shared codec (announce/udp.hpp) over a
// connected UDP socket. Reactor thread only.
#pragma once

#include <chrono>
#include <functional>
#include <vector>
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
                                                                 std::chrono::nanoseconds timeout,
                                                                 bool verify_tls = true);

// UDP trackers (BEP 15): connection ids a client keeps per tracker address
// (one torrent's announces share them), and the retransmission schedule.
struct udp_connections {
  struct entry {
    endpoint tracker;
    std::uint64_t id = 0;
    std::chrono::steady_clock::time_point got{};
  };
  std::vector<entry> entries;
};
struct udp_timing {
  std::chrono::milliseconds first_wait{15'000};  // then doubled for each retry (15·2^n s)
  unsigned tries = 3;
  std::chrono::seconds connection_life{60};      // BEP 15: a connection id serves a minute
  // The clock the connection ids age by (tests move it).
  std::function<std::chrono::steady_clock::time_point()> now = [] { return std::chrono::steady_clock::now(); };
};

// One announce to a udp:// tracker: a connect for a connection id unless
// `cache` has a fresh one for its address, then the announce, each sent
// again after 15 s, 30 s, ... without an answer (timing.tries in all).
// The tracker's error reply is the error ("tracker: MESSAGE"); an error to
// an announce drops the cached id. `give_up` is asked about once a second
// (the torrent stopped). Peers come in the address family the request
// went over.
io::task<result<announce::response, std::string>> udp_announce(io::reactor& r, const std::string& url,
                                                                const announce::request& req, const endpoint* bind,
                                                                udp_connections& cache, const udp_timing& timing,
                                                                std::function<bool()> give_up);

// http://, https:// or udp://, by the URL's scheme; `timeout` bounds an HTTP one.
io::task<result<announce::response, std::string>> tracker_announce(io::reactor& r, const std::string& url,
                                                                    const announce::request& req,
                                                                    const endpoint* bind, std::chrono::nanoseconds timeout,
                                                                    udp_connections& cache, bool verify_tls,
                                                                    std::function<bool()> give_up);

// A peer from a tracker response as a socket address.
endpoint to_endpoint(const announce::peer& p);

}  // namespace sta::swarm
