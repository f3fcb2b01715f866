#include "reactor/reactor.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>
#include <fstream>
#include <future>
#include <latch>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "reactor/datagrams.hpp"
#include "reactor/ops.hpp"
#include "reactor/reactor_group.hpp"
#include "reactor/socket.hpp"
#include "support/run_on_reactor.hpp"
#include "support/temp_dir.hpp"

namespace sta::io {
namespace {

using namespace std::chrono_literals;

// ASSERT_* returns, which a coroutine cannot; this co_returns instead.
#define CO_ASSERT(cond, message)                            \
  do {                                                      \
    if (!(cond)) {                                          \
      ADD_FAILURE() << "Failed: " #cond ": " << (message);  \
      co_return;                                            \
    }                                                       \
  } while (false)

using test::make_reactor;
using test::run_on_reactor;

std::array<unique_fd, 2> socket_pair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw std::runtime_error("socketpair");
  return {unique_fd(sv[0]), unique_fd(sv[1])};
}

std::span<std::byte> bytes(std::string& s) { return std::as_writable_bytes(std::span(s.data(), s.size())); }
std::span<const std::byte> bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

__attribute__((noinline)) std::uintptr_t stack_position() {
  return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}

task<std::uintptr_t> ready_now() { co_return stack_position(); }

TEST(Task, HundredThousandSynchronousAwaitsKeepTheStackFlat) {
  run_on_reactor([](reactor&) -> task<void> {
    const std::uintptr_t first = co_await ready_now();
    std::uintptr_t lowest = first;
    for (int i = 0; i < 100'000; ++i) lowest = std::min(lowest, co_await ready_now());
    EXPECT_LT(first - lowest, 4096u) << "stack grew by " << first - lowest << " bytes";
  });
}

task<int> add_later(reactor& r, int a, int b) {
  co_await sleep(r, 1ms);
  co_return a + b;
}

TEST(Task, ReturnsValuesAcrossSuspension) {
  run_on_reactor([](reactor& r) -> task<void> {
    int total = 0;
    for (int i = 0; i < 10; ++i) total += co_await add_later(r, i, 1);
    EXPECT_EQ(total, 55);
  });
}

task<void> recv_until_cancelled(reactor& r, int sock, cancel_slot& slot, error_code& out) {
  std::array<std::byte, 16> buf{};
  auto n = co_await recv(r, sock, buf).cancel_with(slot);
  out = n ? error_code{} : n.error();
}

task<void> cancel_it(cancel_slot& slot, bool& was_active) {
  was_active = slot.active();
  slot.cancel();
  co_return;
}

TEST(Ops, CancelledRecvResumesWithOperationCanceled) {
  auto pair = socket_pair();
  auto r = make_reactor();
  cancel_slot slot;
  error_code ec;
  bool was_active = false;
  r->spawn(recv_until_cancelled(*r, pair[0].get(), slot, ec));
  r->spawn(cancel_it(slot, was_active));
  struct stopper {
    static task<void> run(reactor& r) {
      co_await sleep(r, 0ms);
      r.stop();
    }
  };
  r->spawn(stopper::run(*r));
  r->run();
  EXPECT_TRUE(was_active);
  EXPECT_EQ(ec, boost::system::errc::operation_canceled) << ec.message();
  EXPECT_FALSE(slot.active());
}

TEST(Ops, DeadlineTurnsIntoTimedOut) {
  auto pair = socket_pair();
  run_on_reactor([&](reactor& r) -> task<void> {
    std::array<std::byte, 16> buf{};
    auto n = co_await recv(r, pair[0].get(), buf).deadline(5ms);
    CO_ASSERT(!n, "recv completed");
    EXPECT_EQ(n.error(), boost::system::errc::timed_out) << n.error().message();
  });
}

TEST(Ops, DeadlineDoesNotFireWhenDataArrives) {
  auto pair = socket_pair();
  ASSERT_EQ(::write(pair[1].get(), "hi", 2), 2);
  run_on_reactor([&](reactor& r) -> task<void> {
    std::array<std::byte, 16> buf{};
    auto n = co_await recv(r, pair[0].get(), buf).deadline(10s);
    CO_ASSERT(n, n.error().message());
    EXPECT_EQ(*n, 2u);
  });
}

task<void> wait_forever(reactor& r, int sock, std::atomic<int>& cancelled) {
  std::array<std::byte, 16> buf{};
  auto n = co_await recv(r, sock, buf);
  if (!n && n.error() == boost::system::errc::operation_canceled) ++cancelled;
}

task<void> sleep_forever(reactor& r, std::atomic<int>& cancelled) {
  auto s = co_await sleep(r, 1h);
  if (!s && s.error() == boost::system::errc::operation_canceled) ++cancelled;
}

TEST(Reactor, StopCancelsEverythingInFlightAndDestroysTasks) {
  std::vector<std::array<unique_fd, 2>> pairs;
  for (int i = 0; i < 50; ++i) pairs.push_back(socket_pair());
  auto r = make_reactor();
  std::atomic<int> cancelled{0};
  for (auto& p : pairs) r->spawn(wait_forever(*r, p[0].get(), cancelled));
  r->spawn(sleep_forever(*r, cancelled));
  struct stopper {
    static task<void> run(reactor& r) {
      co_await sleep(r, 0ms);
      r.stop();
    }
  };
  r->spawn(stopper::run(*r));
  r->run();
  EXPECT_EQ(cancelled.load(), 51);
  EXPECT_EQ(r->live_tasks(), 0u);
}

TEST(Reactor, NewOperationsFailOnceStopping) {
  run_on_reactor([](reactor& r) -> task<void> {
    r.stop();
    auto s = co_await sleep(r, 1h);
    CO_ASSERT(!s, "slept");
    EXPECT_EQ(s.error(), boost::system::errc::operation_canceled);
  });
}

TEST(Reactor, ASwitchToAReactorThatHasEndedGoesOnWhereItIs) {
  auto ended = make_reactor();
  ended->stop();
  ended->run();  // nothing to wait for: it ends at once
  reactor* landed = nullptr;
  run_on_reactor([&](reactor& r) -> task<void> {
    co_await switch_to(*ended);
    landed = reactor::current();
    EXPECT_EQ(landed, &r);
  });
  EXPECT_NE(landed, nullptr);
}

TEST(Ops, RegisteredBufferWriteThenReadRoundTrips) {
  test::temp_dir dir;
  const auto path = (dir / "fixed.bin").string();
  unique_fd file(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  ASSERT_TRUE(file);
  alignas(4096) static std::array<std::byte, 65536> out_buf;
  alignas(4096) static std::array<std::byte, 65536> in_buf;
  std::mt19937 rng(7);
  for (auto& b : out_buf) b = static_cast<std::byte>(rng());
  in_buf.fill(std::byte{0});
  run_on_reactor([&](reactor& r) -> task<void> {
    const iovec iov[] = {{out_buf.data(), out_buf.size()}, {in_buf.data(), in_buf.size()}};
    auto reg = r.register_buffers(iov);
    CO_ASSERT(reg, reg.error().message());
    const int fds[] = {file.get()};
    auto files = r.register_files(fds);
    CO_ASSERT(files, files.error().message());
    auto w = co_await write_fixed(r, file.get(), out_buf, 4096, 0);
    CO_ASSERT(w, w.error().message());
    EXPECT_EQ(*w, out_buf.size());
    auto f = co_await fsync(r, file.get());
    CO_ASSERT(f, f.error().message());
    auto rd = co_await read_fixed(r, 0, in_buf, 4096, 1, true);
    CO_ASSERT(rd, rd.error().message());
    EXPECT_EQ(*rd, in_buf.size());
  });
  EXPECT_EQ(std::memcmp(out_buf.data(), in_buf.data(), out_buf.size()), 0);
}

TEST(Ops, PlainFileReadWriteAndFallocate) {
  test::temp_dir dir;
  const auto path = (dir / "plain.bin").string();
  unique_fd file(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  ASSERT_TRUE(file);
  run_on_reactor([&](reactor& r) -> task<void> {
    auto a = co_await fallocate(r, file.get(), 0, 0, 1 << 20);
    CO_ASSERT(a, a.error().message());
    const std::string text = "hello, io_uring";
    auto w = co_await write(r, file.get(), bytes(text), 1000);
    CO_ASSERT(w, w.error().message());
    std::string back(text.size(), '\0');
    auto rd = co_await read(r, file.get(), bytes(back), 1000);
    CO_ASSERT(rd, rd.error().message());
    EXPECT_EQ(back, text);
  });
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  EXPECT_EQ(in.tellg(), 1 << 20);
}

TEST(Ops, ErrorsComeBackAsErrorCodes) {
  run_on_reactor([](reactor& r) -> task<void> {
    std::array<std::byte, 4> buf{};
    auto n = co_await read(r, 12345, buf, 0);
    CO_ASSERT(!n, "read succeeded");
    EXPECT_EQ(n.error(), boost::system::errc::bad_file_descriptor);
  });
}

TEST(IoUringUnavailable, NamesTheLikelyCause) {
  EXPECT_NE(io_uring_unavailable_reason(ENOSYS).find("5.19"), std::string::npos);
  EXPECT_NE(io_uring_unavailable_reason(EPERM).find("io_uring_disabled"), std::string::npos);
  EXPECT_NE(io_uring_unavailable_reason(EPERM).find("seccomp"), std::string::npos);
  EXPECT_NE(io_uring_unavailable_reason(ENOMEM).find("MEMLOCK"), std::string::npos);
}

// ---- several reactors ----

task<void> ping_pong(reactor& home, reactor& away, int rounds, std::promise<int>& done) {
  int ok = 0;
  for (int i = 0; i < rounds; ++i) {
    co_await switch_to(away);
    if (reactor::current() == &away) ++ok;
    co_await switch_to(home);
    if (reactor::current() == &home) ++ok;
  }
  done.set_value(ok);
}

reactor_group::options reactors(unsigned n) {
  reactor_group::options o;
  o.reactors = n;
  return o;
}

TEST(ReactorGroup, CrossReactorPingPong) {
  auto group = reactor_group::start(reactors(2));
  ASSERT_TRUE(group) << group.error();
  auto& g = **group;
  std::promise<int> done;
  auto result = done.get_future();
  g.at(0).post([&] { g.at(0).spawn(ping_pong(g.at(0), g.at(1), 10'000, done)); });
  EXPECT_EQ(result.get(), 20'000);
  g.stop();
}

TEST(ReactorGroup, LeastBusyPrefersAnotherReactorOnATieAndCountsItsLeases) {
  auto group = reactor_group::start(reactors(2));
  ASSERT_TRUE(group) << group.error();
  auto& g = **group;
  reactor& r0 = g.at(0);
  reactor& r1 = g.at(1);
  {
    const auto first = g.least_busy(r0);
    EXPECT_EQ(&first.target(), &r1);  // a tie: not the caller's own
    const auto second = g.least_busy(r0);
    EXPECT_EQ(&second.target(), &r0);  // r1 has one job in hand
    const auto third = g.least_busy(r1);
    EXPECT_EQ(&third.target(), &r0);  // a tie again: not r1
    const auto fourth = g.least_busy(r0);
    EXPECT_EQ(&fourth.target(), &r1);  // r0 has two
  }
  // Every lease gone: a tie again.
  EXPECT_EQ(&g.least_busy(r1).target(), &r0);
  g.stop();
}

task<void> echo_session(reactor& r, unique_fd sock) {
  std::array<std::byte, 8192> buf{};
  for (;;) {
    auto n = co_await recv(r, sock.get(), buf);
    if (!n || *n == 0) co_return;
    std::size_t sent = 0;
    while (sent < *n) {
      auto s = co_await send(r, sock.get(), std::span(buf).subspan(sent, *n - sent));
      if (!s) co_return;
      sent += *s;
    }
  }
}

task<void> accept_loop(reactor_group& g, int listener) {
  reactor& r = *reactor::current();
  for (unsigned next = 0;; ++next) {
    auto conn = co_await accept(r, listener);
    if (!conn) co_return;
    reactor& target = g.at(next % g.size());
    const int raw = *conn;
    target.post([&target, raw] { target.spawn(echo_session(target, unique_fd(raw))); });
  }
}

task<void> echo_client(reactor& r, endpoint server, unsigned seed, std::atomic<int>& ok, std::latch& done) {
  std::string payload(64 << 10, '\0');
  std::mt19937 rng(seed);
  for (auto& c : payload) c = static_cast<char>(rng());
  auto sock = tcp_socket(server.family());
  bool good = false;
  if (sock && co_await connect(r, sock->get(), server.addr(), server.length)) {
    std::string back(payload.size(), '\0');
    std::size_t sent = 0, got = 0;
    bool failed = false;
    while (!failed && got < back.size()) {
      if (sent < payload.size()) {
        auto s = co_await send(r, sock->get(), bytes(payload).subspan(sent, std::min<std::size_t>(16384, payload.size() - sent)));
        if (!s) failed = true;
        else sent += *s;
      }
      auto n = co_await recv(r, sock->get(), bytes(back).subspan(got));
      if (!n || *n == 0) failed = true;
      else got += *n;
    }
    good = !failed && back == payload;
  }
  if (good) ++ok;
  done.count_down();
}

TEST(ReactorGroup, EchoServerWithManyConnectionsAcrossReactors) {
  auto group = reactor_group::start(reactors(3));
  ASSERT_TRUE(group) << group.error();
  auto& g = **group;
  auto listener = listen_tcp(*parse_endpoint("127.0.0.1:0"));
  ASSERT_TRUE(listener);
  const endpoint server = *local_endpoint(listener->get());
  g.at(0).post([&] { g.at(0).spawn(accept_loop(g, listener->get())); });

  constexpr int kClients = 60;
  std::atomic<int> ok{0};
  std::latch done(kClients);
  for (int i = 0; i < kClients; ++i) {
    reactor& r = g.at(static_cast<unsigned>(i) % g.size());
    r.post([&r, server, i, &ok, &done] { r.spawn(echo_client(r, server, static_cast<unsigned>(i), ok, done)); });
  }
  done.wait();
  EXPECT_EQ(ok.load(), kClients);
  g.stop();
}

task<void> zc_sender(reactor& r, int sock, const std::string& data, result<std::size_t>& out) {
  out = co_await send_zc(r, sock, bytes(data));
}

TEST(Ops, SendZeroCopyOverTcp) {
  auto listener = listen_tcp(*parse_endpoint("127.0.0.1:0"));
  ASSERT_TRUE(listener);
  const endpoint server = *local_endpoint(listener->get());
  auto client = tcp_socket(AF_INET);
  ASSERT_TRUE(client);
  ASSERT_EQ(::connect(client->get(), server.addr(), server.length), 0);
  unique_fd accepted(::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted);
  const std::string data(100'000, 'z');
  result<std::size_t> sent = std::size_t{0};
  run_on_reactor([&](reactor& r) -> task<void> { co_await zc_sender(r, client->get(), data, sent); });
  if (!sent && sent.error() == boost::system::errc::operation_not_supported) GTEST_SKIP() << "no SEND_ZC";
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_GT(*sent, 0u);
  std::string got(*sent, '\0');
  std::size_t have = 0;
  while (have < got.size()) {
    const ssize_t n = ::recv(accepted.get(), got.data() + have, got.size() - have, 0);
    ASSERT_GT(n, 0);
    have += static_cast<std::size_t>(n);
  }
  EXPECT_EQ(got, data.substr(0, *sent));
}

}  // namespace
}  // namespace sta::io

namespace sta::io {
namespace {

struct echo_state {
  datagram_socket* socket = nullptr;
  datagram_socket::counters counters;
  bool multishot = false;
};

// Echoes every datagram until the reactor stops; what it counted is left
// in `state` as the socket goes.
task<void> echo_server(reactor& r, unique_fd fd, echo_state& state) {
  datagram_socket::options o;
  o.buffers = 64;
  o.send_slots = 512;
  datagram_socket s(r, std::move(fd), o, [&state](const endpoint& from, std::span<const std::byte> data) {
    state.socket->send(from, data);
  });
  state.socket = &s;
  state.multishot = s.multishot();
  co_await s.serve();
  state.counters = s.stats();
  state.socket = nullptr;
}

TEST(Datagrams, ABurstLongerThanTheBufferRingIsEchoedWholeAndStopIsClean) {
  echo_state state;
  run_on_reactor([&](reactor& r) -> task<void> {
    auto server_fd = bound_udp(*parse_endpoint("127.0.0.1:0"));
    CO_ASSERT(server_fd, server_fd.error().message());
    const auto at = *local_endpoint(server_fd->get());
    r.spawn(echo_server(r, std::move(*server_fd), state));
    auto client = bound_udp(*parse_endpoint("127.0.0.1:0"));
    CO_ASSERT(client, client.error().message());
    // 200 datagrams at once (what a socket's default receive buffer holds
    // of small ones): the server's 64 buffers run out, its receive ends and
    // starts again, and nothing is lost on loopback.
    constexpr int kCount = 200;
    for (int i = 0; i < kCount; ++i) {
      const std::string text = "datagram " + std::to_string(i);
      CO_ASSERT(::sendto(client->get(), text.data(), text.size(), 0, at.addr(), at.length) ==
                    static_cast<ssize_t>(text.size()),
                "sendto");
    }
    std::set<std::string> echoed;
    std::string buf(4096, '\0');
    for (int i = 0; i < kCount; ++i) {
      endpoint from;
      auto n = co_await recv_from(r, client->get(), bytes(buf), from).deadline(10s);
      CO_ASSERT(n, n.error().message());
      CO_ASSERT(from == at, from.to_string());
      echoed.insert(buf.substr(0, *n));
    }
    EXPECT_EQ(echoed.size(), static_cast<std::size_t>(kCount));
    EXPECT_TRUE(echoed.contains("datagram 199"));
    // A datagram longer than a buffer is dropped and counted, not echoed cut.
    const std::string big(3000, 'x');
    CO_ASSERT(::sendto(client->get(), big.data(), big.size(), 0, at.addr(), at.length) == 3000, "sendto");
    const std::string last = "last";
    CO_ASSERT(::sendto(client->get(), last.data(), last.size(), 0, at.addr(), at.length) == 4, "sendto");
    endpoint from;
    auto n = co_await recv_from(r, client->get(), bytes(buf), from).deadline(10s);
    CO_ASSERT(n, n.error().message());
    EXPECT_EQ(buf.substr(0, *n), "last");
    EXPECT_EQ(state.socket->stats().truncated, 1u);
  });
  EXPECT_EQ(state.socket, nullptr);  // served until the stop, then gone
  EXPECT_TRUE(state.multishot);      // kernel 6.0 and later
  EXPECT_EQ(state.counters.received, 201u);
  EXPECT_EQ(state.counters.sent, 201u);
  EXPECT_GE(state.counters.rearmed, 1u);
}

}  // namespace
}  // namespace sta::io
