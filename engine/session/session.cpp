#include "session/session.hpp"

#include <algorithm>
#include <chrono>
#include <future>
#include <mutex>
#include <random>
#include <unordered_map>

#include "base/version.hpp"
#include "meta/file_map.hpp"
#include "peer/peer_loop.hpp"
#include "reactor/ops.hpp"
#include "reactor/reactor_group.hpp"
#include "reactor/socket.hpp"
#include "storage/disk_storage.hpp"
#include "swarm/tracker_client.hpp"

namespace sta {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr auto kControlTick = 1s;
constexpr auto kChokeInterval = 10s;
constexpr auto kOptimisticInterval = 30s;
constexpr auto kConnectTimeout = 10s;
constexpr auto kTrackerTimeout = 15s;
constexpr auto kStoppedAnnounceWait = 3s;
constexpr auto kAcceptBackoffFirst = 50ms;
constexpr auto kAcceptBackoffMost = 1s;
constexpr std::size_t kRegularUnchokes = 4;
constexpr std::size_t kMaxCandidates = 10'000;
constexpr std::size_t kMaxStruckHosts = 100'000;
constexpr std::size_t kMaxSuspectPieces = 1024;

wire::peer_id make_peer_id() {
  wire::peer_id id{};
  const std::string prefix = kPeerIdPrefix;
  std::copy(prefix.begin(), prefix.end(), id.begin());
  std::random_device rd;
  const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  for (std::size_t i = prefix.size(); i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(alphabet[rd() % 36]);
  return id;
}

}  // namespace

// Everything below runs on the home reactor (reactor 0), except where noted.
struct session::control {
  struct candidate {
    endpoint addr;
    peer::peer_slot* slot = nullptr;  // while connecting or connected
    std::uint32_t generation = 0;
    clock::time_point next_try{};
    unsigned failures = 0;
  };
  struct host_record {
    std::uint32_t strikes = 0;
    bool banned = false;
  };

  swarm::torrent& t;
  io::reactor_group& group;
  const session_options& opts;
  std::vector<candidate> candidates;
  // Strikes and bans per host (IP address), kept for the whole run: a host
  // that reconnects keeps its strikes, a banned one never gets a slot again.
  std::unordered_map<host_key, host_record, host_key_hash> hosts;
  std::atomic<unsigned> banned_hosts{0};
  // Pieces that failed with blocks from several hosts: who sent what.
  std::unordered_map<std::uint32_t, std::vector<swarm::piece_verdict::block>> suspects;
  std::atomic<std::int64_t> accept_errors{0};
  unsigned next_reactor = 0;
  unsigned half_open = 0;
  bool announced = false;
  bool completed_announced = false;
  std::vector<std::vector<std::string>> tiers;
  std::string tracker_id;
  std::mt19937_64 rng{std::random_device{}()};
  clock::time_point last_choke{};
  clock::time_point last_optimistic{};
  peer::peer_slot* optimistic = nullptr;

  // Read by stats() on other threads: behind a lock, written once per
  // announce.
  mutable std::mutex status_mutex;
  std::string tracker_status;
  std::promise<void> stopped_announced;

  control(swarm::torrent& tt, io::reactor_group& g, const session_options& o) : t(tt), group(g), opts(o) {}

  io::reactor& home() { return group.at(0); }
  io::reactor& pick_reactor() { return group.at(next_reactor++ % group.size()); }

  void set_status(std::string s) {
    std::lock_guard lock(status_mutex);
    tracker_status = std::move(s);
  }

  // Peer connections open or being opened (the process runs one torrent).
  unsigned connections() const {
    unsigned n = 0;
    for (const auto& s : t.slots())
      if (s.state.load(std::memory_order_acquire) != peer::peer_slot::free) ++n;
    return n;
  }

  unsigned connections_from(const host_key& h) const {
    unsigned n = 0;
    for (const auto& s : t.slots())
      if (s.state.load(std::memory_order_acquire) != peer::peer_slot::free && host_of(s.addr) == h) ++n;
    return n;
  }

  bool is_banned(const host_key& h) const {
    const auto it = hosts.find(h);
    return it != hosts.end() && it->second.banned;
  }

  // A host sent bad data: at the limit it is banned, and every connection
  // it has closes at its next step.
  void strike(const host_key& h) {
    if (hosts.size() >= kMaxStruckHosts && !hosts.count(h)) return;
    host_record& r = hosts[h];
    if (r.banned || ++r.strikes < t.lim().strikes_to_ban) return;
    r.banned = true;
    banned_hosts.fetch_add(1, std::memory_order_relaxed);
    for (auto& s : t.slots())
      if (s.state.load(std::memory_order_acquire) != peer::peer_slot::free && host_of(s.addr) == h)
        s.banned.store(true, std::memory_order_relaxed);
  }

  // A piece's hash said who was wrong: the one host that sent all of a
  // failed piece, or, when a piece that failed with several senders has
  // passed since, those whose blocks differ from the good ones.
  void on_verdict(const swarm::piece_verdict& v) {
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

  // The peer's handshake, before we answer or go on: the right torrent,
  // not ourselves, not a second connection to the same peer.
  result<void> check_handshake(const wire::handshake& theirs, peer::peer_slot& slot) {
    if (theirs.info_hash != t.meta().info_hash) return make_error_code(errc::wrong_torrent);
    if (theirs.id == t.self_id()) return make_error_code(errc::wrong_torrent);
    for (const auto& s : t.slots())
      if (&s != &slot && s.has_id && s.id == theirs.id && s.state.load(std::memory_order_acquire) != peer::peer_slot::free)
        return make_error_code(errc::duplicate_peer);
    slot.id = theirs.id;
    slot.has_id = true;
    return {};
  }

  wire::handshake our_handshake() const {
    wire::handshake h;
    h.info_hash = t.meta().info_hash;
    h.id = t.self_id();
    h.set_fast();
    h.set_extended();
    return h;
  }

  void add_candidate(const endpoint& addr) {
    for (const auto& c : candidates)
      if (c.addr == addr) return;
    if (candidates.size() < kMaxCandidates) candidates.push_back({addr});
  }

  // The address outgoing connections of `family` leave from: the listening
  // address given with --listen (any port), unless it is a wildcard.
  std::optional<endpoint> outgoing_bind(int family) const {
    for (const auto& l : opts.listen) {
      if (l.family() != family) continue;
      if (l.is_unspecified()) return std::nullopt;
      return l.with_port(0);
    }
    return std::nullopt;
  }

  announce::request make_request(announce::event ev) const {
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
};

namespace {

using control = session::control;

// Both handshakes on the home reactor by `deadline`, then the connection
// on its own reactor until it ends. The slot is released either way.
io::task<void> handshake_and_run(control& c, unique_fd sock, peer::peer_slot* slot, io::reactor* target, bool outgoing,
                                 clock::time_point deadline) {
  peer::connection_start start;
  std::function<result<void>(const wire::handshake&)> check = [&c, slot](const wire::handshake& h) {
    return c.check_handshake(h, *slot);
  };
  auto theirs = co_await peer::exchange_handshakes(c.home(), sock.get(), c.our_handshake(), outgoing, deadline,
                                                   start.buf, std::move(check));
  if (theirs && !c.t.stopping()) {
    start.sock = std::move(sock);
    start.theirs = *theirs;
    co_await io::switch_to(*target);
    co_await peer::run_peer(c.t, *slot, c.t.owner_of(*slot), std::move(start));
  }
  c.t.release_slot(*slot);
}

io::task<void> accept_loop(control& c, int listen_fd) {
  io::reactor& home = c.home();
  auto backoff = kAcceptBackoffFirst;
  while (!home.stopping()) {
    auto fd = co_await io::accept(home, listen_fd);
    if (!fd) {
      if (fd.error() == std::errc::operation_canceled) co_return;
      // Out of descriptors or memory: the connection waits in the backlog;
      // try again later instead of spinning on the same error.
      if (fd.error() == std::errc::too_many_files_open || fd.error() == std::errc::too_many_files_open_in_system ||
          fd.error() == std::errc::no_buffer_space || fd.error() == std::errc::not_enough_memory) {
        c.accept_errors.fetch_add(1, std::memory_order_relaxed);
        if (!co_await io::sleep(home, backoff)) co_return;
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, kAcceptBackoffMost);
      }
      continue;  // ECONNABORTED...: next one
    }
    backoff = kAcceptBackoffFirst;
    const auto accepted = clock::now();
    unique_fd sock(*fd);
    const auto remote = io::peer_endpoint(sock.get());
    if (!remote || c.t.stopping()) continue;
    // Refused before any slot is taken: a banned host, a full node, a host
    // with too many connections already.
    const host_key host = host_of(*remote);
    if (c.is_banned(host) || c.connections() >= c.opts.max_connections ||
        c.connections_from(host) >= c.t.lim().max_per_host)
      continue;
    peer::peer_slot* slot = c.t.claim_slot(*remote);
    if (slot == nullptr) continue;  // full: the socket closes
    // The handshake has one deadline from the accept.
    home.spawn(handshake_and_run(c, std::move(sock), slot, &c.pick_reactor(), false,
                                 accepted + c.t.lim().peer.handshake_timeout));
  }
}

io::task<void> connect_candidate(control& c, std::size_t index, peer::peer_slot* slot, io::reactor* target) {
  io::reactor& home = c.home();
  const endpoint addr = c.candidates[index].addr;
  ++c.half_open;
  const auto local = c.outgoing_bind(addr.family());
  auto sock = io::tcp_socket(addr.family(), local ? &*local : nullptr);
  bool ok = false;
  if (sock) ok = static_cast<bool>(co_await io::connect(home, sock->get(), addr.addr(), addr.length).deadline(kConnectTimeout));
  --c.half_open;
  if (!ok || c.t.stopping()) {
    c.t.release_slot(*slot);
    co_return;
  }
  co_await handshake_and_run(c, std::move(*sock), slot, target, true,
                             clock::now() + c.t.lim().peer.handshake_timeout);
}

void connect_more(control& c, clock::time_point now) {
  auto& home = c.home();
  unsigned open = c.connections();
  for (std::size_t i = 0; i < c.candidates.size() && c.half_open < c.opts.max_half_open; ++i) {
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
    if (open >= c.opts.max_connections) break;
    peer::peer_slot* slot = c.t.claim_slot(cand.addr);
    if (slot == nullptr) break;
    ++open;
    cand.slot = slot;
    cand.generation = slot->generation.load(std::memory_order_relaxed);
    home.spawn(connect_candidate(c, i, slot, &c.pick_reactor()));
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

io::task<void> control_loop(control& c) {
  io::reactor& home = c.home();
  while (!home.stopping()) {
    const auto now = clock::now();
    if (!c.t.stopping()) connect_more(c, now);
    if (now - c.last_choke >= kChokeInterval) {
      c.last_choke = now;
      choke(c, now);
    }
    if (!(co_await io::sleep(home, kControlTick))) co_return;
  }
}

// One announce, trying the tiers in order and the trackers of a tier in
// order (BEP 12); a tracker that answers moves to the front of its tier.
io::task<std::optional<announce::response>> announce_once(control& c, announce::event ev) {
  std::string last_error = "no tracker";
  for (auto& tier : c.tiers) {
    for (std::size_t i = 0; i < tier.size(); ++i) {
      const auto req = c.make_request(ev);
      const auto bind = c.outgoing_bind(c.opts.listen.empty() ? AF_INET : c.opts.listen.front().family());
      auto r = co_await swarm::http_announce(c.home(), tier[i], req, bind ? &*bind : nullptr, kTrackerTimeout);
      if (!r) {
        last_error = tier[i] + ": " + r.error();
        continue;
      }
      std::rotate(tier.begin(), tier.begin() + static_cast<std::ptrdiff_t>(i), tier.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      if (!r->tracker_id.empty()) c.tracker_id = r->tracker_id;
      c.set_status("tracker ok, " + std::to_string(r->peers.size()) + " peers");
      co_return std::move(*r);
    }
  }
  c.set_status(last_error);
  co_return std::nullopt;
}

io::task<void> announce_loop(control& c) {
  io::reactor& home = c.home();
  auto next = clock::now();
  auto ev = announce::event::started;
  std::int64_t retry = 30;
  while (!home.stopping() && !c.t.stopping()) {
    const auto now = clock::now();
    if (c.announced && !c.completed_announced && c.t.seed() && c.opts.mode == torrent_mode::download) {
      ev = announce::event::completed;
      next = now;
    }
    if (now >= next) {
      auto r = co_await announce_once(c, ev);
      if (home.stopping()) co_return;
      if (r) {
        if (ev == announce::event::completed) c.completed_announced = true;
        if (c.t.seed()) c.completed_announced = true;
        c.announced = true;
        ev = announce::event::none;
        for (const auto& p : r->peers) c.add_candidate(swarm::to_endpoint(p));
        next = clock::now() + std::chrono::seconds(announce::next_interval(*r));
        retry = 30;
      } else {
        next = clock::now() + std::chrono::seconds(retry);
        retry = std::min<std::int64_t>(retry * 2, 1800);
      }
    }
    if (!(co_await io::sleep(home, kControlTick))) co_return;
  }
}

io::task<void> announce_stopped(control& c) {
  if (c.announced) co_await announce_once(c, announce::event::stopped);
  c.stopped_announced.set_value();
}

result<std::vector<unique_fd>, std::string> open_listeners(std::vector<endpoint>& eps) {
  std::vector<unique_fd> fds;
  if (eps.empty()) {
    // Like mainstream clients: 6881, else the next free port up to 6889,
    // else any; on IPv6 too with the same port where the host has IPv6.
    for (std::uint16_t port = 6881; port <= 6890; ++port) {
      auto ep = parse_endpoint("0.0.0.0:" + std::to_string(port == 6890 ? 0 : port));
      auto fd = io::listen_tcp(*ep);
      if (fd) {
        fds.push_back(std::move(*fd));
        eps.push_back(*ep);
        break;
      }
    }
    if (fds.empty()) return std::string("cannot listen on any port");
    auto chosen = io::local_endpoint(fds.front().get());
    auto v6 = parse_endpoint("[::]:" + std::to_string(chosen ? chosen->port() : 0));
    if (auto fd = io::listen_tcp(*v6)) {
      fds.push_back(std::move(*fd));
      eps.push_back(*v6);
    }
  } else {
    for (const auto& ep : eps) {
      auto fd = io::listen_tcp(ep);
      if (!fd) return "cannot listen on " + ep.to_string() + ": " + fd.error().message();
      fds.push_back(std::move(*fd));
    }
  }
  for (std::size_t i = 0; i < fds.size(); ++i) {
    auto local = io::local_endpoint(fds[i].get());
    if (local) eps[i] = *local;
  }
  return fds;
}

// The pieces that hold bytes of a selected file.
bitfield wanted_pieces(const meta::metainfo& m, const std::vector<bool>& selected) {
  const meta::file_map map(m);
  bitfield wanted(static_cast<std::size_t>(m.piece_count()));
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    if (m.files[i].pad || (!selected.empty() && !selected[i])) continue;
    const auto range = map.file_pieces(i);
    for (std::int64_t p = range.first; p <= range.last; ++p) wanted.set(static_cast<std::size_t>(p));
  }
  return wanted;
}

}  // namespace

detailed_result<std::unique_ptr<session>> session::start(const meta::metainfo& m, session_options opts) {
  std::unique_ptr<session> s(new session());
  s->meta_ = &m;
  s->opts_ = std::move(opts);
  const auto& o = s->opts_;

  if (!o.selected.empty() && (o.selected.size() != m.files.size() || o.mode == torrent_mode::seed))
    return fail(errc::bad_value, "a file selection needs download mode and one flag per file");

  storage::open_params params;
  params.meta = &m;
  params.save_dir = o.save_dir;
  params.intent = o.mode == torrent_mode::seed ? storage::open_intent::seed : storage::open_intent::download;
  params.selected = o.selected;
  params.allow_truncate = o.allow_truncate;
  params.on_check_progress = o.on_check_progress;
  auto opened = o.storage ? o.storage(params) : storage::open_disk(params);
  if (!opened) return opened.error();

  s->listening_ = o.listen;
  auto fds = open_listeners(s->listening_);
  if (!fds) return detailed_error{make_error_code(std::errc::address_in_use), fds.error()};
  s->listen_fds_ = std::move(*fds);

  const bitfield wanted = wanted_pieces(m, o.selected);
  s->torrent_ = std::make_unique<swarm::torrent>(m, std::move(opened->store), opened->have, wanted, make_peer_id(),
                                                 s->listening_.front().port(), o.limits);
  const auto& geo = s->torrent_->geo();
  auto& picker = s->torrent_->picker();
  for (piece_index p : geo.pieces()) {
    if (wanted.test(p.value())) {
      s->selected_total_ += geo.piece_size(p);
      ++s->selected_pieces_;
    } else if (picker.have(p.value())) {
      s->unselected_have_bytes_ += geo.piece_size(p);
      ++s->unselected_have_pieces_;
    }
  }
  picker.set_sequential(o.sequential);
  io::reactor_group::options gopts;
  gopts.reactors = o.threads;
  auto group = io::reactor_group::start(gopts);
  if (!group) return detailed_error{make_error_code(std::errc::function_not_supported), group.error()};
  s->group_ = std::move(*group);

  s->control_ = std::make_unique<control>(*s->torrent_, *s->group_, s->opts_);
  control& c = *s->control_;
  for (const auto& p : o.peers) c.add_candidate(p);
  if (o.use_trackers) c.tiers = m.trackers;
  io::reactor& home = c.home();
  // Verdicts come from whichever reactor hashed the piece; strikes and bans
  // are the home reactor's.
  s->torrent_->on_verdict = [&c, &home](swarm::piece_verdict v) {
    home.post([&c, v = std::move(v)] { c.on_verdict(v); });
  };
  std::vector<int> listen_fds;
  for (const auto& fd : s->listen_fds_) listen_fds.push_back(fd.get());
  home.post([&c, &home, listen_fds] {
    home.spawn(control_loop(c));
    for (int fd : listen_fds) home.spawn(accept_loop(c, fd));
    if (!c.tiers.empty()) home.spawn(announce_loop(c));
  });
  return s;
}

session::~session() { stop(); }

session_stats session::stats() const {
  session_stats st;
  const auto& t = *torrent_;
  st.total = t.geo().total_size();
  st.selected_total = selected_total_;
  st.verified = t.have_bytes() - unselected_have_bytes_;
  st.pieces = selected_pieces_;
  st.verified_pieces = t.picker().have_count() - unselected_have_pieces_;
  st.complete = t.picker().complete();
  st.downloaded = t.counters().downloaded.load(std::memory_order_relaxed);
  st.uploaded = t.counters().uploaded.load(std::memory_order_relaxed);
  st.wasted = t.counters().wasted.load(std::memory_order_relaxed);
  st.hash_failures = t.hash_failures.load(std::memory_order_relaxed);
  st.read_errors = t.read_errors.load(std::memory_order_relaxed);
  for (const auto& s : t.slots()) {
    if (s.state.load(std::memory_order_acquire) != peer::peer_slot::connected) continue;
    ++st.peers;
    if (s.peer_is_seed.load(std::memory_order_relaxed)) ++st.seeds;
  }
  st.error = t.error();
  st.warnings = t.warnings();
  if (control_) {
    st.accept_errors = control_->accept_errors.load(std::memory_order_relaxed);
    st.banned_hosts = control_->banned_hosts.load(std::memory_order_relaxed);
    std::lock_guard lock(control_->status_mutex);
    st.tracker_status = control_->tracker_status;
  }
  return st;
}

std::vector<std::uint32_t> session::verified_order() const {
  std::vector<std::uint32_t> out;
  while (auto p = torrent_->log().at(out.size())) out.push_back(*p);
  return out;
}

detailed_result<void> session::save_resume() {
  // The snapshot comes first: pieces verified after it are simply not
  // recorded; every recorded piece was written before the flush.
  return torrent_->store().save_resume(torrent_->picker().have_bits());
}

detailed_result<void> session::stop() {
  if (stopped_ || !group_) return stop_result_;
  stopped_ = true;
  control& c = *control_;
  auto done = c.stopped_announced.get_future();
  io::reactor& home = c.home();
  home.post([&c, &home] { home.spawn(announce_stopped(c)); });
  done.wait_for(kStoppedAnnounceWait);
  torrent_->stop();
  group_->stop();
  stop_result_ = save_resume();
  return stop_result_;
}

}  // namespace sta
