// Pure parts of the capture library: record decoding, path/argv reassembly, cgroup names,
// /proc/net parsing, clock rounding, config sizes, log escaping.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <thread>

#include <cstring>

#include "bpf/events.h"
#include "userspace/cgroup_names.h"
#include "userspace/clock.h"
#include "userspace/config.h"
#include "userspace/daemon.h"
#include "userspace/decode.h"
#include "userspace/disk_guard.h"
#include "userspace/metrics.h"
#include "userspace/procfs.h"

namespace twin::capture {
namespace {

TEST(Decode, ExecRecordRoundTrip) {
  std::vector<char> buf(sizeof(twin_exec));
  auto append = [&](const std::string& s) { buf.insert(buf.end(), s.begin(), s.end()); };
  const std::string argv("/bin/x\0a b\0\n{{x}}\0", 18);
  const std::string exe("x\0bin\0usr\0", 10);     // leaf first
  const std::string cwd("", 0);                   // root
  const std::string cg("a.service\0system.slice\0", 23);
  append(argv);
  append(exe);
  append(cwd);
  append(cg);
  twin_exec r{};
  r.hdr.kind = TWIN_EV_EXEC;
  r.hdr.pid = 42;
  r.hdr.ts_boot_ns = 5'000'000'000;
  r.start_boottime = 1'234'567'890;
  r.parent_start_boottime = 999'999'999;
  r.ppid = 1;
  r.uid = 1000;
  r.gid = 100;
  r.argv_len = argv.size();
  r.exe_len = exe.size();
  r.cwd_len = 0;
  r.cgroup_len = cg.size();
  strcpy(r.comm, "x");
  memcpy(buf.data(), &r, sizeof(r));
  DecodeContext ctx;
  ctx.clock.wall_minus_boot_ns = 1'000'000'000'000'000'000;
  ctx.tick_ns = 10'000'000;
  Decoded d;
  ASSERT_TRUE(DecodeRecord(buf.data(), buf.size(), ctx, &d));
  const Event& e = d.event;
  EXPECT_EQ(e.kind, EventKind::kProcessExec);
  EXPECT_EQ(e.pid, 42);
  EXPECT_EQ(e.mono_ns, 5'000'000'000u);
  EXPECT_EQ(e.ts_ns, 1'000'000'005'000'000'000u);
  EXPECT_EQ(e.start_ns, 1'230'000'000u);  // rounded down to the tick
  EXPECT_EQ(e.parent_start_ns, 990'000'000u);
  EXPECT_EQ(e.argv, (std::vector<std::string>{"/bin/x", "a b", "\n{{x}}"}));
  EXPECT_EQ(e.exe, "/usr/bin/x");
  EXPECT_EQ(e.cwd, "/");
  EXPECT_EQ(e.cgroup, "/system.slice/a.service");
  EXPECT_EQ(e.unit, "a.service");
  EXPECT_EQ(e.comm, "x");
  // Truncated records are refused, not read past the end.
  EXPECT_FALSE(DecodeRecord(buf.data(), buf.size() - 1, ctx, &d));
  EXPECT_FALSE(DecodeRecord(buf.data(), 4, ctx, &d));
}

TEST(Decode, WaitStatus) {
  Event e;
  DecodeWaitStatus(3 << 8, &e);
  EXPECT_EQ(e.exit_code, 3);
  EXPECT_EQ(e.signal, 0);
  DecodeWaitStatus(9, &e);
  EXPECT_EQ(e.signal, 9);
  EXPECT_EQ(e.exit_code, 0);
  DecodeWaitStatus(11 | 0x80, &e);
  EXPECT_EQ(e.signal, 11);
  EXPECT_TRUE(e.core_dumped);
}

TEST(Decode, SplitArgvKeepsEmptyAndTruncatedArguments) {
  EXPECT_EQ(SplitArgv("a\0\0b", 4), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(SplitArgv("a\0", 2), (std::vector<std::string>{"a"}));
}

TEST(CgroupNames, UnitAndContainer) {
  EXPECT_EQ(UnitFromCgroup("/system.slice/nginx.service"), "nginx.service");
  EXPECT_EQ(UnitFromCgroup("/system.slice/nginx.service/worker"), "nginx.service");
  EXPECT_EQ(UnitFromCgroup("/user.slice/user-0.slice/session-1.scope"), "session-1.scope");
  EXPECT_EQ(UnitFromCgroup("/"), "");
  const std::string id(64, 'a');
  EXPECT_EQ(ContainerIdFromCgroup("/system.slice/docker-" + id + ".scope"), id);
  EXPECT_EQ(ContainerIdFromCgroup("/kubepods/pod1/" + id), id);
  EXPECT_EQ(ContainerIdFromCgroup("/system.slice/" + std::string(63, 'b') + ".scope"), "");
}

TEST(ProcNet, ParsesListenersBothFamilies) {
  const std::string tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0 100 0 0 10 0\n";
  auto v = ParseProcNet(tcp, kProtoTcp, kFamilyInet);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].addr, "127.0.0.1");
  EXPECT_EQ(v[0].port, 8080);
  EXPECT_EQ(v[0].state, 0x0A);
  EXPECT_EQ(v[0].inode, 12345u);
  const std::string tcp6 =
      "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0 100 0 0 10 0\n";
  auto w = ParseProcNet(tcp6, kProtoTcp, kFamilyInet6);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].addr, "::1");
  EXPECT_EQ(w[0].port, 22);
}

TEST(Clock, StartTimeRoundsDownToTicks) {
  EXPECT_EQ(ProcStartNs(123'456'789, 10'000'000), 120'000'000u);
  EXPECT_EQ(ProcStartNsFromTicks(12, 10'000'000), 120'000'000u);
}

TEST(Config, Sizes) {
  EXPECT_EQ(ParseSize("4096").value(), 4096u);
  EXPECT_EQ(ParseSize("8M").value(), 8u << 20);
  EXPECT_EQ(ParseSize("64k").value(), 64u << 10);
  EXPECT_FALSE(ParseSize("8X").ok());
}

TEST(Log, EscapesHostileStrings) {
  EXPECT_EQ(LogEscape("a\nb\x1b[31m\\"), "a\\x0ab\\x1b[31m\\x5c");
  EXPECT_EQ(LogEscape("{{ x }}"), "{{ x }}");  // printable: kept, never interpreted
}

TEST(UnitFile, RefusesPathsOutsideUnitDirs) {
  EXPECT_FALSE(FindUnitFile("../../etc/passwd").has_value());
  EXPECT_FALSE(FindUnitFile("..").has_value());
}

}  // namespace
}  // namespace twin::capture

namespace twin::capture {
namespace {

TEST(Config, TomlFileThenFlagsOverride) {
  char path[] = "/tmp/twind-toml-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string toml =
      "data_dir = \"/tmp/x\"\ncompact_interval = 2.5\nmetrics_addr = \"127.0.0.1:9999\"\n"
      "ringbuf_size = \"16M\"\nmax_args = 8192\nfsync = \"always\"\n";
  ASSERT_EQ(write(fd, toml.data(), toml.size()), static_cast<ssize_t>(toml.size()));
  close(fd);
  DaemonConfig cfg;
  std::vector<std::string> args = {"twind", "--config", path, "--metrics-addr", "off",
                                   "--compact-interval", "1"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  EXPECT_EQ(ParseCommandLine(static_cast<int>(argv.size()), argv.data(), &cfg), -1);
  EXPECT_EQ(cfg.data_dir, "/tmp/x");
  EXPECT_EQ(cfg.compact_interval_ms, 1000u);  // flag wins
  EXPECT_EQ(cfg.metrics_addr, "off");         // flag wins
  EXPECT_EQ(cfg.ringbuf_bytes, 16u << 20);
  EXPECT_EQ(cfg.max_args, 8192u);
  EXPECT_EQ(cfg.fsync, "always");
  unlink(path);
}

TEST(Config, MissingExplicitConfigIsAnError) {
  DaemonConfig cfg;
  std::vector<std::string> args = {"twind", "--config", "/nonexistent/twind.toml"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  EXPECT_EQ(ParseCommandLine(static_cast<int>(argv.size()), argv.data(), &cfg), 2);
}

}  // namespace
}  // namespace twin::capture

#include "userspace/disk_guard.h"
#include "userspace/metrics.h"
}

}  // namespace
}  // namespace twin::capture
