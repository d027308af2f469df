// A small streaming JSON writer for hot paths (events, exports). Strings are raw bytes from the
// host: valid UTF-8 passes through, control characters are \u-escaped, and every byte that is
// not part of valid UTF-8 becomes the private-use code point U+10FF00 + byte (U+10FF80 to
// U+10FFFF). Genuine input code points in that range are written byte by byte the same way, so
// the mapping is lossless and the output is always valid UTF-8 JSON, one line per value.
#pragma once

#include <cassert>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace twin {

void AppendJsonString(std::string& out, std::string_view s);
// True when none of the eight bytes is below 0x20, above 0x7f, '"' or '\\': bytes JSON takes as
// they are. Host strings are mostly plain; a byte-by-byte check was most of the time
// `twin-replay events --json` spent writing.
inline bool WordPlain(uint64_t x) {
  constexpr uint64_t k01 = 0x0101010101010101ull, k80 = 0x8080808080808080ull;
  if (x & k80) return false;  // a byte >= 0x80 (the tests below assume every byte < 0x80)
  const uint64_t ctl = (x - 0x20 * k01) & ~x & k80;  // a byte < 0x20
  const uint64_t q = x ^ (uint64_t{'"'} * k01);
  const uint64_t b = x ^ (uint64_t{'\\'} * k01);
  return (ctl | ((q - k01) & ~q & k80) | ((b - k01) & ~b & k80)) == 0;
}
size_t PlainRunBytes(std::string_view s, size_t i);  // the same, one byte at a time
// The end of the run of bytes from s[i] that JSON takes as they are (printable ASCII other than
// '"' and '\\'): s.size() when the rest needs no escape.
inline size_t PlainRun(std::string_view s, size_t i) {
  const char* d = s.data();
  const size_t n = s.size();
  uint64_t w;
  for (; i + 8 <= n; i += 8) {
    std::memcpy(&w, d + i, 8);
    if (!WordPlain(w)) return PlainRunBytes(s, i);
  }
  if (i == n) return n;
  if (n >= 8) {  // the last eight bytes, overlapping ones already checked
    std::memcpy(&w, d + n - 8, 8);
    return WordPlain(w) ? n : PlainRunBytes(s, i);
  }
  if (n - i >= 4) {  // 4..7 bytes: two overlapping 4-byte loads
    uint32_t lo, hi;
    std::memcpy(&lo, d + i, 4);
    std::memcpy(&hi, d + n - 4, 4);
    return WordPlain(lo | (uint64_t{hi} << 32)) ? n : PlainRunBytes(s, i);
  }
  return PlainRunBytes(s, i);
}

// Length of the valid UTF-8 sequence at s[i] (1 for ASCII), or 0 when the bytes there are not
// valid UTF-8 or encode a code point >= reserved_from (kept for byte escapes). REQUIRES: i < size.
size_t ValidUtf8SeqLen(std::string_view s, size_t i, uint32_t reserved_from);

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}
  JsonWriter& BeginObject() { Sep(); out_ += '{'; first_ = true; return *this; }
  JsonWriter& EndObject() { out_ += '}'; first_ = false; return *this; }
  JsonWriter& BeginArray() { Sep(); out_ += '['; first_ = true; return *this; }
  JsonWriter& EndArray() { out_ += ']'; first_ = false; return *this; }
  JsonWriter& Key(std::string_view k) {
    Sep();
    AppendJsonString(out_, k);
    out_ += ':';
    first_ = true;  // the value follows without a comma
    return *this;
  }
  // A key given as a string literal is one of the program's own names, plain ASCII: written in
  // one copy without the escape scan. (Keys that come from the host are std::string or
  // std::string_view and take the escaping Key above.)
  template <size_t N>
  JsonWriter& Key(const char (&k)[N]) {
    assert(PlainRun(std::string_view(k, N - 1), 0) == N - 1);
    char buf[N + 3];
    char* p = buf;
    *p = ',';
    p += first_ ? 0 : 1;
    *p++ = '"';
    std::memcpy(p, k, N - 1);
    p += N - 1;
    *p++ = '"';
    *p++ = ':';
    out_.append(buf, static_cast<size_t>(p - buf));
    first_ = true;
    return *this;
  }
  JsonWriter& String(std::string_view s) { Sep(); AppendJsonString(out_, s); return *this; }
  JsonWriter& Uint(uint64_t v) { Sep(); return Number(v); }
  JsonWriter& Int(int64_t v) { Sep(); return Number(v); }
  JsonWriter& Bool(bool v) { Sep(); out_ += v ? "true" : "false"; return *this; }
  JsonWriter& Raw(std::string_view json) { Sep(); out_ += json; return *this; }
  // Convenience key/value pairs.
  JsonWriter& Field(std::string_view k, std::string_view v) { return Key(k).String(v); }
  JsonWriter& Field(std::string_view k, const char* v) { return Key(k).String(v); }
  JsonWriter& Field(std::string_view k, const std::string& v) { return Key(k).String(v); }
  JsonWriter& FieldU(std::string_view k, uint64_t v) { return Key(k).Uint(v); }
  JsonWriter& FieldI(std::string_view k, int64_t v) { return Key(k).Int(v); }
  JsonWriter& FieldB(std::string_view k, bool v) { return Key(k).Bool(v); }
  template <size_t N> JsonWriter& Field(const char (&k)[N], std::string_view v) { return Key(k).String(v); }
  template <size_t N> JsonWriter& Field(const char (&k)[N], const char* v) { return Key(k).String(v); }
  template <size_t N> JsonWriter& Field(const char (&k)[N], const std::string& v) { return Key(k).String(v); }
  template <size_t N> JsonWriter& FieldU(const char (&k)[N], uint64_t v) { return Key(k).Uint(v); }
  template <size_t N> JsonWriter& FieldI(const char (&k)[N], int64_t v) { return Key(k).Int(v); }
  template <size_t N> JsonWriter& FieldB(const char (&k)[N], bool v) { return Key(k).Bool(v); }

 private:
  template <typename T>
  JsonWriter& Number(T v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, static_cast<size_t>(r.ptr - buf));
    return *this;
  }
  void Sep() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  std::string& out_;
  bool first_ = true;
};

// Decodes the escaping above back to raw bytes (used by tests and by verify-bundle).
bool DecodeByteEscaped(std::string_view utf8, std::string* bytes);

}  // namespace twin
