// sta-bench loopback: bytes streamed over loopback TCP between sta reactors
// in one process. Each connection's sender runs on one reactor and its
// receiver on the next, so with two reactors the two ends use two cores,
// as iperf3's client and server do.
#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <latch>
#include <memory>
#include <vector>

#include <boost/json.hpp>

#include "base/units.hpp"
#include "commands.hpp"
#include "reactor/ops.hpp"
#include "reactor/reactor_group.hpp"
#include "reactor/socket.hpp"

namespace sta::bench {
namespace {

using clock_type = std::chrono::steady_clock;
constexpr std::size_t kBlock = 128 << 10;  // iperf3's default TCP write size

struct loopback_args {
  unsigned connections = 1;
  double seconds = 10;
  unsigned reactors = 2;
  bool json = false;
};

struct shared {
  clock_type::time_point end;
  std::atomic<std::int64_t> received{0};
  std::latch done;
  explicit shared(std::ptrdiff_t n) : done(n) {}
};

io::task<void> sender(io::reactor& r, unique_fd sock, shared& s) {
  std::vector<std::byte> block(kBlock, std::byte{0x5a});
  while (clock_type::now() < s.end) {
    auto n = co_await io::send(r, sock.get(), block);
    if (!n) break;
  }
  ::shutdown(sock.get(), SHUT_WR);
}

io::task<void> receiver(io::reactor& r, unique_fd sock, shared& s) {
  std::vector<std::byte> block(kBlock);
  std::int64_t total = 0;
  for (;;) {
    auto n = co_await io::recv(r, sock.get(), block);
    if (!n || *n == 0) break;
    total += static_cast<std::int64_t>(*n);
  }
  s.received.fetch_add(total, std::memory_order_relaxed);
  s.done.count_down();
}

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

result<loopback_result, std::string> measure_loopback(unsigned connections, double seconds, unsigned reactors) {
  io::reactor_group::options opts;
  opts.reactors = reactors;
  auto group = io::reactor_group::start(opts);
  if (!group) return group.error();
  auto listener = io::listen_tcp(*parse_endpoint("127.0.0.1:0"));
  if (!listener) return "listen: " + listener.error().message();
  const auto server = *io::local_endpoint(listener->get());

  // Connections are set up with plain blocking calls before the clock starts.
  std::vector<std::pair<unique_fd, unique_fd>> conns;
  for (unsigned i = 0; i < connections; ++i) {
    auto c = io::tcp_socket(AF_INET);
    if (!c || ::connect(c->get(), server.addr(), server.length) != 0) return std::string("cannot connect over loopback");
    unique_fd a(::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
    conns.emplace_back(std::move(*c), std::move(a));
  }

  shared s(static_cast<std::ptrdiff_t>(connections));
  const double cpu_start = cpu_seconds();
  const auto start = clock_type::now();
  s.end = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
  auto& g = **group;
  for (unsigned i = 0; i < connections; ++i) {
    io::reactor& out = g.at(i % g.size());
    io::reactor& in = g.at((i + 1) % g.size());
    const int send_fd = conns[i].first.release();
    const int recv_fd = conns[i].second.release();
    out.post([&out, send_fd, &s] { out.spawn(sender(out, unique_fd(send_fd), s)); });
    in.post([&in, recv_fd, &s] { in.spawn(receiver(in, unique_fd(recv_fd), s)); });
  }
  s.done.wait();
  loopback_result r;
  r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  r.cpu_seconds = cpu_seconds() - cpu_start;
  g.stop();
  r.bytes = s.received.load();
  return r;
}

namespace {

int run_loopback(const loopback_args& args) {
  auto r = measure_loopback(args.connections, args.seconds, args.reactors);
  if (!r) {
    std::cerr << "sta-bench: " << r.error() << '\n';
    return 1;
  }
  const double rate = r->bytes_per_second();
  if (args.json) {
    boost::json::object o{{"connections", args.connections},
                          {"reactors", args.reactors},
                          {"seconds", r->seconds},
                          {"bytes", r->bytes},
                          {"bytes_per_sec", rate},
                          {"cpu_seconds", r->cpu_seconds}};
    std::cout << boost::json::serialize(o) << '\n';
  } else {
    std::cout << "loopback: " << args.connections << " connection(s), " << args.reactors << " reactor(s): "
              << format_size(rate) << "/s (" << rate * 8 / 1e9 << " Gbit/s), " << r->cpu_seconds << " CPU s in "
              << r->seconds << " s\n";
  }
  return 0;
}

}  // namespace

command add_loopback(CLI::App& app) {
  auto args = std::make_shared<loopback_args>();
  auto* sub = app.add_subcommand("loopback", "TCP throughput over loopback between sta reactors");
  sub->add_option("--connections", args->connections, "Parallel connections (default 1)")->check(CLI::Range(1u, 4096u));
  sub->add_option("--seconds", args->seconds, "How long to stream (default 10)")->check(CLI::Range(0.1, 3600.0));
  sub->add_option("--reactors", args->reactors, "Reactor threads (default 2)")->check(CLI::Range(1u, 256u));
  sub->add_flag("--json", args->json, "Print one JSON object");
  return {sub, [args] { return run_loopback(*args); }};
}

}  // namespace sta::bench
