#include "swarm/tracker_client.hpp"


#include <arpa/inet.h>

#include <cstring>
#include <random>
#include <sstream>
#include <vector>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include "base/version.hpp"
#include "reactor/blocking.hpp"
#include "reactor/ops.hpp"
#include "reactor/resolve.hpp"
#include "announce/udp.hpp"

namespace sta::swarm {
namespace http = boost::beast::http;

namespace {

constexpr std::size_t kMaxBody = 1 << 20;

using announce_result = result<announce::response, std::string>;

// announce::response is an aggregate whose first member is a string, so a
// bare string would be ambiguous: say which side it is.
announce_result failed(std::string why) { return announce_result(boost::system::in_place_error, std::move(why)); }

// A tracker's HTTP answer as an announce response.
announce_result answer_of(unsigned status, const std::string& body) {
  if (status != 200) return failed("tracker answered HTTP " + std::to_string(status));
  auto r = announce::parse_response(body);
  if (!r) return failed("bad tracker response: " + r.error());
  if (!r->failure_reason.empty()) return failed("tracker: " + r->failure_reason);
  return announce_result(std::move(*r));
}

using https_reply = result<std::pair<unsigned, std::string>, std::string>;

// One GET over TLS with Beast's SSL stream and OpenSSL, blocking (it runs
// off the reactor): the certificate is checked against the system's store
// and the host name unless `verify` is false. Each socket operation has
// `timeout`, so the thread always ends.
https_reply https_get(const std::string& host, std::uint16_t port, const std::string& target,
                      const std::string& host_header, bool verify, std::chrono::nanoseconds timeout) {
  namespace asio = boost::asio;
  namespace ssl = asio::ssl;
  namespace beast = boost::beast;
  auto fail_with = [](std::string why) { return https_reply(boost::system::in_place_error, std::move(why)); };
  asio::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  boost::system::error_code ec;
  if (verify) {
    ctx.set_default_verify_paths(ec);
    ctx.set_verify_mode(ssl::verify_peer);
  } else {
    ctx.set_verify_mode(ssl::verify_none);
  }
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  if (verify) stream.set_verify_callback(ssl::host_name_verification(host));
  // SNI, for a name (not for an address).
  in6_addr any{};
  if (::inet_pton(AF_INET, host.c_str(), &any) != 1 && ::inet_pton(AF_INET6, host.c_str(), &any) != 1)
    SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
  asio::ip::tcp::resolver resolver(ioc);
  const auto found = resolver.resolve(host, std::to_string(port), ec);
  if (ec) return fail_with("cannot resolve " + host + ": " + ec.message());
  auto& tcp = beast::get_lowest_layer(stream);
  tcp.connect(found, ec);
  if (ec) return fail_with("cannot connect to " + host + ": " + ec.message());
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  const timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(ms % 1000 * 1000)};
  ::setsockopt(tcp.socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(tcp.socket().native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  stream.handshake(ssl::stream_base::client, ec);
  if (ec) return fail_with("TLS with " + host + ": " + ec.message());
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, host_header);
  request.set(http::field::user_agent, kClientName);
  request.set(http::field::connection, "close");
  http::write(stream, request, ec);
  if (ec) return fail_with("cannot send to the tracker: " + ec.message());
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBody);
  http::read(stream, buf, parser, ec);
  if (ec) return fail_with("no answer from the tracker: " + ec.message());
  stream.shutdown(ec);  // the answer is in; a peer that skips close_notify is fine
  return std::pair<unsigned, std::string>(parser.get().result_int(), std::move(parser.get().body()));
}

}  // namespace

endpoint to_endpoint(const announce::peer& p) {
  return *endpoint::from_ip(std::span(p.addr).first(p.v6 ? 16 : 4), p.port);
}

io::task<result<announce::response, std::string>> http_announce(io::reactor& r, const std::string& url,
                                                                 const announce::request& req,
                                                                 const endpoint* bind,
                                                                 std::chrono::nanoseconds timeout, bool verify_tls) {
  // One deadline for the whole request: a tracker that trickles its answer
  // a byte at a time gets no more time than one that says nothing.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [deadline] { return io::time_left(deadline); };
  const std::string full = announce::build_announce_url(url, req);
  auto parsed = boost::urls::parse_uri(full);
  if (!parsed) co_return failed("bad tracker URL " + url);
  const boost::urls::url_view u = *parsed;
  if (u.scheme() != "http" && u.scheme() != "https")
    co_return failed("unsupported tracker scheme '" + std::string(u.scheme()) + "' (sta speaks http, https and udp)");

  std::string host(u.encoded_host_address());
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (u.scheme() == "https") {
    const auto port = u.has_port() ? u.port_number() : std::uint16_t{443};
    std::function<https_reply()> job = [host, port, target = std::string(u.encoded_target()),
                                        header = std::string(u.encoded_host_and_port()), verify_tls, timeout] {
      return https_get(host, port, target, header, verify_tls, timeout);
    };
    auto reply = co_await io::blocking<std::pair<unsigned, std::string>>(r, std::move(job), timeout, "tracker");
    if (!reply) co_return failed(reply.error());
    co_return answer_of(reply->first, reply->second);
  }
  const auto port = u.has_port() ? u.port_number() : std::uint16_t{80};
  auto ep = co_await io::resolve(r, host, port, left());
  if (!ep) co_return failed(ep.error());
  const endpoint* local = bind != nullptr && bind->family() == ep->family() ? bind : nullptr;
  auto sock = io::tcp_socket(ep->family(), local);
  if (!sock) co_return failed("socket: " + sock.error().message());
  if (auto c = co_await io::connect(r, sock->get(), ep->addr(), ep->length).deadline(left()); !c)
    co_return failed("cannot connect to " + ep->to_string() + ": " + c.error().message());

  http::request<http::empty_body> request{http::verb::get, std::string(u.encoded_target()), 11};
  request.set(http::field::host, std::string(u.encoded_host_and_port()));
  request.set(http::field::user_agent, kClientName);
  request.set(http::field::connection, "close");
  std::ostringstream os;
  os << request;
  const std::string wire = os.str();
  std::size_t sent = 0;
  while (sent < wire.size()) {
    auto n = co_await io::send(r, sock->get(), std::as_bytes(std::span(wire)).subspan(sent)).deadline(left());
    if (!n || *n == 0) co_return failed("cannot send to the tracker: " + (n ? std::string("connection closed") : n.error().message()));
    sent += *n;
  }

  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBody);
  parser.eager(true);
  std::vector<std::byte> buf(64 * 1024);
  std::size_t have = 0;
  while (!parser.is_done()) {
    if (have == buf.size()) buf.resize(buf.size() * 2);
    auto n = co_await io::recv(r, sock->get(), std::span(buf).subspan(have)).deadline(left());
    if (!n) co_return failed("no answer from the tracker: " + n.error().message());
    boost::system::error_code ec;
    if (*n == 0) {
      parser.put_eof(ec);
      if (ec) co_return failed("the tracker closed the connection: " + ec.message());
      break;
    }
    have += *n;
    const std::size_t used = parser.put(boost::asio::buffer(buf.data(), have), ec);
    if (ec && ec != http::error::need_more) co_return failed("bad HTTP from the tracker: " + ec.message());
    std::memmove(buf.data(), buf.data() + used, have - used);
    have -= used;
  }
  co_return answer_of(parser.get().result_int(), parser.get().body());
}

namespace {

namespace udp = announce::udp;
using udp_result = result<udp::response, std::string>;

udp_result udp_failed(std::string why) { return udp_result(boost::system::in_place_error, std::move(why)); }

// Sends `datagram` and waits for the reply with its transaction id, again
// after each silence of first_wait·2^n.
io::task<udp_result> transact(io::reactor& r, int sock, std::vector<std::byte> datagram, std::uint32_t transaction,
                              bool v6, const udp_timing& timing, const std::function<bool()>& give_up) {
  std::vector<std::byte> buf(2048);
  auto wait = std::chrono::duration_cast<std::chrono::steady_clock::duration>(timing.first_wait);
  for (unsigned n = 0; n < timing.tries; ++n, wait *= 2) {
    auto sent = co_await io::send(r, sock, datagram, 0).deadline(std::chrono::seconds(5));
    if (!sent) co_return udp_failed("cannot send to the tracker: " + sent.error().message());
    const auto until = std::chrono::steady_clock::now() + wait;
    for (;;) {
      const auto left = until - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      auto got = co_await io::recv(r, sock, buf).deadline(std::min<std::chrono::nanoseconds>(left, std::chrono::seconds(1)));
      if (give_up && give_up()) co_return udp_failed("stopped");
      // ICMP port unreachable shows as a refused receive: nobody listens.
      if (!got && got.error() == std::errc::connection_refused) co_return udp_failed("connection refused");
      if (!got) continue;
      auto reply = udp::decode_response(std::span(buf).first(*got), v6, 2000);
      if (!reply) continue;  // not for us; wait on
      const auto tid = std::visit([](const auto& m) { return m.transaction; }, *reply);
      if (tid == transaction) co_return std::move(*reply);
    }
  }
  co_return udp_failed("no answer from the tracker (" + std::to_string(timing.tries) + " tries)");
}

}  // namespace

io::task<result<announce::response, std::string>> udp_announce(io::reactor& r, const std::string& url,
                                                                const announce::request& req, const endpoint* bind,
                                                                udp_connections& cache, const udp_timing& timing,
                                                                std::function<bool()> give_up) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || !parsed->has_port()) co_return failed("bad tracker URL " + url + " (udp://HOST:PORT/...)");
  std::string host(parsed->encoded_host_address());
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  auto ep = co_await io::resolve(r, host, parsed->port_number(), std::chrono::seconds(15));
  if (!ep) co_return failed(ep.error());
  const endpoint* local = bind != nullptr && bind->family() == ep->family() ? bind : nullptr;
  auto sock = io::connected_udp(*ep, local);
  if (!sock) co_return failed("socket: " + sock.error().message());
  const bool v6 = ep->family() == AF_INET6;
  std::random_device rd;

  // A fresh connection id for this tracker, or a connect first.
  const auto now = timing.now();
  std::erase_if(cache.entries, [&](const auto& e) { return now - e.got >= timing.connection_life; });
  auto known = std::find_if(cache.entries.begin(), cache.entries.end(), [&](const auto& e) { return e.tracker == *ep; });
  std::uint64_t connection = 0;
  if (known != cache.entries.end()) {
    connection = known->id;
  } else {
    const std::uint32_t tid = rd();
    auto reply = co_await transact(r, sock->get(), udp::encode(udp::request{udp::connect_request{tid}}), tid, v6, timing,
                                   give_up);
    if (!reply) co_return failed(reply.error());
    if (const auto* e = std::get_if<udp::error_response>(&*reply)) co_return failed("tracker: " + e->message);
    const auto* c = std::get_if<udp::connect_response>(&*reply);
    if (c == nullptr) co_return failed("bad tracker response: not a connect reply");
    connection = c->connection;
    cache.entries.push_back({*ep, connection, now});
  }

  udp::announce_request a;
  a.connection = connection;
  a.transaction = rd();
  a.info_hash = req.info_hash;
  std::copy_n(req.peer_id.begin(), std::min<std::size_t>(req.peer_id.size(), 20), a.peer_id.begin());
  a.downloaded = req.downloaded;
  a.left = req.left;
  a.uploaded = req.uploaded;
  a.ev = req.ev;
  in_addr ip4{};
  if (!req.ip.empty() && ::inet_pton(AF_INET, req.ip.c_str(), &ip4) == 1) a.ip = ntohl(ip4.s_addr);
  a.key = rd();
  a.numwant = req.numwant;
  a.port = req.port;
  auto reply = co_await transact(r, sock->get(), udp::encode(udp::request{a}), a.transaction, v6, timing, give_up);
  if (!reply) co_return failed(reply.error());
  if (const auto* e = std::get_if<udp::error_response>(&*reply)) {
    // Perhaps our connection id is no longer good: the next one connects.
    std::erase_if(cache.entries, [&](const auto& c) { return c.tracker == *ep; });
    co_return failed("tracker: " + e->message);
  }
  const auto* ar = std::get_if<udp::announce_response>(&*reply);
  if (ar == nullptr) co_return failed("bad tracker response: not an announce reply");
  announce::response out;
  out.interval = ar->interval;
  out.complete = ar->seeders;
  out.incomplete = ar->leechers;
  out.peers = ar->peers;
  co_return announce_result(std::move(out));
}

io::task<result<announce::response, std::string>> tracker_announce(io::reactor& r, const std::string& url,
                                                                    const announce::request& req,
                                                                    const endpoint* bind, std::chrono::nanoseconds timeout,
                                                                    udp_connections& cache, bool verify_tls,
                                                                    std::function<bool()> give_up) {
  // Named results, not `co_return co_await` (a GCC 12 coroutine trap).
  if (url.starts_with("udp://")) {
    // The full schedule (15 s, 30 s, 60 s) for a regular announce; one try
    // within a shorter bound (the 'stopped' one at the end).
    udp_timing timing;
    if (timeout < timing.first_wait) {
      timing.first_wait = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
      timing.tries = 1;
    }
    auto answer = co_await udp_announce(r, url, req, bind, cache, timing, std::move(give_up));
    co_return answer;
  }
  auto answer = co_await http_announce(r, url, req, bind, timeout, verify_tls);
  co_return answer;
}

}  // namespace sta::swarm
