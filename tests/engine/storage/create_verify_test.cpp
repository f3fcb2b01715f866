#include "storage/create.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "meta/metainfo.hpp"
#include "storage/verify.hpp"
#include "support/temp_dir.hpp"

namespace sta::storage {
namespace {

namespace fs = std::filesystem;
using test::random_bytes;
using test::temp_dir;
using test::write_file;

meta::metainfo make(const fs::path& path, std::int64_t piece_length, unsigned threads = 0) {
  create_options opts;
  opts.path = path.string();
  opts.piece_length = piece_length;
  opts.threads = threads;
  opts.trackers = {{"http://127.0.0.1:6969/announce"}};
  auto t = create_torrent(opts);
  if (!t) throw std::runtime_error(t.error().message());
  auto m = meta::parse(*t);
  if (!m) throw std::runtime_error(m.error().message());
  return *m;
}

TEST(CreateTorrent, SingleFileVerifies) {
  temp_dir dir;
  write_file(dir / "data.bin", random_bytes(100'000, 1));
  auto m = make(dir / "data.bin", 16384);
  EXPECT_EQ(m.name, "data.bin");
  EXPECT_EQ(m.total_size, 100'000);
  EXPECT_EQ(m.piece_count(), 7);
  auto r = verify_data(m, dir.path().string());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->complete());
  EXPECT_EQ(r->bad_pieces, 0);
}

TEST(CreateTorrent, HashesAreIndependentOfThreadCount) {
  temp_dir dir;
  write_file(dir / "data.bin", random_bytes(1'000'000, 2));
  EXPECT_EQ(make(dir / "data.bin", 16384, 1).piece_hashes, make(dir / "data.bin", 16384, 7).piece_hashes);
}

TEST(CreateTorrent, DirectoryInBytewiseOrderWithNestedAndEmptyFiles) {
  temp_dir dir;
  write_file(dir / "root/b/z.bin", random_bytes(30'000, 3));
  write_file(dir / "root/a.bin", random_bytes(5'000, 4));
  write_file(dir / "root/B.bin", random_bytes(70'000, 5));
  write_file(dir / "root/empty", "");
  fs::create_symlink(dir / "root/a.bin", dir / "root/link");
  auto m = make(dir / "root", 16384);
  ASSERT_TRUE(m.multi_file);
  std::vector<std::string> paths;
  for (const auto& f : m.files) paths.push_back(f.joined_path());
  EXPECT_EQ(paths, (std::vector<std::string>{"B.bin", "a.bin", "b/z.bin", "empty"}));
  EXPECT_EQ(m.total_size, 105'000);
  auto r = verify_data(m, dir.path().string());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->complete());
}

TEST(CreateTorrent, RejectsEmptyInputAndBadPieceLength) {
  temp_dir dir;
  fs::create_directories(dir / "empty_dir");
  create_options opts;
  opts.path = (dir / "empty_dir").string();
  EXPECT_FALSE(create_torrent(opts));
  write_file(dir / "zero", "");
  opts.path = (dir / "zero").string();
  EXPECT_FALSE(create_torrent(opts));
  write_file(dir / "f", "abc");
  opts.path = (dir / "f").string();
  opts.piece_length = 1000;
  auto r = create_torrent(opts);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("piece length"), std::string::npos);
  opts.path = (dir / "missing").string();
  EXPECT_FALSE(create_torrent(opts));
}

TEST(VerifyData, DetectsOneFlippedByte) {
  temp_dir dir;
  write_file(dir / "data.bin", random_bytes(200'000, 6));
  auto m = make(dir / "data.bin", 16384);
  {
    std::fstream f(dir / "data.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(50'000);
    char c;
    f.read(&c, 1);
    f.seekp(50'000);
    c = static_cast<char>(c ^ 1);
    f.write(&c, 1);
  }
  auto r = verify_data(m, dir.path().string());
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->complete());
  EXPECT_EQ(r->bad_pieces, 1);
  EXPECT_FALSE(r->verified[50'000 / 16384]);
}

TEST(VerifyData, ReportsTruncatedAndMissingFiles) {
  temp_dir dir;
  write_file(dir / "root/one", random_bytes(40'000, 7));
  write_file(dir / "root/two", random_bytes(40'000, 8));
  auto m = make(dir / "root", 16384);
  fs::resize_file(dir / "root/one", 39'999);
  fs::remove(dir / "root/two");
  auto r = verify_data(m, dir.path().string());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->wrong_size_files.size(), 1u);
  EXPECT_EQ(r->wrong_size_files[0].file, 0u);
  EXPECT_EQ(r->wrong_size_files[0].actual, 39'999);
  EXPECT_EQ(r->missing_files, (std::vector<std::size_t>{1}));
  EXPECT_EQ(r->bad_pieces, m.piece_count());
}

TEST(VerifyData, FailsOnMissingSaveDir) {
  temp_dir dir;
  write_file(dir / "f", "abc");
  auto m = make(dir / "f", 16384);
  EXPECT_FALSE(verify_data(m, (dir / "nope").string()));
}

}  // namespace
}  // namespace sta::storage
