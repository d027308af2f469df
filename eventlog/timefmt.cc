#include "eventlog/timefmt.h"

#include <time.h>

#include <cctype>
#include <charconv>
#include <cstdio>

namespace twin {
namespace {

Status Bad(std::string_view text, const std::string& why) {
  return Status::InvalidArgument(
      "cannot parse time '" + std::string(text) + "': " + why +
      " (use RFC 3339 like 2026-11-26T03:12:07Z, epoch seconds or ns, or relative like -5m)");
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool ParseUint(std::string_view s, uint64_t* out) {
  if (!AllDigits(s)) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

uint64_t WallNowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Result<uint64_t> ParseTime(std::string_view text, uint64_t now_ns) {
  std::string_view t = text;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
  if (t.empty()) return Bad(text, "empty");
  if (t == "now") return now_ns;
  if (t[0] == '-' || t[0] == '+') {
    const bool minus = t[0] == '-';
    std::string_view rest = t.substr(1);
    size_t i = 0;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i;
    uint64_t n = 0;
    if (i == 0 || !ParseUint(rest.substr(0, i), &n)) return Bad(text, "expected a number after the sign");
    std::string_view unit = rest.substr(i);
    uint64_t mult = 0;
    if (unit == "ns") mult = 1;
    else if (unit == "us") mult = 1000ull;
    else if (unit == "ms") mult = 1000000ull;
    else if (unit == "s") mult = 1000000000ull;
    else if (unit == "m") mult = 60ull * 1000000000ull;
    else if (unit == "h") mult = 3600ull * 1000000000ull;
    else if (unit == "d") mult = 86400ull * 1000000000ull;
    else if (unit == "w") mult = 7ull * 86400ull * 1000000000ull;
    else return Bad(text, "unknown unit '" + std::string(unit) + "' (ns us ms s m h d w)");
    if (n > UINT64_MAX / mult) return Bad(text, "out of range");
    uint64_t d = n * mult;
    if (minus) {
      if (d > now_ns) return Bad(text, "before the Unix epoch");
      return now_ns - d;
    }
    if (now_ns > UINT64_MAX - d) return Bad(text, "out of range");
    return now_ns + d;
  }
  // Epoch: seconds (<= 11 digits, optional fraction) or ns (>= 16 digits).
  {
    size_t dot = t.find('.');
    std::string_view ip = t.substr(0, dot);
    if (AllDigits(ip) && (dot == std::string_view::npos || AllDigits(t.substr(dot + 1)))) {
      uint64_t v = 0;
      if (!ParseUint(ip, &v)) return Bad(text, "out of range");
      if (dot == std::string_view::npos && ip.size() >= 16) return v;
      if (ip.size() > 11) {
        return Bad(text, "ambiguous epoch value: give seconds (up to 11 digits) or ns (16+)");
      }
      uint64_t frac = 0;
      if (dot != std::string_view::npos) {
        std::string f(t.substr(dot + 1));
        if (f.size() > 9) return Bad(text, "more than 9 fractional digits");
        f.append(9 - f.size(), '0');
        ParseUint(f, &frac);
      }
      return v * 1000000000ull + frac;
    }
  }
  // RFC 3339.
  int Y, M, D, h, m, s;
  int consumed = 0;
  std::string str(t);
  if (sscanf(str.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &s, &consumed) != 6 ||
      consumed != 19) {
    return Bad(text, "not a recognised time format");
  }
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || s > 60) {
    return Bad(text, "field out of range");
  }
  std::string_view rest = t.substr(19);
  uint64_t frac = 0;
  if (!rest.empty() && rest[0] == '.') {
    size_t i = 1;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i;
    std::string f(rest.substr(1, i - 1));
    if (f.empty() || f.size() > 9) return Bad(text, "fraction must have 1 to 9 digits");
    f.append(9 - f.size(), '0');
    ParseUint(f, &frac);
    rest = rest.substr(i);
  }
  int64_t offset_s = 0;
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    uint64_t oh = 0, om = 0;
    if (!ParseUint(rest.substr(1, 2), &oh) || !ParseUint(rest.substr(4, 2), &om) || oh > 23 ||
        om > 59) {
      return Bad(text, "bad UTC offset");
    }
    offset_s = static_cast<int64_t>(oh * 3600 + om * 60) * (rest[0] == '-' ? -1 : 1);
  } else {
    return Bad(text, "needs a UTC offset: Z or +hh:mm");
  }
  tm tmv{};
  tmv.tm_year = Y - 1900;
  tmv.tm_mon = M - 1;
  tmv.tm_mday = D;
  tmv.tm_hour = h;
  tmv.tm_min = m;
  tmv.tm_sec = s;
  int64_t secs = static_cast<int64_t>(timegm(&tmv)) - offset_s;
  if (secs < 0) return Bad(text, "before the Unix epoch");
  return static_cast<uint64_t>(secs) * 1000000000ull + frac;
}

std::string FormatRfc3339Ns(uint64_t ts_ns) {
  time_t secs = static_cast<time_t>(ts_ns / 1000000000ull);
  tm tmv{};
  gmtime_r(&secs, &tmv);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lluZ", tmv.tm_year + 1900,
           tmv.tm_mon + 1, tmv.tm_mday, tmv.tm_hour, tmv.tm_min, tmv.tm_sec,
           static_cast<unsigned long long>(ts_ns % 1000000000ull));
  return buf;
}

std::string FormatIso8601Micros(uint64_t ts_ns) {
  time_t secs = static_cast<time_t>(ts_ns / 1000000000ull);
  tm tmv{};
  gmtime_r(&secs, &tmv);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06llu+00:00", tmv.tm_year + 1900,
           tmv.tm_mon + 1, tmv.tm_mday, tmv.tm_hour, tmv.tm_min, tmv.tm_sec,
           static_cast<unsigned long long>((ts_ns / 1000ull) % 1000000ull));
  return buf;
}

}  // namespace twin
