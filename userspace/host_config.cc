#include "userspace/host_config.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "eventlog/deb_version.h"
#include "format/codec.h"
#include "eventlog/chain.h"
#include "userspace/proc_read.h"

namespace twin::capture {

bool MatchesSecretPath(std::string_view path, const std::vector<std::string>& globs) {
  const std::string p(path);
  for (const std::string& g : globs) {
    if (g.size() >= 3 && g.compare(g.size() - 3, 3, "/**") == 0) {
      const std::string dir = g.substr(0, g.size() - 2);  // keeps the '/'
      if (p.compare(0, dir.size(), dir) == 0) return true;
      continue;
    }
    if (fnmatch(g.c_str(), p.c_str(), FNM_PATHNAME) == 0) return true;
  }
  return false;
}

bool HasPrivateKeyBlock(std::string_view c) {
  static constexpr std::string_view kBegin = "-----BEGIN ";
  static constexpr std::string_view kTail = "PRIVATE KEY-----";
  for (size_t i = c.find(kBegin); i != std::string_view::npos; i = c.find(kBegin, i + 1)) {
    const size_t eol = c.find('\n', i);
    const std::string_view line = c.substr(i, eol == std::string_view::npos ? c.size() - i : eol - i);
    if (line.find(kTail) != std::string_view::npos) return true;
  }
  return false;
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find('\n', i);
    if (j == std::string_view::npos) j = text.size();
    out.push_back(text.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::vector<std::string_view> SplitColons(std::string_view line) {
  std::vector<std::string_view> f;
  size_t i = 0;
  for (;;) {
    size_t j = line.find(':', i);
    if (j == std::string_view::npos) {
      f.push_back(line.substr(i));
      return f;
    }
    f.push_back(line.substr(i, j - i));
    i = j + 1;
  }
}

bool ParseU32(std::string_view s, uint32_t* out) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

class Digests {
 public:
  Digests() : sha_(EVP_MD_CTX_new()), md5_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(sha_, EVP_sha256(), nullptr);
    EVP_DigestInit_ex(md5_, EVP_md5(), nullptr);
  }
  ~Digests() {
    EVP_MD_CTX_free(sha_);
    EVP_MD_CTX_free(md5_);
  }
  void Update(const char* p, size_t n) {
    EVP_DigestUpdate(sha_, p, n);
    EVP_DigestUpdate(md5_, p, n);
  }
  std::string Sha256() { return Final(sha_); }
  std::string Md5() { return Final(md5_); }

 private:
  static std::string Final(EVP_MD_CTX* c) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(c, md, &len);
    return HexEncode(std::string_view(reinterpret_cast<const char*>(md), len));
  }
  EVP_MD_CTX* sha_;
  EVP_MD_CTX* md5_;
};

int64_t Ns(const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

}  // namespace

DpkgDb ParseDpkgStatus(std::string_view text) {
  DpkgDb db;
  Package p;
  std::vector<std::pair<std::string, std::string>> conffiles;
  std::string field;
  auto flush = [&] {
    // "purge ok not-installed" and friends: dpkg remembers the name, nothing is installed.
    const bool installed = !p.name.empty() && p.status.find("not-installed") == std::string::npos;
    if (installed) {
      for (auto& [path, md5] : conffiles) db.conffiles[path] = Conffile{p.name, md5};
      db.packages.push_back(p);
    }
    p = Package{};
    conffiles.clear();
    field.clear();
  };
  for (std::string_view line : SplitLines(text)) {
    if (Trim(line).empty()) {
      flush();
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      if (field == "Conffiles") {
        // " /etc/x 0123abcd... [obsolete|remove-on-upgrade]"
        std::string_view l = Trim(line);
        const size_t sp = l.rfind(' ');
        if (sp == std::string_view::npos) continue;
        std::string_view path = l.substr(0, sp), md5 = l.substr(sp + 1);
        if (md5 == "obsolete" || md5 == "remove-on-upgrade") {
          const size_t sp2 = path.rfind(' ');
          if (sp2 == std::string_view::npos) continue;
          md5 = path.substr(sp2 + 1);
          path = path.substr(0, sp2);
        }
        conffiles.emplace_back(std::string(path), std::string(md5));
      }
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    field = std::string(line.substr(0, colon));
    const std::string value(Trim(line.substr(colon + 1)));
    if (field == "Package") p.name = value;
    else if (field == "Status") p.status = value;
    else if (field == "Architecture") p.arch = value;
    else if (field == "Version") p.version = value;
  }
  flush();
  return db;
}

std::vector<User> ParsePasswd(std::string_view text) {
  std::vector<User> out;
  for (std::string_view line : SplitLines(text)) {
    if (line.empty() || line.front() == '#' || line.front() == '+' || line.front() == '-') continue;
    auto f = SplitColons(line);
    if (f.size() != 7 || f[0].empty()) continue;
    User u;
    u.name = f[0];  // f[1], the password field, is never kept
    if (!ParseU32(f[2], &u.uid) || !ParseU32(f[3], &u.gid)) continue;
    u.gecos = f[4];
    u.home = f[5];
    u.shell = f[6];
    out.push_back(std::move(u));
  }
  return out;
}

std::vector<Group> ParseGroup(std::string_view text) {
  std::vector<Group> out;
  for (std::string_view line : SplitLines(text)) {
    if (line.empty() || line.front() == '#' || line.front() == '+' || line.front() == '-') continue;
    auto f = SplitColons(line);
    if (f.size() != 4 || f[0].empty()) continue;
    Group g;
    g.name = f[0];
    if (!ParseU32(f[2], &g.gid)) continue;
    std::string_view m = f[3];
    size_t i = 0;
    while (i < m.size()) {
      size_t j = m.find(',', i);
      if (j == std::string_view::npos) j = m.size();
      if (j > i) g.members.emplace_back(m.substr(i, j - i));
      i = j + 1;
    }
    out.push_back(std::move(g));
  }
  return out;
}

const DpkgDb& ConfigScanner::Dpkg(bool force) {
  const std::string status = o_.dpkg_dir + "/status";
  struct stat st {};
  StatId id;
  if (lstat(status.c_str(), &st) == 0) {
    id = {st.st_dev, st.st_ino, static_cast<uint64_t>(st.st_size), Ns(st.st_mtim), Ns(st.st_ctim)};
  }
  if (dpkg_loaded_ && !force && id == dpkg_id_) return dpkg_;
  ++dpkg_reads_;
  dpkg_loaded_ = true;
  dpkg_id_ = id;
  bool ok = false;
  std::string text = ReadFileLimited(status, 512u << 20, &ok);
  dpkg_ok_ = ok;
  dpkg_ = ok ? ParseDpkgStatus(text) : DpkgDb{};
  // md5sums of the files under the roots, re-read only for packages whose version changed.
  std::set<std::string> live;
  for (const Package& p : dpkg_.packages) {
    const std::string key = p.key();
    live.insert(key);
    auto v = md5sums_version_.find(key);
    if (v != md5sums_version_.end() && v->second == p.version) continue;
    md5sums_version_[key] = p.version;
    std::vector<std::pair<std::string, std::string>>& entries = pkg_md5s_[key];
    entries.clear();
    std::string body;
    bool read = false;
    for (const std::string& name : {p.name + ":" + p.arch, p.name}) {
      body = ReadFileLimited(o_.dpkg_dir + "/info/" + name + ".md5sums", 64u << 20, &read);
      if (read) break;
    }
    if (!read) continue;
    for (std::string_view line : SplitLines(body)) {
      // "<md5>  <path without the leading slash>"
      const size_t sp = line.find("  ");
      if (sp != 32) continue;
      const std::string path = "/" + std::string(line.substr(sp + 2));
      for (const auto* roots : {&o_.roots, &o_.unit_dirs}) {
        bool kept = false;
        for (const std::string& root : *roots) {
          if (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
              path[root.size()] == '/') {
            entries.emplace_back(path, std::string(line.substr(0, 32)));
            kept = true;
            break;
          }
        }
        if (kept) break;
      }
    }
  }
  for (auto it = pkg_md5s_.begin(); it != pkg_md5s_.end();) {
    if (live.count(it->first)) {
      ++it;
    } else {
      md5sums_version_.erase(it->first);
      it = pkg_md5s_.erase(it);
    }
  }
  versions_.clear();
  for (const Package& p : dpkg_.packages) versions_.emplace(p.name, p.version);
  md5sums_.clear();
  for (const auto& [key, entries] : pkg_md5s_) {
    const std::string name = key.substr(0, key.rfind(':'));
    for (const auto& [path, md5] : entries) md5sums_[path] = {name, md5};
  }
  return dpkg_;
}

std::string ConfigScanner::PackageMd5(const std::string& path, std::string* package) const {
  if (auto it = dpkg_.conffiles.find(path); it != dpkg_.conffiles.end()) {
    *package = it->second.package;
    return it->second.md5;
  }
  if (auto it = md5sums_.find(path); it != md5sums_.end()) {
    *package = it->second.first;
    return it->second.second;
  }
  // Merged /usr: a package lists /lib/systemd/system/x.service, the walk may name it /usr/lib/...
  // (or the other way round).
  std::string alias;
  if (path.rfind("/usr/lib/", 0) == 0) alias = path.substr(4);
  else if (path.rfind("/lib/", 0) == 0) alias = "/usr" + path;
  if (!alias.empty()) {
    if (auto it = md5sums_.find(alias); it != md5sums_.end()) {
      *package = it->second.first;
      return it->second.second;
    }
  }
  package->clear();
  return {};
}

void ConfigScanner::ScanOne(const std::string& path, bool all_contents,
                            const std::map<std::string, Cached>& prev,
                            std::map<std::string, ScannedFile>* out,
                            std::map<std::string, Cached>* next) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return;
  if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) return;
  const StatId id{st.st_dev, st.st_ino, static_cast<uint64_t>(st.st_size), Ns(st.st_mtim),
                  Ns(st.st_ctim)};
  ScannedFile f;
  Cached c;
  auto hit = prev.find(path);
  if (hit != prev.end() && hit->second.id == id && !all_contents) {
    c = hit->second;
  } else {
    c.id = id;
    ConfigFile& m = c.meta;
    m.path = path;
    m.mode = st.st_mode & 07777;
    m.uid = st.st_uid;
    m.gid = st.st_gid;
    m.size = static_cast<uint64_t>(st.st_size);
    if (S_ISLNK(st.st_mode)) {
      m.type = "symlink";
      std::string target(4096, '\0');
      const ssize_t n = readlink(path.c_str(), target.data(), target.size());
      if (n >= 0) {
        target.resize(static_cast<size_t>(n));
        m.target = target;
        m.sha256 = Sha256Hex(target);
      } else {
        m.content = "unreadable";
      }
    } else {
      m.type = "file";
      ++files_hashed_;
      const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
      struct stat fst {};
      if (fd < 0 || fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode)) {
        m.content = "unreadable";
      } else {
        Digests d;
        std::string bytes;
        uint64_t total = 0;
        bool err = false;
        char buf[65536];
        for (;;) {
          const ssize_t n = read(fd, buf, sizeof buf);
          if (n < 0) {
            if (errno == EINTR) continue;
            err = true;
            break;
          }
          if (n == 0) break;
          d.Update(buf, static_cast<size_t>(n));
          total += static_cast<uint64_t>(n);
          if (total <= o_.max_content_bytes) bytes.append(buf, static_cast<size_t>(n));
        }
        if (err) {
          m.content = "unreadable";
        } else {
          m.size = total;
          m.sha256 = d.Sha256();
          c.md5 = d.Md5();
          const bool secret = MatchesSecretPath(path, o_.secret_paths) ||
                              (total <= o_.max_content_bytes && HasPrivateKeyBlock(bytes));
          if (secret) m.content = "withheld";
          else if (total > o_.max_content_bytes) m.content = "too_large";
          else m.content = "stored";
          if (m.content == "stored") f.content = std::move(bytes);
        }
      }
      if (fd >= 0) close(fd);
    }
  }
  // The package side changes without the file: looked up at every scan.
  std::string pkg;
  const std::string md5 = PackageMd5(path, &pkg);
  c.meta.package = pkg;
  c.meta.differs.clear();
  if (!md5.empty() && md5 != "newconffile" && !c.md5.empty()) c.meta.differs = md5 == c.md5 ? "no" : "yes";
  f.meta = c.meta;
  (*next)[path] = std::move(c);
  (*out)[path] = std::move(f);
}

std::map<std::string, ScannedFile> ConfigScanner::ScanFiles(bool all_contents) {
  std::map<std::string, ScannedFile> out;
  std::map<std::string, Cached> next;
  namespace fs = std::filesystem;
  for (const std::string& root : o_.roots) {
    std::error_code ec;
    if (!fs::is_directory(fs::symlink_status(root, ec))) continue;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::directory_entry& e = *it;
      std::error_code tec;
      const fs::file_status s = e.symlink_status(tec);
      if (tec || fs::is_directory(s)) continue;
      ScanOne(e.path().string(), all_contents, cache_, &out, &next);
    }
  }
  cache_ = std::move(next);
  return out;
}

bool HasUnitSuffix(std::string_view name) {
  static constexpr std::string_view kSuffixes[] = {".service", ".socket", ".timer",  ".path",
                                                   ".mount",   ".automount", ".swap", ".target",
                                                   ".slice",   ".scope",  ".device"};
  for (std::string_view s : kSuffixes) {
    if (name.size() > s.size() && name.substr(name.size() - s.size()) == s) return true;
  }
  return false;
}

std::optional<UnitConfig> ClassifyUnitPath(const std::string& dir, const std::string& path,
                                           bool symlink, const std::string& target) {
  if (path.size() <= dir.size() + 1 || path.compare(0, dir.size(), dir) != 0 ||
      path[dir.size()] != '/') {
    return std::nullopt;
  }
  const std::string rel = path.substr(dir.size() + 1);
  UnitConfig u;
  u.dir = dir;
  u.path = path;
  u.type = symlink ? "symlink" : "file";
  const size_t slash = rel.find('/');
  if (slash == std::string::npos) {
    if (!HasUnitSuffix(rel)) return std::nullopt;
    u.unit = rel;
    u.role = !symlink ? "unit" : target == "/dev/null" ? "mask" : "link";
    return u;
  }
  if (rel.find('/', slash + 1) != std::string::npos) return std::nullopt;
  const std::string sub = rel.substr(0, slash), name = rel.substr(slash + 1);
  auto strip = [&](std::string_view suffix, std::string* base) {
    if (sub.size() <= suffix.size() || sub.compare(sub.size() - suffix.size(), suffix.size(), suffix) != 0)
      return false;
    *base = sub.substr(0, sub.size() - suffix.size());
    return true;
  };
  std::string base;
  if (strip(".d", &base)) {
    // <unit>.d, a prefix drop-in dir (foo-.service.d) or one for a whole type (service.d).
    static constexpr std::string_view kTypes[] = {"service", "socket", "timer", "path", "mount",
                                                  "automount", "swap", "target", "slice", "scope"};
    const bool type_wide = std::find(std::begin(kTypes), std::end(kTypes), base) != std::end(kTypes);
    if (!type_wide && !HasUnitSuffix(base)) return std::nullopt;
    if (name.size() <= 5 || name.compare(name.size() - 5, 5, ".conf") != 0) return std::nullopt;
    u.unit = base;
    u.role = "dropin";
    return u;
  }
  for (const char* kind : {"wants", "requires", "upholds"}) {
    if (!strip(std::string(".") + kind, &base)) continue;
    if (!HasUnitSuffix(base) || !HasUnitSuffix(name)) return std::nullopt;
    u.unit = name;
    u.role = kind;
    u.by = base;
    return u;
  }
  return std::nullopt;
}

std::map<std::string, ScannedUnitConfig> ConfigScanner::ScanUnitConfig(bool all_contents) {
  std::map<std::string, ScannedUnitConfig> out;
  std::map<std::string, Cached> next;
  std::set<std::string> seen_dirs;  // canonical
  namespace fs = std::filesystem;
  for (const std::string& dir : o_.unit_dirs) {
    std::error_code ec;
    if (!fs::is_directory(fs::status(dir, ec))) continue;
    const fs::path canonical = fs::canonical(dir, ec);
    if (ec || !seen_dirs.insert(canonical.string()).second) continue;
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it.depth() >= 1) it.disable_recursion_pending();  // <dir>/<sub>/<file> at most
      std::error_code tec;
      const fs::file_status s = it->symlink_status(tec);
      if (tec || fs::is_directory(s)) continue;
      const std::string path = it->path().string();
      std::string target;
      if (fs::is_symlink(s)) target = fs::read_symlink(it->path(), tec).string();
      auto cls = ClassifyUnitPath(dir, path, fs::is_symlink(s), target);
      if (!cls) continue;
      std::map<std::string, ScannedFile> one;
      ScanOne(path, all_contents, unit_cache_, &one, &next);
      auto f = one.find(path);
      if (f == one.end()) continue;  // gone, or neither a file nor a symlink
      const ConfigFile& m = f->second.meta;
      ScannedUnitConfig sc;
      UnitConfig& u = sc.meta;
      u = *cls;
      u.type = m.type;
      u.mode = m.mode;
      u.uid = m.uid;
      u.gid = m.gid;
      u.size = m.size;
      u.sha256 = m.sha256;
      u.content = m.content;
      u.target = m.target;
      u.package = m.package;
      u.differs = m.differs;
      if (!u.package.empty()) {
        // A Multi-Arch: same conffile owner is "name:arch".
        auto v = versions_.find(u.package.substr(0, u.package.find(':')));
        if (v != versions_.end()) u.version = v->second;
      }
      if (m.type == "file" && !u.package.empty() && u.differs == "no") {
        u.content = "package";  // as shipped: the package and its version say what it holds
      } else if (u.content == "stored") {
        sc.content = std::move(f->second.content);
      }
      out[path] = std::move(sc);
    }
  }
  unit_cache_ = std::move(next);
  return out;
}

std::optional<std::vector<User>> ConfigScanner::Users() const {
  bool ok = false;
  const std::string text = ReadFileLimited(o_.passwd_file, 64u << 20, &ok);
  if (!ok) return std::nullopt;
  return ParsePasswd(text);
}

std::optional<std::vector<Group>> ConfigScanner::Groups() const {
  bool ok = false;
  const std::string text = ReadFileLimited(o_.group_file, 64u << 20, &ok);
  if (!ok) return std::nullopt;
  return ParseGroup(text);
}

}  // namespace twin::capture
