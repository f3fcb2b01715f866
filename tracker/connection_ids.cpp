#include "tracker/connection_ids.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <boost/endian/conversion.hpp>
#include <cstring>
#include <memory>
#include <random>

namespace sta::tracker {
namespace {

struct md_ctx_free {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

connection_ids connection_ids::random() {
  std::array<std::uint8_t, 32> secret{};
  if (RAND_bytes(secret.data(), static_cast<int>(secret.size())) != 1) {
    std::random_device rd;
    for (auto& b : secret) b = static_cast<std::uint8_t>(rd());
  }
  return connection_ids(secret);
}

std::uint32_t connection_ids::mac(std::uint32_t minute, const endpoint& client) const {
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
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx.get(), input.data(), input.size());
  EVP_DigestFinal_ex(ctx.get(), digest.data(), &length);
  return boost::endian::load_big_u32(digest.data());
}

std::uint64_t connection_ids::make(const endpoint& client, std::uint64_t now_seconds) const {
  const auto minute = static_cast<std::uint32_t>(now_seconds / 60);
  return std::uint64_t{minute} << 32 | mac(minute, client);
}

bool connection_ids::valid(std::uint64_t id, const endpoint& client, std::uint64_t now_seconds) const {
  const auto now_minute = static_cast<std::uint32_t>(now_seconds / 60);
  const auto minute = static_cast<std::uint32_t>(id >> 32);
  if (minute != now_minute && minute + 1 != now_minute) return false;
  std::array<std::uint8_t, 4> expected{}, got{};
  boost::endian::store_big_u32(expected.data(), mac(minute, client));
  boost::endian::store_big_u32(got.data(), static_cast<std::uint32_t>(id));
  return CRYPTO_memcmp(expected.data(), got.data(), got.size()) == 0;
}

}  // namespace sta::tracker
