// twin-replay: reads a live or copied data dir; never needs twind. ReplayMain is the whole CLI
// (the command tree is in replay/cli.h) so that tests can call it in-process.
#pragma once

#include <memory>
#include <string>

#include "eventlog/filter.h"
#include "eventlog/log.h"

namespace twin {

int ReplayMain(int argc, char** argv);

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

}  // namespace twin
