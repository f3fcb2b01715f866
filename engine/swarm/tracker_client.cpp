#include "swarm/tracker_client.hpp"


#include <cstring>
#include <sstream>
#include <vector>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include "base/version.hpp"
#include "reactor/ops.hpp"
#include "reactor/resolve.hpp"

namespace sta::swarm {
namespace http = boost::beast::http;

namespace {

constexpr std::size_t kMaxBody = 1 << 20;

using announce_result = result<announce::response, std::string>;

// announce::response is an aggregate whose first member is a string, so a
// bare string would be ambiguous: say which side it is.
announce_result failed(std::string why) { return announce_result(boost::system::in_place_error, std::move(why)); }

}  // namespace

endpoint to_endpoint(const announce::peer& p) {
  return *endpoint::from_ip(std::span(p.addr).first(p.v6 ? 16 : 4), p.port);
}

io::task<result<announce::response, std::string>> http_announce(io::reactor& r, const std::string& url,
                                                                 const announce::request& req,
                                                                 const endpoint* bind,
                                                                 std::chrono::nanoseconds timeout) {
  // One deadline for the whole request: a tracker that trickles its answer
  // a byte at a time gets no more time than one that says nothing.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [deadline] { return io::time_left(deadline); };
  const std::string full = announce::build_announce_url(url, req);
  auto parsed = boost::urls::parse_uri(full);
  if (!parsed) co_return failed("bad tracker URL " + url);
  const boost::urls::url_view u = *parsed;
  if (u.scheme() != "http") co_return failed("unsupported tracker scheme '" + std::string(u.scheme()) + "' (sta speaks http)");

  std::string host(u.encoded_host_address());
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
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
  const auto& res = parser.get();
  if (res.result() != http::status::ok)
    co_return failed("tracker answered HTTP " + std::to_string(res.result_int()));
  auto body = announce::parse_response(res.body());
  if (!body) co_return failed("bad tracker response: " + body.error());
  if (!body->failure_reason.empty()) co_return failed("tracker: " + body->failure_reason);
  co_return announce_result(std::move(*body));
}

}  // namespace sta::swarm
