// twin-replay's command-line values, checked at the border. Every failure is a Status whose
// message is one line that starts with the argument's name ("--limit: ..."), so each command
// prints it as it is (through PrintError, which escapes what the user typed).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "eventlog/log.h"
#include "eventlog/status.h"

namespace twin {

// The kernel's PID_MAX_LIMIT (include/linux/threads.h): no pid is ever larger.
constexpr int32_t kPidMaxLimit = 4 * 1024 * 1024;

// A count such as --limit: decimal digits only, 1 up to UINT64_MAX ("0", "-1", "1e3" and
// numbers beyond 64 bits are errors; leaving the option out means no limit).
Result<uint64_t> ParseCountArg(std::string_view what, std::string_view text);
// A pid: 1 .. kPidMaxLimit.
Result<int32_t> ParsePidArg(std::string_view what, std::string_view text);
// A TCP/UDP port: 0 .. 65535.
Result<uint16_t> ParsePortArg(std::string_view what, std::string_view text);
// A time (ParseTime's forms); the message names the argument.
Result<uint64_t> ParseTimeArg(std::string_view what, std::string_view text, uint64_t now_ns);
// from <= to, or an error naming both ("T1 ... is after T2 ...; swap them").
Status CheckTimeOrder(std::string_view from_what, uint64_t from_ns, std::string_view to_what,
                      uint64_t to_ns);
// A data dir that exists must be a directory (a missing one is left to the log's own message).
Status CheckDataDirArg(std::string_view what, const std::string& dir);
// The log knows nothing before its first record: a state "at T" before it would be an empty
// state passed off as certain. Errors name the argument, T and the first record's time.
Status CheckWithinLog(const EventLog& log, std::string_view what, uint64_t t_ns);

}  // namespace twin
