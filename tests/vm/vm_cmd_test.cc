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
#include "vm/catalogue.h"

namespace twin {
namespace {

int RunVm(std::vector<std::string> args, std::string* out) {
  return testing::RunVmCli(std::move(args), out);
}

TEST(VmCommand, ListShowsTheCatalogueAndRejectsBadArguments) {
  char tmpl[] = "/tmp/twin-vmcmd-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = std::string(tmpl) + "/log";
  {
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

}  // namespace
}  // namespace twin
