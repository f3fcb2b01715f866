#include "meta/build.hpp"

#include <gtest/gtest.h>

#include "meta/metainfo.hpp"

namespace sta::meta {
namespace {

TEST(BuildTorrent, ParsesBackToTheSameFields) {
  torrent_spec spec;
  spec.name = "dir";
  spec.multi_file = true;
  spec.files = {{{"a", "b"}, 20000}, {{"z"}, 0}, {{"c"}, 12768}};
  spec.piece_length = 16384;
  spec.piece_hashes = std::string(40, 'x');
  spec.trackers = {{"http://a/", "http://b/"}, {"http://c/"}};
  spec.is_private = true;
  spec.comment = "c";
  spec.created_by = "sta";
  spec.creation_date = 42;
  auto m = parse(build_torrent(spec));
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->name, "dir");
  EXPECT_EQ(m->files.size(), 3u);
  EXPECT_EQ(m->files[0].joined_path(), "a/b");
  EXPECT_EQ(m->total_size, 32768);
  EXPECT_EQ(m->trackers, spec.trackers);
  EXPECT_TRUE(m->is_private);
  EXPECT_EQ(m->comment, "c");
  EXPECT_EQ(*m->creation_date, 42);
}

TEST(BuildTorrent, SingleTrackerWritesOnlyAnnounce) {
  torrent_spec spec;
  spec.name = "f";
  spec.files = {{{}, 5}};
  spec.piece_length = 16384;
  spec.piece_hashes = std::string(20, 'x');
  spec.trackers = {{"http://a/"}};
  const std::string t = build_torrent(spec);
  EXPECT_NE(t.find("8:announce9:http://a/"), std::string::npos);
  EXPECT_EQ(t.find("announce-list"), std::string::npos);
}

TEST(DefaultPieceLength, GrowsWithSizeWithinBounds) {
  EXPECT_EQ(default_piece_length(0), 1 << 20);
  EXPECT_EQ(default_piece_length(100ll << 20), 1 << 20);
  EXPECT_EQ(default_piece_length(10ll << 30), 1 << 20);
  EXPECT_EQ(default_piece_length(20ll << 30), 2 << 20);
  EXPECT_EQ(default_piece_length(80ll << 30), 8 << 20);
  EXPECT_EQ(default_piece_length(1ll << 50), 16 << 20);
}

}  // namespace
}  // namespace sta::meta

namespace sta::meta {
namespace {

TEST(BuildTorrent, AroundFetchedInfoKeepsItsBytesAndInfoHash) {
  torrent_spec spec;
  spec.name = "x";
  spec.files = {{{}, 5}};
  spec.piece_length = 16384;
  spec.piece_hashes = std::string(20, 'h');
  spec.trackers = {{"http://a/announce"}};
  const auto original = parse(build_torrent(spec));
  ASSERT_TRUE(original);
  for (const auto& tiers : {std::vector<std::vector<std::string>>{},
                            std::vector<std::vector<std::string>>{{"udp://t:1/announce", "http://b/announce"}, {"http://c/announce"}}}) {
    auto m = parse(torrent_from_info(original->info_bytes, tiers));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->info_hash, original->info_hash);
    EXPECT_EQ(m->info_bytes, original->info_bytes);
    EXPECT_EQ(m->trackers, tiers);
  }
}

}  // namespace
}  // namespace sta::meta
