#include "format/json_writer.h"

#include <array>
#include <cstring>

namespace twin {
namespace {

// Raw byte b (0x80..0xFF) is written as code point kByteBase + b (U+10FF80..U+10FFFF, private use).
constexpr uint32_t kByteBase = 0x10FF00;

const char kHex[] = "0123456789abcdef";

}  // namespace

size_t ValidUtf8SeqLen(std::string_view s, size_t i, uint32_t reserved_from) {
  const auto c = static_cast<uint8_t>(s[i]);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; }
  else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; }
  else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<uint8_t>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
      cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp >= reserved_from) {
    return 0;
  }
  return n;
}

namespace {
// Bytes copied through unchanged: printable ASCII and DEL, except '"' and '\\'.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();
}  // namespace

size_t PlainRunBytes(std::string_view s, size_t i) {
  while (i < s.size() && kPlain[static_cast<uint8_t>(s[i])]) ++i;
  return i;
}

void AppendJsonString(std::string& out, std::string_view s) {
  size_t i = PlainRun(s, 0);
  if (i == s.size()) {  // the common case: nothing to escape, one copy
    const size_t at = out.size();
    out.resize(at + s.size() + 2);
    char* p = out.data() + at;
    p[0] = '"';
    std::memcpy(p + 1, s.data(), s.size());
    p[s.size() + 1] = '"';
    return;
  }
  out += '"';
  out.append(s.data(), i);
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (kPlain[c]) {
      const size_t j = PlainRun(s, i + 1);
      out.append(s.data() + i, j - i);
      i = j;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7f) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
      continue;
    }
    size_t n = ValidUtf8SeqLen(s, i, kByteBase + 0x80);
    if (n == 0) {
      const uint32_t cp = kByteBase + c;
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  out += '"';
}

bool DecodeByteEscaped(std::string_view in, std::string* bytes) {
  bytes->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    const auto c = static_cast<uint8_t>(in[i]);
    if (c == 0xF4 && i + 3 < in.size() + 0 && static_cast<uint8_t>(in[i + 1]) == 0x8F &&
        (static_cast<uint8_t>(in[i + 2]) & 0xFE) == 0xBE) {
      const uint32_t cp = (0x4u << 18) | (0x0Fu << 12) |
                          ((static_cast<uint8_t>(in[i + 2]) & 0x3Fu) << 6) |
                          (static_cast<uint8_t>(in[i + 3]) & 0x3Fu);
      if (cp >= kByteBase + 0x80) {
        bytes->push_back(static_cast<char>(cp & 0xFF));
        i += 3;
        continue;
      }
    }
    bytes->push_back(static_cast<char>(c));
  }
  return true;
}

}  // namespace twin
