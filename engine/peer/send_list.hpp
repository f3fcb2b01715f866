// send_list: what one send of a connection carries, in order: bytes of its
// own (messages, 'piece' headers) and blocks that live elsewhere (the
// reactor's block cache), which are referenced and kept alive, not copied.
// iovecs() hands the rest to sendmsg; sent() moves past what went out.
// Plain data; one thread.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

namespace sta::peer {

class send_list {
 public:
  void clear() {
    own_.clear();
    parts_.clear();
    holders_.clear();
    iov_.clear();
    own_listed_ = 0;
    first_ = 0;
    skip_ = 0;
    size_ = 0;
  }

  // Bytes of its own, copied in: from the end of own() to its new end.
  std::vector<std::byte>& own() { return own_; }
  // Call after appending to own(): the new bytes join the list here.
  void own_appended() {
    const std::size_t added = own_.size() - own_listed_;
    if (added == 0) return;
    if (!parts_.empty() && parts_.back().held == nullptr) parts_.back().length += added;
    else parts_.push_back({nullptr, own_listed_, added});
    own_listed_ = own_.size();
    size_ += added;
  }
  void append_own(std::span<const std::byte> bytes) {
    own_.insert(own_.end(), bytes.begin(), bytes.end());
    own_appended();
  }
  // Bytes that `owner` keeps alive until clear().
  void append_held(std::span<const std::byte> bytes, const std::shared_ptr<const std::byte[]>& owner) {
    if (bytes.empty()) return;
    if (holders_.empty() || holders_.back() != owner) holders_.push_back(owner);
    if (!parts_.empty() && parts_.back().held != nullptr &&
        parts_.back().held + parts_.back().length == bytes.data())
      parts_.back().length += bytes.size();
    else
      parts_.push_back({bytes.data(), 0, bytes.size()});
    size_ += bytes.size();
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // What is left to send, at most `max` pieces of it (IOV_MAX for sendmsg).
  std::span<const iovec> iovecs(std::size_t max = 1024) {
    iov_.clear();
    for (std::size_t i = first_; i < parts_.size() && iov_.size() < max; ++i) {
      const part& p = parts_[i];
      const std::byte* base = p.held != nullptr ? p.held : own_.data() + p.offset;
      const std::size_t skip = i == first_ ? skip_ : 0;
      iov_.push_back({const_cast<std::byte*>(base + skip), p.length - skip});
    }
    return iov_;
  }
  // n more bytes went out.
  void sent(std::size_t n) {
    size_ -= n;
    while (n > 0) {
      const std::size_t left = parts_[first_].length - skip_;
      if (n < left) {
        skip_ += n;
        return;
      }
      n -= left;
      ++first_;
      skip_ = 0;
    }
  }

 private:
  struct part {
    const std::byte* held;  // null: `length` bytes of own_ from `offset`
    std::size_t offset;
    std::size_t length;
  };

  std::vector<std::byte> own_;
  std::vector<part> parts_;
  std::vector<std::shared_ptr<const std::byte[]>> holders_;
  std::vector<iovec> iov_;
  std::size_t own_listed_ = 0;  // bytes of own_ that parts_ already hold
  std::size_t first_ = 0;  // parts_[first_] is the first not wholly sent
  std::size_t skip_ = 0;   // bytes of it already sent
  std::size_t size_ = 0;   // bytes not sent yet
};

}  // namespace sta::peer
