// Input taken at the border: impossible times, bad counts, pids, ports and ranges, a file
// given as the data dir -- each refused in one line that names the argument -- and hostile host
// text shown on a terminal only through visible escapes while JSON keeps every byte.
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eventlog/compactor.h"
#include "eventlog/log.h"
#include "eventlog/timefmt.h"
#include "replay/args.h"
#include "format/json_writer.h"
#include "format/terminal.h"
#include "tests/common/replay_run.h"
#include "tests/core/test_util.h"

namespace twin {
namespace {

using testing::CmdRun;
using testing::Replay;

size_t Lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

// --- times -------------------------------------------------------------------------------

TEST(ParseTimeStrict, ImpossibleDatesAreErrorsNotTheNextMonth) {
  for (const char* bad : {"2026-02-31T00:00:00Z", "2026-02-29T00:00:00Z", "2026-04-31T12:00:00Z",
                          "2100-02-29T00:00:00Z", "2026-00-10T00:00:00Z", "2026-13-01T00:00:00Z",
                          "2026-01-00T00:00:00Z", "2026-01-32T00:00:00Z", "2026-01-01T24:00:00Z",
                          "2026-01-01T00:60:00Z", "2026-06-30T23:59:60Z", "2026-01-01T00:00:61Z"}) {
    auto r = ParseTime(bad, 0);
    EXPECT_FALSE(r.ok()) << bad << " read as " << FormatRfc3339Ns(r.ok() ? r.value() : 0);
  }
  EXPECT_NE(ParseTime("2026-02-31T00:00:00Z", 0).status().message().find("day 31 does not exist in 2026-02"),
            std::string::npos);
  EXPECT_TRUE(ParseTime("2024-02-29T00:00:00Z", 0).ok());
  EXPECT_TRUE(ParseTime("2000-02-29T00:00:00Z", 0).ok());
}

TEST(ParseTimeStrict, LooseFieldsAreRefused) {
  // sscanf's %2d took " 3" and "+3"; every field is exactly its digits now.
  for (const char* bad : {"2026-02- 3T00:00:00Z", "2026-02-+3T00:00:00Z", "+026-02-03T00:00:00Z",
                          "2026-2-03T00:00:00Z", "2026-02-03T0:00:00Z", "2026-02-03X00:00:00Z",
                          "2026-02-03T00:00:00", "2026-02-03T00:00:00+1:00", "1969-12-31T23:59:59Z",
                          "2555-01-01T00:00:00Z", "9999-12-31T23:59:59Z"}) {
    EXPECT_FALSE(ParseTime(bad, 0).ok()) << bad;
  }
}

TEST(ParseTimeStrict, EveryDayAgreesWithTimegm) {
  // timegm is the oracle for valid dates (it only goes wrong on invalid ones).
  for (int y = 1970; y <= 2400; y += (y < 2040 ? 1 : 7)) {
    for (int m = 1; m <= 12; ++m) {
      for (int d = 1; d <= 31; ++d) {
        tm t{};
        t.tm_year = y - 1900;
        t.tm_mon = m - 1;
        t.tm_mday = d;
        t.tm_hour = 13;
        t.tm_min = 7;
        t.tm_sec = 59;
        const time_t secs = timegm(&t);
        const bool real = t.tm_mday == d;  // timegm normalised an impossible date
        char text[40];
        snprintf(text, sizeof text, "%04d-%02d-%02dT13:07:59.5+01:30", y, m, d);
        auto r = ParseTime(text, 0);
        ASSERT_EQ(r.ok(), real) << text;
        if (real) {
          ASSERT_EQ(r.value(), (static_cast<uint64_t>(secs) - 5400) * 1000000000ull + 500000000ull) << text;
        }
      }
    }
  }
}

TEST(ParseTimeStrict, EpochSecondsThatOverflowNanosecondsAreRefused) {
  EXPECT_FALSE(ParseTime("99999999999", 0).ok());  // 11 digits * 1e9 > 2^64
  EXPECT_FALSE(ParseTime("18446744074.0", 0).ok());
  EXPECT_EQ(ParseTime("18446744073", 0).value(), 18446744073000000000ull);
  EXPECT_EQ(ParseTime("0", 0).value(), 0u);  // a real time; the commands say it predates the log
}

// --- counts, pids, ports, ranges ------------------------------------------------------------

TEST(Args, CountsPidsAndPortsHaveOneRangeAndNameTheArgument) {
  for (const char* bad : {"0", "-1", "", "1e3", " 5", "+5", "12345678901234567890123", "18446744073709551616"}) {
    auto r = ParseCountArg("--limit", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message().rfind("--limit: ", 0), 0u) << r.status().message();
  }
  EXPECT_EQ(ParseCountArg("--limit", "18446744073709551615").value(), UINT64_MAX);
  EXPECT_EQ(ParseCountArg("--limit", "1").value(), 1u);
  for (const char* bad : {"-1", "0", "4194305", "99999999999", "1.5", "x"}) {
    EXPECT_FALSE(ParsePidArg("--pid", bad).ok()) << bad;
  }
  EXPECT_EQ(ParsePidArg("--pid", "4194304").value(), 4194304);
  EXPECT_FALSE(ParsePortArg("--port", "65536").ok());
  EXPECT_FALSE(ParsePortArg("--port", "-1").ok());
  EXPECT_EQ(ParsePortArg("--port", "0").value(), 0);
  EXPECT_TRUE(CheckTimeOrder("T1", 5, "T2", 5).ok());
  EXPECT_NE(CheckTimeOrder("T1", 6, "T2", 5).message().find("swap"), std::string::npos);
}

// --- the terminal ---------------------------------------------------------------------------

TEST(TerminalEscape, ControlAndFormatCharactersBecomeVisibleEscapes) {
  const std::pair<std::string, std::string> cases[] = {
      {"a\nb\r\t\\", "a\\nb\\r\\t\\\\"},
      {"\x1b[31mred\x7f", "\\x1b[31mred\\x7f"},
      {std::string("nul\0", 4), "nul\\x00"},
      {"\xc2\x9b" "31m", "\\u{9b}31m"},                  // C1 CSI
      {"\xc2\x85", "\\u{85}"},                           // NEL
      {"evil\xe2\x80\xae" "txt.exe", "evil\\u{202e}txt.exe"},  // RIGHT-TO-LEFT OVERRIDE
      {"\xe2\x81\xa6" "x\xe2\x81\xa9", "\\u{2066}x\\u{2069}"},  // bidi isolates
      {"\xd8\x9c", "\\u{61c}"},                          // ARABIC LETTER MARK
      {"a\xe2\x80\x8b" "b", "a\\u{200b}b"},              // zero width space
      {"\xe2\x80\xa8", "\\u{2028}"},                     // line separator
      {"\xef\xbb\xbf", "\\u{feff}"},                     // BOM
      {"\xf3\xa0\x80\x81", "\\u{e0001}"},                // tag
      {"\xc0\xaf", "\\xc0\\xaf"},                        // overlong '/'
      {"\xe0\x80\xaf", "\\xe0\\x80\\xaf"},               // overlong, 3 bytes
      {"\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf"},      // overlong, 4 bytes
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},               // surrogate D800
      {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},      // U+110000
      {"\xf8\x88\x80\x80\x80", "\\xf8\\x88\\x80\\x80\\x80"},
      {"end\xe2\x80", "end\\xe2\\x80"},                  // truncated
      {"\x80x", "\\x80x"},                               // stray continuation
      {"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80"},  // kept
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(EscapeForTerminal(in), want);
}

TEST(TerminalEscape, RandomBytesLeaveOnlyStrictUtf8WithoutControls) {
  std::mt19937 rng(20261202);
  const std::string alphabet[] = {"\x1b", "\n", "\x7f", "\xc2\x9b", "\xe2\x80\xae", "\xed\xa0\x80",
                                  "\xf4\x90\x80\x80", "\xc0", "\x80", "\xe2\x80", "a", "\xc3\xa9", "\\"};
  for (int i = 0; i < 20000; ++i) {
    std::string in;
    const int n = static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) {
      if (rng() % 3 == 0) in += static_cast<char>(rng() & 0xff);
      else in += alphabet[rng() % std::size(alphabet)];
    }
    const std::string out = EscapeForTerminal(in);
    for (unsigned char c : out) ASSERT_TRUE(c >= 0x20 && c != 0x7f) << ::testing::PrintToString(in);
    // nlohmann's parser rejects overlong forms, surrogates and > U+10FFFF: an independent check.
    std::string quoted = "\"";
    for (char c : out) quoted += (c == '"' || c == '\\') ? std::string(1, '\\') + c : std::string(1, c);
    ASSERT_FALSE(nlohmann::json::parse(quoted + "\"", nullptr, false).is_discarded())
        << ::testing::PrintToString(in);
    for (const char* never : {"\xc2\x9b", "\xe2\x80\xae", "\xe2\x81\xa6"}) {
      ASSERT_EQ(out.find(never), std::string::npos);
    }
  }
}

// --- the commands ---------------------------------------------------------------------------

const std::string kHostile[] = {"evil\xe2\x80\xaetxt", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80",
                                "\xc2\x9b" "2J", "\x1b]0;pwned\x07", "tail\xe2\x80"};

class Border : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = t_.sub("data");
    auto log = std::move(EventLog::OpenWriter(dir_).value());
    Compactor c(*log);
    uint64_t ts = 1'764'126'727'000'000'000ull;  // 2025-11-26T03:12:07Z
    first_ = ts + 1'000'000'000;
    for (int i = 0; i < 5; ++i) {
      Event e;
      e.kind = EventKind::kProcessExec;
      e.ts_ns = ts += 1'000'000'000;
      e.pid = 100 + i;
      e.start_ns = 7;
      e.ppid = 1;
      e.comm = kHostile[i];
      e.exe = "/usr/bin/" + kHostile[i + 1];
      e.argv = {kHostile[i], kHostile[i + 1], kHostile[i + 2]};
      e.unit = kHostile[i + 2] + ".service";
      ASSERT_TRUE(log->Append(e).ok());
    }
    ASSERT_TRUE(c.RunOnce(ts).ok());
    file_ = t_.sub("plain-file");
    FILE* f = fopen(file_.c_str(), "w");
    fputs("not a log\n", f);
    fclose(f);
  }
  CmdRun Run(const std::string& args) { return Replay(t_, args); }
  // Exit 2, one line on stderr, naming what.
  void ExpectRefused(const std::string& args, const std::string& what) {
    SCOPED_TRACE(args);
    CmdRun r = Run(args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(Lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty() || r.out.find("TIME") == std::string::npos) << r.out;
  }

  testing::TempDir t_;
  std::string dir_, file_;
  uint64_t first_ = 0;
};

TEST_F(Border, ImpossibleDateIsAnErrorInStateDiffEventsExportAndVm) {
  const std::string d = " --data-dir " + dir_;
  ExpectRefused("state --at 2026-02-31T00:00:00Z" + d, "--at: cannot parse time '2026-02-31T00:00:00Z': day 31");
  ExpectRefused("diff 2025-11-31T00:00:00Z now" + d, "T1: cannot parse time");
  ExpectRefused("events --since 2026-02-30T00:00:00Z" + d, "--since: cannot parse time");
  ExpectRefused("export --format csv --until 2026-02-29T00:00:00Z" + d, "--until: cannot parse time");
  // libvirt's test driver and a domain of our own: were the date taken, nothing real would boot.
  ExpectRefused("vm --uri test:///default --domain inputs-border --at 2026-02-31T00:00:00Z" + d,
                "--at: cannot parse time");
  ExpectRefused("vm --uri test:///default --domain inputs-border --at 0" + d,
                "is before the log's first record");
}

TEST_F(Border, TimeBeforeTheLogBeginsIsUnknownNotAnEmptyCertainState) {
  const std::string d = " --data-dir " + dir_;
  ExpectRefused("state --at 0" + d, "is before the log's first record (" + FormatRfc3339Ns(first_) + ")");
  ExpectRefused("state --at 0 --json" + d, "the host's state then is unknown");
  ExpectRefused("diff 0 now" + d, "T1: 1970-01-01T00:00:00.000000000Z is before the log's first record");
  CmdRun ok = Run("state --at " + std::to_string(first_) + d);
  EXPECT_EQ(ok.code, 0) << ok.err;
  CmdRun ev = Run("events --since 0" + d);  // a range from the epoch is fine
  EXPECT_EQ(ev.code, 0) << ev.err;
  EXPECT_EQ(Lines(ev.out), 6u);
}

TEST_F(Border, LimitsMustBeAPositiveCountThatFits) {
  const std::string d = " --data-dir " + dir_;
  ExpectRefused("events --limit 0" + d, "--limit: must be at least 1");
  ExpectRefused("events --limit=-1" + d, "--limit: '-1' is not a count");
  ExpectRefused("events --limit 12345678901234567890123" + d, "--limit: '12345678901234567890123' is too large");
  ExpectRefused("events --limit 2x" + d, "--limit");
  CmdRun two = Run("events --limit 2" + d);
  EXPECT_EQ(two.code, 0) << two.err;
  EXPECT_EQ(Lines(two.out), 3u) << two.out;  // header + 2
}

TEST_F(Border, PidsAndPortsAreCheckedInEventsAndExport) {
  const std::string d = " --data-dir " + dir_;
  ExpectRefused("events --pid -1" + d, "--pid: '-1' is not a pid");
  ExpectRefused("events --pid 0" + d, "--pid: '0' is too small");
  ExpectRefused("events --pid 99999999999" + d, "--pid: '99999999999' is too large");
  ExpectRefused("export --format csv --pid=-5" + d, "--pid: '-5' is not a pid");
  ExpectRefused("events --port 65536" + d, "--port: '65536' is too large");
  ExpectRefused("export --format csv --port -1" + d, "--port");
  CmdRun one = Run("events --pid 102 --json" + d);
  EXPECT_EQ(one.code, 0) << one.err;
  EXPECT_EQ(Lines(one.out), 1u);
}

TEST_F(Border, ReversedRangesAreRefusedInEveryCommand) {
  const std::string d = " --data-dir " + dir_;
  ExpectRefused("diff now -1h" + d, "T2 (");
  ExpectRefused("diff now -1h" + d, "swap them");
  ExpectRefused("events --since now --until -1h" + d, "--until (");
  ExpectRefused("export --format ecs --since now --until -1h" + d, "swap them");
  ExpectRefused("bundle --out " + t_.sub("b.tar") + " --since now --until -1h" + d, "swap them");
  CmdRun same = Run("diff " + std::to_string(first_) + " " + std::to_string(first_) + d);
  EXPECT_EQ(same.code, 0) << same.err;
}

TEST_F(Border, ARegularFileAsDataDirIsNamedAsSuch) {
  const std::vector<std::string> cmds = {"state", "events", "verify", "info", "diff -1h now",
                                        "export --format csv", "bundle --out " + t_.sub("x.tar"),
                                        "vm --list"};
  for (const std::string& cmd : cmds) {
    ExpectRefused(cmd + " --data-dir " + file_, "--data-dir: " + file_ + " is not a directory");
    CmdRun r = Run(cmd + " --data-dir " + file_);
    EXPECT_EQ(r.err.find("Permission denied"), std::string::npos) << r.err;
  }
}

TEST_F(Border, ErrorsEscapeControlBytesFromPaths) {
  // A data dir whose name carries ESC, a newline, BEL and U+202E.
  const std::string evil = t_.sub("x\x1b]0;pwned\x07\nfake\xe2\x80\xae");
  FILE* f = fopen(evil.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fclose(f);
  const std::string quoted = "'" + evil + "'";
  for (const std::string cmd : {"state", "events", "export --format csv", "vm --list"}) {
    CmdRun r = Run(cmd + " --data-dir " + quoted);
    SCOPED_TRACE(cmd);
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(Lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.find('\x1b'), std::string::npos);
    EXPECT_EQ(r.err.find('\x07'), std::string::npos);
    EXPECT_EQ(r.err.find("\xe2\x80\xae"), std::string::npos);
    EXPECT_NE(r.err.find("x\\x1b]0;pwned\\x07\\nfake\\u{202e}"), std::string::npos) << r.err;
  }
  CmdRun missing = Run("events --data-dir '" + t_.sub("gone\x1b[2J") + "'");
  EXPECT_EQ(missing.err.find('\x1b'), std::string::npos) << missing.err;
}

TEST_F(Border, TablesShowHostileTextEscapedAndJsonKeepsEveryByte) {
  const std::string d = " --data-dir " + dir_;
  CmdRun table = Run("events" + d);
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_EQ(Lines(table.out), 6u) << table.out;
  for (const char* raw : {"\xe2\x80\xae", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90", "\xc2\x9b", "\x1b", "\x07"}) {
    EXPECT_EQ(table.out.find(raw), std::string::npos) << ::testing::PrintToString(std::string(raw));
  }
  EXPECT_NE(table.out.find("evil\\u{202e}txt"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("\\xed\\xa0\\x80"), std::string::npos);
  CmdRun state = Run("state" + d);
  ASSERT_EQ(state.code, 0) << state.err;
  for (const char* raw : {"\xe2\x80\xae", "\xed\xa0\x80", "\xc2\x9b", "\x1b"}) {
    EXPECT_EQ(state.out.find(raw), std::string::npos) << ::testing::PrintToString(std::string(raw));
  }
  CmdRun json = Run("events --json" + d);
  ASSERT_EQ(json.code, 0) << json.err;
  size_t at = 0;
  for (int i = 0; i < 5; ++i) {
    const size_t nl = json.out.find('\n', at);
    auto j = nlohmann::json::parse(json.out.substr(at, nl - at));
    at = nl + 1;
    std::string comm;
    ASSERT_TRUE(DecodeByteEscaped(j["comm"].get<std::string>(), &comm));
    EXPECT_EQ(comm, kHostile[i]);
  }
}

}  // namespace
}  // namespace twin
