#include "tracker/connection_ids.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/random.h>

#include <boost/endian/conversion.hpp>
#include <cstring>
#include <memory>
#include <optional>
#include <random>

namespace sta::tracker {
namespace {

struct md_ctx_free {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

connection_ids connection_ids::random() {
  // The kernel's CSPRNG (OpenSSL's would be set up, and cost its memory,
  // in a tracker that never sees a UDP packet).
  std::array<std::uint8_t, 32> secret{};
  if (::getrandom(secret.data(), secret.size(), 0) != static_cast<ssize_t>(secret.size())) {
    std::random_device rd;
    for (auto& b : secret) b = static_cast<std::uint8_t>(rd());
  }
  return connection_ids(secret);
}

std::optional<std::uint32_t> connection_ids::mac(std::uint32_t minute, const endpoint& client) const {
  // One context per thread, made once: no allocation per packet.
  thread_local std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());
  std::array<std::uint8_t, 32 + 4 + 1 + 16> input{};
  std::memcpy(input.data(), secret_.data(), secret_.size());
  boost::endian::store_big_u32(input.data() + 32, minute);
  const auto ip = client.ip();
  input[36] = static_cast<std::uint8_t>(ip.size());
  std::memcpy(input.data() + 37, ip.data(), ip.size());
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned length = 0;
  // Fetched once: EVP_sha256() looks the algorithm up (under a lock) on
  // every use.
  static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), fetched ? fetched : EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), input.data(), input.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest.data(), &length) != 1 || length < 4)
    return std::nullopt;
  return boost::endian::load_big_u32(digest.data());
}

std::uint64_t connection_ids::make(const endpoint& client, std::uint64_t now_seconds) const {
  const auto minute = static_cast<std::uint32_t>(now_seconds / 60);
  // Without a MAC (OpenSSL failed) the id is one no check accepts.
  return std::uint64_t{minute} << 32 | mac(minute, client).value_or(0);
}

bool connection_ids::valid(std::uint64_t id, const endpoint& client, std::uint64_t now_seconds) const {
  const auto now_minute = static_cast<std::uint32_t>(now_seconds / 60);
  const auto minute = static_cast<std::uint32_t>(id >> 32);
  if (minute != now_minute && minute + 1 != now_minute) return false;
  const auto m = mac(minute, client);
  if (!m) return false;
  std::array<std::uint8_t, 4> expected{}, got{};
  boost::endian::store_big_u32(expected.data(), *m);
  boost::endian::store_big_u32(got.data(), static_cast<std::uint32_t>(id));
  return CRYPTO_memcmp(expected.data(), got.data(), got.size()) == 0;
}

}  // namespace sta::tracker
