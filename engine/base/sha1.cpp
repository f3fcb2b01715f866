#include "base/sha1.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "base/hex.hpp"

namespace sta {

std::string sha1_digest::hex() const { return to_hex(raw()); }

sha1_digest sha1_digest::from_raw(std::string_view raw20) {
  sha1_digest d;
  std::memcpy(d.bytes.data(), raw20.data(), std::min(raw20.size(), d.bytes.size()));
  return d;
}

void sha1_hasher::ctx_deleter::operator()(void* p) const {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(p));
}

sha1_hasher::sha1_hasher() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_.get()), EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL cannot initialise SHA-1");
  }
}

sha1_hasher::~sha1_hasher() = default;

void sha1_hasher::update(std::span<const std::byte> data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_.get()), data.data(), data.size());
}

sha1_digest sha1_hasher::finish() {
  sha1_digest d;
  unsigned int len = 0;
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_.get());
  EVP_DigestFinal_ex(ctx, d.bytes.data(), &len);
  EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);
  return d;
}

sha1_digest sha1(std::span<const std::byte> data) {
  sha1_digest d;
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), d.bytes.data(), &len, EVP_sha1(), nullptr);
  return d;
}

}  // namespace sta
