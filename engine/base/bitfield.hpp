// A fixed-size set of piece indices, as peers send it: bit i of the wire
// form is bit (7 - i % 8) of byte i / 8 (most significant bit first), spare
// bits at the end are zero. Plain data, owned by one thread at a time.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace sta {

class bitfield {
 public:
  bitfield() = default;
  explicit bitfield(std::size_t size, bool value = false)
      : bytes_((size + 7) / 8, value ? std::byte{0xff} : std::byte{0}), size_(size) {
    if (value) clear_spare();
    count_ = value ? size : 0;
  }

  // From the wire: false when the byte count is wrong or a spare bit is set.
  bool assign_wire(std::span<const std::byte> bits, std::size_t size) {
    if (bits.size() != (size + 7) / 8) return false;
    if (size % 8 != 0 && (std::to_integer<unsigned>(bits.back()) & (0xffu >> (size % 8))) != 0) return false;
    bytes_.assign(bits.begin(), bits.end());
    size_ = size;
    count_ = 0;
    for (std::byte b : bytes_) count_ += static_cast<std::size_t>(std::popcount(std::to_integer<unsigned>(b)));
    return true;
  }

  // A shorthand for tests: "1101" has bits 0, 1 and 3.
  static bitfield from_string(std::string_view s) {
    bitfield b(s.size());
    for (std::size_t i = 0; i < s.size(); ++i)
      if (s[i] != '0' && s[i] != ' ' && s[i] != '.') b.set(i);
    return b;
  }

  std::size_t size() const { return size_; }
  std::size_t count() const { return count_; }
  bool all() const { return count_ == size_; }
  bool none() const { return count_ == 0; }

  bool test(std::size_t i) const { return (bytes_[i / 8] & mask(i)) != std::byte{0}; }
  void set(std::size_t i) {
    if (test(i)) return;
    bytes_[i / 8] |= mask(i);
    ++count_;
  }
  void reset(std::size_t i) {
    if (!test(i)) return;
    bytes_[i / 8] &= ~mask(i);
    --count_;
  }
  void set_all() { *this = bitfield(size_, true); }

  std::span<const std::byte> wire() const { return bytes_; }

 private:
  static std::byte mask(std::size_t i) { return std::byte{static_cast<unsigned char>(0x80u >> (i % 8))}; }
  void clear_spare() {
    if (size_ % 8 != 0) bytes_.back() &= std::byte{static_cast<unsigned char>(0xffu << (8 - size_ % 8))};
  }

  std::vector<std::byte> bytes_;
  std::size_t size_ = 0;
  std::size_t count_ = 0;
};

}  // namespace sta
