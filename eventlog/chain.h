// The event log's hash chain: h_i = SHA-256(h_{i-1} || key || record). One function for the
// whole project -- the writer, verify, case bundles and their offline verifier all chain
// through it, so they cannot disagree.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace twin {

using Hash = std::array<uint8_t, 32>;

Hash ChainHash(const Hash& prev, std::string_view key, std::string_view record);

}  // namespace twin
