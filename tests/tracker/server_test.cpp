#include "tracker/server.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>

#include "announce/announce.hpp"
#include "base/hex.hpp"
#include "announce/udp.hpp"
#include "support/temp_dir.hpp"
#include "tracker/connection_ids.hpp"

namespace sta::tracker {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

struct manual_clock {
  std::shared_ptr<std::atomic<clock::rep>> ticks = std::make_shared<std::atomic<clock::rep>>(0);
  clock::time_point operator()() const { return clock::time_point(clock::duration(ticks->load())); }
  void advance(clock::duration d) { ticks->fetch_add(d.count()); }
};

struct running {
  std::unique_ptr<server> srv;
  std::string v4;
  manual_clock time;
};

running start(options opts = {}) {
  running r;
  opts.listen = {"127.0.0.1:0"};
  opts.threads = 2;
  opts.now = r.time;
  auto s = server::start(std::move(opts));
  if (!s) throw std::runtime_error(s.error());
  r.srv = std::move(*s);
  r.v4 = r.srv->endpoints().front();
  return r;
}

class client {
 public:
  explicit client(const std::string& endpoint) : socket_(ctx_) {
    const auto colon = endpoint.rfind(':');
    std::string host = endpoint.substr(0, colon);
    if (host.front() == '[') host = host.substr(1, host.size() - 2);
    socket_.connect({asio::ip::make_address(host), static_cast<unsigned short>(std::stoi(endpoint.substr(colon + 1)))});
  }
  void send_raw(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  http::response<http::string_body> read() {
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res);
    return res;
  }
  http::response<http::string_body> get(const std::string& target) {
    send_raw("GET " + target + " HTTP/1.1\r\nHost: t\r\n\r\n");
    return read();
  }

 private:
  asio::io_context ctx_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

std::string announce_target(const std::string& torrent, char id, std::uint16_t port, std::int64_t left,
                            const std::string& extra = "") {
  announce::request r;
  r.info_hash = sha1(torrent);
  r.peer_id = std::string(20, id);
  r.port = port;
  r.left = left;
  std::string url = announce::build_announce_url("/announce", r);
  return url + extra;
}

announce::response parse(const http::response<http::string_body>& res) {
  EXPECT_EQ(res.result(), http::status::ok);
  auto r = announce::parse_response(res.body());
  if (!r) throw std::runtime_error(r.error());
  return *r;
}

TEST(TrackerServer, CompactIpv4PeersAndIpFromATrustedProxyOnly) {
  options o;
  o.trusted_proxies = {"127.0.0.1"};
  auto t = start(o);
  client c(t.v4);
  parse(c.get(announce_target("swarm", 'a', 1111, 10, "&ip=127.0.0.11")));
  const auto r = parse(c.get(announce_target("swarm", 'b', 2222, 10, "&ip=127.0.0.12")));
  ASSERT_EQ(r.peers.size(), 1u);
  EXPECT_EQ(r.peers[0].address_text(), "127.0.0.11");
  EXPECT_EQ(r.peers[0].port, 1111);
  EXPECT_EQ(r.incomplete, 2);
  EXPECT_EQ(r.interval, 1800);
  // Loopback alone is not trusted: ip= is ignored.
  auto plain = start();
  client d(plain.v4);
  parse(d.get(announce_target("swarm", 'a', 1111, 10, "&ip=203.0.113.5")));
  const auto r2 = parse(d.get(announce_target("swarm", 'b', 2222, 10)));
  ASSERT_EQ(r2.peers.size(), 1u);
  EXPECT_EQ(r2.peers[0].address_text(), "127.0.0.1");
}

std::string get_with(client& c, const std::string& target, const std::string& headers) {
  c.send_raw("GET " + target + " HTTP/1.1\r\nHost: t\r\n" + headers + "\r\n");
  return c.read().body();
}

TEST(TrackerServer, XForwardedForIsBelievedFromATrustedProxyOnly) {
  options o;
  o.trusted_proxies = {"127.0.0.1", "10.0.0.2"};
  auto t = start(o);
  client c(t.v4);
  // The last address that is not a trusted proxy is the client; what it
  // wrote itself (further left) does not count.
  get_with(c, announce_target("swarm", 'a', 1111, 10), "X-Forwarded-For: 198.51.100.66, 203.0.113.7, 10.0.0.2\r\n");
  auto r = announce::parse_response(get_with(c, announce_target("swarm", 'b', 2222, 10), ""));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->peers.size(), 1u);
  EXPECT_EQ(r->peers[0].address_text(), "203.0.113.7");
  // From a connection that is not a trusted proxy the header means nothing.
  auto plain = start();
  client d(plain.v4);
  get_with(d, announce_target("swarm", 'a', 1111, 10), "X-Forwarded-For: 203.0.113.7\r\n");
  r = announce::parse_response(get_with(d, announce_target("swarm", 'b', 2222, 10), ""));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->peers.size(), 1u);
  EXPECT_EQ(r->peers[0].address_text(), "127.0.0.1");
}

TEST(TrackerServer, PeerIdsOnlyWhenAskedFor) {
  auto t = start();
  client c(t.v4);
  parse(c.get(announce_target("swarm", 'a', 1111, 10)));
  const auto plain = parse(c.get(announce_target("swarm", 'b', 2222, 10, "&compact=0")));
  ASSERT_EQ(plain.peers.size(), 1u);
  EXPECT_TRUE(plain.peers[0].peer_id.empty());
  const auto asked = parse(c.get(announce_target("swarm", 'b', 2222, 10, "&compact=0&no_peer_id=0")));
  ASSERT_EQ(asked.peers.size(), 1u);
  EXPECT_EQ(asked.peers[0].peer_id, std::string(20, 'a'));
}

// A one-thread tracker on [::1], or why there is none.
result<std::unique_ptr<server>, std::string> start_on_ipv6_loopback() {
  options opts;
  opts.listen = {"[::1]:0"};
  opts.threads = 1;
  opts.now = manual_clock{};
  return server::start(opts);
}

TEST(TrackerServer, Ipv6PeersComeInPeers6) {
  auto s = start_on_ipv6_loopback();
  if (!s) GTEST_SKIP() << "no IPv6 loopback here: " << s.error();
  client c((*s)->endpoints().front());
  parse(c.get(announce_target("six", 'a', 1111, 10)));
  const auto res = c.get(announce_target("six", 'b', 2222, 10));
  EXPECT_NE(res.body().find("6:peers6"), std::string::npos);
  const auto r = parse(res);
  ASSERT_EQ(r.peers.size(), 1u);
  EXPECT_TRUE(r.peers[0].v6);
  EXPECT_EQ(r.peers[0].address_text(), "::1");
}

TEST(TrackerServer, MalformedAnnouncesGetAFailureReasonWithStatus200) {
  auto t = start();
  client c(t.v4);
  const std::pair<std::string, std::string> cases[] = {
      {"/announce", "missing info_hash"},
      {"/announce?info_hash=abc&peer_id=bbbbbbbbbbbbbbbbbbbb&port=1", "info_hash is not 20 bytes"},
      {announce_target("x", 'a', 1, 1, "&event=bogus"), "invalid event"},
      {"/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=99999", "invalid port"},
  };
  for (const auto& [target, reason] : cases) {
    const auto r = parse(c.get(target));
    EXPECT_EQ(r.failure_reason, reason) << target;
  }
  const auto metrics = c.get("/metrics").body();
  EXPECT_NE(metrics.find("sta_tracker_failures_total{reason=\"invalid port\"} 1"), std::string::npos) << metrics;
}

TEST(TrackerServer, KeepAliveWithPipelinedRequests) {
  auto t = start();
  client c(t.v4);
  c.send_raw("GET " + announce_target("p", 'a', 1, 0) + " HTTP/1.1\r\nHost: t\r\n\r\n" +
             "GET /api/stats HTTP/1.1\r\nHost: t\r\n\r\n" + "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n" +
             "POST /announce HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  const auto first = c.read();
  EXPECT_EQ(parse(first).complete, 1);
  const auto second = c.read();
  EXPECT_EQ(second.result(), http::status::ok);
  EXPECT_NE(second.body().find("\"seeders\":1"), std::string::npos) << second.body();
  EXPECT_EQ(c.read().result(), http::status::not_found);
  EXPECT_EQ(c.read().result(), http::status::method_not_allowed);
  EXPECT_EQ(c.get("/").result(), http::status::ok);
}

TEST(TrackerServer, OversizedHeaderIsRefused) {
  auto t = start();
  client c(t.v4);
  c.send_raw("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(20'000, 'x') + "\r\n\r\n");
  EXPECT_EQ(c.read().result(), http::status::request_header_fields_too_large);
}

TEST(TrackerServer, ExpiresSilentPeers) {
  options opts;
  opts.interval = 100s;
  auto t = start(opts);
  client c(t.v4);
  parse(c.get(announce_target("e", 'a', 1, 10)));
  t.time.advance(150s);
  parse(c.get(announce_target("e", 'b', 2, 10)));
  t.time.advance(60s);  // a: 210 s silent (> 2 x interval); b: 60 s
  t.srv->expire_now();
  const auto r = parse(c.get(announce_target("e", 'c', 3, 10)));
  ASSERT_EQ(r.peers.size(), 1u);
  EXPECT_EQ(r.peers[0].port, 2);
}

TEST(TrackerServer, ScrapeCountsAndFullScrapeIsOffByDefault) {
  auto t = start();
  client c(t.v4);
  parse(c.get(announce_target("s", 'a', 1, 0, "&event=completed")));
  parse(c.get(announce_target("s", 'b', 2, 5)));
  announce::request r;
  r.info_hash = sha1("s");
  std::string q = announce::build_announce_url("/scrape", r);
  q = q.substr(0, q.find('&'));
  const auto res = c.get(q);
  EXPECT_NE(res.body().find("8:completei1e10:downloadedi1e10:incompletei1e"), std::string::npos) << res.body();
  EXPECT_NE(c.get("/scrape").body().find("full scrape is disabled"), std::string::npos);
}

TEST(TrackerServer, WhitelistIsEnforcedAndReloaded) {
  test::temp_dir dir;
  const auto path = (dir / "allowed.txt").string();
  std::ofstream(path) << "# allowed torrents\n" << sha1("good").hex() << "\n";
  options opts;
  opts.whitelist_path = path;
  opts.threads = 1;
  auto t = start(opts);
  {
    client c(t.v4);
    EXPECT_EQ(parse(c.get(announce_target("bad", 'a', 1, 1))).failure_reason, "torrent not allowed on this tracker");
    EXPECT_TRUE(parse(c.get(announce_target("good", 'a', 1, 1))).failure_reason.empty());
  }
  std::ofstream(path) << sha1("bad").hex() << "\n";
  ASSERT_TRUE(t.srv->reload_whitelist());
  client c(t.v4);
  EXPECT_TRUE(parse(c.get(announce_target("bad", 'b', 1, 1))).failure_reason.empty());
  std::ofstream(path) << "not a hash\n";
  EXPECT_FALSE(t.srv->reload_whitelist());
}

TEST(Whitelist, ParsesHexLinesAndRejectsJunk) {
  auto ok = parse_whitelist("# c\n\n  " + sha1("a").hex() + "  \r\n" + sha1("b").hex());
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok->size(), 2u);
  auto bad = parse_whitelist(sha1("a").hex() + "\nxyz\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "line 2: not a 40-character hex info-hash");
}

TEST(TrackerServer, ReportsBadListenAddresses) {
  options opts;
  opts.listen = {"not-an-address"};
  auto s = server::start(opts);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("not ADDR:PORT"), std::string::npos);
}

// A blocking UDP client bound to its own loopback address.
class udp_client {
 public:
  udp_client(const std::string& from, const std::string& tracker) : to_(*parse_endpoint(tracker)) {
    fd_ = ::socket(to_.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const auto local = *parse_endpoint(to_.family() == AF_INET6 ? "[" + from + "]:0" : from + ":0");
    if (::bind(fd_, local.addr(), local.length) != 0) throw std::runtime_error("bind");
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~udp_client() { ::close(fd_); }
  udp_client(const udp_client&) = delete;
  udp_client& operator=(const udp_client&) = delete;

  void send(const std::vector<std::byte>& bytes) {
    if (::sendto(fd_, bytes.data(), bytes.size(), 0, to_.addr(), to_.length) != static_cast<ssize_t>(bytes.size()))
      throw std::runtime_error("sendto");
  }
  announce::udp::response ask(const announce::udp::request& r) {
    send(announce::udp::encode(r));
    return receive();
  }
  announce::udp::response receive() {
    std::array<std::byte, 4096> buf;
    const auto n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) throw std::runtime_error("no answer");
    auto r = announce::udp::decode_response(std::span(buf.data(), static_cast<std::size_t>(n)), to_.family() == AF_INET6);
    if (!r) throw std::runtime_error("bad answer");
    return *r;
  }
  std::uint64_t connect() {
    return std::get<announce::udp::connect_response>(ask(announce::udp::connect_request{7})).connection;
  }

 private:
  endpoint to_;
  int fd_ = -1;
};

announce::udp::announce_request udp_announce(std::uint64_t connection, const std::string& torrent, char id,
                                             std::uint16_t port) {
  announce::udp::announce_request a;
  a.connection = connection;
  a.transaction = 9;
  a.info_hash = sha1(torrent);
  a.peer_id.fill(static_cast<std::uint8_t>(id));
  a.left = 10;
  a.port = port;
  return a;
}

TEST(ConnectionIds, GoodForOneToTwoMinutesFromTheirAddressOnly) {
  const auto ids = connection_ids::random();
  const auto a = *parse_endpoint("198.51.100.1:6881");
  const auto id = ids.make(a, 600);
  EXPECT_TRUE(ids.valid(id, a, 600));
  EXPECT_TRUE(ids.valid(id, a.with_port(7000), 659));  // the address, whatever the port
  EXPECT_TRUE(ids.valid(id, a, 719));
  EXPECT_FALSE(ids.valid(id, a, 720));
  EXPECT_FALSE(ids.valid(id, *parse_endpoint("198.51.100.2:6881"), 600));
  EXPECT_FALSE(ids.valid(id ^ 1, a, 600));
  EXPECT_FALSE(ids.valid(id + (std::uint64_t{1} << 32), a, 600));  // a minute of its own choosing
  EXPECT_FALSE(connection_ids::random().valid(id, a, 600));        // another tracker's secret
  const auto six = *parse_endpoint("[2001:db8::1]:6881");
  EXPECT_TRUE(ids.valid(ids.make(six, 600), six, 600));
  EXPECT_FALSE(ids.valid(ids.make(six, 600), *parse_endpoint("[2001:db8::2]:6881"), 600));
}

TEST(TrackerServer, UdpAnnouncesKeepToTheWhitelist) {
  test::temp_dir dir;
  const auto path = (dir / "allowed.txt").string();
  std::ofstream(path) << sha1("good").hex() << "\n";
  options opts;
  opts.whitelist_path = path;
  auto t = start(opts);
  udp_client a("127.0.0.43", t.srv->udp_endpoints().front());
  const auto id = a.connect();
  const auto refused = a.ask(udp_announce(id, "bad", 'a', 1111));
  ASSERT_TRUE(std::holds_alternative<announce::udp::error_response>(refused));
  EXPECT_EQ(std::get<announce::udp::error_response>(refused).message, "torrent not allowed on this tracker");
  EXPECT_TRUE(std::holds_alternative<announce::udp::announce_response>(a.ask(udp_announce(id, "good", 'a', 1111))));
}

TEST(TrackerServer, UdpOverIpv6AnswersWithIpv6Peers) {
  auto s = start_on_ipv6_loopback();
  if (!s) GTEST_SKIP() << "no IPv6 loopback here: " << s.error();
  const auto at = (*s)->udp_endpoints().front();
  udp_client a("::1", at), b("::1", at);
  a.ask(udp_announce(a.connect(), "six", 'a', 1111));
  const auto r = b.ask(udp_announce(b.connect(), "six", 'b', 2222));
  const auto& got = std::get<announce::udp::announce_response>(r);
  ASSERT_EQ(got.peers.size(), 1u);
  EXPECT_TRUE(got.peers[0].v6);
  EXPECT_EQ(got.peers[0].address_text(), "::1");
  EXPECT_EQ(got.peers[0].port, 1111);
}

TEST(TrackerServer, UdpAnnounceAndScrapeWithConnectionIds) {
  auto t = start();
  const auto udp = t.srv->udp_endpoints();
  ASSERT_EQ(udp.size(), 1u);
  EXPECT_EQ(udp[0], t.v4);
  udp_client a("127.0.0.41", udp[0]), b("127.0.0.42", udp[0]);
  const auto ca = a.connect();
  auto r = a.ask(udp_announce(ca, "udp swarm", 'a', 1111));
  ASSERT_TRUE(std::holds_alternative<announce::udp::announce_response>(r));
  const auto cb = b.connect();
  r = b.ask(udp_announce(cb, "udp swarm", 'b', 2222));
  const auto& got = std::get<announce::udp::announce_response>(r);
  EXPECT_EQ(got.transaction, 9u);
  EXPECT_EQ(got.interval, 1800);
  EXPECT_EQ(got.leechers, 2);
  ASSERT_EQ(got.peers.size(), 1u);
  EXPECT_EQ(got.peers[0].address_text(), "127.0.0.41");
  EXPECT_EQ(got.peers[0].port, 1111);
  // a's id from b's address, and a made-up one: refused with a message.
  for (auto id : {ca, ca ^ 0xdeadbeef}) {
    r = b.ask(udp_announce(id, "udp swarm", 'b', 2222));
    ASSERT_TRUE(std::holds_alternative<announce::udp::error_response>(r));
    EXPECT_EQ(std::get<announce::udp::error_response>(r).message, "bad connection id");
  }
  // A malformed datagram gets nothing: the next answer is the scrape's.
  a.send(std::vector<std::byte>(5, std::byte{0x41}));
  announce::udp::scrape_request sc{ca, 11, {sha1("udp swarm"), sha1("unknown")}};
  r = a.ask(sc);
  const auto& files = std::get<announce::udp::scrape_response>(r).files;
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].incomplete, 2);
  EXPECT_EQ(files[1].incomplete, 0);
  // Two minutes on, the id is too old; a new connect works.
  t.time.advance(3min);
  EXPECT_TRUE(std::holds_alternative<announce::udp::error_response>(a.ask(udp_announce(ca, "udp swarm", 'a', 1111))));
  EXPECT_TRUE(std::holds_alternative<announce::udp::announce_response>(
      a.ask(udp_announce(a.connect(), "udp swarm", 'a', 1111))));
}

}  // namespace
}  // namespace sta::tracker
