#include "fleet/keys.h"

namespace twin::fleet {
namespace {

bool Plain(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lower case is not canonical
}

}  // namespace

std::string_view KeyKindName(KeyKind k) {
  switch (k) {
    case KeyKind::kInfo: return "info";
    case KeyKind::kAlive: return "alive";
    case KeyKind::kDigest: return "digest";
  }
  return "?";
}

std::string EncodeSegment(std::string_view id) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(id.size());
  for (char ch : id) {
    const auto c = static_cast<unsigned char>(ch);
    // "." and ".." alone would read as path steps to a human or a proxy: encode their dots.
    if (Plain(c) && !(c == '.' && (id == "." || id == ".."))) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> DecodeSegment(std::string_view seg) {
  if (seg.empty()) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < seg.size(); ++i) {
    const auto c = static_cast<unsigned char>(seg[i]);
    if (c == '%') {
      if (i + 2 >= seg.size()) return std::nullopt;
      const int hi = HexVal(seg[i + 1]), lo = HexVal(seg[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (Plain(c)) {
      out += static_cast<char>(c);
    } else {
      return std::nullopt;
    }
  }
  if (out.size() > 253 || EncodeSegment(out) != seg) return std::nullopt;  // canonical form only
  return out;
}

Status CheckHostId(std::string_view id) {
  if (id.empty()) return Status::InvalidArgument("host id is empty");
  if (id.size() > 253) return Status::InvalidArgument("host id is longer than 253 bytes");
  return Status::Ok();
}

std::string KindPrefix(std::string_view prefix, KeyKind kind) {
  std::string k(prefix);
  k += KeyKindName(kind);
  k += '/';
  return k;
}

std::string HostKey(std::string_view prefix, KeyKind kind, std::string_view host_id) {
  return KindPrefix(prefix, kind) + EncodeSegment(host_id);
}

std::string PrefixRangeEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& b = reinterpret_cast<unsigned char&>(end.back());
    if (b < 0xff) {
      ++b;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // etcd: "\0" as range_end = every key from the start key
}

std::optional<ParsedKey> ParseKey(std::string_view prefix, std::string_view key) {
  if (key.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view rest = key.substr(prefix.size());
  for (KeyKind k : {KeyKind::kInfo, KeyKind::kAlive, KeyKind::kDigest}) {
    const std::string_view name = KeyKindName(k);
    if (rest.size() > name.size() + 1 && rest.substr(0, name.size()) == name && rest[name.size()] == '/') {
      auto id = DecodeSegment(rest.substr(name.size() + 1));
      if (!id) return std::nullopt;
      return ParsedKey{k, std::move(*id)};
    }
  }
  return std::nullopt;
}

}  // namespace twin::fleet
