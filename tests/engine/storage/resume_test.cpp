#include "storage/resume.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "support/root_dir.hpp"
#include "support/temp_dir.hpp"
#include "support/torrent.hpp"

namespace sta::storage {
namespace {

namespace fs = std::filesystem;
using test::temp_dir;
using test::write_file;

meta::metainfo torrent() { return test::multi_file_torrent("root", {{{"a"}, 20'000}, {{"b"}, 30'000}}); }

using test::root_at;

// A record of `verified` for the files as they are now in `d`, saved.
resume_data saved_record(const root_dir& d, const meta::metainfo& m, std::vector<bool> verified,
                         const sha1_digest& info_hash) {
  resume_data r;
  r.info_hash = info_hash;
  r.verified = std::move(verified);
  r.files = stamp_files(m, d);
  EXPECT_TRUE(save_resume(d, r));
  return r;
}

TEST(Resume, CodecRoundTrips) {
  resume_data r;
  r.info_hash = sha1("x");
  r.verified = {true, false, true, true, false, false, false, false, true, false};
  r.files = {{5, 123, 456, 789}, {-1, 0, 0, 0}};
  auto back = decode_resume(encode_resume(r));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->info_hash, r.info_hash);
  EXPECT_EQ(back->verified, r.verified);
  EXPECT_EQ(back->files, r.files);
  EXPECT_TRUE(back->in_parts.empty());

  r.in_parts = {false, true};
  r.parts = {4096, 77, 78, 79};
  const std::string bytes = encode_resume(r);
  EXPECT_LT(bytes.find("8:in-parts"), bytes.find("9:info-hash"));
  EXPECT_LT(bytes.find("9:info-hash"), bytes.find("5:parts"));
  EXPECT_LT(bytes.find("5:parts"), bytes.find("6:pieces"));
  back = decode_resume(bytes);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->in_parts, r.in_parts);
  EXPECT_EQ(back->parts, r.parts);
}

TEST(Resume, RecordsOfTheFirstFormatAreNotTrusted) {
  // "sta resume 1" kept size and mtime only: not enough to trust.
  EXPECT_FALSE(decode_resume("d11:file-format12:sta resume 15:filesle9:info-hash20:xxxxxxxxxxxxxxxxxxxx"
                             "6:piecesi0e8:verified0:e"));
}

TEST(Resume, NotTrustedWhenThePartsFileChanged) {
  temp_dir dir;
  const auto m = torrent();
  write_file(dir / "root/a", std::string(20'000, 'a'));
  write_file(dir / ".sta" / (m.info_hash.hex() + ".parts"), std::string(100, 'p'));
  const root_dir d = root_at(dir.path());
  resume_data r;
  r.info_hash = m.info_hash;
  r.verified = {true, false, false, false};
  r.files = stamp_files(m, d);
  r.in_parts = {false, true};
  r.parts = stamp_of(d.stat(".sta/" + parts_name(m.info_hash)));
  ASSERT_TRUE(save_resume(d, r));
  EXPECT_TRUE(load_matching_resume(d, m));
  fs::remove(dir / ".sta" / (m.info_hash.hex() + ".parts"));
  EXPECT_FALSE(load_matching_resume(d, m));
}

TEST(Resume, DecodeRejectsDamagedRecords) {
  resume_data r;
  r.info_hash = sha1("x");
  r.verified.assign(9, true);
  const std::string good = encode_resume(r);
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    EXPECT_FALSE(decode_resume(good.substr(0, cut)));
  }
  std::string wrong_count = good;
  wrong_count.replace(wrong_count.find("6:piecesi9e"), 11, "6:piecesi8e");
  EXPECT_FALSE(decode_resume(wrong_count));
  EXPECT_FALSE(decode_resume("d11:file-format5:othere"));
}

TEST(Resume, TrustedOnlyWhileFilesAreUnchanged) {
  temp_dir dir;
  const auto m = torrent();
  write_file(dir / "root/a", std::string(20'000, 'a'));
  write_file(dir / "root/b", std::string(30'000, 'b'));
  const root_dir d = root_at(dir.path());
  const resume_data r = saved_record(d, m, {true, true, false, true}, m.info_hash);
  EXPECT_FALSE(fs::exists(dir / ".sta" / (resume_name(m.info_hash) + ".tmp")));

  auto loaded = load_matching_resume(d, m);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->verified, r.verified);

  // A write after the record (as after kill -9 mid-download) changes the
  // mtime, so the record is no longer trusted.
  fs::last_write_time(dir / "root/b", fs::last_write_time(dir / "root/b") + std::chrono::seconds(1));
  EXPECT_FALSE(load_matching_resume(d, m));
}

// A byte changed in place with the mtime put back (touch -r, or a tool
// that restores times): the ctime moved, so the record is not trusted.
TEST(Resume, NotTrustedAfterAChangeWhoseMtimeWasRestored) {
  temp_dir dir;
  const auto m = torrent();
  write_file(dir / "root/a", std::string(20'000, 'a'));
  write_file(dir / "root/b", std::string(30'000, 'b'));
  const root_dir d = root_at(dir.path());
  const resume_data r = saved_record(d, m, std::vector<bool>(4, true), m.info_hash);
  ASSERT_TRUE(load_matching_resume(d, m));

  struct stat before {};
  ASSERT_EQ(::stat((dir / "root/b").c_str(), &before), 0);
  const int fd = ::open((dir / "root/b").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "X", 1, 100), 1);
  const timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::futimens(fd, times), 0);
  ::close(fd);
  EXPECT_EQ(stamp_files(m, d)[1].mtime_ns, r.files[1].mtime_ns);  // the mtime is as it was
  EXPECT_FALSE(load_matching_resume(d, m));
}

TEST(Resume, NotTrustedWhenAFileWasReplaced) {
  temp_dir dir;
  const auto m = torrent();
  write_file(dir / "root/a", std::string(20'000, 'a'));
  const root_dir d = root_at(dir.path());
  saved_record(d, m, {true, false, false, false}, m.info_hash);
  // Another file of the same size put in its place: another inode.
  write_file(dir / "root/a.new", std::string(20'000, 'z'));
  fs::rename(dir / "root/a.new", dir / "root/a");
  EXPECT_FALSE(load_matching_resume(d, m));
}

TEST(Resume, NotTrustedForAnotherTorrentOrAMissingFile) {
  temp_dir dir;
  const auto m = torrent();
  write_file(dir / "root/a", std::string(20'000, 'a'));
  const root_dir d = root_at(dir.path());
  const resume_data r = saved_record(d, m, std::vector<bool>(4, true), sha1("another torrent"));
  EXPECT_EQ(r.files[1].size, -1);
  EXPECT_FALSE(load_matching_resume(d, m));
}

// sta's own files are reached only through SAVE_DIR without symlinks: a
// planted link in .sta is neither written through nor read through.
TEST(Resume, PlantedSymlinksInTheStateDirAreNotFollowed) {
  temp_dir dir;
  const auto m = torrent();
  fs::create_directories(dir / "save/.sta");
  fs::create_directories(dir / "outside");
  write_file(dir / "outside/victim", "precious");
  const std::string name = resume_name(m.info_hash);
  fs::create_symlink(dir / "outside/victim", dir / "save/.sta" / (name + ".tmp"));
  fs::create_symlink(dir / "outside/victim", dir / "save/.sta" / name);
  const root_dir d = root_at(dir / "save");
  saved_record(d, m, std::vector<bool>(4, false), m.info_hash);  // replaces the links with a file of its own
  EXPECT_EQ(test::read_file(dir / "outside/victim"), "precious");
  EXPECT_FALSE(fs::is_symlink(dir / "save/.sta" / name));
  EXPECT_TRUE(load_matching_resume(d, m));

  fs::remove(dir / "save/.sta" / name);
  fs::create_symlink(dir / "outside/victim", dir / "save/.sta" / name);
  EXPECT_FALSE(load_matching_resume(d, m));
}

}  // namespace
}  // namespace sta::storage
