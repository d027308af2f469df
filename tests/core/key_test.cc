#include <random>

#include <gtest/gtest.h>

#include "eventlog/codec.h"
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
  e.mono_ns = 2;
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

}  // namespace
}  // namespace twin
