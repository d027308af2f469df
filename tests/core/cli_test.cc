// twin-replay end to end: the real binary on a real log.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eventlog/codec.h"
#include "eventlog/compactor.h"
#include "eventlog/filter.h"
#include "eventlog/log.h"
#include "eventlog/synth.h"
#include "eventlog/timefmt.h"
#include "format/render.h"
#include "tests/common/replay_run.h"
#include "tests/core/test_util.h"

namespace twin {
namespace {

using testing::CmdRun;
using testing::Replay;
using testing::Slurp;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = t_.sub("data");
    auto log = std::move(EventLog::OpenWriter(dir_).value());
    Compactor c(*log);
    auto add = [&](Event e) {
      e.ts_ns = ts_ += 1'000'000'000;
      ASSERT_TRUE(log->Append(e).ok());
    };
    Event exec;
    exec.kind = EventKind::kProcessExec;
    exec.pid = 4242;
    exec.start_ns = 99;
    exec.ppid = 1;
    exec.comm = "evil";
    exec.exe = "/usr/bin/evil";
    exec.argv = {"evil", "{{ lookup('pipe','id') }}", "line\nbreak", "\xff"};
    add(exec);
    t_exec_ = ts_;
    Event listen;
    listen.kind = EventKind::kSocketListen;
    listen.pid = 4242;
    listen.start_ns = 99;
    listen.comm = "evil";
    listen.proto = kProtoTcp;
    listen.family = kFamilyInet;
    listen.addr = "127.0.0.1";
    listen.port = 8088;
    add(listen);
    ASSERT_TRUE(c.RunOnce(ts_).ok());
    Event unit;
    unit.kind = EventKind::kUnitStart;
    unit.unit = "web.service";
    unit.unit_file_path = "/etc/systemd/system/web.service";
    unit.unit_file_sha256 = "ab";
    add(unit);
    t_mid_ = ts_;
    Event exit;
    exit.kind = EventKind::kProcessExit;
    exit.pid = 4242;
    exit.start_ns = 99;
    exit.exit_code = 3;
    add(exit);
    Event close = listen;
    close.kind = EventKind::kListenerClose;
    add(close);
    t_end_ = ts_;
  }
  testing::TempDir t_;
  std::string dir_;
  uint64_t ts_ = 1'764'000'000'000'000'000ull;
  uint64_t t_exec_ = 0, t_mid_ = 0, t_end_ = 0;
};

TEST_F(Cli, StateAtShowsProcessListenerUnit) {
  CmdRun r = Replay(t_, "state --data-dir " + dir_ + " --at " + std::to_string(t_mid_));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("4242"), std::string::npos);
  EXPECT_NE(r.out.find("127.0.0.1:8088"), std::string::npos);
  EXPECT_NE(r.out.find("web.service"), std::string::npos);
  EXPECT_NE(r.out.find("line\\nbreak"), std::string::npos);  // escaped, not a raw newline
  CmdRun j = Replay(t_, "--json state --data-dir " + dir_ + " --at " + FormatRfc3339Ns(t_mid_));
  ASSERT_EQ(j.code, 0) << j.err;
  auto js = nlohmann::json::parse(j.out);
  ASSERT_EQ(js["processes"].size(), 1u);
  EXPECT_EQ(js["processes"][0]["argv"][1], "{{ lookup('pipe','id') }}");
  EXPECT_EQ(js["listeners"][0]["port"], 8088);
  EXPECT_EQ(js["units"][0]["name"], "web.service");
  CmdRun later = Replay(t_, "state --json --data-dir " + dir_ + " --at " + std::to_string(t_end_));
  auto jl = nlohmann::json::parse(later.out);
  EXPECT_EQ(jl["processes"].size(), 0u);
  EXPECT_EQ(jl["listeners"].size(), 0u);
}

TEST_F(Cli, DiffBetweenTwoMoments) {
  CmdRun r = Replay(t_, "diff --json --data-dir " + dir_ + " " + std::to_string(t_exec_) + " " +
                         std::to_string(t_end_));
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["processes"]["removed"].size(), 1u);
  EXPECT_EQ(j["units"]["added"].size(), 1u);
  CmdRun h = Replay(t_, "diff --data-dir " + dir_ + " " + std::to_string(t_exec_) + " " +
                         std::to_string(t_end_));
  EXPECT_NE(h.out.find("+ web.service"), std::string::npos) << h.out;
}

TEST_F(Cli, EventsJsonLinesWithFilters) {
  CmdRun r = Replay(t_, "events --json --data-dir " + dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  std::string line;
  std::vector<nlohmann::json> lines;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0]["kind"], "exec");
  EXPECT_EQ(lines[0]["pid"], 4242);
  EXPECT_EQ(lines[0]["ppid"], 1);
  EXPECT_EQ(lines[0]["exe"], "/usr/bin/evil");
  EXPECT_EQ(lines[0]["argv"].size(), 4u);
  EXPECT_EQ(lines[0]["time"], FormatRfc3339Ns(t_exec_));
  EXPECT_EQ(lines[0]["ts_ns"], t_exec_);
  EXPECT_EQ(lines[1]["port"], 8088);
  EXPECT_EQ(lines[2]["unit"], "web.service");

  auto count = [&](const std::string& args) {
    CmdRun x = Replay(t_, "events --json --data-dir " + dir_ + " " + args);
    EXPECT_EQ(x.code, 0) << x.err;
    return std::count(x.out.begin(), x.out.end(), '\n');
  };
  EXPECT_EQ(count("--kind exec,exit"), 2);
  EXPECT_EQ(count("--kind listen --kind close"), 2);
  EXPECT_EQ(count("--port 8088"), 2);
  EXPECT_EQ(count("--unit web.service"), 1);
  EXPECT_EQ(count("--pid 4242"), 4);
  EXPECT_EQ(count("--since " + std::to_string(t_mid_)), 3);
  EXPECT_EQ(count("--until " + std::to_string(t_mid_)), 3);
  CmdRun table = Replay(t_, "events --data-dir " + dir_);
  EXPECT_NE(table.out.find("KIND"), std::string::npos);
  EXPECT_EQ(std::count(table.out.begin(), table.out.end(), '\n'), 6);
}

TEST_F(Cli, VerifyOkThenTamperedNamesFirstBadKey) {
  CmdRun ok = Replay(t_, "verify --data-dir " + dir_);
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("OK: 5 records"), std::string::npos) << ok.out;
  std::string bad_key;
  {
    testing::RawDb raw(dir_);
    auto rows = raw.All(raw.events());
    EventKey k;
    DecodeKey(rows[2].first, &k);
    bad_key = KeyToString(k);
    std::string v = rows[2].second;
    v[v.size() - 3] ^= 0x5a;
    raw.Put(raw.events(), rows[2].first, v);
  }
  CmdRun bad = Replay(t_, "verify --data-dir " + dir_);
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("first bad key " + bad_key), std::string::npos) << bad.out;
}

TEST_F(Cli, BadInputsGetOneLineErrorsAndNonZeroExit) {
  CmdRun t = Replay(t_, "state --data-dir " + dir_ + " --at yesterday");
  EXPECT_EQ(t.code, 2);
  EXPECT_NE(t.err.find("cannot parse time 'yesterday'"), std::string::npos) << t.err;
  EXPECT_EQ(std::count(t.err.begin(), t.err.end(), '\n'), 1);
  CmdRun m = Replay(t_, "events --data-dir " + t_.sub("missing"));
  EXPECT_EQ(m.code, 2);
  EXPECT_NE(m.err.find("does not exist"), std::string::npos) << m.err;
  CmdRun k = Replay(t_, "events --kind bogus --data-dir " + dir_);
  EXPECT_EQ(k.code, 2);
  EXPECT_NE(k.err.find("valid kinds"), std::string::npos);
  CmdRun u = Replay(t_, "frobnicate");
  EXPECT_EQ(u.code, 2);
}

TEST_F(Cli, CorruptRecordIsAnErrorNotACrash) {
  {
    testing::RawDb raw(dir_);
    auto rows = raw.All(raw.events());
    raw.Put(raw.events(), rows[3].first, rows[3].second.substr(0, 40));
  }
  CmdRun r = Replay(t_, "events --data-dir " + dir_);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("verify"), std::string::npos) << r.err;
  CmdRun v = Replay(t_, "verify --data-dir " + dir_);
  EXPECT_EQ(v.code, 1);
}

// `events --json` writes each record straight from its FlatBuffers bytes (EventView). The oracle
// is the path it replaced: each event decoded into an Event (DecodeEvent, through Scan) and
// rendered from there, on a log of every kind with hostile bytes in every string field, long
// enough to cross the scan's batches.
class EventsJson : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = t_.sub("data");
    auto log = std::move(EventLog::OpenWriter(dir_).value());
    SynthOptions o;
    o.seed = 19;
    o.hostile_strings = true;
    SynthGenerator g(o);
    std::vector<Event> batch;
    for (int round = 0; round < 5; ++round) {
      batch.clear();
      g.Fill(batch, 1000);
      for (Event& e : Hostile(g.now_ns())) batch.push_back(std::move(e));
      ASSERT_TRUE(log->Append(batch).ok());
    }
  }
  // Every kind, each string field hostile, some longer than a machine word with the hostile
  // byte at different offsets.
  static std::vector<Event> Hostile(uint64_t ts) {
    const std::vector<std::string> bad = {
        "{{ lookup('pipe','id') }}\n\"quoted\"\\", std::string("nul\0in the middle of it", 23),
        "0123456789abcdef\x1b[31m", "\xff\xfe raw bytes after", "long and plain but then caf\xc3\xa9",
        "\xed\xa0\x80 surrogate, \xf4\x90\x80\x80 beyond, \xc0\xaf overlong", "tab\tand \x7f del",
        "\xf4\x8f\xbf\xbf the last code point", "\xe2\x80\xae bidi override"};
    std::vector<Event> out;
    size_t n = 0;
    auto str = [&] { return bad[n++ % bad.size()]; };
    for (int k = 1; k <= kEventKindMax; ++k) {
      Event e;
      e.kind = static_cast<EventKind>(k);
      e.ts_ns = ts + k;
      e.boottime_ns = 77 + k;
      e.pid = 4000 + k;
      e.ppid = -1;
      e.start_ns = 1234567890123456789ull;
      e.parent_start_ns = 42;
      e.uid = 4294967295u;
      e.gid = 7;
      e.comm = str();
      e.exe = str();
      e.cwd = str();
      e.argv = {str(), str(), "", str()};
      e.argv_truncated = k % 2;
      e.exe_truncated = k % 3 == 0;
      e.cwd_truncated = k % 5 == 0;
      e.cgroup = str();
      e.unit = str();
      e.container_id = str();
      e.exit_code = -3;
      e.signal = 9;
      e.core_dumped = true;
      e.duration_ns = UINT64_MAX;
      e.proto = k % 2 ? kProtoTcp : 99;
      e.family = k % 2 ? kFamilyInet6 : 200;
      e.addr = str();
      e.port = 65535;
      e.sock_inode = k % 2 ? 0 : 123;
      e.result = -98;
      e.unit_file_path = str();
      e.unit_file_sha256 = str();
      e.unit_file_content = str() + str() + str();
      e.host.hostname = str();
      e.host.kernel = str();
      e.host.os = str();
      e.host.machine_id = str();
      e.host.boot_id = str();
      e.host.cpus = 2;
      e.host.mem_bytes = 1ull << 40;
      e.host.disks = {{str(), 5, str()}, {str(), 6, str()}};
      e.gap_start_ns = 1;
      e.gap_end_ns = 2;
      e.lost = 3;
      e.reason = str();
      e.resync_op = static_cast<ResyncOp>(k % 4);
      e.resync_entity = static_cast<ResyncEntity>(k % 4);
      e.attrs = {{str(), str()}, {"plain", str()}};
      out.push_back(e);
      if (e.kind == EventKind::kResync) {  // every entity a resync can carry
        for (int en = 0; en <= 3; ++en) {
          e.resync_entity = static_cast<ResyncEntity>(en);
          e.ts_ns += 100;
          out.push_back(e);
        }
      }
    }
    return out;
  }
  // What `events --json` printed before it read records in place, with the process ids made
  // from the boot id in effect: the fully folded state's before the window, then each host
  // facts record's (whether the filter shows it or not).
  std::string Reference(const EventFilter& f, uint64_t limit) {
    auto log = std::move(EventLog::OpenReader(dir_).value());
    std::string out, boot;
    if (f.since_ns > 0) {
      auto st = StateAtByFullFold(*log, f.since_ns - 1);
      EXPECT_TRUE(st.ok()) << st.status().ToString();
      if (st.ok()) boot = st.value().host.boot_id;
    }
    uint64_t n = 0;
    Status s = log->Scan({f.since_ns, 0}, {f.until_ns, UINT64_MAX}, [&](const EventKey& k, const Event& e) {
      if (e.kind == EventKind::kHostFacts) boot = e.host.boot_id;
      if (!f.Matches(e)) return true;
      JsonWriter w(out);
      EventToJson(k, e, boot, w);
      out += '\n';
      return limit == 0 || ++n < limit;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  testing::TempDir t_;
  std::string dir_;
};

TEST_F(EventsJson, OutputIsByteIdenticalToRenderingDecodedEvents) {
  CmdRun all = Replay(t_, "events --json --data-dir " + dir_);
  ASSERT_EQ(all.code, 0) << all.err;
  const std::string want = Reference({}, 0);
  EXPECT_GT(std::count(want.begin(), want.end(), '\n'), 5000);
  EXPECT_TRUE(all.out == want) << "first difference at byte "
                               << std::mismatch(all.out.begin(), all.out.end(), want.begin(),
                                                want.end()).first - all.out.begin();
  for (const char* kind : {"host", "resync", "unit_file", "twin", "gap", "retention"}) {
    EventFilter f;
    ASSERT_TRUE(ParseKinds({kind}, &f.kinds).ok());
    CmdRun r = Replay(t_, std::string("events --json --kind ") + kind + " --data-dir " + dir_);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_FALSE(r.out.empty()) << kind;
    EXPECT_TRUE(r.out == Reference(f, 0)) << kind;
  }
}

TEST_F(EventsJson, FiltersAndLimitsAcrossBatchesMatchTheReference) {
  auto log = std::move(EventLog::OpenReader(dir_).value());
  std::vector<EventKey> keys;
  ASSERT_TRUE(log->Scan({0, 0}, {UINT64_MAX, UINT64_MAX}, [&](const EventKey& k, const Event&) {
                   keys.push_back(k);
                   return true;
                 }).ok());
  log.reset();
  ASSERT_GT(keys.size(), 5000u);
  for (uint64_t limit : {1, 63, 64, 65, 193, 1000, 4097}) {
    CmdRun r = Replay(t_, "events --json --limit " + std::to_string(limit) + " --data-dir " + dir_);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(r.out == Reference({}, limit)) << "--limit " << limit;
  }
  EventFilter f;
  f.since_ns = keys[1234].ts_ns;
  f.until_ns = keys[4321].ts_ns;
  ASSERT_TRUE(ParseKinds({"exec,exit,listen"}, &f.kinds).ok());
  CmdRun r = Replay(t_, "events --json --since " + std::to_string(f.since_ns) + " --until " +
                            std::to_string(f.until_ns) + " --kind exec,exit,listen --data-dir " +
                            dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  EXPECT_TRUE(r.out == Reference(f, 0));
  EventFilter p;
  p.pid = 1003;
  CmdRun rp = Replay(t_, "events --json --pid 1003 --data-dir " + dir_);
  ASSERT_EQ(rp.code, 0) << rp.err;
  EXPECT_FALSE(rp.out.empty());
  EXPECT_TRUE(rp.out == Reference(p, 0));
}

TEST_F(EventsJson, ABadRecordStopsTheOutputThereWithTheTableCommandsError) {
  std::string good_prefix;
  {
    testing::RawDb raw(dir_);
    auto rows = raw.All(raw.events());
    ASSERT_GT(rows.size(), 3000u);
    // A record cut short mid-scan (past the first batches): it fails verification.
    raw.Put(raw.events(), rows[2500].first, rows[2500].second.substr(0, 40));
  }
  CmdRun j = Replay(t_, "events --json --data-dir " + dir_);
  CmdRun table = Replay(t_, "events --data-dir " + dir_);
  EXPECT_EQ(j.code, 1);
  EXPECT_EQ(j.code, table.code);
  EXPECT_EQ(j.err, table.err);
  EXPECT_NE(j.err.find("twin-replay verify"), std::string::npos) << j.err;
  // Everything before the bad record, nothing from it on.
  EXPECT_EQ(std::count(j.out.begin(), j.out.end(), '\n'), 2500);
}

}  // namespace
}  // namespace twin
