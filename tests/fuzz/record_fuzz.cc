// The record decoder and verifier on arbitrary bytes. Properties: our table-driven verifier
// accepts exactly what the FlatBuffers Verifier accepts; decoding never crashes; a record that
// decodes re-encodes to one that decodes to the same event; snapshot decoding never crashes.
#include <cstring>
#include <string>
#include <vector>

#include "eventlog/codec.h"
#include "eventlog/codec_fb.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace twin;
  // RocksDB hands out values at arbitrary alignment; FlatBuffers checks alignment relative to
  // the buffer start, so an 8-aligned copy is the strictest honest case.
  std::vector<uint64_t> aligned(size / 8 + 1);
  std::memcpy(aligned.data(), data, size);
  const auto* buf = reinterpret_cast<const uint8_t*>(aligned.data());
  flatbuffers::Verifier fbv(buf, size);
  const bool theirs = fbv.VerifyBuffer<fb::Event>(nullptr);
  const bool ours = VerifyEventRecord(buf, size);
  if (theirs != ours) fuzz::Violated("VerifyEventRecord disagrees with flatbuffers::Verifier");

  const std::string_view bytes(reinterpret_cast<const char*>(buf), size);
  Event e;
  if (DecodeEvent(bytes, &e).ok()) {
    const std::string again = EncodeEventToString(e);
    Event e2;
    if (!DecodeEvent(again, &e2).ok()) fuzz::Violated("a re-encoded event does not decode");
    if (!(e == e2)) fuzz::Violated("a re-encoded event decodes to another event");
  }
  State st;
  (void)DecodeSnapshotState(bytes, &st);  // only must not crash: most inputs are not snapshots
  return 0;
}
