// An export made while the real twind holds the log: twin-replay cannot append its audit record
// and spools it; twind itself (its compaction hook) ingests the spool into the log.
#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

// Runs argv (no shell), output to the given file; returns the exit status.
int RunTo(const std::vector<std::string>& args, const std::string& out_path) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(127);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    char* envp[] = {const_cast<char*>("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nullptr};
    execve(argv[0], argv.data(), envp);
    _exit(127);
  }
  return WaitStatus(pid);
}

TEST(Audit, WhileTwindHoldsTheLogTheExportIsSpooledAndTwindIngestsIt) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("audit-spool");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  const std::string csv = dir + "/export.csv";
  const int st = RunTo({TWIN_REPLAY_BIN, "export", "--data-dir", twind.data_dir(), "--format",
                        "csv", "--kind", "exec", "--out", csv},
                       dir + "/export.out");
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << ReadText(dir + "/export.out");
  auto audit = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kAudit && AttrOf(e, "output") == csv;
  }, 60000);
  ASSERT_TRUE(audit.has_value()) << "twind never ingested the spooled audit record\n" << twind.Log();
  EXPECT_EQ(AttrOf(*audit, "action"), "export");
  EXPECT_EQ(AttrOf(*audit, "format"), "csv");
  EXPECT_EQ(AttrOf(*audit, "spooled"), "1");  // it went through the spool, not straight in
  EXPECT_EQ(twind.Stop(), 0);
  // Exactly once: ingesting truncated the spool, so no later compaction appended it again.
  int records = 0;
  for (const auto& ke : ReadAll(twind.data_dir())) {
    records += ke.event.kind == EventKind::kAudit && AttrOf(ke.event, "output") == csv;
  }
  EXPECT_EQ(records, 1);
}

}  // namespace
}  // namespace twin::testing
