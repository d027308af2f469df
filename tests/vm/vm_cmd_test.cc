// `twin-replay vm`: argument handling and the catalogue listing on a read-only log.
#include "replay/vm_cmd.h"
#include "tests/vm/vm_cli.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eventlog/log.h"
#include "tests/common/replay_run.h"
#include "vm/catalogue.h"

namespace twin {
namespace {

int RunVm(std::vector<std::string> args, std::string* out) {
  return testing::RunVmCli(std::move(args), out);
}

// The catalogue of a fresh log in `dir` holds one snapshot of domain safetytwin.
void WriteOneSnapshotRecord(const std::string& dir) {
  auto log = EventLog::OpenWriter(dir);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  vm::EventLogTwinStore store(log->get());
  vm::Catalogue cat(&store);
  vm::SnapshotRecord r;
  r.domain = "safetytwin";
  r.id = "safetytwin@1795660000000000000";
  r.state_ts_ns = 1795660000000000000ull;
  r.created_ns = 1795660001000000000ull;
  r.image = "/var/lib/libvirt/images/safetytwin/safetytwin/disk-1.qcow2";
  r.snapshot_ms = 48.5;
  r.total_ms = 51.0;
  r.chain_depth = 1;
  ASSERT_TRUE(cat.Put(r).ok());
}

TEST(VmCommand, ListShowsTheCatalogueAndRejectsBadArguments) {
  char tmpl[] = "/tmp/twin-vmcmd-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = std::string(tmpl) + "/log";
  WriteOneSnapshotRecord(dir);
  std::string out;
  EXPECT_EQ(RunVm({"twin-replay", "--data-dir", dir, "vm", "--list"}, &out), 0);
  EXPECT_NE(out.find("safetytwin@1795660000000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("disk-1.qcow2"), std::string::npos) << out;
  EXPECT_EQ(RunVm({"twin-replay", "vm", "--data-dir", dir, "--list", "--json"}, &out), 0);
  EXPECT_NE(out.find("\"snapshot_ms\": 48.5"), std::string::npos) << out;
  EXPECT_EQ(RunVm({"twin-replay", "--data-dir", dir, "vm"}, &out), 2);
  EXPECT_EQ(RunVm({"twin-replay", "--data-dir", dir, "vm", "--list", "--at", "-5m"}, &out), 2);
  EXPECT_EQ(RunVm({"twin-replay", "--data-dir", dir, "vm", "--bogus"}, &out), 2);
  EXPECT_EQ(RunVm({"twin-replay", "--data-dir", dir, "vm", "--at", "not-a-time",
                 "--uri", "test:///default"}, &out), 2);
  std::filesystem::remove_all(tmpl);
}

// `vm` builds the twin twind would: twind.toml's [twin] names the domain unless --domain does;
// a bad [twin] value or a missing explicit --config is refused before anything is opened.
TEST(VmCommand, TwindsConfigChoosesTheTwinAndFlagsOverrideIt) {
  char tmpl[] = "/tmp/twin-vmcfg-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/log";
  WriteOneSnapshotRecord(dir);
  auto write = [&](const std::string& body) {
    const std::string path = std::string(tmpl) + "/twind.toml";
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs(body.c_str(), f);
    std::fclose(f);
    return path;
  };
  std::string out;
  // stdout and stderr together.
  auto RunVm = [](std::vector<std::string> args, std::string* both) {
    ::testing::internal::CaptureStderr();
    const int rc = testing::RunVmCli(std::move(args), both);
    *both += ::testing::internal::GetCapturedStderr();
    return rc;
  };
  std::string cfg = write("[twin]\ndomain = \"other-twin\"\n");
  EXPECT_EQ(RunVm({"twin-replay", "--data-dir", dir, "vm", "--list", "--config", cfg}, &out), 0);
  EXPECT_NE(out.find("no twin snapshots for domain other-twin"), std::string::npos) << out;
  EXPECT_EQ(RunVm({"twin-replay", "--data-dir", dir, "vm", "--list", "--config", cfg, "--domain",
                   "safetytwin"}, &out), 0);
  EXPECT_NE(out.find("safetytwin@1795660000000000000"), std::string::npos) << out;
  cfg = write("[twin]\nvcpus = 0\n");
  EXPECT_EQ(RunVm({"twin-replay", "--data-dir", dir, "vm", "--list", "--config", cfg}, &out), 2);
  EXPECT_NE(out.find("twin.vcpus"), std::string::npos) << out;
  EXPECT_EQ(RunVm({"twin-replay", "--data-dir", dir, "vm", "--list", "--config",
                   std::string(tmpl) + "/missing.toml"}, &out), 2);
  EXPECT_NE(out.find("does not exist"), std::string::npos) << out;
  EXPECT_EQ(RunVm({"twin-replay", "--data-dir", dir, "vm", "--list", "--domain", "a/b"}, &out), 2);
  EXPECT_NE(out.find("not a domain name"), std::string::npos) << out;
  std::filesystem::remove_all(tmpl);
}

// The installed command: twin-replay hands `vm` to twin-replay-vm with the same arguments.
TEST(VmCommand, TwinReplayBinaryRunsVmThroughItsHelper) {
  testing::TempDir t;
  const std::string dir = t.sub("log");
  WriteOneSnapshotRecord(dir);
  auto r = testing::Replay(t, "--data-dir " + dir + " vm --list --json");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("safetytwin@1795660000000000000"), std::string::npos) << r.out;
  r = testing::Replay(t, "--data-dir " + dir + " vm --bogus");
  EXPECT_EQ(r.code, 2) << r.out;
}

// What the dynamic loader maps for each binary (LD_TRACE_LOADED_OBJECTS is what ldd sets).
std::string LoadedObjects(const testing::TempDir& t, const std::string& bin) {
  const std::string o = t.sub("objects");
  EXPECT_EQ(std::system(("LD_TRACE_LOADED_OBJECTS=1 " + bin + " >" + o).c_str()), 0);
  return testing::Slurp(o);
}

// Every other twin-replay command starts without libvirt's libraries (docs/BENCHMARKS.md).
TEST(VmCommand, OnlyTheVmHelperLoadsLibvirt) {
  testing::TempDir t;
  EXPECT_NE(LoadedObjects(t, TWIN_REPLAY_VM_BIN).find("libvirt.so"), std::string::npos);
  const std::string replay = LoadedObjects(t, TWIN_REPLAY_BIN);
  EXPECT_NE(replay.find("librocksdb"), std::string::npos) << replay;
  EXPECT_EQ(replay.find("libvirt"), std::string::npos) << replay;
}

}  // namespace
}  // namespace twin
