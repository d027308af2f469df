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

// One JSON object for an event: kind, time (RFC 3339 ns), ts_ns, seq, mono_ns and the kind's
// own fields.
void EventToJson(const EventKey& key, const Event& e, JsonWriter& w);
void EventToJson(const EventKey& key, const EventView& e, JsonWriter& w);  // the same bytes
std::string EventSummary(const Event& e);  // the DETAIL column of the events table

void StateToJson(const State& s, uint64_t at_ns, JsonWriter& w);
std::string StateTable(const State& s, uint64_t at_ns);
void ProcessToJson(const Process& p, JsonWriter& w);
void ListenerToJson(const Listener& l, JsonWriter& w);
void UnitToJson(const Unit& u, JsonWriter& w, bool with_content);
void HostToJson(const HostFacts& h, JsonWriter& w);

void DiffToJson(const StateDiff& d, uint64_t t1, uint64_t t2, JsonWriter& w);
std::string DiffTable(const StateDiff& d, uint64_t t1, uint64_t t2);

}  // namespace twin
