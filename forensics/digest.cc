#include "forensics/digest.h"
#include "format/codec.h"

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

Hash HmacSha256(std::string_view key, std::string_view msg) {
  Hash h{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), h.data(), &len);
  return h;
}

bool ParseHashHex(std::string_view hex, Hash* out) {
  return HexDecode(hex, out->data(), out->size());
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace twin
