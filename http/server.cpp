#include "http/server.hpp"

#include <sys/resource.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/json.hpp>

#include "base/query.hpp"
#include "base/version.hpp"
#include "reactor/socket.hpp"

namespace sta::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

asio::ip::address normalized(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a;
}

}  // namespace

struct server::impl {
  server_options opts;
  handler handle;
  // Declared before the contexts, so they outlive the session frames the
  // contexts destroy (a frame gives its counts back as it goes).
  std::atomic<std::size_t> next_context{0};
  std::atomic<std::int64_t> connections{0};
  std::atomic<std::int64_t> accept_errors{0};
  std::atomic<std::int64_t> refused{0};
  std::uint64_t descriptor_limit = 0;
  std::mutex per_ip_mutex;
  std::unordered_map<asio::ip::address, std::size_t> per_ip;  // only with max_connections_per_ip
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<endpoint> bound;
  std::vector<std::jthread> threads;

  // The per-address count's key: the address, or an IPv6 address's /64.
  static asio::ip::address source_of(const asio::ip::address& a) {
    if (!a.is_v6()) return a;
    auto bytes = a.to_v6().to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return asio::ip::address_v6(bytes);
  }
  bool limited(const asio::ip::address& a) const {
    return opts.max_connections_per_ip != 0 &&
           std::find(opts.unlimited.begin(), opts.unlimited.end(), a) == opts.unlimited.end();
  }
  bool admit(const asio::ip::address& a) {
    if (!limited(a)) return true;
    std::lock_guard lock(per_ip_mutex);
    auto& n = per_ip[source_of(a)];
    if (n >= opts.max_connections_per_ip) return false;
    ++n;
    return true;
  }
  void release(const asio::ip::address& a) {
    if (!limited(a)) return;
    std::lock_guard lock(per_ip_mutex);
    if (auto it = per_ip.find(source_of(a)); it != per_ip.end() && --it->second == 0) per_ip.erase(it);
  }

  asio::awaitable<void> session(unsigned index, tcp::socket socket, asio::ip::address remote) {
    // The connection's counts go back however the session ends.
    struct admitted {
      impl& self;
      asio::ip::address remote;
      ~admitted() {
        self.release(remote);
        self.connections.fetch_sub(1, std::memory_order_relaxed);
      }
    } slot{*this, remote};
    boost::system::error_code ec;
    const client who{remote, index};
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer(opts.max_header_bytes + opts.max_body_bytes);
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(opts.max_header_bytes));
      parser.body_limit(opts.max_body_bytes);
      stream.expires_after(opts.idle_timeout);
      co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
          ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
        break;
      }
      if (ec) {
        // A request we cannot take: say why and close.
        const bool header = ec == bhttp::error::header_limit;
        const bool body = ec == bhttp::error::body_limit || ec == bhttp::error::buffer_overflow;
        auto res = header ? error_reply(status::request_header_fields_too_large, "request header too large")
                   : body ? error_reply(status::payload_too_large, "request body too large")
                          : error_reply(status::bad_request, "bad request: " + ec.message());
        res.keep_alive(false);
        res.prepare_payload();
        co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        break;
      }
      const auto& req = parser.get();
      response res;
      try {
        res = handle(req, who);
      } catch (const std::exception& e) {
        // A bug, not the client's fault: say so instead of dropping the
        // connection.
        res = error_reply(status::internal_server_error, std::string("internal error: ") + e.what());
      }
      res.keep_alive(req.keep_alive() && res.keep_alive());
      res.prepare_payload();
      if (req.method() == bhttp::verb::head) res.body().clear();
      co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !res.keep_alive()) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
    auto backoff = std::chrono::milliseconds(50);
    for (;;) {
      const unsigned index = static_cast<unsigned>(next_context.fetch_add(1, std::memory_order_relaxed) % contexts.size());
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(*contexts[index], asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) {
        // Out of descriptors (or the like): keep serving the connections we
        // have, and try again later, a little later each time, instead of
        // spinning on a connection that waits in the backlog.
        accept_errors.fetch_add(1, std::memory_order_relaxed);
        asio::steady_timer pause(acceptor.get_executor(), backoff);
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        backoff = std::min<std::chrono::milliseconds>(2 * backoff, std::chrono::seconds(1));
        continue;
      }
      backoff = std::chrono::milliseconds(50);
      const auto remote = normalized(socket.remote_endpoint(ec).address());
      if (ec || connections.load(std::memory_order_relaxed) >= static_cast<std::int64_t>(opts.max_connections) ||
          !admit(remote)) {
        refused.fetch_add(1, std::memory_order_relaxed);
        socket.close(ec);
        continue;
      }
      connections.fetch_add(1, std::memory_order_relaxed);
      asio::co_spawn(*contexts[index], session(index, std::move(socket), remote), asio::detached);
    }
  }
};

result<std::unique_ptr<server>, std::string> server::start(server_options opts, handler h) {
  auto p = std::make_unique<impl>();
  p->opts = std::move(opts);
  p->handle = std::move(h);
  const unsigned n = std::max(1u, p->opts.threads);
  for (unsigned i = 0; i < n; ++i) p->contexts.push_back(std::make_unique<asio::io_context>(1));
  for (const auto& ep : p->opts.listen) {
    auto fd = io::listen_tcp(ep);
    if (!fd) return "cannot listen on " + ep.to_string() + ": " + fd.error().message();
    auto local = io::local_endpoint(fd->get());
    p->bound.push_back(local ? *local : ep);
    const auto protocol = ep.family() == AF_INET6 ? tcp::v6() : tcp::v4();
    p->acceptors.push_back(std::make_unique<tcp::acceptor>(*p->contexts[0], protocol, fd->release()));
  }
  // Every connection takes a descriptor: the cap leaves room for those
  // open now and a few more (files, resolvers, and what the server's user
  // opens after it: the tracker's UDP reactors take a few per thread).
  const std::size_t kSpareDescriptors = 32 + 8 * std::size_t{n};
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    p->descriptor_limit = lim.rlim_cur;
    std::size_t open_now = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec))
      ++open_now;
    const std::size_t room = lim.rlim_cur > open_now + kSpareDescriptors ? lim.rlim_cur - open_now - kSpareDescriptors : 1;
    p->opts.max_connections = std::min(p->opts.max_connections, room);
  }
  for (auto& acceptor : p->acceptors) asio::co_spawn(*p->contexts[0], p->accept_loop(*acceptor), asio::detached);
  for (auto& ctx : p->contexts) {
    p->guards.push_back(asio::make_work_guard(*ctx));
    p->threads.emplace_back([ctx = ctx.get()] { ctx->run(); });
  }
  return std::unique_ptr<server>(new server(std::move(p)));
}

server::server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

server::~server() { stop(); }

const std::vector<endpoint>& server::endpoints() const { return impl_->bound; }
asio::io_context& server::context(unsigned i) { return *impl_->contexts[i]; }
unsigned server::contexts() const { return static_cast<unsigned>(impl_->contexts.size()); }
std::int64_t server::connections() const { return impl_->connections.load(std::memory_order_relaxed); }
std::size_t server::max_connections() const { return impl_->opts.max_connections; }
std::uint64_t server::descriptor_limit() const { return impl_->descriptor_limit; }
std::int64_t server::accept_errors() const { return impl_->accept_errors.load(std::memory_order_relaxed); }
std::int64_t server::refused() const { return impl_->refused.load(std::memory_order_relaxed); }

void server::stop() {
  if (!impl_ || impl_->threads.empty()) return;
  // Stopping the loops abandons every connection; their frames, the
  // acceptors and any timers are destroyed with the contexts.
  for (auto& ctx : impl_->contexts) ctx->stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  impl_->guards.clear();
}

response reply(status s, std::string body, std::string_view content_type) {
  response res{s, 11};
  res.set(bhttp::field::server, kClientName);
  res.set(bhttp::field::content_type, content_type);
  res.set(bhttp::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

response json_reply(status s, const boost::json::value& v) {
  return reply(s, boost::json::serialize(v), "application/json");
}

response error_reply(status s, std::string_view message) {
  return json_reply(s, boost::json::object{{"error", message}});
}

target split_target(std::string_view t) {
  const auto q = t.find('?');
  return {t.substr(0, q), q == std::string_view::npos ? std::string_view{} : t.substr(q + 1)};
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  std::optional<std::string> found;
  const bool ok = for_each_param(query, [&](std::string_view key, std::string value) {
    if (key == name && !found) found = std::move(value);
    return true;
  });
  if (!ok) return std::nullopt;
  return found;
}

}  // namespace sta::http
