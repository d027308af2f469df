#include "eventlog/open_guard.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>

namespace twin {

namespace {

bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// RocksDB's own files (db/filename.cc) and ours. LOCK and LOG are left out: a reader may see a
// LOCK of an empty dir twind is about to fill, and neither holds history.
bool Numbered(const std::string& name, const char* suffix) {
  if (!EndsWith(name, suffix)) return false;
  const std::string stem = name.substr(0, name.size() - std::strlen(suffix));
  return !stem.empty() && stem.find_first_not_of("0123456789") == std::string::npos;
}

// Named as RocksDB names them (a number and an extension; MANIFEST-n, OPTIONS-n): twind's own
// log file (twind.log) in the dir is not a WAL.
bool IsLogTrace(const std::string& name) {
  return name == "IDENTITY" || name == kAnchorFileName || name.starts_with("MANIFEST-") ||
         name.starts_with("OPTIONS-") || Numbered(name, ".sst") || Numbered(name, ".ldb") ||
         Numbered(name, ".blob") || Numbered(name, ".log");
}

std::string Summarise(const std::vector<std::string>& traces) {
  size_t tables = 0, wals = 0, blobs = 0;
  std::vector<std::string> named;
  for (const auto& t : traces) {
    if (EndsWith(t, ".sst") || EndsWith(t, ".ldb")) ++tables;
    else if (EndsWith(t, ".log")) ++wals;
    else if (EndsWith(t, ".blob")) ++blobs;
    else named.push_back(t);
  }
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
  if (tables) add(std::to_string(tables) + " table file" + (tables > 1 ? "s" : ""));
  if (wals) add(std::to_string(wals) + " WAL file" + (wals > 1 ? "s" : ""));
  if (blobs) add(std::to_string(blobs) + " blob file" + (blobs > 1 ? "s" : ""));
  std::sort(named.begin(), named.end());
  for (size_t i = 0; i < named.size() && i < 4; ++i) add(named[i]);
  if (named.size() > 4) add("...");
  return out;
}

std::string Advice(const std::string& dir) {
  return "nothing in it was written or deleted; salvage it with 'twin-replay recover "
         "--data-dir " + dir + " --out NEWDIR' (or restore the file from a backup) and point "
         "--data-dir at the result";
}

}  // namespace

std::string CorruptionAdvice(const std::string& dir) {
  return "run 'twin-replay verify --data-dir " + dir + "' for the full report, and 'twin-replay "
         "recover --data-dir " + dir + " --out NEWDIR' to salvage what is readable into a new dir";
}

Status ExplainRocksFailure(const std::string& dir, const std::string& what, bool corruption,
                           const std::string& rocks_message_in) {
  // RocksDB nests statuses ("Corruption: Corruption: IO error: ..."): say each kind once.
  std::string rocks_message = rocks_message_in;
  for (const char* twice : {"Corruption: Corruption: ", "IO error: IO error: "}) {
    for (size_t p; (p = rocks_message.find(twice)) != std::string::npos;) {
      rocks_message.erase(p, std::strlen(twice) / 2);
    }
  }
  // "...: <dir>/000016.ldb: No such file or directory": RocksDB looked for the table under its
  // legacy name after not finding 000016.sst.
  static const std::regex kTable(R"(([0-9]{6,})\.(ldb|sst)\b[^;]*No such file or directory)");
  std::smatch m;
  if (std::regex_search(rocks_message, m, kTable)) {
    const std::string sst = m[1].str() + ".sst";
    return Status::Corruption(what + ": table file " + dir + "/" + sst +
                              ", which the MANIFEST lists, is missing (" + rocks_message +
                              "); nothing in the dir was written or deleted; " +
                              CorruptionAdvice(dir));
  }
  std::string msg = what + ": " + rocks_message;
  if (!corruption) return Status::IOError(msg);
  return Status::Corruption(msg + "; " + CorruptionAdvice(dir));
}

Result<DirInspection> InspectDataDir(const std::string& dir) {
  DirInspection in;
  DIR* d = opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return in;
    if (errno == ENOTDIR) return Status::InvalidArgument("data dir " + dir + " is not a directory");
    return Status::IOError("cannot read data dir " + dir + ": " + std::strerror(errno) +
                           (errno == EACCES ? " (run as root or fix its permissions)" : ""));
  }
  in.exists = true;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "CURRENT") in.has_current = true;
    else if (IsLogTrace(name)) in.traces.push_back(name);
  }
  closedir(d);
  return in;
}

Status CheckLogDir(const std::string& dir, bool allow_fresh, DirInspection* out) {
  auto r = InspectDataDir(dir);
  if (!r.ok()) return r.status();
  const DirInspection& in = r.value();
  if (out) *out = in;
  if (!in.exists) {
    if (allow_fresh) return Status::Ok();
    return Status::NotFound("data dir " + dir +
                            " does not exist; pass --data-dir DIR pointing at a safetytwin log");
  }
  if (in.fresh()) {
    if (allow_fresh) return Status::Ok();
    return Status::NotFound("no safetytwin event log in " + dir +
                            " (is twind writing there? pass --data-dir DIR)");
  }
  if (!in.has_current) {
    // RocksDB writes CURRENT last when it creates a log: look again once before refusing.
    usleep(50 * 1000);
    auto again = InspectDataDir(dir);
    if (again.ok() && again.value().has_current) return CheckLogDir(dir, allow_fresh, out);
    return Status::Corruption("data dir " + dir + " holds an event log (" + Summarise(in.traces) +
                              ") but its CURRENT file is missing, so the log cannot be opened; " +
                              Advice(dir));
  }
  // A running writer replaces the MANIFEST (new file, then CURRENT, then the old one goes):
  // read CURRENT again when the file it named has vanished meanwhile.
  std::string manifest;
  for (int attempt = 0;; ++attempt) {
    std::ifstream cur(dir + "/CURRENT");
    std::string again;
    if (!std::getline(cur, manifest)) manifest.clear();
    if (!manifest.starts_with("MANIFEST-") || manifest.find('/') != std::string::npos) {
      if (access((dir + "/CURRENT").c_str(), F_OK) != 0 && attempt < 4) continue;
      return Status::Corruption("CURRENT in " + dir + " does not name a MANIFEST file; " +
                                Advice(dir));
    }
    if (access((dir + "/" + manifest).c_str(), F_OK) == 0) break;
    std::ifstream cur2(dir + "/CURRENT");
    if (std::getline(cur2, again) && again != manifest && attempt < 4) continue;
    return Status::Corruption("CURRENT in " + dir + " names " + manifest +
                              ", which is missing, so the log cannot be opened; " + Advice(dir));
  }
  return Status::Ok();
}

}  // namespace twin
