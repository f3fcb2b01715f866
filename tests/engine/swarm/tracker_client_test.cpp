#include "swarm/tracker_client.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "announce/udp.hpp"
#include "reactor/resolve.hpp"
#include "reactor/socket.hpp"
#include "support/run_on_reactor.hpp"

namespace sta::swarm {
namespace {

using namespace std::chrono_literals;

// A tracker that answers correctly, one byte every 20 ms: every read sees
// progress, the whole answer takes seconds.
class trickling_tracker {
 public:
  trickling_tracker() {
    listener_ = std::move(*io::listen_tcp(*parse_endpoint("127.0.0.1:0")));
    port_ = io::local_endpoint(listener_.get())->port();
    thread_ = std::thread([this] {
      unique_fd conn(::accept(listener_.get(), nullptr, nullptr));
      if (!conn) return;
      char buf[4096];
      [[maybe_unused]] const auto n = ::recv(conn.get(), buf, sizeof buf, 0);
      const std::string body = "d8:intervali1800e5:peers0:e";
      const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      for (char c : answer) {
        if (::send(conn.get(), &c, 1, MSG_NOSIGNAL) != 1) return;
        std::this_thread::sleep_for(20ms);
      }
    });
  }
  ~trickling_tracker() {
    ::shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/announce"; }

 private:
  unique_fd listener_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

announce::request sample_request() {
  announce::request r;
  r.peer_id = std::string(20, 'p');
  r.port = 6881;
  return r;
}

TEST(TrackerClient, TheWholeAnnounceHasOneDeadline) {
  trickling_tracker tracker;
  std::string why;
  test::run_on_reactor([&](io::reactor& r) -> io::task<void> {
    auto got = co_await http_announce(r, tracker.url(), sample_request(), nullptr, 300ms);
    why = got ? "answered" : got.error();
  });
  EXPECT_NE(why.find("timed out"), std::string::npos) << why;
}

// A UDP tracker (BEP 15) written by hand: drops the first `drop`
// datagrams, answers connects with a new id each, announces that carry the
// last id with one peer, or every announce with an error when `refuse`.
class scripted_udp_tracker {
 public:
  explicit scripted_udp_tracker(int drop, bool refuse = false, std::string at_text = "127.0.0.52:0")
      : drop_(drop), refuse_(refuse) {
    const auto at = *parse_endpoint(at_text);
    sock_.reset(::socket(at.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ::bind(sock_.get(), at.addr(), at.length);
    timeval tv{0, 50'000};
    ::setsockopt(sock_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    at_ = *io::local_endpoint(sock_.get());
    thread_ = std::thread([this] { serve(); });
  }
  ~scripted_udp_tracker() {
    quit_ = true;
    thread_.join();
  }
  std::string url() const { return "udp://" + at_.to_string() + "/announce"; }
  int datagrams() const { return datagrams_; }
  int connects() const { return connects_; }
  int announces() const { return announces_; }

 private:
  void serve() {
    namespace udp = announce::udp;
    std::vector<std::byte> buf(2048);
    while (!quit_) {
      sockaddr_storage from{};
      socklen_t len = sizeof from;
      const ssize_t n = ::recvfrom(sock_.get(), buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) continue;
      if (++datagrams_ <= drop_) continue;
      auto req = udp::decode_request(std::span(buf).first(static_cast<std::size_t>(n)));
      if (!req) continue;
      udp::response reply;
      if (const auto* c = std::get_if<udp::connect_request>(&*req)) {
        ++connects_;
        reply = udp::connect_response{c->transaction, ++id_};
      } else if (const auto* a = std::get_if<udp::announce_request>(&*req)) {
        ++announces_;
        if (refuse_ || a->connection != id_) {
          reply = udp::error_response{a->transaction, "go away"};
        } else {
          // A peer of the family the request came over.
          announce::peer p;
          p.v6 = from.ss_family == AF_INET6;
          p.addr = {10, 1, 2, 3};
          p.port = 6881;
          reply = udp::announce_response{a->transaction, 1800, 1, 2, {p}};
        }
      } else {
        continue;
      }
      const auto out = udp::encode(reply);
      ::sendto(sock_.get(), out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }

  unique_fd sock_;
  endpoint at_;
  const int drop_;
  const bool refuse_;
  std::atomic<int> datagrams_{0};
  std::atomic<int> connects_{0};
  std::atomic<int> announces_{0};
  std::uint64_t id_ = 0x1122334455667788ull;
  std::atomic<bool> quit_{false};
  std::thread thread_;
};

// Fast retransmission for tests, on a clock the test moves.
udp_timing test_timing(std::chrono::steady_clock::time_point* now) {
  udp_timing t;
  t.first_wait = 400ms;
  t.tries = 4;
  t.now = [now] { return *now; };
  return t;
}

TEST(UdpTrackerClient, SendsAgainWhenThePacketsAreLost) {
  scripted_udp_tracker tracker(2);
  auto now = std::chrono::steady_clock::now();
  const auto timing = test_timing(&now);
  udp_connections cache;
  std::string got;
  test::run_on_reactor([&](io::reactor& r) -> io::task<void> {
    auto a = co_await udp_announce(r, tracker.url(), sample_request(), nullptr, cache, timing, {});
    got = a ? std::to_string(a->peers.size()) + " " + a->peers[0].address_text() + " " + std::to_string(a->interval)
            : a.error();
  });
  EXPECT_EQ(got, "1 10.1.2.3 1800");
  // Two lost (the connect, then its first retry), the connect, the announce.
  EXPECT_EQ(tracker.datagrams(), 4);
}

TEST(UdpTrackerClient, OverIPv6PeersComeInTheIPv6Form) {
  scripted_udp_tracker tracker(0, false, "[::1]:0");
  auto now = std::chrono::steady_clock::now();
  const auto timing = test_timing(&now);
  udp_connections cache;
  std::string got;
  test::run_on_reactor([&](io::reactor& r) -> io::task<void> {
    auto a = co_await udp_announce(r, tracker.url(), sample_request(), nullptr, cache, timing, {});
    got = a ? to_endpoint(a->peers.at(0)).to_string() : a.error();
  });
  EXPECT_EQ(got, "[a01:203::]:6881");
}

TEST(UdpTrackerClient, AConnectionIdServesAMinuteThenItConnectsAgain) {
  scripted_udp_tracker tracker(0);
  auto now = std::chrono::steady_clock::now();
  const auto timing = test_timing(&now);
  udp_connections cache;
  int answered = 0;
  test::run_on_reactor([&](io::reactor& r) -> io::task<void> {
    for (int i = 0; i < 3; ++i) {
      if (i == 2) now += 61s;
      auto a = co_await udp_announce(r, tracker.url(), sample_request(), nullptr, cache, timing, {});
      if (a) ++answered;
    }
  });
  EXPECT_EQ(answered, 3);
  EXPECT_EQ(tracker.connects(), 2);
  EXPECT_EQ(tracker.announces(), 3);
}

TEST(UdpTrackerClient, TheTrackersErrorAndSilenceAreSaid) {
  auto now = std::chrono::steady_clock::now();
  auto timing = test_timing(&now);
  udp_connections cache;
  std::string refused, silent;
  scripted_udp_tracker refusing(0, true);
  scripted_udp_tracker deaf(1000);
  timing.tries = 2;
  test::run_on_reactor([&](io::reactor& r) -> io::task<void> {
    auto a = co_await udp_announce(r, refusing.url(), sample_request(), nullptr, cache, timing, {});
    refused = a ? "answered" : a.error();
    auto b = co_await udp_announce(r, deaf.url(), sample_request(), nullptr, cache, timing, {});
    silent = b ? "answered" : b.error();
  });
  EXPECT_EQ(refused, "tracker: go away");
  EXPECT_TRUE(cache.entries.empty());  // the id that an announce was refused with is dropped
  EXPECT_EQ(silent, "no answer from the tracker (2 tries)");
  EXPECT_EQ(deaf.datagrams(), 2);
}

TEST(Resolve, NamesAndNumericAddresses) {
  std::string v4, v6, name, bad;
  test::run_on_reactor([&](io::reactor& r) -> io::task<void> {
    auto a = co_await io::resolve(r, "127.0.0.7", 80, 1s);
    v4 = a ? a->to_string() : a.error();
    auto b = co_await io::resolve(r, "::1", 81, 1s);
    v6 = b ? b->to_string() : b.error();
    auto c = co_await io::resolve(r, "localhost", 82, 10s);
    name = c ? c->host_string() : c.error();
    auto d = co_await io::resolve(r, "no such host.invalid", 83, 10s);
    bad = d ? "resolved" : d.error();
  });
  EXPECT_EQ(v4, "127.0.0.7:80");
  EXPECT_EQ(v6, "[::1]:81");
  EXPECT_TRUE(name == "127.0.0.1" || name == "::1") << name;
  EXPECT_NE(bad.find("cannot resolve"), std::string::npos) << bad;
}

}  // namespace
}  // namespace sta::swarm
