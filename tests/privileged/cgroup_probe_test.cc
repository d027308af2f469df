// cgroup_mkdir/rmdir of *.service cgroups → kUnitStart/kUnitStop, enriched with the unit file
// (path, SHA-256, content) read in userspace; one start/stop even when both the cgroup v2 and the
// v1 name=systemd hierarchies get the directory (as on a hybrid systemd host).
#include <openssl/evp.h>

#include <cstring>
#include <fstream>

#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

std::string Sha256(const std::string& s) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr);
  std::string out;
  char b[3];
  for (unsigned i = 0; i < n; ++i) {
    snprintf(b, sizeof(b), "%02x", md[i]);
    out += b;
  }
  return out;
}

const char* kV2 = "/sys/fs/cgroup/unified";
const char* kV1 = "/sys/fs/cgroup/systemd";

bool Exists(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0;
}

TEST(CgroupProbe, ServiceCgroupIsAUnitStartAndStop) {
  TWIN_REQUIRE_BPF();
  TWIN_REQUIRE(Exists(kV2) || Exists(kV1), "needs a cgroup v2 or v1 name=systemd mount");
  std::string dir = MakeTempDir("unit");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  const std::string name = "twin-test-" + std::to_string(getpid()) + ".service";
  // A unit file with hostile content: it is data, stored byte-exact.
  const std::string content =
      "[Unit]\nDescription=twin test {{ lookup('pipe','id') }} !!python/object $(id)\n"
      "[Service]\nExecStart=/bin/sleep infinity\n";
  std::filesystem::create_directories("/run/systemd/system");
  const std::string unit_path = "/run/systemd/system/" + name;
  { std::ofstream(unit_path) << content; }

  std::vector<std::string> dirs;
  for (const char* root : {kV2, kV1})
    if (Exists(root)) dirs.push_back(std::string(root) + "/" + name);
  for (auto& d : dirs) ASSERT_EQ(mkdir(d.c_str(), 0755), 0) << d << ": " << strerror(errno);

  auto start = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kUnitStart && e.unit == name;
  });
  ASSERT_TRUE(start.has_value()) << twind.Log();
  EXPECT_EQ(start->cgroup, "/" + name);
  EXPECT_EQ(start->unit_file_path, unit_path);
  EXPECT_EQ(start->unit_file_content, content);
  EXPECT_EQ(start->unit_file_sha256, Sha256(content));
  EXPECT_GT(start->ts_ns, 0u);
  EXPECT_GT(start->boottime_ns, 0u);

  // An edit of the unit file while it runs is caught at the next reconciliation.
  const std::string edited = content + "# edited\n";
  { std::ofstream(unit_path) << edited; }
  auto changed = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kUnitFileChanged && e.unit == name;
  }, 5000);
  ASSERT_TRUE(changed.has_value());
  EXPECT_EQ(changed->unit_file_sha256, Sha256(edited));
  EXPECT_EQ(changed->unit_file_content, edited);

  for (auto& d : dirs) ASSERT_EQ(rmdir(d.c_str()), 0);
  auto stop = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kUnitStop && e.unit == name;
  });
  ASSERT_TRUE(stop.has_value());
  unlink(unit_path.c_str());
  ASSERT_EQ(twind.Stop(), 0);
  int starts = 0, stops = 0;
  for (auto& ke : ReadAll(twind.data_dir())) {
    if (ke.event.unit != name) continue;
    starts += ke.event.kind == EventKind::kUnitStart;
    stops += ke.event.kind == EventKind::kUnitStop;
  }
  EXPECT_EQ(starts, 1);
  EXPECT_EQ(stops, 1);
}

// Cgroups that are not service units -- plain directories (no unit suffix, at the top and
// nested) and a .slice -- make no unit events; a .service below them does.
TEST(CgroupProbe, NonUnitCgroupsAreIgnored) {
  TWIN_REQUIRE_BPF();
  TWIN_REQUIRE(Exists(kV2), "needs the cgroup v2 mount at /sys/fs/cgroup/unified");
  std::string dir = MakeTempDir("unit-ignore");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  const std::string id = std::to_string(getpid());
  const std::string plain = std::string(kV2) + "/twin-plain-" + id;
  const std::string plain_nested = plain + "/worker-" + id;
  const std::string slice = std::string(kV2) + "/twin-test-" + id + ".slice";
  const std::string slice_plain = slice + "/not-a-unit-" + id;
  const std::string svc = slice + "/inner-" + id + ".service";
  // The non-units first: once the service's start is in the log, their mkdirs were read.
  for (const auto& d : {plain, plain_nested, slice, slice_plain, svc}) {
    ASSERT_EQ(mkdir(d.c_str(), 0755), 0) << d << ": " << strerror(errno);
  }
  auto start = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kUnitStart && e.unit == std::filesystem::path(svc).filename().string();
  });
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(start->cgroup, "/" + std::filesystem::path(slice).filename().string() + "/" +
                               std::filesystem::path(svc).filename().string());
  for (const auto& d : {svc, slice_plain, slice, plain_nested, plain}) rmdir(d.c_str());
  ASSERT_EQ(twind.Stop(), 0);
  int unit_events = 0;
  for (auto& ke : ReadAll(twind.data_dir())) {
    const Event& e = ke.event;
    if (e.kind != EventKind::kUnitStart && e.kind != EventKind::kUnitStop &&
        e.kind != EventKind::kUnitFileChanged) {
      continue;
    }
    const bool ours = e.unit.find(id) != std::string::npos || e.cgroup.find(id) != std::string::npos;
    if (!ours) continue;  // other units of this host
    ++unit_events;
    EXPECT_EQ(e.unit, std::filesystem::path(svc).filename().string()) << e.cgroup;
  }
  EXPECT_EQ(unit_events, 2);  // the service's start and stop, nothing for the rest
}

}  // namespace
}  // namespace twin::testing
