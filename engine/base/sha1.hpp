// SHA-1 through OpenSSL's EVP interface. sha1_digest is a value type used for
// info-hashes and piece hashes. A hasher is used by one thread at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace sta {

struct sha1_digest {
  std::array<std::uint8_t, 20> bytes{};

  friend bool operator==(const sha1_digest&, const sha1_digest&) = default;
  friend auto operator<=>(const sha1_digest&, const sha1_digest&) = default;

  // The 20 raw bytes, as BitTorrent sends them.
  std::string_view raw() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  // 40 lowercase hex characters.
  std::string hex() const;

  // From exactly 20 raw bytes.
  static sha1_digest from_raw(std::string_view raw20);
};

class sha1_hasher {
 public:
  sha1_hasher();
  ~sha1_hasher();
  sha1_hasher(const sha1_hasher&) = delete;
  sha1_hasher& operator=(const sha1_hasher&) = delete;

  void update(std::span<const std::byte> data);
  void update(std::string_view data) { update(std::as_bytes(std::span{data.data(), data.size()})); }
  // Returns the digest and resets the hasher for the next message.
  sha1_digest finish();

 private:
  struct ctx_deleter { void operator()(void* p) const; };
  std::unique_ptr<void, ctx_deleter> ctx_;
};

sha1_digest sha1(std::span<const std::byte> data);
inline sha1_digest sha1(std::string_view data) {
  return sha1(std::as_bytes(std::span{data.data(), data.size()}));
}

}  // namespace sta
