// Time parsing and formatting for the CLI and exports. All times are ns since the Unix epoch.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "eventlog/status.h"

namespace twin {

uint64_t WallNowNs();

// Accepts "now", RFC 3339 ("2026-11-26T03:12:07Z", fractional seconds, +hh:mm offsets),
// epoch seconds ("1764126727", "1764126727.25"), epoch ns (16+ digits) and relative times
// ("-5m", "-2h", "-30s", "-1d", "-500ms"; units ns us ms s m h d w).
Result<uint64_t> ParseTime(std::string_view text, uint64_t now_ns);

// A duration: a number and a unit as in relative times ("30d", "12h", "90m", "900s", "500ms";
// units ns us ms s m h d w), a bare number being seconds, "0" zero. In ns.
Result<uint64_t> ParseDuration(std::string_view text);

// "2026-11-26T03:12:07.123456789Z" (always 9 fractional digits, UTC).
std::string FormatRfc3339Ns(uint64_t ts_ns);
// "2026-11-26T03:12:07.123456+00:00" (µs, explicit offset) — what Timesketch expects.
std::string FormatIso8601Micros(uint64_t ts_ns);
// The same into buf (at least 32 bytes, not NUL-terminated); return the length (30, 32).
// No allocation and no snprintf: the per-event paths of exports and JSON use these.
size_t FormatRfc3339NsTo(char* buf, uint64_t ts_ns);
size_t FormatIso8601MicrosTo(char* buf, uint64_t ts_ns);

}  // namespace twin
