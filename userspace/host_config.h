// The host's configuration as twind captures it: the dpkg database (installed packages, their
// conffiles' md5s), the files under the config roots (/etc, /usr/local/etc) and the accounts in
// /etc/passwd and /etc/group. Everything read here is host-controlled: paths and contents are
// bytes, never interpreted; password fields are never read into memory past the parse.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eventlog/deb_version.h"
#include "eventlog/state.h"
#include "userspace/host_config_options.h"

namespace twin::capture {

bool MatchesSecretPath(std::string_view path, const std::vector<std::string>& globs);
// "-----BEGIN ... PRIVATE KEY-----" anywhere in the bytes (RSA, EC, OPENSSH, ENCRYPTED, plain).
bool HasPrivateKeyBlock(std::string_view content);

// /var/lib/dpkg/status, parsed. Entries dpkg knows as not-installed are left out.
struct Conffile {
  std::string package;  // "name" (or "name:arch" for a Multi-Arch: same package)
  std::string md5;      // hex; "newconffile" while dpkg has not recorded it yet
};
struct DpkgDb {
  std::vector<Package> packages;
  std::map<std::string, Conffile> conffiles;  // absolute path -> owner and shipped md5
};
DpkgDb ParseDpkgStatus(std::string_view text);
using twin::CompareDebianVersions;  // eventlog/deb_version.h

std::vector<User> ParsePasswd(std::string_view text);  // the password field is skipped
std::vector<Group> ParseGroup(std::string_view text);

// One file found under a root: its metadata, and its bytes when they may be stored.
struct ScannedFile {
  ConfigFile meta;                     // since_ns unset
  std::optional<std::string> content;  // only when meta.content == "stored"
};

// A file in a unit directory, as found: its metadata, and its bytes when they may be stored.
struct ScannedUnitConfig {
  UnitConfig meta;                     // since_ns unset
  std::optional<std::string> content;  // only when meta.content == "stored"
};

// What a path under a unit directory is (dir, unit, role, by of UnitConfig), or nullopt when it
// is none of a unit file, a drop-in (<unit>.d/*.conf) or a link in <unit>.wants/.requires/
// .upholds. `target` is the symlink target ("" for a regular file): a top-level symlink to
// /dev/null masks its unit, any other links it (an alias or `systemctl link`).
std::optional<UnitConfig> ClassifyUnitPath(const std::string& dir, const std::string& path,
                                           bool symlink, const std::string& target);
// Names systemd accepts as units here: a known type suffix (service, socket, timer, path, mount,
// automount, swap, target, slice, scope, device) after a non-empty name.
bool HasUnitSuffix(std::string_view name);

// Walks the roots (no symlink is followed; directories, sockets, fifos and devices are left
// out), hashing what changed since the last call. Keeps per-file stat identities, so a rescan
// of an unchanged tree is one lstat per file. Not thread-safe; one per daemon.
class ConfigScanner {
 public:
  explicit ConfigScanner(HostConfigOptions o) : o_(std::move(o)) {}
  const HostConfigOptions& options() const { return o_; }

  // Re-reads the dpkg database when its status file changed (or force): packages, conffile md5s
  // and the md5sums of files under the roots.
  const DpkgDb& Dpkg(bool force = false);
  // Every file under the roots, by path. Contents are returned only for files whose stat
  // identity changed since the last call (or all, with all_contents).
  std::map<std::string, ScannedFile> ScanFiles(bool all_contents = false);
  // Every unit file, drop-in and link under the unit directories, by path. A file its package
  // shipped and that still has the package's md5 is content "package" (with the package's
  // version), never stored. Contents as for ScanFiles.
  std::map<std::string, ScannedUnitConfig> ScanUnitConfig(bool all_contents = false);
  // nullopt when the file cannot be read (then nothing is concluded about the accounts).
  std::optional<std::vector<User>> Users() const;
  std::optional<std::vector<Group>> Groups() const;
  // Whether the last Dpkg() read the status file (an unreadable one concludes nothing).
  bool dpkg_ok() const { return dpkg_ok_; }

  uint64_t files_hashed() const { return files_hashed_; }
  uint64_t dpkg_reads() const { return dpkg_reads_; }

 private:
  struct StatId {
    dev_t dev = 0;
    ino_t ino = 0;
    uint64_t size = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
    bool operator==(const StatId&) const = default;
  };
  struct Cached {
    StatId id;
    ConfigFile meta;
    std::string md5;  // of the content (hex), "" when not computed
  };
  void ScanOne(const std::string& path, bool all_contents, const std::map<std::string, Cached>& prev,
               std::map<std::string, ScannedFile>* out, std::map<std::string, Cached>* next);
  std::string PackageMd5(const std::string& path, std::string* package) const;

  HostConfigOptions o_;
  std::map<std::string, Cached> cache_;
  std::map<std::string, Cached> unit_cache_;
  std::map<std::string, std::string> versions_;  // package name (no arch) -> version
  DpkgDb dpkg_;
  StatId dpkg_id_{};
  bool dpkg_loaded_ = false;
  bool dpkg_ok_ = false;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> pkg_md5s_;
  std::map<std::string, std::pair<std::string, std::string>> md5sums_;  // path -> (pkg, md5)
  std::map<std::string, std::string> md5sums_version_;  // package key -> version read
  uint64_t files_hashed_ = 0, dpkg_reads_ = 0;
};

}  // namespace twin::capture
