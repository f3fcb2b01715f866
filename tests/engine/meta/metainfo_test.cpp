#include "meta/metainfo.hpp"

#include <gtest/gtest.h>

#include "bencode/encode.hpp"

namespace sta::meta {
namespace {

using bencode::value;

std::string hashes(int pieces) { return std::string(static_cast<std::size_t>(pieces) * 20, 'h'); }

value::dict single_info() {
  return {{"name", "file.bin"}, {"piece length", 16384}, {"length", 40000}, {"pieces", hashes(3)}};
}

value::dict multi_info() {
  return {{"name", "dir"},
          {"piece length", 16384},
          {"pieces", hashes(2)},
          {"files", value::list{value::dict{{"length", 10000}, {"path", value::list{"a", "b.txt"}}},
                                value::dict{{"length", 0}, {"path", value::list{"empty"}}},
                                value::dict{{"length", 10000}, {"path", value::list{"c"}}}}}};
}

std::string torrent(value::dict info, value::dict extra = {}) {
  extra.emplace("info", std::move(info));
  return bencode::encode(value(std::move(extra)));
}

TEST(Metainfo, ParsesSingleFile) {
  auto m = parse(torrent(single_info(), {{"announce", "http://t/announce"},
                                         {"comment", "hi"},
                                         {"created by", "me"},
                                         {"creation date", 1700000000},
                                         {"url-list", "http://seed/"}}));
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->name, "file.bin");
  EXPECT_FALSE(m->multi_file);
  EXPECT_EQ(m->total_size, 40000);
  EXPECT_EQ(m->piece_count(), 3);
  EXPECT_EQ(m->piece_size(2), 40000 - 2 * 16384);
  ASSERT_EQ(m->files.size(), 1u);
  EXPECT_EQ(m->relative_path(0), "file.bin");
  ASSERT_EQ(m->trackers.size(), 1u);
  EXPECT_EQ(m->trackers[0][0], "http://t/announce");
  EXPECT_EQ(m->comment, "hi");
  EXPECT_EQ(m->created_by, "me");
  EXPECT_EQ(*m->creation_date, 1700000000);
  ASSERT_EQ(m->url_list.size(), 1u);
  EXPECT_FALSE(m->is_private);
}

TEST(Metainfo, ParsesMultiFileWithZeroLengthFile) {
  auto m = parse(torrent(multi_info()));
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_TRUE(m->multi_file);
  ASSERT_EQ(m->files.size(), 3u);
  EXPECT_EQ(m->files[0].joined_path(), "a/b.txt");
  EXPECT_EQ(m->relative_path(0), "dir/a/b.txt");
  EXPECT_EQ(m->files[1].size, 0);
  EXPECT_EQ(m->files[2].offset, 10000);
  EXPECT_EQ(m->total_size, 20000);
}

TEST(Metainfo, InfoHashIsOverTheExactInfoBytes) {
  // Keys out of order: a re-encoding would sort them and change the hash.
  const std::string info = "d6:lengthi5e4:name1:a6:pieces20:" + hashes(1) + "12:piece lengthi16384ee";
  const std::string file = "d4:info" + info + "e";
  auto m = parse(file);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->info_bytes, info);
  EXPECT_EQ(m->info_hash, sha1(info));
  EXPECT_NE(m->info_hash, sha1(bencode::encode(bencode::to_value(bencode::decode(info)->root()))));
}

TEST(Metainfo, AnnounceListTakesPrecedenceAndKeepsTiers) {
  auto m = parse(torrent(single_info(),
                         {{"announce", "http://ignored/"},
                          {"announce-list", value::list{value::list{"http://a/", "http://b/"},
                                                        value::list{}, value::list{"http://c/"}}}}));
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_EQ(m->trackers.size(), 2u);
  EXPECT_EQ(m->trackers[0], (std::vector<std::string>{"http://a/", "http://b/"}));
  EXPECT_EQ(m->trackers[1], (std::vector<std::string>{"http://c/"}));
}

TEST(Metainfo, ReadsPrivateFlag) {
  auto info = single_info();
  info.emplace("private", 1);
  auto m = parse(torrent(info));
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->is_private);
}

struct rejection {
  const char* name;
  std::string file;
  errc code;
  const char* field;
};

std::vector<rejection> rejections() {
  std::vector<rejection> r;
  auto with = [](value::dict info, const std::string& key, value v) {
    info.erase(key);
    info.emplace(key, std::move(v));
    return info;
  };
  auto without = [](value::dict info, const std::string& key) {
    info.erase(key);
    return info;
  };
  auto multi_path = [&](value::list path) {
    auto info = multi_info();
    info.erase("files");
    info.emplace("files", value::list{value::dict{{"length", 20000}, {"path", std::move(path)}}});
    return torrent(info);
  };
  r.push_back({"not bencode", "d4:info", errc::truncated, "torrent"});
  r.push_back({"top level list", "le", errc::wrong_type, "torrent (top level)"});
  r.push_back({"no info", bencode::encode(value(value::dict{{"announce", "x"}})), errc::missing_field, "info"});
  r.push_back({"info not dict", bencode::encode(value(value::dict{{"info", 1}})), errc::wrong_type, "info"});
  r.push_back({"no name", torrent(without(single_info(), "name")), errc::missing_field, "info.name"});
  r.push_back({"name int", torrent(with(single_info(), "name", 5)), errc::wrong_type, "info.name"});
  r.push_back({"name dotdot", torrent(with(single_info(), "name", "..")), errc::bad_path, "info.name"});
  r.push_back({"name slash", torrent(with(single_info(), "name", "a/b")), errc::bad_path, "info.name"});
  r.push_back({"no piece length", torrent(without(single_info(), "piece length")), errc::missing_field, "info.piece length"});
  r.push_back({"piece length zero", torrent(with(single_info(), "piece length", 0)), errc::bad_value, "info.piece length"});
  r.push_back({"piece length string", torrent(with(single_info(), "piece length", "x")), errc::wrong_type, "info.piece length"});
  r.push_back({"no pieces", torrent(without(single_info(), "pieces")), errc::missing_field, "info.pieces"});
  r.push_back({"pieces int", torrent(with(single_info(), "pieces", 1)), errc::wrong_type, "info.pieces"});
  r.push_back({"pieces not multiple of 20", torrent(with(single_info(), "pieces", std::string(59, 'h'))), errc::bad_pieces, "info.pieces"});
  r.push_back({"too few pieces", torrent(with(single_info(), "pieces", hashes(2))), errc::piece_count_mismatch, "info.pieces"});
  r.push_back({"too many pieces", torrent(with(single_info(), "pieces", hashes(4))), errc::piece_count_mismatch, "info.pieces"});
  r.push_back({"no length or files", torrent(without(single_info(), "length")), errc::missing_field, "info.length"});
  r.push_back({"negative length", torrent(with(single_info(), "length", -1)), errc::bad_value, "info.length"});
  r.push_back({"length string", torrent(with(single_info(), "length", "5")), errc::wrong_type, "info.length"});
  r.push_back({"files not list", torrent(with(multi_info(), "files", 3)), errc::wrong_type, "info.files"});
  r.push_back({"path empty element", multi_path(value::list{"a", ""}), errc::bad_path, "info.files[0].path[1]"});
  r.push_back({"path dot", multi_path(value::list{"."}), errc::bad_path, "info.files[0].path[0]"});
  r.push_back({"path dotdot", multi_path(value::list{"..", "etc"}), errc::bad_path, "info.files[0].path[0]"});
  r.push_back({"path slash", multi_path(value::list{"a/b"}), errc::bad_path, "info.files[0].path[0]"});
  r.push_back({"path absolute", multi_path(value::list{"/etc/passwd"}), errc::bad_path, "info.files[0].path[0]"});
  r.push_back({"path nul", multi_path(value::list{std::string("a\0b", 3)}), errc::bad_path, "info.files[0].path[0]"});
  r.push_back({"path empty list", multi_path(value::list{}), errc::bad_path, "info.files[0].path"});
  r.push_back({"path element int", multi_path(value::list{1}), errc::wrong_type, "info.files[0].path[0]"});
  {
    auto info = multi_info();
    info.erase("files");
    info.emplace("files", value::list{value::dict{{"length", INT64_MAX}, {"path", value::list{"a"}}},
                                      value::dict{{"length", 2}, {"path", value::list{"b"}}}});
    r.push_back({"size overflow", torrent(info), errc::size_overflow, "info.files[1].length"});
  }
  {
    auto info = multi_info();
    info.erase("files");
    info.emplace("files", value::list{value::dict{{"path", value::list{"a"}}}});
    r.push_back({"file without length", torrent(info), errc::missing_field, "info.files[0].length"});
  }
  r.push_back({"announce int", torrent(single_info(), {{"announce", 1}}), errc::wrong_type, "announce"});
  r.push_back({"announce-list flat", torrent(single_info(), {{"announce-list", value::list{"http://a/"}}}), errc::wrong_type, "announce-list[0]"});
  r.push_back({"private string", torrent(with(single_info(), "private", "1")), errc::wrong_type, "info.private"});
  r.push_back({"creation date string", torrent(single_info(), {{"creation date", "now"}}), errc::wrong_type, "creation date"});
  return r;
}

TEST(Metainfo, RejectsMalformedTorrentsNamingTheField) {
  for (const auto& r : rejections()) {
    auto m = parse(r.file);
    ASSERT_FALSE(m) << r.name;
    EXPECT_EQ(m.error().code, make_error_code(r.code)) << r.name << ": " << m.error().message();
    EXPECT_EQ(m.error().subject, r.field) << r.name;
  }
}

TEST(Metainfo, NoPrefixOfATorrentCrashesTheParser) {
  const std::string file = torrent(multi_info(), {{"announce", "http://t/"}});
  for (std::size_t cut = 0; cut < file.size(); ++cut) {
    EXPECT_FALSE(parse(file.substr(0, cut)));
  }
}

}  // namespace
}  // namespace sta::meta
