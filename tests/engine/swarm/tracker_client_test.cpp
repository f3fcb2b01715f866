#include "swarm/tracker_client.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

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
