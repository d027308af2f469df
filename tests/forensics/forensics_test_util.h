// Shared fixtures for the forensic tests: a real log with hostile strings and a runner for the
// real twin-replay binary.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eventlog/compactor.h"
#include "eventlog/log.h"
#include "eventlog/synth.h"
#include "tests/common/replay_run.h"
#include "tests/core/test_util.h"

namespace twin::testing {

// Every nasty argv element the exporters must survive.
inline std::vector<std::string> HostileArgv() {
  return {"evil",
          "=HYPERLINK(\"http://x\")",
          "+1+cmd|' /C calc'!A0",
          "-2+3",
          "@SUM(A1)",
          "\tTAB",
          "\rCR",
          "'quoted",
          "a,b;c",
          "\"dq\" 'sq'",
          "line\nbreak\r\n",
          std::string("nul\0byte", 8),
          "\x01\x1b[31mred\x7f",
          "\xff\xfe\x80",
          "\xf4\x8f\xbf\xbf",        // U+10FFFF, inside our byte-escape range
          "\xf4\x8f\xbc\x80",        // U+10FF00
          "\xc3\xa9t\xc3\xa9",       // valid UTF-8
          "\xed\xa0\x80",            // a surrogate: not valid UTF-8
          "{{ lookup('pipe','id') }}",
          "$(reboot);`id`"};
}

inline constexpr uint64_t kT0 = 1'700'000'000'000'000'000ull;

// n synthetic hostile events plus hand-made hostile ones; a snapshot every 500 events.
inline void MakeLog(const std::string& dir, int n, const LogOptions& lo = {}) {
  auto log = std::move(EventLog::OpenWriter(dir, lo).value());
  Compactor comp(*log);
  SynthOptions so;
  so.seed = 7;
  so.start_ns = kT0;
  so.hostile_strings = true;
  so.mean_step_ns = 1'000'000;
  SynthGenerator gen(so);
  Event host;
  host.kind = EventKind::kHostFacts;
  host.ts_ns = kT0;
  host.host.hostname = "host\n\"=evil\"\xff";
  host.host.kernel = "6.18.0";
  host.host.os = "Debian GNU/Linux 12";
  host.host.machine_id = "0123456789abcdef0123456789abcdef";
  host.host.boot_id = "b00t-1d";
  host.host.cpus = 2;
  ASSERT_TRUE(log->Append(host).ok());
  std::vector<Event> batch;
  for (int i = 0; i < n; i += 100) {
    batch.clear();
    gen.Fill(batch, 100);
    if (i == 200) {
      Event e;
      e.kind = EventKind::kProcessExec;
      e.ts_ns = batch.back().ts_ns;
      e.boottime_ns = 9'000'000'000ull;
      e.pid = 31337;
      e.ppid = 1;
      e.start_ns = 8'000'000'000ull;
      e.comm = "=evil()\n";
      e.exe = "/tmp/=evil";
      e.cwd = "/tmp/\xff";
      e.argv = HostileArgv();
      e.argv.push_back("--password=hunter2");
      e.argv.push_back("--token");
      e.argv.push_back("s3cr3tT0k3n");
      e.argv.push_back("https://user:pw1234@example.com/x");
      batch.push_back(e);
      Event b;
      b.kind = EventKind::kSocketBind;
      b.ts_ns = e.ts_ns;
      b.pid = 31337;
      b.proto = kProtoUdp;
      b.family = kFamilyInet6;
      b.addr = "::1";
      b.port = 53;
      b.result = -98;
      batch.push_back(b);
      Event x;
      x.kind = EventKind::kProcessExit;
      x.ts_ns = e.ts_ns;
      x.pid = 31337;
      x.start_ns = e.start_ns;
      x.signal = 9;
      batch.push_back(x);
    }
    ASSERT_TRUE(log->Append(batch).ok());
    if (i % 500 == 0) ASSERT_TRUE(comp.RunOnce(gen.now_ns()).ok());
  }
}

// All events of the log, in order.
inline std::vector<std::pair<EventKey, Event>> AllEvents(const std::string& dir) {
  std::vector<std::pair<EventKey, Event>> out;
  auto log = std::move(EventLog::OpenReader(dir).value());
  EXPECT_TRUE(log->Scan({0, 0}, {UINT64_MAX, UINT64_MAX}, [&](const EventKey& k, const Event& e) {
    out.emplace_back(k, e);
    return true;
  }).ok());
  return out;
}

inline std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

}  // namespace twin::testing
