#include "userspace/config.h"

#include <cctype>

#include "eventlog/timefmt.h"
#include "userspace/log_level.h"

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <toml++/toml.h>

namespace twin::capture {
namespace {
constexpr double kMaxCompactIntervalS = 86400;  // a snapshot at least once a day
}  // namespace

Result<uint64_t> ParseSize(const std::string& s) {
  if (s.empty()) return Status::InvalidArgument("empty size");
  size_t pos = 0;
  uint64_t v = 0;
  try {
    v = std::stoull(s, &pos, 10);
  } catch (...) {
    return Status::InvalidArgument("not a size: " + s);
  }
  std::string suf = s.substr(pos);
  for (auto& c : suf) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (suf == "" || suf == "b") return v;
  if (suf == "k" || suf == "kib" || suf == "kb") return v << 10;
  if (suf == "m" || suf == "mib" || suf == "mb") return v << 20;
  if (suf == "g" || suf == "gib" || suf == "gb") return v << 30;
  return Status::InvalidArgument("unknown size suffix in " + s);
}

Status LoadTomlConfig(const std::string& path, bool required, DaemonConfig* cfg) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (required) return Status::NotFound("config file " + path + " does not exist");
    return Status::Ok();
  }
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument("config " + path + ": " + std::string(e.description()));
  }
  if (auto v = t["data_dir"].value<std::string>()) cfg->data_dir = *v;
  if (auto v = t["compact_interval"].value<double>()) {
    // Checked before the cast: a negative, NaN or huge double converted to uint64 is undefined
    // (found by tests/fuzz/config_fuzz).
    if (!(*v > 0 && *v <= kMaxCompactIntervalS)) {
      return Status::InvalidArgument(path + ": compact_interval must be more than 0 and at most " +
                                     std::to_string(static_cast<int>(kMaxCompactIntervalS)) + " seconds");
    }
    cfg->compact_interval_ms = static_cast<uint64_t>(*v * 1000);
  }
  if (auto v = t["metrics_addr"].value<std::string>()) cfg->metrics_addr = *v;
  if (auto v = t["ringbuf_size"].value<std::string>()) {
    auto r = ParseSize(*v);
    if (!r.ok()) return r.status();
    cfg->ringbuf_bytes = static_cast<uint32_t>(*r);
  } else if (auto n = t["ringbuf_size"].value<int64_t>()) {
    cfg->ringbuf_bytes = static_cast<uint32_t>(*n);
  }
  if (auto v = t["ringbuf_wakeup_bytes"].value<int64_t>()) cfg->ringbuf_wakeup_bytes = *v;
  if (auto v = t["max_args"].value<int64_t>()) cfg->max_args = static_cast<uint32_t>(*v);
  if (auto v = t["queue_capacity"].value<int64_t>()) cfg->queue_capacity = static_cast<uint32_t>(*v);
  if (auto v = t["fsync"].value<std::string>()) cfg->fsync = *v;
  if (auto v = t["fsync_interval_ms"].value<int64_t>()) cfg->fsync_interval_ms = static_cast<uint32_t>(*v);
  if (auto v = t["log_level"].value<std::string>()) cfg->log_level = *v;
  if (auto v = t["log_file"].value<std::string>()) cfg->log_file = *v;
  if (auto v = t["pid_file"].value<std::string>()) cfg->pid_file = *v;
  if (auto v = t["force_raw_tp"].value<bool>()) cfg->force_raw_tp = *v;
  if (auto v = t["no_twin"].value<bool>()) cfg->no_twin = *v;
  if (auto v = t["min_free_bytes"].value<int64_t>()) cfg->min_free_bytes = static_cast<uint64_t>(*v);
  if (auto v = t["retention_max_age"].value<std::string>()) {
    auto r = ParseDuration(*v);
    if (!r.ok()) return Status::InvalidArgument(path + ": retention_max_age: " + r.status().message());
    cfg->retention_max_age_ns = *r;
  }
  if (auto v = t["retention_max_bytes"].value<std::string>()) {
    auto r = ParseSize(*v);
    if (!r.ok()) return Status::InvalidArgument(path + ": retention_max_bytes: " + r.status().message());
    cfg->retention_max_bytes = *r;
  } else if (auto n = t["retention_max_bytes"].value<int64_t>()) {
    cfg->retention_max_bytes = static_cast<uint64_t>(*n);
  }
  return Status::Ok();
}

Result<uint64_t> ParseDuration(const std::string& s) {
  std::string t = s;
  if (!t.empty() && std::isdigit(static_cast<unsigned char>(t.back()))) t += "s";
  if (t == "0s") return uint64_t{0};
  auto r = ParseTime("+" + t, 0);
  if (!r.ok()) {
    return Status::InvalidArgument("'" + s + "' is not a duration (use e.g. 30d, 12h, 90m, 0 for unlimited)");
  }
  return r.value();
}

int ParseCommandLine(int argc, char** argv, DaemonConfig* cfg) {
  CLI::App app{"twind — safetytwin live capture daemon (eBPF → event log)"};
  // A later flag overrides an earlier one (wrappers append their own).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::string data_dir, config, metrics, ringbuf, fsync, log_level, log_file, pid_file;
  std::string retention_age, retention_bytes;
  double compact = 0;
  uint32_t max_args = 0;
  bool foreground = false, check = false, json = false, no_twin = false, raw_tp = false;
  app.add_option("--data-dir", data_dir, "event log directory (default /var/lib/safetytwin)");
  app.add_option("--config", config, "TOML config file (default /etc/safetytwin/twind.toml)");
  app.add_flag("--foreground,-f", foreground, "do not daemonize");
  app.add_flag("--check", check, "print a readiness report and exit (non-zero if capture cannot work)");
  app.add_flag("--json", json, "machine-readable --check output");
  app.add_option("--compact-interval", compact, "seconds between compactions (default 10)");
  app.add_option("--metrics-addr", metrics, "Prometheus metrics on 127.0.0.1:PORT, or 'off'");
  app.add_option("--ringbuf-size", ringbuf, "BPF ring buffer size, e.g. 8M (power of two)");
  app.add_option("--max-args", max_args, "argv capture bound in bytes (default 4096, max 16384)");
  app.add_option("--fsync", fsync, "always | interval | never");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error");
  app.add_option("--log-file", log_file, "log file when daemonized (default <data-dir>/twind.log)");
  app.add_option("--pid-file", pid_file, "write the daemon's pid here");
  app.add_flag("--no-twin", no_twin, "do not drive the twin VM");
  app.add_option("--retention-max-age", retention_age, "delete history older than this (e.g. 30d; 0 = keep)");
  app.add_option("--retention-max-bytes", retention_bytes, "keep the log under this size (e.g. 8G; 0 = no limit)");
  app.add_flag("--force-raw-tp", raw_tp, "use raw tracepoints even where tp_btf works");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  bool explicit_config = !config.empty();
  if (explicit_config) cfg->config_path = config;
  Status s = LoadTomlConfig(cfg->config_path, explicit_config, cfg);
  if (!s.ok()) {
    fprintf(stderr, "twind: %s\n", s.ToString().c_str());
    return 2;
  }
  if (!data_dir.empty()) cfg->data_dir = data_dir;
  if (app.count("--compact-interval")) {
    if (!(compact > 0 && compact <= kMaxCompactIntervalS)) {
      fprintf(stderr, "twind: --compact-interval must be more than 0 and at most %d seconds\n",
              static_cast<int>(kMaxCompactIntervalS));
      return 2;
    }
    cfg->compact_interval_ms = static_cast<uint64_t>(compact * 1000);
  }
  if (!metrics.empty()) cfg->metrics_addr = metrics;
  if (!ringbuf.empty()) {
    auto r = ParseSize(ringbuf);
    if (!r.ok()) {
      fprintf(stderr, "twind: --ringbuf-size: %s\n", r.status().message().c_str());
      return 2;
    }
    cfg->ringbuf_bytes = static_cast<uint32_t>(*r);
  }
  if (!retention_age.empty()) {
    auto r = ParseDuration(retention_age);
    if (!r.ok()) {
      fprintf(stderr, "twind: --retention-max-age: %s\n", r.status().message().c_str());
      return 2;
    }
    cfg->retention_max_age_ns = *r;
  }
  if (!retention_bytes.empty()) {
    auto r = retention_bytes == "0" ? Result<uint64_t>(uint64_t{0}) : ParseSize(retention_bytes);
    if (!r.ok()) {
      fprintf(stderr, "twind: --retention-max-bytes: %s\n", r.status().message().c_str());
      return 2;
    }
    cfg->retention_max_bytes = *r;
  }
  if (max_args) cfg->max_args = max_args;
  if (!fsync.empty()) cfg->fsync = fsync;
  if (!log_level.empty()) cfg->log_level = log_level;
  if (auto lv = ParseLogLevel(cfg->log_level); !lv.ok()) {
    const std::string where = log_level.empty() ? cfg->config_path + ": log_level" : "--log-level";
    fprintf(stderr, "twind: %s: %s\n", where.c_str(), lv.status().message().c_str());
    return 2;
  }
  if (!log_file.empty()) cfg->log_file = log_file;
  if (!pid_file.empty()) cfg->pid_file = pid_file;
  cfg->foreground = cfg->foreground || foreground;
  cfg->check = check;
  cfg->json = json;
  cfg->no_twin = cfg->no_twin || no_twin;
  cfg->force_raw_tp = cfg->force_raw_tp || raw_tp;
  return -1;
}

}  // namespace twin::capture
