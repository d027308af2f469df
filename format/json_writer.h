// A small streaming JSON writer for hot paths (events, exports). Strings are raw bytes from the
// host: valid UTF-8 passes through, control characters are \u-escaped, and every byte that is
// not part of valid UTF-8 becomes the private-use code point U+10FF00 + byte (U+10FF80 to
// U+10FFFF). Genuine input code points in that range are written byte by byte the same way, so
// the mapping is lossless and the output is always valid UTF-8 JSON, one line per value.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace twin {

void AppendJsonString(std::string& out, std::string_view s);

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
