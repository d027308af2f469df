// Internal to eventlog/: the FlatBuffers-level helpers shared by the codec and the fold engine.
#pragma once

#include <string_view>

#include "eventlog/event.h"
#include "eventlog/schema/event_generated.h"
#include "eventlog/state.h"
#include "eventlog/status.h"

namespace twin {

// The checks of flatbuffers::Verifier::VerifyBuffer<fb::Event>, faster (record_verify.cc).
bool VerifyEventRecord(const uint8_t* buf, size_t size);
// Runs the record verifier and checks the kind. Returns nullptr and sets *error on failure.
const fb::Event* VerifiedEvent(std::string_view bytes, Status* error);
HostFacts DecodeHost(const fb::HostFacts* h);
Process DecodeProcess(const fb::Process* p);

}  // namespace twin
