#include "storage/disk_storage.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/page_buffer.hpp"
#include "base/piece_geometry.hpp"
#include "support/run_on_reactor.hpp"
#include "support/temp_dir.hpp"
#include "support/torrent.hpp"

namespace sta::storage {
namespace {

namespace fs = std::filesystem;
using test::temp_dir;

constexpr std::int64_t kPiece = 256 * 1024;

// Files that start and end off page boundaries; a.bin and b.bin are large
// enough for O_DIRECT, c.bin is not.
meta::metainfo odd_files() {
  return test::multi_file_torrent("root", {{{"a.bin"}, (1 << 20) + 1000}, {{"b.bin"}, (3 << 20) - 123}, {{"c.bin"}, 2000}},
                                  kPiece);
}

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  std::uint32_t x = 12345;
  for (auto& c : s) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

std::string contents(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// How many of this process's descriptors are open on `file`, and how many
// of those with O_DIRECT.
std::pair<int, int> descriptors_on(const fs::path& file) {
  int all = 0;
  int direct = 0;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (fs::read_symlink(e.path(), ec) != file) continue;
    ++all;
    std::ifstream info("/proc/self/fdinfo/" + e.path().filename().string());
    std::string key;
    std::string flags;
    while (info >> key >> flags)
      if (key == "flags:" && (std::stoul(flags, nullptr, 8) & O_DIRECT)) ++direct;
  }
  return {all, direct};
}

opened open_for_download(const meta::metainfo& m, const fs::path& dir, bool direct) {
  open_params p;
  p.meta = &m;
  p.save_dir = dir.string();
  p.direct_writes = direct;
  auto o = open_disk(p);
  if (!o) throw std::runtime_error(o.error().message());
  return std::move(*o);
}

// Writes every piece of `data` from page-aligned buffers (piece 0 from one
// that is not), reads each back through the storage, and checks each file
// of odd_files() in `dir` byte for byte.
void write_and_read_back(storage& store, const std::string& data, const fs::path& dir) {
  const piece_geometry geo(static_cast<std::int64_t>(data.size()), kPiece);
  const std::uint32_t pieces = geo.piece_count();
  test::run_on_reactor([&](io::reactor& r) -> io::task<void> {
    for (std::uint32_t p = 0; p < pieces; ++p) {
      const std::size_t at = std::size_t{p} * kPiece;
      const std::size_t size = std::min<std::size_t>(kPiece, data.size() - at);
      page_buffer buf = make_page_buffer(size + 1);
      std::byte* start = buf.get() + (p == 0 ? 1 : 0);
      std::memcpy(start, data.data() + at, size);
      auto w = co_await store.write(r, *geo.piece(p), std::span<const std::byte>(start, size));
      EXPECT_TRUE(w) << (w ? "" : w.error().message());
    }
    for (std::uint32_t p = 0; p < pieces; ++p) {
      const std::size_t at = std::size_t{p} * kPiece;
      std::string back(std::min<std::size_t>(kPiece, data.size() - at), '\0');
      auto rd = co_await store.read(r, *geo.piece(p), 0, std::as_writable_bytes(std::span(back)));
      EXPECT_TRUE(rd);
      EXPECT_TRUE(back == data.substr(at, back.size())) << "piece " << p;
    }
  });
  const std::size_t a = (1 << 20) + 1000;
  const std::size_t b = (3 << 20) - 123;
  EXPECT_TRUE(contents(dir / "root/a.bin") == data.substr(0, a));
  EXPECT_TRUE(contents(dir / "root/b.bin") == data.substr(a, b));
  EXPECT_TRUE(contents(dir / "root/c.bin") == data.substr(a + b));
}

TEST(DiskStorage, WholePagesGoDirectTheRestThroughThePageCacheAndEveryByteLands) {
  temp_dir dir;
  const auto m = odd_files();
  const std::string data = pattern(static_cast<std::size_t>(m.total_size));
  auto o = open_for_download(m, dir.path(), true);
  EXPECT_EQ(descriptors_on(dir / "root/a.bin"), std::make_pair(2, 1));
  EXPECT_EQ(descriptors_on(dir / "root/b.bin"), std::make_pair(2, 1));
  EXPECT_EQ(descriptors_on(dir / "root/c.bin"), std::make_pair(1, 0));
  write_and_read_back(*o.store, data, dir.path());
}

TEST(DiskStorage, BufferedWritesOpenNoDirectDescriptor) {
  temp_dir dir;
  const auto m = odd_files();
  const std::string data = pattern(static_cast<std::size_t>(m.total_size));
  auto o = open_for_download(m, dir.path(), false);
  EXPECT_EQ(descriptors_on(dir / "root/a.bin"), std::make_pair(1, 0));
  write_and_read_back(*o.store, data, dir.path());
}

}  // namespace
}  // namespace sta::storage
