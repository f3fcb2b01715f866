// sta-bench tracker: loads an HTTP tracker with valid announces over
// keep-alive connections driven by sta's io_uring reactors. Each request
// names a random info-hash from K swarms and a random peer id. With --fill,
// it instead sends exactly swarms x peers announces with distinct peer ids,
// to size a tracker's memory. With --udp (a udp:// URL), each "connection"
// is a UDP socket that connects (BEP 15) and then announces, one request
// in flight at a time, connecting again every minute.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <latch>
#include <memory>
#include <mutex>
#include <cstring>
#include <optional>
#include <random>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "announce/announce.hpp"
#include "announce/udp.hpp"
#include "commands.hpp"
#include "reactor/ops.hpp"
#include "reactor/reactor_group.hpp"
#include "reactor/socket.hpp"

namespace sta::bench {
namespace {

namespace http = boost::beast::http;
using clock_type = std::chrono::steady_clock;

struct tracker_args {
  std::string url;
  unsigned connections = 32;
  double seconds = 10;
  unsigned swarms = 1000;
  unsigned peers = 1000;
  unsigned reactors = 2;
  bool fill = false;
  bool udp = false;
  bool list_swarms = false;
  bool json = false;
};

// The swarms' info-hashes: the same every run, so a tracker in whitelist
// mode can be given them (--list-swarms prints them).
std::vector<sha1_digest> swarm_hashes(unsigned n) {
  std::vector<sha1_digest> out;
  std::mt19937_64 rng(12345);
  for (unsigned i = 0; i < n; ++i) {
    std::string raw(20, '\0');
    for (auto& c : raw) c = static_cast<char>(rng());
    out.push_back(sha1_digest::from_raw(raw));
  }
  return out;
}

struct load_state {
  const tracker_args& args;
  endpoint server;
  std::string host;
  std::string path;
  std::vector<sha1_digest> hashes;
  clock_type::time_point end;
  std::atomic<std::int64_t> next_fill{0};
  std::atomic<std::int64_t> errors{0};
  std::mutex latencies_mutex;
  std::vector<std::uint32_t> latencies_us;
  std::latch done;
  load_state(const tracker_args& a, std::ptrdiff_t n) : args(a), done(n) {}
};

std::string peer_id_for(std::uint64_t n) {
  std::string id = "-SB0100-";
  for (int i = 0; i < 12; ++i) {
    id.push_back(static_cast<char>('a' + n % 26));
    n /= 26;
  }
  return id;
}

// Sends one request and reads one response; false on a broken connection.
// keep_alive says whether the server keeps the connection open after it.
io::task<bool> exchange(io::reactor& r, int sock, const std::string& request, std::vector<std::byte>& buf,
                        bool& failed, bool& keep_alive) {
  std::size_t sent = 0;
  while (sent < request.size()) {
    auto n = co_await io::send(r, sock, std::as_bytes(std::span(request)).subspan(sent));
    if (!n) co_return false;
    sent += *n;
  }
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  while (!parser.is_done()) {
    auto n = co_await io::recv(r, sock, buf);
    if (!n || *n == 0) co_return false;
    std::size_t used = 0;
    while (used < *n && !parser.is_done()) {
      boost::system::error_code ec;
      used += parser.put(boost::asio::buffer(buf.data() + used, *n - used), ec);
      if (ec == http::error::need_more) break;
      if (ec) co_return false;
    }
  }
  const auto& res = parser.get();
  failed = res.result() != http::status::ok || res.body().find("failure reason") != std::string::npos;
  keep_alive = res.keep_alive();
  co_return true;
}

io::task<unique_fd> open_connection(io::reactor& r, const load_state& s) {
  auto sock = io::tcp_socket(s.server.family());
  if (!sock || !co_await io::connect(r, sock->get(), s.server.addr(), s.server.length)) co_return unique_fd();
  co_return std::move(*sock);
}

// Keeps a connection while the server allows it and opens a new one when the
// server closes it (opentracker answers one request per connection), as
// HTTP load generators such as wrk do.
io::task<void> client(io::reactor& r, load_state& s, unsigned seed) {
  std::vector<std::uint32_t> latencies;
  std::vector<std::byte> buf(64 << 10);
  std::mt19937_64 rng(seed);
  unique_fd sock;
  const std::int64_t total = static_cast<std::int64_t>(s.args.swarms) * s.args.peers;
  for (;;) {
    announce::request a;
    if (s.args.fill) {
      const std::int64_t n = s.next_fill.fetch_add(1);
      if (n >= total) break;
      a.info_hash = s.hashes[static_cast<std::size_t>(n % s.args.swarms)];
      a.peer_id = peer_id_for(static_cast<std::uint64_t>(n));
      a.left = n % 3 == 0 ? 0 : 1000;
    } else {
      if (clock_type::now() >= s.end) break;
      a.info_hash = s.hashes[rng() % s.hashes.size()];
      a.peer_id = peer_id_for(rng());
      a.left = rng() % 3 == 0 ? 0 : 1000;
    }
    a.port = static_cast<std::uint16_t>(1024 + rng() % 60000);
    a.ev = announce::event::started;
    const std::string request =
        "GET " + announce::build_announce_url(s.path, a) + " HTTP/1.1\r\nHost: " + s.host + "\r\n\r\n";
    const auto start = clock_type::now();
    bool failed = false;
    bool keep_alive = false;
    bool ok = false;
    // A reused connection the server already closed (opentracker closes
    // after every reply without saying so) gets one retry on a fresh one.
    for (int attempt = 0; attempt < 2 && !ok; ++attempt) {
      const bool reused = static_cast<bool>(sock);
      if (!sock) sock = co_await open_connection(r, s);
      ok = sock && co_await exchange(r, sock.get(), request, buf, failed, keep_alive);
      if (!ok) sock.reset();
      if (!ok && !reused) break;
    }
    if (!ok) {
      if (s.errors.fetch_add(1) > 1000) break;  // the server is gone
      continue;
    }
    if (!keep_alive) sock.reset();
    if (failed) s.errors.fetch_add(1);
    latencies.push_back(static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - start).count()));
  }
  {
    std::lock_guard lock(s.latencies_mutex);
    s.latencies_us.insert(s.latencies_us.end(), latencies.begin(), latencies.end());
  }
  s.done.count_down();
}

// One UDP "connection": connect, then announces until the end; a request
// without an answer within a second counts as an error.
io::task<void> udp_client(io::reactor& r, load_state& s, unsigned seed) {
  namespace udp = announce::udp;
  std::vector<std::uint32_t> latencies;
  std::vector<std::byte> buf(4096);
  std::mt19937_64 rng(seed);
  auto sock = io::bound_udp(s.server.family() == AF_INET6 ? *parse_endpoint("[::]:0") : *parse_endpoint("0.0.0.0:0"));
  if (sock && ::connect(sock->get(), s.server.addr(), s.server.length) != 0) sock = make_error_code(std::errc::io_error);
  std::optional<std::uint64_t> connection;
  clock_type::time_point connected;
  while (sock && clock_type::now() < s.end) {
    const auto start = clock_type::now();
    udp::request req;
    const auto transaction = static_cast<std::uint32_t>(rng());
    const bool connecting = !connection || start - connected > std::chrono::seconds(60);
    if (connecting) {
      req = udp::connect_request{transaction};
    } else {
      udp::announce_request a;
      a.connection = *connection;
      a.transaction = transaction;
      a.info_hash = s.hashes[rng() % s.hashes.size()];
      const auto id = peer_id_for(rng());
      std::memcpy(a.peer_id.data(), id.data(), a.peer_id.size());
      a.left = rng() % 3 == 0 ? 0 : 1000;
      a.ev = announce::event::started;
      a.port = static_cast<std::uint16_t>(1024 + rng() % 60000);
      a.key = static_cast<std::uint32_t>(rng());
      req = a;
    }
    const auto bytes = udp::encode(req);
    if (!co_await io::send(r, sock->get(), bytes)) break;
    // The answer to this request: a late answer to an earlier one (its
    // transaction id says so) is skipped.
    result<udp::response> res = make_error_code(std::errc::timed_out);
    const auto deadline = start + std::chrono::seconds(1);
    while (clock_type::now() < deadline) {
      auto n = co_await io::recv(r, sock->get(), buf).deadline(deadline - clock_type::now());
      if (!n) break;
      res = udp::decode_response(std::span(buf.data(), *n), s.server.family() == AF_INET6);
      if (!res) break;
      const auto tx = std::visit([](const auto& m) { return m.transaction; }, *res);
      if (tx == transaction) break;
      res = make_error_code(std::errc::timed_out);
    }
    if (!res) {
      if (r.stopping()) break;
      s.errors.fetch_add(1);
      continue;
    }
    if (const auto* c = std::get_if<udp::connect_response>(&*res)) {
      connection = c->connection;
      connected = clock_type::now();
      continue;
    }
    if (std::holds_alternative<udp::error_response>(*res)) {
      s.errors.fetch_add(1);
      connection.reset();
      continue;
    }
    latencies.push_back(static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - start).count()));
  }
  {
    std::lock_guard lock(s.latencies_mutex);
    s.latencies_us.insert(s.latencies_us.end(), latencies.begin(), latencies.end());
  }
  s.done.count_down();
}

int run_tracker(const tracker_args& args) {
  if (args.list_swarms) {
    for (const auto& h : swarm_hashes(args.swarms)) std::cout << h.hex() << '\n';
    return 0;
  }
  auto url = boost::urls::parse_uri(args.url);
  const std::string scheme = args.udp ? "udp" : "http";
  if (!url || url->scheme() != scheme || !url->has_port()) {
    std::cerr << "sta-bench: --url must be " << scheme << "://ADDR:PORT/path\n";
    return 2;
  }
  if (args.udp && args.fill) {
    std::cerr << "sta-bench: --fill is for HTTP trackers\n";
    return 2;
  }
  std::string host(url->encoded_host());
  auto server = parse_endpoint(host + ":" + std::string(url->port()));
  if (!server) {
    std::cerr << "sta-bench: --url needs a numeric address: " << args.url << '\n';
    return 2;
  }
  io::reactor_group::options opts;
  opts.reactors = args.reactors;
  auto group = io::reactor_group::start(opts);
  if (!group) {
    std::cerr << "sta-bench: " << group.error() << '\n';
    return 1;
  }
  load_state s(args, static_cast<std::ptrdiff_t>(args.connections));
  s.server = *server;
  s.host = host;
  s.path = std::string(url->encoded_path());
  s.hashes = swarm_hashes(args.swarms);
  const auto start = clock_type::now();
  s.end = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(args.seconds));
  auto& g = **group;
  for (unsigned i = 0; i < args.connections; ++i) {
    io::reactor& r = g.at(i % g.size());
    if (args.udp)
      r.post([&r, &s, i] { r.spawn(udp_client(r, s, i + 1)); });
    else
      r.post([&r, &s, i] { r.spawn(client(r, s, i + 1)); });
  }
  s.done.wait();
  const double secs = std::chrono::duration<double>(clock_type::now() - start).count();
  g.stop();

  auto& lat = s.latencies_us;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double q) -> double { return lat.empty() ? 0 : lat[static_cast<std::size_t>(q * (lat.size() - 1))]; };
  const double rps = static_cast<double>(lat.size()) / secs;
  if (args.json) {
    boost::json::object o{{"requests", lat.size()},          {"seconds", secs},      {"requests_per_sec", rps},
                          {"p50_us", pct(0.5)},               {"p99_us", pct(0.99)}, {"errors", s.errors.load()},
                          {"connections", args.connections}};
    std::cout << boost::json::serialize(o) << '\n';
  } else {
    std::cout << "tracker " << args.url << ": " << lat.size() << " announces in " << secs << " s = " << rps
              << " req/s, p50 " << pct(0.5) << " us, p99 " << pct(0.99) << " us, " << s.errors.load()
              << " errors\n";
  }
  return 0;
}

}  // namespace

command add_tracker(CLI::App& app) {
  auto args = std::make_shared<tracker_args>();
  auto* sub = app.add_subcommand("tracker", "Load an HTTP or UDP tracker with announces");
  sub->add_option("--url", args->url, "Announce URL, http://ADDR:PORT/announce (udp://... with --udp)");
  sub->add_flag("--udp", args->udp, "A UDP tracker (BEP 15): connect, then announces");
  sub->add_option("--connections", args->connections,
                  "Keep-alive connections, or UDP sockets with one request in flight each (default 32)")
      ->check(CLI::Range(1u, 10000u));
  sub->add_option("--seconds", args->seconds, "How long to run (default 10)")->check(CLI::Range(0.1, 3600.0));
  sub->add_option("--swarms", args->swarms, "Distinct info-hashes (default 1000)")->check(CLI::Range(1u, 10000000u));
  sub->add_option("--peers", args->peers, "With --fill: peers per swarm (default 1000)")->check(CLI::Range(1u, 100000u));
  sub->add_option("--reactors", args->reactors, "Client reactor threads (default 2)")->check(CLI::Range(1u, 256u));
  sub->add_flag("--fill", args->fill, "Send exactly swarms x peers distinct announces, then stop");
  sub->add_flag("--list-swarms", args->list_swarms, "Print the swarms' info-hashes (for a whitelist) and exit");
  sub->add_flag("--json", args->json, "Print one JSON object");
  return {sub, [args] { return run_tracker(*args); }};
}

}  // namespace sta::bench
