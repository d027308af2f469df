// sd_notify(3) that never blocks: a notify socket nobody drains (a test harness, a wedged
// manager) must not stall capture or shutdown, so the datagram is sent with MSG_DONTWAIT and
// dropped when the peer's queue is full. No-op without $NOTIFY_SOCKET; "@name" is the abstract
// namespace.
#pragma once

#include <string>

namespace twin::capture {

// Returns whether the datagram was sent (false: no socket set, a path too long, or not sent).
bool NotifyManager(const std::string& msg);

}  // namespace twin::capture
