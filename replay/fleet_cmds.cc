// `twin-replay fleet ...`: the fleet as etcd holds it (needs only the etcd endpoints, given with
// --endpoints or read from twind's config file), plus `fleet digest`, the local digest of a
// data dir, to compare a host with what it published. Everything read from etcd is another
// host's word: tables escape it, JSON carries it losslessly.
#include <csignal>

#include <atomic>
#include <map>

#include <fmt/format.h>

#include "eventlog/timefmt.h"
#include "fleet/digest.h"
#include "fleet/drift.h"
#include "fleet/etcd.h"
#include "fleet/keys.h"
#include "fleet/query.h"
#include "format/json_writer.h"
#include "replay/cli.h"

namespace twin {
namespace {

constexpr const char* kPrefix = "twin-replay fleet: ";

struct FleetArgs {
  std::string endpoints;
  std::string config = "/etc/safetytwin/twind.toml";
  bool config_given = false;
  std::string prefix, cacert, cert, key, user, password_file;
  uint32_t timeout_ms = 0;
  // Subcommands.
  std::string host, at;
  std::vector<std::string> labels;
  std::string group_by;
  uint64_t count = 0;
  int64_t from_revision = 0;
  std::string host_id;
};

// The settings: twind's config file ([fleet]), then the flags.
bool ResolveOptions(const FleetArgs& a, fleet::FleetOptions* o, bool need_endpoints) {
  if (Status s = fleet::LoadFleetConfigFile(a.config, a.config_given, o); !s.ok()) {
    PrintError(kPrefix, s.message());
    return false;
  }
  if (!a.endpoints.empty()) {
    auto e = fleet::ParseEndpointList(a.endpoints);
    if (!e.ok()) {
      PrintError(kPrefix, "--endpoints: " + e.status().message());
      return false;
    }
    o->endpoints = *e;
  }
  if (!a.prefix.empty()) o->prefix = a.prefix;
  if (!a.cacert.empty()) o->ca_file = a.cacert;
  if (!a.cert.empty()) o->cert_file = a.cert;
  if (!a.key.empty()) o->key_file = a.key;
  if (!a.user.empty()) o->user = a.user;
  if (!a.password_file.empty()) o->password_file = a.password_file;
  if (a.timeout_ms) o->timeout_ms = a.timeout_ms;
  if (need_endpoints && o->endpoints.empty()) {
    PrintError(kPrefix, "no etcd endpoints: give --endpoints http://HOST:PORT,... or set [fleet] endpoints in " +
                            a.config);
    return false;
  }
  if (Status s = fleet::ValidateFleetOptions(*o); !s.ok()) {
    PrintError(kPrefix, s.message());
    return false;
  }
  return true;
}

std::unique_ptr<fleet::EtcdClient> Client(const fleet::FleetOptions& o) {
  auto pw = fleet::ReadPassword(o);
  if (!pw.ok()) {
    PrintError(kPrefix, pw.status().message());
    return nullptr;
  }
  return std::make_unique<fleet::EtcdClient>(o, *pw);
}

int EtcdError(const Status& s) {
  PrintError(kPrefix, s.message());
  return s.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitProblem;
}

std::string When(uint64_t ns) { return ns ? FormatRfc3339Ns(ns).substr(0, 19) + "Z" : "-"; }

std::string LabelsText(const fleet::Labels& l) {
  std::string s;
  for (const auto& [k, v] : l) s += (s.empty() ? "" : ",") + k + "=" + v;
  return s;
}

void LabelsJson(JsonWriter& w, const fleet::Labels& l) {
  w.Key("labels").BeginObject();
  for (const auto& [k, v] : l) w.Field(std::string_view(k), std::string_view(v));
  w.EndObject();
}

void ProblemsOut(const std::vector<std::string>& problems) {
  for (const std::string& p : problems) PrintError(kPrefix, "warning: " + p);
}

int CmdList(const CliContext& c, const FleetArgs& a) {
  fleet::FleetOptions o;
  if (!ResolveOptions(a, &o, true)) return kExitUsage;
  auto client = Client(o);
  if (!client) return kExitUsage;
  auto r = fleet::ListHosts(*client, o.prefix);
  if (!r.ok()) return EtcdError(r.status());
  ProblemsOut(r->problems);
  Output out;
  std::string& b = out.buf();
  if (c.json) {
    JsonWriter w(b);
    w.BeginObject().FieldI("revision", r->revision).Key("hosts").BeginArray();
    for (const auto& h : r->hosts) {
      w.BeginObject().Field("host_id", h.host_id).Field("hostname", h.hostname)
          .Field("status", h.alive ? "alive" : "down").FieldB("alive", h.alive)
          .Field("machine_id", h.machine_id).Field("boot_id", h.boot_id).Field("version", h.version)
          .FieldU("lease_ttl_s", h.lease_ttl_s).FieldU("published_ns", h.published_ns)
          .FieldU("state_ts_ns", h.state_ts_ns).FieldU("updated_ns", h.updated_ns)
          .Field("digest_sha256", h.digest_sha256);
      LabelsJson(w, h.labels);
      if (!h.error.empty()) w.Field("error", h.error);
      w.EndObject();
    }
    w.EndArray().EndObject();
    b += '\n';
    return kExitOk;
  }
  size_t alive = 0;
  b += fmt::format("{:<34} {:<20} {:<6} {:<21} {:<21} {}\n", "HOST", "HOSTNAME", "STATUS",
                   "LAST PUBLISH", "STATE AT", "LABELS");
  for (const auto& h : r->hosts) {
    alive += h.alive;
    b += fmt::format("{:<34} {:<20} {:<6} {:<21} {:<21} {}{}\n", EscapeForTerminal(h.host_id),
                     EscapeForTerminal(h.hostname), h.alive ? "alive" : "down", When(h.published_ns),
                     When(h.state_ts_ns), EscapeForTerminal(LabelsText(h.labels)),
                     h.error.empty() ? "" : "  [" + EscapeForTerminal(h.error) + "]");
  }
  b += fmt::format("{} hosts, {} alive, {} down (etcd revision {})\n", r->hosts.size(), alive,
                   r->hosts.size() - alive, r->revision);
  return kExitOk;
}

void ItemsJson(JsonWriter& w, const char* key, const fleet::Items& items) {
  w.Key(key).BeginObject();
  for (const auto& [k, v] : items) w.Field(std::string_view(k), std::string_view(v));
  w.EndObject();
}

void DigestOut(const CliContext& c, const fleet::Digest& d, int64_t mod_revision, Output& out) {
  std::string& b = out.buf();
  if (c.json) {
    JsonWriter w(b);
    w.BeginObject().Field("host_id", d.host_id).Field("hostname", d.hostname)
        .Field("machine_id", d.machine_id).Field("boot_id", d.boot_id).Field("kernel", d.kernel)
        .Field("os", d.os).FieldU("state_ts_ns", d.state_ts_ns).Field("state_at", FormatRfc3339Ns(d.state_ts_ns))
        .FieldU("published_ns", d.published_ns).FieldB("uncertain", d.uncertain)
        .FieldU("processes", d.processes).Field("sha256", d.sha256);
    if (mod_revision) w.FieldI("revision", mod_revision);
    LabelsJson(w, d.labels);
    for (const char* cat : fleet::kCategories) ItemsJson(w, cat, fleet::Category(d, cat));
    w.EndObject();
    b += '\n';
    return;
  }
  b += fmt::format("host {} ({})  state at {}  published {}{}\n", EscapeForTerminal(d.host_id),
                   EscapeForTerminal(d.hostname), When(d.state_ts_ns), When(d.published_ns),
                   mod_revision ? fmt::format("  revision {}", mod_revision) : "");
  b += fmt::format("kernel {}  os {}  processes {}  labels {}{}\n", EscapeForTerminal(d.kernel),
                   EscapeForTerminal(d.os), d.processes, EscapeForTerminal(LabelsText(d.labels)),
                   d.uncertain ? "  [uncertain: a gap not yet resynced]" : "");
  b += "digest sha256 " + d.sha256 + "\n";
  for (const char* cat : fleet::kCategories) {
    const fleet::Items& items = fleet::Category(d, cat);
    b += fmt::format("\n{} ({})\n", cat, items.size());
    for (const auto& [k, v] : items) {
      b += fmt::format("  {:<48} {}\n", EscapeForTerminal(k), EscapeForTerminal(v));
      out.MaybeFlush();
    }
  }
}

int CmdState(const CliContext& c, const FleetArgs& a) {
  fleet::FleetOptions o;
  if (!ResolveOptions(a, &o, true)) return kExitUsage;
  uint64_t at = 0;
  if (!a.at.empty() && !ParseTimeOrExplain(kPrefix, "--at", a.at, WallNowNs(), &at)) return kExitUsage;
  auto client = Client(o);
  if (!client) return kExitUsage;
  auto host = fleet::ResolveHost(*client, o.prefix, a.host);
  if (!host.ok()) return EtcdError(host.status());
  auto d = fleet::DigestAtTime(*client, o.prefix, *host, at);
  if (!d.ok()) return EtcdError(d.status());
  Output out;
  DigestOut(c, d->digest, d->mod_revision, out);
  return kExitOk;
}

int CmdDrift(const CliContext& c, const FleetArgs& a) {
  fleet::FleetOptions o;
  if (!ResolveOptions(a, &o, true)) return kExitUsage;
  fleet::Labels filter;
  for (const std::string& l : a.labels) {
    auto kv = fleet::ParseLabel(l);
    if (!kv.ok()) {
      PrintError(kPrefix, "--label: " + kv.status().message());
      return kExitUsage;
    }
    fleet::SetLabel(filter, kv->first, kv->second);
  }
  if (!a.group_by.empty()) {
    if (Status s = fleet::CheckLabel(a.group_by, ""); !s.ok()) {
      PrintError(kPrefix, "--group-by: " + s.message());
      return kExitUsage;
    }
  }
  auto client = Client(o);
  if (!client) return kExitUsage;
  auto all = fleet::AllDigests(*client, o.prefix);
  if (!all.ok()) return EtcdError(all.status());
  ProblemsOut(all->problems);
  std::vector<fleet::Digest> chosen;
  for (auto& d : all->digests) {
    if (fleet::MatchesLabels(d, filter)) chosen.push_back(std::move(d));
  }
  const auto groups = fleet::ComputeDrift(chosen, a.group_by);
  Output out;
  std::string& b = out.buf();
  if (c.json) {
    JsonWriter w(b);
    w.BeginObject().FieldI("revision", all->revision).FieldU("hosts", chosen.size()).Key("groups").BeginArray();
    for (const auto& g : groups) {
      w.BeginObject();
      if (!a.group_by.empty()) w.Field("group_by", a.group_by).Field("value", g.label_value);
      w.Key("hosts").BeginArray();
      for (const auto& h : g.hosts) w.String(h);
      w.EndArray().Key("drift").BeginArray();
      for (const auto& i : g.items) {
        w.BeginObject().Field("host_id", i.host_id).Field("category", i.category).Field("item", i.item)
            .FieldB("present", i.present).Field("value", i.value).FieldB("split", i.split);
        if (!i.split) w.FieldB("majority_present", i.majority_present).Field("majority", i.majority).FieldU("agree", i.agree);
        w.EndObject();
      }
      w.EndArray().EndObject();
    }
    w.EndArray().EndObject();
    b += '\n';
    return kExitOk;
  }
  size_t total = 0;
  for (const auto& g : groups) {
    b += fmt::format("group {}{} ({} hosts): {} differences\n",
                     a.group_by.empty() ? "all" : EscapeForTerminal(a.group_by) + "=",
                     a.group_by.empty() ? "" : EscapeForTerminal(g.label_value), g.hosts.size(), g.items.size());
    for (const auto& i : g.items) {
      const std::string mine = i.present ? EscapeForTerminal(i.value) : "(absent)";
      const std::string theirs = i.split ? "no majority"
                                 : i.majority_present ? EscapeForTerminal(i.majority) + " on " + std::to_string(i.agree) + " hosts"
                                                      : "(absent) on " + std::to_string(i.agree) + " hosts";
      b += fmt::format("  {:<34} {:<12} {:<40} {}  vs {}\n", EscapeForTerminal(i.host_id), i.category,
                       EscapeForTerminal(i.item), mine.empty() ? "\"\"" : mine, theirs);
      out.MaybeFlush();
    }
    total += g.items.size();
  }
  b += fmt::format("{} hosts, {} groups, {} differences\n", chosen.size(), groups.size(), total);
  return kExitOk;
}

std::atomic<bool> g_watch_stop{false};

int CmdWatch(const CliContext& c, const FleetArgs& a) {
  fleet::FleetOptions o;
  if (!ResolveOptions(a, &o, true)) return kExitUsage;
  auto client = Client(o);
  if (!client) return kExitUsage;
  std::signal(SIGINT, [](int) { g_watch_stop = true; });
  std::signal(SIGTERM, [](int) { g_watch_stop = true; });
  uint64_t seen = 0;
  int64_t next_rev = a.from_revision;
  auto print = [&](const fleet::WatchEvent& e, int64_t) {
    auto pk = fleet::ParseKey(o.prefix, e.kv.key);
    next_rev = e.kv.mod_revision + 1;
    if (!pk) return true;  // not a host key: never followed, not shown
    std::string line;
    const std::string kind(fleet::KeyKindName(pk->kind));
    std::string what, sha;
    uint64_t ts = 0;
    if (pk->kind == fleet::KeyKind::kAlive) {
      what = e.deleted ? "down" : "up";
    } else if (pk->kind == fleet::KeyKind::kDigest) {
      if (e.deleted) {
        what = "digest removed";
      } else if (auto d = fleet::DigestFromJson(e.kv.value); d.ok()) {
        what = "published";
        sha = d->sha256;
        ts = d->state_ts_ns;
      } else {
        what = "bad digest: " + d.status().message();
      }
    } else {
      return true;  // info changes with every publish: the digest line says it
    }
    if (c.json) {
      JsonWriter w(line);
      w.BeginObject().FieldI("revision", e.kv.mod_revision).Field("host_id", pk->host_id)
          .Field("key", kind).Field("event", what);
      if (!sha.empty()) w.Field("sha256", sha).FieldU("state_ts_ns", ts);
      w.EndObject();
      line += '\n';
    } else {
      line = fmt::format("rev {:<8} {:<34} {}{}\n", e.kv.mod_revision, EscapeForTerminal(pk->host_id),
                         EscapeForTerminal(what), sha.empty() ? "" : " " + sha.substr(0, 16) + " state at " + When(ts));
    }
    fwrite(line.data(), 1, line.size(), stdout);
    fflush(stdout);
    ++seen;
    return a.count == 0 || seen < a.count;
  };
  // Resume after a broken stream from the next revision: nothing is shown twice or skipped.
  for (int broken = 0; !g_watch_stop; ++broken) {
    Status s = client->Watch(o.prefix, fleet::PrefixRangeEnd(o.prefix), next_rev, print, &g_watch_stop);
    if (s.ok() || (a.count && seen >= a.count)) return kExitOk;
    if (broken >= 5 || next_rev == 0) return EtcdError(s);
  }
  return kExitOk;
}

int CmdLocalDigest(const CliContext& c, const FleetArgs& a) {
  fleet::FleetOptions o;
  if (!ResolveOptions(a, &o, false)) return kExitUsage;
  for (const std::string& l : a.labels) {
    auto kv = fleet::ParseLabel(l);
    if (!kv.ok()) {
      PrintError(kPrefix, "--label: " + kv.status().message());
      return kExitUsage;
    }
    fleet::SetLabel(o.labels, kv->first, kv->second);
  }
  uint64_t at = 0;
  if (!ParseTimeOrExplain(kPrefix, "--at", a.at.empty() ? "now" : a.at, WallNowNs(), &at)) return kExitUsage;
  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(c.data_dir, false, &open_rc);
  if (!log) return open_rc;
  auto st = StateAt(*log, at);
  if (!st.ok()) return ReportReadError(st.status(), c.data_dir);
  fleet::HostIdentity id = fleet::ReadLocalIdentity(a.host_id.empty() ? o.host_id : a.host_id);
  if (st->host.machine_id.size() && a.host_id.empty() && o.host_id.empty()) id.host_id = st->host.machine_id;
  Output out;
  DigestOut(c, fleet::MakeDigest(*st, id, o.labels), 0, out);
  return kExitOk;
}

}  // namespace

void AddFleetCommands(CLI::App& app, CliContext& ctx) {
  auto* fl = app.add_subcommand("fleet", "the fleet in etcd: hosts, a host's state at T, drift, watch");
  fl->require_subcommand(1);
  auto a = std::make_shared<FleetArgs>();
  fl->add_option("--endpoints", a->endpoints, "etcd client URLs, comma-separated (default: [fleet] endpoints of --config)");
  CLI::Option* config_opt =
      fl->add_option("--config", a->config, "twind's config file to read [fleet] from")->capture_default_str();
  fl->add_option("--prefix", a->prefix, "key prefix (default /safetytwin/v1/)");
  fl->add_option("--cacert", a->cacert, "CA bundle for https endpoints");
  fl->add_option("--cert", a->cert, "client certificate (etcd --client-cert-auth)");
  fl->add_option("--key", a->key, "client certificate's key");
  fl->add_option("--user", a->user, "etcd user");
  fl->add_option("--password-file", a->password_file, "file holding the etcd user's password");
  fl->add_option("--timeout-ms", a->timeout_ms, "per request (default 5000)");
  fl->add_flag("--json", ctx.json, "machine-readable output");
  fl->fallthrough();
  // A --config given by the user must exist; the default may be absent.
  auto run = [&ctx, a, config_opt](int (*cmd)(const CliContext&, const FleetArgs&)) {
    return [&ctx, a, config_opt, cmd] {
      a->config_given = config_opt->count() > 0;
      ctx.rc = cmd(ctx, *a);
    };
  };

  auto* list = fl->add_subcommand("list", "hosts, labels, alive or down (lease), last publish");
  list->callback(run(CmdList));

  auto* state = fl->add_subcommand("state", "one host's published state, now or at T (etcd's history)");
  state->add_option("HOST", a->host, "host id or hostname")->required();
  state->add_option("--at", a->at, "time: RFC 3339, epoch s/ns, or relative (-5m)");
  state->callback(run(CmdState));

  auto* drift = fl->add_subcommand("drift", "per group, what each host has that differs from the majority");
  drift->add_option("--label", a->labels, "only hosts with this label key=value (repeatable)");
  drift->add_option("--group-by", a->group_by, "group hosts by this label's value (default: one group)");
  drift->callback(run(CmdDrift));

  auto* watch = fl->add_subcommand("watch", "changes across the fleet as they are published (until Ctrl-C)");
  watch->add_option("--count", a->count, "stop after N changes");
  watch->add_option("--from-revision", a->from_revision, "replay from this etcd revision (default: from now)");
  watch->callback(run(CmdWatch));

  auto* digest = fl->add_subcommand("digest", "this data dir's digest at T, as twind would publish it (no etcd)");
  digest->add_option("--at", a->at, "time (default now)");
  digest->add_option("--host-id", a->host_id, "host id (default: the machine id in the log)");
  digest->add_option("--label", a->labels, "labels key=value (default: [fleet] labels of --config)");
  digest->add_option("--data-dir", ctx.data_dir, "safetytwin data dir");

  for (auto* sub : {list, state, drift, watch, digest}) sub->add_flag("--json", ctx.json, "machine-readable output");
  digest->callback(run(CmdLocalDigest));
}

}  // namespace twin
