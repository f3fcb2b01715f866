// Piece buffers from the process's page_arena are written as fixed-buffer
// writes on every reactor, with the arena registered (pinned, counted
// against RLIMIT_MEMLOCK) once; where the limit leaves no room, writes are
// plain and still land. The tests that change the process's capabilities
// and limits run in a child process of their own (a death test), so that
// the arena and its registration are made afresh there.
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "base/page_buffer.hpp"
#include "base/unique_fd.hpp"
#include "reactor/ops.hpp"
#include "support/capabilities.hpp"
#include "support/run_on_reactor.hpp"

namespace sta::io {
namespace {

constexpr std::size_t kPiece = 1 << 20;

struct written {
  bool ok = false;
  std::uint64_t fixed_ops = 0;
  std::size_t arena_bytes = 0;  // registered with the ring
};

// On a reactor of its own: writes `piece` (filled with `fill`) to `fd` at
// piece * kPiece, from a buffer for writing (the arena's when it has one),
// then waits for `both` before its ring goes. (Were one ring to go while
// the other is made, the new one could be mapped where the old one was,
// with nothing ordering the two threads: TSan would see a race in the
// memory the kernel shares.)
written write_piece(int fd, std::size_t piece, std::byte fill, std::latch& both) {
  written out;
  page_buffer buf = page_pool::for_this_thread().take_for_write(kPiece);
  std::memset(buf.get(), static_cast<int>(fill), kPiece);
  test::run_on_reactor([&](reactor& r) -> task<void> {
    auto n = co_await write(r, fd, std::span<const std::byte>(buf.get(), kPiece), piece * kPiece);
    out.ok = n && *n == kPiece;
    out.fixed_ops = r.fixed_ops();
    out.arena_bytes = r.arena_bytes();
    both.arrive_and_wait();
  });
  page_pool::for_this_thread().give(std::move(buf), kPiece);
  return out;
}

// Two reactors, each on its own thread at the same time, each writes one piece.
std::vector<written> write_from_two_reactors(int fd) {
  std::vector<written> out(2);
  std::latch both(2);
  std::thread a([&] { out[0] = write_piece(fd, 0, std::byte{0x5a}, both); });
  std::thread b([&] { out[1] = write_piece(fd, 1, std::byte{0xa5}, both); });
  a.join();
  b.join();
  return out;
}

bool file_holds_both_pieces(int fd) {
  std::vector<std::byte> back(2 * kPiece);
  if (::pread(fd, back.data(), back.size(), 0) != static_cast<ssize_t>(back.size())) return false;
  for (std::size_t i = 0; i < back.size(); ++i)
    if (back[i] != (i < kPiece ? std::byte{0x5a} : std::byte{0xa5})) return false;
  return true;
}

// Gives up CAP_IPC_LOCK, which exempts a process from RLIMIT_MEMLOCK's
// count of registered memory, and sets that limit to `bytes`.
void limit_registered_memory(rlim_t bytes) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) std::abort();
  data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
  if (::syscall(SYS_capset, &header, data) != 0) std::abort();
  const rlimit limit{bytes, bytes};
  if (::setrlimit(RLIMIT_MEMLOCK, &limit) != 0) std::abort();
}

// Whether the kernel clones registered buffers between rings (Linux 6.12).
bool kernel_clones_buffers() {
  utsname u{};
  int major = 0, minor = 0;
  return ::uname(&u) == 0 && std::sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
         (major > 6 || (major == 6 && minor >= 12));
}

// In the child: what failed goes to stderr (shown by the death test), and
// the exit code says whether all was as expected.
[[noreturn]] void exit_with(bool as_expected, const std::vector<written>& w, bool file_ok) {
  for (std::size_t i = 0; i < w.size(); ++i)
    std::fprintf(stderr, "reactor %zu: ok %d, fixed ops %llu, arena bytes registered %zu\n", i, w[i].ok,
                 static_cast<unsigned long long>(w[i].fixed_ops), w[i].arena_bytes);
  std::fprintf(stderr, "file holds both pieces: %d\n", file_ok);
  std::fflush(stderr);
  std::_Exit(as_expected ? 0 : 1);
}

// Children, each in a process of its own.

// Both rings hold more of the arena than the limit would allow twice.
void arena_counted_once(int fd) {
  limit_registered_memory(page_arena::kMaxBytes);
  const auto w = write_from_two_reactors(fd);
  const bool file_ok = file_holds_both_pieces(fd);
  exit_with(w[0].ok && w[1].ok && w[0].fixed_ops == 1 && w[1].fixed_ops == 1 &&
                w[0].arena_bytes == w[1].arena_bytes && w[0].arena_bytes + w[1].arena_bytes > page_arena::kMaxBytes &&
                file_ok,
            w, file_ok);
}

// Another ring takes all but less than the smallest registration first.
void no_room_to_register(int fd) {
  limit_registered_memory(page_arena::kMaxBytes);
  auto other = test::make_reactor();
  std::vector<std::byte> taken(page_arena::kMaxBytes - page_arena::kMinBytes + kPageSize);
  const iovec iov{taken.data(), taken.size()};
  if (!other->register_buffers(std::span(&iov, 1))) std::_Exit(2);
  const auto w = write_from_two_reactors(fd);
  other.reset();  // its registration goes now, not after this process
  const bool file_ok = file_holds_both_pieces(fd);
  exit_with(w[0].ok && w[1].ok && w[0].fixed_ops == 0 && w[1].fixed_ops == 0 && file_ok, w, file_ok);
}

// Room for rings, not for the smallest arena.
void limit_below_a_piece(int fd) {
  limit_registered_memory(page_arena::kMinBytes - kPageSize);
  if (page_arena::process() != nullptr) std::_Exit(2);
  const auto w = write_from_two_reactors(fd);
  const bool file_ok = file_holds_both_pieces(fd);
  exit_with(w[0].ok && w[1].ok && w[0].fixed_ops == 0 && w[1].fixed_ops == 0 && file_ok, w, file_ok);
}

class FixedBuffers : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::may_lock_memory()) GTEST_SKIP() << "needs CAP_IPC_LOCK (root), which the children give up on purpose";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    // A file with no name, gone when closed: a child (which runs SetUp
    // again for itself) ends with _Exit and leaves nothing behind.
    const auto tmp = std::filesystem::temp_directory_path().string();
    file_.reset(::open(tmp.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    ASSERT_TRUE(file_);
  }
  unique_fd file_;
};

TEST_F(FixedBuffers, APieceBufferIsWrittenWithAFixedWriteOnEveryReactor) {
  ASSERT_NE(page_arena::process(), nullptr);
  const auto w = write_from_two_reactors(file_.get());
  for (const written& one : w) {
    EXPECT_TRUE(one.ok);
    EXPECT_EQ(one.fixed_ops, 1u);
  }
  EXPECT_TRUE(file_holds_both_pieces(file_.get()));
  // A heap buffer is written as it is.
  std::vector<std::byte> heap(kPiece, std::byte{1});
  test::run_on_reactor([&](reactor& r) -> task<void> {
    auto n = co_await write(r, file_.get(), std::span<const std::byte>(heap), 0);
    EXPECT_TRUE(n && *n == kPiece);
    EXPECT_EQ(r.fixed_ops(), 0u);
  });
}

TEST_F(FixedBuffers, TheArenaCountsAgainstTheMemlockLimitOnceForAllRings) {
  if (!kernel_clones_buffers()) GTEST_SKIP() << "this kernel registers the arena once per ring";
  EXPECT_EXIT(arena_counted_once(file_.get()), ::testing::ExitedWithCode(0), "");
}

TEST_F(FixedBuffers, WithNoRoomLeftToRegisterTheArenaWritesArePlainAndLand) {
  EXPECT_EXIT(no_room_to_register(file_.get()), ::testing::ExitedWithCode(0), "");
}

TEST_F(FixedBuffers, AMemlockLimitBelowAPieceMeansNoArenaAndPlainWrites) {
  EXPECT_EXIT(limit_below_a_piece(file_.get()), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace sta::io
