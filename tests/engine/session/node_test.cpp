// The node with several torrents: incoming connections dispatched by the
// info-hash of their handshake, the lifecycle driven while it runs (pause,
// resume, remove, re-add), the active cap, the process-wide connection
// budget, and nothing of a removed torrent left behind. Torrents live on
// the memory backend except where files are the point; peers are raw
// sockets or a second node, each on its own 127.0.0.x.
#include "session/node.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "base/page_buffer.hpp"
#include "reactor/ops.hpp"
#include "reactor/socket.hpp"
#include "storage/create.hpp"
#include "storage/memory_storage.hpp"
#include "support/capabilities.hpp"
#include "support/eventually.hpp"
#include "support/raw_peer.hpp"
#include "support/temp_dir.hpp"
#include "support/torrent.hpp"

namespace sta {
namespace {

using namespace std::chrono_literals;
using swarm::torrent_state;
using test::eventually;
using test::raw_peer;

struct seeded {
  std::string data;
  meta::metainfo m;
  std::shared_ptr<storage::memory_disk> disk;
};

seeded make_torrent(const std::string& name, std::size_t size, unsigned seed, bool full) {
  seeded s;
  s.data = test::random_bytes(size, seed);
  s.m = test::torrent_of(name, s.data, 16 * 1024);
  s.disk = full ? std::make_shared<storage::memory_disk>(s.data) : std::make_shared<storage::memory_disk>(s.m.total_size);
  return s;
}

std::unique_ptr<node> start_node(const std::string& ip, const std::function<void(node_options&)>& tweak = {}) {
  node_options o;
  o.threads = 2;
  o.listen = {*parse_endpoint(ip + ":0")};
  if (tweak) tweak(o);
  auto n = node::start(std::move(o));
  if (!n) throw std::runtime_error(n.error().message());
  return std::move(*n);
}

torrent_id add(node& n, const seeded& s, torrent_mode mode, std::vector<endpoint> peers = {}) {
  torrent_options o;
  o.save_dir = "/nonexistent";
  o.mode = mode;
  o.use_trackers = false;
  o.peers = std::move(peers);
  o.storage = storage::memory_factory(s.disk);
  auto id = n.add(s.m, std::move(o));
  if (!id) throw std::runtime_error(id.error().message());
  if (auto c = n.wait_checked(*id); !c) throw std::runtime_error(c.error().message());
  return *id;
}


torrent_state state_of(const node& n, torrent_id id) { return n.stats(id)->state; }

// Our handshake for `info_hash`; the info-hash of the node's answer, if any.
std::optional<sha1_digest> answer_to(const std::string& from, const node& n, const sha1_digest& info_hash,
                                     const std::string& id) {
  raw_peer p(from, n.listening().front(), 3s);
  if (!p.connected() || !p.send_handshake(raw_peer::handshake_for(info_hash, id))) return std::nullopt;
  auto h = p.read_handshake();
  if (!h) return std::nullopt;
  return h->info_hash;
}

TEST(Node, IncomingConnectionsGoToTheTorrentTheirHandshakeNames) {
  auto a = make_torrent("a.bin", 64 * 1024, 1, true);
  auto b = make_torrent("b.bin", 80 * 1024, 2, true);
  auto n = start_node("127.0.0.170");
  add(*n, a, torrent_mode::seed);
  add(*n, b, torrent_mode::seed);
  EXPECT_EQ(answer_to("127.0.0.171", *n, a.m.info_hash, "-XX0001-asks-for-a00"), a.m.info_hash);
  EXPECT_EQ(answer_to("127.0.0.171", *n, b.m.info_hash, "-XX0001-asks-for-b00"), b.m.info_hash);
  sha1_digest unknown = a.m.info_hash;
  unknown.bytes[0] ^= 0xff;
  EXPECT_FALSE(answer_to("127.0.0.171", *n, unknown, "-XX0001-asks-for-none"));
  const auto totals = n->totals();
  EXPECT_EQ(totals.torrents, 2u);
  EXPECT_EQ(totals.live, 2u);
}

TEST(Node, OneNodeDownloadsTwoTorrentsFromAnotherThroughOnePort) {
  auto a = make_torrent("a.bin", 512 * 1024, 3, true);
  auto b = make_torrent("b.bin", 300 * 1024 + 7, 4, true);
  auto seeder = start_node("127.0.0.172");
  add(*seeder, a, torrent_mode::seed);
  add(*seeder, b, torrent_mode::seed);
  seeded a2{a.data, a.m, std::make_shared<storage::memory_disk>(a.m.total_size)};
  seeded b2{b.data, b.m, std::make_shared<storage::memory_disk>(b.m.total_size)};
  auto dl = start_node("127.0.0.173");
  const auto ia = add(*dl, a2, torrent_mode::download, {seeder->listening().front()});
  const auto ib = add(*dl, b2, torrent_mode::download, {seeder->listening().front()});
  ASSERT_TRUE(eventually([&] { return dl->stats(ia)->complete && dl->stats(ib)->complete; }))
      << dl->stats(ia)->verified_pieces << " " << dl->stats(ib)->verified_pieces << " peers " << dl->stats(ia)->peers
      << " " << dl->stats(ib)->peers << " " << seeder->totals().connections;
  EXPECT_EQ(a2.disk->contents(), a.data);
  EXPECT_EQ(b2.disk->contents(), b.data);
  EXPECT_EQ(dl->stats(ia)->downloaded, static_cast<std::int64_t>(a.data.size()));
  EXPECT_EQ(dl->stats(ib)->downloaded, static_cast<std::int64_t>(b.data.size()));
  // What the storage did: every piece written once, each write timed; the
  // seeder read at least every byte it sent.
  EXPECT_EQ(dl->stats(ia)->disk_written, static_cast<std::int64_t>(a.data.size()));
  const node_io io = dl->io();
  EXPECT_EQ(io.disk_written, static_cast<std::int64_t>(a.data.size() + b.data.size()));
  EXPECT_EQ(io.write_latency.count, static_cast<std::uint64_t>(a.m.piece_count() + b.m.piece_count()));
  EXPECT_GE(seeder->io().disk_read, static_cast<std::int64_t>(a.data.size() + b.data.size()));
  EXPECT_GT(seeder->io().read_latency.count, 0u);
  ASSERT_EQ(io.reactor_cpu.size(), 2u);
  EXPECT_GT(io.reactor_cpu[0] + io.reactor_cpu[1], 0.0);
}

TEST(Node, PausedTorrentIsNotServedUntilResumed) {
  auto a = make_torrent("a.bin", 64 * 1024, 5, true);
  auto n = start_node("127.0.0.174");
  const auto id = add(*n, a, torrent_mode::seed);
  ASSERT_TRUE(n->pause(id));
  EXPECT_EQ(state_of(*n, id), torrent_state::paused);
  EXPECT_FALSE(answer_to("127.0.0.175", *n, a.m.info_hash, "-XX0001-while-paused"));
  // Pausing twice is refused and says the state.
  const auto again = n->pause(id);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, make_error_code(errc::bad_state));
  EXPECT_EQ(again.error().subject, "paused");
  ASSERT_TRUE(n->resume(id));
  ASSERT_TRUE(eventually([&] { return state_of(*n, id) == torrent_state::live; }));
  EXPECT_EQ(answer_to("127.0.0.175", *n, a.m.info_hash, "-XX0001-after-resume"), a.m.info_hash);
}

TEST(Node, PauseClosesTheConnectionsOfThatTorrentOnly) {
  auto a = make_torrent("a.bin", 64 * 1024, 6, true);
  auto b = make_torrent("b.bin", 64 * 1024, 7, true);
  auto n = start_node("127.0.0.176");
  const auto ia = add(*n, a, torrent_mode::seed);
  const auto ib = add(*n, b, torrent_mode::seed);
  raw_peer pa("127.0.0.177", n->listening().front());
  raw_peer pb("127.0.0.177", n->listening().front());
  ASSERT_TRUE(pa.send_handshake(raw_peer::handshake_for(a.m.info_hash, "-XX0001-peer-of-a000")));
  ASSERT_TRUE(pb.send_handshake(raw_peer::handshake_for(b.m.info_hash, "-XX0001-peer-of-b000")));
  ASSERT_TRUE(pa.read_handshake());
  ASSERT_TRUE(pb.read_handshake());
  ASSERT_TRUE(eventually([&] { return n->stats(ia)->peers == 1 && n->stats(ib)->peers == 1; }));
  ASSERT_TRUE(n->pause(ia));
  // a's connection ends (the node closes it); b's stays.
  while (pa.read_frame()) {
  }
  EXPECT_TRUE(eventually([&] { return n->stats(ia)->peers == 0; }));
  EXPECT_EQ(n->stats(ib)->peers, 1u);
}

TEST(Node, ActiveCapQueuesTheRestInOrder) {
  auto a = make_torrent("a.bin", 64 * 1024, 8, true);
  auto b = make_torrent("b.bin", 64 * 1024, 9, true);
  auto c = make_torrent("c.bin", 64 * 1024, 10, true);
  auto n = start_node("127.0.0.178", [](node_options& o) { o.max_active = 1; });
  const auto ia = add(*n, a, torrent_mode::seed);
  const auto ib = add(*n, b, torrent_mode::seed);
  const auto ic = add(*n, c, torrent_mode::seed);
  EXPECT_EQ(state_of(*n, ia), torrent_state::live);
  EXPECT_EQ(state_of(*n, ib), torrent_state::queued);
  EXPECT_EQ(state_of(*n, ic), torrent_state::queued);
  EXPECT_FALSE(answer_to("127.0.0.179", *n, b.m.info_hash, "-XX0001-b-is-queued0"));
  ASSERT_TRUE(n->pause(ia));
  // The first queued goes live once a's connections have drained.
  ASSERT_TRUE(eventually([&] { return state_of(*n, ib) == torrent_state::live; }));
  EXPECT_EQ(state_of(*n, ic), torrent_state::queued);
  ASSERT_TRUE(n->resume(ia));
  EXPECT_EQ(state_of(*n, ia), torrent_state::queued);
  ASSERT_TRUE(n->remove(ib, false));
  ASSERT_TRUE(eventually([&] { return state_of(*n, ic) == torrent_state::live; }));
  EXPECT_EQ(state_of(*n, ia), torrent_state::queued);
}

TEST(Node, ConnectionBudgetIsTheProcesssNotEachTorrents) {
  auto a = make_torrent("a.bin", 64 * 1024, 11, true);
  auto b = make_torrent("b.bin", 64 * 1024, 12, true);
  auto n = start_node("127.0.0.180", [](node_options& o) { o.max_connections = 2; });
  add(*n, a, torrent_mode::seed);
  add(*n, b, torrent_mode::seed);
  raw_peer pa("127.0.0.181", n->listening().front());
  raw_peer pb("127.0.0.182", n->listening().front());
  ASSERT_TRUE(pa.send_handshake(raw_peer::handshake_for(a.m.info_hash, "-XX0001-budget-a0000")));
  ASSERT_TRUE(pb.send_handshake(raw_peer::handshake_for(b.m.info_hash, "-XX0001-budget-b0000")));
  ASSERT_TRUE(pa.read_handshake());
  ASSERT_TRUE(pb.read_handshake());
  EXPECT_FALSE(answer_to("127.0.0.183", *n, a.m.info_hash, "-XX0001-budget-third"));
  EXPECT_EQ(n->totals().connections, 2u);
}

// A verified piece is kept in a reactor's block cache, to be served
// without a disk read, only while a peer we unchoke may ask for it: a
// download from a seed alone keeps none (its buffers go back to the pool),
// one with an interested peer unchoked keeps them.
TEST(Node, VerifiedPiecesAreCachedOnlyWhileAPeerWeUnchokeMayAskForThem) {
  constexpr std::uint32_t kPieces = 16;
  auto a = make_torrent("a.bin", kPieces * 16 * 1024, 31, true);
  const auto download = [&](node& n, const std::string& seed_ip) {
    raw_peer seed(seed_ip, n.listening().front());
    ASSERT_TRUE(seed.send_handshake(raw_peer::handshake_for(a.m.info_hash, "-XX0001-seed00000000")));
    ASSERT_TRUE(seed.read_handshake());
    test::liar_hello(seed, kPieces);
    ASSERT_TRUE(test::answer_all(seed, a.data, 16 * 1024, kPieces));
  };
  {
    seeded copy{a.data, a.m, std::make_shared<storage::memory_disk>(a.m.total_size)};
    auto n = start_node("127.0.0.138");
    const auto id = add(*n, copy, torrent_mode::download);
    download(*n, "127.0.0.139");
    ASSERT_TRUE(eventually([&] { return n->stats(id)->complete; }));
    EXPECT_EQ(n->cached_bytes(), 0u);
  }
  seeded copy{a.data, a.m, std::make_shared<storage::memory_disk>(a.m.total_size)};
  auto n = start_node("127.0.0.140");
  const auto id = add(*n, copy, torrent_mode::download);
  raw_peer leech("127.0.0.141", n->listening().front());
  ASSERT_TRUE(leech.send_handshake(raw_peer::handshake_for(a.m.info_hash, "-XX0001-leech0000000")));
  ASSERT_TRUE(leech.read_handshake());
  std::vector<std::byte> hello;
  wire::encode_simple(hello, wire::msg_type::have_none);
  wire::encode_simple(hello, wire::msg_type::interested);
  ASSERT_TRUE(leech.send(hello));
  ASSERT_TRUE(leech.wait_for(wire::msg_type::unchoke));
  download(*n, "127.0.0.142");
  ASSERT_TRUE(eventually([&] { return n->stats(id)->complete; }));
  EXPECT_EQ(n->cached_bytes(), std::size_t{kPieces} * 16 * 1024);
}

TEST(Node, RemovedTorrentLeavesNothingBehindAndCanBeAddedAgain) {
  auto a = make_torrent("a.bin", 256 * 1024, 13, true);
  auto n = start_node("127.0.0.184");
  const auto id = add(*n, a, torrent_mode::seed);
  // A downloader makes the node read blocks into its caches.
  {
    seeded copy{a.data, a.m, std::make_shared<storage::memory_disk>(a.m.total_size)};
    auto dl = start_node("127.0.0.185");
    const auto did = add(*dl, copy, torrent_mode::download, {n->listening().front()});
    ASSERT_TRUE(eventually([&] { return dl->stats(did)->complete; }));
  }
  EXPECT_GT(n->cached_bytes(), 0u);
  ASSERT_TRUE(n->remove(id, false));
  EXPECT_FALSE(n->find(a.m.info_hash));
  EXPECT_TRUE(n->torrents().empty());
  n->wait_removed(id);
  EXPECT_EQ(n->cached_bytes(), 0u);
  EXPECT_FALSE(n->stats(id));
  EXPECT_EQ(n->remove(id, false).error().code, make_error_code(errc::unknown_torrent));
  // The same torrent again: a new id, served again.
  const auto again = add(*n, a, torrent_mode::seed);
  EXPECT_NE(again, id);
  EXPECT_EQ(answer_to("127.0.0.186", *n, a.m.info_hash, "-XX0001-after-re-add0"), a.m.info_hash);
  // Adding it a second time is refused.
  torrent_options o;
  o.storage = storage::memory_factory(a.disk);
  EXPECT_EQ(n->add(a.m, o).error().code, make_error_code(errc::already_added));
}

TEST(Node, RemoveWhileDownloadingStopsIt) {
  auto a = make_torrent("a.bin", 4 << 20, 14, true);
  auto seeder = start_node("127.0.0.187");
  add(*seeder, a, torrent_mode::seed);
  seeded copy{a.data, a.m, std::make_shared<storage::memory_disk>(a.m.total_size)};
  auto dl = start_node("127.0.0.188", [](node_options& o) { o.download_rate = 1 << 20; });
  const auto id = add(*dl, copy, torrent_mode::download, {seeder->listening().front()});
  ASSERT_TRUE(eventually([&] { return dl->stats(id)->downloaded > 0; }));
  ASSERT_TRUE(dl->remove(id, false));
  dl->wait_removed(id);
  EXPECT_TRUE(eventually([&] { return seeder->torrents().front().peers == 0; }));
  EXPECT_EQ(dl->totals().connections, 0u);
}

TEST(Node, FailedCheckIsAnErrorOfThatTorrentAndResumeChecksAgain) {
  test::temp_dir dir;
  const std::string data = test::random_bytes(100 * 1024, 15);
  const auto m = test::torrent_of("payload.bin", data, 16 * 1024);
  auto good = make_torrent("other.bin", 64 * 1024, 16, true);
  auto n = start_node("127.0.0.189");
  const auto other = add(*n, good, torrent_mode::seed);
  torrent_options o;
  o.save_dir = dir.path().string();
  o.mode = torrent_mode::seed;
  o.use_trackers = false;
  const auto id = *n->add(m, o);
  const auto checked = n->wait_checked(id);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, make_error_code(errc::file_missing));
  const auto st = *n->stats(id);
  EXPECT_EQ(st.state, torrent_state::error);
  ASSERT_TRUE(st.error);
  EXPECT_NE(st.error->find("payload.bin"), std::string::npos) << *st.error;
  // The other torrent goes on.
  EXPECT_EQ(state_of(*n, other), torrent_state::live);
  // The data appears; resume checks it again and seeds.
  test::write_file(dir.path() / "payload.bin", data);
  ASSERT_TRUE(n->resume(id));
  ASSERT_TRUE(n->wait_checked(id));
  EXPECT_EQ(state_of(*n, id), torrent_state::live);
  EXPECT_FALSE(n->stats(id)->error);
  EXPECT_EQ(answer_to("127.0.0.190", *n, m.info_hash, "-XX0001-after-fixing"), m.info_hash);
}

TEST(Node, StopGivesUpARunningCheckAndKeepsNothingOfIt) {
  auto a = make_torrent("a.bin", 64 * 1024, 18, true);
  auto n = start_node("127.0.0.192");
  std::atomic<bool> started{false}, saw_cancel{false};
  torrent_options o;
  o.use_trackers = false;
  o.mode = torrent_mode::seed;
  // A check that would never end unless it is told to give up.
  o.storage = [&, inner = storage::memory_factory(a.disk)](const storage::open_params& p) {
    started = true;
    while (p.cancel == nullptr || !p.cancel->load()) std::this_thread::sleep_for(1ms);
    saw_cancel = true;
    return inner(p);
  };
  const auto id = *n->add(a.m, std::move(o));
  ASSERT_TRUE(eventually([&] { return started.load(); }));
  ASSERT_TRUE(n->stop());
  EXPECT_TRUE(saw_cancel);
  // Its result (every piece verified) was thrown away: still checking.
  const auto st = *n->stats(id);
  EXPECT_EQ(st.state, torrent_state::checking);
  EXPECT_EQ(st.verified_pieces, 0u);
  EXPECT_FALSE(a.disk->resume());
}

// Listeners whose accept queue is full: a connect to them stays in progress
// (the kernel drops its SYN) until the connect timeout.
struct stalled_listener {
  unique_fd listener;
  unique_fd filler;
  endpoint address;

  explicit stalled_listener(const std::string& ip) {
    const auto at = *parse_endpoint(ip + ":0");
    listener.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ::bind(listener.get(), at.addr(), at.length);
    ::listen(listener.get(), 0);
    address = *io::local_endpoint(listener.get());
    filler.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    ::connect(filler.get(), address.addr(), address.length);
  }
};

TEST(Node, HalfOpenConnectsAreCappedForTheWholePass) {
  std::vector<std::unique_ptr<stalled_listener>> stalled;
  std::vector<endpoint> peers;
  for (int i = 0; i < 5; ++i) {
    stalled.push_back(std::make_unique<stalled_listener>("127.0.0.194"));
    peers.push_back(stalled.back()->address);
  }
  auto a = make_torrent("a.bin", 64 * 1024, 19, false);
  auto n = start_node("127.0.0.193", [](node_options& o) { o.max_half_open = 2; });
  add(*n, a, torrent_mode::download, peers);
  // One connect pass claims its connections at once, on the torrent's home
  // (the node's home here): the first count seen is the whole pass.
  ASSERT_TRUE(eventually([&] { return n->totals().connections > 0; }));
  EXPECT_EQ(n->totals().connections, 2u);
}

TEST(Node, LoweringThePeerCapClosesConnectionsAndRaisingItAdmitsAgain) {
  auto a = make_torrent("a.bin", 64 * 1024, 20, true);
  auto n = start_node("127.0.0.195");
  const auto id = add(*n, a, torrent_mode::seed);
  EXPECT_EQ(n->stats(id)->max_peers, 200u);
  std::vector<std::unique_ptr<raw_peer>> peers;
  for (int i = 0; i < 3; ++i) {
    peers.push_back(std::make_unique<raw_peer>("127.0.0.196", n->listening().front()));
    const std::string pid = "-XX0001-capped-peer" + std::to_string(i);
    ASSERT_TRUE(peers.back()->send_handshake(raw_peer::handshake_for(a.m.info_hash, pid)));
    ASSERT_TRUE(peers.back()->read_handshake());
  }
  ASSERT_TRUE(eventually([&] { return n->stats(id)->peers == 3; }));
  ASSERT_TRUE(n->set_max_peers(id, 1));
  EXPECT_EQ(n->stats(id)->max_peers, 1u);
  // Two of the three are closed by the node; one stays.
  ASSERT_TRUE(eventually([&] { return n->stats(id)->peers == 1; }));
  EXPECT_FALSE(answer_to("127.0.0.197", *n, a.m.info_hash, "-XX0001-over-the-cap"));
  ASSERT_TRUE(n->set_max_peers(id, 2));
  EXPECT_EQ(answer_to("127.0.0.197", *n, a.m.info_hash, "-XX0001-under-the-cap"), a.m.info_hash);
  EXPECT_EQ(n->set_max_peers(id, 0).error().code, make_error_code(errc::bad_value));
}

meta::metainfo torrent_of_dir(const std::filesystem::path& path, std::int64_t piece_length) {
  storage::create_options opts;
  opts.path = path.string();
  opts.piece_length = piece_length;
  auto m = meta::parse(*storage::create_torrent(opts));
  return std::move(*m);
}

// A node on `ip` seeding `m` from the files under `save_dir`, checked.
std::unique_ptr<node> start_seeder(const std::string& ip, const meta::metainfo& m, const std::filesystem::path& save_dir) {
  auto n = start_node(ip);
  torrent_options o;
  o.save_dir = save_dir.string();
  o.mode = torrent_mode::seed;
  o.use_trackers = false;
  EXPECT_TRUE(n->wait_checked(*n->add(m, o)));
  return n;
}

// Downloading into `save_dir` from `seeder` alone.
torrent_options download_from(node& seeder, const std::filesystem::path& save_dir) {
  torrent_options o;
  o.save_dir = save_dir.string();
  o.use_trackers = false;
  o.peers = {seeder.listening().front()};
  return o;
}

TEST(Node, DownloadedPiecesAreWrittenFromRegisteredMemoryAndASeederPinsNone) {
  test::temp_dir dir;
  const std::string data = test::random_bytes(3 * 256 * 1024 + 5, 41);
  test::write_file(dir.path() / "seed/pack/a.bin", data);
  const auto m = torrent_of_dir(dir.path() / "seed/pack", 256 * 1024);
  auto seeder = start_seeder("127.0.0.155", m, dir.path() / "seed");
  auto dl = start_node("127.0.0.156");
  const auto id = *dl->add(m, download_from(*seeder, dir.path() / "dl"));
  ASSERT_TRUE(eventually([&] { return dl->stats(id)->complete; }));
  EXPECT_EQ(test::read_file(dir.path() / "dl/pack/a.bin"), data);
  // Without CAP_IPC_LOCK the arena counts against a limit that other
  // processes of the same user share (a parallel test run): whether it was
  // registered then depends on them.
  if (!test::may_lock_memory()) GTEST_SKIP() << "the bytes landed; registration not checked without CAP_IPC_LOCK";
  EXPECT_GE(dl->io().fixed_ops, 4u);  // a write per piece, the short last one included
  EXPECT_GE(dl->io().registered_bytes, page_arena::kMinBytes);
  EXPECT_EQ(seeder->io().fixed_ops, 0u);
  EXPECT_EQ(seeder->io().registered_bytes, 0u);
}

TEST(Node, ANewSelectionTakesEffectWhileLiveAndNothingVerifiedIsFetchedTwice) {
  test::temp_dir dir;
  // 64 KiB pieces: b.bin shares its first piece with a.bin and its last with c.bin.
  const std::string a = test::random_bytes(100 * 1024 + 7, 21);
  const std::string b = test::random_bytes(300 * 1024 + 3, 22);
  const std::string c = test::random_bytes(200 * 1024 + 1, 23);
  test::write_file(dir.path() / "seed/pack/a.bin", a);
  test::write_file(dir.path() / "seed/pack/b.bin", b);
  test::write_file(dir.path() / "seed/pack/c.bin", c);
  const auto m = torrent_of_dir(dir.path() / "seed/pack", 64 * 1024);
  auto seeder = start_seeder("127.0.0.198", m, dir.path() / "seed");

  auto dl = start_node("127.0.0.199");
  torrent_options o = download_from(*seeder, dir.path() / "dl");
  o.selected = {false, true, false};
  const auto id = *dl->add(m, o);
  ASSERT_TRUE(eventually([&] { return dl->stats(id)->complete; }));
  const auto only_b = *dl->stats(id);
  EXPECT_EQ(only_b.downloaded, only_b.selected_total);
  const auto parts = dir.path() / "dl/.sta" / (m.info_hash.hex() + ".parts");
  EXPECT_TRUE(std::filesystem::exists(parts));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "dl/pack/a.bin"));

  // Everything: checked again (a's and c's bytes of the shared pieces move
  // from the parts file into the new files), then the rest is fetched.
  ASSERT_TRUE(dl->set_selection(id, {true, true, true}));
  // Not complete while it is checked again (the run that ends had only b.bin to do).
  EXPECT_FALSE(dl->stats(id)->complete);
  EXPECT_EQ(dl->stats(id)->selected_total, m.total_size);
  ASSERT_TRUE(eventually([&] { return dl->stats(id)->state == torrent_state::live && dl->stats(id)->complete; }));
  EXPECT_EQ(test::read_file(dir.path() / "dl/pack/a.bin"), a);
  EXPECT_EQ(test::read_file(dir.path() / "dl/pack/b.bin"), b);
  EXPECT_EQ(test::read_file(dir.path() / "dl/pack/c.bin"), c);
  EXPECT_FALSE(std::filesystem::exists(parts));
  // Every byte of the torrent once: the shared pieces were not fetched again.
  EXPECT_EQ(dl->totals().downloaded, m.total_size);
  const auto files = dl->files(id);
  ASSERT_EQ(files.size(), 3u);
  EXPECT_TRUE(files[0].selected && files[2].selected);
  EXPECT_EQ(files[2].index, 2u);

  // c.bin left out again, while paused: it stays paused, keeps every piece
  // b.bin needs (the one it shares with c.bin moves to the parts file) and
  // c.bin's file stays on disk.
  ASSERT_TRUE(dl->pause(id));
  ASSERT_TRUE(dl->set_selection(id, {true, true, false}));
  ASSERT_TRUE(dl->wait_checked(id));
  const auto paused = *dl->stats(id);
  EXPECT_EQ(paused.state, torrent_state::paused);
  EXPECT_TRUE(paused.complete);
  EXPECT_EQ(paused.verified, paused.selected_total);
  EXPECT_LT(paused.selected_total, m.total_size);
  EXPECT_TRUE(std::filesystem::exists(parts));
  EXPECT_EQ(test::read_file(dir.path() / "dl/pack/c.bin"), c);
  EXPECT_FALSE(dl->files(id)[2].selected);
  EXPECT_EQ(dl->totals().downloaded, m.total_size);

  // c.bin selected again: its own pieces are found on disk and hashed, the
  // shared one moves back from the parts file; nothing is fetched.
  ASSERT_TRUE(dl->set_selection(id, {true, true, true}));
  ASSERT_TRUE(dl->wait_checked(id));
  EXPECT_TRUE(dl->stats(id)->complete);
  EXPECT_EQ(dl->stats(id)->selected_total, m.total_size);
  EXPECT_FALSE(std::filesystem::exists(parts));
  EXPECT_EQ(test::read_file(dir.path() / "dl/pack/c.bin"), c);
  EXPECT_EQ(dl->totals().downloaded, m.total_size);

  // Refused: no file at all, the wrong count; a seeded torrent has no selection.
  EXPECT_EQ(dl->set_selection(id, {false, false, false}).error().code, make_error_code(errc::bad_value));
  EXPECT_EQ(dl->set_selection(id, {true}).error().code, make_error_code(errc::bad_value));
  EXPECT_EQ(seeder->set_selection(*seeder->find(m.info_hash), {true, false, true}).error().code,
            make_error_code(errc::bad_value));
}

TEST(Node, AFirstCheckWithASelectionKeepsTheSharedPiecesItFindsOnDisk) {
  test::temp_dir dir;
  // Every file already there (an earlier full download); now only b.bin is
  // wanted. The pieces b.bin shares with a.bin and c.bin verify as they
  // are; their a.bin and c.bin bytes are copied to the parts file, so the
  // download is complete at once, with nothing fetched.
  const std::string a = test::random_bytes(100 * 1024 + 7, 29);
  const std::string b = test::random_bytes(300 * 1024 + 3, 30);
  const std::string c = test::random_bytes(200 * 1024 + 1, 31);
  for (const auto& [name, data] : {std::pair{"a.bin", &a}, {"b.bin", &b}, {"c.bin", &c}})
    test::write_file(dir.path() / "pack" / name, *data);
  const auto m = torrent_of_dir(dir.path() / "pack", 64 * 1024);
  auto n = start_node("127.0.0.227");
  torrent_options o;
  o.save_dir = dir.path().string();
  o.use_trackers = false;
  o.selected = {false, true, false};
  const auto id = *n->add(m, o);
  ASSERT_TRUE(n->wait_checked(id));
  const auto st = *n->stats(id);
  EXPECT_TRUE(st.complete);
  EXPECT_EQ(st.verified_pieces, st.pieces);
  EXPECT_EQ(st.downloaded, 0);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / ".sta" / (m.info_hash.hex() + ".parts")));
  EXPECT_EQ(test::read_file(dir.path() / "pack/a.bin"), a);
}

TEST(Node, ANewSelectionIsRefusedWhileTheCheckRuns) {
  const auto m = test::multi_file_torrent("set", {{{"x.bin"}, 40 * 1024}, {{"y.bin"}, 24 * 1024}});
  auto disk = std::make_shared<storage::memory_disk>(m.total_size);
  auto n = start_node("127.0.0.200");
  std::atomic<bool> started{false}, release{false};
  torrent_options o;
  o.use_trackers = false;
  o.storage = [&, inner = storage::memory_factory(disk)](const storage::open_params& p) {
    started = true;
    while (!release.load()) std::this_thread::sleep_for(1ms);
    return inner(p);
  };
  const auto id = *n->add(m, std::move(o));
  ASSERT_TRUE(eventually([&] { return started.load(); }));
  const auto refused = n->set_selection(id, {true, false});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(errc::bad_state));
  EXPECT_EQ(refused.error().subject, "checking");
  release = true;
  ASSERT_TRUE(n->wait_checked(id));
}

// An HTTP tracker that records each request's target and answers at once,
// except 'started' announces while `hold_started`: those get no answer, as
// if the tracker were slow.
class recording_tracker {
 public:
  explicit recording_tracker(bool hold_started) : hold_started_(hold_started) {
    listener_ = std::move(*io::listen_tcp(*parse_endpoint("127.0.0.201:0")));
    port_ = io::local_endpoint(listener_.get())->port();
    thread_ = std::thread([this] {
      for (;;) {
        unique_fd conn(::accept(listener_.get(), nullptr, nullptr));
        if (!conn) return;
        char buf[4096];
        const auto n = ::recv(conn.get(), buf, sizeof buf, 0);
        if (n <= 0) continue;
        const std::string request(buf, static_cast<std::size_t>(n));
        const std::string target = request.substr(0, request.find('\r'));
        {
          std::lock_guard lock(mutex_);
          targets_.push_back(target);
        }
        if (hold_started_ && target.find("event=started") != std::string::npos) {
          held_.push_back(std::move(conn));
          continue;
        }
        const std::string body = "d8:intervali1800e5:peers0:e";
        const std::string answer =
            "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        [[maybe_unused]] const auto sent = ::send(conn.get(), answer.data(), answer.size(), MSG_NOSIGNAL);
      }
    });
  }
  ~recording_tracker() {
    ::shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.201:" + std::to_string(port_) + "/announce"; }
  bool saw(const std::string& what) const {
    std::lock_guard lock(mutex_);
    for (const auto& t : targets_)
      if (t.find(what) != std::string::npos) return true;
    return false;
  }

 private:
  const bool hold_started_;
  unique_fd listener_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::vector<unique_fd> held_;  // the accept thread's
  mutable std::mutex mutex_;
  std::vector<std::string> targets_;
};

TEST(Node, PausedWhileItsFirstAnnounceIsInFlightItStillSaysStopped) {
  recording_tracker tracker(true);
  auto a = make_torrent("a.bin", 64 * 1024, 25, true);
  a.m.trackers = {{tracker.url()}};
  auto n = start_node("127.0.0.202");
  torrent_options o;
  o.mode = torrent_mode::seed;
  o.storage = storage::memory_factory(a.disk);
  const auto id = *n->add(a.m, std::move(o));
  ASSERT_TRUE(eventually([&] { return tracker.saw("event=started"); }));
  ASSERT_TRUE(n->pause(id));
  // The tracker never answered 'started', but may have counted it.
  EXPECT_TRUE(eventually([&] { return tracker.saw("event=stopped"); }));
}

// Writes that wait at a gate the test opens, then go through or fail: a
// write in flight at the moment a test chooses. Counts the storages made
// (one per check).
struct write_gate {
  std::atomic<bool> hold{true};
  std::atomic<bool> fail{false};
  std::atomic<int> entered{0};
  std::atomic<int> opened{0};
};

class gated_storage final : public storage::storage {
 public:
  gated_storage(std::unique_ptr<sta::storage::storage> inner, std::shared_ptr<write_gate> g)
      : inner_(std::move(inner)), gate_(std::move(g)) {}
  io::task<detailed_result<void>> read(io::reactor& r, piece_index p, std::uint32_t offset,
                                       std::span<std::byte> out) override {
    auto done = co_await inner_->read(r, p, offset, out);
    co_return done;
  }
  io::task<detailed_result<void>> write(io::reactor& r, piece_index p, std::span<const std::byte> data) override {
    gate_->entered.fetch_add(1);
    bool stopping = false;
    while (gate_->hold.load() && !stopping) {
      auto slept = co_await io::sleep(r, 1ms);
      stopping = !slept;
    }
    detailed_result<void> done = detailed_error{make_error_code(std::errc::operation_canceled), "gate"};
    if (!stopping && gate_->fail.load()) done = detailed_error{make_error_code(std::errc::no_space_on_device), "gate"};
    else if (!stopping) done = co_await inner_->write(r, p, data);
    co_return done;
  }
  detailed_result<void> flush() override { return inner_->flush(); }
  detailed_result<void> save_resume(const bitfield& verified) override { return inner_->save_resume(verified); }

 private:
  std::unique_ptr<sta::storage::storage> inner_;
  std::shared_ptr<write_gate> gate_;
};

storage::factory gated(std::shared_ptr<storage::memory_disk> disk, std::shared_ptr<write_gate> g) {
  return [g, inner = storage::memory_factory(std::move(disk))](const storage::open_params& p)
             -> detailed_result<storage::opened> {
    g->opened.fetch_add(1);
    auto o = inner(p);
    if (!o) return o;
    o->store = std::make_unique<gated_storage>(std::move(o->store), g);
    return o;
  };
}

// A torrent of two files with real hashes, seeded by a node from memory;
// the downloader's torrent_options with its data on a gated memory disk.
struct two_files {
  meta::metainfo m;
  std::unique_ptr<node> seeder;
  std::shared_ptr<write_gate> gate = std::make_shared<write_gate>();

  two_files(const std::filesystem::path& dir, const std::string& seeder_ip) {
    const std::string x = test::random_bytes(200 * 1024, 26), y = test::random_bytes(150 * 1024, 27);
    test::write_file(dir / "pair/x.bin", x);
    test::write_file(dir / "pair/y.bin", y);
    m = torrent_of_dir(dir / "pair", 16 * 1024);
    seeder = start_node(seeder_ip);
    seeded s{x + y, m, std::make_shared<storage::memory_disk>(x + y)};
    add(*seeder, s, torrent_mode::seed);
  }
  torrent_options downloader() const {
    torrent_options o;
    o.use_trackers = false;
    o.peers = {seeder->listening().front()};
    o.storage = gated(std::make_shared<storage::memory_disk>(m.total_size), gate);
    return o;
  }
};

TEST(Node, AWriteThatFailsAfterAPauseMakesItAnError) {
  test::temp_dir dir;
  two_files t(dir.path(), "127.0.0.212");
  auto n = start_node("127.0.0.213");
  const auto id = *n->add(t.m, t.downloader());
  ASSERT_TRUE(eventually([&] { return t.gate->entered.load() > 0; }));
  // Paused while a piece's write is in flight; the write then fails.
  ASSERT_TRUE(n->pause(id));
  t.gate->fail = true;
  t.gate->hold = false;
  ASSERT_TRUE(eventually([&] { return n->stats(id)->state == torrent_state::error; }));
  const auto st = *n->stats(id);
  ASSERT_TRUE(st.error);
  EXPECT_NE(st.error->find("No space left on device"), std::string::npos) << *st.error;
  // Not started again behind its back; resume checks it again.
  EXPECT_EQ(n->totals().live, 0u);
  t.gate->fail = false;
  ASSERT_TRUE(n->resume(id));
  ASSERT_TRUE(n->wait_checked(id));
  EXPECT_EQ(t.gate->opened.load(), 2);
}

TEST(Node, RemovedWhileItsCheckWaitedForTheOldRunTheCheckNeverStarts) {
  test::temp_dir dir;
  two_files t(dir.path(), "127.0.0.214");
  auto n = start_node("127.0.0.215");
  const auto id = *n->add(t.m, t.downloader());
  ASSERT_TRUE(eventually([&] { return t.gate->entered.load() > 0; }));
  // A new selection: checked again once the old run has drained, which the
  // write held at the gate prevents; removed meanwhile.
  ASSERT_TRUE(n->set_selection(id, {true, false}));
  EXPECT_EQ(n->stats(id)->state, torrent_state::checking);
  ASSERT_TRUE(n->remove(id, false));
  t.gate->hold = false;
  n->wait_removed(id);
  EXPECT_FALSE(n->stats(id));
  EXPECT_EQ(t.gate->opened.load(), 1);  // the first check only
}

TEST(Node, RemovedWithItsDataJustBeforeStopTheDataIsDeletedAll) {
  test::temp_dir dir;
  const std::string data = test::random_bytes(64 * 1024, 28);
  test::write_file(dir.path() / "gone/a.bin", data.substr(0, 40 * 1024));
  test::write_file(dir.path() / "gone/b.bin", data.substr(40 * 1024));
  const auto m = torrent_of_dir(dir.path() / "gone", 16 * 1024);
  auto n = start_node("127.0.0.216");
  torrent_options o;
  o.save_dir = dir.path().string();
  o.mode = torrent_mode::seed;
  o.use_trackers = false;
  const auto id = *n->add(m, o);
  ASSERT_TRUE(n->wait_checked(id));
  // A connection keeps the torrent from draining at once.
  raw_peer p("127.0.0.217", n->listening().front());
  ASSERT_TRUE(p.send_handshake(raw_peer::handshake_for(m.info_hash, "-XX0001-keeps-it-up0")));
  ASSERT_TRUE(p.read_handshake());
  ASSERT_TRUE(eventually([&] { return n->stats(id)->peers == 1; }));
  ASSERT_TRUE(n->remove(id, true));
  ASSERT_TRUE(n->stop());
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "gone/a.bin"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "gone/b.bin"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "gone"));
}

TEST(Node, StrikesAndBansOutliveACheckAgain) {
  // Placeholder hashes: every block a liar sends fails.
  const auto m = test::multi_file_torrent("set", {{{"x.bin"}, 64 * 1024}, {{"y.bin"}, 64 * 1024}});
  auto n = start_node("127.0.0.218");
  torrent_options o;
  o.use_trackers = false;
  o.storage = storage::memory_factory(std::make_shared<storage::memory_disk>(m.total_size));
  const auto id = *n->add(m, std::move(o));
  ASSERT_TRUE(n->wait_checked(id));
  for (int round = 0; round < 3; ++round) {
    raw_peer p("127.0.0.219", n->listening().front());
    ASSERT_TRUE(p.send_handshake(raw_peer::handshake_for(m.info_hash, "-XX0001-liar-again-" + std::to_string(round))));
    ASSERT_TRUE(p.read_handshake()) << round;
    test::liar_hello(p, 8);
    ASSERT_TRUE(test::answer_with_garbage(p)) << round;
    ASSERT_TRUE(eventually([&] { return n->stats(id)->hash_failures == round + 1; })) << round;
  }
  ASSERT_TRUE(eventually([&] { return n->stats(id)->banned_hosts == 1; }));
  // A new selection makes a new run of the torrent: the ban stays with it.
  ASSERT_TRUE(n->set_selection(id, {true, false}));
  ASSERT_TRUE(eventually([&] { return n->stats(id)->state == torrent_state::live; }));
  EXPECT_EQ(n->stats(id)->banned_hosts, 1u);
  EXPECT_FALSE(answer_to("127.0.0.219", *n, m.info_hash, "-XX0001-liar-again-3"));
  EXPECT_EQ(answer_to("127.0.0.226", *n, m.info_hash, "-XX0001-someone-else"), m.info_hash);
}

TEST(Node, RemoveWithDataDeletesOnlyThatTorrentsFiles) {
  test::temp_dir dir;
  const std::string data = test::random_bytes(64 * 1024, 17);
  // Placeholder hashes: a download that verifies nothing yet.
  const auto m = test::multi_file_torrent("set", {{{"a", "x.bin"}, 40 * 1024}, {{"b.bin"}, 24 * 1024}});
  std::filesystem::create_directories(dir.path() / "set" / "a");
  test::write_file(dir.path() / "set" / "a" / "x.bin", data.substr(0, 40 * 1024));
  test::write_file(dir.path() / "set" / "b.bin", data.substr(40 * 1024));
  test::write_file(dir.path() / "set" / "mine.txt", "not the torrent's");
  test::write_file(dir.path() / "keep.bin", "another file");
  auto n = start_node("127.0.0.191");
  torrent_options o;
  o.save_dir = dir.path().string();
  o.use_trackers = false;
  const auto id = *n->add(m, o);
  ASSERT_TRUE(n->wait_checked(id));
  ASSERT_TRUE(n->save_resume(id));
  ASSERT_TRUE(std::filesystem::exists(dir.path() / ".sta" / (m.info_hash.hex() + ".resume")));
  ASSERT_TRUE(n->remove(id, true));
  n->wait_removed(id);
  ASSERT_TRUE(n->stop());
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "set" / "a"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "set" / "b.bin"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "set" / "mine.txt"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "keep.bin"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / ".sta" / (m.info_hash.hex() + ".resume")));
}

}  // namespace
}  // namespace sta
