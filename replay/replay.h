// twin-replay: reads a live or copied data dir; never needs twind. ReplayMain is the whole CLI
// so that tests can call it in-process.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "eventlog/log.h"

namespace twin {

int ReplayMain(int argc, char** argv);

// Event filters shared by `events` and the exporters.
struct EventFilter {
  uint64_t since_ns = 0;
  uint64_t until_ns = UINT64_MAX;
  std::vector<EventKind> kinds;  // empty = all
  std::optional<int32_t> pid;
  std::optional<std::string> unit;
  std::optional<uint16_t> port;
  bool Matches(const Event& e) const;
  bool Matches(const EventView& e) const;
};

// Parses "exec,exit" / repeated --kind values into kinds; error names the valid kinds.
Status ParseKinds(const std::vector<std::string>& names, std::vector<EventKind>* out);

// Opens the data dir read-only and prints a one-line error (to stderr) on failure. A log that
// lacks records its chain anchor vouched for (unrecorded) is refused unless for_verify: only
// verify reports on it.
// exit_code (if given) is set to the status to exit with on failure: 1 for a damaged log, 2
// for a missing or unreadable one.
std::unique_ptr<EventLog> OpenForReplayOrExplain(const std::string& data_dir,
                                                 bool for_verify = false,
                                                 int* exit_code = nullptr);
// Prints a read error the one way all readers do (the key or file, then what to do next) and
// returns the exit status: 1 for corruption, 2 otherwise.
int ReportReadError(const Status& s, const std::string& data_dir);

// Streams events matching the filter in key order.
Status ForEachFiltered(const EventLog& log, const EventFilter& f,
                       const std::function<bool(const EventKey&, const Event&)>& fn);

}  // namespace twin
