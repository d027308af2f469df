#include "eventlog/process_id.h"

#include <charconv>

namespace twin {
namespace {

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char Lower(char c) { return c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c; }

// A UUID as the kernel prints it: 8-4-4-4-12 hex digits.
bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHex(s[i])) return false;
  }
  return true;
}

}  // namespace

std::string BootTag(std::string_view boot_id) {
  std::string tag;
  if (boot_id.empty()) return std::string(kBootTagLen, '0');
  if (IsUuid(boot_id)) {
    for (char c : boot_id) {
      if (c != '-' && tag.size() < kBootTagLen) tag += Lower(c);
    }
    return tag;
  }
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64
  for (unsigned char c : boot_id) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  static const char* kHex = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) tag += kHex[(h >> (4 * i)) & 0xf];
  return tag;
}

std::string FormatProcessId(std::string_view boot_tag, int32_t pid, uint64_t start_ns) {
  std::string s;
  s.reserve(kBootTagLen + 32);
  s.append(boot_tag);
  char buf[24];
  s += '-';
  auto r = std::to_chars(buf, buf + sizeof buf, start_ns);
  s.append(buf, r.ptr);
  s += '-';
  r = std::to_chars(buf, buf + sizeof buf, pid);
  s.append(buf, r.ptr);
  return s;
}

std::string ProcessIdOf(std::string_view boot_id, int32_t pid, uint64_t start_ns) {
  return FormatProcessId(BootTag(boot_id), pid, start_ns);
}

Result<ProcessId> ParseProcessId(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument(
        "'" + std::string(text) +
        "' is not a process id (<16 hex digits of the boot>-<start_ns>-<pid>, as the id and "
        "process_id fields of --json print it)");
  };
  ProcessId id;
  if (text.size() < kBootTagLen + 4 || text[kBootTagLen] != '-') return bad();
  for (size_t i = 0; i < kBootTagLen; ++i) {
    if (!IsHex(text[i]) || (text[i] >= 'A' && text[i] <= 'F')) return bad();
  }
  id.boot = std::string(text.substr(0, kBootTagLen));
  std::string_view rest = text.substr(kBootTagLen + 1);
  const size_t dash = rest.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 >= rest.size()) return bad();
  auto digits = [](std::string_view s) {
    for (char c : s) {
      if (c < '0' || c > '9') return false;
    }
    return !s.empty();
  };
  const std::string_view start = rest.substr(0, dash), pid = rest.substr(dash + 1);
  if (!digits(start) || !digits(pid)) return bad();
  auto r1 = std::from_chars(start.data(), start.data() + start.size(), id.start_ns);
  auto r2 = std::from_chars(pid.data(), pid.data() + pid.size(), id.pid);
  if (r1.ec != std::errc() || r2.ec != std::errc() || id.pid <= 0) return bad();
  return id;
}

}  // namespace twin
