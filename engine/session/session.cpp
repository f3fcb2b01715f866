#include "session/session.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <mutex>
#include <random>

#include "base/version.hpp"
#include "reactor/ops.hpp"
#include "reactor/reactor_group.hpp"
#include "storage/file_set.hpp"
#include "storage/resume.hpp"
#include "storage/verify.hpp"
#include "swarm/peer_connection.hpp"
#include "swarm/tracker_client.hpp"

namespace sta {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr auto kControlTick = 1s;
constexpr auto kChokeInterval = 10s;
constexpr auto kOptimisticInterval = 30s;
constexpr auto kConnectTimeout = 10s;
constexpr auto kTrackerTimeout = std::chrono::seconds(15);
constexpr auto kStoppedAnnounceWait = 3s;
constexpr std::size_t kRegularUnchokes = 4;
constexpr std::int64_t kDefaultInterval = 1800;
constexpr std::int64_t kMinInterval = 10;

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
    swarm::peer_slot* slot = nullptr;  // while connecting or connected
    std::uint32_t generation = 0;
    clock::time_point next_try{};
    unsigned failures = 0;
  };

  swarm::torrent& t;
  io::reactor_group& group;
  const session_options& opts;
  std::vector<candidate> candidates;
  std::vector<endpoint> banned;
  unsigned next_reactor = 0;
  unsigned half_open = 0;
  bool announced = false;
  bool completed_announced = false;
  std::vector<std::vector<std::string>> tiers;
  std::string tracker_id;
  std::mt19937_64 rng{std::random_device{}()};
  clock::time_point last_choke{};
  clock::time_point last_optimistic{};
  swarm::peer_slot* optimistic = nullptr;

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
      if (s.state.load(std::memory_order_acquire) != swarm::peer_slot::free) ++n;
    return n;
  }

  bool is_banned(const endpoint& addr) const {
    return std::any_of(banned.begin(), banned.end(), [&](const endpoint& b) { return b.same_host(addr); });
  }

  void add_candidate(const endpoint& addr) {
    for (const auto& c : candidates)
      if (c.addr == addr) return;
    if (candidates.size() < 10'000) candidates.push_back({addr});
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
    r.uploaded = t.uploaded.load(std::memory_order_relaxed);
    r.downloaded = t.downloaded.load(std::memory_order_relaxed);
    r.left = t.map().total_size() - t.have_bytes();
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

io::task<void> run_incoming(unique_fd sock, swarm::torrent* t, swarm::peer_slot* slot, io::reactor* target) {
  co_await io::switch_to(*target);
  co_await swarm::run_peer(*t, std::move(sock), *slot);
}

io::task<void> accept_loop(control& c, int listen_fd) {
  io::reactor& home = c.home();
  while (!home.stopping()) {
    auto fd = co_await io::accept(home, listen_fd);
    if (!fd) {
      if (fd.error() == std::errc::operation_canceled) co_return;
      continue;  // EMFILE, ECONNABORTED...: keep serving the others
    }
    unique_fd sock(*fd);
    const auto remote = io::peer_endpoint(sock.get());
    if (!remote) continue;
    const endpoint& peer = *remote;
    if (c.t.stopping.load(std::memory_order_acquire) || c.is_banned(peer)) continue;
    if (c.connections() >= c.opts.max_connections) continue;
    swarm::peer_slot* slot = c.t.claim_slot(peer, false);
    if (slot == nullptr) continue;  // full: the socket closes
    home.spawn(run_incoming(std::move(sock), &c.t, slot, &c.pick_reactor()));
  }
}

io::task<void> connect_candidate(control& c, std::size_t index, swarm::peer_slot* slot, io::reactor* target) {
  io::reactor& home = c.home();
  const endpoint addr = c.candidates[index].addr;
  ++c.half_open;
  const auto local = c.outgoing_bind(addr.family());
  auto sock = io::tcp_socket(addr.family(), local ? &*local : nullptr);
  bool ok = false;
  if (sock) {
    auto r = co_await io::connect(home, sock->get(), addr.addr(), addr.length).deadline(kConnectTimeout);
    ok = r.has_value();
  }
  --c.half_open;
  if (!ok || c.t.stopping.load(std::memory_order_acquire)) {
    c.t.release_slot(*slot);
    co_return;
  }
  co_await io::switch_to(*target);
  co_await swarm::run_peer(c.t, std::move(*sock), *slot);
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
    if (now < cand.next_try || c.is_banned(cand.addr)) continue;
    if (open >= c.opts.max_connections) break;
    swarm::peer_slot* slot = c.t.claim_slot(cand.addr, true);
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
  std::vector<swarm::peer_slot*> interested;
  for (auto& s : c.t.slots())
    if (s.state.load(std::memory_order_acquire) == swarm::peer_slot::connected &&
        s.peer_interested.load(std::memory_order_relaxed))
      interested.push_back(&s);
  auto rate = [&](const swarm::peer_slot* s) {
    return seeding ? s->up_rate.load(std::memory_order_relaxed) : s->down_rate.load(std::memory_order_relaxed);
  };
  std::stable_sort(interested.begin(), interested.end(), [&](const swarm::peer_slot* a, const swarm::peer_slot* b) {
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
    for (auto& s : c.t.slots()) {
      if (s.state.load(std::memory_order_acquire) != swarm::peer_slot::free &&
          s.banned.load(std::memory_order_relaxed) && !c.is_banned(s.addr))
        c.banned.push_back(s.addr);
    }
    if (!c.t.stopping.load(std::memory_order_acquire)) connect_more(c, now);
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
  while (!home.stopping() && !c.t.stopping.load(std::memory_order_acquire)) {
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
        const std::int64_t interval = std::max(r->interval > 0 ? r->interval : kDefaultInterval, kMinInterval);
        next = clock::now() + std::chrono::seconds(interval);
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

// Whether a file's bytes would live in the parts file under this selection.
bool parts_backed(const meta::metainfo& m, const std::vector<bool>& selected, std::size_t file) {
  return !selected.empty() && !selected[file] && !m.files[file].pad && m.files[file].size > 0;
}

// The pieces that hold bytes of a selected file.
bitfield wanted_pieces(const meta::metainfo& m, const meta::file_map& map, const std::vector<bool>& selected) {
  bitfield wanted(static_cast<std::size_t>(m.piece_count()));
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    if (m.files[i].pad || (!selected.empty() && !selected[i])) continue;
    const auto range = map.file_pieces(i);
    for (std::int64_t p = range.first; p <= range.last; ++p) wanted.set(static_cast<std::size_t>(p));
  }
  return wanted;
}

bool any_file_exists(const meta::metainfo& m, const std::string& save_dir) {
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    struct stat st {};
    if (!m.files[i].pad && ::stat((save_dir + "/" + m.relative_path(i)).c_str(), &st) == 0) return true;
  }
  return false;
}

}  // namespace

detailed_result<std::unique_ptr<session>> session::start(const meta::metainfo& m, session_options opts) {
  std::unique_ptr<session> s(new session());
  s->meta_ = &m;
  s->opts_ = std::move(opts);
  const auto& o = s->opts_;

  if (!o.selected.empty() && (o.selected.size() != m.files.size() || o.mode == torrent_mode::seed))
    return fail(errc::bad_value, "a file selection needs download mode and one flag per file");
  if (o.mode == torrent_mode::download) ::mkdir(o.save_dir.c_str(), 0755);
  struct stat st {};
  if (::stat(o.save_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return fail(errc::file_missing, o.save_dir + " (no such directory)");

  // Which pieces are already here: a matching resume record, else a check.
  bitfield have(static_cast<std::size_t>(m.piece_count()));
  const std::string resume = storage::resume_path(o.save_dir, m.info_hash);
  const meta::file_map map(m);
  if (auto r = storage::load_matching_resume(resume, m, o.save_dir)) {
    // A piece counts only if each of its bytes is still where it was
    // written: in its file, or in the parts file if its file was not
    // selected then. A change of selection moves some of them.
    auto moved = [&](const meta::file_slice& sl) {
      const bool was = !r->in_parts.empty() && r->in_parts[sl.file];
      return was != parts_backed(m, o.selected, sl.file);
    };
    for (std::size_t i = 0; i < r->verified.size(); ++i) {
      if (!r->verified[i]) continue;
      const auto slices = map.piece_slices(static_cast<std::int64_t>(i));
      if (std::none_of(slices.begin(), slices.end(), moved)) have.set(i);
    }
  } else if (o.mode == torrent_mode::seed || any_file_exists(m, o.save_dir)) {
    storage::hash_options hopts;
    hopts.on_progress = o.on_check_progress;
    auto report = storage::verify_data(m, o.save_dir, hopts);
    if (!report) return report.error();
    if (o.mode == torrent_mode::seed) {
      if (!report->missing_files.empty())
        return fail(errc::file_missing, o.save_dir + "/" + m.relative_path(report->missing_files.front()));
      if (!report->wrong_size_files.empty())
        return fail(errc::file_wrong_size, o.save_dir + "/" + m.relative_path(report->wrong_size_files.front().file));
      if (!report->complete())
        return fail(errc::bad_value, std::to_string(report->bad_pieces) + " of " + std::to_string(report->piece_count) +
                                         " pieces do not verify; `sta get` completes them");
    }
    // The check read the files; a piece with bytes of an unselected file
    // keeps those in the parts file from now on, which the check did not
    // read.
    auto in_parts = [&](const meta::file_slice& sl) { return parts_backed(m, o.selected, sl.file); };
    for (std::size_t i = 0; i < report->verified.size(); ++i) {
      const auto slices = map.piece_slices(static_cast<std::int64_t>(i));
      if (report->verified[i] && std::none_of(slices.begin(), slices.end(), in_parts)) have.set(i);
    }
  }

  auto files = storage::file_set::open(
      m, o.save_dir, o.mode == torrent_mode::seed ? storage::open_mode::existing : storage::open_mode::create,
      o.selected);
  if (!files) return files.error();

  s->listening_ = o.listen;
  auto fds = open_listeners(s->listening_);
  if (!fds) return detailed_error{make_error_code(std::errc::address_in_use), fds.error()};
  s->listen_fds_ = std::move(*fds);

  s->torrent_ = std::make_unique<swarm::torrent>(m, std::move(*files), have, make_peer_id(),
                                                 s->listening_.front().port(), o.limits);
  auto& picker = s->torrent_->picker();
  const bitfield wanted = wanted_pieces(m, map, o.selected);
  for (std::uint32_t p = 0; p < s->torrent_->piece_count(); ++p) {
    const std::int64_t size = map.piece_size(p);
    if (wanted.test(p)) {
      s->selected_total_ += size;
      ++s->selected_pieces_;
    } else {
      picker.skip(p);
      if (picker.have(p)) {
        s->unselected_have_bytes_ += size;
        ++s->unselected_have_pieces_;
      }
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
  std::vector<int> listen_fds;
  for (const auto& fd : s->listen_fds_) listen_fds.push_back(fd.get());
  io::reactor& home = c.home();
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
  st.total = t.map().total_size();
  st.selected_total = selected_total_;
  st.verified = t.have_bytes() - unselected_have_bytes_;
  st.pieces = selected_pieces_;
  st.verified_pieces = t.picker().have_count() - unselected_have_pieces_;
  st.complete = t.picker().complete();
  st.downloaded = t.downloaded.load(std::memory_order_relaxed);
  st.uploaded = t.uploaded.load(std::memory_order_relaxed);
  st.wasted = t.wasted.load(std::memory_order_relaxed);
  st.hash_failures = t.hash_failures.load(std::memory_order_relaxed);
  for (const auto& s : t.slots()) {
    if (s.state.load(std::memory_order_acquire) != swarm::peer_slot::connected) continue;
    ++st.peers;
    if (s.peer_is_seed.load(std::memory_order_relaxed)) ++st.seeds;
  }
  st.error = t.error();
  if (control_) {
    std::lock_guard lock(control_->status_mutex);
    st.tracker_status = control_->tracker_status;
  }
  return st;
}

std::vector<std::uint32_t> session::verified_order() const {
  std::vector<std::uint32_t> out;
  while (auto p = torrent_->verified_at(out.size())) out.push_back(*p);
  return out;
}

detailed_result<void> session::save_resume() {
  storage::resume_data r;
  r.info_hash = meta_->info_hash;
  // The snapshot comes first: pieces verified after it are simply not
  // recorded; every recorded piece was written before the flush below.
  const bitfield have = torrent_->picker().have_bits();
  r.verified.resize(have.size());
  for (std::size_t i = 0; i < have.size(); ++i) r.verified[i] = have.test(i);
  const auto& files = torrent_->files();
  for (std::size_t i = 0; i < files.size(); ++i)
    if (files.fd(i) >= 0) ::fdatasync(files.fd(i));
  r.files = storage::stamp_files(*meta_, opts_.save_dir);
  if (files.parts_fd() >= 0) {
    ::fdatasync(files.parts_fd());
    r.in_parts.resize(files.size());
    for (std::size_t i = 0; i < files.size(); ++i) r.in_parts[i] = files.in_parts(i);
    r.parts = storage::stamp_file(storage::parts_path(opts_.save_dir, meta_->info_hash));
  }
  return storage::save_resume(storage::resume_path(opts_.save_dir, meta_->info_hash), r);
}

void session::stop() {
  if (stopped_ || !group_) return;
  stopped_ = true;
  control& c = *control_;
  auto done = c.stopped_announced.get_future();
  io::reactor& home = c.home();
  home.post([&c, &home] { home.spawn(announce_stopped(c)); });
  done.wait_for(kStoppedAnnounceWait);
  torrent_->stopping.store(true, std::memory_order_release);
  group_->stop();
  save_resume();
}

}  // namespace sta
