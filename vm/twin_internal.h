// Helpers shared by the twin's translation units (twin.cc, twin_at.cc). Not a public header.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "eventlog/status.h"

namespace twin::vm::internal {

using Clock = std::chrono::steady_clock;
uint64_t NowNs();
double MsSince(Clock::time_point t0);
std::string CompactTime(uint64_t ns);  // 20261203T175819Z
Result<std::string> ReadAll(const std::string& path);
Status WriteAtomic(const std::string& path, const std::string& content);

}  // namespace twin::vm::internal
