// A table-driven verifier for Event records: the checks of
// flatbuffers::Verifier::VerifyBuffer<fb::Event> (bounds, alignment relative to the buffer
// start, offsets, string terminators, vtable sizes, depth and table limits), in one tight
// loop instead of a call per field. Every record read goes through here, so this is the
// read path's fixed cost. tests/core/codec_test.cc (Codec.RecordVerifier*) checks it accepts and rejects exactly what
// the FlatBuffers verifier does, on valid records and on thousands of mutations.
//
// When a field is added to a table in schema/event.fbs, add it to the table's list below:
// Codec.RecordVerifierTablesMatchTheSchema (tests/core/codec_test.cc) compares these lists with
// the compiled schema and fails until they agree.
#include <cstring>

#include "eventlog/codec_fb.h"

namespace twin {
namespace {

enum class Kind : uint8_t { kScalar, kString, kStrings, kTable, kTables };

struct TableSchema;
struct FieldSpec {
  uint16_t vt;
  Kind kind;
  uint8_t size;  // scalars: byte size (= alignment)
  const TableSchema* sub = nullptr;
};
struct TableSchema {
  const FieldSpec* fields;
  size_t count;
};

constexpr FieldSpec kKvFields[] = {
    {fb::KV::VT_K, Kind::kString, 0},
    {fb::KV::VT_V, Kind::kString, 0},
};
constexpr TableSchema kKv{kKvFields, std::size(kKvFields)};

constexpr FieldSpec kDiskFields[] = {
    {fb::Disk::VT_NAME, Kind::kString, 0},
    {fb::Disk::VT_SIZE_BYTES, Kind::kScalar, 8},
    {fb::Disk::VT_MOUNT, Kind::kString, 0},
};
constexpr TableSchema kDisk{kDiskFields, std::size(kDiskFields)};

constexpr FieldSpec kHostFields[] = {
    {fb::HostFacts::VT_HOSTNAME, Kind::kString, 0},
    {fb::HostFacts::VT_KERNEL, Kind::kString, 0},
    {fb::HostFacts::VT_OS, Kind::kString, 0},
    {fb::HostFacts::VT_MACHINE_ID, Kind::kString, 0},
    {fb::HostFacts::VT_BOOT_ID, Kind::kString, 0},
    {fb::HostFacts::VT_CPUS, Kind::kScalar, 4},
    {fb::HostFacts::VT_MEM_BYTES, Kind::kScalar, 8},
    {fb::HostFacts::VT_DISKS, Kind::kTables, 0, &kDisk},
};
constexpr TableSchema kHost{kHostFields, std::size(kHostFields)};

using E = fb::Event;
constexpr FieldSpec kEventFields[] = {
    {E::VT_KIND, Kind::kScalar, 1},
    {E::VT_TS_NS, Kind::kScalar, 8},
    {E::VT_BOOTTIME_NS, Kind::kScalar, 8},
    {E::VT_PID, Kind::kScalar, 4},
    {E::VT_PPID, Kind::kScalar, 4},
    {E::VT_START_NS, Kind::kScalar, 8},
    {E::VT_PARENT_START_NS, Kind::kScalar, 8},
    {E::VT_UID, Kind::kScalar, 4},
    {E::VT_GID, Kind::kScalar, 4},
    {E::VT_COMM, Kind::kString, 0},
    {E::VT_EXE, Kind::kString, 0},
    {E::VT_CWD, Kind::kString, 0},
    {E::VT_ARGV, Kind::kStrings, 0},
    {E::VT_ARGV_TRUNCATED, Kind::kScalar, 1},
    {E::VT_CGROUP, Kind::kString, 0},
    {E::VT_UNIT, Kind::kString, 0},
    {E::VT_CONTAINER_ID, Kind::kString, 0},
    {E::VT_EXIT_CODE, Kind::kScalar, 4},
    {E::VT_SIGNAL, Kind::kScalar, 4},
    {E::VT_CORE_DUMPED, Kind::kScalar, 1},
    {E::VT_DURATION_NS, Kind::kScalar, 8},
    {E::VT_PROTO, Kind::kScalar, 1},
    {E::VT_FAMILY, Kind::kScalar, 1},
    {E::VT_ADDR, Kind::kString, 0},
    {E::VT_PORT, Kind::kScalar, 2},
    {E::VT_SOCK_INODE, Kind::kScalar, 8},
    {E::VT_RESULT, Kind::kScalar, 4},
    {E::VT_UNIT_FILE_PATH, Kind::kString, 0},
    {E::VT_UNIT_FILE_SHA256, Kind::kString, 0},
    {E::VT_UNIT_FILE_CONTENT, Kind::kString, 0},
    {E::VT_HOST, Kind::kTable, 0, &kHost},
    {E::VT_GAP_START_NS, Kind::kScalar, 8},
    {E::VT_GAP_END_NS, Kind::kScalar, 8},
    {E::VT_LOST, Kind::kScalar, 8},
    {E::VT_REASON, Kind::kString, 0},
    {E::VT_RESYNC_OP, Kind::kScalar, 1},
    {E::VT_RESYNC_ENTITY, Kind::kScalar, 1},
    {E::VT_ATTRS, Kind::kTables, 0, &kKv},
    {E::VT_EXE_TRUNCATED, Kind::kScalar, 1},
    {E::VT_CWD_TRUNCATED, Kind::kScalar, 1},
};
constexpr TableSchema kEvent{kEventFields, std::size(kEventFields)};

class RecordVerifier {
 public:
  RecordVerifier(const uint8_t* buf, size_t size) : b_(buf), n_(size) {}

  bool Root() {
    using flatbuffers::soffset_t;
    using flatbuffers::uoffset_t;
    if (n_ < FLATBUFFERS_MIN_BUFFER_SIZE) return false;
    const size_t o = Offset(0);
    return o != 0 && Table(o, kEvent);
  }

 private:
  static constexpr size_t kMaxDepth = 64;       // flatbuffers::Verifier's defaults
  static constexpr size_t kMaxTables = 1000000;

  template <typename T>
  T Read(size_t at) const {
    return flatbuffers::ReadScalar<T>(b_ + at);
  }
  // [elem, elem + len) lies inside the buffer (same strictness as flatbuffers: len < size).
  bool In(size_t elem, size_t len) const { return len < n_ && elem <= n_ - len; }
  static bool Aligned(size_t elem, size_t align) { return (elem & (align - 1)) == 0; }

  // The uoffset stored at `at`, or 0 if it is unreadable, zero, negative or points outside.
  size_t Offset(size_t at) const {
    if (!Aligned(at, 4) || !In(at, 4)) return 0;
    const uint32_t o = Read<uint32_t>(at);
    if (o == 0 || static_cast<int32_t>(o) < 0 || !In(at + o, 1)) return 0;
    return o;
  }

  // A vector (or string) at v with elements of elem_size bytes; *count = its length.
  bool Vector(size_t v, size_t elem_size, uint32_t* count, size_t* end) const {
    if (!Aligned(v, 4) || !In(v, 4)) return false;
    *count = Read<uint32_t>(v);
    if (!(*count < FLATBUFFERS_MAX_BUFFER_SIZE / elem_size)) return false;
    const size_t bytes = 4 + elem_size * *count;
    *end = v + bytes;
    return In(v, bytes);
  }

  bool String(size_t s) const {
    uint32_t count;
    size_t end;
    return Vector(s, 1, &count, &end) && In(end, 1) && b_[end] == 0;
  }

  // The element i of a vector of offsets at v: the position it points at.
  size_t Element(size_t v, uint32_t i) const {
    const size_t at = v + 4 + size_t{4} * i;
    return at + Read<uint32_t>(at);
  }

  bool Table(size_t t, const TableSchema& schema) {
    if (!Aligned(t, 4) || !In(t, 4)) return false;
    const size_t vt = t - static_cast<size_t>(Read<int32_t>(t));
    if (++depth_ > kMaxDepth || ++tables_ > kMaxTables) return false;
    if (!Aligned(vt, 2) || !In(vt, 2)) return false;
    const uint16_t vsize = Read<uint16_t>(vt);
    if ((vsize & 1) != 0 || !In(vt, vsize)) return false;
    for (size_t i = 0; i < schema.count; ++i) {
      const FieldSpec& f = schema.fields[i];
      const uint16_t fo = f.vt < vsize ? Read<uint16_t>(vt + f.vt) : 0;
      if (fo == 0) continue;
      const size_t at = t + fo;
      if (f.kind == Kind::kScalar) {
        if (!Aligned(at, f.size) || !In(at, f.size)) return false;
        continue;
      }
      const size_t o = Offset(at);
      if (o == 0) return false;
      const size_t target = at + o;
      switch (f.kind) {
        case Kind::kString:
          if (!String(target)) return false;
          break;
        case Kind::kTable:
          if (!Table(target, *f.sub)) return false;
          break;
        case Kind::kStrings:
        case Kind::kTables: {
          uint32_t count;
          size_t end;
          if (!Vector(target, 4, &count, &end)) return false;
          for (uint32_t k = 0; k < count; ++k) {
            const size_t e = Element(target, k);
            if (f.kind == Kind::kStrings ? !String(e) : !Table(e, *f.sub)) return false;
          }
          break;
        }
        case Kind::kScalar:
          break;
      }
    }
    --depth_;
    return true;
  }

  const uint8_t* b_;
  size_t n_;
  size_t depth_ = 0;
  size_t tables_ = 0;
};

}  // namespace

bool VerifyEventRecord(const uint8_t* buf, size_t size) {
  return RecordVerifier(buf, size).Root();
}

std::vector<VerifierField> RecordVerifierTable(std::string_view table) {
  const std::pair<std::string_view, const TableSchema*> tables[] = {
      {"Event", &kEvent}, {"HostFacts", &kHost}, {"Disk", &kDisk}, {"KV", &kKv}};
  auto name_of = [&](const TableSchema* t) {
    for (const auto& [n, s] : tables)
      if (s == t) return std::string(n);
    return std::string("?");
  };
  std::vector<VerifierField> out;
  for (const auto& [name, schema] : tables) {
    if (name != table) continue;
    for (size_t i = 0; i < schema->count; ++i) {
      const FieldSpec& f = schema->fields[i];
      VerifierField v;
      v.vt = f.vt;
      v.size = f.size;
      v.sub = f.sub ? name_of(f.sub) : "";
      switch (f.kind) {
        case Kind::kScalar: v.kind = VerifierField::kScalar; break;
        case Kind::kString: v.kind = VerifierField::kString; break;
        case Kind::kStrings: v.kind = VerifierField::kStrings; break;
        case Kind::kTable: v.kind = VerifierField::kTable; break;
        case Kind::kTables: v.kind = VerifierField::kTables; break;
      }
      out.push_back(std::move(v));
    }
  }
  return out;
}

}  // namespace twin
