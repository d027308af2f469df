#include "forensics/audit.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "eventlog/timefmt.h"
#include "format/json_writer.h"

namespace twin {

std::string AuditWho() {
  const uid_t uid = getuid();
  std::string name = "?";
  if (const passwd* pw = getpwuid(uid)) name = pw->pw_name;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::string who = "uid=" + std::to_string(uid) + "(" + name + ") pid=" + std::to_string(getpid()) +
                    " host=" + host;
  if (const char* sudo = getenv("SUDO_USER")) who += std::string(" sudo_user=") + sudo;
  return who;
}

Event MakeAuditEvent(const std::string& action, AuditAttrs attrs, uint64_t now_ns) {
  Event e;
  e.kind = EventKind::kAudit;
  e.ts_ns = now_ns;
  e.reason = "twin-replay " + action;
  e.attrs.emplace_back("action", action);
  e.attrs.emplace_back("who", AuditWho());
  e.attrs.emplace_back("when", FormatRfc3339Ns(now_ns));
  for (auto& a : attrs) e.attrs.push_back(std::move(a));
  return e;
}

std::string AuditSpoolPath(const std::string& data_dir) { return data_dir + "/audit-spool.jsonl"; }

namespace {

Status Spool(const std::string& data_dir, const Event& audit) {
  // Lossless line: the JSON writer escapes every byte; DecodeByteEscaped reverses it.
  std::string line;
  JsonWriter w(line);
  w.BeginObject().FieldU("ts_ns", audit.ts_ns).Field("reason", audit.reason).Key("attrs").BeginArray();
  for (const auto& [k, v] : audit.attrs) w.BeginArray().String(k).String(v).EndArray();
  w.EndArray().EndObject();
  line += '\n';
  const std::string path = AuditSpoolPath(data_dir);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  flock(fd, LOCK_EX);
  ssize_t n = write(fd, line.data(), line.size());
  const int err = errno;
  fsync(fd);
  flock(fd, LOCK_UN);
  close(fd);
  if (n != static_cast<ssize_t>(line.size())) {
    return Status::IOError("cannot append to " + path + ": " + std::strerror(err));
  }
  return Status::Ok();
}

}  // namespace

Result<AuditOutcome> RecordAudit(const std::string& data_dir, const Event& audit) {
  LogOptions o;
  o.create_if_missing = false;
  o.fsync = FsyncPolicy::kAlways;
  auto log = EventLog::OpenWriter(data_dir, o);
  if (log.ok()) {
    auto r = log.value()->Append(audit);
    if (!r.ok()) return r.status();
    return AuditOutcome::kLogged;
  }
  if (log.status().code() != Status::Code::kBusy) return log.status();
  Status s = Spool(data_dir, audit);
  if (!s.ok()) return s;
  return AuditOutcome::kSpooled;
}

Result<uint64_t> IngestAuditSpool(EventLog& log, const std::string& data_dir) {
  const std::string path = AuditSpoolPath(data_dir);
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return uint64_t{0};
    return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  }
  flock(fd, LOCK_EX);
  std::string data;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(n));
  std::vector<Event> events;
  size_t start = 0;
  while (start < data.size()) {
    size_t nl = data.find('\n', start);
    if (nl == std::string::npos) nl = data.size();
    std::string_view line(data.data() + start, nl - start);
    start = nl + 1;
    if (line.empty()) continue;
    Event e;
    e.kind = EventKind::kAudit;
    auto j = nlohmann::json::parse(line, nullptr, false);
    bool ok = j.is_object();
    if (ok) {
      try {
        e.ts_ns = j.at("ts_ns").get<uint64_t>();
        DecodeByteEscaped(j.at("reason").get<std::string>(), &e.reason);
        for (const auto& kv : j.at("attrs")) {
          std::string k, v;
          DecodeByteEscaped(kv.at(0).get<std::string>(), &k);
          DecodeByteEscaped(kv.at(1).get<std::string>(), &v);
          e.attrs.emplace_back(std::move(k), std::move(v));
        }
      } catch (const std::exception&) {
        ok = false;
      }
    }
    if (!ok) {
      e = Event();
      e.kind = EventKind::kAudit;
      e.ts_ns = WallNowNs();
      e.reason = "malformed audit spool line";
      e.attrs = {{"line", std::string(line.substr(0, 4096))}};
    }
    e.attrs.emplace_back("spooled", "1");
    events.push_back(std::move(e));
  }
  if (!events.empty()) {
    auto r = log.Append(events);
    if (!r.ok()) {
      flock(fd, LOCK_UN);
      close(fd);
      return r.status();
    }
    Status ss = log.Sync();
    if (!ss.ok()) {
      flock(fd, LOCK_UN);
      close(fd);
      return ss;
    }
  }
  if (ftruncate(fd, 0) != 0) {
    const int err = errno;
    flock(fd, LOCK_UN);
    close(fd);
    return Status::IOError("cannot truncate " + path + ": " + std::strerror(err));
  }
  flock(fd, LOCK_UN);
  close(fd);
  return static_cast<uint64_t>(events.size());
}

}  // namespace twin
