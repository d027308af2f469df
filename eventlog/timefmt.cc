#include "eventlog/timefmt.h"

#include <time.h>

#include <cstdint>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>

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

bool IsLeapYear(uint64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

uint64_t DaysInMonth(uint64_t y, uint64_t m) {
  static constexpr uint8_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar, negative before it
// (H. Hinnant's days_from_civil; y >= 0). No timegm: it would quietly turn Feb 31 into Mar 3.
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// The fixed-width digits text[at, at + n).
bool FixedDigits(std::string_view text, size_t at, size_t n, uint64_t* out) {
  return at + n <= text.size() && ParseUint(text.substr(at, n), out);
}

// "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)", every field checked against the calendar.
Result<uint64_t> ParseRfc3339(std::string_view text, std::string_view t) {
  uint64_t Y, M, D, h, m, s;
  const bool shape = t.size() >= 20 && t[4] == '-' && t[7] == '-' &&
                     (t[10] == 'T' || t[10] == 't' || t[10] == ' ') && t[13] == ':' && t[16] == ':';
  if (!shape || !FixedDigits(t, 0, 4, &Y) || !FixedDigits(t, 5, 2, &M) || !FixedDigits(t, 8, 2, &D) ||
      !FixedDigits(t, 11, 2, &h) || !FixedDigits(t, 14, 2, &m) || !FixedDigits(t, 17, 2, &s)) {
    return Bad(text, "not a recognised time format");
  }
  if (M < 1 || M > 12) return Bad(text, "month " + std::to_string(M) + " does not exist");
  if (D < 1 || D > DaysInMonth(Y, M)) {
    return Bad(text, "day " + std::to_string(D) + " does not exist in " + std::string(t.substr(0, 7)));
  }
  if (h > 23 || m > 59) return Bad(text, "hour or minute out of range");
  if (s == 60) return Bad(text, "leap second :60 cannot be represented in Unix time; use :59");
  if (s > 59) return Bad(text, "second out of range");
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
  const int64_t secs = DaysFromCivil(static_cast<int64_t>(Y), static_cast<int64_t>(M),
                                     static_cast<int64_t>(D)) * 86400 +
                       static_cast<int64_t>(h * 3600 + m * 60 + s) - offset_s;
  if (secs < 0) return Bad(text, "before the Unix epoch");
  // uint64 ns since 1970 end in 2554.
  if (static_cast<uint64_t>(secs) > (UINT64_MAX - frac) / 1000000000ull) return Bad(text, "out of range");
  return static_cast<uint64_t>(secs) * 1000000000ull + frac;
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
      if (v > (UINT64_MAX - frac) / 1000000000ull) return Bad(text, "out of range");
      return v * 1000000000ull + frac;
    }
  }
  return ParseRfc3339(text, t);
}

namespace {

void Digits(char* p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

// "YYYY-MM-DDTHH:MM:SS" of a second since the epoch (19 bytes), cached per thread: callers
// format events in time order, so consecutive calls mostly hit the same second.
const char* SecondPrefix(uint64_t secs) {
  thread_local uint64_t cached = UINT64_MAX;
  thread_local char prefix[20];
  if (secs != cached) {
    cached = secs;
    // civil_from_days (H. Hinnant's algorithm); uint64 ns reach only year 2554.
    const uint64_t z = secs / 86400 + 719468;
    const uint64_t sod = secs % 86400;
    const uint64_t era = z / 146097;
    const uint64_t doe = z - era * 146097;
    const uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const uint64_t mp = (5 * doy + 2) / 153;
    const uint64_t d = doy - (153 * mp + 2) / 5 + 1;
    const uint64_t m = mp < 10 ? mp + 3 : mp - 9;
    const uint64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    Digits(prefix, y, 4);
    prefix[4] = '-';
    Digits(prefix + 5, m, 2);
    prefix[7] = '-';
    Digits(prefix + 8, d, 2);
    prefix[10] = 'T';
    Digits(prefix + 11, sod / 3600, 2);
    prefix[13] = ':';
    Digits(prefix + 14, sod / 60 % 60, 2);
    prefix[16] = ':';
    Digits(prefix + 17, sod % 60, 2);
  }
  return prefix;
}

}  // namespace

size_t FormatRfc3339NsTo(char* buf, uint64_t ts_ns) {
  std::memcpy(buf, SecondPrefix(ts_ns / 1'000'000'000), 19);
  buf[19] = '.';
  Digits(buf + 20, ts_ns % 1'000'000'000, 9);
  buf[29] = 'Z';
  return 30;
}

size_t FormatIso8601MicrosTo(char* buf, uint64_t ts_ns) {
  std::memcpy(buf, SecondPrefix(ts_ns / 1'000'000'000), 19);
  buf[19] = '.';
  Digits(buf + 20, ts_ns / 1000 % 1'000'000, 6);
  std::memcpy(buf + 26, "+00:00", 6);
  return 32;
}

std::string FormatRfc3339Ns(uint64_t ts_ns) {
  char buf[32];
  return std::string(buf, FormatRfc3339NsTo(buf, ts_ns));
}

std::string FormatIso8601Micros(uint64_t ts_ns) {
  char buf[32];
  return std::string(buf, FormatIso8601MicrosTo(buf, ts_ns));
}

Result<uint64_t> ParseDuration(std::string_view text) {
  const std::string s(text);
  std::string t = s;
  if (!t.empty() && std::isdigit(static_cast<unsigned char>(t.back()))) t += "s";
  if (t == "0s") return uint64_t{0};
  auto r = ParseTime("+" + t, 0);
  if (!r.ok()) {
    return Status::InvalidArgument("'" + s + "' is not a duration (e.g. 30d, 12h, 15m, 900s; a bare number is seconds)");
  }
  return r.value();
}

}  // namespace twin
