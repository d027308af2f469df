// twin-replay end to end: the real binary on a real log.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eventlog/codec.h"
#include "eventlog/compactor.h"
#include "eventlog/log.h"
#include "eventlog/timefmt.h"
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

}  // namespace
}  // namespace twin
