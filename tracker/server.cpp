#include "tracker/server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>

#include "base/hex.hpp"
#include "base/version.hpp"
#include "reactor/socket.hpp"
#include "tracker/dashboard.hpp"

namespace sta::tracker {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

struct digest_hash {
  std::size_t operator()(const sha1_digest& d) const noexcept {
    std::size_t h;
    std::memcpy(&h, d.bytes.data(), sizeof h);
    return h;
  }
};
using whitelist = std::unordered_set<sha1_digest, digest_hash>;

// One event loop and what its thread alone reads: the whitelist is swapped
// in by posting to the loop, so announces read it without a lock.
struct context_state {
  asio::io_context ctx{1};
  std::shared_ptr<const whitelist> allowed;
};

result<std::shared_ptr<const whitelist>, std::string> load_whitelist(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "cannot read whitelist " + path;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto hashes = parse_whitelist(text);
  if (!hashes) return path + ": " + hashes.error();
  return std::make_shared<const whitelist>(hashes->begin(), hashes->end());
}

peer_address to_peer_address(const asio::ip::address& a) {
  peer_address p;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    const auto v4 = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_bytes();
    std::copy(v4.begin(), v4.end(), p.addr.begin());
  } else if (a.is_v4()) {
    const auto v4 = a.to_v4().to_bytes();
    std::copy(v4.begin(), v4.end(), p.addr.begin());
  } else {
    const auto v6 = a.to_v6().to_bytes();
    std::copy(v6.begin(), v6.end(), p.addr.begin());
    p.v6 = true;
  }
  return p;
}

asio::ip::address normalized(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a;
}

}  // namespace

result<std::vector<sha1_digest>, std::string> parse_whitelist(std::string_view text) {
  std::vector<sha1_digest> out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    auto raw = line.size() == 40 ? from_hex(line) : std::nullopt;
    if (!raw) return "line " + std::to_string(line_no) + ": not a 40-character hex info-hash";
    out.push_back(sha1_digest::from_raw(*raw));
  }
  return out;
}

struct server::impl {
  options opts;
  swarm_store store;
  std::vector<std::unique_ptr<context_state>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::string> bound;
  std::set<asio::ip::address> trusted;
  std::vector<std::jthread> threads;
  asio::steady_timer sweep_timer;
  asio::steady_timer rate_timer;
  clock::time_point started = clock::now();

  std::atomic<std::size_t> next_context{0};
  std::atomic<std::int64_t> connections{0};
  std::atomic<std::int64_t> announces{0};
  std::atomic<std::int64_t> scrapes{0};
  std::atomic<std::int64_t> last_announces{0};
  std::atomic<double> announce_rate{0};
  std::mutex failures_mutex;  // failures are rare: bad requests only
  std::map<std::string, std::int64_t> failures;

  explicit impl(options o)
      : opts(std::move(o)),
        store(opts.limits, 2 * opts.interval),
        contexts(make_contexts(opts.threads)),
        sweep_timer(contexts[0]->ctx),
        rate_timer(contexts[0]->ctx) {}

  static std::vector<std::unique_ptr<context_state>> make_contexts(unsigned n) {
    if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::unique_ptr<context_state>> out;
    for (unsigned i = 0; i < n; ++i) out.push_back(std::make_unique<context_state>());
    return out;
  }

  void count_failure(const std::string& reason) {
    std::lock_guard lock(failures_mutex);
    ++failures[reason];
  }

  http::response<http::string_body> reply(http::status status, std::string body, std::string_view type) {
    http::response<http::string_body> res{status, 11};
    res.set(http::field::server, kClientName);
    res.set(http::field::content_type, type);
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(body);
    return res;
  }

  std::string handle_announce(std::string_view query, const context_state& cs, const asio::ip::address& remote) {
    announces.fetch_add(1, std::memory_order_relaxed);
    auto req = announce::parse_announce(query);
    if (!req) {
      count_failure(req.error());
      return announce::encode_failure(req.error());
    }
    if (cs.allowed && !cs.allowed->contains(req->info_hash)) {
      count_failure("torrent not allowed");
      return announce::encode_failure("torrent not allowed on this tracker");
    }
    peer_address from = to_peer_address(remote);
    if (!req->ip.empty() && (remote.is_loopback() || trusted.contains(remote))) {
      boost::system::error_code ec;
      const auto claimed = asio::ip::make_address(req->ip, ec);
      if (!ec) from = to_peer_address(claimed);
    }
    auto res = store.announce(*req, from, opts.now());
    if (!res) {
      count_failure(res.error());
      return announce::encode_failure(res.error());
    }
    res->interval = opts.interval.count();
    res->min_interval = std::max<std::int64_t>(1, opts.interval.count() / 2);
    return announce::encode_response(*res, req->compact, req->no_peer_id);
  }

  std::string handle_scrape(std::string_view query, const context_state& cs) {
    scrapes.fetch_add(1, std::memory_order_relaxed);
    auto hashes = announce::parse_scrape(query);
    if (!hashes) {
      count_failure(hashes.error());
      return announce::encode_failure(hashes.error());
    }
    if (hashes->empty()) {
      if (!opts.full_scrape) return announce::encode_failure("full scrape is disabled; ask for info_hash");
      return announce::encode_scrape(store.scrape_all());
    }
    if (hashes->size() > 100) return announce::encode_failure("too many info_hash values (at most 100)");
    if (cs.allowed) {
      std::erase_if(*hashes, [&](const sha1_digest& h) { return !cs.allowed->contains(h); });
    }
    return announce::encode_scrape(store.scrape(*hashes));
  }

  std::string stats_json() {
    const auto t = store.totals();
    const auto now = opts.now();
    boost::json::array torrents;
    for (const auto& s : store.top(100)) {
      torrents.push_back({{"info_hash", s.info_hash.hex()},
                          {"seeders", s.seeders},
                          {"leechers", s.leechers},
                          {"completed", s.completed},
                          {"last_activity_seconds_ago",
                           std::chrono::duration_cast<std::chrono::seconds>(now - s.last_activity).count()}});
    }
    boost::json::object o{{"swarms", t.swarms},
                          {"seeders", t.seeders},
                          {"leechers", t.leechers},
                          {"completed", t.completed},
                          {"announces", announces.load()},
                          {"announces_per_sec", announce_rate.load()},
                          {"scrapes", scrapes.load()},
                          {"connections", connections.load()},
                          {"uptime_seconds", std::chrono::duration_cast<std::chrono::seconds>(clock::now() - started).count()},
                          {"torrents", std::move(torrents)}};
    return boost::json::serialize(o);
  }

  std::string metrics_text() {
    const auto t = store.totals();
    std::string out;
    auto metric = [&](std::string_view name, std::string_view type, std::string_view help, std::int64_t v,
                      std::string_view labels = {}) {
      out += "# HELP " + std::string(name) + " " + std::string(help) + "\n# TYPE " + std::string(name) + " " +
             std::string(type) + "\n" + std::string(name) + std::string(labels) + " " + std::to_string(v) + "\n";
    };
    metric("sta_tracker_announces_total", "counter", "Announce requests received.", announces.load());
    metric("sta_tracker_scrapes_total", "counter", "Scrape requests received.", scrapes.load());
    metric("sta_tracker_completed_total", "counter", "Completed downloads reported.", t.completed);
    metric("sta_tracker_swarms", "gauge", "Torrents with peers.", t.swarms);
    metric("sta_tracker_connections", "gauge", "Open HTTP connections.", connections.load());
    out += "# HELP sta_tracker_peers Peers by state.\n# TYPE sta_tracker_peers gauge\n";
    out += "sta_tracker_peers{state=\"seeder\"} " + std::to_string(t.seeders) + "\n";
    out += "sta_tracker_peers{state=\"leecher\"} " + std::to_string(t.leechers) + "\n";
    out += "# HELP sta_tracker_failures_total Failed requests by reason.\n# TYPE sta_tracker_failures_total counter\n";
    std::lock_guard lock(failures_mutex);
    for (const auto& [reason, n] : failures) {
      std::string label;
      for (char c : reason) label += (c == '"' || c == '\\') ? '_' : c;
      out += "sta_tracker_failures_total{reason=\"" + label + "\"} " + std::to_string(n) + "\n";
    }
    return out;
  }

  http::response<http::string_body> handle(const http::request<http::empty_body>& req, const context_state& cs,
                                           const asio::ip::address& remote) {
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      auto res = reply(http::status::method_not_allowed, "only GET is supported\n", "text/plain");
      res.set(http::field::allow, "GET, HEAD");
      return res;
    }
    const std::string_view target = req.target();
    const auto q = target.find('?');
    const std::string_view path = target.substr(0, q);
    const std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    if (path == "/announce") return reply(http::status::ok, handle_announce(query, cs, remote), "text/plain");
    if (path == "/scrape") return reply(http::status::ok, handle_scrape(query, cs), "text/plain");
    if (path == "/") return reply(http::status::ok, std::string(dashboard_html()), "text/html; charset=utf-8");
    if (path == "/api/stats") return reply(http::status::ok, stats_json(), "application/json");
    if (path == "/metrics") return reply(http::status::ok, metrics_text(), "text/plain; version=0.0.4");
    return reply(http::status::not_found, "not found\n", "text/plain");
  }

  asio::awaitable<void> session(context_state& cs, tcp::socket socket) {
    boost::system::error_code ec;
    const auto remote = normalized(socket.remote_endpoint(ec).address());
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer(opts.max_header_bytes);
    for (;;) {
      http::request_parser<http::empty_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(opts.max_header_bytes));
      stream.expires_after(opts.idle_timeout);
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
          ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
        break;
      }
      if (ec) {
        // A request we cannot parse: say so and close.
        const bool too_big = ec == http::error::header_limit || ec == http::error::buffer_overflow;
        auto res = reply(too_big ? http::status::request_header_fields_too_large : http::status::bad_request,
                         too_big ? "request header too large\n" : "bad request\n", "text/plain");
        res.keep_alive(false);
        res.prepare_payload();
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        break;
      }
      const auto& req = parser.get();
      auto res = handle(req, cs, remote);
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      if (req.method() == http::verb::head) res.body().clear();
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !res.keep_alive()) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    connections.fetch_sub(1, std::memory_order_relaxed);
  }

  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
    for (;;) {
      context_state& cs = *contexts[next_context.fetch_add(1, std::memory_order_relaxed) % contexts.size()];
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(cs.ctx, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) continue;  // e.g. EMFILE: keep serving the connections we have
      if (connections.load(std::memory_order_relaxed) >= static_cast<std::int64_t>(opts.max_connections)) {
        socket.close(ec);
        continue;
      }
      connections.fetch_add(1, std::memory_order_relaxed);
      asio::co_spawn(cs.ctx, session(cs, std::move(socket)), asio::detached);
    }
  }

  void schedule_sweep() {
    sweep_timer.expires_after(std::max<std::chrono::seconds>(std::chrono::seconds(1), opts.interval / 2));
    sweep_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      store.expire(opts.now());
      schedule_sweep();
    });
  }

  void schedule_rate() {
    rate_timer.expires_after(std::chrono::seconds(1));
    rate_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      const auto total = announces.load();
      announce_rate.store(static_cast<double>(total - last_announces.exchange(total)));
      schedule_rate();
    });
  }
};

result<std::unique_ptr<server>, std::string> server::start(options opts) {
  auto p = std::make_unique<impl>(std::move(opts));
  for (const auto& t : p->opts.trusted_proxies) {
    boost::system::error_code ec;
    const auto a = asio::ip::make_address(t, ec);
    if (ec) return "--trusted-proxy: not an IP address: " + t;
    p->trusted.insert(normalized(a));
  }
  if (!p->opts.whitelist_path.empty()) {
    auto wl = load_whitelist(p->opts.whitelist_path);
    if (!wl) return wl.error();
    for (auto& cs : p->contexts) cs->allowed = *wl;
  }
  for (const auto& text : p->opts.listen) {
    auto ep = parse_endpoint(text);
    if (!ep) return "--listen: not ADDR:PORT: " + text;
    auto fd = io::listen_tcp(*ep);
    if (!fd) return "cannot listen on " + text + ": " + fd.error().message();
    auto local = io::local_endpoint(fd->get());
    p->bound.push_back(local ? local->to_string() : text);
    const auto protocol = ep->family() == AF_INET6 ? tcp::v6() : tcp::v4();
    p->acceptors.push_back(std::make_unique<tcp::acceptor>(p->contexts[0]->ctx, protocol, fd->release()));
  }
  for (auto& acceptor : p->acceptors) {
    asio::co_spawn(p->contexts[0]->ctx, p->accept_loop(*acceptor), asio::detached);
  }
  p->schedule_sweep();
  p->schedule_rate();
  for (auto& cs : p->contexts) {
    p->guards.push_back(asio::make_work_guard(cs->ctx));
    p->threads.emplace_back([cs = cs.get()] { cs->ctx.run(); });
  }
  return std::unique_ptr<server>(new server(std::move(p)));
}

server::server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

server::~server() { stop(); }

std::vector<std::string> server::endpoints() const { return impl_->bound; }

result<void, std::string> server::reload_whitelist() {
  if (impl_->opts.whitelist_path.empty()) return {};
  auto wl = load_whitelist(impl_->opts.whitelist_path);
  if (!wl) return wl.error();
  for (auto& cs : impl_->contexts) {
    asio::post(cs->ctx, [cs = cs.get(), allowed = *wl] { cs->allowed = allowed; });
  }
  return {};
}

void server::expire_now() { impl_->store.expire(impl_->opts.now()); }

void server::stop() {
  if (!impl_ || impl_->threads.empty()) return;
  // Stopping the loops abandons every connection; their frames, the
  // acceptors and the timers are destroyed with the contexts.
  for (auto& cs : impl_->contexts) cs->ctx.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  impl_->guards.clear();
}

}  // namespace sta::tracker
