// Hostile argv (newlines, quotes, template syntax, shell metacharacters, non-UTF-8 bytes, 64 KiB)
// is stored byte-exact up to the bound, with the truncation flag when cut.
#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

std::optional<Event> RunAndCapture(Twind& twind, const std::vector<std::string>& args) {
  pid_t pid = SpawnAs(args, "/", -1, -1);
  WaitStatus(pid);
  return WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kProcessExec && e.pid == pid;
  });
}

std::string Joined(const std::vector<std::string>& v) {
  std::string s;
  for (auto& a : v) {
    s += a;
    s.push_back('\0');
  }
  return s;
}

TEST(HostileArgv, StoredByteExact) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("hostile");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  const std::vector<std::string> args = {
      "/bin/true",
      "line1\nline2\r\n",
      "quote' \" ` $(id) ; rm -rf / # && || > /etc/passwd",
      "{{ lookup('pipe','id') }}",
      "{% raw %}!!python/object/apply:os.system ['id']",
      std::string("\xff\xfe\x80\xc3\x28 not utf-8 \x01\x7f", 18),
      "",
      "\t tab\x1b[31m escape"};
  auto e = RunAndCapture(twind, args);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->argv, args);
  EXPECT_FALSE(e->argv_truncated);
}

TEST(HostileArgv, SixtyFourKiBIsCutAtTheBoundWithTheFlag) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("hostile-big");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  std::string big(64 * 1024, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(1 + (i * 7) % 254);  // no NUL
  const std::vector<std::string> args = {"/bin/true", "first", big, "after"};
  auto e = RunAndCapture(twind, args);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->argv_truncated);
  const std::string full = Joined(args);
  std::string got = Joined(e->argv);
  // The last captured argument was cut, so it has no terminating NUL in the kernel's bytes.
  got.pop_back();
  ASSERT_EQ(got.size(), 4096u);
  EXPECT_EQ(got, full.substr(0, 4096));
}

TEST(HostileArgv, BoundIsConfigurable) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("hostile-bound");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start({"--max-args", "16384"}));
  std::string big(20000, 'y');
  const std::vector<std::string> args = {"/bin/true", big};
  auto e = RunAndCapture(twind, args);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->argv_truncated);
  std::string got = Joined(e->argv);
  got.pop_back();
  EXPECT_EQ(got, Joined(args).substr(0, 16384));
}

}  // namespace
}  // namespace twin::testing
