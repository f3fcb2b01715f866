#include "swarm/metadata_fetch.hpp"

#include <sys/socket.h>

#include <algorithm>

#include "peer/metadata_peer.hpp"
#include "peer/peer_loop.hpp"
#include "peer/recv_buffer.hpp"
#include "reactor/ops.hpp"
#include "reactor/socket.hpp"
#include "swarm/tracker_client.hpp"

namespace sta::swarm {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

namespace {

constexpr auto kFetchTick = 1s;
constexpr auto kFetchConnectTimeout = 10s;
constexpr auto kFetchHandshakeTimeout = 10s;
constexpr auto kFetchSendTimeout = 20s;
constexpr auto kFetchTrackerTimeout = 15s;

wire::handshake our_handshake(const fetch_options& o) {
  wire::handshake h;
  h.info_hash = o.info_hash;
  h.id = o.self;
  h.set_fast();
  h.set_extended();
  return h;
}

io::task<bool> send_frames(io::reactor& r, int sock, std::vector<std::byte>& out) {
  std::size_t off = 0;
  while (off < out.size()) {
    auto n = co_await io::send(r, sock, std::span<const std::byte>(out).subspan(off)).deadline(kFetchSendTimeout);
    if (!n || *n == 0) co_return false;
    off += *n;
  }
  out.clear();
  co_return true;
}

// One peer's connection until it has nothing more to give, the metadata
// is complete or the fetch stops.
io::task<bool> talk(metadata_fetch& f, int sock, peer::connection_start& start) {
  io::reactor& r = f.home();
  peer::metadata_peer mp(f.assembly, f.next_source++);
  if (!mp.start(start.theirs, f.opts.listen_port, clock::now())) co_return false;
  std::vector<std::byte> out;
  peer::recv_buffer& buf = start.buf;
  bool have_data = buf.size() > 0;
  std::size_t frame_size = 0;
  while (!f.stopping()) {
    mp.take_frames(out);
    if (!out.empty()) {
      const bool sent = co_await send_frames(r, sock, out);
      if (!sent) break;
    }
    if (!have_data) {
      auto n = co_await io::recv(r, sock, buf.room(frame_size > buf.size() ? frame_size - buf.size() : 1)).deadline(kFetchTick);
      if (!n && n.error() != std::errc::timed_out) break;
      if (n && *n == 0) break;
      if (n) buf.commit(*n);
    }
    have_data = false;
    if (f.stopping()) break;
    const auto now = clock::now();
    std::size_t pos = 0;
    bool ok = true;
    frame_size = 0;
    while (ok) {
      auto d = wire::decode(buf.data().subspan(pos), {});
      if (!d) ok = false;
      else if (!d->msg) {
        frame_size = d->frame_size;
        break;
      } else {
        ok = static_cast<bool>(mp.on_message(*d->msg, now));
        pos += d->used;
      }
    }
    buf.consume(pos);
    for (const endpoint& e : mp.take_peers()) f.add_candidate(e);
    f.progress();
    if (!ok || !mp.update(now)) break;
  }
  co_return mp.offers();
}

}  // namespace

io::task<void> fetch_peer(metadata_fetch& f, std::size_t index, metadata_fetch::guard) {
  io::reactor& r = f.home();
  const endpoint addr = f.candidates[index].addr;
  const auto local = f.outgoing_bind(addr.family());
  auto sock = io::tcp_socket(addr.family(), local ? &*local : nullptr);
  bool ok = false;
  if (sock) {
    f.sockets.push_back(sock->get());
    ok = static_cast<bool>(co_await io::connect(r, sock->get(), addr.addr(), addr.length).deadline(kFetchConnectTimeout));
  }
  f.process_.half_open.fetch_sub(1, std::memory_order_relaxed);
  bool useful = false;
  if (ok && !f.stopping()) {
    f.peers_.fetch_add(1, std::memory_order_relaxed);
    peer::connection_start start;
    const auto deadline = clock::now() + kFetchHandshakeTimeout;
    const bool sent = static_cast<bool>(co_await peer::send_handshake(r, sock->get(), our_handshake(f.opts), deadline));
    if (sent) {
      auto theirs = co_await peer::recv_handshake(r, sock->get(), deadline, start.buf);
      if (theirs && theirs->info_hash == f.opts.info_hash && theirs->id != f.opts.self) {
        start.theirs = *theirs;
        useful = co_await talk(f, sock->get(), start);
      }
    }
    f.peers_.fetch_sub(1, std::memory_order_relaxed);
  }
  if (sock) std::erase(f.sockets, sock->get());
  sock = {};
  f.process_.connections.fetch_sub(1, std::memory_order_relaxed);
  f.ended(index, useful, clock::now());
  f.progress();
}

namespace {

io::task<void> fetch_loop(metadata_fetch& f, metadata_fetch::guard) {
  io::reactor& home = f.home();
  while (!home.stopping() && !f.stopping()) {
    const auto now = clock::now();
    f.assembly.expire(now);
    f.connect_more(now);
    if (!(co_await io::sleep(home, kFetchTick))) co_return;
  }
}

// Announces 'started' to the first tracker of the tiers that answers, and
// again at the interval it asks for, for peers to fetch from.
io::task<void> fetch_announce_loop(metadata_fetch& f, metadata_fetch::guard) {
  io::reactor& home = f.home();
  std::int64_t retry = 30;
  udp_connections udp;
  const std::function<bool()> give_up = [&f] { return f.stopping(); };
  while (!home.stopping() && !f.stopping()) {
    announce::request req;
    req.info_hash = f.opts.info_hash;
    req.peer_id.assign(f.opts.self.begin(), f.opts.self.end());
    req.port = f.opts.listen_port;
    req.left = 1;  // unknown until the metadata is in; not a seed
    req.ev = announce::event::started;
    req.ip = f.opts.tracker_ip;
    req.numwant = announce::kMaxNumwant;
    std::int64_t wait = retry;
    bool answered = false;
    for (const auto& tier : f.opts.tiers) {
      for (const auto& url : tier) {
        const auto bind = f.outgoing_bind(f.opts.listen.empty() ? AF_INET : f.opts.listen.front().family());
        auto r = co_await tracker_announce(home, url, req, bind ? &*bind : nullptr, kFetchTrackerTimeout, udp,
                                           f.opts.verify_tls, give_up);
        if (f.stopping()) co_return;
        if (!r) {
          f.record_announce(url, r.error(), 0);
          continue;
        }
        f.record_announce(url, "ok, " + std::to_string(r->peers.size()) + " peers",
                          static_cast<std::int64_t>(r->peers.size()));
        for (const auto& p : r->peers) f.add_candidate(to_endpoint(p));
        wait = announce::next_interval(*r);
        answered = true;
        break;
      }
      if (answered) break;
    }
    retry = answered ? 30 : std::min<std::int64_t>(retry * 2, 1800);
    const auto until = clock::now() + std::chrono::seconds(wait);
    while (clock::now() < until && !f.stopping())
      if (!(co_await io::sleep(home, kFetchTick))) co_return;
  }
}

}  // namespace

metadata_fetch::metadata_fetch(io::reactor_group& group, unsigned home, shared_limits& process, fetch_options o,
                               std::function<void(std::string)> on_metadata)
    : opts(std::move(o)),
      assembly(opts.info_hash),
      group_(group),
      home_(home),
      process_(process),
      on_metadata_(std::move(on_metadata)) {
  for (const auto& p : opts.peers) add_candidate(p);
  for (std::size_t i = 0; i < opts.tiers.size(); ++i)
    for (const auto& url : opts.tiers[i]) records_.push_back({url, i, {}, 0});
}

void metadata_fetch::start() {
  stopping_.store(false, std::memory_order_release);
  home().post([this, g = std::make_shared<guard>(*this)] {
    for (auto& c : candidates) c = candidate{c.addr};
    home().spawn(fetch_loop(*this, guard(*this)));
    if (!opts.tiers.empty()) home().spawn(fetch_announce_loop(*this, guard(*this)));
  });
}

void metadata_fetch::stop() {
  stopping_.store(true, std::memory_order_release);
  home().post([this, g = std::make_shared<guard>(*this)] { cut_connections(); });
}

void metadata_fetch::cut_connections() {
  for (int fd : sockets) ::shutdown(fd, SHUT_RDWR);
}

std::string metadata_fetch::tracker_status() const {
  std::lock_guard lock(status_mutex_);
  return tracker_status_;
}

std::vector<control::tracker_record> metadata_fetch::trackers() const {
  std::lock_guard lock(status_mutex_);
  return records_;
}

std::vector<endpoint> metadata_fetch::known_peers() const {
  std::vector<endpoint> out;
  for (const auto& c : candidates) out.push_back(c.addr);
  return out;
}

void metadata_fetch::learned_peers(std::vector<endpoint> peers) {
  home().post([this, peers = std::move(peers), g = std::make_shared<guard>(*this)] {
    for (const auto& p : peers) add_candidate(p);
  });
}

void metadata_fetch::add_candidate(const endpoint& addr) {
  if (addr.port() == 0 || addr.is_unspecified()) return;
  for (const auto& c : candidates)
    if (c.addr == addr) return;
  if (candidates.size() < kMaxCandidates) candidates.push_back({addr});
}

void metadata_fetch::connect_more(clock::time_point now) {
  for (std::size_t i = 0; i < candidates.size() && connections < kMaxConnections && !stopping(); ++i) {
    auto& c = candidates[i];
    if (c.busy || now < c.next_try) continue;
    if (process_.connections.load(std::memory_order_relaxed) >= process_.max_connections ||
        process_.half_open.load(std::memory_order_relaxed) >= process_.max_half_open)
      break;
    c.busy = true;
    ++connections;
    process_.connections.fetch_add(1, std::memory_order_relaxed);
    process_.half_open.fetch_add(1, std::memory_order_relaxed);
    home().spawn(fetch_peer(*this, i, guard(*this)));
  }
}

void metadata_fetch::ended(std::size_t index, bool useful, clock::time_point now) {
  --connections;
  auto& c = candidates[index];
  c.busy = false;
  // A peer that offered metadata is tried again soon; one that did not
  // (or could not be reached) later and later.
  c.failures = useful ? 0 : c.failures + 1;
  c.next_try = now + (useful ? 5s : std::min<std::chrono::seconds>(15s * (1u << std::min(c.failures, 6u)), 900s));
}

void metadata_fetch::progress() {
  size_.store(assembly.size(), std::memory_order_relaxed);
  offering_.store(static_cast<unsigned>(assembly.offering()), std::memory_order_relaxed);
  if (done_ || !assembly.complete()) return;
  auto info = assembly.finish();
  hash_failures_.store(assembly.hash_failures(), std::memory_order_relaxed);
  if (!info) return;
  done_ = true;
  cut_connections();
  on_metadata_(std::move(*info));
}

void metadata_fetch::record_announce(const std::string& url, std::string outcome, std::int64_t peers) {
  std::lock_guard lock(status_mutex_);
  tracker_status_ = outcome.starts_with("ok") ? "tracker " + outcome : url + ": " + outcome;
  for (auto& r : records_)
    if (r.url == url) {
      r.last = std::move(outcome);
      if (r.last.starts_with("ok")) r.peers = peers;
    }
}

std::optional<endpoint> metadata_fetch::outgoing_bind(int family) const {
  return sta::outgoing_bind(opts.listen, family);
}

}  // namespace sta::swarm
