// Internal to eventlog/: the FlatBuffers-level helpers shared by the codec and the fold engine.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "eventlog/event.h"
#include "eventlog/schema/event_generated.h"
#include "eventlog/state.h"
#include "eventlog/status.h"

namespace twin {

// The checks of flatbuffers::Verifier::VerifyBuffer<fb::Event>, faster (record_verify.cc).
bool VerifyEventRecord(const uint8_t* buf, size_t size);
// The verifier's hand-kept field list of a table ("Event", "HostFacts", "Disk", "KV"), for the
// test that checks it against the compiled schema.
struct VerifierField {
  enum Kind { kScalar, kString, kStrings, kTable, kTables } kind = kScalar;
  uint16_t vt = 0;      // vtable offset
  uint8_t size = 0;     // scalars: byte size
  std::string sub;      // tables: the table's name
};
std::vector<VerifierField> RecordVerifierTable(std::string_view table);
// Runs the record verifier and checks the kind. Returns nullptr and sets *error on failure.
const fb::Event* VerifiedEvent(std::string_view bytes, Status* error);
HostFacts DecodeHost(const fb::HostFacts* h);
Process DecodeProcess(const fb::Process* p);

}  // namespace twin
