#include "http/server.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <boost/asio.hpp>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <thread>

namespace sta::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

std::unique_ptr<server> start(server_options o) {
  o.listen = {*parse_endpoint("127.0.0.1:0")};
  o.threads = 1;
  auto s = server::start(std::move(o), [](const request&, const client&) { return reply(status::ok, "ok", "text/plain"); });
  if (!s) throw std::runtime_error(s.error());
  return std::move(*s);
}

std::size_t open_descriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n - 1;  // the iterator's own
}

// A blocking client from `from`; ok() sends one request and says whether an
// answer came (false: the server closed the connection).
struct conn {
  asio::io_context ctx;
  tcp::socket s{ctx};
  conn(const endpoint& to, const std::string& from) {
    s.open(tcp::v4());
    s.bind({asio::ip::make_address(from), 0});
    s.connect({asio::ip::make_address(to.host_string()), to.port()});
  }
  bool ok() {
    boost::system::error_code ec;
    asio::write(s, asio::buffer(std::string("GET / HTTP/1.1\r\nHost: t\r\n\r\n")), ec);
    if (ec) return false;
    std::array<char, 512> buf;
    const auto n = s.read_some(asio::buffer(buf), ec);
    return !ec && std::string_view(buf.data(), n).find("200 OK") != std::string_view::npos;
  }
};

// Waits (boundedly) for the server to see a connection go.
void wait_for_connections(const server& s, std::int64_t n) {
  for (auto end = std::chrono::steady_clock::now() + 10s; s.connections() != n;) {
    ASSERT_LT(std::chrono::steady_clock::now(), end) << s.connections();
    std::this_thread::yield();
  }
}

TEST(HttpServer, ConnectionsPerAddressAreCapped) {
  server_options o;
  o.max_connections_per_ip = 2;
  auto s = start(o);
  const auto at = s->endpoints().front();
  auto a = std::make_unique<conn>(at, "127.0.0.1");
  conn b(at, "127.0.0.1");
  ASSERT_TRUE(a->ok());
  ASSERT_TRUE(b.ok());
  conn c(at, "127.0.0.1");
  EXPECT_FALSE(c.ok());
  conn other(at, "127.0.0.2");
  EXPECT_TRUE(other.ok());
  EXPECT_EQ(s->refused(), 1);
  a.reset();
  wait_for_connections(*s, 2);
  conn d(at, "127.0.0.1");
  EXPECT_TRUE(d.ok());
}

TEST(HttpServer, AnAddressListedAsUnlimitedIsNotCapped) {
  server_options o;
  o.max_connections_per_ip = 1;
  o.unlimited = {asio::ip::make_address("127.0.0.3")};
  auto s = start(o);
  const auto at = s->endpoints().front();
  conn a(at, "127.0.0.3"), b(at, "127.0.0.3"), c(at, "127.0.0.3");
  EXPECT_TRUE(a.ok() && b.ok() && c.ok());
  conn d(at, "127.0.0.4"), e(at, "127.0.0.4");
  EXPECT_TRUE(d.ok());
  EXPECT_FALSE(e.ok());
}

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

TEST(HttpServer, OutOfDescriptorsTheAcceptorWaitsInsteadOfSpinning) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The sanitizers' runtime opens pipes of its own (to check that memory
  // is readable): with no descriptor left it reports errors that are not.
  GTEST_SKIP() << "needs every descriptor of the process; runs in the plain build";
#endif
  auto s = start({});
  asio::io_context ctx;
  tcp::socket client(ctx);
  client.open(tcp::v4());
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  // Not one descriptor more: the server cannot accept the client's connection.
  rlimit tight = old;
  tight.rlim_cur = open_descriptors();
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  const auto at = s->endpoints().front();
  client.connect({asio::ip::make_address(at.host_string()), at.port()});
  asio::write(client, asio::buffer(std::string("GET / HTTP/1.1\r\nHost: t\r\n\r\n")));
  // The connection waits in the backlog while accept fails: over this
  // window a spinning acceptor would burn a core.
  const double cpu_before = process_cpu_seconds();
  std::this_thread::sleep_for(1500ms);
  const double cpu = process_cpu_seconds() - cpu_before;
  const auto errors = s->accept_errors();
  setrlimit(RLIMIT_NOFILE, &old);
  EXPECT_GE(errors, 1);
  EXPECT_LE(errors, 12);  // 50 ms doubling: a handful of tries
  EXPECT_LT(cpu, 0.5);
  // With descriptors back, the waiting connection is served.
  std::array<char, 512> buf;
  const auto n = client.read_some(asio::buffer(buf));
  EXPECT_NE(std::string_view(buf.data(), n).find("200 OK"), std::string_view::npos);
}

TEST(HttpServer, TheConnectionCapFitsTheDescriptorLimit) {
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit tight = old;
  tight.rlim_cur = open_descriptors() + 100;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  server_options o;
  o.max_connections = 10'000;
  auto s = start(o);
  setrlimit(RLIMIT_NOFILE, &old);
  EXPECT_EQ(s->descriptor_limit(), tight.rlim_cur);
  EXPECT_GT(s->max_connections(), 10u);
  EXPECT_LT(s->max_connections(), 100u);
}

}  // namespace
}  // namespace sta::http
