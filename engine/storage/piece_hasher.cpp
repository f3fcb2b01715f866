#include "storage/piece_hasher.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace sta::storage {
namespace {

constexpr std::int64_t kChunkBytes = 8 << 20;

class fd_set_guard {
 public:
  explicit fd_set_guard(std::size_t n) : fds_(n, -1) {}
  ~fd_set_guard() {
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  fd_set_guard(const fd_set_guard&) = delete;
  fd_set_guard& operator=(const fd_set_guard&) = delete;
  int& operator[](std::size_t i) { return fds_[i]; }
  int operator[](std::size_t i) const { return fds_[i]; }

 private:
  std::vector<int> fds_;
};

// Reads exactly len bytes at off; false with errno-derived error on failure
// or a short file.
bool read_exact(int fd, std::byte* dst, std::int64_t len, std::int64_t off, error_code& ec) {
  while (len > 0) {
    const ssize_t n = ::pread(fd, dst, static_cast<std::size_t>(len), off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ec = error_code(errno, boost::system::system_category());
      return false;
    }
    if (n == 0) {
      ec = make_error_code(boost::system::errc::io_error);
      return false;
    }
    dst += n;
    len -= n;
    off += n;
  }
  return true;
}

struct shared_state {
  const meta::file_map& map;
  const std::vector<std::string>& paths;
  const fd_set_guard& fds;
  std::int64_t pieces_per_chunk;
  std::int64_t chunk_count;
  std::atomic<std::int64_t> next_chunk{0};
  std::atomic<std::int64_t> done_bytes{0};
  hash_report& report;
  std::mutex error_mutex;  // guards report.first_error*, taken only on a failed read
};

void hash_worker(shared_state& s) {
  const auto buffer_size = static_cast<std::size_t>(s.pieces_per_chunk * s.map.piece_length());
  auto buffer = std::make_unique<std::byte[]>(buffer_size);
  sha1_hasher hasher;
  std::vector<char> bad(static_cast<std::size_t>(s.pieces_per_chunk));

  for (;;) {
    const std::int64_t chunk = s.next_chunk.fetch_add(1, std::memory_order_relaxed);
    if (chunk >= s.chunk_count) return;
    const std::int64_t first = chunk * s.pieces_per_chunk;
    const std::int64_t last = std::min(first + s.pieces_per_chunk, s.map.piece_count());
    const std::int64_t bytes =
        (last - 1 - first) * s.map.piece_length() + s.map.piece_size(last - 1);
    std::fill(bad.begin(), bad.end(), 0);

    // Read the chunk file slice by file slice; remember which pieces a
    // missing file or failed read spoiled.
    std::int64_t pos = 0;
    s.map.for_each_slice(first, 0, bytes, [&](const meta::file_slice& slice) {
      const std::int64_t at = pos;
      pos += slice.length;
      const int fd = s.fds[slice.file];
      error_code ec;
      if (fd >= 0 && read_exact(fd, buffer.get() + at, slice.length, slice.offset, ec)) return;
      if (ec) {
        std::lock_guard lock(s.error_mutex);
        if (!s.report.first_error) {
          s.report.first_error = ec;
          s.report.first_error_path = s.paths[slice.file];
        }
      }
      for (std::int64_t p = at / s.map.piece_length(); p <= (at + slice.length - 1) / s.map.piece_length(); ++p) {
        bad[static_cast<std::size_t>(p)] = 1;
      }
    });

    for (std::int64_t p = first; p < last; ++p) {
      if (bad[static_cast<std::size_t>(p - first)]) continue;
      const std::int64_t off = (p - first) * s.map.piece_length();
      hasher.update(std::span<const std::byte>(buffer.get() + off, static_cast<std::size_t>(s.map.piece_size(p))));
      s.report.digests[static_cast<std::size_t>(p)] = hasher.finish();
    }
    s.done_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
}

}  // namespace

hash_report hash_pieces(const meta::file_map& map, const std::vector<std::string>& paths,
                        const hash_options& opts) {
  hash_report report;
  report.digests.resize(static_cast<std::size_t>(map.piece_count()));
  if (map.piece_count() == 0) return report;

  fd_set_guard fds(map.file_count());
  for (std::size_t i = 0; i < map.file_count(); ++i) {
    if (paths[i].empty() || map.file_size(i) == 0) continue;
    fds[i] = ::open(paths[i].c_str(), O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) {
      if (!report.first_error) {
        report.first_error = error_code(errno, boost::system::system_category());
        report.first_error_path = paths[i];
      }
      continue;
    }
    ::posix_fadvise(fds[i], 0, 0, POSIX_FADV_SEQUENTIAL);
  }

  shared_state s{map, paths, fds,
                 std::max<std::int64_t>(1, kChunkBytes / map.piece_length()), 0, {}, {}, report, {}};
  s.chunk_count = (map.piece_count() + s.pieces_per_chunk - 1) / s.pieces_per_chunk;

  unsigned threads = opts.threads ? opts.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::int64_t>(threads, s.chunk_count));

  std::mutex done_mutex;
  std::condition_variable done_cv;
  unsigned running = threads;
  {
    std::vector<std::jthread> workers;
    workers.reserve(threads);
    for (unsigned i = 0; i < threads; ++i) {
      workers.emplace_back([&] {
        hash_worker(s);
        std::lock_guard lock(done_mutex);
        if (--running == 0) done_cv.notify_all();
      });
    }
    if (opts.on_progress) {
      std::unique_lock lock(done_mutex);
      while (!done_cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return running == 0; })) {
        lock.unlock();
        opts.on_progress(s.done_bytes.load(std::memory_order_relaxed), map.total_size());
        lock.lock();
      }
    }
  }
  if (opts.on_progress) opts.on_progress(map.total_size(), map.total_size());
  return report;
}

}  // namespace sta::storage
