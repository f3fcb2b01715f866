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

#include "base/sys_error.hpp"
#include "base/unique_fd.hpp"

namespace sta::storage {
namespace {

constexpr std::int64_t kChunkBytes = 8 << 20;
constexpr std::int64_t kReadBytes = 512 << 10;

// Reads exactly len bytes at off; false with errno-derived error on failure
// or a short file.
bool read_exact(int fd, std::byte* dst, std::int64_t len, std::int64_t off, error_code& ec) {
  while (len > 0) {
    const ssize_t n = ::pread(fd, dst, static_cast<std::size_t>(len), off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ec = last_sys_error();
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
  const std::vector<bool>& zero_files;
  const std::vector<unique_fd>& fds;
  std::int64_t pieces_per_chunk;
  std::int64_t chunk_count;
  std::atomic<std::int64_t> next_chunk{0};
  std::atomic<std::int64_t> done_bytes{0};
  hash_report& report;
  std::mutex error_mutex;  // guards report.first_error*, taken only on a failed read
  const std::atomic<bool>* cancel = nullptr;
};

void note_error(shared_state& s, const error_code& ec, std::size_t file) {
  std::lock_guard lock(s.error_mutex);
  if (!s.report.first_error) {
    s.report.first_error = ec;
    s.report.first_error_path = s.paths[file];
  }
}

// Threads claim chunks of consecutive pieces so each file is read mostly in
// order, but read and hash in kReadBytes steps: the bytes are still in cache
// when SHA-1 runs. (mmap and O_DIRECT were measured and lost: page-table
// walks under virtualisation and unsteady device throughput.)
void hash_worker(shared_state& s) {
  auto buffer = std::make_unique<std::byte[]>(kReadBytes);
  const auto zeros = std::make_unique<std::byte[]>(kReadBytes);
  sha1_hasher hasher;

  for (;;) {
    if (s.cancel != nullptr && s.cancel->load(std::memory_order_relaxed)) return;
    const std::int64_t chunk = s.next_chunk.fetch_add(1, std::memory_order_relaxed);
    if (chunk >= s.chunk_count) return;
    const std::int64_t first = chunk * s.pieces_per_chunk;
    const std::int64_t last = std::min(first + s.pieces_per_chunk, s.map.piece_count());
    for (std::int64_t p = first; p < last; ++p) {
      bool ok = true;
      s.map.for_each_slice(p, 0, s.map.piece_size(p), [&](const meta::file_slice& slice) {
        if (!ok) return;
        if (slice.file < s.zero_files.size() && s.zero_files[slice.file]) {
          for (std::int64_t done = 0; done < slice.length; done += kReadBytes) {
            const auto n = std::min<std::int64_t>(kReadBytes, slice.length - done);
            hasher.update(std::span<const std::byte>(zeros.get(), static_cast<std::size_t>(n)));
          }
          return;
        }
        const int fd = s.fds[slice.file].get();
        if (fd < 0) {
          ok = false;
          return;
        }
        for (std::int64_t done = 0; done < slice.length;) {
          const std::int64_t n = std::min<std::int64_t>(kReadBytes, slice.length - done);
          error_code ec;
          if (!read_exact(fd, buffer.get(), n, slice.offset + done, ec)) {
            note_error(s, ec, slice.file);
            ok = false;
            return;
          }
          hasher.update(std::span<const std::byte>(buffer.get(), static_cast<std::size_t>(n)));
          done += n;
        }
      });
      const sha1_digest digest = hasher.finish();
      if (ok) s.report.digests[static_cast<std::size_t>(p)] = digest;
      s.done_bytes.fetch_add(s.map.piece_size(p), std::memory_order_relaxed);
    }
  }
}

}  // namespace

hash_report hash_pieces(const meta::file_map& map, const std::vector<std::string>& paths,
                        const hash_options& opts) {
  hash_report report;
  report.digests.resize(static_cast<std::size_t>(map.piece_count()));
  if (map.piece_count() == 0) return report;

  std::vector<unique_fd> fds(map.file_count());
  for (std::size_t i = 0; i < map.file_count(); ++i) {
    if (paths[i].empty() || map.file_size(i) == 0) continue;
    if (i < opts.zero_files.size() && opts.zero_files[i]) continue;
    fds[i].reset(::open(paths[i].c_str(), O_RDONLY | O_CLOEXEC));
    if (!fds[i]) {
      if (!report.first_error) {
        report.first_error = last_sys_error();
        report.first_error_path = paths[i];
      }
      continue;
    }
    ::posix_fadvise(fds[i].get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  }

  shared_state s{map, paths, opts.zero_files, fds,
                 std::max<std::int64_t>(1, kChunkBytes / map.piece_length()), 0, {}, {}, report, {}};
  s.chunk_count = (map.piece_count() + s.pieces_per_chunk - 1) / s.pieces_per_chunk;
  s.cancel = opts.cancel;

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
