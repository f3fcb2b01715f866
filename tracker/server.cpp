#include "tracker/server.hpp"

#include <boost/asio.hpp>
#include <boost/endian/conversion.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>

#include "announce/udp.hpp"
#include "base/hex.hpp"
#include "http/metrics.hpp"
#include "http/server.hpp"
#include "reactor/datagrams.hpp"
#include "reactor/reactor_group.hpp"
#include "reactor/socket.hpp"
#include "tracker/connection_ids.hpp"
#include "tracker/dashboard.hpp"

namespace sta::tracker {

namespace asio = boost::asio;

namespace {

struct digest_hash {
  std::size_t operator()(const sha1_digest& d) const noexcept {
    std::size_t h;
    std::memcpy(&h, d.bytes.data(), sizeof h);
    return h;
  }
};
using whitelist = std::unordered_set<sha1_digest, digest_hash>;

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

asio::ip::address address_of(const endpoint& e) {
  boost::system::error_code ec;
  return normalized(asio::ip::make_address(e.host_string(), ec));
}

std::uint64_t clock_seconds(clock::time_point t) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

namespace udp = announce::udp;

using http::status;

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
  // One whitelist per HTTP thread, read by that thread alone: a reload
  // posts the new one to each, so announces read it without a lock.
  std::vector<std::shared_ptr<const whitelist>> allowed;
  std::shared_ptr<const whitelist> initial;
  std::set<asio::ip::address> trusted;
  std::unique_ptr<http::server> web;
  std::unique_ptr<asio::steady_timer> sweep_timer;
  std::unique_ptr<asio::steady_timer> rate_timer;
  clock::time_point started = clock::now();

  std::atomic<std::int64_t> announces{0};
  std::atomic<std::int64_t> scrapes{0};
  std::atomic<std::int64_t> udp_connects{0};
  std::atomic<std::int64_t> udp_refused{0};  // a connection id that was not theirs, or too old
  std::atomic<std::int64_t> udp_malformed{0};

  // UDP: one reactor per core; each keeps its own whitelist copy (a reload
  // posts the new one), like the HTTP threads.
  connection_ids ids = connection_ids::random();
  std::unique_ptr<io::reactor_group> udp_group;
  std::vector<std::shared_ptr<const whitelist>> udp_allowed;
  std::vector<endpoint> udp_bound;
  std::atomic<std::int64_t> last_announces{0};
  std::atomic<double> announce_rate{0};
  std::mutex failures_mutex;  // failures are rare: bad requests only
  std::map<std::string, std::int64_t> failures;

  explicit impl(options o) : opts(std::move(o)), store(opts.limits, 2 * opts.interval) {}

  void count_failure(const std::string& reason) {
    std::lock_guard lock(failures_mutex);
    ++failures[reason];
  }

  // The client: the connection's address, or, when that is a trusted
  // proxy, the last address in X-Forwarded-For that is not one (the
  // entries before it are whatever the client wrote).
  asio::ip::address client_of(const http::request& req, const asio::ip::address& remote) const {
    if (!trusted.contains(remote)) return remote;
    const auto field = req.find("X-Forwarded-For");
    if (field == req.end()) return remote;
    std::string_view list = field->value();
    asio::ip::address client = remote;
    while (!list.empty()) {
      const auto comma = list.rfind(',');
      std::string_view item = comma == std::string_view::npos ? list : list.substr(comma + 1);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(0, comma);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      boost::system::error_code ec;
      const auto a = normalized(asio::ip::make_address(item, ec));
      if (ec) break;  // not an address: trust nothing further left
      client = a;
      if (!trusted.contains(a)) break;
    }
    return client;
  }

  std::string handle_announce(std::string_view query, const whitelist* allowed_here, const asio::ip::address& remote,
                              const asio::ip::address& client) {
    announces.fetch_add(1, std::memory_order_relaxed);
    auto req = announce::parse_announce(query);
    if (!req) {
      count_failure(req.error());
      return announce::encode_failure(req.error());
    }
    if (allowed_here && !allowed_here->contains(req->info_hash)) {
      count_failure("torrent not allowed");
      return announce::encode_failure("torrent not allowed on this tracker");
    }
    peer_address from = to_peer_address(client);
    if (!req->ip.empty() && trusted.contains(remote)) {
      boost::system::error_code ec;
      const auto claimed = asio::ip::make_address(req->ip, ec);
      if (!ec) from = to_peer_address(claimed);
    }
    auto res = store.announce(*req, from, opts.now(), req->peer_ids_asked && !req->compact);
    if (!res) {
      count_failure(res.error());
      return announce::encode_failure(res.error());
    }
    res->interval = opts.interval.count();
    res->min_interval = std::max<std::int64_t>(1, opts.interval.count() / 2);
    return announce::encode_response(*res, req->compact, !req->peer_ids_asked);
  }

  std::string handle_scrape(std::string_view query, const whitelist* allowed_here) {
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
    if (allowed_here) {
      std::erase_if(*hashes, [&](const sha1_digest& h) { return !allowed_here->contains(h); });
    }
    return announce::encode_scrape(store.scrape(*hashes));
  }

  void udp_reply(io::datagram_socket& sock, const endpoint& to, const udp::response& r) {
    const auto bytes = udp::encode(r);
    sock.send(to, bytes);
  }

  // One datagram on reactor `index`'s socket `sock`. Only connect is
  // answered without a valid connection id (16 bytes for 16); malformed
  // datagrams get nothing, and a request with a bad id a 25-byte error,
  // fewer bytes than any such request (36 or more).
  void handle_udp(io::datagram_socket& sock, unsigned index, const endpoint& from, std::span<const std::byte> data) {
    auto req = udp::decode_request(data);
    if (!req) {
      udp_malformed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const auto now = opts.now();
    if (const auto* c = std::get_if<udp::connect_request>(&*req)) {
      udp_connects.fetch_add(1, std::memory_order_relaxed);
      udp_reply(sock, from, udp::connect_response{c->transaction, ids.make(from, clock_seconds(now))});
      return;
    }
    if (const auto* sc = std::get_if<udp::scrape_request>(&*req)) {
      scrapes.fetch_add(1, std::memory_order_relaxed);
      if (!ids.valid(sc->connection, from, clock_seconds(now))) {
        udp_refused.fetch_add(1, std::memory_order_relaxed);
        udp_reply(sock, from, udp::error_response{sc->transaction, "bad connection id"});
        return;
      }
      auto files = store.scrape(sc->info_hashes);
      if (const auto* allowed_here = udp_allowed[index].get()) {
        for (auto& f : files)
          if (!allowed_here->contains(f.info_hash)) f = {f.info_hash, 0, 0, 0};
      }
      udp_reply(sock, from, udp::scrape_response{sc->transaction, std::move(files)});
      return;
    }
    const auto& a = std::get<udp::announce_request>(*req);
    announces.fetch_add(1, std::memory_order_relaxed);
    if (!ids.valid(a.connection, from, clock_seconds(now))) {
      udp_refused.fetch_add(1, std::memory_order_relaxed);
      udp_reply(sock, from, udp::error_response{a.transaction, "bad connection id"});
      return;
    }
    if (const auto* allowed_here = udp_allowed[index].get(); allowed_here && !allowed_here->contains(a.info_hash)) {
      count_failure("torrent not allowed");
      udp_reply(sock, from, udp::error_response{a.transaction, "torrent not allowed on this tracker"});
      return;
    }
    announce::request r;
    r.info_hash = a.info_hash;
    r.peer_id.assign(reinterpret_cast<const char*>(a.peer_id.data()), a.peer_id.size());
    r.port = a.port;
    r.uploaded = a.uploaded;
    r.downloaded = a.downloaded;
    r.left = a.left;
    r.ev = a.ev;
    r.numwant = a.numwant < 0 ? announce::kDefaultNumwant : std::min(a.numwant, announce::kMaxNumwant);
    // As HTTP clients send it (8 hex digits), so a key works over both.
    if (a.key != 0) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      r.key.resize(8);
      for (int k = 0; k < 8; ++k) r.key[static_cast<std::size_t>(k)] = kHex[(a.key >> (28 - 4 * k)) & 0xf];
    }
    peer_address who;
    const auto ip = from.ip();
    std::copy(ip.begin(), ip.end(), who.addr.begin());
    who.v6 = ip.size() == 16;
    if (a.ip != 0 && !trusted.empty() && trusted.contains(address_of(from))) {
      who = {};
      boost::endian::store_big_u32(who.addr.data(), a.ip);
    }
    // The reply is written in place: BEP 15's header, then the peers of
    // the socket's family straight from the store (one form per reply).
    std::array<std::byte, 20 + announce::kMaxNumwant * 18> out;
    compact_peers peers{std::span(out).subspan(20), from.family() == AF_INET6};
    auto res = store.announce(r, who, now, false, &peers);
    if (!res) {
      count_failure(res.error());
      udp_reply(sock, from, udp::error_response{a.transaction, res.error()});
      return;
    }
    const std::array<std::uint32_t, 5> header{static_cast<std::uint32_t>(udp::action::announce), a.transaction,
                                              static_cast<std::uint32_t>(opts.interval.count()),
                                              static_cast<std::uint32_t>(res->incomplete),
                                              static_cast<std::uint32_t>(res->complete)};
    for (std::size_t k = 0; k < header.size(); ++k)
      boost::endian::store_big_u32(reinterpret_cast<unsigned char*>(out.data() + 4 * k), header[k]);
    sock.send(from, std::span(out).first(20 + peers.used));
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
                          {"evicted", t.evicted},
                          {"ignored", t.ignored},
                          {"announces", announces.load()},
                          {"udp_connects", udp_connects.load()},
                          {"udp_refused", udp_refused.load()},
                          {"udp_malformed", udp_malformed.load()},
                          {"announces_per_sec", announce_rate.load()},
                          {"scrapes", scrapes.load()},
                          {"connections", web->connections()},
                          {"accept_errors", web->accept_errors()},
                          {"connections_refused", web->refused()},
                          {"uptime_seconds", std::chrono::duration_cast<std::chrono::seconds>(clock::now() - started).count()},
                          {"torrents", std::move(torrents)}};
    return boost::json::serialize(o);
  }

  std::string metrics() {
    const auto t = store.totals();
    http::metrics_text m;
    m.single("sta_tracker_announces_total", "counter", "Announce requests received.", static_cast<double>(announces.load()));
    m.single("sta_tracker_scrapes_total", "counter", "Scrape requests received.", static_cast<double>(scrapes.load()));
    m.single("sta_tracker_udp_connects_total", "counter", "UDP connect requests answered.",
             static_cast<double>(udp_connects.load()));
    m.single("sta_tracker_udp_refused_total", "counter", "UDP requests with a connection id that was not theirs or too old.",
             static_cast<double>(udp_refused.load()));
    m.single("sta_tracker_udp_malformed_total", "counter", "UDP datagrams that were not BEP 15 requests (not answered).",
             static_cast<double>(udp_malformed.load()));
    m.single("sta_tracker_completed_total", "counter", "Completed downloads reported.", static_cast<double>(t.completed));
    m.single("sta_tracker_swarms", "gauge", "Torrents with peers.", static_cast<double>(t.swarms));
    m.single("sta_tracker_swarms_evicted_total", "counter", "Swarms dropped at the swarm cap to make room.",
             static_cast<double>(t.evicted));
    m.single("sta_tracker_announces_ignored_total", "counter",
             "Announces naming a peer id registered from another address, without its key.",
             static_cast<double>(t.ignored));
    m.single("sta_tracker_connections", "gauge", "Open HTTP connections.", static_cast<double>(web->connections()));
    m.single("sta_tracker_accept_errors_total", "counter", "Connections the tracker could not accept (out of descriptors).",
             static_cast<double>(web->accept_errors()));
    m.single("sta_tracker_connections_refused_total", "counter",
             "Connections closed at once: over the cap in all or per address.", static_cast<double>(web->refused()));
    m.family("sta_tracker_peers", "gauge", "Peers by state.");
    m.sample("sta_tracker_peers", {{"state", "seeder"}}, static_cast<double>(t.seeders));
    m.sample("sta_tracker_peers", {{"state", "leecher"}}, static_cast<double>(t.leechers));
    m.family("sta_tracker_failures_total", "counter", "Failed requests by reason.");
    std::lock_guard lock(failures_mutex);
    for (const auto& [reason, n] : failures) m.sample("sta_tracker_failures_total", {{"reason", reason}}, static_cast<double>(n));
    return m.take();
  }

  http::response handle(const http::request& req, const http::client& who) {
    if (req.method() != http::bhttp::verb::get && req.method() != http::bhttp::verb::head) {
      auto res = http::reply(status::method_not_allowed, "only GET is supported\n", "text/plain");
      res.set(http::bhttp::field::allow, "GET, HEAD");
      return res;
    }
    const auto [path, query] = http::split_target(req.target());
    const whitelist* allowed_here = allowed[who.context].get();
    if (path == "/announce")
      return http::reply(status::ok, handle_announce(query, allowed_here, who.remote, client_of(req, who.remote)),
                         "text/plain");
    if (path == "/scrape") return http::reply(status::ok, handle_scrape(query, allowed_here), "text/plain");
    if (path == "/") return http::reply(status::ok, std::string(dashboard_html()), "text/html; charset=utf-8");
    if (path == "/api/stats") return http::reply(status::ok, stats_json(), "application/json");
    if (path == "/metrics") return http::reply(status::ok, metrics(), "text/plain; version=0.0.4");
    return http::reply(status::not_found, "not found\n", "text/plain");
  }

  // Every second, the store's next shards are swept (expired peers
  // dropped, the largest swarms noted), a bounded number of swarms at a
  // time: a small tracker is swept whole every second, a million swarms
  // every minute or so.
  void schedule_sweep() {
    sweep_timer->expires_after(std::chrono::seconds(1));
    sweep_timer->async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      constexpr std::uint64_t kSwarmsPerSecond = 20'000;
      const auto before = store.swarms_visited();
      const auto now = opts.now();
      for (std::size_t k = 0; k < swarm_store::kShards && store.swarms_visited() - before < kSwarmsPerSecond; ++k)
        store.expire_next(now);
      schedule_sweep();
    });
  }

  // A socket of reactor `index` on `at`: served until the reactor stops.
  static io::task<void> udp_socket_task(impl& self, io::reactor& r, unsigned index, unique_fd fd) {
    io::datagram_socket* me = nullptr;
    io::datagram_socket sock(r, std::move(fd), {}, [&self, &me, index](const endpoint& from, std::span<const std::byte> d) {
      self.handle_udp(*me, index, from, d);
    });
    me = &sock;
    co_await sock.serve();
  }

  result<void, std::string> start_udp(unsigned threads) {
    io::reactor_group::options o;
    o.reactors = threads;
    auto group = io::reactor_group::start(o);
    if (!group) return "UDP: " + group.error();
    udp_group = std::move(*group);
    udp_allowed.assign(udp_group->size(), initial);
    // Every reactor binds its own socket on each HTTP endpoint's address
    // and port (SO_REUSEPORT); the kernel spreads clients over them.
    std::vector<std::vector<unique_fd>> fds(udp_group->size());
    for (const auto& at : web->endpoints()) {
      for (unsigned i = 0; i < udp_group->size(); ++i) {
        auto fd = io::bound_udp(at, true);
        if (!fd) return "cannot listen on UDP " + at.to_string() + ": " + fd.error().message();
        fds[i].push_back(std::move(*fd));
      }
      udp_bound.push_back(at);
    }
    for (unsigned i = 0; i < udp_group->size(); ++i) {
      auto& r = udp_group->at(i);
      for (auto& fd : fds[i]) {
        r.post([this, &r, i, raw = fd.release()] { r.spawn(udp_socket_task(*this, r, i, unique_fd(raw))); });
      }
    }
    return {};
  }

  void schedule_rate() {
    rate_timer->expires_after(std::chrono::seconds(1));
    rate_timer->async_wait([this](boost::system::error_code ec) {
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
    p->initial = *wl;
  }
  http::server_options so;
  for (const auto& text : p->opts.listen) {
    auto ep = parse_endpoint(text);
    if (!ep) return "--listen: not ADDR:PORT: " + text;
    so.listen.push_back(*ep);
  }
  so.threads = p->opts.threads ? p->opts.threads : std::max(1u, std::thread::hardware_concurrency());
  so.max_connections = p->opts.max_connections;
  so.max_connections_per_ip = p->opts.max_connections_per_ip;
  so.unlimited.assign(p->trusted.begin(), p->trusted.end());  // a proxy carries many clients
  so.idle_timeout = p->opts.idle_timeout;
  so.max_header_bytes = p->opts.max_header_bytes;
  // Every whitelist is in place before the first request can arrive.
  p->allowed.assign(so.threads, p->initial);
  impl* raw = p.get();
  auto web = http::server::start(std::move(so), [raw](const http::request& req, const http::client& who) {
    return raw->handle(req, who);
  });
  if (!web) return web.error();
  p->web = std::move(*web);
  if (p->opts.udp) {
    if (auto r = p->start_udp(p->web->contexts()); !r) return r.error() + " (--no-udp serves HTTP only)";
  }
  p->sweep_timer = std::make_unique<asio::steady_timer>(p->web->context(0));
  p->rate_timer = std::make_unique<asio::steady_timer>(p->web->context(0));
  asio::post(p->web->context(0), [raw] {
    raw->schedule_sweep();
    raw->schedule_rate();
  });
  return std::unique_ptr<server>(new server(std::move(p)));
}

server::server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

server::~server() { stop(); }

std::size_t server::max_connections() const { return impl_->web->max_connections(); }
std::uint64_t server::descriptor_limit() const { return impl_->web->descriptor_limit(); }

std::vector<std::string> server::udp_endpoints() const {
  std::vector<std::string> out;
  for (const auto& e : impl_->udp_bound) out.push_back(e.to_string());
  return out;
}

std::vector<std::string> server::endpoints() const {
  std::vector<std::string> out;
  for (const auto& e : impl_->web->endpoints()) out.push_back(e.to_string());
  return out;
}

result<void, std::string> server::reload_whitelist() {
  if (impl_->opts.whitelist_path.empty()) return {};
  auto wl = load_whitelist(impl_->opts.whitelist_path);
  if (!wl) return wl.error();
  for (unsigned i = 0; i < impl_->web->contexts(); ++i) {
    asio::post(impl_->web->context(i), [p = impl_.get(), i, allowed = *wl] { p->allowed[i] = allowed; });
  }
  if (impl_->udp_group) {
    for (unsigned i = 0; i < impl_->udp_group->size(); ++i)
      impl_->udp_group->at(i).post([p = impl_.get(), i, allowed = *wl] { p->udp_allowed[i] = allowed; });
  }
  return {};
}

void server::expire_now() { impl_->store.expire(impl_->opts.now()); }

void server::stop() {
  if (!impl_ || !impl_->web) return;
  impl_->web->stop();
  if (impl_->udp_group) impl_->udp_group->stop();
  // The timers belong to the stopped contexts; they go before the server.
  impl_->sweep_timer.reset();
  impl_->rate_timer.reset();
  impl_->web.reset();
}

}  // namespace sta::tracker
