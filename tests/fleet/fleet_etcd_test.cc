// The fleet against a real 3-member etcd cluster on loopback (tests/fleet/etcd_cluster.h): the
// real publisher fed with simulated hosts' digests, and the real twin-replay fleet commands.
// Without etcd-server installed these skip (a failure under SAFETYTWIN_NO_SKIP=1, as in CI).
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <mutex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eventlog/log.h"
#include "eventlog/synth.h"
#include "fleet/keys.h"
#include "format/json_writer.h"
#include "fleet/publisher.h"
#include "fleet/query.h"
#include "tests/common/skip.h"
#include "tests/fleet/etcd_cluster.h"
#include "tests/fleet/run_argv.h"
#include "tests/fleet/sim.h"

namespace twin::fleet {
namespace {

using testing::Eventually;
using json = nlohmann::json;

// Ports 23800..23805 for this binary's cluster (tests in it run one after another).
constexpr int kBasePort = 23800;

struct Recorded {
  std::mutex mu;
  std::vector<Event> events;
  void Add(Event e) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back(std::move(e));
  }
  size_t Count(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    size_t n = 0;
    for (const Event& e : events) n += e.kind == EventKind::kFleet && e.attrs[0].second == what;
    return n;
  }
};

class FleetEtcd : public ::testing::Test {
 protected:
  void SetUp() override {
    TWIN_REQUIRE(testing::EtcdBinary() != nullptr,
                 "etcd-server is not installed (apt-get install etcd-server; scripts/packages.txt)");
    cluster_ = std::make_unique<testing::EtcdCluster>(kBasePort);
    ASSERT_TRUE(cluster_->Start()) << "etcd cluster did not come up; logs in " << cluster_->dir();
    opts_.endpoints = cluster_->Endpoints();
    opts_.prefix = "/test/" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "/";
    opts_.lease_ttl_s = 5;
    opts_.timeout_ms = 1500;
    client_ = std::make_unique<EtcdClient>(opts_, "");
  }

  std::unique_ptr<Publisher> Host(const std::string& id, Labels labels = {}, Recorded* rec = nullptr) {
    FleetOptions o = opts_;
    o.labels = std::move(labels);
    HostIdentity hid{id, "sim-" + id, id, "boot-" + id};
    auto p = std::make_unique<Publisher>(o, hid, [rec](Event e) {
      if (rec) rec->Add(std::move(e));
    });
    EXPECT_TRUE(p->Start().ok());
    return p;
  }

  // Offers a digest (as the publisher labels it) and waits until it is in etcd.
  static bool Publish(Publisher& p, Digest d) {
    d.host_id = p.identity().host_id;
    d.labels = p.options().labels;
    const std::string sha = ContentHash(d);
    p.Offer(d);
    return p.WaitPublished(sha, std::chrono::seconds(120));
  }

  testing::ArgvRun Fleet(std::vector<std::string> args) {
    std::vector<std::string> full = {TWIN_REPLAY_BIN, "fleet"};
    for (auto& a : args) full.push_back(a);
    for (std::string a : {"--endpoints", "", "--prefix", "", "--config", "/dev/null"}) full.push_back(a);
    full[full.size() - 5] = cluster_->EndpointList();
    full[full.size() - 3] = opts_.prefix;
    return testing::RunArgv(full);
  }

  std::unique_ptr<testing::EtcdCluster> cluster_;
  FleetOptions opts_;
  std::unique_ptr<EtcdClient> client_;
};

// The digest as a publisher with these labels sends it.
Digest Labelled(Digest d, const Labels& l) {
  d.labels = l;
  return d;
}

TEST_F(FleetEtcd, HostsAppearInListWithLabelsAndAlive) {
  auto a = Host("host-a", {{"role", "web"}});
  auto b = Host("host-b", {{"role", "db"}});
  ASSERT_TRUE(Publish(*a, Labelled(testing::SimDigest("host-a"), {{"role", "web"}})));
  ASSERT_TRUE(Publish(*b, Labelled(testing::SimDigest("host-b"), {{"role", "db"}})));
  auto r = Fleet({"list", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j["hosts"].size(), 2u);
  EXPECT_EQ(j["hosts"][0]["host_id"], "host-a");
  EXPECT_EQ(j["hosts"][0]["status"], "alive");
  EXPECT_EQ(j["hosts"][0]["labels"]["role"], "web");
  EXPECT_EQ(j["hosts"][1]["labels"]["role"], "db");
  EXPECT_EQ(j["hosts"][0]["digest_sha256"], ContentHash(Labelled(testing::SimDigest("host-a"), {{"role", "web"}})));
  auto t = Fleet({"list"});
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find("2 hosts, 2 alive, 0 down"), std::string::npos) << t.out;
}

TEST_F(FleetEtcd, UnchangedStateIsNotPublishedAgain) {
  auto a = Host("host-a");
  Digest d = testing::SimDigest("host-a");
  ASSERT_TRUE(Publish(*a, d));
  const int64_t rev = a->stats().last_revision;
  for (int i = 0; i < 3; ++i) {
    d.state_ts_ns += 10'000'000'000ull;  // later compactions, same content
    a->Offer(d);
  }
  Digest changed = d;
  changed.packages["openssl"] = "3.0.16";
  ASSERT_TRUE(Publish(*a, changed));
  EXPECT_EQ(a->stats().published, 2u);
  auto cur = client_->Range(HostKey(opts_.prefix, KeyKind::kDigest, "host-a"));
  ASSERT_TRUE(cur.ok());
  EXPECT_EQ(cur->kvs[0].version, 2);  // two digests written, not five
  EXPECT_GT(a->stats().last_revision, rev);
}

TEST_F(FleetEtcd, DriftFindsTheOddHostOfTen) {
  std::vector<std::unique_ptr<Publisher>> hosts;
  const Labels web = {{"role", "web"}};
  for (int i = 0; i < 10; ++i) {
    const std::string id = "web-" + std::to_string(i);
    hosts.push_back(Host(id, web));
    Digest d = Labelled(testing::SimDigest(id), web);
    if (i == 6) d.packages["openssl"] = "3.0.11-1~deb12u2";
    if (i == 2) d.units["nginx.service"] = std::string(64, 'd');
    ASSERT_TRUE(Publish(*hosts.back(), d));
  }
  auto other = Host("db-0", {{"role", "db"}});
  Digest dbd = Labelled(testing::SimDigest("db-0"), {{"role", "db"}});
  dbd.packages["postgresql-15"] = "15.10-0+deb12u1";
  ASSERT_TRUE(Publish(*other, dbd));

  auto r = Fleet({"drift", "--label", "role=web", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["hosts"], 10);
  ASSERT_EQ(j["groups"].size(), 1u);
  const json& drift = j["groups"][0]["drift"];
  ASSERT_EQ(drift.size(), 2u) << r.out;
  std::map<std::string, json> by;
  for (const auto& d : drift) by[d["host_id"]] = d;
  EXPECT_EQ(by["web-6"]["category"], "packages");
  EXPECT_EQ(by["web-6"]["item"], "openssl");
  EXPECT_EQ(by["web-6"]["value"], "3.0.11-1~deb12u2");
  EXPECT_EQ(by["web-6"]["majority"], "3.0.15-1~deb12u1");
  EXPECT_EQ(by["web-6"]["agree"], 9);
  EXPECT_EQ(by["web-2"]["category"], "units");
  EXPECT_EQ(by["web-2"]["item"], "nginx.service");

  auto g = Fleet({"drift", "--group-by", "role"});
  ASSERT_EQ(g.code, 0) << g.err;
  EXPECT_NE(g.out.find("11 hosts, 2 groups, 2 differences"), std::string::npos) << g.out;
}

TEST_F(FleetEtcd, StateAtTUsesEtcdHistoryAndSaysWhenItIsCompacted) {
  auto a = Host("host-a");
  const uint64_t s = 1'000'000'000ull;
  Digest d1 = testing::SimDigest("host-a", 20, 5, 1000 * s);
  Digest d2 = d1, d3 = d1;
  d2.state_ts_ns = 2000 * s;
  d2.packages["openssl"] = "v2";
  d3.state_ts_ns = 3000 * s;
  d3.packages["openssl"] = "v3";
  ASSERT_TRUE(Publish(*a, d1));
  ASSERT_TRUE(Publish(*a, d2));
  ASSERT_TRUE(Publish(*a, d3));
  auto at = [&](uint64_t t) { return DigestAtTime(*client_, opts_.prefix, "host-a", t); };
  EXPECT_EQ(at(1500 * s)->digest.packages["openssl"], "3.0.15-1~deb12u1");
  EXPECT_EQ(at(2000 * s)->digest.packages["openssl"], "v2");
  EXPECT_EQ(at(2999 * s)->digest.packages["openssl"], "v2");
  EXPECT_EQ(at(0)->digest.packages["openssl"], "v3");
  auto before = at(500 * s);
  ASSERT_FALSE(before.ok());
  EXPECT_NE(before.status().message().find("no state at that time"), std::string::npos);

  auto cli = Fleet({"state", "sim-host-a", "--at", "1500", "--json"});  // by hostname
  ASSERT_EQ(cli.code, 0) << cli.err;
  EXPECT_EQ(json::parse(cli.out)["packages"]["openssl"], "3.0.15-1~deb12u1");

  auto cur = client_->Range(HostKey(opts_.prefix, KeyKind::kDigest, "host-a"));
  ASSERT_TRUE(client_->Compact(cur->revision).ok());
  auto old = at(1500 * s);
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.status().message().find("older than etcd keeps"), std::string::npos) << old.status().message();
  auto cli_old = Fleet({"state", "host-a", "--at", "1500"});
  EXPECT_EQ(cli_old.code, 1);
  EXPECT_NE(cli_old.err.find("older than etcd keeps"), std::string::npos) << cli_old.err;
  EXPECT_EQ(std::count(cli_old.err.begin(), cli_old.err.end(), '\n'), 1);
}

TEST_F(FleetEtcd, OneMemberDownPublishingGoesOnTwoDownItFailsThenCatchesUp) {
  Recorded rec;
  auto a = Host("host-a", {}, &rec);
  Digest d = testing::SimDigest("host-a");
  ASSERT_TRUE(Publish(*a, d));
  EXPECT_EQ(rec.Count("connected"), 1u);

  cluster_->Kill(0);
  d.packages["openssl"] = "after-one-down";
  ASSERT_TRUE(Publish(*a, d));  // quorum: 2 of 3
  EXPECT_EQ(rec.Count("lost"), 0u);

  cluster_->Kill(1);
  const uint64_t failures = a->stats().failures;
  d.packages["openssl"] = "while-two-down";
  a->Offer(d);  // returns at once: the publisher's thread does the waiting
  ASSERT_TRUE(Eventually([&] { return a->stats().failures > failures && rec.Count("lost") == 1; }));
  EXPECT_FALSE(a->stats().connected);
  // Newer states arrive meanwhile: only the newest is sent later, never a backlog.
  for (int i = 0; i < 5; ++i) {
    d.packages["openssl"] = "newest-" + std::to_string(i);
    a->Offer(d);
  }
  const uint64_t published_before = a->stats().published;

  ASSERT_TRUE(cluster_->StartMember(0));
  ASSERT_TRUE(cluster_->StartMember(1));
  ASSERT_TRUE(a->WaitPublished(ContentHash(d), std::chrono::seconds(120)));
  ASSERT_TRUE(Eventually([&] { return rec.Count("caught_up") == 1; }));
  EXPECT_EQ(rec.Count("connected"), 2u);
  EXPECT_EQ(a->stats().published, published_before + 1);  // only newest-4
  auto now = DigestAtTime(*client_, opts_.prefix, "host-a", 0);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->digest.packages["openssl"], "newest-4");
}

TEST_F(FleetEtcd, LeaseExpiryShowsTheHostDownAndACleanStopAtOnce) {
  auto dies = Host("dies");
  auto stops = Host("stops");
  auto stays = Host("stays");
  ASSERT_TRUE(Publish(*dies, testing::SimDigest("dies")));
  ASSERT_TRUE(Publish(*stops, testing::SimDigest("stops")));
  ASSERT_TRUE(Publish(*stays, testing::SimDigest("stays")));
  auto status = [&](const std::string& id) {
    auto r = ListHosts(*client_, opts_.prefix);
    for (const auto& h : r->hosts) {
      if (h.host_id == id) return h.alive ? std::string("alive") : std::string("down");
    }
    return std::string("absent");
  };
  ASSERT_EQ(status("dies"), "alive");
  stops->Stop(true);  // revokes its lease
  EXPECT_EQ(status("stops"), "down");
  dies->Stop(false);  // as if the host died: no more heartbeats, the lease runs out (TTL 5 s)
  ASSERT_TRUE(Eventually([&] { return status("dies") == "down"; }));
  EXPECT_EQ(status("stays"), "alive");  // its heartbeats keep it up past the same TTL
  auto r = Fleet({"list"});
  EXPECT_NE(r.out.find("3 hosts, 1 alive, 2 down"), std::string::npos) << r.out;
}

TEST_F(FleetEtcd, HostileNamesAndLabelsCannotEscapeTheirKeys) {
  const std::vector<std::string> ids = {"../../escape", "a/b/../../c", "%2F..%2F", "..", ".",
                                        "x\n\x1b[31mred", "\xff\xfe", "*", "$(id)",
                                        std::string("nul\0x", 5), "web-1"};
  // Labels pass the config's checks (no control characters) but are hostile otherwise.
  const Labels labels = {{"role", "{{ lookup('pipe','id') }}"}, {"x/../../y", "../z;$(id) \xe2\x80\xae"}};
  std::vector<std::unique_ptr<Publisher>> pubs;
  for (const std::string& id : ids) {
    pubs.push_back(Host(id, labels));
    Digest d = testing::SimDigest(id, 5, 2);
    d.units["../../../etc/shadow\n.service"] = "\x1b[2J";
    d.hostname = "\x1b]0;owned\x07";
    ASSERT_TRUE(Publish(*pubs.back(), d)) << "host " << id;
  }
  // A host that writes etcd itself (not through our publisher) puts escapes in its info record.
  const std::string forged = "{\"v\":1,\"hostname\":\"\x1b]0;pwned\x07\",\"labels\":{\"role\":\"\x1b[31m\"}}";
  ASSERT_TRUE(client_->Put({{HostKey(opts_.prefix, KeyKind::kInfo, "forger"), forged, 0}}).ok());
  // And a key outside the encoding, as a broken or hostile writer might.
  ASSERT_TRUE(client_->Put({{opts_.prefix + "digest/a/b", "{}", 0}}).ok());

  // Every key in the whole store: each one ours belongs to exactly one host, under our prefix.
  auto all = client_->Range(std::string(1, '\0'), std::string(1, '\0'));
  ASSERT_TRUE(all.ok());
  std::map<std::string, int> per_host;
  for (const auto& kv : all->kvs) {
    if (kv.key.rfind(opts_.prefix, 0) != 0) {
      EXPECT_TRUE(kv.key.rfind("/twin-test/", 0) == 0) << "stray key " << kv.key;
      continue;
    }
    if (kv.key == opts_.prefix + "digest/a/b" || kv.key == HostKey(opts_.prefix, KeyKind::kInfo, "forger")) continue;
    auto pk = ParseKey(opts_.prefix, kv.key);
    ASSERT_TRUE(pk.has_value()) << "key " << kv.key << " is not <prefix><kind>/<one segment>";
    EXPECT_NE(std::find(ids.begin(), ids.end(), pk->host_id), ids.end());
    ++per_host[pk->host_id];
  }
  ASSERT_EQ(per_host.size(), ids.size());
  for (const auto& [id, n] : per_host) EXPECT_EQ(n, 3) << id;  // info, alive, digest: no more
  auto r = Fleet({"list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "an escape byte reached the terminal";
  EXPECT_EQ(r.out.find('\x07'), std::string::npos);
  EXPECT_NE(r.out.find("12 hosts"), std::string::npos) << r.out;  // the forger is listed, escaped
  auto j = Fleet({"list", "--json"});
  ASSERT_EQ(j.code, 0);
  size_t found = 0;
  const json listed = json::parse(j.out);
  for (const auto& h : listed["hosts"]) {
    const std::string id = h["host_id"];
    std::string raw;
    ASSERT_TRUE(DecodeByteEscaped(id, &raw));
    found += std::find(ids.begin(), ids.end(), raw) != ids.end();
  }
  EXPECT_EQ(found, ids.size());  // JSON carries the ids losslessly
  auto s = Fleet({"state", std::string("x\n\x1b[31mred")});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(s.out.find('\x1b'), std::string::npos);
  auto dr = Fleet({"drift"});
  ASSERT_EQ(dr.code, 0) << dr.err;
  EXPECT_EQ(dr.out.find('\x1b'), std::string::npos);
  EXPECT_NE(dr.err.find("not a host key"), std::string::npos) << dr.err;  // digest/a/b reported
  // A host that does not exist is one clear line, whatever its name holds.
  auto none = Fleet({"state", "no\nsuch\x1bhost"});
  EXPECT_NE(none.code, 0);
  EXPECT_EQ(std::count(none.err.begin(), none.err.end(), '\n'), 1) << none.err;
}

TEST(FleetLabels, ControlCharactersInLabelsAreRefusedAtTheBorder) {
  FleetOptions o;
  o.endpoints = {"http://127.0.0.1:23899"};
  o.labels = {{"role", "web\x1b]0;pwned\x07"}};
  Status s = ValidateFleetOptions(o);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("control character"), std::string::npos);
}

TEST_F(FleetEtcd, WatchShowsUpDownAndPublishesInOrder) {
  auto before = client_->Range(opts_.prefix, PrefixRangeEnd(opts_.prefix));
  ASSERT_TRUE(before.ok());
  auto a = Host("host-a");
  Digest d = testing::SimDigest("host-a");
  ASSERT_TRUE(Publish(*a, d));
  d.packages["openssl"] = "second";
  ASSERT_TRUE(Publish(*a, d));
  a->Stop(true);
  // From the revision before the host appeared: etcd replays what happened since, in order.
  auto r = Fleet({"watch", "--from-revision", std::to_string(before->revision + 1), "--count", "4", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> seen;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    json j = json::parse(line);
    EXPECT_EQ(j["host_id"], "host-a");
    seen.push_back(j["event"].get<std::string>());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"up", "published", "published", "down"})) << r.out;
}

TEST_F(FleetEtcd, PublishedStateEqualsTheLocalStateAtDigest) {
  char tmpl[] = "/tmp/twin-fleet-log-XXXXXX";
  const std::string dir = std::string(mkdtemp(tmpl)) + "/data";
  SynthOptions so;
  so.seed = 18;
  so.hostile_strings = true;
  SynthGenerator gen(so);
  std::vector<Event> events;
  gen.Fill(events, 20000);
  {
    auto w = EventLog::OpenWriter(dir);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->Append(std::span<const Event>(events.data(), events.size())).ok());
  }
  const uint64_t t = events[events.size() / 2].ts_ns;
  State st;
  {
    auto r = EventLog::OpenReader(dir);
    ASSERT_TRUE(r.ok());
    auto s = StateAt(**r, t);
    ASSERT_TRUE(s.ok());
    st = *s;
  }
  ASSERT_GT(st.units.size() + st.listeners.size(), 0u);
  auto a = Host("host-l");
  const Digest expect = MakeDigest(st, a->identity(), a->options().labels);
  a->OfferState(st);
  ASSERT_TRUE(a->WaitPublished(expect.sha256, std::chrono::seconds(120)));

  auto remote = Fleet({"state", "host-l", "--json"});
  ASSERT_EQ(remote.code, 0) << remote.err;
  auto local = testing::RunArgv({TWIN_REPLAY_BIN, "fleet", "digest", "--data-dir", dir, "--at",
                                 std::to_string(t), "--host-id", "host-l", "--config", "/dev/null", "--json"});
  ASSERT_EQ(local.code, 0) << local.err;
  json rj = json::parse(remote.out), lj = json::parse(local.out);
  EXPECT_EQ(rj["sha256"], lj["sha256"]);
  EXPECT_EQ(rj["units"], lj["units"]);
  EXPECT_EQ(rj["listeners"], lj["listeners"]);
  EXPECT_EQ(rj["units"].size(), st.units.size());  // the fold of the log is the oracle
  std::error_code ec;
  std::filesystem::remove_all(std::filesystem::path(dir).parent_path(), ec);
}

TEST_F(FleetEtcd, EtcdUserAuthLimitsAHostToThePrefixItsRoleMayWrite) {
  const char* etcdctl = access("/usr/bin/etcdctl", X_OK) == 0 ? "/usr/bin/etcdctl" : nullptr;
  TWIN_REQUIRE(etcdctl != nullptr, "etcd-client (etcdctl) is not installed");
  const std::string ep = cluster_->EndpointList();
  auto ctl = [&](std::vector<std::string> args, bool as_root) {
    std::vector<std::string> v = {etcdctl, "--endpoints", ep};
    if (as_root) v.push_back("--user=root:rootpw");
    for (auto& a : args) v.push_back(a);
    return testing::RunArgv(v);
  };
  for (auto args : std::vector<std::vector<std::string>>{
           {"user", "add", "root:rootpw", "--interactive=false"},
           {"user", "grant-role", "root", "root"},
           {"role", "add", "twind"},
           {"role", "grant-permission", "twind", "readwrite", opts_.prefix, "--prefix=true"},
           {"user", "add", "twind:twindpw", "--interactive=false"},
           {"user", "grant-role", "twind", "twind"},
           {"auth", "enable"}}) {
    auto r = ctl(args, false);
    ASSERT_EQ(r.code, 0) << args[0] << " " << args[1] << ": " << r.err;
  }
  char tmpl[] = "/tmp/twin-fleet-pw-XXXXXX";
  const int fd = mkstemp(tmpl);
  ASSERT_EQ(write(fd, "twindpw\n", 8), 8);
  close(fd);
  const std::string pw_file = tmpl;

  FleetOptions o = opts_;
  o.user = "twind";
  o.password_file = pw_file;
  Recorded rec;
  Publisher p(o, HostIdentity{"authed", "authed", "authed", "b"}, [&](Event e) { rec.Add(std::move(e)); });
  ASSERT_TRUE(p.Start().ok());
  ASSERT_TRUE(Publish(p, testing::SimDigest("authed")));
  auto listed = Fleet({"list", "--user", "twind", "--password-file", pw_file, "--json"});
  ASSERT_EQ(listed.code, 0) << listed.err;
  EXPECT_EQ(json::parse(listed.out)["hosts"][0]["host_id"], "authed");

  // Without credentials etcd refuses: one line, exit 1.
  auto anon = Fleet({"list"});
  EXPECT_NE(anon.code, 0);
  EXPECT_EQ(std::count(anon.err.begin(), anon.err.end(), '\n'), 1) << anon.err;
  // A wrong password: the publisher says so in a fleet event and keeps retrying.
  char bad_t[] = "/tmp/twin-fleet-badpw-XXXXXX";
  const int bfd = mkstemp(bad_t);
  ASSERT_EQ(write(bfd, "wrong\n", 6), 6);
  close(bfd);
  FleetOptions bad = o;
  bad.password_file = bad_t;
  Recorded bad_rec;
  Publisher q(bad, HostIdentity{"wrongpw", "wrongpw", "wrongpw", "b"}, [&](Event e) { bad_rec.Add(std::move(e)); });
  ASSERT_TRUE(q.Start().ok());
  ASSERT_TRUE(Eventually([&] { return bad_rec.Count("lost") == 1; }));
  EXPECT_NE(q.stats().last_error.find("authentication"), std::string::npos) << q.stats().last_error;
  // The role covers only the prefix: the same user cannot write beside it.
  EtcdClient c(o, "twindpw");
  auto outside = c.Put({{"/elsewhere/x", "y", 0}});
  EXPECT_FALSE(outside.ok());
  EXPECT_NE(outside.status().message().find("permission denied"), std::string::npos) << outside.status().message();
  q.Stop();
  p.Stop();
  unlink(tmpl);
  unlink(bad_t);
}

// openssl (Debian's openssl package) makes a CA, a server certificate for 127.0.0.1 and a client
// certificate; every argument is ours, passed as argv.
bool MakeCerts(const std::string& d) {
  {
    std::ofstream(d + "/server.ext") << "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n";
    std::ofstream(d + "/client.ext") << "extendedKeyUsage=clientAuth\n";
  }
  const std::vector<std::vector<std::string>> steps = {
      {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
       d + "/ca.key", "-out", d + "/ca.pem", "-days", "2", "-subj", "/CN=twin-test-ca"},
      {"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
       d + "/server.key", "-out", d + "/server.csr", "-subj", "/CN=127.0.0.1"},
      {"x509", "-req", "-in", d + "/server.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key",
       "-CAcreateserial", "-out", d + "/server.pem", "-days", "2", "-extfile", d + "/server.ext"},
      {"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
       d + "/client.key", "-out", d + "/client.csr", "-subj", "/CN=twind"},
      {"x509", "-req", "-in", d + "/client.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key",
       "-CAcreateserial", "-out", d + "/client.pem", "-days", "2", "-extfile", d + "/client.ext"}};
  for (auto args : steps) {
    args.insert(args.begin(), "/usr/bin/openssl");
    if (testing::RunArgv(args).code != 0) return false;
  }
  return true;
}

TEST(FleetTls, ClientCertificatesAreRequiredAndUsed) {
  TWIN_REQUIRE(testing::EtcdBinary() != nullptr, "etcd-server is not installed (scripts/packages.txt)");
  TWIN_REQUIRE(access("/usr/bin/openssl", X_OK) == 0, "openssl is not installed");
  char tmpl[] = "/tmp/twin-fleet-tls-XXXXXX";
  const std::string d = mkdtemp(tmpl);
  ASSERT_TRUE(MakeCerts(d));
  testing::EtcdCluster cluster(kBasePort);
  cluster.UseTls(d + "/ca.pem", d + "/server.pem", d + "/server.key", d + "/client.pem", d + "/client.key");
  ASSERT_TRUE(cluster.Start()) << "TLS cluster did not come up; logs in " << cluster.dir();
  FleetOptions o;
  o.endpoints = cluster.Endpoints();
  o.prefix = "/tls/";
  o.ca_file = d + "/ca.pem";
  o.cert_file = d + "/client.pem";
  o.key_file = d + "/client.key";
  ASSERT_TRUE(ValidateFleetOptions(o).ok());
  Publisher p(o, HostIdentity{"tls-host", "tls-host", "tls-host", "b"}, nullptr);
  ASSERT_TRUE(p.Start().ok());
  Digest dg = testing::SimDigest("tls-host");
  dg.host_id = "tls-host";
  const std::string sha = ContentHash(dg);
  p.Offer(dg);
  ASSERT_TRUE(p.WaitPublished(sha, std::chrono::seconds(120)));
  const std::string eps = cluster.EndpointList();
  auto ok = testing::RunArgv({TWIN_REPLAY_BIN, "fleet", "list", "--json", "--config", "/dev/null", "--endpoints", eps,
                              "--prefix", "/tls/", "--cacert", o.ca_file, "--cert", o.cert_file, "--key", o.key_file});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(json::parse(ok.out)["hosts"][0]["host_id"], "tls-host");
  // Without a client certificate the members refuse the connection: one line, exit 1.
  auto nocert = testing::RunArgv({TWIN_REPLAY_BIN, "fleet", "list", "--config", "/dev/null", "--endpoints", eps,
                                  "--prefix", "/tls/", "--cacert", o.ca_file, "--timeout-ms", "2000"});
  EXPECT_EQ(nocert.code, 1);
  EXPECT_EQ(std::count(nocert.err.begin(), nocert.err.end(), '\n'), 1) << nocert.err;
  // Without our CA the server certificate is not trusted.
  auto noca = testing::RunArgv({TWIN_REPLAY_BIN, "fleet", "list", "--config", "/dev/null", "--endpoints", eps,
                                "--prefix", "/tls/", "--cert", o.cert_file, "--key", o.key_file, "--timeout-ms", "2000"});
  EXPECT_EQ(noca.code, 1);
  EXPECT_NE(noca.err.find("certificate"), std::string::npos) << noca.err;
  p.Stop();
  std::error_code ec;
  std::filesystem::remove_all(d, ec);
}

TEST_F(FleetEtcd, BadInputGetsOneLineErrors) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"state", "host", "--at", "yesterday-ish"},
           {"drift", "--label", "role"},
           {"drift", "--group-by", "bad key"}}) {
    auto r = Fleet(args);
    EXPECT_EQ(r.code, 2) << args[0];
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  auto r = testing::RunArgv({TWIN_REPLAY_BIN, "fleet", "list", "--config", "/nonexistent.toml"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  auto e = testing::RunArgv({TWIN_REPLAY_BIN, "fleet", "list", "--endpoints", "ftp://x"});
  EXPECT_EQ(e.code, 2);
  EXPECT_NE(e.err.find("http://"), std::string::npos) << e.err;
  auto down = testing::RunArgv({TWIN_REPLAY_BIN, "fleet", "list", "--endpoints", "http://127.0.0.1:23899",
                                "--timeout-ms", "500", "--config", "/dev/null"});
  EXPECT_EQ(down.code, 1);
  EXPECT_NE(down.err.find("no etcd member answered"), std::string::npos) << down.err;
  EXPECT_EQ(std::count(down.err.begin(), down.err.end(), '\n'), 1);
}

}  // namespace
}  // namespace twin::fleet
