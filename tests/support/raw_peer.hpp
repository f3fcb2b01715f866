// A peer written by hand for hostile-peer tests: a blocking TCP socket
// bound to its own 127.0.0.x, with a receive timeout so no test can hang,
// and just enough of the wire protocol to say what it wants to say.
#pragma once

#include <poll.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/endpoint.hpp"
#include "base/unique_fd.hpp"
#include "wire/codec.hpp"

namespace sta::test {

class raw_peer {
 public:
  raw_peer(const std::string& local_ip, const endpoint& to, std::chrono::milliseconds timeout = std::chrono::seconds(10),
           int receive_buffer = 0) {
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (receive_buffer > 0) ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    const auto local = *parse_endpoint(local_ip + ":0");
    ::bind(fd_.get(), local.addr(), local.length);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const int one = 1;
    ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    connected_ = ::connect(fd_.get(), to.addr(), to.length) == 0;
  }

  // A connection a test's listening socket accepted (the node connected
  // to it); not connected() when none came within the timeout.
  raw_peer(int listen_fd, std::chrono::milliseconds timeout) {
    pollfd p{listen_fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return;
    fd_.reset(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    connected_ = static_cast<bool>(fd_);
  }

  bool connected() const { return connected_; }

  bool send(std::span<const std::byte> bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return true;
  }

  static wire::handshake handshake_for(const sha1_digest& info_hash, const std::string& id, bool fast = true) {
    wire::handshake h;
    h.info_hash = info_hash;
    std::memcpy(h.id.data(), id.data(), std::min<std::size_t>(id.size(), 20));
    if (fast) h.set_fast();
    return h;
  }
  bool send_handshake(const wire::handshake& h) { return send(wire::encode_handshake(h)); }

  // Exactly n bytes, or nothing on end of stream, error or timeout.
  std::optional<std::vector<std::byte>> read(std::size_t n) {
    std::vector<std::byte> out(n);
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = ::recv(fd_.get(), out.data() + got, n - got, 0);
      if (r <= 0) return std::nullopt;
      got += static_cast<std::size_t>(r);
    }
    return out;
  }

  std::optional<wire::handshake> read_handshake() {
    auto bytes = read(wire::kHandshakeSize);
    if (!bytes) return std::nullopt;
    auto h = wire::decode_handshake(*bytes);
    if (!h) return std::nullopt;
    return *h;
  }

  struct frame {
    wire::msg_type type;
    std::vector<std::byte> body;  // after the id
  };
  std::optional<frame> read_frame() {
    auto len = read(4);
    if (!len) return std::nullopt;
    const std::uint32_t n = std::to_integer<std::uint32_t>((*len)[0]) << 24 | std::to_integer<std::uint32_t>((*len)[1]) << 16 |
                            std::to_integer<std::uint32_t>((*len)[2]) << 8 | std::to_integer<std::uint32_t>((*len)[3]);
    if (n == 0) return frame{wire::msg_type::keep_alive, {}};
    auto body = read(n);
    if (!body) return std::nullopt;
    return frame{static_cast<wire::msg_type>((*body)[0]), {body->begin() + 1, body->end()}};
  }
  // Reads frames until one of `type` arrives; false if the connection ends first.
  bool wait_for(wire::msg_type type) {
    while (auto f = read_frame())
      if (f->type == type) return true;
    return false;
  }

  // True when the other side ends the connection within the timeout (what
  // it sends meanwhile is read and dropped); false on a timeout.
  bool closed_by_peer() {
    std::byte buf[65536];
    for (;;) {
      const ssize_t r = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (r > 0) continue;
      if (r == 0) return true;
      return errno == ECONNRESET || errno == EPIPE;
    }
  }

  int fd() const { return fd_.get(); }

 private:
  unique_fd fd_;
  bool connected_ = false;
};

// A liar's opening: it has every piece and unchokes at once.
inline void liar_hello(raw_peer& p, std::size_t pieces) {
  std::vector<std::byte> hello;
  const std::vector<std::byte> all((pieces + 7) / 8, std::byte{0xff});
  wire::encode_bitfield(hello, all);
  wire::encode_simple(hello, wire::msg_type::unchoke);
  p.send(hello);
}

// Waits for a request and answers it with a block of garbage; the piece.
inline std::optional<std::uint32_t> answer_with_garbage(raw_peer& p) {
  auto f = p.read_frame();
  while (f && f->type != wire::msg_type::request) f = p.read_frame();
  if (!f) return std::nullopt;
  const std::uint32_t piece = std::to_integer<std::uint32_t>(f->body[3]);
  const auto header = wire::encode_piece_header(piece, 0, 16384);
  std::vector<std::byte> garbage(header.begin(), header.end());
  garbage.resize(garbage.size() + 16384, std::byte{0x66});
  if (!p.send(garbage)) return std::nullopt;
  return piece;
}

// A request the node sent: its piece and offset.
struct request_of {
  std::uint32_t piece, offset;
};
inline std::optional<request_of> parse_request(const raw_peer::frame& f) {
  if (f.type != wire::msg_type::request || f.body.size() != 12) return std::nullopt;
  const auto word = [&](std::size_t at) {
    return std::to_integer<std::uint32_t>(f.body[at]) << 24 | std::to_integer<std::uint32_t>(f.body[at + 1]) << 16 |
           std::to_integer<std::uint32_t>(f.body[at + 2]) << 8 | std::to_integer<std::uint32_t>(f.body[at + 3]);
  };
  return request_of{word(0), word(4)};
}

// Reads frames until the node's next request; nullopt if the connection ends.
inline std::optional<request_of> next_request(raw_peer& p) {
  while (auto f = p.read_frame())
    if (const auto r = parse_request(*f)) return r;
  return std::nullopt;
}

// The 'piece' frame answering a 16 KiB request, from the torrent's data.
inline std::vector<std::byte> block_frame(std::string_view data, std::uint32_t piece_length, request_of r) {
  const auto header = wire::encode_piece_header(r.piece, r.offset, 16384);
  std::vector<std::byte> f(header.begin(), header.end());
  const auto* from = reinterpret_cast<const std::byte*>(data.data()) + std::size_t{r.piece} * piece_length + r.offset;
  f.insert(f.end(), from, from + 16384);
  return f;
}

// Answers the node's requests as they come until each of the torrent's
// `blocks` 16 KiB blocks was sent once; false if the connection ends first.
inline bool answer_all(raw_peer& p, std::string_view data, std::uint32_t piece_length, std::size_t blocks) {
  std::vector<bool> answered(blocks, false);
  std::size_t count = 0;
  while (count < blocks) {
    const auto r = next_request(p);
    if (!r || !p.send(block_frame(data, piece_length, *r))) return false;
    const std::size_t i = (std::size_t{r->piece} * piece_length + r->offset) / 16384;
    if (i < blocks && !answered[i]) {
      answered[i] = true;
      ++count;
    }
  }
  return true;
}

}  // namespace sta::test
