// In-process swarms on loopback: sessions with several reactors each, one
// address of 127.0.0.0/8 per peer, no tracker (peers are given directly).
// Tests of the swarm keep the data on the memory backend; those of files,
// selection and resume records use the disk. Every test ends byte-exact.
#include "session/session.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "storage/create.hpp"
#include "storage/memory_storage.hpp"
#include "support/temp_dir.hpp"
#include "support/torrent.hpp"

namespace sta {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using test::read_file;
using test::write_file;

meta::metainfo make_torrent(const fs::path& path, std::int64_t piece_length) {
  storage::create_options opts;
  opts.path = path.string();
  opts.piece_length = piece_length;
  auto bytes = storage::create_torrent(opts);
  if (!bytes) throw std::runtime_error(bytes.error().message());
  auto m = meta::parse(*bytes);
  if (!m) throw std::runtime_error(m.error().message());
  return std::move(*m);
}

endpoint ep(const std::string& text) { return *parse_endpoint(text); }

std::unique_ptr<session> start(const meta::metainfo& m, const fs::path& save_dir, torrent_mode mode,
                               const std::string& listen, std::vector<endpoint> peers = {},
                               const std::function<void(session_options&)>& tweak = {}) {
  session_options o;
  o.save_dir = save_dir.string();
  o.mode = mode;
  o.threads = 2;
  o.listen = {ep(listen)};
  o.peers = std::move(peers);
  o.use_trackers = false;
  if (tweak) tweak(o);
  auto s = session::start(m, std::move(o));
  if (!s) throw std::runtime_error(s.error().message());
  return std::move(*s);
}

// A torrent whose data lives in memory: seeders share `data`'s disk.
struct in_memory {
  std::string data;
  meta::metainfo m;
  std::shared_ptr<storage::memory_disk> full;
};
in_memory make_in_memory(std::size_t size, std::uint64_t seed, std::int64_t piece_length) {
  in_memory t{test::random_bytes(size, static_cast<unsigned>(seed)), {}, nullptr};
  t.m = test::torrent_of("data.bin", t.data, piece_length);
  t.full = std::make_shared<storage::memory_disk>(t.data);
  return t;
}

// A session on a memory disk (no files; save_dir is not used).
std::unique_ptr<session> start_on(const meta::metainfo& m, std::shared_ptr<storage::memory_disk> disk,
                                  torrent_mode mode, const std::string& listen, std::vector<endpoint> peers = {},
                                  const std::function<void(session_options&)>& tweak = {}) {
  return start(m, "/nonexistent", mode, listen, std::move(peers), [&](session_options& o) {
    o.storage = storage::memory_factory(disk);
    if (tweak) tweak(o);
  });
}

// `count` seeders of an in-memory torrent, listening on 127.0.0.first,
// first + 1, ...
std::vector<std::unique_ptr<session>> start_seeders(const in_memory& t, int count, int first) {
  std::vector<std::unique_ptr<session>> seeds;
  for (int i = 0; i < count; ++i)
    seeds.push_back(start_on(t.m, t.full, torrent_mode::seed, "127.0.0." + std::to_string(first + i) + ":0"));
  return seeds;
}

std::vector<endpoint> addresses_of(const std::vector<std::unique_ptr<session>>& sessions) {
  std::vector<endpoint> out;
  for (const auto& s : sessions) out.push_back(s->listening().front());
  return out;
}

// Polls until every session is complete; the bound only turns a hang into
// a failure.
void wait_complete(const std::vector<session*>& sessions) {
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  for (;;) {
    bool all = true;
    for (auto* s : sessions) {
      const auto st = s->stats();
      ASSERT_FALSE(st.error) << *st.error;
      all = all && st.complete;
    }
    if (all) return;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "swarm did not complete";
    std::this_thread::sleep_for(10ms);
  }
}

TEST(Swarm, OneSeederToOneDownloaderWithShortLastPiece) {
  test::temp_dir dir;
  const std::string data = test::random_bytes(3 * 1024 * 1024 + 123, 1);
  write_file(dir / "seed/file.bin", data);
  const auto m = make_torrent(dir / "seed/file.bin", 256 * 1024);
  ASSERT_NE(m.piece_size(m.piece_count() - 1), m.piece_length);

  auto seed = start(m, dir / "seed", torrent_mode::seed, "127.0.0.21:0");
  auto dl = start(m, dir / "dl", torrent_mode::download, "127.0.0.22:0", {seed->listening().front()});
  wait_complete({dl.get()});
  EXPECT_TRUE(read_file(dir / "dl/file.bin") == data);
  EXPECT_EQ(dl->stats().downloaded, static_cast<std::int64_t>(data.size()));
  EXPECT_EQ(dl->stats().hash_failures, 0);
}

TEST(Swarm, FourSeedersToOneDownloader) {
  const auto t = make_in_memory(8 * 1024 * 1024, 2, 128 * 1024);
  const auto seeds = start_seeders(t, 4, 31);
  auto disk = std::make_shared<storage::memory_disk>(t.m.total_size);
  auto dl = start_on(t.m, disk, torrent_mode::download, "127.0.0.30:0", addresses_of(seeds));
  wait_complete({dl.get()});
  EXPECT_TRUE(disk->contents() == t.data);
  std::int64_t uploaded = 0;
  for (auto& s : seeds) uploaded += s->stats().uploaded;
  EXPECT_GE(uploaded, static_cast<std::int64_t>(t.data.size()));
}

TEST(Swarm, OneSeederToFourDownloaders) {
  const auto t = make_in_memory(4 * 1024 * 1024 + 5, 3, 64 * 1024);
  auto seed = start_on(t.m, t.full, torrent_mode::seed, "127.0.0.40:0");
  std::vector<std::unique_ptr<session>> dls;
  std::vector<std::shared_ptr<storage::memory_disk>> disks;
  std::vector<session*> raw;
  for (int i = 0; i < 4; ++i) {
    disks.push_back(std::make_shared<storage::memory_disk>(t.m.total_size));
    dls.push_back(start_on(t.m, disks.back(), torrent_mode::download, "127.0.0." + std::to_string(41 + i) + ":0",
                           {seed->listening().front()}));
    raw.push_back(dls.back().get());
  }
  wait_complete(raw);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(disks[i]->contents() == t.data) << i;
}

TEST(Swarm, MultiFileTorrentWithZeroLengthFile) {
  test::temp_dir dir;
  const std::string a = test::random_bytes(100 * 1024, 4);
  const std::string b = test::random_bytes(700 * 1024 + 5, 5);
  write_file(dir / "seed/pack/a.bin", a);
  write_file(dir / "seed/pack/empty", "");
  write_file(dir / "seed/pack/sub/b.bin", b);
  const auto m = make_torrent(dir / "seed/pack", 64 * 1024);
  ASSERT_EQ(m.files.size(), 3u);

  auto seed = start(m, dir / "seed", torrent_mode::seed, "127.0.0.50:0");
  auto dl = start(m, dir / "dl", torrent_mode::download, "127.0.0.51:0", {seed->listening().front()});
  wait_complete({dl.get()});
  EXPECT_TRUE(read_file(dir / "dl/pack/a.bin") == a);
  EXPECT_TRUE(read_file(dir / "dl/pack/sub/b.bin") == b);
  ASSERT_TRUE(fs::exists(dir / "dl/pack/empty"));
  EXPECT_EQ(fs::file_size(dir / "dl/pack/empty"), 0u);
}

// Files of odd sizes, large enough for O_DIRECT: a piece that spans two of
// them is placed in its buffer so that its larger part lines up with its
// file's pages; every byte still lands where it belongs.
TEST(Swarm, PiecesAcrossFilesOfOddSizesLandByteExact) {
  test::temp_dir dir;
  const std::string a = test::random_bytes(1024 * 1024 + 77, 21);
  const std::string b = test::random_bytes(2 * 1024 * 1024 - 1000, 22);
  const std::string c = test::random_bytes(1024 * 1024 + 4095, 23);
  write_file(dir / "seed/pack/a.bin", a);
  write_file(dir / "seed/pack/b.bin", b);
  write_file(dir / "seed/pack/c.bin", c);
  const auto m = make_torrent(dir / "seed/pack", 256 * 1024);
  auto seed = start(m, dir / "seed", torrent_mode::seed, "127.0.0.52:0");
  auto dl = start(m, dir / "dl", torrent_mode::download, "127.0.0.53:0", {seed->listening().front()});
  wait_complete({dl.get()});
  EXPECT_EQ(dl->stats().hash_failures, 0);
  EXPECT_TRUE(read_file(dir / "dl/pack/a.bin") == a);
  EXPECT_TRUE(read_file(dir / "dl/pack/b.bin") == b);
  EXPECT_TRUE(read_file(dir / "dl/pack/c.bin") == c);
}

TEST(Swarm, SelectedFilesOnlyWithBoundaryBytesInThePartsFile) {
  test::temp_dir dir;
  // 64 KiB pieces: a.bin ends and c.bin starts inside pieces shared with b.bin.
  const std::string a = test::random_bytes(100 * 1024 + 7, 11);
  const std::string b = test::random_bytes(300 * 1024 + 3, 12);
  const std::string c = test::random_bytes(200 * 1024 + 1, 13);
  write_file(dir / "seed/pack/a.bin", a);
  write_file(dir / "seed/pack/b.bin", b);
  write_file(dir / "seed/pack/c.bin", c);
  const auto m = make_torrent(dir / "seed/pack", 64 * 1024);
  ASSERT_EQ(m.files.size(), 3u);
  ASSERT_EQ(m.files[1].joined_path(), "b.bin");

  auto seed = start(m, dir / "seed", torrent_mode::seed, "127.0.0.80:0");
  {
    auto dl = start(m, dir / "dl", torrent_mode::download, "127.0.0.81:0", {seed->listening().front()},
                    [](session_options& o) { o.selected = {false, true, false}; });
    const auto first = dl->stats();
    EXPECT_EQ(first.total, m.total_size);
    // b.bin's pieces: from the one holding its first byte to the one holding its last.
    const std::int64_t begin = (100 * 1024 + 7) / (64 * 1024), end = (400 * 1024 + 10 - 1) / (64 * 1024);
    EXPECT_EQ(first.selected_total, (end - begin + 1) * 64 * 1024);
    wait_complete({dl.get()});
    EXPECT_EQ(dl->stats().verified, first.selected_total);
    EXPECT_TRUE(read_file(dir / "dl/pack/b.bin") == b);
    EXPECT_FALSE(fs::exists(dir / "dl/pack/a.bin"));
    EXPECT_FALSE(fs::exists(dir / "dl/pack/c.bin"));
    EXPECT_TRUE(fs::exists(dir / "dl/.sta" / (m.info_hash.hex() + ".parts")));
    dl->stop();
  }
  // Selecting everything later: the pieces shared with b.bin had a.bin's and
  // c.bin's bytes in the parts file; they move into the new files at the
  // start and stay verified, and only the rest is fetched. The first start
  // has no peer, so nothing can arrive before its counts are read.
  torrent_stats at_start;
  {
    auto alone = start(m, dir / "dl", torrent_mode::download, "127.0.0.81:0");
    at_start = alone->stats();
    alone->stop();
  }
  EXPECT_FALSE(at_start.complete);
  // b.bin's pieces, the two it shares included.
  EXPECT_EQ(at_start.verified_pieces, (400 * 1024 + 10 - 1) / (64 * 1024) - (100 * 1024 + 7) / (64 * 1024) + 1);
  auto dl = start(m, dir / "dl", torrent_mode::download, "127.0.0.81:0", {seed->listening().front()});
  wait_complete({dl.get()});
  EXPECT_TRUE(read_file(dir / "dl/pack/a.bin") == a);
  EXPECT_TRUE(read_file(dir / "dl/pack/b.bin") == b);
  EXPECT_TRUE(read_file(dir / "dl/pack/c.bin") == c);
  EXPECT_EQ(dl->stats().downloaded, m.total_size - at_start.verified);
  EXPECT_FALSE(fs::exists(dir / "dl/.sta" / (m.info_hash.hex() + ".parts")));
}

TEST(Swarm, SequentialCompletesPiecesInIndexOrder) {
  const auto t = make_in_memory(16 * 1024 * 1024, 14, 256 * 1024);  // 64 pieces of 16 blocks
  const auto seeds = start_seeders(t, 2, 82);
  auto disk = std::make_shared<storage::memory_disk>(t.m.total_size);
  auto dl = start_on(t.m, disk, torrent_mode::download, "127.0.0.84:0", addresses_of(seeds), [](session_options& o) {
    o.sequential = true;
    o.limits.peer.max_pipeline = 16;  // at most 1 piece ahead per peer
  });
  wait_complete({dl.get()});
  EXPECT_TRUE(disk->contents() == t.data);
  const auto order = dl->verified_order();
  ASSERT_EQ(order.size(), 64u);
  // Two peers with one piece in flight each: the i-th piece verified is
  // never more than a few pieces past i (rarest-first order would be a
  // random permutation).
  for (std::size_t i = 0; i < order.size(); ++i) EXPECT_LE(order[i], i + 12) << "position " << i;
}

TEST(Swarm, MaxConnectionsCapsThePeers) {
  const auto t = make_in_memory(2 * 1024 * 1024, 15, 64 * 1024);
  const auto seeds = start_seeders(t, 3, 85);
  auto disk = std::make_shared<storage::memory_disk>(t.m.total_size);
  // At 4 MiB/s the download lasts long enough for the loop below to see
  // its peer (unlimited, it could end before the first look).
  auto dl = start_on(t.m, disk, torrent_mode::download, "127.0.0.88:0", addresses_of(seeds), [](session_options& o) {
    o.max_connections = 1;
    o.limits.download_rate = 4 << 20;
  });
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  unsigned most = 0;
  while (!dl->stats().complete) {
    most = std::max(most, dl->stats().peers);
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(most, 1u);
  EXPECT_TRUE(disk->contents() == t.data);
}

TEST(Swarm, RestartTrustsResumeDataWithoutRechecking) {
  test::temp_dir dir;
  const std::string data = test::random_bytes(2 * 1024 * 1024, 6);
  write_file(dir / "seed/file.bin", data);
  const auto m = make_torrent(dir / "seed/file.bin", 256 * 1024);
  {
    auto seed = start(m, dir / "seed", torrent_mode::seed, "127.0.0.60:0");
    auto dl = start(m, dir / "dl", torrent_mode::download, "127.0.0.61:0", {seed->listening().front()});
    wait_complete({dl.get()});
    dl->stop();
  }
  session_options o;
  o.save_dir = (dir / "dl").string();
  o.threads = 1;
  o.listen = {ep("127.0.0.61:0")};
  o.use_trackers = false;
  bool checked = false;
  o.on_check_progress = [&](std::int64_t, std::int64_t) { checked = true; };
  auto again = session::start(m, std::move(o));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_TRUE((*again)->stats().complete);
  EXPECT_FALSE(checked);
}

TEST(Swarm, SeedRefusesDataThatDoesNotVerify) {
  test::temp_dir dir;
  std::string data = test::random_bytes(512 * 1024, 7);
  write_file(dir / "seed/file.bin", data);
  const auto m = make_torrent(dir / "seed/file.bin", 64 * 1024);
  data[100] ^= 1;
  write_file(dir / "seed/file.bin", data);
  session_options o;
  o.save_dir = (dir / "seed").string();
  o.mode = torrent_mode::seed;
  o.listen = {ep("127.0.0.70:0")};
  o.use_trackers = false;
  auto s = session::start(m, std::move(o));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, errc::data_not_verified);
  EXPECT_NE(s.error().message().find("1 of 8 pieces bad"), std::string::npos) << s.error().message();
}

// --- storage faults, injected through the memory backend ------------------

// Waits until the session reports an error; the bound turns a hang into a failure.
std::string wait_error(session& s) {
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  for (;;) {
    const auto st = s.stats();
    if (st.error) return *st.error;
    if (std::chrono::steady_clock::now() > deadline) return "no error";
    std::this_thread::sleep_for(10ms);
  }
}

void write_fault_is_one_line_and_loses_no_verified_piece(std::errc e, const std::string& expected) {
  const auto t = make_in_memory(2 * 1024 * 1024, 21, 64 * 1024);  // 32 pieces
  auto seed = start_on(t.m, t.full, torrent_mode::seed, "127.0.0.160:0");
  auto disk = std::make_shared<storage::memory_disk>(t.m.total_size);
  disk->fail_write(9, e);
  std::uint32_t verified_before = 0;
  {
    auto dl = start_on(t.m, disk, torrent_mode::download, "127.0.0.161:0", {seed->listening().front()});
    const std::string why = wait_error(*dl);
    EXPECT_NE(why.find("cannot write piece"), std::string::npos) << why;
    EXPECT_NE(why.find(expected), std::string::npos) << why;
    EXPECT_EQ(why.find('\n'), std::string::npos) << why;
    EXPECT_TRUE(dl->stop());
    // Pieces finishing while the error was being noticed count too: what
    // counts is what was verified when the node stopped.
    verified_before = dl->stats().verified_pieces;
    EXPECT_GE(verified_before, 8u);
  }
  // The pieces verified before the fault were recorded; a restart on the
  // same disk trusts them and fetches only the rest.
  ASSERT_TRUE(disk->resume());
  EXPECT_EQ(disk->resume()->count(), verified_before);
  auto again = start_on(t.m, disk, torrent_mode::download, "127.0.0.161:0", {seed->listening().front()});
  EXPECT_EQ(again->stats().verified_pieces, verified_before);
  wait_complete({again.get()});
  EXPECT_TRUE(disk->contents() == t.data);
  EXPECT_EQ(again->stats().downloaded, t.m.total_size - std::int64_t{verified_before} * 64 * 1024);
}

TEST(Swarm, DiskFullStopsWithOneLineAndLosesNoVerifiedPiece) {
  write_fault_is_one_line_and_loses_no_verified_piece(std::errc::no_space_on_device, "No space left on device");
}

TEST(Swarm, WriteErrorStopsWithOneLineAndLosesNoVerifiedPiece) {
  write_fault_is_one_line_and_loses_no_verified_piece(std::errc::io_error, "Input/output error");
}

TEST(Swarm, SeederThatCannotReadAPieceKeepsSeedingTheRest) {
  const auto t = make_in_memory(1024 * 1024, 22, 64 * 1024);  // 16 pieces
  // One seeder's copy of piece 5 cannot be read any more; another's can.
  auto bad_disk = std::make_shared<storage::memory_disk>(t.data);
  auto bad = start_on(t.m, bad_disk, torrent_mode::seed, "127.0.0.162:0");
  bad_disk->fail_reads_of(5, std::errc::io_error);
  auto disk = std::make_shared<storage::memory_disk>(t.m.total_size);
  auto dl = start_on(t.m, disk, torrent_mode::download, "127.0.0.163:0", {bad->listening().front()});
  // Everything but piece 5 comes from the bad seeder.
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (dl->stats().verified_pieces < 15 || bad->stats().read_errors == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(10ms);
  }
  const auto st = bad->stats();
  EXPECT_FALSE(st.error);
  EXPECT_GE(st.read_errors, 1);
  const auto warnings = bad->warnings_since(0);
  ASSERT_GE(warnings.size(), 2u);
  EXPECT_NE(warnings[0].second.find("cannot read piece 5"), std::string::npos) << warnings[0].second;
  EXPECT_NE(warnings[1].second.find("piece 5 no longer verifies"), std::string::npos) << warnings[1].second;
  EXPECT_EQ(warnings[1].first, st.warnings);
  EXPECT_EQ(st.peers, 1u);  // the connection lives on
  auto good = start_on(t.m, t.full, torrent_mode::seed, "127.0.0.164:0", {dl->listening().front()});
  wait_complete({dl.get()});
  EXPECT_TRUE(disk->contents() == t.data);
}

TEST(Swarm, PieceThatReadsAgainAfterOneFailureIsSeededAgain) {
  const auto t = make_in_memory(1024 * 1024, 23, 64 * 1024);
  auto flaky = std::make_shared<storage::memory_disk>(t.data);
  auto seed = start_on(t.m, flaky, torrent_mode::seed, "127.0.0.165:0");
  flaky->fail_read(1, std::errc::io_error);  // the first read fails once
  auto disk = std::make_shared<storage::memory_disk>(t.m.total_size);
  auto dl = start_on(t.m, disk, torrent_mode::download, "127.0.0.166:0", {seed->listening().front()});
  wait_complete({dl.get()});
  EXPECT_TRUE(disk->contents() == t.data);
  EXPECT_EQ(seed->stats().read_errors, 1);
  EXPECT_TRUE(seed->stats().complete);  // checked again and had again
}

}  // namespace
}  // namespace sta
