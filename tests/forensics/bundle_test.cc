// Case bundles: written by the real binary, verified offline; any flipped byte in any member (or
// in a tar header) fails verification and names the member; redaction keeps the rest verifiable.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "eventlog/log.h"
#include "eventlog/state.h"
#include "forensics/bundle.h"
#include "forensics/digest.h"
#include "forensics/tar.h"
#include "tests/forensics/forensics_test_util.h"

namespace twin {
namespace {

using testing::CmdRun;
using testing::Replay;
using testing::TempDir;

class Bundle : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = t_.sub("data");
    LogOptions lo;
    lo.seal_every_events = 300;
    testing::MakeLog(dir_, 1500, lo);
    auto ev = testing::AllEvents(dir_);
    since_ = ev[200].second.ts_ns;
    until_ = ev[1300].second.ts_ns;
    bundle_ = t_.sub("case.tar");
  }
  CmdRun Make(const std::string& extra = "") {
    return Replay(t_, "bundle --data-dir " + dir_ + " --since " + std::to_string(since_) + " --until " +
                          std::to_string(until_) + " --out " + bundle_ + " " + extra);
  }
  TempDir t_;
  std::string dir_, bundle_;
  uint64_t since_ = 0, until_ = 0;
};

TEST_F(Bundle, VerifiesOfflineAndWithStandardTools) {
  auto r = Make();
  ASSERT_EQ(r.code, 0) << r.err;
  // Offline: the data dir is gone.
  std::filesystem::rename(dir_, dir_ + ".away");
  auto v = Replay(t_, "verify-bundle " + bundle_);
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("OK:"), std::string::npos) << v.out;
  BundleReport rep = VerifyBundle(bundle_, nullptr);
  ASSERT_TRUE(rep.ok());
  EXPECT_GT(rep.records, 1000u);
  EXPECT_GE(rep.seals_matched, 3u);  // seals every 300 records fall inside the range
  EXPECT_EQ(rep.seals_matched, rep.seals);
  const std::string x = t_.sub("x");
  std::filesystem::create_directory(x);
  EXPECT_EQ(std::system(("cd " + x + " && tar xf " + bundle_ + " && sha256sum -c --quiet SHA256SUMS").c_str()), 0);
  auto man = nlohmann::json::parse(testing::Slurp(x + "/manifest.json"));
  for (const char* f : {"host", "boot_ids", "range", "tool_version", "schema_version", "counts", "chain",
                        "seals", "redaction", "files"}) {
    EXPECT_TRUE(man.contains(f)) << f;
  }
  EXPECT_TRUE(man["boot_ids"].is_array());
  EXPECT_EQ(man["chain"]["records"].get<uint64_t>(), rep.records);
}

TEST_F(Bundle, AnyFlippedByteInAnyMemberIsDetectedAndNamed) {
  ASSERT_EQ(Make().code, 0);
  auto members = ListTar(bundle_);
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members.value().size(), 9u);  // report.html included
  const std::string pristine = testing::Slurp(bundle_);
  const std::string bad = t_.sub("bad.tar");
  int cases = 0;
  for (const auto& m : members.value()) {
    for (uint64_t pos : {uint64_t{0}, m.size / 3, m.size / 2, m.size - 1}) {
      SCOPED_TRACE(m.name + " byte " + std::to_string(pos));
      std::string data = pristine;
      data[m.offset + pos] ^= 0x01;
      { std::ofstream(bad, std::ios::binary) << data; }
      BundleReport rep = VerifyBundle(bad, nullptr);
      ASSERT_FALSE(rep.ok());
      bool named = false;
      for (const auto& p : rep.problems) named = named || p.file == m.name;
      EXPECT_TRUE(named) << "first problem: " << rep.problems[0].file << ": " << rep.problems[0].what;
      ++cases;
    }
    // The member's tar header (mtime).
    std::string data = pristine;
    data[m.offset - 512 + 140] ^= 0x01;  // its mtime field
    { std::ofstream(bad, std::ios::binary) << data; }
    BundleReport rep = VerifyBundle(bad, nullptr);
    ASSERT_FALSE(rep.ok()) << "header of " << m.name;
    EXPECT_NE(rep.problems[0].what.find(m.name), std::string::npos) << rep.problems[0].what;
  }
  EXPECT_EQ(cases, 36);
  // The CLI names the file too, and exits 1.
  std::string data = pristine;
  data[members.value()[0].offset + 100] ^= 0x20;
  { std::ofstream(bad, std::ios::binary) << data; }
  auto v = Replay(t_, "verify-bundle " + bad);
  EXPECT_EQ(v.code, 1);
  EXPECT_NE(v.out.find("records.bin"), std::string::npos) << v.out;
}

TEST_F(Bundle, TruncatedOrForeignArchivesFail) {
  ASSERT_EQ(Make().code, 0);
  const std::string pristine = testing::Slurp(bundle_);
  const std::string bad = t_.sub("bad.tar");
  { std::ofstream(bad, std::ios::binary) << pristine.substr(0, pristine.size() / 2); }
  EXPECT_FALSE(VerifyBundle(bad, nullptr).ok());
  { std::ofstream(bad, std::ios::binary) << "not a tar at all"; }
  EXPECT_FALSE(VerifyBundle(bad, nullptr).ok());
  EXPECT_FALSE(VerifyBundle(t_.sub("missing.tar"), nullptr).ok());
}

TEST_F(Bundle, RedactionHidesSecretsAndTheRestStillVerifies) {
  auto r = Make();
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string x = t_.sub("x");
  std::filesystem::create_directory(x);
  ASSERT_EQ(std::system(("cd " + x + " && tar xf " + bundle_).c_str()), 0);
  for (const char* f : {"events.jsonl", "records.bin", "state_end.json", "state_end.snap", "manifest.json",
                        "report.html"}) {
    const std::string s = testing::Slurp(x + "/" + f);
    for (const char* secret : {"hunter2", "s3cr3tT0k3n", "pw1234"}) {
      EXPECT_EQ(s.find(secret), std::string::npos) << secret << " leaked into " << f;
    }
  }
  EXPECT_NE(testing::Slurp(x + "/events.jsonl").find("--password=[REDACTED]"), std::string::npos);
  auto man = nlohmann::json::parse(testing::Slurp(x + "/manifest.json"));
  EXPECT_GE(man["redaction"]["records"].get<int>(), 1);
  EXPECT_EQ(man["redaction"]["redacted"][0]["original_payload_sha256"].get<std::string>().size(), 64u);
  BundleReport rep = VerifyBundle(bundle_, nullptr);
  ASSERT_TRUE(rep.ok()) << rep.problems[0].file << ": " << rep.problems[0].what;
  EXPECT_GE(rep.redacted, 1u);
  EXPECT_EQ(rep.chain_verified + rep.redacted, rep.records);

  // Without redaction the secret is there, and every record's chain is recomputed.
  ASSERT_EQ(Make("--no-default-redact").code, 0);
  BundleReport full = VerifyBundle(bundle_, nullptr);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full.redacted, 0u);
  EXPECT_EQ(full.chain_verified, full.records);
  EXPECT_NE(testing::Slurp(bundle_).find("hunter2"), std::string::npos);
}

TEST_F(Bundle, TheReportIsAListedMemberAndOptional) {
  ASSERT_EQ(Make().code, 0);
  const std::string x = t_.sub("x");
  std::filesystem::create_directory(x);
  ASSERT_EQ(std::system(("cd " + x + " && tar xf " + bundle_).c_str()), 0);
  auto man = nlohmann::json::parse(testing::Slurp(x + "/manifest.json"));
  ASSERT_TRUE(man["files"].contains("report.html"));
  EXPECT_EQ(man["files"]["report.html"].get<std::string>(), HashHex(Sha256::Of(testing::Slurp(x + "/report.html"))));
  EXPECT_NE(testing::Slurp(x + "/report.html").find("\"mode\":\"report\""), std::string::npos);
  BundleReport rep = VerifyBundle(bundle_, nullptr);
  ASSERT_TRUE(rep.ok());
  bool noted = false;
  for (const auto& n : rep.notes) noted = noted || n.find("report.html checked") != std::string::npos;
  EXPECT_TRUE(noted);
  // Bundles without it (--no-report, or made before it existed) verify as before.
  ASSERT_EQ(Make("--no-report").code, 0);
  auto members = ListTar(bundle_);
  ASSERT_TRUE(members.ok());
  EXPECT_EQ(members.value().size(), 8u);
  EXPECT_TRUE(VerifyBundle(bundle_, nullptr).ok());
}

TEST_F(Bundle, ATamperedLogIsNotBundled) {
  {
    testing::RawDb raw(dir_);
    auto all = raw.All(raw.events());
    auto& [k, v] = all[700];
    std::string edited = v;
    edited[edited.size() - 5] ^= 0x01;
    raw.Put(raw.events(), k, edited);
  }
  auto r = Make();
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("chain"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(bundle_));
}

TEST(BundleManifest, ListsTheConfigFilesWhoseContentWasWithheld) {
  TempDir t;
  const std::string dir = t.sub("data");
  uint64_t ts = 1'700'000'000'000'000'000ull;
  {
    auto log = std::move(EventLog::OpenWriter(dir).value());
    auto add = [&](Event e) {
      e.ts_ns = ts += 1'000'000'000;
      ASSERT_TRUE(log->Append(e).ok());
    };
    add(ConfigFileEvent("add", ConfigFile{"/etc/shadow", "file", 0640, 0, 42, 10, std::string(64, 'a'),
                                          "withheld", "", "", "", 0}));
    add(ConfigFileEvent("add", ConfigFile{"/etc/hosts", "file", 0644, 0, 0, 10, std::string(64, 'b'),
                                          "stored", "", "", "", 0}));
    add(ConfigFileEvent("add", ConfigFile{"/etc/ssl/private/k.pem", "file", 0600, 0, 0, 10,
                                          std::string(64, 'c'), "withheld", "", "", "", 0}));
  }
  const std::string out = t.sub("case.tar");
  CmdRun r = Replay(t, "bundle --data-dir " + dir + " --since " + std::to_string(ts - 2'500'000'000) +
                           " --until " + std::to_string(ts) + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string x = t.sub("x");
  std::filesystem::create_directory(x);
  ASSERT_EQ(std::system(("cd " + x + " && tar xf " + out).c_str()), 0);
  auto man = nlohmann::json::parse(testing::Slurp(x + "/manifest.json"));
  ASSERT_EQ(man["withheld"].size(), 2u) << man.dump();
  EXPECT_EQ(man["withheld"][0]["path"], "/etc/shadow");
  EXPECT_EQ(man["withheld"][0]["sha256"], std::string(64, 'a'));
  EXPECT_EQ(man["withheld"][1]["path"], "/etc/ssl/private/k.pem");
  EXPECT_EQ(Replay(t, "verify-bundle " + out).code, 0);
}

}  // namespace
}  // namespace twin
