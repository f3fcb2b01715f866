#include "swarm/control.hpp"

#include <algorithm>

#include "peer/peer_loop.hpp"
#include "reactor/ops.hpp"
#include "reactor/socket.hpp"
#include "swarm/tracker_client.hpp"
#include "wire/ut_pex.hpp"

namespace sta::swarm {

using namespace std::chrono_literals;

namespace {

constexpr auto kControlTick = 1s;
constexpr auto kChokeInterval = 10s;
constexpr auto kOptimisticInterval = 30s;
constexpr auto kConnectTimeout = 10s;
constexpr auto kTrackerTimeout = 15s;
constexpr auto kStoppedAnnounceWait = 3s;
constexpr auto kInFlightWait = 1s;  // at stop, for an announce in flight
constexpr auto kStoppedPoll = 10ms;
constexpr std::size_t kRegularUnchokes = 4;
constexpr std::size_t kMaxCandidates = 10'000;
constexpr std::size_t kMaxStruckHosts = 100'000;
constexpr std::size_t kMaxSuspectPieces = 1024;

// On the connection's own reactor until it ends; the slot is released
// either way.
io::task<void> run_connection(control& c, peer::connection_start start, peer::peer_slot* slot, io::reactor* target) {
  if (!c.t.stopping()) {
    co_await io::switch_to(*target);
    co_await peer::run_peer(c.t, *slot, c.t.owner_of(*slot), std::move(start));
  }
  c.t.release_slot(*slot);
}

io::task<void> connect_candidate(control& c, std::size_t index, peer::peer_slot* slot, io::reactor* target,
                                 torrent::work_guard) {
  io::reactor& home = c.home();
  const endpoint addr = c.candidates[index].addr;
  auto& process = c.t.process();
  const auto local = c.outgoing_bind(addr.family());
  auto sock = io::tcp_socket(addr.family(), local ? &*local : nullptr);
  bool ok = false;
  if (sock) ok = static_cast<bool>(co_await io::connect(home, sock->get(), addr.addr(), addr.length).deadline(kConnectTimeout));
  process.half_open.fetch_sub(1, std::memory_order_relaxed);
  peer::connection_start start;
  if (ok && !c.t.stopping()) {
    const auto deadline = clock::now() + c.t.lim().peer.handshake_timeout;
    ok = static_cast<bool>(co_await peer::send_handshake(home, sock->get(), c.our_handshake(), deadline));
    if (ok) {
      auto theirs = co_await peer::recv_handshake(home, sock->get(), deadline, start.buf);
      ok = theirs && theirs->info_hash == c.t.meta().info_hash && c.check_handshake(*theirs, *slot);
      if (ok) start.theirs = *theirs;
    }
  }
  if (!ok) {
    c.t.release_slot(*slot);
    co_return;
  }
  start.sock = std::move(*sock);
  co_await run_connection(c, std::move(start), slot, target);
}

void connect_more(control& c, clock::time_point now) {
  auto& process = c.t.process();
  for (std::size_t i = 0; i < c.candidates.size() &&
                          process.half_open.load(std::memory_order_relaxed) < process.max_half_open;
       ++i) {
    auto& cand = c.candidates[i];
    if (cand.slot != nullptr) {
      if (cand.slot->generation.load(std::memory_order_relaxed) == cand.generation) continue;
      // Its connection ended: try again later, later still after failures.
      cand.slot = nullptr;
      ++cand.failures;
      cand.next_try = now + std::min<std::chrono::seconds>(30s * (1u << std::min(cand.failures, 5u)), 600s);
    }
    const host_key host = host_of(cand.addr);
    if (now < cand.next_try || c.is_banned(host) || c.connections_from(host) >= c.t.lim().max_per_host) continue;
    if (process.connections.load(std::memory_order_relaxed) >= process.max_connections) break;
    peer::peer_slot* slot = c.t.claim_slot(cand.addr, true);
    if (slot == nullptr) break;
    cand.slot = slot;
    cand.generation = slot->generation.load(std::memory_order_relaxed);
    // Counted now: the task starts on the next turn, after this loop.
    process.half_open.fetch_add(1, std::memory_order_relaxed);
    c.home().spawn(connect_candidate(c, i, slot, &c.pick_reactor(), c.t.hold()));
  }
}

// Tit-for-tat: the interested peers that gave us the most (or, when we
// seed, took the most) keep the regular slots; one more slot rotates
// randomly every 30 s so newcomers get a chance. Snubbed peers lose theirs.
void choke(control& c, clock::time_point now) {
  const bool seeding = c.t.picker().complete();
  std::vector<peer::peer_slot*> interested;
  for (auto& s : c.t.slots())
    if (s.state.load(std::memory_order_acquire) == peer::peer_slot::connected &&
        s.peer_interested.load(std::memory_order_relaxed))
      interested.push_back(&s);
  auto rate = [&](const peer::peer_slot* s) {
    return seeding ? s->up_rate.load(std::memory_order_relaxed) : s->down_rate.load(std::memory_order_relaxed);
  };
  std::stable_sort(interested.begin(), interested.end(), [&](const peer::peer_slot* a, const peer::peer_slot* b) {
    const bool sa = a->snubbed.load(std::memory_order_relaxed), sb = b->snubbed.load(std::memory_order_relaxed);
    if (sa != sb) return sb;
    return rate(a) > rate(b);
  });
  const std::size_t regular = std::min(kRegularUnchokes, interested.size());
  if (now - c.last_optimistic >= kOptimisticInterval || c.optimistic == nullptr ||
      std::find(interested.begin(), interested.end(), c.optimistic) == interested.end()) {
    c.last_optimistic = now;
    c.optimistic = nullptr;
    if (interested.size() > regular) {
      std::uniform_int_distribution<std::size_t> pick(regular, interested.size() - 1);
      c.optimistic = interested[pick(c.rng)];
    }
  }
  for (auto& s : c.t.slots()) {
    const bool in_top =
        std::find(interested.begin(), interested.begin() + static_cast<std::ptrdiff_t>(regular), &s) !=
        interested.begin() + static_cast<std::ptrdiff_t>(regular);
    s.unchoke_wanted.store(in_top || &s == c.optimistic, std::memory_order_relaxed);
  }
}

// The peer cap was lowered below the connections open: the ones that give
// and take the least, unchoked ones last, are closed at their next step.
void trim_peers(control& c) {
  std::vector<peer::peer_slot*> open;  // not closing already
  for (auto& s : c.t.slots())
    if (s.state.load(std::memory_order_acquire) != peer::peer_slot::free && !s.dropped.load(std::memory_order_relaxed))
      open.push_back(&s);
  const std::size_t cap = c.t.max_peers();
  if (open.size() <= cap) return;
  auto worth = [](const peer::peer_slot* s) {
    return std::pair(s->unchoke_wanted.load(std::memory_order_relaxed),
                     s->down_rate.load(std::memory_order_relaxed) + s->up_rate.load(std::memory_order_relaxed));
  };
  std::stable_sort(open.begin(), open.end(),
                   [&](const peer::peer_slot* a, const peer::peer_slot* b) { return worth(a) < worth(b); });
  for (std::size_t i = 0; i < open.size() - cap; ++i) open[i]->dropped.store(true, std::memory_order_relaxed);
}

// The connected peers, as peer exchange names them: the address we
// connected to, or the listen port an incoming peer gave.
void publish_pex(control& c) {
  if (c.t.meta().is_private) return;
  std::vector<wire::ut_pex::peer> peers;
  for (const auto& s : c.t.slots()) {
    if (s.state.load(std::memory_order_acquire) != peer::peer_slot::connected) continue;
    const std::uint16_t port = s.outgoing ? s.addr.port() : s.listen_port.load(std::memory_order_relaxed);
    if (port == 0) continue;
    std::uint8_t flags = s.outgoing ? wire::ut_pex::kReachable : 0;
    if (s.peer_is_seed.load(std::memory_order_relaxed)) flags |= wire::ut_pex::kSeed;
    peers.push_back({s.addr.with_port(port), flags});
  }
  c.t.pex().publish(std::move(peers));
}

io::task<void> control_loop(control& c, torrent::work_guard) {
  io::reactor& home = c.home();
  while (!home.stopping() && !c.t.stopping()) {
    const auto now = clock::now();
    trim_peers(c);
    publish_pex(c);
    connect_more(c, now);
    if (now - c.last_choke >= kChokeInterval) {
      c.last_choke = now;
      choke(c, now);
    }
    if (!(co_await io::sleep(home, kControlTick))) co_return;
  }
}

// A tracker that answered moves to the front of its tier (BEP 12). Found
// by its URL: another announce may have reordered the tiers meanwhile.
void promote_tracker(control& c, const std::string& url) {
  for (auto& tier : c.tiers) {
    const auto it = std::find(tier.begin(), tier.end(), url);
    if (it != tier.end()) std::rotate(tier.begin(), it, it + 1);
  }
}

// One announce, trying the tiers in order and the trackers of a tier in
// order (BEP 12), over a copy of the tiers as they are when it starts.
io::task<std::optional<announce::response>> announce_once(control& c, announce::event ev,
                                                          std::chrono::nanoseconds timeout) {
  struct in_flight {
    unsigned& n;
    explicit in_flight(unsigned& count) : n(count) { ++n; }
    ~in_flight() { --n; }
  } counted(c.announcing);
  std::string last_error = "no tracker";
  const auto tiers = c.tiers;
  // A UDP tracker's retries end when the torrent stops (except for the
  // 'stopped' announce itself).
  const std::function<bool()> give_up = [&c, ev] { return ev != announce::event::stopped && c.t.stopping(); };
  for (const auto& tier : tiers) {
    for (const auto& url : tier) {
      const auto req = c.make_request(ev);
      const auto bind = c.outgoing_bind(c.opts.listen.empty() ? AF_INET : c.opts.listen.front().family());
      auto r = co_await tracker_announce(c.home(), url, req, bind ? &*bind : nullptr, timeout, c.udp,
                                         c.opts.verify_tls, give_up);
      if (!r) {
        last_error = url + ": " + r.error();
        c.record_announce(url, r.error(), 0);
        continue;
      }
      c.record_announce(url, "ok, " + std::to_string(r->peers.size()) + " peers",
                        static_cast<std::int64_t>(r->peers.size()));
      promote_tracker(c, url);
      if (!r->tracker_id.empty()) c.tracker_id = r->tracker_id;
      c.set_status("tracker ok, " + std::to_string(r->peers.size()) + " peers");
      co_return std::move(*r);
    }
  }
  c.set_status(last_error);
  co_return std::nullopt;
}

io::task<void> announce_loop(control& c, torrent::work_guard) {
  io::reactor& home = c.home();
  auto next = clock::now();
  auto ev = announce::event::started;
  std::int64_t retry = 30;
  while (!home.stopping() && !c.t.stopping()) {
    const auto now = clock::now();
    if (c.announced && !c.completed_announced && c.t.seed() && c.opts.downloading) {
      ev = announce::event::completed;
      next = now;
    }
    if (now >= next) {
      if (ev == announce::event::started) c.started_sent = true;
      auto r = co_await announce_once(c, ev, kTrackerTimeout);
      if (home.stopping() || c.t.stopping()) co_return;
      if (r) {
        if (ev == announce::event::completed) c.completed_announced = true;
        if (c.t.seed()) c.completed_announced = true;
        c.announced = true;
        ev = announce::event::none;
        for (const auto& p : r->peers) c.add_candidate(to_endpoint(p));
        // Connected now, not at the next control tick up to a second later.
        connect_more(c, clock::now());
        next = clock::now() + std::chrono::seconds(announce::next_interval(*r));
        retry = 30;
      } else {
        next = clock::now() + std::chrono::seconds(retry);
        retry = std::min<std::int64_t>(retry * 2, 1800);
      }
      c.set_next_announce(next);
    }
    if (!(co_await io::sleep(home, kControlTick))) co_return;
  }
}

io::task<void> announce_stopped(control& c, torrent::work_guard) {
  c.set_next_announce(std::nullopt);
  // An announce in flight ('started', just sent) goes first, so that the
  // tracker hears 'stopped' after it; after a while 'stopped' goes anyway.
  const auto until = clock::now() + kInFlightWait;
  while (c.announcing > 0 && clock::now() < until)
    if (!co_await io::sleep(c.home(), kStoppedPoll)) break;
  if (c.announced || c.started_sent) {
    co_await announce_once(c, announce::event::stopped, kStoppedAnnounceWait);
    // The next start announces 'started' again.
    c.announced = false;
    c.started_sent = false;
  }
  c.stopped_announced.store(true, std::memory_order_release);
}

}  // namespace

control::control(torrent& tt, io::reactor_group& group, unsigned home, control_options o)
    : t(tt), opts(std::move(o)), tiers(opts.tiers), group_(group), home_(home) {
  for (const auto& p : opts.peers) add_candidate(p);
  for (std::size_t i = 0; i < tiers.size(); ++i)
    for (const auto& url : tiers[i]) records_.push_back({url, i, {}, 0});
  t.on_verdict = [this](piece_verdict v) { post_verdict(std::move(v)); };
  t.on_peers = [this](std::vector<endpoint> peers) {
    this->home().post([this, peers = std::move(peers), guard = std::make_shared<torrent::work_guard>(t.hold())] {
      for (const auto& p : peers)
        if (p.port() != 0 && !p.is_unspecified()) add_candidate(p);
    });
  };
}

void control::start() {
  t.restart();
  home().post([this, guard = std::make_shared<torrent::work_guard>(t.hold())] {
    // Drained: every connection of an earlier run has ended, so every
    // candidate may be tried at once.
    for (auto& c : candidates) c = candidate{c.addr};
    home().spawn(control_loop(*this, t.hold()));
    if (!tiers.empty()) home().spawn(announce_loop(*this, t.hold()));
  });
}

void control::stop() {
  t.stop();
  stopped_announced.store(false, std::memory_order_release);
  home().post([this, guard = std::make_shared<torrent::work_guard>(t.hold())] {
    home().spawn(announce_stopped(*this, t.hold()));
  });
}

void control::post_verdict(piece_verdict v) {
  // Verdicts come from whichever reactor hashed the piece; strikes and bans
  // are the home reactor's. The work guard keeps the torrent until it ran.
  home().post([this, v = std::move(v), guard = std::make_shared<torrent::work_guard>(t.hold())] { on_verdict(v); });
}

io::task<void> control::take_incoming(unique_fd sock, endpoint remote, wire::handshake theirs, peer::recv_buffer buf,
                                      clock::time_point deadline, torrent::work_guard) {
  // Refused before any slot is taken: a banned host, a full node, a host
  // with too many connections already.
  const host_key host = host_of(remote);
  auto& process = t.process();
  if (t.stopping() || is_banned(host) || process.connections.load(std::memory_order_relaxed) >= process.max_connections ||
      connections_from(host) >= t.lim().max_per_host)
    co_return;
  peer::peer_slot* slot = t.claim_slot(remote, false);
  if (slot == nullptr) co_return;  // full: the socket closes
  bool ok = static_cast<bool>(check_handshake(theirs, *slot));
  if (ok) ok = static_cast<bool>(co_await peer::send_handshake(home(), sock.get(), our_handshake(), deadline));
  if (!ok) {
    t.release_slot(*slot);
    co_return;
  }
  peer::connection_start start;
  start.sock = std::move(sock);
  start.theirs = theirs;
  start.buf = std::move(buf);
  co_await run_connection(*this, std::move(start), slot, &pick_reactor());
}

control::carried control::carry() const {
  carried c;
  for (const auto& cand : candidates) c.peers.push_back(cand.addr);
  c.hosts = hosts;
  return c;
}

void control::adopt(carried c) {
  for (const auto& p : c.peers) add_candidate(p);
  hosts = std::move(c.hosts);
  unsigned banned = 0;
  for (const auto& [h, r] : hosts) banned += r.banned ? 1 : 0;
  banned_hosts_.store(banned, std::memory_order_relaxed);
}

std::string control::tracker_status() const {
  std::lock_guard lock(status_mutex_);
  return tracker_status_;
}

void control::set_status(std::string s) {
  std::lock_guard lock(status_mutex_);
  tracker_status_ = std::move(s);
}

std::vector<control::tracker_record> control::trackers() const {
  std::lock_guard lock(status_mutex_);
  return records_;
}

std::optional<clock::time_point> control::next_announce() const {
  std::lock_guard lock(status_mutex_);
  return next_announce_;
}

void control::record_announce(const std::string& url, std::string outcome, std::int64_t peers) {
  std::lock_guard lock(status_mutex_);
  for (auto& r : records_)
    if (r.url == url) {
      r.last = std::move(outcome);
      if (peers > 0 || r.last.starts_with("ok")) r.peers = peers;
    }
}

void control::set_next_announce(std::optional<clock::time_point> at) {
  std::lock_guard lock(status_mutex_);
  next_announce_ = at;
}

void control::add_candidate(const endpoint& addr) {
  for (const auto& c : candidates)
    if (c.addr == addr) return;
  if (candidates.size() < kMaxCandidates) candidates.push_back({addr});
}

unsigned control::connections_from(const host_key& h) const {
  unsigned n = 0;
  for (const auto& s : t.slots())
    if (s.state.load(std::memory_order_acquire) != peer::peer_slot::free && host_of(s.addr) == h) ++n;
  return n;
}

bool control::is_banned(const host_key& h) const {
  const auto it = hosts.find(h);
  return it != hosts.end() && it->second.banned;
}

// A host sent bad data: at the limit it is banned, and every connection it
// has closes at its next step.
void control::strike(const host_key& h) {
  if (hosts.size() >= kMaxStruckHosts && !hosts.count(h)) return;
  host_record& r = hosts[h];
  if (r.banned || ++r.strikes < t.lim().strikes_to_ban) return;
  r.banned = true;
  banned_hosts_.fetch_add(1, std::memory_order_relaxed);
  for (auto& s : t.slots())
    if (s.state.load(std::memory_order_acquire) != peer::peer_slot::free && host_of(s.addr) == h)
      s.banned.store(true, std::memory_order_relaxed);
}

// A piece's hash said who was wrong: the one host that sent all of a failed
// piece, or, when a piece that failed with several senders has passed
// since, those whose blocks differ from the good ones.
void control::on_verdict(const piece_verdict& v) {
  if (!v.passed) {
    std::vector<host_key> senders;
    for (const auto& b : v.blocks)
      if (std::find(senders.begin(), senders.end(), b.host) == senders.end()) senders.push_back(b.host);
    if (senders.size() == 1) {
      strike(senders.front());
      return;
    }
    if (suspects.size() >= kMaxSuspectPieces && !suspects.count(v.piece)) suspects.erase(suspects.begin());
    // A second failure before any pass: the first one's record stays, the
    // blocks that differ between the two are among the wrong ones anyway.
    suspects.emplace(v.piece, v.blocks);
    return;
  }
  const auto it = suspects.find(v.piece);
  if (it == suspects.end()) return;
  std::vector<host_key> wrong;
  for (const auto& bad : it->second) {
    if (bad.index >= v.blocks.size() || bad.digest == v.blocks[bad.index].digest) continue;
    if (std::find(wrong.begin(), wrong.end(), bad.host) == wrong.end()) wrong.push_back(bad.host);
  }
  suspects.erase(it);
  for (const auto& h : wrong) strike(h);
}

// The peer's handshake: not ourselves, not a second connection to the same
// peer (the info-hash was matched by whoever received it).
result<void> control::check_handshake(const wire::handshake& theirs, peer::peer_slot& slot) {
  if (theirs.id == t.self_id()) return make_error_code(errc::wrong_torrent);
  for (const auto& s : t.slots())
    if (&s != &slot && s.has_id && s.id == theirs.id && s.state.load(std::memory_order_acquire) != peer::peer_slot::free)
      return make_error_code(errc::duplicate_peer);
  slot.id = theirs.id;
  slot.has_id = true;
  return {};
}

wire::handshake control::our_handshake() const {
  wire::handshake h;
  h.info_hash = t.meta().info_hash;
  h.id = t.self_id();
  h.set_fast();
  h.set_extended();
  if (t.dht_port() != 0) h.set_dht();
  return h;
}

std::optional<endpoint> control::outgoing_bind(int family) const { return sta::outgoing_bind(opts.listen, family); }

announce::request control::make_request(announce::event ev) const {
  announce::request r;
  r.info_hash = t.meta().info_hash;
  r.peer_id.assign(t.self_id().begin(), t.self_id().end());
  r.port = t.listen_port();
  r.uploaded = t.counters().uploaded.load(std::memory_order_relaxed);
  r.downloaded = t.counters().downloaded.load(std::memory_order_relaxed);
  r.left = t.geo().total_size() - t.have_bytes();
  r.ip = opts.tracker_ip;
  r.ev = ev;
  r.compact = true;
  r.numwant = ev == announce::event::stopped ? 0 : announce::kMaxNumwant;
  r.tracker_id = tracker_id;
  return r;
}

}  // namespace sta::swarm
