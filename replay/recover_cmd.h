// twin-replay recover: salvage a data dir that cannot be opened into a new one.
#pragma once

#include <string>

namespace twin {

// Exit status: 0 everything the log had vouched for is back and verifies, 1 the salvaged log
// lacks records or fails verification (the report says which), 2 bad arguments or no log.
int CmdRecover(const std::string& data_dir, const std::string& out, bool json);

}  // namespace twin
