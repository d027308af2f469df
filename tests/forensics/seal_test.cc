// Forward-secure seals: setup-keys, the sealer's once-per-epoch seals and one-way key evolution,
// verify --key, and forgeries by someone holding a later key.
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "eventlog/chain_anchor.h"
#include "eventlog/codec.h"
#include "eventlog/timefmt.h"
#include "forensics/bundle.h"
#include "forensics/digest.h"
#include "forensics/seal.h"
#include "tests/forensics/forensics_test_util.h"
#include "format/codec.h"

namespace twin {
namespace {

using testing::Replay;
using testing::TempDir;

constexpr uint64_t kSec = 1'000'000'000ull;

class Seals : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = t_.sub("data");
    { auto log = std::move(EventLog::OpenWriter(dir_).value()); }
    auto r = Replay(t_, "setup-keys --data-dir " + dir_ + " --interval 60s");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("VERIFICATION KEY"), std::string::npos);
    key_text_ = r.out.substr(0, r.out.find('\n'));
    auto vk = ParseVerificationKey(key_text_);
    ASSERT_TRUE(vk.ok()) << key_text_;
    vk_ = vk.value();
    // A second setup must not silently replace the key.
    auto again = Replay(t_, "setup-keys --data-dir " + dir_);
    EXPECT_EQ(again.code, 2);
    EXPECT_NE(again.err.find("already exists"), std::string::npos);
  }

  // Appends n exec events at time t.
  static void Add(EventLog& log, uint64_t t, int n) {
    for (int i = 0; i < n; ++i) {
      Event e;
      e.kind = EventKind::kProcessExec;
      e.ts_ns = t + static_cast<uint64_t>(i);
      e.pid = 100 + i;
      e.comm = "sh";
      e.argv = {"sh", "-c", "true"};
      ASSERT_TRUE(log.Append(e).ok());
    }
  }

  // Three keyed seals at epochs 0, 1 and 3; the key file ends at epoch 5.
  void SealThreeTimes() {
    auto log = std::move(EventLog::OpenWriter(dir_).value());
    ForwardSecureSealer sealer(dir_);
    ASSERT_TRUE(sealer.enabled());
    const uint64_t t0 = vk_.t0_ns;
    Add(*log, t0 + 1 * kSec, 10);
    ASSERT_TRUE(sealer.MaybeSeal(*log, t0 + 2 * kSec).ok());
    EXPECT_EQ(sealer.seals_written(), 1u);
    Add(*log, t0 + 20 * kSec, 5);
    ASSERT_TRUE(sealer.MaybeSeal(*log, t0 + 30 * kSec).ok());  // same epoch: no seal
    EXPECT_EQ(sealer.seals_written(), 1u);
    EXPECT_EQ(sealer.NextDueNs(), t0 + 60 * kSec);
    ASSERT_TRUE(sealer.MaybeSeal(*log, t0 + 61 * kSec).ok());
    EXPECT_EQ(sealer.seals_written(), 2u);
    Add(*log, t0 + 100 * kSec, 5);
    ASSERT_TRUE(sealer.MaybeSeal(*log, t0 + 185 * kSec).ok());  // epoch 3 (2 skipped)
    EXPECT_EQ(sealer.seals_written(), 3u);
    ASSERT_TRUE(sealer.MaybeSeal(*log, t0 + 250 * kSec).ok());  // epoch 4, nothing new: evolve only
    EXPECT_EQ(sealer.seals_written(), 3u);
  }

  TempDir t_;
  std::string dir_, key_text_;
  VerificationKey vk_;
};

TEST(Sealer, WithoutAKeyItIsANoOpUntilOneIsSetUp) {
  TempDir t;
  const std::string dir = t.sub("data");
  auto log = std::move(EventLog::OpenWriter(dir).value());
  Event e;
  e.kind = EventKind::kDaemonStart;
  e.ts_ns = WallNowNs();
  ASSERT_TRUE(log->Append(e).ok());
  ForwardSecureSealer sealer(dir);
  EXPECT_FALSE(sealer.enabled());
  EXPECT_TRUE(sealer.MaybeSeal(*log, WallNowNs()).ok());
  EXPECT_EQ(sealer.seals_written(), 0u);
  EXPECT_EQ(sealer.NextDueNs(), 0u);
  auto vk = SetupSealKeys(dir, 60 * kSec, WallNowNs(), false);
  ASSERT_TRUE(vk.ok());
  EXPECT_TRUE(sealer.enabled());
  EXPECT_TRUE(sealer.MaybeSeal(*log, vk.value().t0_ns + kSec).ok());
  EXPECT_EQ(sealer.seals_written(), 1u);
  auto seals = log->Seals();
  ASSERT_TRUE(seals.ok());
  ASSERT_EQ(seals.value().size(), 1u);
  EXPECT_TRUE(CheckSealMacs(vk.value(), seals.value()).ok());
}

TEST_F(Seals, KeyFileIsPrivateAndEvolvesOneWay) {
  struct stat st;
  ASSERT_EQ(stat(SealKeyPath(dir_).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto s0 = ReadSealKeyState(SealKeyPath(dir_));
  ASSERT_TRUE(s0.ok());
  EXPECT_EQ(s0.value().epoch, 0u);
  EXPECT_EQ(s0.value().key, vk_.k0);
  SealThreeTimes();
  auto s5 = ReadSealKeyState(SealKeyPath(dir_));
  ASSERT_TRUE(s5.ok());
  EXPECT_EQ(s5.value().epoch, 5u);
  SealKey k = vk_.k0;
  const std::string file = testing::Slurp(SealKeyPath(dir_));
  for (int e = 0; e < 5; ++e) {
    EXPECT_EQ(file.find(HexEncode(std::string_view(reinterpret_cast<const char*>(k.data()), 32))),
              std::string::npos) << "old key k_" << e << " still on disk";
    k = EvolveSealKey(k);
  }
  EXPECT_EQ(s5.value().key, k);
}

TEST_F(Seals, VerifyWithKeyAcceptsGenuineSeals) {
  SealThreeTimes();
  auto r = Replay(t_, "verify --data-dir " + dir_ + " --key " + key_text_);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("3 keyed seals authentic"), std::string::npos) << r.out;
  // The unkeyed verify still works through the core command.
  auto plain = Replay(t_, "verify --data-dir " + dir_);
  EXPECT_EQ(plain.code, 0) << plain.out;
  EXPECT_NE(plain.out.find("OK:"), std::string::npos);
  // A wrong key fails.
  VerificationKey other = vk_;
  other.k0[0] ^= 1;
  auto wrong = Replay(t_, "verify --data-dir " + dir_ + " --key " + FormatVerificationKey(other));
  EXPECT_EQ(wrong.code, 1);
  EXPECT_NE(wrong.out.find("does not verify"), std::string::npos) << wrong.out;
}

// The attacker has root later: the current key file (epoch 5) and raw access to the database.
class Attacker {
 public:
  explicit Attacker(const std::string& dir) : dir_(dir), raw_(dir) {
    state_ = ReadSealKeyState(SealKeyPath(dir)).value();
  }
  // Edits record i and rewrites the whole chain after it, the head and every seal, re-MACing
  // each seal with the stolen key under the given epoch labels (or their own).
  void RewriteHistory(size_t i, bool relabel_epochs) {
    auto all = raw_.All(raw_.events());
    Event e;
    ASSERT_TRUE(DecodeEvent(std::string_view(all[i].second).substr(32), &e).ok());
    e.argv = {"sh", "-c", "nothing to see"};
    all[i].second = all[i].second.substr(0, 32) + EncodeEventToString(e);
    Hash prev{};
    std::map<std::string, Hash> hash_at;
    for (auto& [k, v] : all) {
      Hash h = ChainHash(prev, k, std::string_view(v).substr(32));
      std::memcpy(v.data(), h.data(), 32);
      raw_.Put(raw_.events(), k, v);
      hash_at[k] = h;
      prev = h;
    }
    for (auto& [mk, mv] : raw_.All(raw_.meta())) {
      if (mk == "chain_head") {
        auto j = nlohmann::json::parse(mv);
        j["hash"] = HashHex(prev);
        raw_.Put(raw_.meta(), mk, j.dump());
        // The chain anchor is unkeyed too: a thorough attacker rewrites it as well.
        ChainHead head{{j["ts_ns"].get<uint64_t>(), j["seq"].get<uint64_t>()},
                       j["count"].get<uint64_t>(), prev};
        auto anchor = ChainAnchor::Open(dir_);
        ASSERT_TRUE(anchor.ok());
        ASSERT_TRUE((*anchor)->Update(head).ok());
      }
      if (mk.rfind("seal/", 0) == 0) {
        auto j = nlohmann::json::parse(mv);
        Seal s;
        s.key = {j["ts_ns"].get<uint64_t>(), j["seq"].get<uint64_t>()};
        s.count = j["count"];
        s.head = hash_at[mk.substr(5)];
        s.sealed_ns = j["sealed_ns"];
        s.mac_epoch = relabel_epochs ? state_.epoch : j["mac_epoch"].get<uint64_t>();
        j["hash"] = HashHex(s.head);
        j["mac_epoch"] = s.mac_epoch;
        j["mac"] = SealMacHex(state_.key, s);
        raw_.Put(raw_.meta(), mk, j.dump());
      }
    }
  }
  // Deletes every seal and reseals the rewritten head once, correctly, in the current epoch.
  void DeleteSealsAndResealNow() {
    Seal last;
    for (auto& [mk, mv] : raw_.All(raw_.meta())) {
      if (mk.rfind("seal/", 0) != 0) continue;
      auto j = nlohmann::json::parse(mv);
      last.key = {j["ts_ns"].get<uint64_t>(), j["seq"].get<uint64_t>()};
      last.count = j["count"];
      ASSERT_TRUE(ParseHashHex(j["hash"].get<std::string>(), &last.head));
      raw_.Delete(raw_.meta(), mk);
    }
    last.mac_epoch = state_.epoch;
    last.sealed_ns = state_.t0_ns + state_.epoch * state_.interval_ns + 1;
    last.mac = SealMacHex(state_.key, last);
    nlohmann::json j = {{"ts_ns", last.key.ts_ns}, {"seq", last.key.seq}, {"count", last.count},
                        {"hash", HashHex(last.head)}, {"sealed_ns", last.sealed_ns},
                        {"mac", last.mac}, {"mac_epoch", last.mac_epoch}};
    raw_.Put(raw_.meta(), "seal/" + EncodeKey(last.key), j.dump());
  }

 private:
  std::string dir_;
  testing::RawDb raw_;
  SealKeyState state_;
};

TEST_F(Seals, ForgedSealsWithALaterKeyFail) {
  SealThreeTimes();
  { Attacker(dir_).RewriteHistory(3, /*relabel_epochs=*/false); }
  // The rewrite is self-consistent: the unkeyed verify cannot tell...
  auto plain = Replay(t_, "verify --data-dir " + dir_);
  EXPECT_EQ(plain.code, 0) << plain.out;
  // ...but the seals of epochs 0..3 cannot be re-MACed with the epoch-5 key.
  auto r = Replay(t_, "verify --data-dir " + dir_ + " --key " + key_text_);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("seal MAC does not verify"), std::string::npos) << r.out;
}

TEST_F(Seals, RelabelledEpochsFail) {
  SealThreeTimes();
  { Attacker(dir_).RewriteHistory(3, /*relabel_epochs=*/true); }
  auto r = Replay(t_, "verify --data-dir " + dir_ + " --key " + key_text_);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("outside that epoch"), std::string::npos) << r.out;
}

TEST_F(Seals, DeletingSealsAndResealingLaterIsFlagged) {
  SealThreeTimes();
  {
    Attacker a(dir_);
    a.RewriteHistory(3, false);
    a.DeleteSealsAndResealNow();
  }
  auto r = Replay(t_, "verify --data-dir " + dir_ + " --key " + key_text_);
  // Cryptographically valid (it was made with a key the attacker legitimately holds), but the
  // records it covers were first sealed long after they were written.
  EXPECT_NE(r.out.find("WARNING: records from"), std::string::npos) << r.out;
}

TEST_F(Seals, NoKeyedSealIsAFailure) {
  {
    auto log = std::move(EventLog::OpenWriter(dir_).value());
    Add(*log, vk_.t0_ns + kSec, 3);
  }
  auto r = Replay(t_, "verify --data-dir " + dir_ + " --key " + key_text_);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("no seal carries a MAC"), std::string::npos) << r.out;
  auto bad = Replay(t_, "verify --data-dir " + dir_ + " --key nonsense");
  EXPECT_EQ(bad.code, 2);
}

TEST_F(Seals, VerifyBundleWithKey) {
  SealThreeTimes();
  const std::string bundle = t_.sub("case.tar");
  auto b = Replay(t_, "bundle --data-dir " + dir_ + " --since 0 --until " + std::to_string(vk_.t0_ns + 1000 * kSec) + " --out " + bundle);
  ASSERT_EQ(b.code, 0) << b.err;
  auto v = Replay(t_, "verify-bundle " + bundle + " --key " + key_text_);
  EXPECT_EQ(v.code, 0) << v.out;
  EXPECT_NE(v.out.find("3 keyed seals authentic"), std::string::npos) << v.out;
  VerificationKey other = vk_;
  other.k0[5] ^= 0x40;
  BundleReport rep = VerifyBundle(bundle, &other);
  EXPECT_FALSE(rep.ok());
}

}  // namespace
}  // namespace twin
