// How a seeder's blocks should reach the socket: the CPU time of sending a
// page-cached file over one loopback TCP connection as BitTorrent 'piece'
// messages (a 13-byte header before every 16 KiB block), 16 blocks a batch,
// by three paths, alternating in rounds:
//   sendmsg: pread the batch, then one sendmsg of [header, block] iovecs
//            (what sta does: the blocks come from its block cache);
//   splice:  per block, the header written into a pipe and the block spliced
//            from the file into it; then the batch spliced pipe -> socket;
//   splice without headers: the file alone, pipe -> socket, which the
//            protocol does not allow; the bound splice could reach.
// The sender's and the receiver's thread CPU are reported per GiB (on
// loopback the sender's also covers delivery into the receiver's socket).
//
// Usage: sta_send_paths_bench [SIZE_MIB (default 1024)] [ROUNDS (default 3)]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kBlock = 16384;
constexpr std::size_t kBatch = 16;
constexpr std::size_t kHeader = 13;

double thread_cpu() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

enum class path { sendmsg, splice, splice_no_headers };
const char* name(path p) {
  switch (p) {
    case path::sendmsg: return "pread + sendmsg";
    case path::splice: return "splice";
    case path::splice_no_headers: return "splice, no headers";
  }
  return "";
}

struct cost {
  double sender = 0;
  double receiver = 0;
};

// The headers' bytes do not matter to the cost; they are zeros.
void send_with_sendmsg(int file, off_t size, int sock) {
  std::vector<char> buf(kBlock * kBatch);
  std::array<std::array<char, kHeader>, kBatch> headers{};
  for (off_t at = 0; at < size; at += static_cast<off_t>(buf.size())) {
    const ssize_t got = pread(file, buf.data(), buf.size(), at);
    check(got == static_cast<ssize_t>(buf.size()), "pread");
    std::array<iovec, 2 * kBatch> iov{};
    for (std::size_t i = 0; i < kBatch; ++i) {
      iov[2 * i] = {headers[i].data(), kHeader};
      iov[2 * i + 1] = {buf.data() + i * kBlock, kBlock};
    }
    msghdr m{};
    m.msg_iov = iov.data();
    m.msg_iovlen = iov.size();
    while (m.msg_iovlen > 0) {
      ssize_t n = sendmsg(sock, &m, 0);
      check(n > 0, "sendmsg");
      while (n > 0) {
        if (static_cast<std::size_t>(n) >= m.msg_iov->iov_len) {
          n -= static_cast<ssize_t>(m.msg_iov->iov_len);
          ++m.msg_iov;
          --m.msg_iovlen;
        } else {
          m.msg_iov->iov_base = static_cast<char*>(m.msg_iov->iov_base) + n;
          m.msg_iov->iov_len -= static_cast<std::size_t>(n);
          n = 0;
        }
      }
    }
  }
}

void send_with_splice(int file, off_t size, int sock, bool headers) {
  int pipe_fds[2];
  check(pipe(pipe_fds) == 0, "pipe");
  check(fcntl(pipe_fds[1], F_SETPIPE_SZ, 1 << 20) > 0, "F_SETPIPE_SZ");
  const std::array<char, kHeader> header{};
  for (off_t at = 0; at < size; at += static_cast<off_t>(kBlock * kBatch)) {
    std::size_t in_pipe = 0;
    for (std::size_t i = 0; i < kBatch; ++i) {
      if (headers) {
        check(write(pipe_fds[1], header.data(), kHeader) == static_cast<ssize_t>(kHeader), "write to pipe");
        in_pipe += kHeader;
      }
      loff_t from = at + static_cast<off_t>(i * kBlock);
      for (std::size_t left = kBlock; left > 0;) {
        const ssize_t n = splice(file, &from, pipe_fds[1], nullptr, left, SPLICE_F_MOVE);
        check(n > 0, "splice file -> pipe");
        left -= static_cast<std::size_t>(n);
      }
      in_pipe += kBlock;
    }
    while (in_pipe > 0) {
      const ssize_t n = splice(pipe_fds[0], nullptr, sock, nullptr, in_pipe, SPLICE_F_MOVE | SPLICE_F_MORE);
      check(n > 0, "splice pipe -> socket");
      in_pipe -= static_cast<std::size_t>(n);
    }
  }
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

cost run(path p, int file, off_t size) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  check(listener >= 0, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  check(bind(listener, reinterpret_cast<sockaddr*>(&addr), len) == 0, "bind");
  check(listen(listener, 1) == 0, "listen");
  check(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0, "getsockname");
  cost c;
  std::thread receiver([&] {
    const int conn = accept(listener, nullptr, nullptr);
    if (conn < 0) return;
    std::vector<char> buf(256 << 10);
    const double start = thread_cpu();
    while (recv(conn, buf.data(), buf.size(), 0) > 0) {
    }
    c.receiver = thread_cpu() - start;
    close(conn);
  });
  const int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  check(sock >= 0 && connect(sock, reinterpret_cast<sockaddr*>(&addr), len) == 0, "connect");
  const double start = thread_cpu();
  if (p == path::sendmsg) send_with_sendmsg(file, size, sock);
  else send_with_splice(file, size, sock, p == path::splice);
  c.sender = thread_cpu() - start;
  shutdown(sock, SHUT_WR);
  receiver.join();
  close(sock);
  close(listener);
  return c;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  const long mib = argc > 1 ? std::atol(argv[1]) : 1024;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  if (mib < 1 || rounds < 1) {
    std::fprintf(stderr, "usage: %s [SIZE_MIB (default 1024)] [ROUNDS (default 3)]\n", argv[0]);
    return 2;
  }
  const off_t size = static_cast<off_t>(mib) << 20;
  const char* tmp = std::getenv("TMPDIR");
  std::string file_name = std::string(tmp && *tmp ? tmp : "/tmp") + "/sta-send-paths-XXXXXX";
  const int file = mkstemp(file_name.data());
  if (file < 0) {
    std::perror("mkstemp");
    return 1;
  }
  unlink(file_name.c_str());
  try {
    std::vector<char> chunk(4 << 20);
    std::mt19937_64 rng(7);
    for (off_t at = 0; at < size; at += static_cast<off_t>(chunk.size())) {
      for (std::size_t i = 0; i + 8 <= chunk.size(); i += 8) {
        const auto v = rng();
        std::memcpy(chunk.data() + i, &v, 8);
      }
      const auto n = static_cast<std::size_t>(std::min<off_t>(size - at, static_cast<off_t>(chunk.size())));
      check(pwrite(file, chunk.data(), n, at) == static_cast<ssize_t>(n), "pwrite");
    }
    const path paths[] = {path::sendmsg, path::splice, path::splice_no_headers};
    std::vector<double> sender[3], receiver[3];
    for (int r = 0; r < rounds; ++r)
      for (int i = 0; i < 3; ++i) {
        const cost c = run(paths[i], file, size);
        sender[i].push_back(c.sender / (static_cast<double>(size) / (1 << 30)));
        receiver[i].push_back(c.receiver / (static_cast<double>(size) / (1 << 30)));
      }
    std::printf("%ld MiB of 16 KiB blocks over loopback, medians of %d alternating rounds (CPU-s/GiB)\n", mib, rounds);
    const double base = median(sender[0]);
    for (int i = 0; i < 3; ++i)
      std::printf("  %-20s sender %.3f (%.2fx sendmsg)  receiver %.3f\n", name(paths[i]), median(sender[i]),
                  median(sender[i]) / base, median(receiver[i]));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sta_send_paths_bench: %s\n", e.what());
    close(file);
    return 1;
  }
  close(file);
  return 0;
}
