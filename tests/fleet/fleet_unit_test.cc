// The fleet module without etcd: key encoding, digests, drift, settings.
#include <random>

#include <gtest/gtest.h>

#include "fleet/digest.h"
#include "fleet/drift.h"
#include "fleet/keys.h"
#include "fleet/options.h"
#include "fleet/publisher.h"
#include "tests/fleet/sim.h"

namespace twin::fleet {
namespace {

const std::vector<std::string> kHostile = {
    "../../etc/passwd", "a/b", "/", "%2F", "%", ".", "..", "*", "", " ", "web 1",
    std::string("nul\0byte", 8), "\x1b[31mred\x1b[0m", "line\nbreak", "\xff\xfe", "caf\xc3\xa9",
    "{{ lookup('pipe','id') }}", "$(id)", "`id`", "x;rm -rf /", "\xe2\x80\xae" "evil"};

TEST(FleetKeys, EverySegmentDecodesBackToItsHostAndHoldsNoSlash) {
  std::mt19937 rng(7);
  std::vector<std::string> ids = kHostile;
  for (int i = 0; i < 2000; ++i) {
    std::string s(1 + rng() % 40, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    ids.push_back(s);
  }
  for (const std::string& id : ids) {
    if (id.empty()) continue;
    const std::string seg = EncodeSegment(id);
    EXPECT_EQ(seg.find('/'), std::string::npos) << seg;
    EXPECT_NE(seg, ".");
    EXPECT_NE(seg, "..");
    for (unsigned char c : seg) EXPECT_TRUE(std::isalnum(c) || c == '%' || c == '.' || c == '_' || c == '-') << seg;
    auto back = DecodeSegment(seg);
    ASSERT_TRUE(back.has_value()) << seg;
    EXPECT_EQ(*back, id);
    auto pk = ParseKey("/p/", HostKey("/p/", KeyKind::kDigest, id));
    ASSERT_TRUE(pk.has_value());
    EXPECT_EQ(pk->host_id, id);
    EXPECT_EQ(pk->kind, KeyKind::kDigest);
  }
}

TEST(FleetKeys, NonCanonicalSegmentsAreRefusedSoOneHostHasOneKey) {
  for (const char* seg : {"%2f", "a%2", "a%", "%zz", "a/b", "%41", "a b", "", "%2E%2E%2"}) {
    EXPECT_FALSE(DecodeSegment(seg).has_value()) << seg;
  }
  EXPECT_FALSE(ParseKey("/p/", "/p/digest/a/b").has_value());
  EXPECT_FALSE(ParseKey("/p/", "/p/other/a").has_value());
  EXPECT_FALSE(ParseKey("/p/", "/q/digest/a").has_value());
  EXPECT_FALSE(ParseKey("/p/", "/p/digest/").has_value());
  EXPECT_EQ(EncodeSegment(".."), "%2E%2E");
  EXPECT_EQ(*DecodeSegment("%2E%2E"), "..");
}

TEST(FleetKeys, PrefixRangeEndCoversExactlyThePrefix) {
  EXPECT_EQ(PrefixRangeEnd("/p/digest/"), "/p/digest0");
  EXPECT_LT(std::string("/p/digest/zzz"), PrefixRangeEnd("/p/digest/"));
  EXPECT_GE(std::string("/p/digest0"), PrefixRangeEnd("/p/digest/"));
}

TEST(FleetDigest, JsonRoundTripKeepsHostileBytesExactly) {
  Digest d = testing::SimDigest("host-1", 10, 5);
  for (const std::string& s : kHostile) {
    d.units[s.empty() ? "empty" : s + ".service"] = s;
    d.packages["p" + s] = s;
  }
  d.hostname = "\x1b]0;title\x07";
  d.labels = {{"role", "web\xff"}};
  d.sha256 = ContentHash(d);
  auto back = DigestFromJson(DigestToJson(d));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->units, d.units);
  EXPECT_EQ(back->packages, d.packages);
  EXPECT_EQ(back->hostname, d.hostname);
  EXPECT_EQ(back->labels, d.labels);
  EXPECT_EQ(back->sha256, d.sha256);
  EXPECT_EQ(DigestToJson(*back), DigestToJson(d));
}

TEST(FleetDigest, EditedContentIsRefused) {
  Digest d = testing::SimDigest("h");
  std::string j = DigestToJson(d);
  const size_t at = j.find("3.0.15");
  ASSERT_NE(at, std::string::npos);
  j[at] = '9';
  auto back = DigestFromJson(j);
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("does not match"), std::string::npos);
  EXPECT_FALSE(DigestFromJson("[1]").ok());
  EXPECT_FALSE(DigestFromJson("{\"v\":99}").ok());
  EXPECT_FALSE(DigestFromJson("{\"v\":1,\"units\":[1]}").ok());
}

TEST(FleetDigest, ContentHashIgnoresTimesButNotContent) {
  Digest a = testing::SimDigest("h"), b = a;
  b.state_ts_ns += 10;
  b.published_ns = 5;
  b.boot_id = "other";
  EXPECT_EQ(ContentHash(a), ContentHash(b));
  b.packages["openssl"] = "3.0.16-1~deb12u1";
  EXPECT_NE(ContentHash(a), ContentHash(b));
}

TEST(FleetDigest, StateDigestCarriesUnitsAndListenersButNoArgvOrContent) {
  State s;
  Process p;
  p.pid = 10;
  p.argv = {"/usr/bin/secret-tool", "--password=hunter2"};
  s.processes[{10, 1}] = p;
  Unit u;
  u.name = "nginx.service";
  u.file_sha256 = std::string(64, 'e');
  u.file_content = "[Service]\nEnvironment=TOKEN=topsecret\n";
  s.units[u.name] = u;
  Listener l;
  l.proto = kProtoTcp;
  l.family = kFamilyInet6;
  l.addr = "::";
  l.port = 443;
  l.unit = "nginx.service";
  s.listeners[l.key()] = l;
  s.host.hostname = "web1";
  HostIdentity id{"mid", "web1", "mid", "boot"};
  Digest d = MakeDigest(s, id, {{"role", "web"}});
  EXPECT_EQ(d.units.at("nginx.service"), std::string(64, 'e'));
  EXPECT_EQ(d.listeners.at("tcp6 [::]:443"), "nginx.service");
  EXPECT_EQ(d.processes, 1u);
  const std::string j = DigestToJson(d);
  EXPECT_EQ(j.find("hunter2"), std::string::npos);
  EXPECT_EQ(j.find("topsecret"), std::string::npos);
  EXPECT_EQ(j.find("secret-tool"), std::string::npos);
}

TEST(FleetDigest, A1500PackageHostFitsEtcdWithRoomToSpare) {
  Digest d = testing::SimDigest("0123456789abcdef0123456789abcdef", 1500, 300);
  const std::string j = DigestToJson(d);
  RecordProperty("digest_bytes_1500_packages_300_units", static_cast<int>(j.size()));
  std::printf("digest of 1500 packages, 300 units: %zu bytes\n", j.size());
  EXPECT_LT(j.size(), kMaxDigestBytes / 4);  // a quarter of our own cap, a sixth of etcd's 1.5 MiB
}

TEST(FleetDrift, FindsTheOneHostOfTenThatDiffers) {
  std::vector<Digest> ds;
  for (int i = 0; i < 10; ++i) ds.push_back(testing::SimDigest("h" + std::to_string(i)));
  ds[7].packages["openssl"] = "3.0.11-1~deb12u2";
  ds[3].units["nginx.service"] = std::string(64, 'f');
  ds[5].listeners["tcp 0.0.0.0:8080"] = "python3";
  auto g = ComputeDrift(ds, "");
  ASSERT_EQ(g.size(), 1u);
  ASSERT_EQ(g[0].items.size(), 3u);
  std::map<std::string, DriftItem> by_host;
  for (const auto& i : g[0].items) by_host[i.host_id] = i;
  EXPECT_EQ(by_host["h7"].item, "openssl");
  EXPECT_EQ(by_host["h7"].value, "3.0.11-1~deb12u2");
  EXPECT_EQ(by_host["h7"].majority, "3.0.15-1~deb12u1");
  EXPECT_EQ(by_host["h7"].agree, 9u);
  EXPECT_EQ(by_host["h3"].category, "units");
  EXPECT_EQ(by_host["h5"].category, "listeners");
  EXPECT_TRUE(by_host["h5"].present);
  EXPECT_FALSE(by_host["h5"].majority_present);
}

TEST(FleetDrift, GroupsByLabelAndReportsSplits) {
  std::vector<Digest> ds;
  for (int i = 0; i < 4; ++i) {
    ds.push_back(testing::SimDigest("h" + std::to_string(i)));
    ds.back().labels = {{"role", i < 2 ? "web" : "db"}};
  }
  ds[0].packages["openssl"] = "other";  // web: 1 vs 1, no majority
  auto g = ComputeDrift(ds, "role");
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].label_value, "db");
  EXPECT_TRUE(g[0].items.empty());
  ASSERT_EQ(g[1].items.size(), 2u);
  EXPECT_TRUE(g[1].items[0].split);
  EXPECT_TRUE(MatchesLabels(ds[0], {{"role", "web"}}));
  EXPECT_FALSE(MatchesLabels(ds[0], {{"role", "db"}}));
}

TEST(FleetOptions, BadSettingsGetOneLineErrorsNamingThem) {
  for (const char* bad : {"ftp://127.0.0.1:2379", "http://", "http://u:p@127.0.0.1:2379",
                          "http://127.0.0.1:2379/path", "http://127.0.0.1:99999", "127.0.0.1:2379",
                          "http://127.0.0.1:23 79", "http://127.0.0.1:2379\n"}) {
    Status s = CheckEndpoint(bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.message().find('\n'), std::string::npos);
  }
  EXPECT_TRUE(CheckEndpoint("http://127.0.0.1:2379").ok());
  EXPECT_TRUE(CheckEndpoint("https://[::1]:2379").ok());
  EXPECT_FALSE(ParseLabel("role").ok());
  EXPECT_FALSE(ParseLabel("=web").ok());
  EXPECT_FALSE(ParseLabel("ro le=web").ok());
  EXPECT_FALSE(ParseLabel("role=we\nb").ok());
  EXPECT_TRUE(ParseLabel("team/role=web server").ok());
  FleetOptions o;
  o.endpoints = {"http://127.0.0.1:2379"};
  EXPECT_TRUE(ValidateFleetOptions(o).ok());
  o.prefix = "no-slash";
  EXPECT_NE(ValidateFleetOptions(o).message().find("fleet.prefix"), std::string::npos);
  o.prefix = kDefaultPrefix;
  o.user = "twind";
  EXPECT_NE(ValidateFleetOptions(o).message().find("password_file"), std::string::npos);
  o.user.clear();
  o.lease_ttl_s = 1;
  EXPECT_NE(ValidateFleetOptions(o).message().find("lease_ttl"), std::string::npos);
}

TEST(FleetMetrics, StatsBecomePrometheusLines) {
  PublisherStats s;
  s.connected = true;
  s.published = 7;
  s.failures = 2;
  s.last_latency_ns = 12'500'000;
  const std::string t = PrometheusText(s);
  EXPECT_NE(t.find("twind_fleet_connected 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("twind_fleet_published_total 7\n"), std::string::npos);
  EXPECT_NE(t.find("twind_fleet_failures_total 2\n"), std::string::npos);
  EXPECT_NE(t.find("twind_fleet_last_publish_latency_seconds 0.0125\n"), std::string::npos) << t;
  EXPECT_NE(t.find("# TYPE twind_fleet_published_total counter\n"), std::string::npos);
}

}  // namespace
}  // namespace twin::fleet
