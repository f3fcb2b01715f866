// sta tracker [--listen ADDR:PORT]... [--interval S] [--whitelist FILE]
//             [--threads N] [--full-scrape] [--trusted-proxy ADDR]...
//             [--max-swarms N] [--max-peers-per-ip N] [--max-new-swarms-per-ip N]
//             [--max-connections N] [--max-connections-per-ip N] [--no-udp]
#include <signal.h>

#include <iostream>
#include <memory>

#include "commands.hpp"
#include "output.hpp"
#include "tracker/server.hpp"

namespace sta::cli {
namespace {

struct tracker_args {
  std::vector<std::string> listen;
  unsigned interval = 1800;
  std::string whitelist;
  unsigned threads = 0;
  bool full_scrape = false;
  std::vector<std::string> trusted_proxies;
  tracker::store_limits limits;
  std::size_t max_connections = tracker::options{}.max_connections;
  std::size_t max_connections_per_ip = tracker::options{}.max_connections_per_ip;
  bool no_udp = false;
};

// A URL clients on this machine can use for a bound endpoint.
std::string url_host(const std::string& endpoint) {
  if (endpoint.rfind("0.0.0.0:", 0) == 0) return "127.0.0.1" + endpoint.substr(7);
  if (endpoint.rfind("[::]:", 0) == 0) return "[::1]" + endpoint.substr(4);
  return endpoint;
}

int run_tracker(const tracker_args& args) {
  tracker::options opts;
  opts.interval = std::chrono::seconds(args.interval);
  opts.threads = args.threads;
  opts.whitelist_path = args.whitelist;
  opts.full_scrape = args.full_scrape;
  opts.trusted_proxies = args.trusted_proxies;
  opts.limits = args.limits;
  opts.max_connections = args.max_connections;
  opts.max_connections_per_ip = args.max_connections_per_ip;
  opts.udp = !args.no_udp;

  // Signals are taken by sigwait below: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  result<std::unique_ptr<tracker::server>, std::string> server = std::string("not started");
  if (args.listen.empty()) {
    opts.listen = {"0.0.0.0:6969", "[::]:6969"};
    server = tracker::server::start(opts);
    if (!server) {  // a machine without IPv6
      opts.listen = {"0.0.0.0:6969"};
      server = tracker::server::start(opts);
    }
  } else {
    opts.listen = args.listen;
    server = tracker::server::start(opts);
  }
  if (!server) return error(server.error(), kExitFailed);

  const auto bound = (*server)->endpoints();
  std::string all;
  for (const auto& e : bound) all += (all.empty() ? "" : ", ") + e;
  const std::string base = "http://" + url_host(bound.front());
  const auto limit = (*server)->descriptor_limit();
  const auto udp = (*server)->udp_endpoints();
  const std::string udp_url = udp.empty() ? std::string() : ", udp://" + url_host(udp.front()) + "/announce";
  std::cout << "sta tracker ready: announce " << base << "/announce" << udp_url << ", dashboard " << base
            << "/ (listening on " << all << (udp.empty() ? "" : ", UDP too") << "; at most " << (*server)->max_connections() << " connections"
            << (limit ? ", descriptor limit " + std::to_string(limit) : std::string()) << ")" << std::endl;
  if ((*server)->max_connections() < args.max_connections)
    error("--max-connections " + std::to_string(args.max_connections) + " lowered to " +
              std::to_string((*server)->max_connections()) + ": the descriptor limit (ulimit -n) is " +
              std::to_string(limit),
          0);

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      if (auto r = (*server)->reload_whitelist(); !r) error(r.error() + " (keeping the old whitelist)", 0);
      continue;
    }
    break;
  }
  (*server)->stop();
  return kExitOk;
}

}  // namespace

command add_tracker(CLI::App& app) {
  auto args = std::make_shared<tracker_args>();
  auto* sub = app.add_subcommand("tracker", "Run an HTTP and UDP BitTorrent tracker with a live dashboard");
  sub->footer(
      "Routes: /announce, /scrape, / (dashboard), /api/stats (JSON), /metrics (Prometheus).\n"
      "By default listens on 0.0.0.0:6969 and [::]:6969. SIGHUP reloads the whitelist;\n"
      "SIGINT and SIGTERM stop the tracker. A peer is changed or removed only by announces\n"
      "from its own address (or with the key it registered with); peer ids are handed out\n"
      "only to requests with no_peer_id=0. Load generators that simulate many peers from\n"
      "one address turn the per-IP limits off (0).");
  sub->add_option("--listen", args->listen, "ADDR:PORT to listen on (repeatable; port 0 picks one)");
  sub->add_option("--interval", args->interval, "Seconds between announces asked of clients (default 1800)")
      ->check(CLI::Range(1u, 86400u));
  sub->add_option("--whitelist", args->whitelist, "File of allowed hex info-hashes, one per line (private mode)");
  sub->add_option("--threads", args->threads, "Event-loop threads (default: one per core)")
      ->check(CLI::Range(1u, 1024u));
  sub->add_flag("--full-scrape", args->full_scrape, "Answer /scrape without info_hash with every torrent");
  sub->add_option("--trusted-proxy", args->trusted_proxies,
                  "Proxy address whose requests may set ip= and whose X-Forwarded-For names the client "
                  "(repeatable; nothing is trusted by default, loopback neither)");
  sub->add_option("--max-swarms", args->limits.max_swarms,
                  "Torrents tracked at once (default 1000000); when full, empty or stale ones make room")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000'000}));
  sub->add_option("--max-peers-per-ip", args->limits.max_peers_per_source,
                  "Peers one address (an IPv6 /64) may register in one torrent (default 8; 0: no limit)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{65535}));
  sub->add_option("--max-new-swarms-per-ip", args->limits.max_new_swarms_per_source,
                  "Torrents one address (an IPv6 /64) may add a minute (default 30; 0: no limit)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{65535}));
  sub->add_option("--max-connections", args->max_connections,
                  "Open HTTP connections (default 10000, lowered to what the descriptor limit allows)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
  sub->add_option("--max-connections-per-ip", args->max_connections_per_ip,
                  "Open HTTP connections from one address or IPv6 /64, trusted proxies exempt (default 32; 0: no limit)");
  sub->add_flag("--no-udp", args->no_udp, "Serve HTTP only (UDP, BEP 15, listens on the same addresses and ports)");
  return {sub, [args] { return run_tracker(*args); }};
}

}  // namespace sta::cli
