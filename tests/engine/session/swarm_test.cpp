// In-process swarms on loopback: sessions with several reactors each, one
// address of 127.0.0.0/8 per peer, no tracker (peers are given directly).
// Every test ends with byte-exact files.
#include "session/session.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "storage/create.hpp"
#include "support/temp_dir.hpp"

namespace sta {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_file(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

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

// A single-file torrent of `size` random bytes in dir/seed/file.bin.
struct single_file {
  std::string data;
  meta::metainfo m;
};
single_file make_single_file(const fs::path& dir, std::size_t size, std::uint64_t seed, std::int64_t piece_length) {
  single_file f{test::random_bytes(size, seed), {}};
  write_file(dir / "seed/file.bin", f.data);
  f.m = make_torrent(dir / "seed/file.bin", piece_length);
  return f;
}

// `count` seeders of the data in dir/seed, listening on 127.0.0.first,
// first + 1, ...
std::vector<std::unique_ptr<session>> start_seeders(const meta::metainfo& m, const fs::path& dir, int count,
                                                    int first) {
  std::vector<std::unique_ptr<session>> seeds;
  for (int i = 0; i < count; ++i)
    seeds.push_back(start(m, dir / "seed", torrent_mode::seed, "127.0.0." + std::to_string(first + i) + ":0"));
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
  EXPECT_EQ(read_file(dir / "dl/file.bin"), data);
  EXPECT_EQ(dl->stats().downloaded, static_cast<std::int64_t>(data.size()));
  EXPECT_EQ(dl->stats().hash_failures, 0);
}

TEST(Swarm, FourSeedersToOneDownloader) {
  test::temp_dir dir;
  const auto [data, m] = make_single_file(dir.path(), 8 * 1024 * 1024, 2, 128 * 1024);

  const auto seeds = start_seeders(m, dir.path(), 4, 31);
  auto dl = start(m, dir / "dl", torrent_mode::download, "127.0.0.30:0", addresses_of(seeds));
  wait_complete({dl.get()});
  EXPECT_EQ(read_file(dir / "dl/file.bin"), data);
  std::int64_t uploaded = 0;
  for (auto& s : seeds) uploaded += s->stats().uploaded;
  EXPECT_GE(uploaded, static_cast<std::int64_t>(data.size()));
}

TEST(Swarm, OneSeederToFourDownloaders) {
  test::temp_dir dir;
  const std::string data = test::random_bytes(4 * 1024 * 1024 + 5, 3);
  write_file(dir / "seed/file.bin", data);
  const auto m = make_torrent(dir / "seed/file.bin", 64 * 1024);

  auto seed = start(m, dir / "seed", torrent_mode::seed, "127.0.0.40:0");
  std::vector<std::unique_ptr<session>> dls;
  std::vector<session*> raw;
  for (int i = 0; i < 4; ++i) {
    dls.push_back(start(m, dir / ("dl" + std::to_string(i)), torrent_mode::download,
                        "127.0.0." + std::to_string(41 + i) + ":0", {seed->listening().front()}));
    raw.push_back(dls.back().get());
  }
  wait_complete(raw);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(read_file(dir / ("dl" + std::to_string(i)) / "file.bin"), data) << i;
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
  EXPECT_EQ(read_file(dir / "dl/pack/a.bin"), a);
  EXPECT_EQ(read_file(dir / "dl/pack/sub/b.bin"), b);
  ASSERT_TRUE(fs::exists(dir / "dl/pack/empty"));
  EXPECT_EQ(fs::file_size(dir / "dl/pack/empty"), 0u);
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
    EXPECT_EQ(read_file(dir / "dl/pack/b.bin"), b);
    EXPECT_FALSE(fs::exists(dir / "dl/pack/a.bin"));
    EXPECT_FALSE(fs::exists(dir / "dl/pack/c.bin"));
    EXPECT_TRUE(fs::exists(dir / "dl/.sta" / (m.info_hash.hex() + ".parts")));
    dl->stop();
  }
  // Selecting everything later: the pieces shared with b.bin had a.bin's and
  // c.bin's bytes in the parts file, so they are fetched again into the files.
  auto dl = start(m, dir / "dl", torrent_mode::download, "127.0.0.81:0", {seed->listening().front()});
  EXPECT_FALSE(dl->stats().complete);
  wait_complete({dl.get()});
  EXPECT_EQ(read_file(dir / "dl/pack/a.bin"), a);
  EXPECT_EQ(read_file(dir / "dl/pack/b.bin"), b);
  EXPECT_EQ(read_file(dir / "dl/pack/c.bin"), c);
  EXPECT_FALSE(fs::exists(dir / "dl/.sta" / (m.info_hash.hex() + ".parts")));
}

TEST(Swarm, SequentialCompletesPiecesInIndexOrder) {
  test::temp_dir dir;
  const auto [data, m] = make_single_file(dir.path(), 16 * 1024 * 1024, 14, 256 * 1024);  // 64 pieces of 16 blocks

  const auto seeds = start_seeders(m, dir.path(), 2, 82);
  auto dl = start(m, dir / "dl", torrent_mode::download, "127.0.0.84:0", addresses_of(seeds), [](session_options& o) {
                    o.sequential = true;
                    o.limits.max_pipeline = 64;  // at most 4 pieces ahead per peer
                  });
  wait_complete({dl.get()});
  EXPECT_EQ(read_file(dir / "dl/file.bin"), data);
  const auto order = dl->verified_order();
  ASSERT_EQ(order.size(), 64u);
  // Two peers with up to 4 pieces in flight each: the i-th piece verified
  // is never more than a few pieces past i (rarest-first order would be a
  // random permutation).
  for (std::size_t i = 0; i < order.size(); ++i) EXPECT_LE(order[i], i + 12) << "position " << i;
}

TEST(Swarm, MaxConnectionsCapsThePeers) {
  test::temp_dir dir;
  const auto [data, m] = make_single_file(dir.path(), 2 * 1024 * 1024, 15, 64 * 1024);

  const auto seeds = start_seeders(m, dir.path(), 3, 85);
  auto dl = start(m, dir / "dl", torrent_mode::download, "127.0.0.88:0", addresses_of(seeds),
                  [](session_options& o) { o.max_connections = 1; });
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  unsigned most = 0;
  while (!dl->stats().complete) {
    most = std::max(most, dl->stats().peers);
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(most, 1u);
  EXPECT_EQ(read_file(dir / "dl/file.bin"), data);
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
  EXPECT_NE(s.error().message().find("1 of 8 pieces do not verify"), std::string::npos) << s.error().message();
}

}  // namespace
}  // namespace sta
