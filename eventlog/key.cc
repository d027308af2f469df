// Event keys: 16 big-endian bytes whose byte order is time order.
#include "eventlog/log.h"

#include "eventlog/log_internal.h"
#include "format/codec.h"

namespace twin {

EventKey NextKey(const EventKey& k) {
  return k.seq == UINT64_MAX ? EventKey{k.ts_ns + 1, 0} : EventKey{k.ts_ns, k.seq + 1};
}

std::string EncodeKey(const EventKey& k) {
  std::string out(16, '\0');
  PutBE64(out.data(), k.ts_ns);
  PutBE64(out.data() + 8, k.seq);
  return out;
}

bool DecodeKey(std::string_view bytes, EventKey* out) {
  if (bytes.size() != 16) return false;
  out->ts_ns = GetBE64(bytes.data());
  out->seq = GetBE64(bytes.data() + 8);
  return true;
}

std::string KeyToString(const EventKey& k) {
  return std::to_string(k.ts_ns) + ":" + std::to_string(k.seq);
}

std::string HashHex(const Hash& h) {
  return HexEncode(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

}  // namespace twin
