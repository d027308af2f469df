// The event key and record codecs: key byte order, every field round-trips, corrupt bytes.
#include <fstream>
#include <iterator>
#include <map>
#include <random>

#include <flatbuffers/reflection.h>
#include <gtest/gtest.h>

#include "eventlog/codec.h"
#include "eventlog/codec_fb.h"
#include "eventlog/synth.h"
#include "eventlog/log.h"

namespace twin {
namespace {

TEST(EventKey, ByteOrderEqualsTimeOrder) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 100000; ++i) {
    EventKey a{rng() >> (rng() % 64), rng() >> (rng() % 64)};
    EventKey b{rng() % 3 == 0 ? a.ts_ns : rng() >> (rng() % 64), rng() >> (rng() % 64)};
    const std::string ea = EncodeKey(a), eb = EncodeKey(b);
    ASSERT_EQ(ea.size(), 16u);
    EXPECT_EQ(a < b, ea < eb) << KeyToString(a) << " vs " << KeyToString(b);
    EventKey back;
    ASSERT_TRUE(DecodeKey(ea, &back));
    EXPECT_EQ(back, a);
  }
}

TEST(EventKey, RejectsWrongLength) {
  EventKey k;
  EXPECT_FALSE(DecodeKey("short", &k));
}

TEST(Codec, RoundTripsEveryField) {
  Event e;
  e.kind = EventKind::kProcessExec;
  e.ts_ns = 1;
  e.boottime_ns = 2;
  e.pid = 3;
  e.ppid = 4;
  e.start_ns = 5;
  e.parent_start_ns = 6;
  e.uid = 7;
  e.gid = 8;
  e.comm = "c";
  e.exe = "/e";
  e.cwd = "/w";
  e.argv = {"a", std::string("\0b\xff", 3), "{{ x }}"};
  e.argv_truncated = true;
  e.exe_truncated = true;
  e.cwd_truncated = true;
  e.cgroup = "/cg";
  e.unit = "u.service";
  e.container_id = "abc";
  e.exit_code = 9;
  e.signal = 10;
  e.core_dumped = true;
  e.duration_ns = 11;
  e.proto = kProtoUdp;
  e.family = kFamilyInet6;
  e.addr = "::1";
  e.port = 53;
  e.sock_inode = 12;
  e.result = -98;
  e.unit_file_path = "/p";
  e.unit_file_sha256 = "ff";
  e.unit_file_content = "[Unit]";
  e.host.hostname = "h";
  e.host.disks = {{"vda", 1, "/"}};
  e.gap_start_ns = 13;
  e.gap_end_ns = 14;
  e.lost = 15;
  e.reason = "r";
  e.resync_op = ResyncOp::kUpsert;
  e.resync_entity = ResyncEntity::kListener;
  e.attrs = {{"k", "v"}};
  Event d;
  ASSERT_TRUE(DecodeEvent(EncodeEventToString(e), &d).ok());
  EXPECT_EQ(d, e);
}

TEST(Codec, CorruptBytesGiveCorruptionNotCrash) {
  Event e;
  e.kind = EventKind::kProcessExec;
  e.argv = {"x", "y"};
  std::string bytes = EncodeEventToString(e);
  std::mt19937 rng(7);
  int corrupt = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string b = bytes;
    b[rng() % b.size()] ^= static_cast<char>(1 + rng() % 255);
    if (rng() % 5 == 0) b.resize(rng() % b.size());
    Event d;
    Status s = DecodeEvent(b, &d);
    if (!s.ok()) {
      EXPECT_EQ(s.code(), Status::Code::kCorruption);
      ++corrupt;
    }
  }
  EXPECT_GT(corrupt, 0);
  Event d;
  EXPECT_EQ(DecodeEvent("", &d).code(), Status::Code::kCorruption);
  EXPECT_EQ(DecodeEvent("garbage garbage garbage", &d).code(), Status::Code::kCorruption);
}

// The table-driven record verifier must accept and reject exactly what the FlatBuffers
// verifier does: on valid records of every kind and on mutations of every part of a record.
TEST(Codec, RecordVerifierAgreesWithFlatBuffersVerifier) {
  std::vector<std::string> seeds;
  Event full;
  full.kind = EventKind::kHostFacts;
  full.ts_ns = 1;
  full.pid = 3;
  full.comm = "comm";
  full.exe = "/usr/bin/x";
  full.argv = {"a", "bb", std::string("\0c\xff", 3)};
  full.argv_truncated = true;
  full.exe_truncated = true;
  full.cwd_truncated = true;
  full.cgroup = "/system.slice/x.service";
  full.unit = "x.service";
  full.container_id = "abc";
  full.addr = "::1";
  full.port = 22;
  full.unit_file_content = "[Service]";
  full.host.hostname = "h";
  full.host.kernel = "6.1";
  full.host.cpus = 2;
  full.host.mem_bytes = 1 << 30;
  full.host.disks = {{"vda", 1, "/"}, {"vdb", 2, "/srv"}};
  full.reason = "r";
  full.attrs = {{"k", "v"}, {"k2", "v2"}, {"k3", ""}};
  seeds.push_back(EncodeEventToString(full));
  SynthOptions o;
  o.hostile_strings = true;
  SynthGenerator g(o);
  for (int i = 0; i < 40; ++i) seeds.push_back(EncodeEventToString(g.Next()));

  auto flatbuffers_ok = [](const std::string& b) {
    flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(b.data()), b.size());
    return v.VerifyBuffer<fb::Event>(nullptr);
  };
  auto ours_ok = [](const std::string& b) {
    return VerifyEventRecord(reinterpret_cast<const uint8_t*>(b.data()), b.size());
  };
  std::mt19937 rng(99);
  int accepted = 0, rejected = 0;
  for (const std::string& seed : seeds) {
    ASSERT_TRUE(flatbuffers_ok(seed));
    ASSERT_TRUE(ours_ok(seed));
    for (int i = 0; i < 3000; ++i) {
      std::string b = seed;
      switch (rng() % 4) {
        case 0:  // one byte
          b[rng() % b.size()] ^= static_cast<char>(1 + rng() % 255);
          break;
        case 1: {  // a 4-byte little-endian value at an aligned position (offsets, lengths)
          const size_t at = (rng() % (b.size() / 4)) * 4;
          const uint32_t v = rng() % 3 == 0 ? rng() : rng() % (2 * b.size());
          std::memcpy(&b[at], &v, std::min<size_t>(4, b.size() - at));
          break;
        }
        case 2: {  // a 2-byte value (vtable entries, vtable sizes)
          const size_t at = (rng() % (b.size() / 2)) * 2;
          const uint16_t v = static_cast<uint16_t>(rng() % (2 * b.size()));
          std::memcpy(&b[at], &v, std::min<size_t>(2, b.size() - at));
          break;
        }
        default:  // truncated
          b.resize(rng() % b.size());
      }
      const bool want = flatbuffers_ok(b);
      ASSERT_EQ(ours_ok(b), want) << "seed record " << (&seed - &seeds[0]) << " mutation " << i;
      ++(want ? accepted : rejected);
    }
  }
  // Both outcomes must be well represented for the comparison to mean anything.
  EXPECT_GT(accepted, 10000);
  EXPECT_GT(rejected, 10000);
}

}  // namespace
}  // namespace twin

namespace twin {
namespace {

// record_verify.cc keeps each table's fields by hand on the memory-safety path of every read. The
// compiled schema (flatc --binary --schema) is the truth: a field added to event.fbs and not to
// the verifier's list (or listed with another type or size) fails here.
TEST(Codec, RecordVerifierTablesMatchTheSchema) {
  std::ifstream f(TWIN_EVENT_BFBS, std::ios::binary);
  ASSERT_TRUE(f) << "cannot read " << TWIN_EVENT_BFBS;
  const std::string bfbs((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(bfbs.data()), bfbs.size());
  ASSERT_TRUE(reflection::VerifySchemaBuffer(v));
  const reflection::Schema* schema = reflection::GetSchema(bfbs.data());
  auto object = [&](std::string_view name) -> const reflection::Object* {
    for (const auto* o : *schema->objects())
      if (o->name()->string_view() == "twin.fb." + std::string(name)) return o;
    return nullptr;
  };
  auto short_name = [](const reflection::Object* o) {
    std::string n = o->name()->str();
    return n.substr(n.rfind('.') + 1);
  };
  for (std::string_view table : {"Event", "HostFacts", "Disk", "KV"}) {
    SCOPED_TRACE(std::string(table));
    const reflection::Object* o = object(table);
    ASSERT_NE(o, nullptr) << "no table twin.fb." << table << " in the schema";
    std::map<uint16_t, VerifierField> expect;
    for (const auto* field : *o->fields()) {
      VerifierField e;
      e.vt = field->offset();
      const auto* t = field->type();
      switch (t->base_type()) {
        case reflection::String: e.kind = VerifierField::kString; break;
        case reflection::Obj:
          e.kind = VerifierField::kTable;
          e.sub = short_name(schema->objects()->Get(t->index()));
          break;
        case reflection::Vector:
          if (t->element() == reflection::String) {
            e.kind = VerifierField::kStrings;
          } else {
            ASSERT_EQ(t->element(), reflection::Obj) << field->name()->str() << ": a vector of scalars";
            e.kind = VerifierField::kTables;
            e.sub = short_name(schema->objects()->Get(t->index()));
          }
          break;
        default:
          ASSERT_TRUE(flatbuffers::IsScalar(t->base_type()))
              << field->name()->str();
          e.kind = VerifierField::kScalar;
          e.size = static_cast<uint8_t>(flatbuffers::GetTypeSize(t->base_type()));
          break;
      }
      expect[e.vt] = e;
      ASSERT_FALSE(expect.empty());
    }
    std::map<uint16_t, VerifierField> got;
    for (const VerifierField& g : RecordVerifierTable(table)) got[g.vt] = g;
    for (const auto& [vt, e] : expect) {
      auto it = got.find(vt);
      ASSERT_NE(it, got.end()) << "field at vtable offset " << vt
                               << " is in event.fbs but not in record_verify.cc's list";
      EXPECT_EQ(it->second.kind, e.kind) << "vt " << vt;
      EXPECT_EQ(it->second.size, e.size) << "vt " << vt;
      EXPECT_EQ(it->second.sub, e.sub) << "vt " << vt;
    }
    for (const auto& [vt, g] : got) {
      EXPECT_TRUE(expect.count(vt)) << "record_verify.cc lists vt " << vt << ", which event.fbs lacks";
    }
  }
}

}  // namespace
}  // namespace twin
