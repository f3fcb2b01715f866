#include "peer/receive_plan.hpp"

#include <algorithm>
#include <cstring>

namespace sta::peer {
namespace {

void append(recv_buffer& to, const std::byte* data, std::size_t n) {
  if (n == 0) return;
  std::memcpy(to.room(n).data(), data, n);
  to.commit(n);
}

}  // namespace

void receive_plan::clear() {
  rest_ = {};
  count_ = 0;
}

void receive_plan::add(const frame& f, std::span<const std::byte> came) {
  slot& s = frames_[count_++];
  s.f = f;
  s.had = came.size();
  std::copy(came.begin(), came.end(), s.got.begin());
}

std::span<const iovec> receive_plan::iovecs() {
  std::size_t n = 0;
  if (!rest_.empty()) iov_[n++] = {rest_.data(), rest_.size()};
  for (std::size_t i = 0; i < count_; ++i) {
    slot& s = frames_[i];
    iov_[n++] = {s.got.data() + s.had, kHeaderSize - s.had};
    iov_[n++] = {s.f.payload.data(), s.f.payload.size()};
  }
  return std::span(iov_.data(), n);
}

receive_plan::outcome receive_plan::resolve(std::size_t n, recv_buffer& spill) {
  outcome o;
  o.rest_got = std::min(n, rest_.size());
  n -= o.rest_got;
  for (std::size_t i = 0; i < count_; ++i) {
    const slot& s = frames_[i];
    const std::size_t header_got = s.had + std::min(n, kHeaderSize - s.had);
    n -= header_got - s.had;
    if (header_got < kHeaderSize || s.got != s.f.expected) {
      append(spill, s.got.data(), header_got);
      spill_from(i, n, spill);
      return o;
    }
    const std::size_t payload_got = std::min(n, s.f.payload.size());
    n -= payload_got;
    if (payload_got < s.f.payload.size()) {
      o.started = true;
      o.partial = payload_got;
      return o;
    }
    ++o.whole;
  }
  return o;
}

void receive_plan::spill_from(std::size_t i, std::size_t n, recv_buffer& spill) const {
  // Frame i's payload, then each later frame's header and payload (only
  // the first frame has a header started before the receive).
  for (std::size_t j = i; j < count_ && n > 0; ++j) {
    if (j > i) {
      const std::size_t header = std::min(n, kHeaderSize);
      append(spill, frames_[j].got.data(), header);
      n -= header;
    }
    const std::size_t payload = std::min(n, frames_[j].f.payload.size());
    append(spill, frames_[j].f.payload.data(), payload);
    n -= payload;
  }
}

}  // namespace sta::peer
