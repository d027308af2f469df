// twind's --log-level / log_level values. spdlog's level::from_str maps an unknown name to
// "off", which would silence the daemon without a word: names are checked here instead.
#pragma once

#include <string_view>

#include <spdlog/common.h>

#include "eventlog/status.h"

namespace twin::capture {

// trace, debug, info, warn, error, critical or off; anything else is kInvalidArgument whose
// message lists the valid names.
Result<spdlog::level::level_enum> ParseLogLevel(std::string_view name);

}  // namespace twin::capture
