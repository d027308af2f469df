// twind configuration: defaults < TOML file (/etc/safetytwin/twind.toml) < command-line flags.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include <spdlog/common.h>

#include "eventlog/log.h"
#include "eventlog/status.h"
#include "fleet/options.h"
#include "userspace/exe_hash_options.h"
#include "userspace/host_config_options.h"
#include "vm/twin_settings.h"

namespace twin::capture {

struct DaemonConfig {
  std::string data_dir = "/var/lib/safetytwin";
  std::string config_path = "/etc/safetytwin/twind.toml";
  bool foreground = false;
  bool check = false;
  bool json = false;                      // --check output
  uint64_t compact_interval_ms = 10000;
  std::string metrics_addr = "127.0.0.1:9464";  // "off" or "" disables
  std::string metrics_socket;                    // unix socket for metrics too; "" / "off" = none
  uint32_t ringbuf_bytes = 8u << 20;
  int64_t ringbuf_wakeup_bytes = -1;  // -1 = ringbuf / 16; 0 = wake the reader on every record
  uint32_t max_args = 4096;
  uint32_t queue_capacity = 65536;
  uint32_t batch_max = 4096;
  FsyncPolicy fsync = FsyncPolicy::kInterval;  // fsync = "always" | "interval" | "never"
  uint32_t fsync_interval_ms = 100;
  uint64_t reconcile_grace_ms = 2000;  // periodic reconcile ignores processes younger than this
  spdlog::level::level_enum log_level = spdlog::level::info;  // names: userspace/log_level.h
  std::string log_file;  // when daemonized; default <data_dir>/twind.log
  std::string pid_file;
  bool force_raw_tp = false;
  bool no_twin = false;
  uint64_t min_free_bytes = 256ull << 20;  // stop writing (and record a gap) below this
  // Retention, applied on snapshot boundaries; 0 = unlimited.
  uint64_t retention_max_age_ns = 30ull * 86400 * 1000000000;  // 30 days
  uint64_t retention_max_bytes = 8ull << 30;                    // 8 GiB
  // The fleet publisher ([fleet] table, --fleet-*): off unless endpoints are set.
  fleet::FleetOptions fleet;
  // Packages, config files, users and groups ([host_config] table, --no-host-config).
  HostConfigOptions host_config;
  // Executable hashing ([exe_hash] table, --no-exe-hash); dpkg_dir "" = host_config's.
  ExeHashOptions exe_hash;
  // The twin VM ([twin] table; SAFETYTWIN_TWIN_ACCEL and SAFETYTWIN_ANSIBLE_DIR override).
  // host_config there is set from [host_config] (enabled and twin) by the daemon.
  vm::TwinSettings twin;
  // The environment, read once by ParseCommandLine: run by systemd (NOTIFY_SOCKET or
  // INVOCATION_ID), stderr going to the journal (JOURNAL_STREAM), the unit's CacheDirectory=.
  bool under_systemd = false;
  bool journal_stream = false;
  std::string cache_directory;
  // Set by ParseCommandLine when --check is given and the config is invalid: --check reports it
  // as NOT READY (the daemon itself refuses such a config with exit code 2).
  std::string config_error;
};

// Parses "8M", "64k", "1048576".
// The fsync policy and the log level by name; the error names the key (`fsync`, `log_level`).
Result<FsyncPolicy> ParseFsyncKey(const std::string& value);
Result<spdlog::level::level_enum> ParseLogLevelKey(const std::string& value);
Result<uint64_t> ParseSize(const std::string& s);
// Loads the TOML file into cfg (missing file is fine unless required). Unknown keys, wrong types,
// negative or out-of-range numbers are errors naming the key. Keys in overridden (the fsync and
// log_level a flag sets) are not read.
Status LoadTomlConfig(const std::string& path, bool required, DaemonConfig* cfg,
                      const std::set<std::string>& overridden = {});
// Everything the daemon would refuse at start-up, checked once after file and flags are merged:
// the daemon and `twind --check` call this same function.
Status ValidateConfig(const DaemonConfig& cfg);
// The twin settings a daemon or `twin-replay vm` would refuse; keys named prefix + key.
Status ValidateTwinSettings(const vm::TwinSettings& o, const std::string& prefix);
// Parses argv. Returns exit code >= 0 when the process should exit now (--help, bad flags).
int ParseCommandLine(int argc, char** argv, DaemonConfig* cfg);

}  // namespace twin::capture
