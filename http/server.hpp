// http: the HTTP/1.1 server the node's web API and the tracker share
// (DESIGN.md layer 8): Boost.Beast over Asio, `threads` io_context threads.
// Acceptors run on the first context and hand each connection to the
// contexts in turn; a connection then lives on one thread, one request at
// a time, and the handler (called on that thread) turns a parsed request
// into a response. Limits: connections (in all, lowered at start to what
// the descriptor limit allows, and per client address), header and body
// size, an idle timeout; a request over a limit gets 431/413/400 and the
// connection closes. When accept fails (out of descriptors), the acceptor
// waits, 50 ms doubling up to 1 s, instead of spinning.
//
// start() binds and starts the threads; stop() closes everything and joins.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/value.hpp>

#include "base/endpoint.hpp"
#include "base/result.hpp"

namespace sta::http {

namespace bhttp = boost::beast::http;
using request = bhttp::request<bhttp::string_body>;
using response = bhttp::response<bhttp::string_body>;
using status = bhttp::status;

struct server_options {
  std::vector<endpoint> listen;
  unsigned threads = 1;
  std::size_t max_connections = 10'000;
  std::size_t max_connections_per_ip = 0;  // 0: no limit; an IPv6 /64 counts as one address
  std::vector<boost::asio::ip::address> unlimited;  // not held to it (proxies, say)
  std::chrono::seconds idle_timeout{30};
  std::size_t max_header_bytes = 8192;
  std::size_t max_body_bytes = 0;  // requests with a longer body get 413
};

// Who asked: the client's address (IPv4-mapped addresses as IPv4) and the
// context (thread) the connection lives on.
struct client {
  boost::asio::ip::address remote;
  unsigned context = 0;
};

using handler = std::function<response(const request&, const client&)>;

class server {
 public:
  static result<std::unique_ptr<server>, std::string> start(server_options opts, handler h);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // The bound endpoints, ports resolved.
  const std::vector<endpoint>& endpoints() const;
  // For timers of the server's user; context 0 also runs the acceptors.
  boost::asio::io_context& context(unsigned i);
  unsigned contexts() const;
  std::int64_t connections() const;
  // The connection cap in force, and the descriptor limit it was checked
  // against (RLIMIT_NOFILE's soft limit).
  std::size_t max_connections() const;
  std::uint64_t descriptor_limit() const;
  // Failed accepts (out of descriptors, or the like) and connections closed
  // at once over a cap.
  std::int64_t accept_errors() const;
  std::int64_t refused() const;
  void stop();

  struct impl;

 private:
  explicit server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// A response with sta's Server header and Cache-Control: no-store.
response reply(status s, std::string body, std::string_view content_type);
response json_reply(status s, const boost::json::value& v);
// {"error": message}, for every 4xx/5xx of the API.
response error_reply(status s, std::string_view message);

struct target {
  std::string_view path;
  std::string_view query;
};
target split_target(std::string_view t);
// The value of `name` in an application/x-www-form-urlencoded query,
// percent-decoded; nullopt when absent or malformed.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

}  // namespace sta::http
