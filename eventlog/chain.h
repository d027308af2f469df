// The event log's hash chain: h_i = SHA-256(h_{i-1} || key || record). One function for the
// whole project -- the writer, verify, case bundles and their offline verifier all chain
// through it, so they cannot disagree.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace twin {

using Hash = std::array<uint8_t, 32>;

Hash ChainHash(const Hash& prev, std::string_view key, std::string_view record);

// SHA-256 of the bytes as 64 lowercase hex digits: content-store keys, unit and config file
// digests, fleet digests.
std::string Sha256Hex(std::string_view data);

}  // namespace twin
