// Self-audit records and redaction rules.
#include <nlohmann/json.hpp>

#include "forensics/audit.h"
#include "forensics/digest.h"
#include "forensics/redact.h"
#include "tests/forensics/forensics_test_util.h"

namespace twin {
namespace {

using testing::Replay;
using testing::TempDir;

std::map<std::string, std::string> Attrs(const Event& e) {
  return std::map<std::string, std::string>(e.attrs.begin(), e.attrs.end());
}

TEST(Audit, EveryExportAndBundleIsRecordedWithItsDigest) {
  TempDir t;
  const std::string dir = t.sub("data");
  testing::MakeLog(dir, 300);
  const std::string out = t.sub("x.jsonl");
  ASSERT_EQ(Replay(t, "export --data-dir " + dir + " --format ecs --kind exec --out " + out).code, 0);
  ASSERT_EQ(Replay(t, "bundle --data-dir " + dir + " --out " + t.sub("c.tar")).code, 0);
  std::vector<Event> audits;
  for (auto& [k, e] : testing::AllEvents(dir)) {
    if (e.kind == EventKind::kAudit) audits.push_back(e);
  }
  ASSERT_EQ(audits.size(), 2u);
  auto a = Attrs(audits[0]);
  EXPECT_EQ(a["action"], "export");
  EXPECT_EQ(a["format"], "ecs");
  EXPECT_EQ(a["kinds"], "exec");
  EXPECT_EQ(a["output"], out);
  EXPECT_EQ(a["output_sha256"], HashHex(Sha256::Of(testing::Slurp(out))));
  EXPECT_NE(a["who"].find("uid="), std::string::npos);
  auto b = Attrs(audits[1]);
  EXPECT_EQ(b["action"], "bundle");
  EXPECT_EQ(b["sha256sums_sha256"].size(), 64u);
  // And the log still verifies.
  auto v = Replay(t, "verify --data-dir " + dir);
  EXPECT_EQ(v.code, 0) << v.out;
}

// With the real twind holding the log: tests/privileged/audit_spool_test.cc.
TEST(Audit, WhileAWriterHoldsTheLogTheRecordIsSpooledThenIngested) {
  TempDir t;
  const std::string dir = t.sub("data");
  testing::MakeLog(dir, 100);
  auto writer = std::move(EventLog::OpenWriter(dir).value());  // holds the log as twind does
  auto r = Replay(t, "export --data-dir " + dir + " --format csv --out " + t.sub("x.csv"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(testing::Slurp(AuditSpoolPath(dir)).find("\"export\""), std::string::npos);
  auto n = IngestAuditSpool(*writer, dir);
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(n.value(), 1u);
  EXPECT_EQ(testing::Slurp(AuditSpoolPath(dir)), "");
  auto last = writer->Last();
  ASSERT_TRUE(last.ok() && last.value());
  EXPECT_EQ(last.value()->event.kind, EventKind::kAudit);
  auto a = Attrs(last.value()->event);
  EXPECT_EQ(a["format"], "csv");
  EXPECT_EQ(a["spooled"], "1");
}

TEST(Redact, DefaultsCoverCommonSecretForms) {
  Redactor r(DefaultRedactRules(), true);
  std::vector<std::string> argv = {"mysql", "--password=hunter2", "--user", "bob", "--token", "abc",
                                   "DB_PASSWORD=x1", "--Api-Key=K", "https://u:pw@h.example/p",
                                   "--secret", "s", "plain", "-v"};
  EXPECT_EQ(r.ApplyArgv(argv), 6);
  EXPECT_EQ(argv, (std::vector<std::string>{"mysql", "--password=[REDACTED]", "--user", "bob", "--token",
                                            "[REDACTED]", "DB_PASSWORD=[REDACTED]", "--Api-Key=[REDACTED]",
                                            "https://u:[REDACTED]@h.example/p", "--secret", "[REDACTED]",
                                            "plain", "-v"}));
  // Idempotent.
  EXPECT_EQ(r.ApplyArgv(argv), 0);
}

TEST(Redact, UserRulesAndNoDefaults) {
  Redactor r({"--pin=", "-k"}, false);
  std::vector<std::string> argv = {"x", "--PIN=1234", "-k", "key", "--password=kept"};
  EXPECT_EQ(r.ApplyArgv(argv), 2);
  EXPECT_EQ(argv, (std::vector<std::string>{"x", "--PIN=[REDACTED]", "-k", "[REDACTED]", "--password=kept"}));
  Redactor none;
  EXPECT_FALSE(none.enabled());
}

TEST(Redact, ExportsRedactByDefaultAndSayWhat) {
  TempDir t;
  const std::string dir = t.sub("data");
  testing::MakeLog(dir, 300);
  const std::string out = t.sub("x.jsonl");
  auto r = Replay(t, "export --data-dir " + dir + " --format timesketch --out " + out +
                         " --redact s3cr3tT0k3n --redact=--user=");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string s = testing::Slurp(out);
  for (const char* secret : {"hunter2", "s3cr3tT0k3n", "pw1234"}) EXPECT_EQ(s.find(secret), std::string::npos) << secret;
  EXPECT_NE(r.err.find("redacted"), std::string::npos) << r.err;
  ASSERT_EQ(Replay(t, "export --data-dir " + dir + " --format timesketch --no-default-redact --out " + out).code, 0);
  EXPECT_NE(testing::Slurp(out).find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace twin
