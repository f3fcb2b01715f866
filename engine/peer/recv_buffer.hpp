// recv_buffer: the bytes received from one peer and not yet decoded. It
// grows to hold one large frame (a bitfield of a big torrent) and shrinks
// back to its normal size once such a frame is consumed, so a peer cannot
// leave a connection holding a large buffer. Plain data; one thread.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>

namespace sta::peer {

class recv_buffer {
 public:
  static constexpr std::size_t kNormal = 256 * 1024;

  explicit recv_buffer(std::size_t normal = kNormal)
      : normal_(normal), capacity_(normal), data_(std::make_unique<std::byte[]>(normal)) {}

  std::span<const std::byte> data() const { return {data_.get(), size_}; }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }

  // Free space after the data, at least `min` bytes when asked (the rest
  // of a frame whose length is known).
  std::span<std::byte> room(std::size_t min = 1) {
    if (capacity_ - size_ < min) resize(size_ + min);
    return {data_.get() + size_, capacity_ - size_};
  }
  void commit(std::size_t n) { size_ += n; }

  // Drops the first n bytes; what is left moves to the front, into a
  // buffer of the normal size again when it fits there.
  void consume(std::size_t n) {
    std::memmove(data_.get(), data_.get() + n, size_ - n);
    size_ -= n;
    if (capacity_ > normal_ && size_ <= normal_) resize(normal_);
  }

 private:
  void resize(std::size_t capacity) {
    auto fresh = std::make_unique<std::byte[]>(capacity);
    std::memcpy(fresh.get(), data_.get(), size_);
    data_ = std::move(fresh);
    capacity_ = capacity;
  }

  std::size_t normal_;
  std::size_t capacity_;
  std::size_t size_ = 0;
  std::unique_ptr<std::byte[]> data_;
};

}  // namespace sta::peer
