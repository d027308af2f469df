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
#include "userspace/listener_scan.h"
#include "userspace/unit_scan.h"

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
  EXPECT_EQ(e.boottime_ns, 5'000'000'000u);
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
  EXPECT_EQ(cfg.fsync, FsyncPolicy::kAlways);
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

// --- One config validation (the daemon and --check share it) ---------------------------------
namespace twin::capture {
namespace {

std::string WriteToml(const std::string& body) {
  char path[] = "/tmp/twind-cfg-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, body.data(), body.size()), static_cast<ssize_t>(body.size()));
  close(fd);
  return path;
}

// Runs ParseCommandLine on a config file; returns its exit code (-1 = go on) and the error text.
int ParseWith(const std::string& toml, std::vector<std::string> extra, DaemonConfig* cfg,
              std::string* err) {
  std::string path = WriteToml(toml);
  std::vector<std::string> args = {"twind", "--config", path};
  for (auto& a : extra) args.push_back(a);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  testing::internal::CaptureStderr();
  int rc = ParseCommandLine(static_cast<int>(argv.size()), argv.data(), cfg);
  *err = testing::internal::GetCapturedStderr();
  unlink(path.c_str());
  return rc;
}

TEST(Config, EveryBadValueIsRefusedNamingItsKey) {
  struct Case {
    std::string toml, key;
  };
  const std::vector<Case> cases = {
      {"metrix_addr = \"127.0.0.1:1\"\n", "metrix_addr"},       // unknown key (typo)
      {"min_free_bytes = -1\n", "min_free_bytes"},               // would wrap to 16 EiB
      {"metrics_addr = \"127.0.0.1:99999\"\n", "metrics_addr"},  // was taken as port 34463
      {"metrics_addr = \"127.0.0.1:0x50\"\n", "metrics_addr"},
      {"metrics_addr = \"10.0.0.1:9464\"\n", "metrics_addr"},    // not loopback
      {"max_args = 70000\n", "max_args"},
      {"max_args = -5\n", "max_args"},
      {"max_args = \"many\"\n", "max_args"},
      {"ringbuf_size = \"3M\"\n", "ringbuf_size"},               // not a power of two
      {"ringbuf_size = -4096\n", "ringbuf_size"},
      {"queue_capacity = 0\n", "queue_capacity"},
      {"fsync = \"sometimes\"\n", "fsync"},
      {"log_level = \"verbose\"\n", "log_level"},                // spdlog would turn logging off
      {"compact_interval = 0\n", "compact_interval"},
      {"compact_interval = \"10\"\n", "compact_interval"},
      {"no_twin = 1\n", "no_twin"},
      {"retention_max_age = \"forever\"\n", "retention_max_age"},
      {"retention_max_bytes = \"8Q\"\n", "retention_max_bytes"},
      {"data_dir = \"relative/dir\"\n", "data_dir"},
      {"min_free_bytes = \"99999999999T\"\n", "min_free_bytes"},
      {"twin = 1\n", "twin"},
      {"[twin]\nmemory = \"100M\"\n", "twin.memory"},
      {"[twin]\nmemory = \"1000k\"\n", "twin.memory"},  // not whole MiB
      {"[twin]\naccel = \"fast\"\n", "twin.accel"},
      {"[twin]\ndomain = \"a b\"\n", "twin.domain"},
      {"[twin]\ndomain = \"../x\"\n", "twin.domain"},
      {"[twin]\nvcpus = 0\n", "twin.vcpus"},
      {"[twin]\nmax_chain = 100\n", "twin.max_chain"},
      {"[twin]\nboot_timeout = \"1s\"\n", "twin.boot_timeout"},
      {"[twin]\nboot_timeout = 600\n", "twin.boot_timeout"},
      {"[twin]\noverlay_root = \"rel/dir\"\n", "twin.overlay_root"},
      {"[twin]\nuri = \"qemu\"\n", "twin.uri"},
      {"[twin]\nuser_net = \"yes\"\n", "twin.user_net"},
      {"[twin]\nbogus = 1\n", "twin.bogus"},
  };
  for (const auto& c : cases) {
    DaemonConfig cfg;
    std::string err;
    EXPECT_EQ(ParseWith(c.toml, {}, &cfg, &err), 2) << c.toml;
    EXPECT_NE(err.find(c.key), std::string::npos) << c.toml << " -> " << err;
    // --check reports the same refusal as NOT READY instead of exiting at once.
    DaemonConfig ccfg;
    EXPECT_EQ(ParseWith(c.toml, {"--check"}, &ccfg, &err), -1) << c.toml;
    EXPECT_TRUE(ccfg.check);
    EXPECT_NE(ccfg.config_error.find(c.key), std::string::npos) << c.toml << " -> " << ccfg.config_error;
  }
}

TEST(Config, BadFlagsAreRefusedLikeBadKeys) {
  struct Case {
    std::string flag, value, named;
  };
  for (const Case& c : std::vector<Case>{{"--metrics-addr", "127.0.0.1:65536", "metrics_addr"},
                                         {"--log-level", "loud", "log_level"},
                                         {"--fsync", "maybe", "fsync"},
                                         {"--max-args", "0", "max_args"},
                                         {"--compact-interval", "0", "--compact-interval"},
                                         {"--ringbuf-size", "5000", "ringbuf_size"}}) {
    DaemonConfig cfg;
    std::string err;
    EXPECT_EQ(ParseWith("", {c.flag, c.value}, &cfg, &err), 2) << c.flag << " " << c.value;
    EXPECT_NE(err.find(c.named), std::string::npos) << err;
  }
}

TEST(Config, EveryDocumentedKeyIsAccepted) {
  const std::string toml =
      "data_dir = \"/var/lib/x\"\ncompact_interval = 2\nmetrics_addr = \"[::1]:9464\"\n"
      "metrics_socket = \"/run/safetytwin/metrics.sock\"\nringbuf_size = 16777216\n"
      "ringbuf_wakeup_bytes = -1\nmax_args = 16384\nqueue_capacity = 1024\nbatch_max = 512\n"
      "fsync = \"never\"\nfsync_interval_ms = 50\nreconcile_grace_ms = 0\nlog_level = \"debug\"\n"
      "log_file = \"/var/log/t.log\"\npid_file = \"/run/t.pid\"\nforce_raw_tp = true\n"
      "no_twin = true\nmin_free_bytes = \"1G\"\nretention_max_age = \"0\"\n"
      "retention_max_bytes = 0\n"
      "[twin]\ndomain = \"twin-2\"\nuri = \"qemu:///session\"\nimage_dir = \"/srv/img\"\n"
      "overlay_root = \"/srv/ov\"\naccel = \"tcg\"\nmemory = \"2G\"\nvcpus = 4\n"
      "boot_timeout = \"15m\"\nmax_chain = 12\nuser_net = true\nquiesce = true\n";
  DaemonConfig cfg;
  std::string err;
  ASSERT_EQ(ParseWith(toml, {}, &cfg, &err), -1) << err;
  EXPECT_EQ(cfg.metrics_addr, "[::1]:9464");
  EXPECT_EQ(cfg.ringbuf_bytes, 16u << 20);
  EXPECT_EQ(cfg.min_free_bytes, 1ull << 30);
  EXPECT_EQ(cfg.batch_max, 512u);
  EXPECT_EQ(cfg.retention_max_bytes, 0u);
  EXPECT_TRUE(cfg.no_twin);
  EXPECT_EQ(cfg.twin.domain, "twin-2");
  EXPECT_EQ(cfg.twin.uri, "qemu:///session");
  EXPECT_EQ(cfg.twin.image_dir, "/srv/img");
  EXPECT_EQ(cfg.twin.overlay_root, "/srv/ov");
  EXPECT_EQ(cfg.twin.accel, "tcg");
  EXPECT_EQ(cfg.twin.memory_mib, 2048);
  EXPECT_EQ(cfg.twin.vcpus, 4);
  EXPECT_EQ(cfg.twin.boot_timeout_ms, 15 * 60 * 1000);
  EXPECT_EQ(cfg.twin.max_chain, 12u);
  EXPECT_TRUE(cfg.twin.user_net);
  EXPECT_TRUE(cfg.twin.quiesce);
}

// SAFETYTWIN_TWIN_ACCEL and SAFETYTWIN_ANSIBLE_DIR are read once, by ParseCommandLine: the first
// replaces an automatic choice only, a bad value of either is refused naming the variable.
TEST(Config, TheTwinsEnvironmentOverridesAreReadOnceAndChecked) {
  DaemonConfig cfg;
  std::string err;
  setenv("SAFETYTWIN_TWIN_ACCEL", "tcg", 1);
  setenv("SAFETYTWIN_ANSIBLE_DIR", "/opt/ansible", 1);
  ASSERT_EQ(ParseWith("", {}, &cfg, &err), -1) << err;
  EXPECT_EQ(cfg.twin.accel, "tcg");
  EXPECT_EQ(cfg.twin.ansible_dir, "/opt/ansible");
  DaemonConfig kvm;
  ASSERT_EQ(ParseWith("[twin]\naccel = \"kvm\"\n", {}, &kvm, &err), -1) << err;
  EXPECT_EQ(kvm.twin.accel, "kvm");  // configured, not automatic: the variable does not change it
  setenv("SAFETYTWIN_TWIN_ACCEL", "fast", 1);
  DaemonConfig bad;
  EXPECT_EQ(ParseWith("", {}, &bad, &err), 2);
  EXPECT_NE(err.find("SAFETYTWIN_TWIN_ACCEL"), std::string::npos) << err;
  setenv("SAFETYTWIN_TWIN_ACCEL", "tcg", 1);
  setenv("SAFETYTWIN_ANSIBLE_DIR", "relative", 1);
  DaemonConfig bad_dir;
  EXPECT_EQ(ParseWith("", {}, &bad_dir, &err), 2);
  EXPECT_NE(err.find("SAFETYTWIN_ANSIBLE_DIR"), std::string::npos) << err;
  unsetenv("SAFETYTWIN_TWIN_ACCEL");
  unsetenv("SAFETYTWIN_ANSIBLE_DIR");
  DaemonConfig plain;
  ASSERT_EQ(ParseWith("", {}, &plain, &err), -1) << err;
  EXPECT_EQ(plain.twin.accel, "auto");
  EXPECT_EQ(plain.twin.ansible_dir, "");
}

TEST(Metrics, LoopbackAddressesOnlyWithARealPort) {
  EXPECT_TRUE(ParseLoopbackAddr("127.0.0.1:9464").ok());
  EXPECT_TRUE(ParseLoopbackAddr("127.3.2.1:1").ok());
  EXPECT_TRUE(ParseLoopbackAddr("localhost:65535").ok());
  EXPECT_TRUE(ParseLoopbackAddr("[::1]:9464").ok());
  for (const char* bad : {"127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:99999", "127.0.0.1:",
                          "127.0.0.1", "127.0.0.1:-1", "127.0.0.1: 80", "0.0.0.0:9464",
                          "192.168.1.1:9464", "[::]:9464", "example.org:80", "127.0.0.1:000009464"}) {
    EXPECT_FALSE(ParseLoopbackAddr(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace twin::capture

// --- Metrics never keep twind from starting -------------------------------------------------

namespace twin::capture {
namespace {

int ListenOn(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 1) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string Get(int fd) {
  const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
  if (send(fd, req, sizeof(req) - 1, 0) < 0) return "";
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST(Metrics, ATakenPortIsAWarningAndARetryNotAFailure) {
  // A port another (unprivileged) process holds before twind starts.
  int port = 25464;
  int squatter = -1;
  for (; port < 25564 && squatter < 0; ++port) squatter = ListenOn(port);
  --port;
  ASSERT_GE(squatter, 0);
  std::mutex mu;
  std::vector<std::pair<bool, std::string>> logged;
  char dir[] = "/tmp/twind-metrics-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string sock = std::string(dir) + "/metrics.sock";
  MetricsServer m;
  ASSERT_TRUE(m.Start("127.0.0.1:" + std::to_string(port), sock, [] { return "twind_up 1\n"; },
                      [&](bool warn, const std::string& s) {
                        std::lock_guard<std::mutex> l(mu);
                        logged.emplace_back(warn, s);
                      },
                      /*retry_ms=*/100)
                  .ok());
  EXPECT_EQ(m.port(), 0);  // not bound: the squatter has it
  {
    std::lock_guard<std::mutex> l(mu);
    ASSERT_FALSE(logged.empty());
    EXPECT_TRUE(logged[0].first);
    EXPECT_NE(logged[0].second.find("Address already in use"), std::string::npos) << logged[0].second;
  }
  // The unix socket serves meanwhile.
  int u = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  strncpy(sun.sun_path, sock.c_str(), sizeof(sun.sun_path) - 1);
  ASSERT_EQ(connect(u, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)), 0);
  EXPECT_NE(Get(u).find("twind_up 1"), std::string::npos);
  // The squatter leaves: the retry takes the port (deadline for a hang, not a timing claim).
  close(squatter);
  for (int i = 0; i < 600 && m.port() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(m.port(), port);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_NE(Get(c).find("twind_up 1"), std::string::npos);
  m.Stop();
  EXPECT_NE(access(sock.c_str(), F_OK), 0);  // the socket file is removed on stop
  rmdir(dir);
}

}  // namespace
}  // namespace twin::capture

namespace twin::capture {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

TEST(DiskThresholds, ASmallFilesystemStopsNearFullNotAtTheAbsoluteDefault) {
  // The review's 48 MB tmpfs: with a fixed 256 MiB threshold it never wrote at all.
  const DiskThresholds t = ComputeDiskThresholds(48 * kMiB, 256 * kMiB);
  EXPECT_EQ(t.stop_below, 4 * kMiB);
  EXPECT_EQ(t.resume_above, 5 * kMiB);
  EXPECT_EQ(t.warn_below, 8 * kMiB);
  EXPECT_LT(t.resume_above, 48 * kMiB / 2) << "writing could never resume";
}

TEST(DiskThresholds, ALargeFilesystemKeepsTheConfiguredReserve) {
  const DiskThresholds t = ComputeDiskThresholds(1ull << 40, 256 * kMiB);
  EXPECT_EQ(t.stop_below, 256 * kMiB);
  EXPECT_GT(t.resume_above, t.stop_below);
  EXPECT_LE(t.resume_above - t.stop_below, 26 * kMiB) << "hysteresis is not small";
}

TEST(DiskThresholds, AMidSizedFilesystemStopsAtTwoPercent) {
  const DiskThresholds t = ComputeDiskThresholds(10000 * kMiB, 256 * kMiB);
  EXPECT_EQ(t.stop_below, 200 * kMiB);
  EXPECT_EQ(t.resume_above, 220 * kMiB);
}

TEST(DiskThresholds, AOneByteCapMeansWriteUntilTheDiskRefuses) {
  const DiskThresholds t = ComputeDiskThresholds(48 * kMiB, 1);
  EXPECT_EQ(t.stop_below, 1u);
  EXPECT_GT(t.resume_above, t.stop_below);
}

}  // namespace
}  // namespace twin::capture
