// receive_plan: where one receive puts a peer's bytes while blocks come as
// we asked for them. First the rest of a block whose header came already,
// then whole 'piece' frames guessed from our requests: each 13-byte header
// into a slot here, each payload straight into its piece, so a block's
// bytes are copied once, by the kernel. After the receive, resolve() says
// which guesses came true and moves whatever came otherwise (another
// message, another block, a header cut short) to the receive buffer, in
// order, to be decoded as usual. Guessed payloads that did not come true
// may hold some of those bytes: their blocks must be given up (they were
// reserved, so nobody else wrote there, and nobody has hashed them).
// Plain data; no socket and no picker: peer_loop reserves the blocks and
// carries out what resolve() says. One thread.
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <span>

#include "peer/recv_buffer.hpp"
#include "picker/piece_picker.hpp"

namespace sta::peer {

class receive_plan {
 public:
  static constexpr std::size_t kMaxFrames = 16;
  static constexpr std::size_t kHeaderSize = 13;
  using header = std::array<std::byte, kHeaderSize>;

  struct frame {
    picker::block_ref ref;
    header expected;                // the 'piece' header it must come with
    std::span<std::byte> payload;   // where its block goes
  };

  void clear();
  // The first rest.size() bytes to come are the rest of a block.
  void set_rest(std::span<std::byte> rest) { rest_ = rest; }
  // The next frame expected. `came`: the start of its header, already
  // received (only before the first frame, with no rest).
  void add(const frame& f, std::span<const std::byte> came = {});
  std::size_t frames() const { return count_; }
  const frame& at(std::size_t i) const { return frames_[i].f; }
  // The buffers for one recvmsg, in stream order.
  std::span<const iovec> iovecs();

  struct outcome {
    std::size_t rest_got = 0;  // bytes of the rest that came
    std::size_t whole = 0;     // frames [0, whole) came complete, as expected
    // Frame `whole`'s header came as expected and `partial` bytes of its
    // payload with it (fewer than the whole block); the stream ends there.
    bool started = false;
    std::size_t partial = 0;
  };
  // n bytes came. What came otherwise than planned, from the first header
  // that differs from its frame's or is cut short, is appended to `spill`;
  // the frames after `whole` (and `started`'s) hold no block of theirs.
  outcome resolve(std::size_t n, recv_buffer& spill);

 private:
  struct slot {
    frame f;
    header got{};
    std::size_t had = 0;  // bytes of `got` filled before the receive
  };
  // Appends `n` bytes received in the buffers from frame i's payload on.
  void spill_from(std::size_t i, std::size_t n, recv_buffer& spill) const;

  std::span<std::byte> rest_;
  std::array<slot, kMaxFrames> frames_;
  std::size_t count_ = 0;
  std::array<iovec, 1 + 2 * kMaxFrames> iov_{};
};

}  // namespace sta::peer
