// Byte codecs used across the project: lower-case hex and standard base64 (RFC 4648, with
// padding). The one place for them; nothing here knows about events or logs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace twin {

// Appends two lower-case hex digits per byte.
void AppendHex(std::string& out, std::string_view bytes);
std::string HexEncode(std::string_view bytes);
// Decodes hex of either case into exactly out_len bytes; false on a wrong length or a non-hex digit.
bool HexDecode(std::string_view hex, uint8_t* out, size_t out_len);

std::string Base64Encode(std::string_view bytes);
// Decodes standard base64. Characters outside the alphabet (line breaks, padding) are skipped,
// as libvirt's guest agent and Ansible's b64 filters accept them.
std::string Base64Decode(std::string_view text);

}  // namespace twin
