#include "format/terminal.h"

#include <cstdint>
#include <cstdio>

namespace twin {
namespace {

const char kHex[] = "0123456789abcdef";

void AppendByteEscape(std::string& out, uint8_t c) {
  out += "\\x";
  out += kHex[c >> 4];
  out += kHex[c & 15];
}

void AppendCodePointEscape(std::string& out, uint32_t cp) {
  out += "\\u{";
  bool started = false;
  for (int shift = 20; shift >= 0; shift -= 4) {
    const uint32_t d = (cp >> shift) & 15;
    if (d || started || shift == 0) {
      out += kHex[d];
      started = true;
    }
  }
  out += '}';
}

// Code points that are valid UTF-8 but must not reach a terminal as themselves.
bool Invisible(uint32_t cp) {
  if (cp >= 0x80 && cp <= 0x9f) return true;  // C1 controls (CSI = U+009B, ...)
  if (cp == 0x00ad || cp == 0x061c || cp == 0x180e) return true;
  if (cp >= 0x200b && cp <= 0x200f) return true;  // zero width, LRM, RLM
  if (cp >= 0x2028 && cp <= 0x202e) return true;  // line/para separators, bidi embeddings
  if (cp >= 0x2060 && cp <= 0x206f) return true;  // word joiner, bidi isolates, deprecated formats
  if (cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb)) return true;
  if (cp >= 0xfdd0 && cp <= 0xfdef) return true;  // noncharacters
  if ((cp & 0xfffe) == 0xfffe) return true;       // U+xxFFFE, U+xxFFFF
  if (cp >= 0xe0000 && cp <= 0xe007f) return true;  // tags
  if (cp >= 0xf0000) return true;                   // supplementary private use planes
  return false;
}

// Decodes the strict UTF-8 sequence at s[i] (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF). Returns its length and sets *cp, or 0 when the bytes are not valid UTF-8.
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* cp) {
  const auto c = static_cast<uint8_t>(s[i]);
  size_t n;
  uint32_t v;
  uint32_t min;
  if (c >= 0xc2 && c <= 0xdf) { n = 2; v = c & 0x1f; min = 0x80; }
  else if (c >= 0xe0 && c <= 0xef) { n = 3; v = c & 0x0f; min = 0x800; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; v = c & 0x07; min = 0x10000; }
  else return 0;  // ASCII is handled by the caller; 0x80-0xc1 and 0xf5-0xff never start a sequence
  if (s.size() - i < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<uint8_t>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    v = (v << 6) | (cc & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  *cp = v;
  return n;
}

}  // namespace

std::string EscapeForTerminal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '\n': out += "\\n"; continue;
        case '\r': out += "\\r"; continue;
        case '\t': out += "\\t"; continue;
        case '\\': out += "\\\\"; continue;
        default: break;
      }
      if (c < 0x20 || c == 0x7f) AppendByteEscape(out, c);
      else out += static_cast<char>(c);
      continue;
    }
    uint32_t cp = 0;
    const size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0) {
      AppendByteEscape(out, c);  // resynchronise on the next byte
      continue;
    }
    if (Invisible(cp)) AppendCodePointEscape(out, cp);
    else out.append(s.data() + i, n);
    i += n - 1;
  }
  return out;
}

std::string LogEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') out.push_back(static_cast<char>(c));
    else AppendByteEscape(out, c);
  }
  return out;
}

void PrintError(std::string_view prefix, std::string_view message) {
  std::string line(prefix);
  line += EscapeForTerminal(message);
  line += '\n';
  fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace twin
