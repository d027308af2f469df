#include "userspace/config.h"

#include <cctype>
#include <cstring>

#include "eventlog/timefmt.h"
#include "userspace/log_level.h"

#include <sys/stat.h>

#include <cstdlib>
#include <set>

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include "userspace/loopback_addr.h"
#include "format/terminal.h"
#include "fleet/options_toml.h"

namespace twin::capture {

Result<uint64_t> ParseSize(const std::string& s) {
  if (s.empty()) return Status::InvalidArgument("empty size");
  if (!std::isdigit(static_cast<unsigned char>(s[0]))) {
    return Status::InvalidArgument("'" + s + "' is not a size (e.g. 8M, 64k, 1048576)");
  }
  size_t pos = 0;
  uint64_t v = 0;
  try {
    v = std::stoull(s, &pos, 10);
  } catch (...) {
    return Status::InvalidArgument("'" + s + "' is not a size (e.g. 8M, 64k, 1048576)");
  }
  std::string suf = s.substr(pos);
  for (auto& c : suf) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int shift = -1;
  if (suf == "" || suf == "b") shift = 0;
  else if (suf == "k" || suf == "kib" || suf == "kb") shift = 10;
  else if (suf == "m" || suf == "mib" || suf == "mb") shift = 20;
  else if (suf == "g" || suf == "gib" || suf == "gb") shift = 30;
  else if (suf == "t" || suf == "tib" || suf == "tb") shift = 40;
  if (shift < 0) return Status::InvalidArgument("unknown size suffix in '" + s + "'");
  if (shift > 0 && v > (UINT64_MAX >> shift)) return Status::InvalidArgument("size '" + s + "' is too large");
  return v << shift;
}

Result<FsyncPolicy> ParseFsyncKey(const std::string& value) {
  auto p = ParseFsyncPolicy(value);
  if (!p.ok()) {
    return Status::InvalidArgument("fsync: '" + LogEscape(value) + "' is not one of always, interval, never");
  }
  return *p;
}

Result<spdlog::level::level_enum> ParseLogLevelKey(const std::string& value) {
  auto l = ParseLogLevel(value);  // the one list of names (userspace/log_level.h)
  if (!l.ok()) {
    return Status::InvalidArgument("log_level: '" + LogEscape(value) +
                                   "' is not one of trace, debug, info, warn, error, critical, off");
  }
  return *l;
}

namespace {

// The keys twind.toml may hold; anything else is a typo that would otherwise be ignored.
const std::set<std::string> kKnownKeys = {
    "data_dir",       "compact_interval", "metrics_addr",      "metrics_socket",
    "ringbuf_size",   "ringbuf_wakeup_bytes", "max_args",      "queue_capacity",
    "batch_max",      "fsync",            "fsync_interval_ms", "reconcile_grace_ms",
    "log_level",      "log_file",         "pid_file",          "force_raw_tp",
    "no_twin",        "min_free_bytes",   "retention_max_age", "retention_max_bytes",
    "fleet",          "host_config",      "exe_hash",          "twin"};

// Typed access to one TOML table; every error names the file and the key.
class TomlReader {
 public:
  // prefix names the table in errors ("twin." for [twin]).
  TomlReader(const toml::table& t, std::string path, const std::set<std::string>* overridden = nullptr,
             std::string prefix = "")
      : t_(t), path_(std::move(path)), overridden_(overridden), prefix_(std::move(prefix)) {}

  Status Err(const std::string& key, const std::string& what) const {
    return Status::InvalidArgument("config " + path_ + ": " + prefix_ + key + ": " + what);
  }
  Status String(const char* key, std::string* out) const {
    auto n = t_[key];
    if (!n) return Status::Ok();
    auto v = n.value<std::string>();
    if (!v || !n.is_string()) return Err(key, "must be a string");
    *out = *v;
    return Status::Ok();
  }
  Status Bool(const char* key, bool* out) const {
    auto n = t_[key];
    if (!n) return Status::Ok();
    if (!n.is_boolean()) return Err(key, "must be true or false");
    *out = *n.value<bool>();
    return Status::Ok();
  }
  // A string turned into a typed value by parse (whose message already names the key). A key a
  // command-line flag overrides is not read: the daemon runs with the flag's value.
  template <typename T, typename Parse>
  Status Named(const char* key, Parse parse, T* out) const {
    if (overridden_ && overridden_->count(key)) return Status::Ok();
    std::string v;
    bool present = static_cast<bool>(t_[key]);
    if (Status s = String(key, &v); !s.ok() || !present) return s;
    auto r = parse(v);
    if (!r.ok()) return Status::InvalidArgument("config " + path_ + ": " + r.status().message());
    *out = *r;
    return Status::Ok();
  }
  // An integer in [lo, hi]; floats, strings and negatives are refused, never wrapped.
  Status Int(const char* key, int64_t lo, int64_t hi, int64_t* out, bool* present = nullptr) const {
    auto n = t_[key];
    if (present) *present = static_cast<bool>(n);
    if (!n) return Status::Ok();
    if (!n.is_integer()) return Err(key, "must be an integer");
    int64_t v = *n.value<int64_t>();
    if (v < lo || v > hi) {
      return Err(key, std::to_string(v) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    *out = v;
    return Status::Ok();
  }
  // A size: "8M"-style string or a non-negative integer of bytes, at most hi.
  Status Size(const char* key, uint64_t hi, uint64_t* out) const {
    auto n = t_[key];
    if (!n) return Status::Ok();
    uint64_t v = 0;
    if (n.is_string()) {
      auto r = ParseSize(*n.value<std::string>());
      if (!r.ok()) return Err(key, r.status().message());
      v = *r;
    } else if (n.is_integer()) {
      int64_t i = *n.value<int64_t>();
      if (i < 0) return Err(key, std::to_string(i) + " is negative");
      v = static_cast<uint64_t>(i);
    } else {
      return Err(key, "must be a size such as \"8M\" or a number of bytes");
    }
    if (v > hi) return Err(key, std::to_string(v) + " is larger than " + std::to_string(hi));
    *out = v;
    return Status::Ok();
  }

 private:
  const toml::table& t_;
  std::string path_;
  const std::set<std::string>* overridden_;
  std::string prefix_;
};

template <typename T>
Status IntInto(const TomlReader& r, const char* key, int64_t lo, int64_t hi, T* out) {
  int64_t v = 0;
  bool present = false;
  if (Status s = r.Int(key, lo, hi, &v, &present); !s.ok()) return s;
  if (present) *out = static_cast<T>(v);
  return Status::Ok();
}

// [host_config]: enabled, roots, unit_dirs, dpkg_dir, passwd_file, group_file, max_content,
// secret_paths, extra_secret_paths, debounce_ms.
Status HostConfigFromToml(const toml::table& t, const std::string& path, HostConfigOptions* o) {
  static const std::set<std::string> kKeys = {"enabled",     "roots",         "dpkg_dir",
                                              "passwd_file", "group_file",    "max_content",
                                              "secret_paths", "extra_secret_paths", "debounce_ms",
                                              "twin", "rescan_interval", "unit_dirs"};
  TomlReader r(t, path);
  for (const auto& [k, v] : t) {
    if (!kKeys.count(std::string(k.str()))) {
      return r.Err("host_config." + LogEscape(std::string(k.str())), "unknown key");
    }
  }
  auto paths = [&](const char* key, std::vector<std::string>* out, bool append) -> Status {
    auto n = t[key];
    if (!n) return Status::Ok();
    const toml::array* a = n.as_array();
    if (!a) return r.Err(std::string("host_config.") + key, "must be an array of absolute paths");
    if (!append) out->clear();
    for (const auto& e : *a) {
      auto v = e.value<std::string>();
      if (!e.is_string() || !v || v->empty() || (*v)[0] != '/') {
        return r.Err(std::string("host_config.") + key, "must be an array of absolute paths");
      }
      out->push_back(*v);
    }
    return Status::Ok();
  };
  Status s;
  auto chain = [&](Status x) {
    if (s.ok() && !x.ok()) s = x;
  };
  chain(r.Bool("enabled", &o->enabled));
  chain(paths("roots", &o->roots, false));
  chain(paths("unit_dirs", &o->unit_dirs, false));
  chain(r.String("dpkg_dir", &o->dpkg_dir));
  chain(r.String("passwd_file", &o->passwd_file));
  chain(r.String("group_file", &o->group_file));
  chain(r.Size("max_content", 64ull << 20, &o->max_content_bytes));
  chain(paths("secret_paths", &o->secret_paths, false));
  chain(paths("extra_secret_paths", &o->secret_paths, true));
  chain(IntInto(r, "debounce_ms", 0, 60000, &o->debounce_ms));
  chain(r.Bool("twin", &o->twin));
  chain(IntInto(r, "rescan_interval", 1, 86400, &o->rescan_interval_s));
  for (const std::string* p : {&o->dpkg_dir, &o->passwd_file, &o->group_file}) {
    if (s.ok() && (p->empty() || (*p)[0] != '/')) {
      chain(r.Err("host_config", "'" + LogEscape(*p) + "' is not an absolute path"));
    }
  }
  return s;
}

// [exe_hash]: enabled, max_file_size, queue, cache_entries, dpkg_dir.
Status ExeHashFromToml(const toml::table& t, const std::string& path, ExeHashOptions* o) {
  static const std::set<std::string> kKeys = {"enabled", "max_file_size", "queue",
                                              "cache_entries", "dpkg_dir"};
  TomlReader r(t, path);
  for (const auto& [k, v] : t) {
    if (!kKeys.count(std::string(k.str())))
      return r.Err("exe_hash." + LogEscape(std::string(k.str())), "unknown key");
  }
  Status s;
  auto chain = [&](Status x) {
    if (s.ok() && !x.ok()) s = x;
  };
  chain(r.Bool("enabled", &o->enabled));
  chain(r.Size("max_file_size", 1ull << 40, &o->max_file_bytes));
  chain(IntInto(r, "queue", 1, 1 << 20, &o->queue));
  chain(IntInto(r, "cache_entries", 1, 1 << 24, &o->cache_entries));
  chain(r.String("dpkg_dir", &o->dpkg_dir));
  if (s.ok() && !o->dpkg_dir.empty() && o->dpkg_dir[0] != '/')
    chain(r.Err("exe_hash.dpkg_dir", "'" + LogEscape(o->dpkg_dir) + "' is not an absolute path"));
  return s;
}

// [twin]: domain, uri, image_dir, overlay_root, accel, memory, vcpus, boot_timeout, max_chain,
// user_net, quiesce.
Status TwinFromToml(const toml::table& t, const std::string& path, vm::TwinSettings* o) {
  static const std::set<std::string> kKeys = {"domain",  "uri",   "image_dir",    "overlay_root",
                                              "accel",   "memory", "vcpus",       "boot_timeout",
                                              "max_chain", "user_net", "quiesce"};
  TomlReader r(t, path, nullptr, "twin.");
  for (const auto& [k, v] : t) {
    if (!kKeys.count(std::string(k.str()))) return r.Err(LogEscape(std::string(k.str())), "unknown key");
  }
  Status s;
  auto chain = [&](Status x) {
    if (s.ok() && !x.ok()) s = x;
  };
  chain(r.String("domain", &o->domain));
  chain(r.String("uri", &o->uri));
  chain(r.String("image_dir", &o->image_dir));
  chain(r.String("overlay_root", &o->overlay_root));
  chain(r.String("accel", &o->accel));
  uint64_t memory = static_cast<uint64_t>(o->memory_mib) << 20;
  chain(r.Size("memory", 1ull << 40, &memory));
  chain(IntInto(r, "vcpus", 1, 64, &o->vcpus));
  if (auto n = t["boot_timeout"]; n) {
    auto d = n.is_string() ? ParseDuration(*n.value<std::string>())
                           : Result<uint64_t>(Status::InvalidArgument("must be a duration string such as \"10m\""));
    if (!d.ok()) chain(r.Err("boot_timeout", d.status().message()));
    else if (*d < 10'000'000'000ull || *d > 86400'000'000'000ull) chain(r.Err("boot_timeout", "must be 10s..24h"));
    else o->boot_timeout_ms = static_cast<int>(*d / 1'000'000);
  }
  chain(IntInto(r, "max_chain", 1, 64, &o->max_chain));
  chain(r.Bool("user_net", &o->user_net));
  chain(r.Bool("quiesce", &o->quiesce));
  if (!s.ok()) return s;
  if (memory < (256ull << 20) || memory > (64ull << 30) || memory % (1ull << 20) != 0) {
    return r.Err("memory", "must be whole MiB between 256M and 64G");
  }
  o->memory_mib = static_cast<int>(memory >> 20);
  if (Status v = ValidateTwinSettings(*o, "twin."); !v.ok()) {
    return Status::InvalidArgument("config " + path + ": " + v.message());
  }
  return Status::Ok();
}

}  // namespace

Status ValidateTwinSettings(const vm::TwinSettings& o, const std::string& prefix) {
  auto bad = [&](const char* key, const std::string& what) {
    return Status::InvalidArgument(prefix + key + ": " + what);
  };
  if (!vm::ValidDomainName(o.domain)) {
    return bad("domain", "'" + LogEscape(o.domain) + "' is not a domain name ([A-Za-z0-9][A-Za-z0-9_.-], at most 64)");
  }
  if (o.uri.empty() || o.uri.find("://") == std::string::npos) {
    return bad("uri", "'" + LogEscape(o.uri) + "' is not a libvirt URI such as qemu:///system");
  }
  for (auto [key, p] : {std::pair<const char*, const std::string*>{"image_dir", &o.image_dir},
                        {"overlay_root", &o.overlay_root}}) {
    if (!p->empty() && (*p)[0] != '/') return bad(key, "'" + LogEscape(*p) + "' is not an absolute path");
  }
  if (o.overlay_root.empty()) return bad("overlay_root", "must not be empty");
  return vm::CheckAccelName(prefix + "accel", o.accel);
}

Status LoadTomlConfig(const std::string& path, bool required, DaemonConfig* cfg,
                      const std::set<std::string>& overridden) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (required) return Status::NotFound("config file " + path + " does not exist");
    return Status::Ok();
  }
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument("config " + path + ": " + std::string(e.description()) +
                                   " (line " + std::to_string(e.source().begin.line) + ")");
  }
  for (const auto& [k, v] : t) {
    const std::string key(k.str());
    if (!kKnownKeys.count(key)) {
      return Status::InvalidArgument("config " + path + ": unknown key '" + LogEscape(key) +
                                     "' (see docs/OPERATIONS.md for the keys)");
    }
  }
  TomlReader r(t, path, &overridden);
  Status s;
  auto chain = [&](Status x) {
    if (s.ok() && !x.ok()) s = x;
  };
  chain(r.String("data_dir", &cfg->data_dir));
  if (auto n = t["compact_interval"]; n) {
    if (!n.is_number()) {
      chain(r.Err("compact_interval", "must be a number of seconds"));
    } else {
      double v = *n.value<double>();
      if (!(v >= 0.1 && v <= 86400)) chain(r.Err("compact_interval", "must be 0.1..86400 seconds"));
      else cfg->compact_interval_ms = static_cast<uint64_t>(v * 1000);
    }
  }
  chain(r.String("metrics_addr", &cfg->metrics_addr));
  chain(r.String("metrics_socket", &cfg->metrics_socket));
  uint64_t ringbuf = cfg->ringbuf_bytes;
  chain(r.Size("ringbuf_size", 1ull << 30, &ringbuf));
  cfg->ringbuf_bytes = static_cast<uint32_t>(ringbuf);
  chain(IntInto(r, "ringbuf_wakeup_bytes", -1, 1ll << 30, &cfg->ringbuf_wakeup_bytes));
  chain(IntInto(r, "max_args", 1, 16384, &cfg->max_args));
  chain(IntInto(r, "queue_capacity", 1, 1 << 24, &cfg->queue_capacity));
  chain(IntInto(r, "batch_max", 1, 1 << 20, &cfg->batch_max));
  chain(r.Named("fsync", ParseFsyncKey, &cfg->fsync));
  chain(IntInto(r, "fsync_interval_ms", 1, 60000, &cfg->fsync_interval_ms));
  chain(IntInto(r, "reconcile_grace_ms", 0, 3600000, &cfg->reconcile_grace_ms));
  chain(r.Named("log_level", ParseLogLevelKey, &cfg->log_level));
  chain(r.String("log_file", &cfg->log_file));
  chain(r.String("pid_file", &cfg->pid_file));
  chain(r.Bool("force_raw_tp", &cfg->force_raw_tp));
  chain(r.Bool("no_twin", &cfg->no_twin));
  chain(r.Size("min_free_bytes", 1ull << 50, &cfg->min_free_bytes));
  if (auto n = t["retention_max_age"]; n) {
    if (!n.is_string()) {
      chain(r.Err("retention_max_age", "must be a duration string such as \"30d\" or \"0\""));
    } else if (auto d = ParseDuration(*n.value<std::string>()); !d.ok()) {
      chain(r.Err("retention_max_age", d.status().message()));
    } else {
      cfg->retention_max_age_ns = *d;
    }
  }
  chain(r.Size("retention_max_bytes", 1ull << 50, &cfg->retention_max_bytes));
  if (auto n = t["host_config"]; n && s.ok()) {
    if (!n.is_table()) chain(r.Err("host_config", "must be a table ([host_config])"));
    else chain(HostConfigFromToml(*n.as_table(), path, &cfg->host_config));
  }
  if (auto n = t["exe_hash"]; n && s.ok()) {
    if (!n.is_table()) chain(r.Err("exe_hash", "must be a table ([exe_hash])"));
    else chain(ExeHashFromToml(*n.as_table(), path, &cfg->exe_hash));
  }
  if (auto n = t["twin"]; n && s.ok()) {
    if (!n.is_table()) chain(r.Err("twin", "must be a table ([twin])"));
    else chain(TwinFromToml(*n.as_table(), path, &cfg->twin));
  }
  if (auto n = t["fleet"]; n && s.ok()) {
    if (!n.is_table()) chain(Status::InvalidArgument("config " + path + ": fleet must be a table ([fleet])"));
    else chain(fleet::FleetOptionsFromToml(*n.as_table(), path, &cfg->fleet));
  }
  return s;
}

Status ValidateConfig(const DaemonConfig& cfg) {
  auto bad = [](const std::string& key, const std::string& what) {
    return Status::InvalidArgument(key + ": " + what);
  };
  if (cfg.data_dir.empty() || cfg.data_dir[0] != '/') {
    return bad("data_dir", "'" + LogEscape(cfg.data_dir) + "' is not an absolute path");
  }
  struct stat st {};
  if (stat(cfg.data_dir.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    return bad("data_dir", LogEscape(cfg.data_dir) + " exists and is not a directory");
  }
  if (!cfg.metrics_addr.empty() && cfg.metrics_addr != "off") {
    if (auto a = ParseLoopbackAddr(cfg.metrics_addr); !a.ok()) return bad("metrics_addr", a.status().message());
  }
  if (!cfg.metrics_socket.empty() && cfg.metrics_socket != "off") {
    if (cfg.metrics_socket[0] != '/' || cfg.metrics_socket.size() >= 100) {
      return bad("metrics_socket", "'" + LogEscape(cfg.metrics_socket) + "' must be an absolute path under 100 bytes");
    }
  }
  if (cfg.ringbuf_bytes < 4096 || (cfg.ringbuf_bytes & (cfg.ringbuf_bytes - 1)) != 0) {
    return bad("ringbuf_size", std::to_string(cfg.ringbuf_bytes) + " is not a power of two >= 4096 (e.g. 8M)");
  }
  if (cfg.max_args < 1 || cfg.max_args > 16384) return bad("max_args", "must be 1..16384");
  if (cfg.compact_interval_ms < 100) return bad("compact_interval", "must be at least 0.1 s");
  if (cfg.fleet.enabled()) {
    if (Status f = fleet::ValidateFleetOptions(cfg.fleet); !f.ok()) return f;
  }
  for (const std::string* p : {&cfg.log_file, &cfg.pid_file}) {
    if (!p->empty() && (*p)[0] != '/') {
      return bad(p == &cfg.log_file ? "log_file" : "pid_file", "'" + LogEscape(*p) + "' is not an absolute path");
    }
  }
  return Status::Ok();
}

int ParseCommandLine(int argc, char** argv, DaemonConfig* cfg) {
  CLI::App app{"twind — safetytwin live capture daemon (eBPF → event log)"};
  // A later flag overrides an earlier one (wrappers append their own).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::string data_dir, config, metrics, metrics_socket, ringbuf, fsync, log_level, log_file, pid_file;
  std::string retention_age, retention_bytes, fleet_endpoints, fleet_host_id;
  std::vector<std::string> fleet_labels;
  double compact = 0;
  uint32_t max_args = 0;
  bool foreground = false, check = false, json = false, no_twin = false, raw_tp = false;
  bool no_host_config = false, no_exe_hash = false;
  app.add_option("--data-dir", data_dir, "event log directory (default /var/lib/safetytwin)");
  app.add_option("--config", config, "TOML config file (default /etc/safetytwin/twind.toml)");
  app.add_flag("--foreground,-f", foreground, "do not daemonize");
  app.add_flag("--check", check, "print a readiness report and exit (non-zero if capture cannot work)");
  app.add_flag("--json", json, "machine-readable --check output");
  app.add_option("--compact-interval", compact, "seconds between compactions (default 10)");
  app.add_option("--metrics-addr", metrics, "Prometheus metrics on 127.0.0.1:PORT, or 'off'");
  app.add_option("--metrics-socket", metrics_socket, "metrics also on this unix socket, or 'off'");
  app.add_option("--ringbuf-size", ringbuf, "BPF ring buffer size, e.g. 8M (power of two)");
  app.add_option("--max-args", max_args, "argv capture bound in bytes (default 4096, max 16384)");
  app.add_option("--fsync", fsync, "always | interval | never");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error");
  app.add_option("--log-file", log_file, "log file when daemonized (default <data-dir>/twind.log)");
  app.add_option("--pid-file", pid_file, "write the daemon's pid here");
  app.add_flag("--no-twin", no_twin, "do not drive the twin VM");
  app.add_flag("--no-exe-hash", no_exe_hash,
               "do not hash executed binaries ([exe_hash] enabled = false)");
  app.add_flag("--no-host-config", no_host_config,
               "do not capture packages, config files, users and groups");
  app.add_option("--retention-max-age", retention_age, "delete history older than this (e.g. 30d; 0 = keep)");
  app.add_option("--retention-max-bytes", retention_bytes, "keep the log under this size (e.g. 8G; 0 = no limit)");
  app.add_option("--fleet-endpoints", fleet_endpoints,
                 "publish state digests to this etcd cluster: URL,URL,... (docs/FLEET.md)");
  app.add_option("--fleet-label", fleet_labels, "a fleet label key=value (repeatable), e.g. role=web")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--fleet-host-id", fleet_host_id, "this host's id in the fleet (default: the machine id)");
  app.add_flag("--force-raw-tp", raw_tp, "use raw tracepoints even where tp_btf works");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  bool explicit_config = !config.empty();
  if (explicit_config) cfg->config_path = config;
  // A config the daemon refuses is NOT READY for --check (exit 1, the key named), exit 2 otherwise.
  auto refuse = [&](const std::string& what) {
    if (check) {
      cfg->check = true;
      cfg->json = json;
      if (cfg->config_error.empty()) cfg->config_error = what;
      return -1;
    }
    fprintf(stderr, "twind: %s\n", what.c_str());
    return 2;
  };
  std::set<std::string> overridden;
  if (!fsync.empty()) overridden.insert("fsync");
  if (!log_level.empty()) overridden.insert("log_level");
  Status s = LoadTomlConfig(cfg->config_path, explicit_config, cfg, overridden);
  if (!s.ok()) return refuse(s.message());
  if (!data_dir.empty()) cfg->data_dir = data_dir;
  if (app.count("--compact-interval")) {
    if (!(compact >= 0.1 && compact <= 86400)) return refuse("--compact-interval must be 0.1..86400 seconds");
    cfg->compact_interval_ms = static_cast<uint64_t>(compact * 1000);
  }
  if (!metrics.empty()) cfg->metrics_addr = metrics;
  if (!metrics_socket.empty()) cfg->metrics_socket = metrics_socket;
  if (!ringbuf.empty()) {
    auto r = ParseSize(ringbuf);
    if (r.ok() && *r > (1ull << 30)) r = Status::InvalidArgument(ringbuf + " is larger than 1G");
    if (!r.ok()) return refuse("--ringbuf-size: " + r.status().message());
    cfg->ringbuf_bytes = static_cast<uint32_t>(*r);
  }
  if (!retention_age.empty()) {
    auto r = ParseDuration(retention_age);
    if (!r.ok()) return refuse("--retention-max-age: " + r.status().message());
    cfg->retention_max_age_ns = *r;
  }
  if (!retention_bytes.empty()) {
    auto r = retention_bytes == "0" ? Result<uint64_t>(uint64_t{0}) : ParseSize(retention_bytes);
    if (!r.ok()) return refuse("--retention-max-bytes: " + r.status().message());
    cfg->retention_max_bytes = *r;
  }
  if (!fleet_endpoints.empty()) {
    auto e = fleet::ParseEndpointList(fleet_endpoints);
    if (!e.ok()) return refuse("--fleet-endpoints: " + e.status().message());
    cfg->fleet.endpoints = *e;
  }
  for (const std::string& l : fleet_labels) {
    auto kv = fleet::ParseLabel(l);
    if (!kv.ok()) return refuse("--fleet-label: " + kv.status().message());
    fleet::SetLabel(cfg->fleet.labels, kv->first, kv->second);
  }
  if (!fleet_host_id.empty()) cfg->fleet.host_id = fleet_host_id;
  if (app.count("--max-args")) cfg->max_args = max_args;
  if (!fsync.empty()) {
    auto f = ParseFsyncKey(fsync);
    if (!f.ok()) return refuse(f.status().message());
    cfg->fsync = *f;
  }
  if (!log_level.empty()) {
    auto l = ParseLogLevelKey(log_level);
    if (!l.ok()) return refuse(l.status().message());
    cfg->log_level = *l;
  }
  if (!log_file.empty()) cfg->log_file = log_file;
  if (!pid_file.empty()) cfg->pid_file = pid_file;
  cfg->foreground = cfg->foreground || foreground;
  cfg->check = check;
  cfg->json = json;
  cfg->no_twin = cfg->no_twin || no_twin;
  if (no_host_config) cfg->host_config.enabled = false;
  if (no_exe_hash) cfg->exe_hash.enabled = false;
  cfg->under_systemd = getenv("NOTIFY_SOCKET") != nullptr || getenv("INVOCATION_ID") != nullptr;
  cfg->journal_stream = getenv("JOURNAL_STREAM") != nullptr;
  if (const char* c = getenv("CACHE_DIRECTORY"); c && *c == '/' && !strchr(c, ':')) {
    cfg->cache_directory = c;
  }
  if (Status e = vm::ApplyTwinEnvironment(&cfg->twin); !e.ok()) return refuse(e.message());
  cfg->force_raw_tp = cfg->force_raw_tp || raw_tp;
  if (Status v = ValidateConfig(*cfg); !v.ok()) return refuse(v.message());
  return -1;
}

}  // namespace twin::capture
