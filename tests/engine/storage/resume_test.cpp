#include "storage/resume.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/temp_dir.hpp"
#include "support/torrent.hpp"

namespace sta::storage {
namespace {

namespace fs = std::filesystem;
using test::temp_dir;
using test::write_file;

meta::metainfo torrent() { return test::multi_file_torrent("root", {{{"a"}, 20'000}, {{"b"}, 30'000}}); }

TEST(Resume, CodecRoundTrips) {
  resume_data r;
  r.info_hash = sha1("x");
  r.verified = {true, false, true, true, false, false, false, false, true, false};
  r.files = {{5, 123}, {-1, 0}};
  auto back = decode_resume(encode_resume(r));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->info_hash, r.info_hash);
  EXPECT_EQ(back->verified, r.verified);
  EXPECT_EQ(back->files, r.files);
  EXPECT_TRUE(back->in_parts.empty());

  r.in_parts = {false, true};
  r.parts = {4096, 77};
  const std::string bytes = encode_resume(r);
  EXPECT_LT(bytes.find("8:in-parts"), bytes.find("9:info-hash"));
  EXPECT_LT(bytes.find("9:info-hash"), bytes.find("5:parts"));
  EXPECT_LT(bytes.find("5:parts"), bytes.find("6:pieces"));
  back = decode_resume(bytes);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->in_parts, r.in_parts);
  EXPECT_EQ(back->parts, r.parts);
}

TEST(Resume, NotTrustedWhenThePartsFileChanged) {
  temp_dir dir;
  const auto m = torrent();
  write_file(dir / "root/a", std::string(20'000, 'a'));
  write_file(dir / ".sta" / (m.info_hash.hex() + ".parts"), std::string(100, 'p'));
  resume_data r;
  r.info_hash = m.info_hash;
  r.verified = {true, false, false, false};
  r.files = stamp_files(m, dir.path().string());
  r.in_parts = {false, true};
  r.parts = stamp_file(parts_path(dir.path().string(), m.info_hash));
  const std::string path = resume_path(dir.path().string(), m.info_hash);
  ASSERT_TRUE(save_resume(path, r));
  EXPECT_TRUE(load_matching_resume(path, m, dir.path().string()));
  fs::remove(parts_path(dir.path().string(), m.info_hash));
  EXPECT_FALSE(load_matching_resume(path, m, dir.path().string()));
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
  resume_data r;
  r.info_hash = m.info_hash;
  r.verified = {true, true, false, true};
  r.files = stamp_files(m, dir.path().string());
  const std::string path = resume_path(dir.path().string(), m.info_hash);
  ASSERT_TRUE(save_resume(path, r));
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  auto loaded = load_matching_resume(path, m, dir.path().string());
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->verified, r.verified);

  // A write after the record (as after kill -9 mid-download) changes the
  // mtime, so the record is no longer trusted.
  fs::last_write_time(dir / "root/b", fs::last_write_time(dir / "root/b") + std::chrono::seconds(1));
  EXPECT_FALSE(load_matching_resume(path, m, dir.path().string()));
}

TEST(Resume, NotTrustedForAnotherTorrentOrAMissingFile) {
  temp_dir dir;
  const auto m = torrent();
  write_file(dir / "root/a", std::string(20'000, 'a'));
  resume_data r;
  r.info_hash = sha1("another torrent");
  r.verified.assign(4, true);
  r.files = stamp_files(m, dir.path().string());
  EXPECT_EQ(r.files[1].size, -1);
  const std::string path = resume_path(dir.path().string(), m.info_hash);
  ASSERT_TRUE(save_resume(path, r));
  EXPECT_FALSE(load_matching_resume(path, m, dir.path().string()));
  EXPECT_FALSE(load_matching_resume(path + ".absent", m, dir.path().string()));
}

}  // namespace
}  // namespace sta::storage
