// twin-replay sql: every virtual table against the CLI's own `state --json` / `events --json`
// for the same T, hostile strings in the data and in the query, refused writes.
// twin-replay runs without a shell here (RunArgv): the queries hold quotes, newlines and escapes.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eventlog/compactor.h"
#include "eventlog/log.h"
#include "eventlog/synth.h"
#include "tests/common/replay_run.h"
#include "tests/core/test_util.h"

namespace twin {
namespace {

using json = nlohmann::json;
using testing::CmdRun;
using testing::Slurp;
using testing::TempDir;

constexpr const char* kBoot = "0123abcd-4567-89ef-0123-456789abcdef";
constexpr const char* kHostile = "\x1b[31mred\n\"q'\\ {{ x }} \xff";

CmdRun RunArgv(const TempDir& t, const std::vector<std::string>& args) {
  const std::string o = t.sub("stdout"), e = t.sub("stderr");
  std::vector<char*> argv;
  std::string bin = TWIN_REPLAY_BIN;
  argv.push_back(bin.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    int fo = open(o.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = open(e.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fo, 1);
    dup2(fe, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CmdRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = Slurp(o);
  r.err = Slurp(e);
  return r;
}

// A text cell holding JSON (argv, json) went through the writer's lossless escape twice: undo
// the outer one (each code point U+10FF00 + b back to the byte b, format/json_writer.h).
std::string Unmap(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0xF4 && i + 3 < s.size()) {
      const uint32_t cp = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3Fu);
      if (cp >= 0x10FF00) {
        out += static_cast<char>(cp - 0x10FF00);
        i += 4;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}
json Nested(const json& cell) { return json::parse(Unmap(cell.get<std::string>())); }

std::vector<json> Lines(const std::string& s) {
  std::vector<json> out;
  for (size_t i = 0, j; i < s.size(); i = j + 1) {
    j = s.find('\n', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) out.push_back(json::parse(s.substr(i, j - i)));
  }
  return out;
}

// A synthetic host with hostile strings, a boot id, snapshots along the way and one process,
// listener and unit whose names hold terminal escapes, newlines and quotes.
class SqlLog : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = t_.sub("data");
    auto log = std::move(EventLog::OpenWriter(dir_).value());
    Compactor c(*log);
    SynthOptions o;
    o.seed = 16;
    o.hostile_strings = true;
    SynthGenerator g(o);
    Event host;
    host.kind = EventKind::kHostFacts;
    host.ts_ns = o.start_ns;
    host.boottime_ns = 5'000'000'000ull;
    host.host.hostname = "h";
    host.host.boot_id = kBoot;
    ASSERT_TRUE(log->Append(host).ok());
    for (int batch = 0; batch < 6; ++batch) {
      std::vector<Event> v;
      g.Fill(v, 1000);
      if (batch == 2) {
        Event x;
        x.kind = EventKind::kProcessExec;
        x.ts_ns = v.back().ts_ns + 1;
        x.boottime_ns = v.back().boottime_ns + 1;
        x.pid = 99999;
        x.start_ns = x.boottime_ns - 10;
        x.ppid = 1;
        x.parent_start_ns = 1;
        x.comm = kHostile;
        x.exe = std::string("/tmp/") + kHostile;
        x.argv = {x.exe, kHostile, ""};
        x.cwd = "/";
        v.push_back(x);
        Event l = x;
        l.kind = EventKind::kSocketListen;
        l.argv.clear();
        l.ts_ns += 1;
        l.proto = kProtoTcp;
        l.family = kFamilyInet;
        l.addr = "127.0.0.1";
        l.port = 4444;
        v.push_back(l);
        Event u;
        u.kind = EventKind::kUnitStart;
        u.ts_ns = l.ts_ns + 1;
        u.boottime_ns = l.boottime_ns + 1;
        u.unit = std::string(kHostile) + ".service";
        u.unit_file_path = "/etc/systemd/system/x.service";
        u.unit_file_content = std::string("[Unit]\nDescription=") + "\x1b]0;pwned\x07 \"d\"\n[Service]\n";
        v.push_back(u);
        hostile_ts_ = u.ts_ns;
        // Its executable's hash arrives after the exec (docs/FORENSICS.md).
        Event h;
        h.kind = EventKind::kExeHash;
        h.ts_ns = u.ts_ns + 1;
        h.boottime_ns = u.boottime_ns + 1;
        h.pid = x.pid;
        h.start_ns = x.start_ns;
        h.exe = x.exe;
        h.attrs = {{"exec_ts_ns", std::to_string(x.ts_ns)}, {"exe_hash", "ok"},
                   {"exe_sha256", std::string(64, 'c')}, {"exe_flags", "writable,unpackaged"}};
        v.push_back(h);
        hash_ts_ = h.ts_ns;
      }
      ASSERT_TRUE(log->Append(v).ok());
      ASSERT_TRUE(c.RunOnce(v.back().ts_ns).ok());
      ts_.push_back(v.back().ts_ns);
    }
  }
  CmdRun Sql(const std::string& q, const std::string& fmt = "--json") {
    std::vector<std::string> a{"sql", q, "--data-dir", dir_};
    if (!fmt.empty()) a.push_back(fmt);
    return RunArgv(t_, a);
  }
  json SqlJson(const std::string& q) {
    CmdRun r = Sql(q);
    EXPECT_EQ(r.code, 0) << q << ": " << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_array()) << r.out.substr(0, 200);
    return j;
  }
  json CliJson(const std::vector<std::string>& args) {
    std::vector<std::string> a = args;
    a.insert(a.end(), {"--json", "--data-dir", dir_});
    CmdRun r = RunArgv(t_, a);
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }
  TempDir t_;
  std::string dir_;
  std::vector<uint64_t> ts_;
  uint64_t hostile_ts_ = 0;
  uint64_t hash_ts_ = 0;
};

std::string Join(const json& argv) {
  std::string s;
  for (size_t i = 0; i < argv.size(); ++i) s += (i ? " " : "") + argv[i].get<std::string>();
  return s;
}

// A JSON field, or null when `events --json` has none for the kind.
json Field(const json& e, const char* k) { return e.contains(k) ? e[k] : json(); }

TEST_F(SqlLog, EventsTableMatchesEventsJsonForTimeKindAndPidFilters) {
  const uint64_t since = ts_[1] - 20'000'000, until = ts_[3] + 7;
  const std::string range = " WHERE ts_ns >= " + std::to_string(since) + " AND ts_ns <= " + std::to_string(until);
  const std::vector<json> want = Lines(
      RunArgv(t_, {"events", "--since", std::to_string(since), "--until", std::to_string(until), "--json",
                   "--data-dir", dir_}).out);
  ASSERT_GT(want.size(), 1500u);
  json got = SqlJson(
      "SELECT ts_ns, seq, kind, pid, start_ns, process_id, parent, parent_process_id, uid, name, path, "
      "cmdline, argv, cwd, unit, exit_code, port, address, json FROM events" + range + " ORDER BY ts_ns");
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const json& w = want[i];
    const json& g = got[i];
    SCOPED_TRACE(w.dump());
    EXPECT_EQ(Nested(g["json"]), w);
    EXPECT_EQ(g["ts_ns"], w["ts_ns"]);
    EXPECT_EQ(g["seq"], w["seq"]);
    EXPECT_EQ(g["kind"], w["kind"]);
    EXPECT_EQ(g["pid"], Field(w, "pid"));
    EXPECT_EQ(g["start_ns"], Field(w, "start_ns"));
    EXPECT_EQ(g["process_id"], Field(w, "process_id"));
    EXPECT_EQ(g["parent_process_id"], Field(w, "parent_process_id"));
    EXPECT_EQ(g["name"], Field(w, "comm"));
    EXPECT_EQ(g["path"], Field(w, "exe"));
    EXPECT_EQ(g["cwd"], Field(w, "cwd"));
    EXPECT_EQ(g["uid"], Field(w, "uid"));
    EXPECT_EQ(g["exit_code"], Field(w, "exit_code"));
    EXPECT_EQ(g["port"], Field(w, "port"));
    EXPECT_EQ(g["address"], Field(w, "addr"));
    if (w.contains("argv")) {
      EXPECT_EQ(Nested(g["argv"]), w["argv"]);
      EXPECT_EQ(g["cmdline"], Join(w["argv"]));
    } else {
      EXPECT_TRUE(g["argv"].is_null());
    }
  }
  // kind and pid pushed down: the same rows as --kind / --pid.
  std::map<int, int> by_pid;
  for (const json& w : want) {
    if (w["kind"] == "exec") ++by_pid[w["pid"].get<int>()];
  }
  const int pid = std::max_element(by_pid.begin(), by_pid.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
  const std::vector<json> execs = Lines(RunArgv(t_, {"events", "--kind", "exec", "--pid", std::to_string(pid), "--json",
                                                     "--data-dir", dir_}).out);
  json sq = SqlJson("SELECT json FROM events WHERE kind = 'exec' AND pid = " + std::to_string(pid));
  ASSERT_EQ(sq.size(), execs.size());
  for (size_t i = 0; i < execs.size(); ++i) EXPECT_EQ(Nested(sq[i]["json"]), execs[i]);
  // process_id = and parent_process_id = (pushed down) give exactly the rows whose ids match.
  std::map<std::string, size_t> by_id, by_parent;
  for (const json& w : want) {
    if (w.contains("process_id")) ++by_id[w["process_id"]];
    if (w.contains("parent_process_id")) ++by_parent[w["parent_process_id"]];
  }
  ASSERT_FALSE(by_parent.empty());
  const std::string busy = std::max_element(by_id.begin(), by_id.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
  const std::string parent = std::max_element(by_parent.begin(), by_parent.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
  json of_id = SqlJson("SELECT json FROM events" + range + " AND process_id = '" + busy + "'");
  json of_parent = SqlJson("SELECT json FROM events" + range + " AND parent_process_id = '" + parent + "'");
  EXPECT_EQ(of_id.size(), by_id[busy]);
  EXPECT_EQ(of_parent.size(), by_parent[parent]);
  for (const json& r : of_id) EXPECT_EQ(Nested(r["json"])["process_id"], busy);
  for (const json& r : of_parent) EXPECT_EQ(Nested(r["json"])["parent_process_id"], parent);
  // Not an id, or the id in another boot: no rows.
  EXPECT_EQ(SqlJson("SELECT json FROM events WHERE parent_process_id = 'x'").size(), 0u);
  EXPECT_EQ(SqlJson("SELECT json FROM events WHERE process_id = 'ffffffffffffffff" + busy.substr(16) + "'").size(), 0u);
  // kind IN (...): SQLite runs one filtered scan per value; ORDER BY ts_ns, seq restores the log's order.
  const std::vector<json> ee = Lines(RunArgv(t_, {"events", "--kind", "exec,exit", "--since", std::to_string(since),
                                                  "--json", "--data-dir", dir_}).out);
  json in = SqlJson("SELECT json FROM events WHERE kind IN ('exec', 'exit') AND ts_ns >= " + std::to_string(since) +
                    " ORDER BY ts_ns, seq");
  ASSERT_EQ(in.size(), ee.size());
  for (size_t i = 0; i < ee.size(); ++i) EXPECT_EQ(Nested(in[i]["json"]), ee[i]);
  json in1 = SqlJson("SELECT json FROM events WHERE kind IN ('exec', 'exit') AND ts_ns >= " + std::to_string(since) +
                     " ORDER BY ts_ns");
  ASSERT_EQ(in1.size(), ee.size());
  for (size_t i = 1; i < in1.size(); ++i) {
    EXPECT_LE(Nested(in1[i - 1]["json"])["ts_ns"].get<uint64_t>(), Nested(in1[i]["json"])["ts_ns"].get<uint64_t>());
  }
  // Whole seconds: time = S is the window [S s, S s + 1 s).
  const uint64_t s = ts_[2] / 1'000'000'000;
  const size_t in_second = Lines(RunArgv(t_, {"events", "--since", std::to_string(s * 1'000'000'000), "--until",
                                              std::to_string(s * 1'000'000'000 + 999'999'999), "--json", "--data-dir",
                                              dir_}).out).size();
  json cnt = SqlJson("SELECT count(*) AS n FROM events WHERE time = " + std::to_string(s));
  EXPECT_EQ(cnt[0]["n"], in_second);
  json cnt2 = SqlJson("SELECT count(*) AS n FROM events WHERE time >= " + std::to_string(s) + " AND time < " +
                      std::to_string(s + 1));
  EXPECT_EQ(cnt2[0]["n"], in_second);
  // A range written with time_ns() and the whole log.
  json all = SqlJson("SELECT count(*) AS n FROM events");
  EXPECT_EQ(all[0]["n"], Lines(RunArgv(t_, {"events", "--json", "--data-dir", dir_}).out).size());
}

TEST_F(SqlLog, ExecutableHashesInProcessesAndEvents) {
  const std::string sha(64, 'c');
  json before = SqlJson("SELECT exe_hash, sha256 FROM processes WHERE pid = 99999 AND at = " +
                        std::to_string(hostile_ts_));
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0]["exe_hash"], json()) << "not hashed yet";
  json after = SqlJson("SELECT exe_hash, sha256, exe_flags FROM processes WHERE pid = 99999 AND at = " +
                       std::to_string(hash_ts_));
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0]["exe_hash"], "ok");
  EXPECT_EQ(after[0]["sha256"], sha);
  EXPECT_EQ(after[0]["exe_flags"], "writable,unpackaged");
  json ev = SqlJson("SELECT kind, process_id, path, sha256 FROM events WHERE sha256 = '" + sha + "'");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["kind"], "exe_hash");
  EXPECT_EQ(Unmap(ev[0]["path"].get<std::string>()), std::string("/tmp/") + kHostile);
  EXPECT_FALSE(ev[0]["process_id"].is_null()) << "an exe_hash record names its process";
}

TEST_F(SqlLog, StateTablesMatchStateJsonAtTheSameTime) {
  std::mt19937_64 rng(5);
  std::vector<uint64_t> times = {ts_[0], ts_[2] + 1, hostile_ts_, hash_ts_, ts_[5]};
  for (int i = 0; i < 3; ++i) times.push_back(ts_[0] + rng() % (ts_[5] - ts_[0]));
  for (uint64_t t : times) {
    SCOPED_TRACE(t);
    const std::string at = std::to_string(t);
    json st = CliJson({"state", "--at", at});
    json procs = SqlJson("SELECT * FROM processes WHERE at = '" + at + "'");
    ASSERT_EQ(procs.size(), st["processes"].size());
    for (size_t i = 0; i < procs.size(); ++i) {
      const json& g = procs[i];
      const json& w = st["processes"][i];
      EXPECT_EQ(g["id"], w["id"]);
      EXPECT_EQ(g["parent_id"], Field(w, "parent_id"));
      EXPECT_EQ(g["pid"], w["pid"]);
      EXPECT_EQ(g["parent"], w["ppid"]);
      EXPECT_EQ(g["start_ns"], w["start_ns"]);
      EXPECT_EQ(g["name"], w["comm"]);
      EXPECT_EQ(g["path"], w["exe"]);
      EXPECT_EQ(g["cwd"], w["cwd"]);
      EXPECT_EQ(g["uid"], w["uid"]);
      EXPECT_EQ(g["gid"], w["gid"]);
      EXPECT_EQ(g["unit"], w["unit"]);
      EXPECT_EQ(Nested(g["argv"]), w["argv"]);
      EXPECT_EQ(g["cmdline"], Join(w["argv"]));
      EXPECT_EQ(g["since_ns"], w["since_ns"]);
      EXPECT_EQ(g["exe_hash"], w["exe_hash"] == "" ? json() : w["exe_hash"]);
      EXPECT_EQ(g["sha256"], w["exe_hash"] == "ok" ? w["exe_sha256"] : json());
      std::string flags;
      for (const auto& f : w["exe_flags"]) flags += (flags.empty() ? "" : ",") + f.get<std::string>();
      EXPECT_EQ(g["exe_flags"], flags);
      EXPECT_EQ(g["at_ns"], t);
    }
    json ls = SqlJson("SELECT * FROM listeners WHERE at = " + at);  // an integer works too
    ASSERT_EQ(ls.size(), st["listeners"].size());
    for (size_t i = 0; i < ls.size(); ++i) {
      const json& g = ls[i];
      const json& w = st["listeners"][i];
      EXPECT_EQ(g["port"], w["port"]);
      EXPECT_EQ(g["address"], w["addr"]);
      EXPECT_EQ(g["protocol"], w["proto"] == "tcp" ? 6 : 17);
      EXPECT_EQ(g["family"], w["family"] == "ipv4" ? 2 : 10);
      EXPECT_EQ(g["pid"], w["pid"]);
      EXPECT_EQ(g["process_id"], Field(w, "process_id"));
      EXPECT_EQ(g["name"], w["comm"]);
      EXPECT_EQ(g["socket"], w["sock_inode"]);
    }
    json us = SqlJson("SELECT * FROM units WHERE at = '" + at + "'");
    ASSERT_EQ(us.size(), st["units"].size());
    for (size_t i = 0; i < us.size(); ++i) {
      EXPECT_EQ(us[i]["id"], st["units"][i]["name"]);
      EXPECT_EQ(us[i]["fragment_path"], st["units"][i]["file_path"]);
      EXPECT_EQ(us[i]["file_sha256"], st["units"][i]["file_sha256"]);
      EXPECT_EQ(us[i]["content"], st["units"][i]["file_content"]);
      EXPECT_EQ(us[i]["active_state"], "active");
    }
  }
  // A join feeds `at` from one table to the other; the default is now (the end of this log).
  json joined = SqlJson("SELECT l.port, p.path FROM listeners l JOIN processes p ON p.id = l.process_id AND p.at = l.at "
                        "WHERE l.at = '" + std::to_string(hostile_ts_) + "' AND l.port = 4444");
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_EQ(Unmap(joined[0]["path"].get<std::string>()), std::string("/tmp/") + kHostile);  // byte-exact
  json now = SqlJson("SELECT count(*) AS n FROM processes");
  EXPECT_EQ(now[0]["n"], CliJson({"state"})["processes"].size());
  json rel = SqlJson("SELECT count(*) AS n FROM processes WHERE at = '-1h'");
  EXPECT_EQ(rel[0]["n"], CliJson({"state", "--at", "-1h"})["processes"].size());
  // snapshots: the ones the compactor wrote, in order.
  json snaps = SqlJson("SELECT ts_ns FROM snapshots");
  ASSERT_EQ(snaps.size(), ts_.size());
  for (size_t i = 0; i < ts_.size(); ++i) EXPECT_EQ(snaps[i]["ts_ns"], ts_[i]);
  // Before the log: an error, not an empty state.
  CmdRun early = Sql("SELECT * FROM processes WHERE at = '2001-01-01T00:00:00Z'");
  EXPECT_EQ(early.code, 2);
  EXPECT_NE(early.err.find("before the log's first record"), std::string::npos) << early.err;
}

TEST_F(SqlLog, HostileStringsAreEscapedInTablesAndExactInJsonAndCsv) {
  const std::string q = "SELECT name, cmdline FROM events WHERE pid = 99999 AND kind = 'exec'";
  CmdRun table = Sql(q, "");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_EQ(table.out.find('\x1b'), std::string::npos);
  EXPECT_EQ(table.out.find('\xff'), std::string::npos);
  EXPECT_NE(table.out.find("\\x1b[31mred\\n"), std::string::npos) << table.out;
  EXPECT_EQ(std::count(table.out.begin(), table.out.end(), '\n'), 4);  // header, rule, row, count
  json j = SqlJson(q);
  ASSERT_EQ(j.size(), 1u);
  // JSON's lossless escape maps the non-UTF-8 byte to a private-use code point: compare through
  // events --json, which uses the same writer.
  json ev = Lines(RunArgv(t_, {"events", "--pid", "99999", "--kind", "exec", "--json", "--data-dir", dir_}).out)[0];
  EXPECT_EQ(j[0]["name"], ev["comm"]);
  CmdRun csv = Sql(q, "--csv");
  ASSERT_EQ(csv.code, 0) << csv.err;
  const std::string want_row = std::string("\"") + "\x1b[31mred\n\"\"q'\\ {{ x }} \xff" + "\",\"/tmp/" +
                               "\x1b[31mred\n\"\"q'\\ {{ x }} \xff " + "\x1b[31mred\n\"\"q'\\ {{ x }} \xff " + "\"\r\n";
  EXPECT_EQ(csv.out, "\"name\",\"cmdline\"\r\n" + want_row);
  // The unit's description (terminal title escape) and name through the table.
  CmdRun units = Sql("SELECT id, description FROM units WHERE at = '" + std::to_string(hostile_ts_) +
                     "' AND id LIKE '%red%'", "");
  ASSERT_EQ(units.code, 0) << units.err;
  EXPECT_EQ(units.out.find('\x1b'), std::string::npos);
  EXPECT_EQ(units.out.find('\x07'), std::string::npos);
  EXPECT_NE(units.out.find("\\x1b]0;pwned\\x07 \"d\""), std::string::npos) << units.out;
  // Hostile text in the query itself: a literal and a column name with escapes and newlines.
  CmdRun lit = Sql("SELECT 'a''b' || char(27) || '\n' AS \"col\x1b[2J\nx\"", "");
  ASSERT_EQ(lit.code, 0) << lit.err;
  EXPECT_EQ(lit.out.find('\x1b'), std::string::npos);
  EXPECT_NE(lit.out.find("a'b\\x1b\\n"), std::string::npos) << lit.out;
  json litj = SqlJson("SELECT 'a''b' || char(27) AS \"k\"\"\x1b\"");
  EXPECT_EQ(litj[0]["k\"\x1b"], "a'b\x1b");
  // A malformed query quoting hostile bytes: one escaped line on stderr, exit 2.
  CmdRun bad = Sql("SELECT \x1b[31m\nFROM nowhere", "");
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(bad.err.find('\x1b'), std::string::npos);
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  EXPECT_TRUE(bad.out.empty());
}

TEST_F(SqlLog, WritesAttachPragmasAndExtensionsAreRefused) {
  const std::string attached = t_.sub("attached.db");
  for (const std::string& q : std::vector<std::string>{
           "CREATE TABLE t(a)", "INSERT INTO events(kind) VALUES ('exec')", "DELETE FROM events",
           "UPDATE processes SET pid = 1", "DROP TABLE events", "ATTACH DATABASE '" + attached + "' AS x",
           "PRAGMA writable_schema = 1", "SELECT * FROM pragma_table_info('events')",
           "SELECT load_extension('/nonexistent.so')", "SELECT * FROM sqlite_master",
           "SELECT 1; DROP TABLE events", "BEGIN", "VACUUM INTO '" + attached + "'",
           "CREATE VIRTUAL TABLE v USING events", "SELEC 1", ""}) {
    CmdRun r = Sql(q, "");
    EXPECT_EQ(r.code, 2) << q << ": " << r.out;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << q << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << q << ": " << r.out;
  }
  EXPECT_FALSE(std::filesystem::exists(attached));
  // A read still works in the same way.
  EXPECT_EQ(Sql("SELECT count(*) FROM snapshots", "").code, 0);
}

}  // namespace
}  // namespace twin
