#include "storage/file_set.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <filesystem>

#include "support/root_dir.hpp"
#include "support/temp_dir.hpp"
#include "support/torrent.hpp"

namespace sta::storage {
namespace {

namespace fs = std::filesystem;
using test::temp_dir;
using test::write_file;

meta::metainfo multi_file_torrent() { return test::multi_file_torrent("root", {{{"a", "b", "c.bin"}, 40'000}, {{"empty"}, 0}, {{"d.bin"}, 10'000}}); }

std::int64_t size_of(const fs::path& p) { return static_cast<std::int64_t>(fs::file_size(p)); }

using test::root_at;

TEST(FileSet, CreateMakesDirectoriesAndPreallocates) {
  temp_dir dir;
  auto set = file_set::open(multi_file_torrent(), root_at(dir.path()), open_mode::create);
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(size_of(dir / "root/a/b/c.bin"), 40'000);
  EXPECT_EQ(size_of(dir / "root/empty"), 0);
  EXPECT_EQ(size_of(dir / "root/d.bin"), 10'000);
  EXPECT_GE(set->fd(0), 0);
  EXPECT_EQ(set->fd(1), -1);
  EXPECT_GE(set->fd(2), 0);
}

TEST(FileSet, UnselectedFilesAreNotCreatedAndLiveInThePartsFile) {
  temp_dir dir;
  const auto m = multi_file_torrent();
  auto set = file_set::open(m, root_at(dir.path()), open_mode::create, {true, true, false});
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_TRUE(fs::exists(dir / "root/a/b/c.bin"));
  EXPECT_FALSE(fs::exists(dir / "root/d.bin"));
  const fs::path parts = dir / ".sta" / (m.info_hash.hex() + ".parts");
  EXPECT_TRUE(fs::exists(parts));
  EXPECT_FALSE(set->in_parts(0));
  EXPECT_TRUE(set->in_parts(2));
  // d.bin's byte 5 is at its offset in the torrent (after c.bin and empty).
  const location d = set->locate({2, 5, 100});
  EXPECT_EQ(d.fd, set->parts_fd());
  EXPECT_EQ(d.offset, 40'005);
  const location c = set->locate({0, 7, 100});
  EXPECT_EQ(c.fd, set->fd(0));
  EXPECT_EQ(c.offset, 7);

  // Selecting everything again: the parts file is no longer needed.
  set = file_set::open(m, root_at(dir.path()), open_mode::create);
  ASSERT_TRUE(set);
  EXPECT_EQ(set->parts_fd(), -1);
  EXPECT_FALSE(fs::exists(parts));
  EXPECT_TRUE(fs::exists(dir / "root/d.bin"));
}

TEST(FileSet, CreateResizesAnExistingFile) {
  temp_dir dir;
  write_file(dir / "root/d.bin", std::string(20'000, 'z'));
  ASSERT_TRUE(file_set::open(multi_file_torrent(), root_at(dir.path()), open_mode::create));
  EXPECT_EQ(size_of(dir / "root/d.bin"), 10'000);
}

TEST(FileSet, RefusesASymlinkThatLeavesSaveDir) {
  temp_dir dir;
  fs::create_directories(dir / "save");
  fs::create_directories(dir / "outside");
  fs::create_directory_symlink(dir / "outside", dir / "save/root");
  auto set = file_set::open(multi_file_torrent(), root_at(dir / "save"), open_mode::create);
  ASSERT_FALSE(set);
  EXPECT_TRUE(fs::is_empty(dir / "outside"));
}

TEST(FileSet, ExistingModeNeedsEveryFileAtItsSize) {
  temp_dir dir;
  const auto m = multi_file_torrent();
  auto missing = file_set::open(m, root_at(dir.path()), open_mode::existing);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, make_error_code(errc::file_missing));
  ASSERT_TRUE(file_set::open(m, root_at(dir.path()), open_mode::create));
  fs::remove(dir / "root/empty");  // zero-length files are not needed to seed
  EXPECT_TRUE(file_set::open(m, root_at(dir.path()), open_mode::existing));
  fs::resize_file(dir / "root/d.bin", 9'999);
  auto wrong = file_set::open(m, root_at(dir.path()), open_mode::existing);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, make_error_code(errc::file_wrong_size));
  EXPECT_NE(wrong.error().message().find("root/d.bin"), std::string::npos);
}

TEST(FileSet, ReportsWhenAFileCannotBeAllocated) {
  temp_dir dir;
  // A file-size limit stands in for a full disk: both fail preallocation.
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 20'000;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  auto set = file_set::open(multi_file_torrent(), root_at(dir.path()), open_mode::create);
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(set);
  EXPECT_NE(set.error().message().find("c.bin"), std::string::npos) << set.error().message();
}

TEST(RootDir, MissingSaveDirIsReportedAsSuch) {
  temp_dir dir;
  auto r = root_dir::open((dir / "nope").string(), false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::file_missing);
}

TEST(RootDir, StateDirThatIsASymlinkIsRefused) {
  temp_dir dir;
  fs::create_directories(dir / "save");
  fs::create_directories(dir / "outside");
  fs::create_directory_symlink(dir / "outside", dir / "save/.sta");
  const root_dir r = root_at(dir / "save");
  EXPECT_FALSE(r.state_dir(true));
  fs::remove(dir / "save/.sta");
  fs::create_directory_symlink("elsewhere", dir / "save/.sta");  // inside, but still a symlink
  fs::create_directories(dir / "save/elsewhere");
  EXPECT_FALSE(r.state_dir(true));
}

TEST(FileSet, PartsFileIsNeverReachedThroughASymlink) {
  temp_dir dir;
  const auto m = multi_file_torrent();
  fs::create_directories(dir / ".sta");
  fs::create_directories(dir / "outside");
  write_file(dir / "outside/target", "keep");
  fs::create_symlink(dir / "outside/target", dir / ".sta" / (m.info_hash.hex() + ".parts"));
  auto set = file_set::open(m, root_at(dir.path()), open_mode::create, {true, true, false});
  ASSERT_FALSE(set);
  EXPECT_EQ(test::read_file(dir / "outside/target"), "keep");
}

}  // namespace
}  // namespace sta::storage
