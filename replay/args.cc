#include "replay/args.h"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "eventlog/timefmt.h"

namespace twin {
namespace {

Status Bad(std::string_view what, const std::string& why) {
  return Status::InvalidArgument(std::string(what) + ": " + why);
}

std::string Quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

// Decimal digits only (no sign, no spaces, no leading '+'), within [lo, hi].
Result<uint64_t> ParseBounded(std::string_view what, std::string_view text, uint64_t lo,
                              uint64_t hi, std::string_view noun) {
  const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
  bool digits = !text.empty();
  for (char c : text) digits = digits && c >= '0' && c <= '9';
  if (!digits) {
    return Bad(what, Quoted(text) + " is not a " + std::string(noun) + " (a whole number " + range + ")");
  }
  uint64_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec == std::errc::result_out_of_range || (r.ec == std::errc() && v > hi)) {
    return Bad(what, Quoted(text) + " is too large (" + range + ")");
  }
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) {
    return Bad(what, Quoted(text) + " is not a " + std::string(noun) + " (" + range + ")");
  }
  if (v < lo) return Bad(what, Quoted(text) + " is too small (" + range + ")");
  return v;
}

}  // namespace

Result<uint64_t> ParseCountArg(std::string_view what, std::string_view text) {
  auto r = ParseBounded(what, text, 1, UINT64_MAX, "count");
  if (!r.ok() && text == "0") {
    return Bad(what, "must be at least 1 (leave " + std::string(what) + " out for no limit)");
  }
  return r;
}

Result<int32_t> ParsePidArg(std::string_view what, std::string_view text) {
  auto r = ParseBounded(what, text, 1, kPidMaxLimit, "pid");
  if (!r.ok()) return r.status();
  return static_cast<int32_t>(r.value());
}

Result<uint16_t> ParsePortArg(std::string_view what, std::string_view text) {
  auto r = ParseBounded(what, text, 0, 65535, "port");
  if (!r.ok()) return r.status();
  return static_cast<uint16_t>(r.value());
}

Result<uint64_t> ParseTimeArg(std::string_view what, std::string_view text, uint64_t now_ns) {
  auto r = ParseTime(text, now_ns);
  if (!r.ok()) return Bad(what, r.status().message());
  return r;
}

Status CheckTimeOrder(std::string_view from_what, uint64_t from_ns, std::string_view to_what,
                      uint64_t to_ns) {
  if (from_ns <= to_ns) return Status::Ok();
  return Status::InvalidArgument(std::string(to_what) + " (" + FormatRfc3339Ns(to_ns) + ") is before " +
                                 std::string(from_what) + " (" + FormatRfc3339Ns(from_ns) +
                                 "); swap them");
}

Status CheckDataDirArg(std::string_view what, const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();  // the log's own "does not exist" message says more
    return Status::IOError(std::string(what) + ": cannot stat " + dir + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument(std::string(what) + ": " + dir +
                                   " is not a directory; pass the safetytwin data dir (default " +
                                   kDefaultDataDir + ")");
  }
  return Status::Ok();
}

Status CheckWithinLog(const EventLog& log, std::string_view what, uint64_t t_ns) {
  auto first = log.First();
  if (!first.ok()) return first.status();
  if (!first.value()) {
    return Status::NotFound(std::string(what) + ": the log has no records yet; nothing is known about " +
                            FormatRfc3339Ns(t_ns));
  }
  const uint64_t first_ns = first.value()->key.ts_ns;
  if (t_ns >= first_ns) return Status::Ok();
  return Status::InvalidArgument(std::string(what) + ": " + FormatRfc3339Ns(t_ns) +
                                 " is before the log's first record (" + FormatRfc3339Ns(first_ns) +
                                 "); the host's state then is unknown");
}

}  // namespace twin
