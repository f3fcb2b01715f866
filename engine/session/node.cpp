#include "session/node.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "base/version.hpp"
#include "meta/build.hpp"
#include "meta/file_map.hpp"
#include "peer/client_name.hpp"
#include "peer/peer_loop.hpp"
#include "reactor/ops.hpp"
#include "reactor/reactor_group.hpp"
#include "reactor/socket.hpp"
#include "storage/block_cache.hpp"
#include "storage/disk_storage.hpp"
#include "session/torrent_list.hpp"
#include "storage/metered_storage.hpp"
#include "swarm/control.hpp"
#include "swarm/metadata_fetch.hpp"

namespace sta {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using swarm::torrent_action;
using swarm::torrent_event;
using swarm::torrent_state;

namespace {

constexpr auto kNodeTick = 100ms;
// At stop: the stopped announces (3 s each, in parallel).
constexpr auto kStopWait = 4s;
constexpr auto kAcceptBackoffFirst = 50ms;
constexpr auto kAcceptBackoffMost = 1s;

wire::peer_id make_peer_id() {
  wire::peer_id id{};
  const std::string prefix = kPeerIdPrefix;
  std::copy(prefix.begin(), prefix.end(), id.begin());
  std::random_device rd;
  const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  for (std::size_t i = prefix.size(); i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(alphabet[rd() % 36]);
  return id;
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

// Everything below runs on the home reactor (reactor 0), except the worker
// thread and what is marked otherwise.
struct node::core {
  struct check_progress {
    std::atomic<std::int64_t> done{0};
  };
  struct entry {
    torrent_id id = 0;
    sha1_digest info_hash;
    std::string name;
    // Null while a magnet link's torrent fetches its metadata.
    std::shared_ptr<const meta::metainfo> meta;
    std::unique_ptr<swarm::metadata_fetch> f;  // a magnet's, until its metadata is in
    std::vector<std::vector<std::string>> magnet_tiers;
    torrent_options opts;
    swarm::lifecycle life;
    unsigned home = 0;
    bitfield wanted;
    // Fixed at the check: the selection's size, and what was verified
    // already of pieces outside it (seeded, not part of its progress).
    std::int64_t selected_total = 0;
    std::uint32_t selected_pieces = 0;
    std::int64_t unselected_have_bytes = 0;
    std::uint32_t unselected_have_pieces = 0;
    std::unique_ptr<swarm::torrent> t;
    std::unique_ptr<swarm::control> c;
    std::shared_ptr<check_progress> progress = std::make_shared<check_progress>();
    bool delete_data = false;
    bool check_waits = false;  // a check to start once the old torrent has drained
    bool fetch_waits = false;  // a fetch to start again once its last run has drained
    // The next check follows a new file selection: the old run's resume
    // record is saved before it, so that the check trusts what it verified.
    bool save_before_check = false;
    // What the next run keeps of the last one's control plane.
    std::optional<swarm::control::carried> carried;
    // Its storage's bytes, over every run.
    std::shared_ptr<storage::io_bytes> io = std::make_shared<storage::io_bytes>();
    // Payload bytes of its earlier runs (before a check again), so that
    // its counts never go down.
    std::int64_t earlier_down = 0;
    std::int64_t earlier_up = 0;
    std::optional<std::string> error;
    error_code code;
    std::optional<detailed_error> check_error;  // the last check's, as the storage said it
    std::uint64_t queued_seq = 0;
    // Rates, sampled by the node's tick about once a second.
    std::int64_t sampled_down = 0;
    std::int64_t sampled_up = 0;
    std::int64_t down_rate = 0;
    std::int64_t up_rate = 0;

    bool drained() const { return (!t || t->drained()) && (!f || f->drained()); }
  };
  // Blocking work for the worker thread; `must_run` jobs (deleting a
  // removed torrent's files) run even when the node stops first.
  struct job {
    std::function<void()> run;
    bool must_run = false;
  };

  node_options opts;
  std::vector<endpoint> listen_config;
  std::uint16_t port = 0;
  wire::peer_id self = make_peer_id();
  swarm::shared_limits process;
  storage::io_meter io_meter;
  std::unique_ptr<io::reactor_group> group;
  std::map<torrent_id, std::unique_ptr<entry>> entries;  // in the order they were added
  std::map<sha1_digest, torrent_id> by_hash;
  torrent_id next_id = 1;
  std::uint64_t next_seq = 0;
  unsigned next_home = 0;
  std::atomic<std::int64_t> accept_errors{0};
  bool stopping = false;
  clock::time_point last_sample = clock::now();
  // Bytes of torrents freed since the start (removed, or checked again
  // after an error), so the node's totals never go down.
  std::int64_t freed_down = 0;
  std::int64_t freed_up = 0;
  std::promise<void> announced_for_stop;
  bool announced_promised = false;
  std::unique_ptr<dht_service> dht;

  // The worker thread: checks one at a time in the order they were asked,
  // and other blocking file work.
  std::mutex work_mutex;
  std::condition_variable work_cv;
  std::deque<job> jobs;
  bool worker_quit = false;
  std::atomic<bool> cancel_checks{false};  // the node stops: give up the running check
  std::jthread worker;

  // The control thread's waits (wait_checked, wait_removed): `changes`
  // counts lifecycle changes.
  std::mutex wait_mutex;
  std::condition_variable wait_cv;
  std::uint64_t changes = 0;

  explicit core(const node_options& o)
      : opts(o), process(o.max_connections, o.max_half_open, o.download_rate, o.upload_rate) {}

  io::reactor& home() { return group->at(0); }

  // Runs fn on reactor r and returns what it returns; directly once the
  // reactors have stopped. Never from a reactor thread.
  template <class F>
  static auto call_on(io::reactor& r, F fn, bool stopped) -> decltype(fn()) {
    if (stopped) return fn();
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    auto shared = std::make_shared<decltype(task)>(std::move(task));
    r.post([shared] { (*shared)(); });
    return result.get();
  }
  template <class F>
  auto call(F fn, bool stopped) -> decltype(fn()) {
    return call_on(home(), std::move(fn), stopped);
  }

  void changed() {
    {
      std::lock_guard lock(wait_mutex);
      ++changes;
    }
    wait_cv.notify_all();
  }

  std::uint64_t change_count() {
    std::lock_guard lock(wait_mutex);
    return changes;
  }

  // The control thread: until the count moves past `seen` (or a tick
  // passed, for changes the lifecycle does not count).
  void wait_change(std::uint64_t seen) {
    std::unique_lock lock(wait_mutex);
    wait_cv.wait_for(lock, kNodeTick, [&] { return changes != seen; });
  }

  entry* find(torrent_id id) {
    const auto it = entries.find(id);
    return it == entries.end() ? nullptr : it->second.get();
  }

  void run_worker() {
    for (;;) {
      job j;
      {
        std::unique_lock lock(work_mutex);
        work_cv.wait(lock, [&] { return worker_quit || !jobs.empty(); });
        if (worker_quit) {
          // Checks are not worth waiting for at exit; deletions asked for are.
          while (!jobs.empty() && !jobs.front().must_run) jobs.pop_front();
          if (jobs.empty()) return;
        }
        j = std::move(jobs.front());
        jobs.pop_front();
      }
      j.run();
    }
  }

  void push_job(job j) {
    {
      std::lock_guard lock(work_mutex);
      jobs.push_back(std::move(j));
    }
    work_cv.notify_one();
  }

  void queue_check(entry& e) {
    e.progress->done.store(0, std::memory_order_relaxed);
    storage::open_params params;
    params.meta = e.meta.get();
    params.save_dir = e.opts.save_dir;
    params.state_dir = e.opts.state_dir;
    params.intent = e.opts.mode == torrent_mode::seed ? storage::open_intent::seed : storage::open_intent::download;
    params.selected = e.opts.selected;
    params.allow_truncate = e.opts.allow_truncate;
    params.direct_writes = e.opts.direct_writes;
    params.cancel = &cancel_checks;
    params.on_check_progress = [progress = e.progress, user = e.opts.on_check_progress](std::int64_t done,
                                                                                        std::int64_t total) {
      progress->done.store(done, std::memory_order_relaxed);
      if (user) user(done, total);
    };
    // The job keeps the metainfo alive: the torrent may be removed meanwhile.
    push_job({[this, id = e.id, meta = e.meta, params = std::move(params), factory = e.opts.storage] {
      auto opened =
          std::make_shared<detailed_result<storage::opened>>(factory ? factory(params) : storage::open_disk(params));
      // A check given up at stop is incomplete: it must not become the
      // torrent's verified pieces (nor its resume record).
      if (cancel_checks.load(std::memory_order_relaxed)) return;
      home().post([this, id, opened] { on_checked(id, std::move(*opened)); });
    }});
  }

  // Carries out what a lifecycle transition asks.
  void act(entry& e, torrent_action a) {
    switch (a) {
      case torrent_action::none:
      case torrent_action::discard_check:
      case torrent_action::drop: break;
      case torrent_action::start_check:
        if (e.drained()) {
          free_torrent(e);
          queue_check(e);
        } else {
          e.check_waits = true;
        }
        break;
      case torrent_action::start: e.c->start(); break;
      case torrent_action::stop:
      case torrent_action::stop_and_drop: e.c->stop(); break;
      case torrent_action::stop_and_check:
        e.c->stop();
        e.check_waits = true;
        break;
      case torrent_action::start_fetch:
        // After a pause, once the last run's connections have ended.
        if (e.f->drained()) e.f->start();
        else e.fetch_waits = true;
        break;
      case torrent_action::stop_fetch:
        e.fetch_waits = false;
        e.f->stop();
        break;
    }
    if (e.life.state() == torrent_state::queued) e.queued_seq = next_seq++;
    changed();
  }

  result<void> event(entry& e, torrent_event ev) {
    const auto o = e.life.on(ev);
    if (!o.allowed) return make_error_code(errc::bad_state);
    act(e, o.action);
    return {};
  }

  void on_checked(torrent_id id, detailed_result<storage::opened> opened) {
    entry* e = find(id);
    if (e == nullptr) return;
    if (!opened) {
      e->error = opened.error().message();
      e->code = opened.error().code;
      e->check_error = opened.error();
      event(*e, torrent_event::check_failed);
      return;
    }
    if (e->life.state() == torrent_state::removed) {
      event(*e, torrent_event::check_passed);  // discarded with the result
      return;
    }
    e->error.reset();
    e->code = {};
    e->check_error.reset();
    make_torrent(*e, std::move(*opened));
    event(*e, torrent_event::check_passed);
    promote();
  }

  void make_torrent(entry& e, storage::opened opened) {
    const auto& m = *e.meta;
    e.t = std::make_unique<swarm::torrent>(m, storage::metered(std::move(opened.store), io_meter, e.io), opened.have,
                                           e.wanted, self, port, e.opts.limits, process);
    auto& t = *e.t;
    e.unselected_have_bytes = 0;
    e.unselected_have_pieces = 0;
    for (piece_index p : t.geo().pieces())
      if (!e.wanted.test(p.value()) && t.picker().have(p.value())) {
        e.unselected_have_bytes += t.geo().piece_size(p);
        ++e.unselected_have_pieces;
      }
    t.picker().set_sequential(e.opts.sequential);
    t.set_hashers(group.get());
    swarm::control_options co;
    co.peers = e.opts.peers;
    if (e.opts.use_trackers) co.tiers = m.trackers;
    co.tracker_ip = opts.tracker_ip;
    co.listen = listen_config;
    co.downloading = e.opts.mode == torrent_mode::download;
    co.verify_tls = opts.verify_tracker_tls;
    if (dht)
      t.set_dht(dht->announce_port, [this](const endpoint& node) {
        home().post([this, node] {
          if (dht) dht->add_contact(node);
        });
      });
    e.c = std::make_unique<swarm::control>(t, *group, e.home, std::move(co));
    if (e.carried) e.c->adopt(std::move(*std::exchange(e.carried, std::nullopt)));
  }

  // A magnet's metadata arrived (from its fetcher's home reactor).
  void on_metadata(torrent_id id, std::string info) {
    entry* e = find(id);
    if (e == nullptr || e->meta || e->life.state() == torrent_state::removed) return;
    std::string bytes = meta::torrent_from_info(info, e->magnet_tiers);
    auto m = meta::parse(bytes);
    if (!m) {
      // Its hash is right, so no peer will send anything else: the torrent
      // itself is not one sta can take (an unsafe path, ...).
      e->error = "the fetched metadata: " + m.error().message();
      e->code = m.error().code;
      e->life.on(torrent_event::metadata_received);
      e->life.on(torrent_event::check_failed);
      changed();
      return;
    }
    e->name = m->name;
    e->meta = std::make_shared<const meta::metainfo>(std::move(*m));
    select(*e);
    // Saved before the check starts (the worker runs jobs in order); a
    // failure only means the next add of the magnet fetches it again.
    push_job({[save = e->opts.save_dir, state = e->opts.state_dir, hash = e->info_hash, bytes = std::move(bytes)] {
      (void)save_fetched_torrent(save, state, hash, bytes);
    }});
    event(*e, torrent_event::metadata_received);
  }

  // The torrent's objects are gone; nothing of it stays in any reactor.
  void free_torrent(entry& e) {
    if (e.f && e.f->drained()) {
      // A magnet's fetcher: the peers it found go on to the torrent.
      if (!e.carried) e.carried.emplace();
      for (const auto& p : e.f->known_peers()) e.carried->peers.push_back(p);
      e.f.reset();
    }
    if (!e.t) return;
    const std::uint64_t uid = e.t->uid();
    const auto down = e.t->counters().downloaded.load(std::memory_order_relaxed);
    const auto up = e.t->counters().uploaded.load(std::memory_order_relaxed);
    freed_down += down;
    freed_up += up;
    e.earlier_down += down;
    e.earlier_up += up;
    e.carried = e.c->carry();
    e.c.reset();
    if (std::exchange(e.save_before_check, false)) {
      // On the worker, before the check queued next: the record says where
      // the verified pieces' bytes are under the old selection.
      push_job({[t = std::shared_ptr<swarm::torrent>(std::move(e.t))] { t->store().save_resume(t->picker().have_bits()); },
                true});
    }
    e.t.reset();
    e.sampled_down = e.sampled_up = 0;
    for (unsigned i = 0; i < group->size(); ++i)
      group->at(i).post([uid] { storage::block_cache::for_this_thread().erase_torrent(uid); });
  }

  // Every tick: live torrents that failed, torrents that drained, queued
  // torrents that may go live.
  void sample_rates() {
    const auto now = clock::now();
    const double dt = std::chrono::duration<double>(now - last_sample).count();
    if (dt < 1.0) return;
    last_sample = now;
    for (auto& [id, e] : entries) {
      if (!e->t) {
        e->down_rate = e->up_rate = 0;
        continue;
      }
      const auto down = e->t->counters().downloaded.load(std::memory_order_relaxed);
      const auto up = e->t->counters().uploaded.load(std::memory_order_relaxed);
      e->down_rate = static_cast<std::int64_t>(static_cast<double>(std::max<std::int64_t>(0, down - e->sampled_down)) / dt);
      e->up_rate = static_cast<std::int64_t>(static_cast<double>(std::max<std::int64_t>(0, up - e->sampled_up)) / dt);
      e->sampled_down = down;
      e->sampled_up = up;
    }
  }

  void tick() {
    sample_rates();
    for (auto& [id, e] : entries) {
      // A write that failed, while live or in the last moments of a run
      // that was paused.
      const auto st = e->life.state();
      if ((st == torrent_state::live || st == torrent_state::paused) && e->t && e->t->error()) {
        e->error = *e->t->error();
        e->code = make_error_code(std::errc::io_error);
        event(*e, torrent_event::fail);
      }
      // Removed while its check waited for the old run to drain: that check
      // never starts.
      if (st == torrent_state::removed && e->check_waits) {
        e->check_waits = false;
        event(*e, torrent_event::check_failed);
      }
    }
    for (auto it = entries.begin(); it != entries.end();) {
      entry& e = *it->second;
      if (e.life.state() == torrent_state::removed && e.drained() && !e.life.check_in_flight()) {
        drop(e);
        it = entries.erase(it);
        changed();
        continue;
      }
      if (e.fetch_waits && e.f && e.f->drained()) {
        e.fetch_waits = false;
        e.f->start();
      }
      if (e.check_waits && e.drained()) {
        e.check_waits = false;
        free_torrent(e);
        queue_check(e);
      }
      ++it;
    }
    if (stopping) {
      const bool announced = std::all_of(entries.begin(), entries.end(), [](const auto& kv) {
        return !kv.second->c || kv.second->c->stopped_announced.load(std::memory_order_acquire);
      });
      if (!announced_promised && announced) {
        announced_promised = true;
        announced_for_stop.set_value();
      }
      return;
    }
    promote();
  }

  // The torrents the DHT looks up: live or fetching metadata, not private.
  std::vector<sha1_digest> dht_wanted() const {
    std::vector<sha1_digest> out;
    for (const auto& [id, e] : entries) {
      const auto st = e->life.state();
      if (st == torrent_state::fetching_metadata || (st == torrent_state::live && e->meta && !e->meta->is_private))
        out.push_back(e->info_hash);
    }
    return out;
  }

  void dht_found(const sha1_digest& info_hash, std::vector<endpoint> peers) {
    const auto it = by_hash.find(info_hash);
    if (it == by_hash.end()) return;
    entry* e = find(it->second);
    if (e == nullptr) return;
    if (e->f && e->life.state() == torrent_state::fetching_metadata) e->f->learned_peers(std::move(peers));
    else if (e->t && e->c && e->life.state() == torrent_state::live) e->t->learned_peers(std::move(peers));
  }

  // Queued torrents go live in the order they were queued, while the cap
  // allows and once an earlier run of theirs has drained.
  void promote() {
    if (stopping) return;
    std::size_t live = 0;
    std::vector<entry*> queued;
    for (auto& [id, e] : entries) {
      if (e->life.state() == torrent_state::live) ++live;
      if (e->life.state() == torrent_state::queued && e->drained() && !(e->t && e->t->error()))
        queued.push_back(e.get());
    }
    std::sort(queued.begin(), queued.end(), [](const entry* a, const entry* b) { return a->queued_seq < b->queued_seq; });
    for (entry* e : queued) {
      if (opts.max_active != 0 && live >= opts.max_active) break;
      event(*e, torrent_event::activate);
      ++live;
    }
  }

  // A new torrent into the table: checked, or (a magnet) fetching.
  detailed_result<torrent_id> insert(std::unique_ptr<entry> e) {
    if (stopping) return fail(errc::bad_state, "the node is stopping");
    if (by_hash.count(e->info_hash)) return fail(errc::already_added, e->info_hash.hex());
    const torrent_id id = next_id++;
    e->id = id;
    e->home = next_home++ % group->size();
    by_hash[e->info_hash] = id;
    entry& added = *e;
    entries.emplace(id, std::move(e));
    if (added.meta) {
      queue_check(added);
    } else {
      swarm::fetch_options fo;
      fo.info_hash = added.info_hash;
      fo.self = self;
      fo.listen_port = port;
      fo.peers = added.opts.peers;
      if (added.opts.use_trackers) fo.tiers = added.magnet_tiers;
      fo.tracker_ip = opts.tracker_ip;
      fo.listen = listen_config;
      fo.verify_tls = opts.verify_tracker_tls;
      added.f = std::make_unique<swarm::metadata_fetch>(
          *group, added.home, process, std::move(fo),
          [this, id](std::string info) { home().post([this, id, info = std::move(info)] { on_metadata(id, info); }); });
      act(added, torrent_action::start_fetch);
    }
    if (added.opts.paused) event(added, torrent_event::pause);
    changed();
    return id;
  }

  // The pieces its file selection wants, and their size.
  static void select(entry& e) {
    e.wanted = wanted_pieces(*e.meta, e.opts.selected);
    e.selected_total = 0;
    e.selected_pieces = 0;
    const piece_geometry geo(e.meta->total_size, e.meta->piece_length);
    for (piece_index p : geo.pieces())
      if (e.wanted.test(p.value())) {
        e.selected_total += geo.piece_size(p);
        ++e.selected_pieces;
      }
  }

  void drop(entry& e) {
    by_hash.erase(e.info_hash);
    const bool on_disk = !e.opts.storage;
    free_torrent(e);
    if (e.delete_data && on_disk && e.meta) {
      push_job({[meta = e.meta, dir = e.opts.save_dir, state = e.opts.state_dir] {
                  storage::remove_disk_data(*meta, dir, state);
                },
                true});
    }
  }

  torrent_stats stats_of(const entry& e) const {
    torrent_stats st;
    st.id = e.id;
    st.name = e.name;
    st.info_hash = e.info_hash;
    st.state = e.life.state();
    st.mode = e.opts.mode;
    st.checked = e.progress->done.load(std::memory_order_relaxed);
    st.total = e.meta ? e.meta->total_size : 0;
    st.files = e.meta ? e.meta->files.size() : 0;
    st.selected_total = e.selected_total;
    st.pieces = e.selected_pieces;
    st.error = e.error;
    st.code = e.code;
    st.download_limit = e.opts.limits.download_rate;
    st.upload_limit = e.opts.limits.upload_rate;
    st.max_peers = e.opts.limits.max_peers;
    st.accept_errors = accept_errors.load(std::memory_order_relaxed);
    st.downloaded = e.earlier_down;
    st.uploaded = e.earlier_up;
    st.disk_read = e.io->read.load(std::memory_order_relaxed);
    st.disk_written = e.io->written.load(std::memory_order_relaxed);
    st.has_metadata = e.meta != nullptr;
    if (e.f && !e.meta) {
      st.peers = e.f->peers();
      st.metadata_peers = e.f->offering();
      st.metadata_size = e.f->metadata_size();
      st.tracker_status = e.opts.use_trackers ? e.f->tracker_status() : "";
    }
    if (!e.t) return st;
    const auto& t = *e.t;
    // Its pieces count once checked: a run that is ending for a check
    // again (a new selection) still has the old selection's picker.
    if (e.life.checked()) {
      st.verified = t.have_bytes() - e.unselected_have_bytes;
      st.verified_pieces = t.picker().have_count() - e.unselected_have_pieces;
      st.complete = t.picker().complete();
    }
    st.downloaded += t.counters().downloaded.load(std::memory_order_relaxed);
    st.uploaded += t.counters().uploaded.load(std::memory_order_relaxed);
    st.down_rate = e.down_rate;
    st.up_rate = e.up_rate;
    st.wasted = t.counters().wasted.load(std::memory_order_relaxed);
    st.hash_failures = t.hash_failures.load(std::memory_order_relaxed);
    st.read_errors = t.read_errors.load(std::memory_order_relaxed);
    for (const auto& s : t.slots()) {
      if (s.state.load(std::memory_order_acquire) != peer::peer_slot::connected) continue;
      ++st.peers;
      if (s.peer_is_seed.load(std::memory_order_relaxed)) ++st.seeds;
    }
    st.warnings = t.warnings();
    st.banned_hosts = e.c->banned_hosts();
    st.tracker_status = e.c->tracker_status();
    return st;
  }
};

namespace {

using core = node::core;

io::task<void> node_tick(core& c) {
  io::reactor& home = c.home();
  while (!home.stopping()) {
    c.tick();
    if (!(co_await io::sleep(home, kNodeTick))) co_return;
  }
}

// The peer's handshake names the torrent; it is handed to that torrent's
// home reactor, which answers it or not.
io::task<void> incoming(core& c, unique_fd sock, endpoint remote, clock::time_point accepted) {
  io::reactor& home = c.home();
  peer::recv_buffer buf;
  // The handshake has one deadline from the accept (the torrent's own may
  // be shorter).
  auto deadline = accepted + c.opts.handshake_timeout;
  auto theirs = co_await peer::recv_handshake(home, sock.get(), deadline, buf);
  if (!theirs || c.stopping) co_return;
  const auto it = c.by_hash.find(theirs->info_hash);
  if (it == c.by_hash.end()) co_return;
  core::entry* e = c.find(it->second);
  if (e == nullptr || e->life.state() != torrent_state::live || e->t->stopping()) co_return;
  // Held from here: the torrent is not freed before its home took it.
  auto guard = e->t->hold();
  deadline = std::min(deadline, accepted + e->t->lim().peer.handshake_timeout);
  swarm::control& ctl = *e->c;
  co_await io::switch_to(ctl.home());
  co_await ctl.take_incoming(std::move(sock), remote, *theirs, std::move(buf), deadline, std::move(guard));
}

io::task<void> accept_loop(core& c, int listen_fd) {
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
    if (!remote || c.stopping) continue;
    // A full node refuses before reading anything; the torrent's own limits
    // are checked by its home once the handshake named it.
    if (c.process.connections.load(std::memory_order_relaxed) >= c.process.max_connections) continue;
    home.spawn(incoming(c, std::move(sock), *remote, accepted));
  }
}

}  // namespace

detailed_result<std::unique_ptr<node>> node::start(node_options opts) {
  std::unique_ptr<node> n(new node());
  n->listening_ = opts.listen;
  auto fds = open_listeners(n->listening_);
  if (!fds) return detailed_error{make_error_code(std::errc::address_in_use), fds.error()};
  n->listen_fds_ = std::move(*fds);

  n->core_ = std::make_unique<core>(opts);
  core& c = *n->core_;
  c.listen_config = opts.listen;
  c.port = n->listening_.front().port();
  io::reactor_group::options gopts;
  gopts.reactors = opts.threads;
  auto group = io::reactor_group::start(gopts);
  if (!group) return detailed_error{make_error_code(std::errc::function_not_supported), group.error()};
  c.group = std::move(*group);
  if (opts.dht.enabled) {
    auto d = dht_service::open(c.home(), n->listening_, c.port, opts.dht);
    if (!d) {
      c.group->stop();
      return d.error();
    }
    c.dht = std::move(*d);
  }
  c.worker = std::jthread([&c] { c.run_worker(); });

  std::vector<int> listen_fds;
  for (const auto& fd : n->listen_fds_) listen_fds.push_back(fd.get());
  io::reactor& home = c.home();
  home.post([&c, &home, listen_fds] {
    home.spawn(node_tick(c));
    if (c.dht)
      c.dht->start([&c] { return c.dht_wanted(); },
                   [&c](const sha1_digest& h, std::vector<endpoint> peers) { c.dht_found(h, std::move(peers)); });
    for (int fd : listen_fds) home.spawn(accept_loop(c, fd));
  });
  return n;
}

node::~node() { stop(); }

detailed_result<torrent_id> node::add(meta::metainfo m, torrent_options o) {
  if (!o.selected.empty() && (o.selected.size() != m.files.size() || o.mode == torrent_mode::seed))
    return fail(errc::bad_value, "a file selection needs download mode and one flag per file");
  auto e = std::make_unique<core::entry>();
  e->info_hash = m.info_hash;
  e->name = m.name;
  e->meta = std::make_shared<const meta::metainfo>(std::move(m));
  e->opts = std::move(o);
  core::select(*e);
  return core_->call([c = core_.get(), &e] { return c->insert(std::move(e)); }, stopped_);
}

detailed_result<torrent_id> node::add_magnet(const meta::magnet& mg, torrent_options o) {
  if (!o.selected.empty())
    return fail(errc::bad_value, "a file selection needs the torrent's file list, which a magnet link does not carry");
  for (const auto& text : mg.peers)
    if (auto ep = parse_endpoint(text)) o.peers.push_back(*ep);
  // Each tr is a tier of its own (as libtorrent and Transmission take them).
  std::vector<std::vector<std::string>> tiers;
  for (const auto& url : mg.trackers) tiers.push_back({url});
  if (auto saved = load_fetched_torrent(o.save_dir, o.state_dir, mg.info_hash)) {
    if (auto m = meta::parse(*saved); m && m->info_hash == mg.info_hash) return add(std::move(*m), std::move(o));
  }
  auto e = std::make_unique<core::entry>();
  e->info_hash = mg.info_hash;
  e->name = mg.display_name.empty() ? mg.info_hash.hex() : mg.display_name;
  e->life = swarm::lifecycle::for_magnet();
  e->magnet_tiers = std::move(tiers);
  e->opts = std::move(o);
  return core_->call([c = core_.get(), &e] { return c->insert(std::move(e)); }, stopped_);
}

std::optional<std::string> node::torrent_file(torrent_id id) const {
  core& c = *core_;
  return c.call(
      [&c, id]() -> std::optional<std::string> {
        const core::entry* e = c.find(id);
        if (e == nullptr || !e->meta) return std::nullopt;
        return meta::torrent_from_info(e->meta->info_bytes, e->meta->trackers);
      },
      stopped_);
}

namespace {

detailed_result<void> state_error(const core::entry* e) {
  if (e == nullptr) return fail(errc::unknown_torrent, "");
  return fail(errc::bad_state, std::string(swarm::to_string(e->life.state())));
}

}  // namespace

detailed_result<void> node::pause(torrent_id id) {
  core& c = *core_;
  return c.call(
      [&c, id]() -> detailed_result<void> {
        core::entry* e = c.find(id);
        if (e == nullptr || !c.event(*e, torrent_event::pause)) return state_error(e);
        c.promote();
        return {};
      },
      stopped_);
}

detailed_result<void> node::resume(torrent_id id) {
  core& c = *core_;
  return c.call(
      [&c, id]() -> detailed_result<void> {
        core::entry* e = c.find(id);
        // Metadata that hashed right but that sta cannot take stays an error.
        if (e != nullptr && e->life.has_metadata() && !e->meta) return fail(errc::bad_state, "its metadata is not usable");
        if (e == nullptr || !c.event(*e, torrent_event::resume)) return state_error(e);
        c.promote();
        return {};
      },
      stopped_);
}

detailed_result<void> node::remove(torrent_id id, bool with_data) {
  core& c = *core_;
  return c.call(
      [&c, id, with_data]() -> detailed_result<void> {
        core::entry* e = c.find(id);
        if (e == nullptr || e->life.state() == torrent_state::removed) return fail(errc::unknown_torrent, "");
        e->delete_data = with_data;
        c.event(*e, torrent_event::remove);
        c.promote();
        return {};
      },
      stopped_);
}

detailed_result<void> node::set_rate_limits(torrent_id id, std::int64_t download, std::int64_t upload) {
  core& c = *core_;
  return c.call(
      [&c, id, download, upload]() -> detailed_result<void> {
        core::entry* e = c.find(id);
        if (e == nullptr || e->life.state() == torrent_state::removed) return fail(errc::unknown_torrent, "");
        e->opts.limits.download_rate = std::max<std::int64_t>(0, download);
        e->opts.limits.upload_rate = std::max<std::int64_t>(0, upload);
        if (e->t) e->t->set_rates(e->opts.limits.download_rate, e->opts.limits.upload_rate);
        return {};
      },
      stopped_);
}

detailed_result<void> node::set_max_peers(torrent_id id, std::size_t max_peers) {
  if (max_peers == 0) return fail(errc::bad_value, "the peer cap must be 1 or more");
  core& c = *core_;
  return c.call(
      [&c, id, max_peers]() -> detailed_result<void> {
        core::entry* e = c.find(id);
        if (e == nullptr || e->life.state() == torrent_state::removed) return fail(errc::unknown_torrent, "");
        e->opts.limits.max_peers = max_peers;
        if (e->t) e->t->set_max_peers(max_peers);
        return {};
      },
      stopped_);
}

detailed_result<void> node::set_selection(torrent_id id, std::vector<bool> selected) {
  core& c = *core_;
  return c.call(
      [&c, id, &selected]() -> detailed_result<void> {
        core::entry* e = c.find(id);
        if (e == nullptr || e->life.state() == torrent_state::removed) return fail(errc::unknown_torrent, "");
        if (!e->meta) return fail(errc::bad_state, "fetching_metadata");
        const auto& m = *e->meta;
        if (e->opts.mode != torrent_mode::download)
          return fail(errc::bad_value, "a seeded torrent serves every file; a selection needs download mode");
        if (selected.size() != m.files.size())
          return fail(errc::bad_value, "expected one flag per file (" + std::to_string(m.files.size()) + ")");
        bool any = false;
        for (std::size_t i = 0; i < m.files.size(); ++i) any = any || (selected[i] && !m.files[i].pad);
        if (!any) return fail(errc::bad_value, "the selection leaves no file to download");
        // All selected is no selection: the storage then keeps no parts file.
        if (std::all_of(selected.begin(), selected.end(), [](bool b) { return b; })) selected.clear();
        if (selected == e->opts.selected) return {};
        std::swap(e->opts.selected, selected);
        e->save_before_check = e->t != nullptr;
        if (!c.event(*e, torrent_event::reopen)) {
          std::swap(e->opts.selected, selected);
          e->save_before_check = false;
          return fail(errc::bad_state, e->life.check_in_flight() ? "checking" : std::string(swarm::to_string(e->life.state())));
        }
        c.select(*e);
        c.promote();
        return {};
      },
      stopped_);
}

detailed_result<void> node::wait_checked(torrent_id id) {
  core& c = *core_;
  using answer = std::optional<detailed_result<void>>;  // nullopt: still checking
  for (;;) {
    const std::uint64_t seen = c.change_count();
    auto st = c.call(
        [&c, id]() -> std::optional<answer> {
          core::entry* e = c.find(id);
          if (e == nullptr) return std::nullopt;
          if (e->life.check_in_flight()) return answer{};
          if (e->life.state() == torrent_state::error && e->check_error)
            return answer{*e->check_error};
          return answer{detailed_result<void>{}};
        },
        stopped_);
    if (!st) return fail(errc::unknown_torrent, "");
    if (*st) return **st;
    if (stopped_) return fail(errc::bad_state, "the node stopped");
    c.wait_change(seen);
  }
}

void node::wait_removed(torrent_id id) {
  core& c = *core_;
  for (;;) {
    const std::uint64_t seen = c.change_count();
    if (!c.call([&c, id] { return c.find(id) != nullptr; }, stopped_) || stopped_) return;
    c.wait_change(seen);
  }
}

std::optional<torrent_stats> node::stats(torrent_id id) const {
  core& c = *core_;
  return c.call(
      [&c, id]() -> std::optional<torrent_stats> {
        const core::entry* e = c.find(id);
        if (e == nullptr) return std::nullopt;
        return c.stats_of(*e);
      },
      stopped_);
}

std::vector<torrent_stats> node::torrents() const {
  core& c = *core_;
  return c.call(
      [&c] {
        std::vector<torrent_stats> out;
        for (const auto& [id, e] : c.entries)
          if (e->life.state() != torrent_state::removed) out.push_back(c.stats_of(*e));
        return out;
      },
      stopped_);
}

std::optional<torrent_id> node::find(const sha1_digest& info_hash) const {
  core& c = *core_;
  return c.call(
      [&c, info_hash]() -> std::optional<torrent_id> {
        const auto it = c.by_hash.find(info_hash);
        if (it == c.by_hash.end() || c.find(it->second)->life.state() == torrent_state::removed) return std::nullopt;
        return it->second;
      },
      stopped_);
}

node_stats node::totals() const {
  core& c = *core_;
  return c.call(
      [&c] {
        node_stats st;
        for (const auto& [id, e] : c.entries) {
          switch (e->life.state()) {
            case torrent_state::fetching_metadata: ++st.fetching; break;
            case torrent_state::checking: ++st.checking; break;
            case torrent_state::queued: ++st.queued; break;
            case torrent_state::live: ++st.live; break;
            case torrent_state::paused: ++st.paused; break;
            case torrent_state::error: ++st.errors; break;
            case torrent_state::removed: continue;
          }
          ++st.torrents;
        }
        st.connections = c.process.connections.load(std::memory_order_relaxed);
        st.accept_errors = c.accept_errors.load(std::memory_order_relaxed);
        for (const auto& [id, e] : c.entries) {
          if (e->life.state() == torrent_state::removed || !e->t) continue;
          st.down_rate += e->down_rate;
          st.up_rate += e->up_rate;
          st.downloaded += e->t->counters().downloaded.load(std::memory_order_relaxed);
          st.uploaded += e->t->counters().uploaded.load(std::memory_order_relaxed);
        }
        st.downloaded += c.freed_down;
        st.uploaded += c.freed_up;
        st.download_limit = c.process.download.rate();
        st.upload_limit = c.process.upload.rate();
        return st;
      },
      stopped_);
}

dht_stats node::dht() const {
  const core& c = *core_;
  if (!c.dht || stopped_) return {};
  return core_->call([&c] { return c.dht->stats(); }, stopped_);
}

std::size_t node::cached_bytes() const {
  if (stopped_) return 0;
  core& c = *core_;
  std::size_t total = 0;
  for (unsigned i = 0; i < c.group->size(); ++i) {
    std::promise<std::size_t> bytes;
    auto answer = bytes.get_future();
    c.group->at(i).post([&bytes] { bytes.set_value(storage::block_cache::for_this_thread().bytes()); });
    total += answer.get();
  }
  return total;
}

node_io node::io() const {
  node_io out;
  if (stopped_) return out;
  const core& c = *core_;
  out.disk_read = c.io_meter.bytes.read.load(std::memory_order_relaxed);
  out.disk_written = c.io_meter.bytes.written.load(std::memory_order_relaxed);
  out.read_latency = c.io_meter.read_latency.read();
  out.write_latency = c.io_meter.write_latency.read();
  for (unsigned i = 0; i < c.group->size(); ++i) {
    out.reactor_cpu.push_back(std::chrono::duration<double>(c.group->cpu_time(i)).count());
    std::promise<std::pair<std::uint64_t, std::size_t>> fixed;
    auto answer = fixed.get_future();
    io::reactor& r = c.group->at(i);
    r.post([&fixed, &r] { fixed.set_value({r.fixed_ops(), r.arena_bytes()}); });
    const auto [ops, bytes] = answer.get();
    out.fixed_ops += ops;
    out.registered_bytes = std::max(out.registered_bytes, bytes);
  }
  return out;
}

std::vector<peer_stats> node::peers(torrent_id id) const {
  core& c = *core_;
  // A slot's address and peer id are written by the torrent's home reactor
  // when it is (re)claimed: they are read there too, the torrent held.
  struct held {
    swarm::torrent* t = nullptr;
    swarm::control* ctl = nullptr;
    std::optional<swarm::torrent::work_guard> guard;
  };
  auto h = c.call(
      [&c, id]() -> held {
        core::entry* e = c.find(id);
        if (e == nullptr || !e->t) return {};
        return {e->t.get(), e->c.get(), e->t->hold()};
      },
      stopped_);
  if (h.t == nullptr) return {};
  auto build = [t = h.t] {
    std::vector<peer_stats> out;
    const double pieces = t->geo().piece_count();
    for (const auto& s : t->slots()) {
      if (s.state.load(std::memory_order_acquire) != peer::peer_slot::connected) continue;
      peer_stats p;
      p.address = s.addr;
      // Its own name (extended handshake), else what its peer id says.
      p.client = s.has_client.load(std::memory_order_acquire) ? std::string(s.client.data())
                 : s.has_id                                   ? peer::client_name(s.id)
                                                              : std::string();
      p.outgoing = s.outgoing;
      p.am_choking = s.am_choking.load(std::memory_order_relaxed);
      p.am_interested = s.am_interested.load(std::memory_order_relaxed);
      p.peer_choking = s.peer_choking.load(std::memory_order_relaxed);
      p.peer_interested = s.peer_interested.load(std::memory_order_relaxed);
      p.snubbed = s.snubbed.load(std::memory_order_relaxed);
      p.seed = s.peer_is_seed.load(std::memory_order_relaxed);
      p.down_rate = s.down_rate.load(std::memory_order_relaxed);
      p.up_rate = s.up_rate.load(std::memory_order_relaxed);
      p.progress = p.seed ? 1.0 : s.peer_pieces.load(std::memory_order_relaxed) / pieces;
      out.push_back(std::move(p));
    }
    return out;
  };
  return core::call_on(h.ctl->home(), std::move(build), stopped_);
}

std::optional<piece_map> node::pieces(torrent_id id) const {
  core& c = *core_;
  return c.call(
      [&c, id]() -> std::optional<piece_map> {
        const core::entry* e = c.find(id);
        if (e == nullptr || !e->t) return std::nullopt;
        const auto& picker = e->t->picker();
        piece_map m;
        const std::uint32_t n = picker.piece_count();
        m.state.resize(n);
        m.availability.resize(n);
        for (std::uint32_t p = 0; p < n; ++p) {
          m.state[p] = picker.have(p)          ? piece_map::have
                       : picker.skipped(p)     ? piece_map::skipped
                       : picker.in_progress(p) ? piece_map::downloading
                                               : piece_map::missing;
          m.availability[p] = picker.availability(p);
        }
        return m;
      },
      stopped_);
}

std::vector<file_stats> node::files(torrent_id id) const {
  core& c = *core_;
  return c.call(
      [&c, id] {
        std::vector<file_stats> out;
        const core::entry* e = c.find(id);
        if (e == nullptr || !e->meta) return out;
        const auto& m = *e->meta;
        const meta::file_map map(m);
        for (std::size_t i = 0; i < m.files.size(); ++i) {
          if (m.files[i].pad) continue;
          file_stats f;
          f.index = i;
          f.path = m.multi_file ? m.files[i].joined_path() : m.name;
          f.size = m.files[i].size;
          f.selected = e->opts.selected.empty() || e->opts.selected[i];
          const auto range = map.file_pieces(i);
          if (e->t) {
            for (std::int64_t p = range.first; p <= range.last; ++p) {
              if (!e->t->picker().have(static_cast<std::uint32_t>(p))) continue;
              // The bytes of piece p that lie in file i.
              const std::int64_t piece_start = p * m.piece_length;
              const std::int64_t from = std::max(piece_start, map.file_offset(i));
              const std::int64_t to = std::min(piece_start + map.piece_size(p), map.file_offset(i) + f.size);
              f.verified += std::max<std::int64_t>(0, to - from);
            }
          }
          out.push_back(std::move(f));
        }
        return out;
      },
      stopped_);
}

std::vector<tracker_stats> node::trackers(torrent_id id) const {
  core& c = *core_;
  return c.call(
      [&c, id] {
        std::vector<tracker_stats> out;
        const core::entry* e = c.find(id);
        if (e == nullptr) return out;
        if (e->f && e->opts.use_trackers && !e->c) {
          for (const auto& r : e->f->trackers()) out.push_back({r.url, r.tier, r.last, r.peers, -1});
          return out;
        }
        if (!e->c || !e->opts.use_trackers) {
          const std::string why = e->opts.use_trackers ? "" : "not used (--no-tracker)";
          const auto& tiers = e->meta ? e->meta->trackers : e->magnet_tiers;
          for (std::size_t tier = 0; tier < tiers.size(); ++tier)
            for (const auto& url : tiers[tier]) out.push_back({url, tier, why, 0, -1});
          return out;
        }
        const auto next = e->c->next_announce();
        const std::int64_t next_in =
            next ? std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(*next - clock::now()).count())
                 : -1;
        for (const auto& r : e->c->trackers()) out.push_back({r.url, r.tier, r.last, r.peers, next_in});
        return out;
      },
      stopped_);
}

std::vector<std::pair<std::uint64_t, std::string>> node::warnings_since(torrent_id id, std::uint64_t after) const {
  core& c = *core_;
  return c.call(
      [&c, id, after] {
        const core::entry* e = c.find(id);
        return e && e->t ? e->t->warnings_since(after) : std::vector<std::pair<std::uint64_t, std::string>>{};
      },
      stopped_);
}

std::vector<std::uint32_t> node::verified_order(torrent_id id) const {
  core& c = *core_;
  return c.call(
      [&c, id] {
        std::vector<std::uint32_t> out;
        const core::entry* e = c.find(id);
        if (e && e->t)
          while (auto p = e->t->log().at(out.size())) out.push_back(*p);
        return out;
      },
      stopped_);
}

detailed_result<void> node::save_resume(torrent_id id) {
  core& c = *core_;
  // The torrent is held while its record is written here, on this thread.
  struct held {
    swarm::torrent* t;
    std::optional<swarm::torrent::work_guard> guard;
  };
  auto h = c.call(
      [&c, id]() -> held {
        core::entry* e = c.find(id);
        if (e == nullptr || !e->t) return {nullptr, std::nullopt};
        return {e->t.get(), e->t->hold()};
      },
      stopped_);
  if (h.t == nullptr) return {};
  // The snapshot comes first: pieces verified after it are simply not
  // recorded; every recorded piece was written before the flush.
  return h.t->store().save_resume(h.t->picker().have_bits());
}

detailed_result<void> node::stop() {
  if (stopped_ || !core_ || !core_->group) return stop_result_;
  core& c = *core_;
  auto announced = c.announced_for_stop.get_future();
  c.call(
      [&c] {
        c.stopping = true;
        for (auto& [id, e] : c.entries) {
          if (e->life.state() == torrent_state::live) e->c->stop();
          if (e->f) e->f->stop();
        }
      },
      false);
  announced.wait_for(kStopWait);
  // Every connection ends at its next step; the reactors stop below.
  c.call(
      [&c] {
        for (auto& [id, e] : c.entries)
          if (e->t) e->t->stop();
      },
      false);
  c.cancel_checks.store(true, std::memory_order_relaxed);
  {
    std::lock_guard lock(c.work_mutex);
    c.worker_quit = true;
  }
  c.work_cv.notify_one();
  if (c.worker.joinable()) c.worker.join();
  c.group->stop();
  stopped_ = true;
  stop_result_ = {};
  if (c.dht) c.dht->save();
  for (auto& [id, e] : c.entries) {
    if (e->life.state() == torrent_state::removed) {
      // Removed with its data just before the stop: deleted now, as the
      // drop that would have queued it will not come.
      if (e->delete_data && !e->opts.storage && e->meta) {
        e->t.reset();
        storage::remove_disk_data(*e->meta, e->opts.save_dir, e->opts.state_dir);
      }
      continue;
    }
    if (!e->t) continue;
    auto r = e->t->store().save_resume(e->t->picker().have_bits());
    if (!r && stop_result_) stop_result_ = r.error();
  }
  return stop_result_;
}

}  // namespace sta
