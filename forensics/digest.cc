#include "forensics/digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace twin {

namespace {
// Fetched once: EVP_sha256() makes every EVP_DigestInit_ex look the algorithm up again under
// a lock, which dominates hashing many small records (the chain hash per record).
const EVP_MD* Sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}
}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) { Reset(); }
Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }
void Sha256::Reset() { EVP_DigestInit_ex(ctx_, Sha256Md(), nullptr); }
void Sha256::Update(std::string_view b) { EVP_DigestUpdate(ctx_, b.data(), b.size()); }
Hash Sha256::Final() {
  Hash h{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_, h.data(), &len);
  Reset();
  return h;
}
Hash Sha256::Of(std::string_view bytes) {
  Sha256 s;
  s.Update(bytes);
  return s.Final();
}

Hash ChainHash(Sha256& sha, const Hash& prev, std::string_view key, std::string_view payload) {
  sha.Update(prev.data(), prev.size());
  sha.Update(key);
  sha.Update(payload);
  return sha.Final();
}

Hash HmacSha256(std::string_view key, std::string_view msg) {
  Hash h{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), h.data(), &len);
  return h;
}

bool ParseHashHex(std::string_view hex, Hash* out) {
  if (hex.size() != 64) return false;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::string BytesHex(std::string_view bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace twin
