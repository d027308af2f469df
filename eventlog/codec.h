// FlatBuffers encoding of events and snapshots. Decoding always runs the FlatBuffers Verifier
// first: a corrupt buffer yields kCorruption, never a crash.
#pragma once

#include <string>
#include <string_view>

#include <flatbuffers/flatbuffers.h>

#include "eventlog/event.h"
#include "eventlog/event_view.h"
#include "eventlog/log.h"
#include "eventlog/status.h"

namespace twin {

// Encodes into builder (cleared first); the bytes are builder.GetBufferPointer()/GetSize().
void EncodeEvent(const Event& e, flatbuffers::FlatBufferBuilder& builder);
std::string EncodeEventToString(const Event& e);
Status DecodeEvent(std::string_view bytes, Event* out);
// The same checks and fields as DecodeEvent; out borrows its strings from bytes.
Status DecodeEventView(std::string_view bytes, EventView* out);
// The same checks, and the kind alone: counting records by kind reads no other field.
Status DecodeEventKind(std::string_view bytes, EventKind* kind);

// host_config_ref: the SHA-256 under which the state's packages, config files, users and groups
// are kept apart (EncodeHostConfig), "" to keep them in the record (self-contained, as bundles).
std::string EncodeSnapshot(const Snapshot& s, const std::string& host_config_ref = "");
// Decodes only the state (skips the diff) — the hot path of StateAt. *host_config_ref receives
// the reference of a snapshot whose host configuration is kept apart ("" when inline).
Status DecodeSnapshotState(std::string_view bytes, State* out,
                           std::string* host_config_ref = nullptr);
// The host-configuration part of a state alone (a State record with only those four lists).
std::string EncodeHostConfig(const State& s);
Status DecodeHostConfigInto(std::string_view bytes, State* out);

}  // namespace twin
