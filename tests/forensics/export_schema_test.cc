// Every exported line of every format is checked against the format's own required fields and
// types (Timesketch, ECS 8.x, OCSF 1.1, RFC 4180 CSV), on a log full of hostile strings.
#include <arpa/inet.h>

#include <map>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "eventlog/process_id.h"
#include "eventlog/timefmt.h"
#include "forensics/export.h"
#include "format/json_writer.h"
#include "tests/forensics/forensics_test_util.h"

namespace twin {
namespace {

using nlohmann::json;
using testing::AllEvents;
using testing::Lines;
using testing::Replay;
using testing::TempDir;

const std::regex kIsoWithOffset(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$)");

std::string Decoded(const json& j) {
  std::string bytes;
  DecodeByteEscaped(j.get<std::string>(), &bytes);
  return bytes;
}

std::vector<std::string> DecodedArgv(const json& arr) {
  std::vector<std::string> out;
  for (const auto& a : arr) out.push_back(Decoded(a));
  return out;
}

class Export : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = t_.sub("data");
    testing::MakeLog(dir_, 2000);
    events_ = AllEvents(dir_);
    ASSERT_GT(events_.size(), 2000u);
  }
  // Runs the export and returns its lines; the export's own audit record is appended afterwards.
  std::vector<std::string> Run(const std::string& format, const std::string& extra = "") {
    const std::string out = t_.sub("out." + format);
    auto r = Replay(t_, "export --data-dir " + dir_ + " --format " + format + " --out " + out +
                            " --no-default-redact " + extra);
    EXPECT_EQ(r.code, 0) << r.err;
    std::vector<std::string> lines = Lines(testing::Slurp(out));
    return lines;
  }
  TempDir t_;
  std::string dir_;
  std::vector<std::pair<EventKey, Event>> events_;
};

// Valid JSON (nlohmann rejects invalid UTF-8) on exactly one line.
json ParseLine(const std::string& line) {
  EXPECT_EQ(line.find('\n'), std::string::npos);
  json j = json::parse(line, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << line.substr(0, 200);
  EXPECT_TRUE(j.is_object());
  return j;
}

TEST_F(Export, TimesketchEveryLineHasTheRequiredFields) {
  auto lines = Run("timesketch");
  ASSERT_EQ(lines.size(), events_.size());
  std::string boot;  // the boot id in effect: the last host facts'
  for (size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE(i);
    json j = ParseLine(lines[i]);
    const Event& e = events_[i].second;
    if (e.kind == EventKind::kHostFacts) boot = e.host.boot_id;
    if (j.contains("pid") && e.pid && e.start_ns) {
      EXPECT_EQ(j.at("process_id"), ProcessIdOf(boot, e.pid, e.start_ns));
    }
    if (j.contains("parent_start_ns") && e.ppid) {
      EXPECT_EQ(j.at("parent_process_id"), ProcessIdOf(boot, e.ppid, e.parent_start_ns));
    }
    ASSERT_TRUE(j.at("message").is_string());
    EXPECT_FALSE(j["message"].get<std::string>().empty());
    ASSERT_TRUE(j.at("datetime").is_string());
    const std::string dt = j["datetime"];
    EXPECT_TRUE(std::regex_match(dt, kIsoWithOffset)) << dt;
    EXPECT_EQ(dt.substr(dt.size() - 6), "+00:00");
    ASSERT_TRUE(j.at("timestamp_desc").is_string());
    EXPECT_FALSE(j["timestamp_desc"].get<std::string>().empty());
    ASSERT_TRUE(j.at("timestamp").is_number_integer());
    EXPECT_EQ(j["timestamp"].get<uint64_t>(), e.ts_ns / 1000);
    auto parsed = ParseTime(dt, 0);
    ASSERT_TRUE(parsed.ok()) << dt;
    EXPECT_EQ(parsed.value() / 1000, e.ts_ns / 1000) << "datetime and timestamp disagree";
    EXPECT_EQ(j.at("kind"), std::string(KindName(e.kind)));
    EXPECT_EQ(j.at("seq").get<uint64_t>(), events_[i].first.seq);
    EXPECT_EQ(j.at("chain_hash").get<std::string>().size(), 64u);
    if (e.kind == EventKind::kProcessExec) EXPECT_EQ(DecodedArgv(j.at("argv")), e.argv);
  }
}

// ECS 8.x allowed values (event.kind, event.category and the types allowed per category).
const std::set<std::string> kEcsKinds = {"alert", "asset", "enrichment", "event", "metric",
                                         "state", "pipeline_error", "signal"};
const std::map<std::string, std::set<std::string>> kEcsTypes = {
    {"configuration", {"access", "change", "creation", "deletion", "info"}},
    {"host", {"access", "change", "end", "info", "start"}},
    {"network", {"access", "allowed", "connection", "denied", "end", "info", "protocol", "start"}},
    {"process", {"access", "change", "end", "info", "start"}},
    {"file", {"access", "change", "creation", "deletion", "info"}}};

bool IsIp(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

TEST_F(Export, EcsEveryLineFollowsTheSchema) {
  auto lines = Run("ecs");
  ASSERT_EQ(lines.size(), events_.size());
  size_t with_process = 0, with_server = 0, with_service = 0;
  std::string hostname, boot;
  for (size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE(i);
    json j = ParseLine(lines[i]);
    const Event& e = events_[i].second;
    if (e.kind == EventKind::kHostFacts) hostname = e.host.hostname;
    if (e.kind == EventKind::kHostFacts) boot = e.host.boot_id;
    ASSERT_TRUE(j.at("@timestamp").is_string());
    EXPECT_TRUE(std::regex_match(j["@timestamp"].get<std::string>(), kIsoWithOffset));
    EXPECT_EQ(ParseTime(j["@timestamp"].get<std::string>(), 0).value(), e.ts_ns);
    EXPECT_TRUE(j.at("ecs").at("version").is_string());
    const json& ev = j.at("event");
    EXPECT_TRUE(kEcsKinds.count(ev.at("kind").get<std::string>()));
    ASSERT_TRUE(ev.at("category").is_array());
    ASSERT_TRUE(ev.at("type").is_array());
    ASSERT_FALSE(ev["category"].empty());
    for (const auto& c : ev["category"]) {
      ASSERT_TRUE(kEcsTypes.count(c.get<std::string>())) << c;
      for (const auto& t : ev["type"]) {
        EXPECT_TRUE(kEcsTypes.at(c.get<std::string>()).count(t.get<std::string>())) << c << "/" << t;
      }
    }
    EXPECT_TRUE(ev.at("action").is_string());
    EXPECT_TRUE(ev.at("sequence").is_number_integer());
    EXPECT_EQ(ev["sequence"].get<uint64_t>(), events_[i].first.seq);
    EXPECT_TRUE(std::regex_match(ev.at("hash").get<std::string>(), std::regex("^[0-9a-f]{64}$")));
    if (j.contains("process")) {
      ++with_process;
      const json& p = j["process"];
      EXPECT_TRUE(p.at("pid").is_number_integer());
      // The stable process id in the boot in effect (eventlog/process_id.h).
      EXPECT_EQ(p.contains("entity_id"), e.start_ns != 0);
      if (p.contains("entity_id")) EXPECT_EQ(p["entity_id"], ProcessIdOf(boot, e.pid, e.start_ns));
      if (p.contains("parent") && p["parent"].contains("entity_id")) {
        EXPECT_EQ(p["parent"]["entity_id"], ProcessIdOf(boot, e.ppid, e.parent_start_ns));
      }
      if (p.contains("name")) EXPECT_TRUE(p["name"].is_string());
      if (p.contains("executable")) EXPECT_TRUE(p["executable"].is_string());
      if (p.contains("args")) {
        ASSERT_TRUE(p["args"].is_array());
        for (const auto& a : p["args"]) EXPECT_TRUE(a.is_string());
        EXPECT_EQ(p.at("args_count").get<size_t>(), p["args"].size());
        EXPECT_TRUE(p.at("command_line").is_string());
        EXPECT_EQ(DecodedArgv(p["args"]), e.argv);
      }
      if (p.contains("working_directory")) EXPECT_TRUE(p["working_directory"].is_string());
      if (p.contains("parent")) EXPECT_TRUE(p["parent"].at("pid").is_number_integer());
      if (p.contains("user")) EXPECT_TRUE(p["user"].at("id").is_string());
      if (p.contains("start")) EXPECT_TRUE(std::regex_match(p["start"].get<std::string>(), kIsoWithOffset));
      if (p.contains("end")) EXPECT_TRUE(std::regex_match(p["end"].get<std::string>(), kIsoWithOffset));
      if (e.kind == EventKind::kProcessExit) EXPECT_TRUE(p.at("exit_code").is_number_integer());
    }
    if (j.contains("server")) {
      ++with_server;
      EXPECT_TRUE(j["server"].at("port").is_number_integer());
      if (j["server"].contains("ip")) EXPECT_TRUE(IsIp(j["server"]["ip"].get<std::string>()));
      const std::string transport = j.at("network").at("transport");
      EXPECT_TRUE(transport == "tcp" || transport == "udp") << transport;
      const std::string type = j["network"].at("type");
      EXPECT_TRUE(type == "ipv4" || type == "ipv6") << type;
    }
    if (j.contains("service")) {
      ++with_service;
      EXPECT_TRUE(j["service"].at("name").is_string());
      if (j["service"].contains("state")) EXPECT_TRUE(j["service"]["state"].is_string());
    }
    ASSERT_TRUE(j.at("host").is_object());
    if (j["host"].contains("hostname")) EXPECT_EQ(Decoded(j["host"]["hostname"]), hostname);
  }
  EXPECT_GT(with_process, 100u);
  EXPECT_GT(with_server, 10u);
  EXPECT_GT(with_service, 10u);
}

TEST_F(Export, OcsfEveryLineFollowsTheSchema) {
  auto lines = Run("ocsf");
  ASSERT_EQ(lines.size(), events_.size());
  const std::map<int, std::pair<int, std::set<int>>> classes = {
      {1007, {1, {0, 1, 2, 3, 4, 5, 99}}},        // Process Activity
      {4001, {4, {0, 1, 2, 3, 4, 5, 6, 7, 99}}},  // Network Activity
      {0, {0, {0, 99}}}};                         // Base Event
  const std::set<int> severities = {0, 1, 2, 3, 4, 5, 6, 99};
  std::map<int, int> seen;
  std::string boot;
  for (size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE(i);
    json j = ParseLine(lines[i]);
    const Event& e = events_[i].second;
    if (e.kind == EventKind::kHostFacts) boot = e.host.boot_id;
    for (const char* f : {"class_uid", "category_uid", "activity_id", "type_uid", "severity_id", "time"}) {
      ASSERT_TRUE(j.at(f).is_number_integer()) << f;
    }
    const int cls = j["class_uid"];
    ASSERT_TRUE(classes.count(cls)) << cls;
    ++seen[cls];
    EXPECT_EQ(j["category_uid"].get<int>(), classes.at(cls).first);
    EXPECT_TRUE(classes.at(cls).second.count(j["activity_id"].get<int>()));
    EXPECT_EQ(j["type_uid"].get<int>(), cls * 100 + j["activity_id"].get<int>());
    EXPECT_TRUE(severities.count(j["severity_id"].get<int>()));
    EXPECT_EQ(j["time"].get<uint64_t>(), e.ts_ns / 1'000'000);
    const json& md = j.at("metadata");
    EXPECT_TRUE(std::regex_match(md.at("version").get<std::string>(), std::regex(R"(^\d+\.\d+\.\d+$)")));
    EXPECT_TRUE(md.at("product").at("name").is_string());
    EXPECT_TRUE(md.at("product").at("vendor_name").is_string());
    EXPECT_TRUE(md.at("product").at("version").is_string());
    EXPECT_EQ(md.at("sequence").get<uint64_t>(), events_[i].first.seq);
    const json& dev = j.at("device");
    EXPECT_TRUE(dev.at("type_id").is_number_integer());
    EXPECT_TRUE(dev.at("os").at("name").is_string());
    EXPECT_TRUE(dev.at("os").at("type_id").is_number_integer());
    if (cls == 1007) {
      const json& p = j.at("process");
      EXPECT_TRUE(p.at("pid").is_number_integer());
      EXPECT_TRUE(j.at("actor").at("process").at("pid").is_number_integer());
      if (e.start_ns) EXPECT_EQ(p.at("uid"), ProcessIdOf(boot, e.pid, e.start_ns));
      if (e.ppid && e.parent_start_ns) {
        EXPECT_EQ(p.at("parent_process").at("uid"), ProcessIdOf(boot, e.ppid, e.parent_start_ns));
      }
      if (p.contains("cmd_line")) EXPECT_TRUE(p["cmd_line"].is_string());
      if (p.contains("file")) {
        EXPECT_TRUE(p["file"].at("name").is_string());
        EXPECT_TRUE(p["file"].at("type_id").is_number_integer());
      }
      if (p.contains("created_time")) EXPECT_TRUE(p["created_time"].is_number_integer());
      EXPECT_EQ(j["activity_id"].get<int>(), e.kind == EventKind::kProcessExit ? 2 : 1);
    }
    if (cls == 4001) {
      for (const char* ep : {"src_endpoint", "dst_endpoint"}) {
        EXPECT_TRUE(j.at(ep).at("port").is_number_integer());
        if (j[ep].contains("ip")) EXPECT_TRUE(IsIp(j[ep]["ip"].get<std::string>()));
      }
      EXPECT_TRUE(j.at("connection_info").at("protocol_name").is_string());
      EXPECT_TRUE(j.at("actor").at("process").at("pid").is_number_integer());
      const int want = e.kind == EventKind::kSocketListen ? 7 : e.kind == EventKind::kSocketBind ? 1 : 2;
      EXPECT_EQ(j["activity_id"].get<int>(), want);
    }
  }
  EXPECT_GT(seen[1007], 100);
  EXPECT_GT(seen[4001], 10);
}

// RFC 4180 parser: fields separated by ',', records by CRLF, quoted fields with "" escapes and
// embedded CR/LF. Returns false on any violation.
// Strict UTF-8 (RFC 3629), written plainly for the test: no overlong forms, no surrogates,
// nothing above U+10FFFF. Independent of the exporter's own CsvUtf8Len.
bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    size_t n;
    uint32_t cp, min;
    if (b0 < 0x80) {
      ++i;
      continue;
    } else if ((b0 & 0xE0) == 0xC0) {
      n = 2, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      n = 3, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      n = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      const auto b = static_cast<uint8_t>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

bool ParseCsv(const std::string& s, std::vector<std::vector<std::string>>* rows) {
  std::vector<std::string> row;
  std::string cell;
  size_t i = 0;
  bool cell_started = false;
  while (i < s.size()) {
    char c = s[i];
    if (c == '"') {
      if (cell_started) return false;  // quote inside an unquoted field
      ++i;
      while (true) {
        if (i >= s.size()) return false;
        if (s[i] == '"') {
          if (i + 1 < s.size() && s[i + 1] == '"') {
            cell += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        cell += s[i++];
      }
      cell_started = true;
      if (i < s.size() && s[i] != ',' && s[i] != '\r') return false;
      continue;
    }
    if (c == ',') {
      row.push_back(cell);
      cell.clear();
      cell_started = false;
      ++i;
      continue;
    }
    if (c == '\r') {
      if (i + 1 >= s.size() || s[i + 1] != '\n') return false;
      row.push_back(cell);
      rows->push_back(row);
      row.clear();
      cell.clear();
      cell_started = false;
      i += 2;
      continue;
    }
    if (c == '\n') return false;  // bare LF outside quotes
    cell += c;
    cell_started = true;
    ++i;
  }
  return row.empty() && cell.empty();
}

TEST_F(Export, CsvParsesAsRfc4180WithFormulasNeutralisedAndRoundTrips) {
  const std::string out = t_.sub("out.csv");
  auto r = Replay(t_, "export --data-dir " + dir_ + " --format csv --no-default-redact --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::vector<std::string>> rows;
  ASSERT_TRUE(ParseCsv(testing::Slurp(out), &rows));
  ASSERT_EQ(rows.size(), events_.size() + 1);
  std::vector<std::string> header;
  {
    std::vector<std::vector<std::string>> h;
    ASSERT_TRUE(ParseCsv(std::string(CsvHeader()) + "\r\n", &h));
    header = h[0];
  }
  EXPECT_EQ(rows[0], header);
  std::map<std::string, size_t> col;
  for (size_t c = 0; c < header.size(); ++c) col[header[c]] = c;
  const std::regex plain_negative(R"(^-\d+$)");
  bool saw_hostile = false;
  for (size_t i = 1; i < rows.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_EQ(rows[i].size(), header.size());
    for (const auto& cell : rows[i]) {
      EXPECT_TRUE(ValidUtf8(cell)) << "a cell is not UTF-8 (column " << &cell - rows[i].data() << ")";
      if (!cell.empty() && std::string("=+-@\t\r").find(cell[0]) != std::string::npos) {
        EXPECT_TRUE(std::regex_match(cell, plain_negative)) << "formula-leading cell: " << cell;
      }
      for (unsigned char c : cell) {
        EXPECT_TRUE(c == '\n' || c >= 0x20) << "raw control byte in a cell";
      }
    }
    const Event& e = events_[i - 1].second;
    EXPECT_EQ(CsvUnescapeCell(rows[i][col["comm"]]), e.comm);
    EXPECT_EQ(CsvUnescapeCell(rows[i][col["exe"]]), e.exe);
    EXPECT_EQ(std::stoull(rows[i][col["timestamp_us"]]), e.ts_ns / 1000);
    json argv = json::parse(CsvUnescapeCell(rows[i][col["argv_json"]]), nullptr, false);
    ASSERT_FALSE(argv.is_discarded());
    EXPECT_EQ(DecodedArgv(argv), e.argv);
    if (e.pid == 31337 && e.kind == EventKind::kProcessExec) {
      saw_hostile = true;
      EXPECT_EQ(rows[i][col["comm"]], "'=evil()\n");
      EXPECT_EQ(rows[i][col["exe"]], "/tmp/=evil");
    }
  }
  EXPECT_TRUE(saw_hostile);
}

TEST(CsvText, EscapingIsLosslessForEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::vector<std::string> cases = testing::HostileArgv();
  cases.push_back(all);
  cases.push_back("'=already");
  for (const auto& s : cases) {
    std::string out;
    AppendCsvText(out, s);
    ASSERT_GE(out.size(), 2u);
    ASSERT_EQ(out.front(), '"');
    ASSERT_EQ(out.back(), '"');
    std::string inner = out.substr(1, out.size() - 2), unq;
    for (size_t i = 0; i < inner.size(); ++i) {
      unq += inner[i];
      if (inner[i] == '"') {
        ASSERT_EQ(inner[i + 1], '"');
        ++i;
      }
    }
    EXPECT_EQ(CsvUnescapeCell(unq), s);
    // The cell is valid UTF-8 whatever bytes went in.
    EXPECT_TRUE(ValidUtf8(unq));
  }
}

TEST_F(Export, FiltersAndRangeApply) {
  const uint64_t since = events_[100].second.ts_ns, until = events_[1500].second.ts_ns;
  auto lines = Run("timesketch", "--kind exec,exit --since " + std::to_string(since) + " --until " +
                                     std::to_string(until) + " --pid 31337");
  ASSERT_EQ(lines.size(), 2u);  // the hostile exec and its exit
  for (const auto& l : lines) {
    json j = ParseLine(l);
    EXPECT_EQ(j["pid"].get<int>(), 31337);
  }
}

// The executable's hash in each format's own names: ECS process.hash.sha256, OCSF
// process.file.hashes[], Timesketch exe_sha256 / exe_flags; on an exec that had it in time and on
// an exe_hash record completing another exec; never on an exec whose hash is pending.
TEST(ExportHashes, ExecutableHashInEachFormatsOwnNames) {
  testing::TempDir t;
  const std::string dir = t.sub("data");
  const std::string a(64, 'a'), b(64, 'b');
  {
    auto log = std::move(EventLog::OpenWriter(dir).value());
    Event host;
    host.kind = EventKind::kHostFacts;
    host.ts_ns = testing::kT0;
    host.host.boot_id = "b00t";
    Event hit;
    hit.kind = EventKind::kProcessExec;
    hit.ts_ns = testing::kT0 + 1;
    hit.pid = 10;
    hit.start_ns = 5;
    hit.exe = "/usr/bin/true";
    hit.attrs = {{"exe_hash", "ok"}, {"exe_sha256", a}};
    Event miss = hit;
    miss.ts_ns = testing::kT0 + 2;
    miss.pid = 11;
    miss.exe = "/tmp/=x";
    miss.attrs = {{"exe_hash", "pending"}, {"exe_flags", "dir_writable"}};
    Event done;
    done.kind = EventKind::kExeHash;
    done.ts_ns = testing::kT0 + 3;
    done.pid = 11;
    done.start_ns = 5;
    done.exe = miss.exe;
    done.attrs = {{"exec_ts_ns", std::to_string(miss.ts_ns)}, {"exe_hash", "ok"},
                  {"exe_sha256", b}, {"exe_flags", "dir_writable,unpackaged"}};
    ASSERT_TRUE(log->Append(std::vector<Event>{host, hit, miss, done}).ok());
  }
  auto run = [&](const std::string& format) {
    const std::string out = t.sub("out." + format);
    // --until: each export appends its own audit record, left out of the next one.
    auto r = Replay(t, "export --data-dir " + dir + " --format " + format + " --out " + out +
                           " --no-default-redact --until " + std::to_string(testing::kT0 + 3));
    EXPECT_EQ(r.code, 0) << r.err;
    std::vector<json> lines;
    for (const std::string& l : Lines(testing::Slurp(out))) lines.push_back(ParseLine(l));
    return lines;
  };
  auto ecs = run("ecs");
  ASSERT_EQ(ecs.size(), 4u);
  EXPECT_EQ(ecs[1]["process"]["hash"]["sha256"], a);
  EXPECT_FALSE(ecs[2]["process"].contains("hash")) << "pending: no hash yet";
  EXPECT_EQ(ecs[3]["event"]["action"], "exe_hash");
  EXPECT_EQ(ecs[3]["process"]["hash"]["sha256"], b);
  EXPECT_EQ(ecs[3]["process"]["executable"], "/tmp/=x");
  auto ocsf = run("ocsf");
  ASSERT_EQ(ocsf.size(), 4u);
  const json& h1 = ocsf[1]["process"]["file"]["hashes"];
  ASSERT_EQ(h1.size(), 1u);
  EXPECT_EQ(h1[0]["algorithm_id"], 3);
  EXPECT_EQ(h1[0]["algorithm"], "SHA-256");
  EXPECT_EQ(h1[0]["value"], a);
  EXPECT_FALSE(ocsf[2]["process"]["file"].contains("hashes"));
  EXPECT_EQ(ocsf[3]["class_uid"], 1007);
  EXPECT_EQ(ocsf[3]["process"]["file"]["hashes"][0]["value"], b);
  auto ts = run("timesketch");
  ASSERT_EQ(ts.size(), 4u);
  EXPECT_EQ(ts[1]["exe_sha256"], a);
  EXPECT_EQ(ts[2]["exe_hash"], "pending");
  EXPECT_FALSE(ts[2].contains("exe_sha256"));
  EXPECT_EQ(ts[3]["exe_sha256"], b);
  EXPECT_EQ(ts[3]["exe_flags"], "dir_writable,unpackaged");
  EXPECT_EQ(ts[3]["timestamp_desc"], "Executable Hashed");
  EXPECT_NE(ts[3]["message"].get<std::string>().find("sha256 " + b), std::string::npos);
}

TEST_F(Export, BadArgumentsAreExplained) {
  auto r = Replay(t_, "export --data-dir " + dir_ + " --format xml");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("timesketch, ecs, ocsf, csv"), std::string::npos) << r.err;
  r = Replay(t_, "export --data-dir " + dir_ + " --format csv --kind nope");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown event kind"), std::string::npos) << r.err;
  r = Replay(t_, "export --data-dir " + t_.sub("missing") + " --format csv");
  EXPECT_EQ(r.code, 2);
}

}  // namespace
}  // namespace twin
