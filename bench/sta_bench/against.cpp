// sta-bench swarm --against CLIENT: the standard scenarios on loopback,
// each moved by sta (`sta serve` -> `sta get`) and by the other client (its
// own seeders -> its own downloaders), alternating in rounds of one run:
//   S1  1 seeder  -> 1 downloader
//   S2  4 seeders -> 1 downloader
//   S3  1 seeder  -> 4 downloaders
//   S4  1 seeder  -> 1 downloader, the same bytes in 1,000 files
// Every peer has its own 127.0.0.x and finds the others through a fresh
// `sta tracker` on 127.0.0.60 (the same for every client). Downloaders
// start from empty directories with the seed's data in the page cache and
// are timed from their start until the last one has everything; then each
// copy is compared byte for byte with the seed's. Reported per scenario and
// client: MB/s (bytes delivered to all downloaders / that time), the
// downloaders' CPU-seconds (user + system) per GiB received, and the
// largest downloader peak RSS.
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <thread>

#include <boost/json.hpp>

#include "base/endpoint.hpp"
#include "base/unique_fd.hpp"
#include "base/units.hpp"
#include "commands.hpp"

namespace sta::bench {
namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kTransferLimit = 300s;  // one scenario's downloads
constexpr auto kStartLimit = 120s;     // the tracker, the seeders' checks

struct scenario {
  std::string name;
  unsigned seeders;
  unsigned leechers;
  unsigned files;
};

const std::vector<scenario> kScenarios{
    {"S1", 1, 1, 1},
    {"S2", 4, 1, 1},
    {"S3", 1, 4, 1},
    {"S4", 1, 1, 1000},
};

// --- child processes -------------------------------------------------------

// Set by SIGINT or SIGTERM: every wait gives up, the clients are stopped
// and the work directory removed on the way out.
volatile std::sig_atomic_t interrupted = 0;

void on_signal(int) { interrupted = 1; }

class child {
 public:
  child() = default;
  child(child&& o) noexcept : pid_(std::exchange(o.pid_, -1)), out_(std::move(o.out_)) {}
  child& operator=(child&& o) noexcept {
    stop();
    pid_ = std::exchange(o.pid_, -1);
    out_ = std::move(o.out_);
    return *this;
  }
  ~child() { stop(); }

  // argv[0] is looked up on PATH. stdout goes to a pipe (read_line) when
  // `capture`, else with stderr to `log`.
  static result<child, std::string> spawn(const std::vector<std::string>& argv, const fs::path& log, bool capture) {
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) return "cannot write " + log.string();
    int fds[2] = {-1, -1};
    if (capture && ::pipe2(fds, O_CLOEXEC) != 0) {
      ::close(log_fd);
      return std::string("pipe failed");
    }
    const pid_t parent = ::getpid();
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);  // its own group: stop() reaches helpers it starts
      // Out of the terminal's group, Ctrl-C reaches sta-bench alone: the
      // clients go when it does.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      ::dup2(null_fd, 0);
      ::dup2(capture ? fds[1] : log_fd, 1);
      ::dup2(log_fd, 2);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(log_fd);
    if (capture) ::close(fds[1]);
    if (pid > 0) ::setpgid(pid, pid);  // as the child does: whoever is first
    if (pid < 0) {
      if (capture) ::close(fds[0]);
      return std::string("fork failed");
    }
    child c;
    c.pid_ = pid;
    if (capture) c.out_ = unique_fd(fds[0]);
    return c;
  }

  // The next line of its stdout, within `limit`.
  std::optional<std::string> read_line(std::chrono::nanoseconds limit) {
    const auto deadline = clock_type::now() + limit;
    std::string line;
    char c = 0;
    while (clock_type::now() < deadline && !interrupted) {
      pollfd p{out_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      if (::read(out_.get(), &c, 1) != 1) return std::nullopt;
      if (c == '\n') return line;
      line += c;
    }
    return std::nullopt;
  }

  struct exit_info {
    int status = 0;
    rusage usage{};
  };
  // Waits for it to end on its own, within `limit`.
  std::optional<exit_info> wait(std::chrono::nanoseconds limit) {
    const auto deadline = clock_type::now() + limit;
    while (clock_type::now() < deadline && !interrupted) {
      exit_info e;
      const pid_t got = ::wait4(pid_, &e.status, WNOHANG, &e.usage);
      if (got == pid_) {
        pid_ = -1;
        return e;
      }
      std::this_thread::sleep_for(2ms);
    }
    return std::nullopt;
  }

  // SIGTERM to its group, SIGKILL after 5 s; reaped.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGTERM);
    const auto deadline = clock_type::now() + 5s;
    while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
      if (clock_type::now() > deadline) {
        ::kill(-pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(2ms);
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  unique_fd out_;
};

bool runs(const std::vector<std::string>& argv) {
  auto c = child::spawn(argv, "/dev/null", false);
  if (!c) return false;
  auto e = c->wait(60s);
  return e && WIFEXITED(e->status) && WEXITSTATUS(e->status) == 0;
}

// A free TCP port on the address `any` (ADDR:0) names, as an endpoint.
std::optional<endpoint> free_port(const std::string& any) {
  endpoint e = *parse_endpoint(any);
  unique_fd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock || ::bind(sock.get(), e.addr(), e.length) != 0) return std::nullopt;
  socklen_t len = sizeof e.storage;
  if (::getsockname(sock.get(), e.addr(), &len) != 0) return std::nullopt;
  e.length = len;
  return e;
}

// --- a tiny HTTP GET for the tracker's /api/stats --------------------------

std::optional<std::string> http_get(const endpoint& server, const std::string& path) {
  unique_fd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return std::nullopt;
  const timeval limit{2, 0};  // a tracker that accepts and stalls costs one try
  ::setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  if (::connect(sock.get(), server.addr(), server.length) != 0) return std::nullopt;
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: bench\r\n\r\n";
  if (::send(sock.get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return std::nullopt;
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = ::recv(sock.get(), buf, sizeof buf, 0)) > 0;) reply.append(buf, static_cast<std::size_t>(n));
  const auto body = reply.find("\r\n\r\n");
  if (body == std::string::npos) return std::nullopt;
  return reply.substr(body + 4);
}

// Waits until the tracker counts `n` seeders.
bool seeders_announced(const endpoint& tracker, unsigned n) {
  const auto deadline = clock_type::now() + kStartLimit;
  while (clock_type::now() < deadline && !interrupted) {
    if (auto body = http_get(tracker, "/api/stats")) {
      boost::system::error_code ec;
      const auto v = boost::json::parse(*body, ec);
      const auto* seeders = !ec && v.is_object() ? v.as_object().if_contains("seeders") : nullptr;
      if (seeders != nullptr && seeders->is_int64() && seeders->as_int64() >= n) return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// --- the clients -----------------------------------------------------------

// Where one peer listens: its address, and a port for clients that cannot
// pick a free one themselves.
struct place {
  std::string ip;
  std::uint16_t port;
};

// How one client seeds and downloads: argv for a seeder of `torrent` whose
// data is in `dir`, and for a downloader into `dir` that exits once it has
// everything. `scratch` is a directory of that peer's own. `loopback`:
// whether it takes peers on 127.0.0.0/8 (each peer then gets its own
// 127.0.0.x; otherwise they all share the machine's own address).
struct client {
  std::string name;
  std::function<std::vector<std::string>(const fs::path& torrent, const fs::path& dir, const place& at,
                                         const fs::path& scratch)>
      seed, get;
  bool loopback = true;
};

// python3-libtorrent, with everything but TCP and the tracker off.
// It polls for alerts: the binding's wait_for_alert() can read freed
// memory while libtorrent posts alerts (a SIGSEGV under load).
constexpr const char* kLibtorrentPeer = R"(import sys, time, libtorrent as lt
mode, torrent, save, ip = sys.argv[1:5]
s = lt.session({"listen_interfaces": ip + ":0", "outgoing_interfaces": ip, "enable_dht": False,
                "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
                "enable_outgoing_utp": False, "enable_incoming_utp": False, "ssrf_mitigation": False,
                "allow_multiple_connections_per_ip": True,
                "alert_mask": lt.alert.category_t.status_notification})
h = s.add_torrent({"ti": lt.torrent_info(torrent), "save_path": save})
while mode == "seed" or not h.status().is_seeding:
    time.sleep(0.05)
    s.pop_alerts()
del s
)";

client sta_client(const std::string& sta) {
  return {"sta",
          [sta](const fs::path& t, const fs::path& dir, const place& at, const fs::path& scratch) {
            return std::vector<std::string>{sta,         "serve",     t.string(), dir.string(), "--listen",
                                            at.ip + ":0",   "--no-dht",  "--state-dir", scratch.string()};
          },
          [sta](const fs::path& t, const fs::path& dir, const place& at, const fs::path& scratch) {
            return std::vector<std::string>{sta,       "get",    t.string(), "-o",          dir.string(), "--listen",
                                            at.ip + ":0", "-e",     "--no-dht", "--state-dir", scratch.string()};
          }};
}

client libtorrent_client(const fs::path& script) {
  auto argv = [script](const char* mode, const fs::path& t, const fs::path& dir, const std::string& ip) {
    return std::vector<std::string>{"/usr/bin/python3", script.string(), mode, t.string(), dir.string(), ip};
  };
  return {"libtorrent", [argv](const fs::path& t, const fs::path& dir, const place& at, const fs::path&) {
            return argv("seed", t, dir, at.ip);
          },
          [argv](const fs::path& t, const fs::path& dir, const place& at, const fs::path&) {
            return argv("get", t, dir, at.ip);
          }};
}

std::vector<std::string> aria2_common(const fs::path& t, const fs::path& dir, const std::string& ip) {
  return {"aria2c",           "--enable-dht=false",        "--enable-dht6=false",
          "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--console-log-level=error",
          "--summary-interval=0",  "--file-allocation=falloc",     "--interface=" + ip,
          "--dir=" + dir.string(), t.string()};
}

client aria2_client() {
  return {"aria2",
          [](const fs::path& t, const fs::path& dir, const place& at, const fs::path&) {
            auto a = aria2_common(t, dir, at.ip);
            a.insert(a.end(), {"--check-integrity=true", "--seed-ratio=0.0"});
            return a;
          },
          [](const fs::path& t, const fs::path& dir, const place& at, const fs::path&) {
            auto a = aria2_common(t, dir, at.ip);
            a.push_back("--seed-time=0");
            return a;
          }};
}

// transmission-cli seeds forever; a downloader's finish script (-f) ends it
// with SIGINT once it has verified everything. Transmission 3 takes no peer
// on 127.0.0.0/8 from a tracker (a "martian" address to it), so its peers
// share the machine's own address, each on its own port.
void transmission_config(const fs::path& scratch, const place& at) {
  fs::create_directories(scratch / "config");
  std::ofstream(scratch / "config" / "settings.json")
      << boost::json::serialize(boost::json::object{{"bind-address-ipv4", at.ip},
                                                    {"peer-port", at.port},
                                                    {"dht-enabled", false},
                                                    {"lpd-enabled", false},
                                                    {"pex-enabled", false},
                                                    {"utp-enabled", false},
                                                    {"port-forwarding-enabled", false},
                                                    {"ratio-limit-enabled", false},
                                                    {"speed-limit-up-enabled", false},
                                                    {"speed-limit-down-enabled", false}});
  std::ofstream(scratch / "finished.sh") << "#!/bin/sh\nkill -INT $PPID\n";
  fs::permissions(scratch / "finished.sh", fs::perms::owner_all);
}

client transmission_client() {
  return {"transmission",
          [](const fs::path& t, const fs::path& dir, const place& at, const fs::path& scratch) {
            transmission_config(scratch, at);
            return std::vector<std::string>{"transmission-cli", "-g", (scratch / "config").string(), "-w",
                                            dir.string(),       "-v", t.string()};
          },
          [](const fs::path& t, const fs::path& dir, const place& at, const fs::path& scratch) {
            transmission_config(scratch, at);
            return std::vector<std::string>{"transmission-cli", "-g", (scratch / "config").string(),
                                            "-w",               dir.string(),
                                            "-f",               (scratch / "finished.sh").string(),
                                            t.string()};
          },
          false};
}

// --- data --------------------------------------------------------------------

// `size` pseudo-random bytes in `files` files under `root` (one file: root
// itself is that file).
void write_data(const fs::path& root, std::int64_t size, unsigned files) {
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  std::vector<std::uint64_t> chunk(1 << 17);  // 1 MiB
  auto write_file = [&](const fs::path& p, std::int64_t n) {
    std::ofstream out(p, std::ios::binary);
    while (n > 0) {
      for (auto& w : chunk) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w = x;
      }
      const auto len = std::min<std::int64_t>(n, static_cast<std::int64_t>(chunk.size() * 8));
      out.write(reinterpret_cast<const char*>(chunk.data()), len);
      n -= len;
    }
  };
  if (files == 1) {
    write_file(root, size);
    return;
  }
  fs::create_directories(root);
  for (unsigned i = 0; i < files; ++i) {
    const std::int64_t n = size / files + (i < size % files ? 1 : 0);
    char name[32];
    std::snprintf(name, sizeof name, "file%04u.bin", i);
    write_file(root / name, n);
  }
}

bool same_file(const fs::path& a, const fs::path& b) {
  std::ifstream fa(a, std::ios::binary);
  std::ifstream fb(b, std::ios::binary);
  if (!fa || !fb) return false;
  std::vector<char> ba(1 << 20);
  std::vector<char> bb(1 << 20);
  for (;;) {
    fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
    fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
    if (fa.gcount() != fb.gcount() || !std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin())) return false;
    if (fa.gcount() == 0) return true;
  }
}

// Whether `copy` holds what `seed` holds (a file, or a directory's files).
bool same_data(const fs::path& seed, const fs::path& copy) {
  if (fs::is_regular_file(seed)) return same_file(seed, copy);
  for (const auto& e : fs::directory_iterator(seed))
    if (!same_file(e.path(), copy / e.path().filename())) return false;
  return true;
}

// --- one transfer ----------------------------------------------------------

struct measured {
  double seconds = 0;
  double cpu_seconds = 0;  // of every downloader
  long peak_rss_kib = 0;   // the largest downloader's
};

struct setup {
  fs::path work;
  std::string sta;
  endpoint tracker;                     // on 127.0.0.60
  std::optional<endpoint> host_tracker;  // on the machine's own address, if it has one
  std::int64_t size = 0;
};

double cpu_of(const rusage& u) {
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// `torrents`: the scenario's torrent announcing to s.tracker, and the same
// announcing to s.host_tracker.
result<measured, std::string> transfer(const setup& s, const scenario& sc, const client& c,
                                       const std::pair<fs::path, fs::path>& torrents, const fs::path& seed_dir,
                                       const fs::path& data) {
  if (!c.loopback && !s.host_tracker)
    return c.name + " takes no peers on 127.0.0.0/8 and this machine has no other IPv4 address";
  const endpoint& tracker_at = c.loopback ? s.tracker : *s.host_tracker;
  const fs::path& torrent = c.loopback ? torrents.first : torrents.second;
  // Peer n: its own 127.0.0.x, or the machine's address with a port of its own.
  auto place_of = [&](unsigned n) -> place {
    if (c.loopback) return {"127.0.0." + std::to_string(70 + n), 0};
    const auto free = free_port(tracker_at.host_string() + ":0");
    return {tracker_at.host_string(), free ? free->port() : std::uint16_t{0}};
  };
  const fs::path run = s.work / "run";
  fs::remove_all(run);
  fs::create_directories(run);
  // The work directory goes when sta-bench ends: a failed run's logs (not
  // its downloads) are moved out of it first.
  auto failed = [&](const std::string& why) {
    char kept[] = "/tmp/sta-bench-logs-XXXXXX";
    std::error_code ec;
    for (const auto& peer : fs::directory_iterator(run, ec)) fs::remove_all(peer.path() / "data", ec);
    if (::mkdtemp(kept) != nullptr) fs::rename(run, fs::path(kept) / (c.name + "-" + sc.name), ec);
    return why + " (logs in " + (ec ? run.string() : std::string(kept)) + ")";
  };
  auto tracker = child::spawn({s.sta, "tracker", "--listen", tracker_at.to_string(), "--no-udp"}, run / "tracker.log", true);
  if (!tracker) return tracker.error();
  if (!tracker->read_line(kStartLimit)) return failed("sta tracker did not start");

  std::vector<child> seeders;
  for (unsigned i = 0; i < sc.seeders; ++i) {
    const fs::path scratch = run / ("seed" + std::to_string(i));
    fs::create_directories(scratch);
    auto p = child::spawn(c.seed(torrent, seed_dir, place_of(i), scratch), scratch / "log", false);
    if (!p) return p.error();
    seeders.push_back(std::move(*p));
  }
  if (!seeders_announced(tracker_at, sc.seeders)) return failed(c.name + "'s seeders did not announce");

  std::vector<child> leechers;
  std::vector<fs::path> dirs;
  const auto t0 = clock_type::now();
  for (unsigned i = 0; i < sc.leechers; ++i) {
    const fs::path scratch = run / ("get" + std::to_string(i));
    dirs.push_back(scratch / "data");
    fs::create_directories(dirs.back());
    auto p = child::spawn(c.get(torrent, dirs.back(), place_of(10 + i), scratch), scratch / "log", false);
    if (!p) return p.error();
    leechers.push_back(std::move(*p));
  }
  measured m;
  for (auto& l : leechers) {
    auto e = l.wait(kTransferLimit - (clock_type::now() - t0));
    if (!e) return failed(c.name + "'s download did not finish in time");
    if (!WIFEXITED(e->status) || WEXITSTATUS(e->status) != 0)
      return failed(c.name + "'s downloader failed (" +
                    (WIFEXITED(e->status) ? "exit status " + std::to_string(WEXITSTATUS(e->status))
                                          : "killed by signal " + std::to_string(WTERMSIG(e->status))) +
                    ")");
    m.cpu_seconds += cpu_of(e->usage);
    m.peak_rss_kib = std::max(m.peak_rss_kib, e->usage.ru_maxrss);
  }
  m.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  seeders.clear();
  for (const auto& d : dirs)
    if (!same_data(data, d / data.filename())) return c.name + "'s copy in " + d.string() + " differs from the seed's";
  fs::remove_all(run);
  return m;
}

struct tally {
  std::vector<double> seconds;
  std::vector<double> cpu_per_gib;
  long peak_rss_kib = 0;
  std::string skipped;
};

boost::json::value to_json(const tally& t, double bytes) {
  if (!t.skipped.empty()) return {{"skipped", t.skipped}};
  return {{"seconds", boost::json::value_from(t.seconds)},
          {"bytes_per_sec", bytes / median(t.seconds)},
          {"cpu_seconds_per_gib", median(t.cpu_per_gib)},
          {"peak_rss_bytes", t.peak_rss_kib * 1024}};
}

// The machine's first IPv4 address that is up and not loopback.
std::optional<std::string> host_ipv4() {
  ifaddrs* all = nullptr;
  if (::getifaddrs(&all) != 0) return std::nullopt;
  std::optional<std::string> found;
  for (ifaddrs* i = all; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
        (i->ifa_flags & IFF_LOOPBACK))
      continue;
    char text[INET_ADDRSTRLEN];
    const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    if (::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text)) found = text;
  }
  ::freeifaddrs(all);
  return found;
}

std::string default_sta() {
  std::error_code ec;
  const fs::path next = fs::read_symlink("/proc/self/exe", ec).parent_path().parent_path() / "tools" / "sta";
  return !ec && fs::exists(next) ? next.string() : "sta";
}

// Why `name` cannot run here, or empty.
std::string missing(const std::string& name) {
  if (name == "libtorrent")
    return runs({"/usr/bin/python3", "-c", "import libtorrent"}) ? "" : "python3-libtorrent is not installed";
  if (name == "aria2") return runs({"aria2c", "--version"}) ? "" : "aria2c is not installed (Debian: aria2)";
  return runs({"sh", "-c", "command -v transmission-cli"}) ? "" : "transmission-cli is not installed (Debian: transmission-cli)";
}

}  // namespace

int run_against(const swarm_args& args) {
  const auto size = parse_size(args.size);
  const auto piece = parse_size(args.piece_length);
  if (!size || *size < 1000 || !piece || *piece < 16384) {
    std::cerr << "sta-bench: --size and --piece-length take sizes like 1GiB and 1MiB\n";
    return 2;
  }
  setup s;
  s.sta = args.sta.empty() ? default_sta() : args.sta;
  s.size = *size;
  if (!runs({s.sta, "--version"})) {
    std::cerr << "sta-bench: cannot run " << s.sta << " (give the sta binary with --sta)\n";
    return 2;
  }
  // A port for the tracker, the same in every round (the torrents name it).
  if (auto t = free_port("127.0.0.60:0")) {
    s.tracker = *t;
  } else {
    std::cerr << "sta-bench: no free port on 127.0.0.60\n";
    return 1;
  }
  if (const auto ip = host_ipv4()) s.host_tracker = free_port(*ip + ":0");
  char tmpl[] = "/tmp/sta-bench-swarm-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    std::cerr << "sta-bench: cannot make a directory in /tmp\n";
    return 1;
  }
  s.work = tmpl;
  struct cleanup {
    fs::path dir;
    ~cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } clean{s.work};

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  const std::string why_not = missing(args.against);
  std::vector<client> clients{sta_client(s.sta)};
  if (why_not.empty()) {
    if (args.against == "libtorrent") {
      std::ofstream(s.work / "lt_peer.py") << kLibtorrentPeer;
      clients.push_back(libtorrent_client(s.work / "lt_peer.py"));
    } else if (args.against == "aria2") {
      clients.push_back(aria2_client());
    } else {
      clients.push_back(transmission_client());
    }
  } else {
    std::cerr << "sta-bench: " << why_not << ": " << args.against << " skipped, sta measured alone\n";
  }

  boost::json::array results;
  std::vector<std::string> table;
  for (const auto& sc : kScenarios) {
    if (std::find(args.scenarios.begin(), args.scenarios.end(), sc.name) == args.scenarios.end()) continue;
    const fs::path seed_dir = s.work / ("seed-" + sc.name);
    fs::create_directories(seed_dir);
    const fs::path data = seed_dir / (sc.files == 1 ? "data.bin" : "files");
    write_data(data, *size, sc.files);
    // The same torrent twice, announcing to each tracker (the info-hash is the same).
    const std::pair<fs::path, fs::path> torrents{s.work / (sc.name + ".torrent"), s.work / (sc.name + "-host.torrent")};
    for (const auto& [path, tracker] : {std::pair{torrents.first, std::optional(s.tracker)}, std::pair{torrents.second, s.host_tracker}}) {
      if (!tracker) continue;
      if (!runs({s.sta, "create", data.string(), "-p", args.piece_length, "-a",
                 "http://" + tracker->to_string() + "/announce", "-o", path.string()})) {
        std::cerr << "sta-bench: sta create failed for " << sc.name << '\n';
        return 1;
      }
    }
    std::vector<tally> tallies(clients.size());
    for (unsigned round = 0; round < args.rounds; ++round) {
      for (std::size_t i = 0; i < clients.size(); ++i) {
        if (!tallies[i].skipped.empty()) continue;
        auto m = transfer(s, sc, clients[i], torrents, seed_dir, data);
        if (interrupted) {
          std::cerr << "sta-bench: interrupted\n";
          return 130;
        }
        if (!m) {
          if (i == 0) {
            std::cerr << "sta-bench: " << sc.name << ": " << m.error() << '\n';
            return 1;
          }
          tallies[i].skipped = m.error();
          continue;
        }
        tallies[i].seconds.push_back(m->seconds);
        tallies[i].cpu_per_gib.push_back(m->cpu_seconds / (static_cast<double>(*size) * sc.leechers / (1 << 30)));
        tallies[i].peak_rss_kib = std::max(tallies[i].peak_rss_kib, m->peak_rss_kib);
      }
    }
    fs::remove_all(seed_dir);
    const double bytes = static_cast<double>(*size) * sc.leechers;
    boost::json::object o{{"scenario", sc.name},
                          {"seeders", sc.seeders},
                          {"downloaders", sc.leechers},
                          {"files", sc.files},
                          {"sta", to_json(tallies[0], bytes)}};
    if (clients.size() > 1) {
      o[clients[1].name] = to_json(tallies[1], bytes);
      if (tallies[1].skipped.empty()) o["speedup"] = median(tallies[1].seconds) / median(tallies[0].seconds);
    } else {
      o[args.against] = {{"skipped", why_not}};
    }
    results.push_back(std::move(o));

    char head[64];
    std::snprintf(head, sizeof head, "%s %u -> %u%s", sc.name.c_str(), sc.seeders, sc.leechers,
                  sc.files > 1 ? ", 1,000 files" : "");
    for (std::size_t i = 0; i < clients.size(); ++i) {
      char line[256];
      if (!tallies[i].skipped.empty()) {
        std::snprintf(line, sizeof line, "%-22s %-13s failed: %s", i == 0 ? head : "", clients[i].name.c_str(),
                      tallies[i].skipped.c_str());
      } else {
        std::snprintf(line, sizeof line, "%-22s %-13s %9.0f %10.2f %9.0f", i == 0 ? head : "", clients[i].name.c_str(),
                      bytes / median(tallies[i].seconds) / 1e6, median(tallies[i].cpu_per_gib),
                      static_cast<double>(tallies[i].peak_rss_kib) / 1024);
      }
      table.push_back(line);
    }
    if (clients.size() > 1 && tallies[1].skipped.empty()) {
      char line[256];
      std::snprintf(line, sizeof line, "%-22s %-13s %8.2fx %9.2fx %8.2fx", "", "sta / other",
                    median(tallies[1].seconds) / median(tallies[0].seconds),
                    median(tallies[0].cpu_per_gib) / median(tallies[1].cpu_per_gib),
                    static_cast<double>(tallies[0].peak_rss_kib) / static_cast<double>(tallies[1].peak_rss_kib));
      table.push_back(line);
    }
  }
  if (args.json) {
    std::cout << boost::json::serialize(boost::json::object{{"bytes", *size},
                                                            {"piece_length", *piece},
                                                            {"rounds", args.rounds},
                                                            {"against", args.against},
                                                            {"results", results}})
              << '\n';
    return 0;
  }
  std::cout << format_size(static_cast<double>(*size)) << " over loopback, " << args.piece_length
            << " pieces, medians of " << args.rounds << " alternating rounds\n";
  char header[128];
  std::snprintf(header, sizeof header, "%-22s %-13s %9s %10s %9s", "scenario", "client", "MB/s", "CPU-s/GiB",
                "RSS MiB");
  std::cout << header << '\n';
  for (const auto& l : table) std::cout << l << '\n';
  return 0;
}

}  // namespace sta::bench
