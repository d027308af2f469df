#include "userspace/log_level.h"

#include <array>
#include <string>
#include <utility>

namespace twin::capture {

Result<spdlog::level::level_enum> ParseLogLevel(std::string_view name) {
  using spdlog::level::level_enum;
  static constexpr std::array<std::pair<std::string_view, level_enum>, 7> kLevels{{
      {"trace", level_enum::trace},
      {"debug", level_enum::debug},
      {"info", level_enum::info},
      {"warn", level_enum::warn},
      {"error", level_enum::err},
      {"critical", level_enum::critical},
      {"off", level_enum::off},
  }};
  for (const auto& [n, level] : kLevels) {
    if (name == n) return level;
  }
  return Status::InvalidArgument("unknown log level '" + std::string(name) +
                                 "' (use trace, debug, info, warn, error, critical or off)");
}

}  // namespace twin::capture
