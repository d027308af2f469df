// Rendering of events, states and diffs as human tables and as JSON. Host strings are hostile:
// tables show them with control and non-UTF-8 bytes escaped (\n, \x1b, ...), JSON escapes them
// losslessly (see json_writer.h).
#pragma once

#include <string>

#include "eventlog/event.h"
#include "eventlog/event_view.h"
#include "eventlog/state.h"
#include "format/json_writer.h"
#include "format/terminal.h"

namespace twin {

std::string JoinArgv(const std::vector<std::string>& argv);  // escaped, space-joined
std::string ProtoName(uint8_t proto);   // "tcp", "udp"
std::string FamilyName(uint8_t family); // "ipv4", "ipv6"
std::string Endpoint(const std::string& addr, uint8_t family, uint16_t port);  // [::1]:80
std::string_view ResyncOpName(ResyncOp op);              // "upsert", "remove", "complete"
std::string_view ResyncEntityName(ResyncEntity entity);  // "process", "listener", "unit"

// One JSON object for an event: kind, time (RFC 3339 ns), ts_ns, seq, mono_ns (boottime_ns) and the kind's
// own fields: the canonical rendering of the record alone (bundles' events.jsonl).
void EventToJson(const EventKey& key, const Event& e, JsonWriter& w);
void EventToJson(const EventKey& key, const EventView& e, JsonWriter& w);  // the same bytes
// The same with the process ids (eventlog/process_id.h) a record does not hold itself: boot_id is
// the host's boot id in effect at the event (the last host facts at or before it). Events with a
// process (pid and start_ns) get "process_id"; those that carry the parent's start (exec, fork,
// a process resync) get "parent_process_id".
void EventToJson(const EventKey& key, const Event& e, std::string_view boot_id, JsonWriter& w);
void EventToJson(const EventKey& key, const EventView& e, std::string_view boot_id, JsonWriter& w);
std::string EventSummary(const Event& e);  // the DETAIL column of the events table

// Processes carry "id" and "parent_id" (when the parent's start is known), listeners the
// owner's "process_id", made with the state's boot id (s.host.boot_id): after a reboot the
// start-up resync removes the previous boot's processes.
void StateToJson(const State& s, uint64_t at_ns, JsonWriter& w);
std::string StateTable(const State& s, uint64_t at_ns);
void ProcessToJson(const Process& p, std::string_view boot_id, JsonWriter& w);
void ListenerToJson(const Listener& l, std::string_view boot_id, JsonWriter& w);
void UnitToJson(const Unit& u, JsonWriter& w, bool with_content);
void HostToJson(const HostFacts& h, JsonWriter& w);
void PackageToJson(const Package& p, JsonWriter& w);
void ConfigFileToJson(const ConfigFile& f, JsonWriter& w);  // metadata only, never the content
void UserToJson(const User& u, JsonWriter& w);
void GroupToJson(const Group& g, JsonWriter& w);
void UnitConfigToJson(const UnitConfig& u, JsonWriter& w);  // metadata only, never the content

// boot_before / boot_after: the two states' boot ids (for the ids of removed and added entities).
void DiffToJson(const StateDiff& d, uint64_t t1, uint64_t t2, std::string_view boot_before,
                std::string_view boot_after, JsonWriter& w);
std::string DiffTable(const StateDiff& d, uint64_t t1, uint64_t t2);

}  // namespace twin
