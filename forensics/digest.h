// SHA-256 and HMAC-SHA-256 helpers over OpenSSL EVP. Not thread-safe per object.
#pragma once

#include <openssl/evp.h>

#include <string>
#include <string_view>

#include "eventlog/log.h"

namespace twin {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Reset();
  void Update(std::string_view bytes);
  void Update(const void* p, size_t n) { Update(std::string_view(static_cast<const char*>(p), n)); }
  Hash Final();  // also resets
  static Hash Of(std::string_view bytes);

 private:
  EVP_MD_CTX* ctx_;
};

Hash HmacSha256(std::string_view key, std::string_view msg);
bool ParseHashHex(std::string_view hex, Hash* out);
bool ConstantTimeEqual(std::string_view a, std::string_view b);

}  // namespace twin
