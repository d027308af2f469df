// scripts/safetytwin.service passes `systemd-analyze verify` (with ExecStart pointed at the twind
// that was just built, since verify checks that the binary exists).
#include <fstream>
#include <sstream>

#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

TEST(ServiceUnit, SystemdAnalyzeVerifyAccepts) {
  TWIN_REQUIRE(access("/usr/bin/systemd-analyze", X_OK) == 0, "needs systemd-analyze");
  std::ifstream in(SERVICE_UNIT);
  ASSERT_TRUE(in.good()) << SERVICE_UNIT;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string unit = ss.str();
  size_t pos;
  while ((pos = unit.find("/usr/local/sbin/twind")) != std::string::npos)
    unit.replace(pos, strlen("/usr/local/sbin/twind"), TWIND_BIN);
  EXPECT_NE(unit.find("ProtectSystem=strict"), std::string::npos);
  // The sandbox opens what the twin needs (the overlays, the run bundles) and nothing broader.
  EXPECT_NE(unit.find("StateDirectory=safetytwin"), std::string::npos);
  EXPECT_NE(unit.find("CacheDirectory=safetytwin"), std::string::npos);
  EXPECT_NE(unit.find("ReadWritePaths=-/var/lib/libvirt/images/safetytwin\n"), std::string::npos);
  EXPECT_EQ(unit.find("ReadWritePaths=-/var/lib/libvirt/images\n"), std::string::npos);
  EXPECT_NE(unit.find("CapabilityBoundingSet="), std::string::npos);
  std::string dir = MakeTempDir("unit-verify");
  std::string path = dir + "/safetytwin.service";
  { std::ofstream(path) << unit; }
  std::string out_path = dir + "/verify.out";
  std::string cmd = "/usr/bin/systemd-analyze verify '" + path + "' > '" + out_path + "' 2>&1";
  int rc = system(cmd.c_str());  // paths are ours (mkdtemp), not host-derived
  std::string out = ReadText(out_path);
  EXPECT_EQ(rc, 0) << out;
  // verify prints warnings for problems it tolerates; ours must be clean.
  EXPECT_EQ(out.find("safetytwin.service:"), std::string::npos) << out;
}

}  // namespace
}  // namespace twin::testing
