#include "fleet/options.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "fleet/options_toml.h"
#include "format/terminal.h"

namespace twin::fleet {
namespace {

bool IsLabelKeyChar(unsigned char c) {
  return std::isalnum(c) || c == '.' || c == '_' || c == '-' || c == '/';
}

Status FileReadable(const char* what, const std::string& path) {
  if (path.empty()) return Status::Ok();
  if (path[0] != '/') {
    return Status::InvalidArgument(std::string(what) + ": '" + LogEscape(path) + "' is not an absolute path");
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::InvalidArgument(std::string(what) + ": " + LogEscape(path) + " is not a readable file");
  }
  return Status::Ok();
}

}  // namespace

Status CheckEndpoint(const std::string& url) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("endpoint '" + LogEscape(url) + "' " + why +
                                   " (expected http://HOST:PORT or https://HOST:PORT)");
  };
  if (url.size() > 255) return bad("is longer than 255 bytes");
  std::string rest;
  if (url.rfind("http://", 0) == 0) rest = url.substr(7);
  else if (url.rfind("https://", 0) == 0) rest = url.substr(8);
  else return bad("has no http:// or https:// scheme");
  if (rest.empty()) return bad("has no host");
  for (unsigned char c : rest) {
    if (c <= 0x20 || c >= 0x7f) return bad("holds a space, control or non-ASCII byte");
    if (c == '@') return bad("holds credentials (use fleet.user and fleet.password_file)");
    if (c == '/' || c == '?' || c == '#') return bad("has a path, query or fragment");
  }
  const size_t colon = rest[0] == '[' ? rest.find("]:") : rest.rfind(':');
  if (colon != std::string::npos) {
    const std::string port = rest.substr(colon + (rest[0] == '[' ? 2 : 1));
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
        std::stoul(port) == 0 || std::stoul(port) > 65535) {
      return bad("has a bad port");
    }
  }
  return Status::Ok();
}

Result<std::vector<std::string>> ParseEndpointList(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    if (Status s = CheckEndpoint(item); !s.ok()) return s;
    out.push_back(item);
  }
  if (out.empty()) return Status::InvalidArgument("no etcd endpoint in '" + LogEscape(list) + "'");
  return out;
}

Status CheckLabel(const std::string& key, const std::string& value) {
  if (key.empty() || key.size() > 63 ||
      !std::all_of(key.begin(), key.end(), [](char c) { return IsLabelKeyChar(static_cast<unsigned char>(c)); })) {
    return Status::InvalidArgument("label key '" + LogEscape(key) +
                                   "' must be 1..63 bytes of letters, digits, '.', '_', '-', '/'");
  }
  if (value.size() > 255) return Status::InvalidArgument("label " + key + ": value is longer than 255 bytes");
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("label " + key + ": value holds a control character");
    }
  }
  return Status::Ok();
}

Result<std::pair<std::string, std::string>> ParseLabel(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos) {
    return Status::InvalidArgument("label '" + LogEscape(text) + "' is not key=value");
  }
  std::pair<std::string, std::string> kv{text.substr(0, eq), text.substr(eq + 1)};
  if (Status s = CheckLabel(kv.first, kv.second); !s.ok()) return s;
  return kv;
}

void SetLabel(Labels& labels, std::string key, std::string value) {
  auto it = std::lower_bound(labels.begin(), labels.end(), key,
                             [](const auto& kv, const std::string& k) { return kv.first < k; });
  if (it != labels.end() && it->first == key) it->second = std::move(value);
  else labels.insert(it, {std::move(key), std::move(value)});
}

Status ValidateFleetOptions(const FleetOptions& o) {
  for (const std::string& e : o.endpoints) {
    if (Status s = CheckEndpoint(e); !s.ok()) return Status::InvalidArgument("fleet.endpoints: " + s.message());
  }
  const std::string& p = o.prefix;
  if (p.size() < 2 || p.size() > 128 || p.front() != '/' || p.back() != '/' ||
      !std::all_of(p.begin(), p.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return std::isalnum(u) || c == '/' || c == '_' || c == '-' || c == '.';
      })) {
    return Status::InvalidArgument("fleet.prefix: '" + LogEscape(p) +
                                   "' must start and end with '/' and hold only letters, digits, '/', '_', '-', '.'");
  }
  if (o.host_id.size() > kMaxHostIdBytes) {
    return Status::InvalidArgument("fleet.host_id: longer than " + std::to_string(kMaxHostIdBytes) + " bytes");
  }
  if (o.labels.size() > kMaxLabels) {
    return Status::InvalidArgument("fleet.labels: more than " + std::to_string(kMaxLabels) + " labels");
  }
  for (const auto& [k, v] : o.labels) {
    if (Status s = CheckLabel(k, v); !s.ok()) return Status::InvalidArgument("fleet.labels: " + s.message());
  }
  if (o.lease_ttl_s < 5 || o.lease_ttl_s > 3600) {
    return Status::InvalidArgument("fleet.lease_ttl: " + std::to_string(o.lease_ttl_s) + " is outside 5..3600 seconds");
  }
  if (o.timeout_ms < 100 || o.timeout_ms > 120000) {
    return Status::InvalidArgument("fleet.timeout_ms: " + std::to_string(o.timeout_ms) + " is outside 100..120000");
  }
  if (Status s = FileReadable("fleet.ca_file", o.ca_file); !s.ok()) return s;
  if (Status s = FileReadable("fleet.cert_file", o.cert_file); !s.ok()) return s;
  if (Status s = FileReadable("fleet.key_file", o.key_file); !s.ok()) return s;
  if (o.cert_file.empty() != o.key_file.empty()) {
    return Status::InvalidArgument("fleet.cert_file and fleet.key_file go together (client certificate and its key)");
  }
  if (!o.user.empty() && o.password_file.empty()) {
    return Status::InvalidArgument("fleet.user is set but fleet.password_file is not");
  }
  if (Status s = FileReadable("fleet.password_file", o.password_file); !s.ok()) return s;
  return Status::Ok();
}

Result<std::string> ReadPassword(const FleetOptions& o) {
  if (o.user.empty()) return std::string();
  std::ifstream f(o.password_file, std::ios::binary);
  if (!f) return Status::IOError("fleet.password_file: cannot read " + LogEscape(o.password_file));
  std::string pw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
  if (pw.empty()) return Status::InvalidArgument("fleet.password_file: " + LogEscape(o.password_file) + " is empty");
  return pw;
}

Status FleetOptionsFromToml(const toml::table& t, const std::string& path, FleetOptions* o) {
  static const std::set<std::string> kKeys = {"endpoints", "prefix",  "host_id",   "labels",
                                              "lease_ttl", "timeout_ms", "ca_file", "cert_file",
                                              "key_file",  "user",    "password_file"};
  auto err = [&](const std::string& key, const std::string& what) {
    return Status::InvalidArgument("config " + path + ": fleet." + key + ": " + what);
  };
  for (const auto& [k, v] : t) {
    if (!kKeys.count(std::string(k.str()))) {
      return Status::InvalidArgument("config " + path + ": unknown key 'fleet." + LogEscape(std::string(k.str())) +
                                     "' (see docs/FLEET.md for the keys)");
    }
  }
  if (auto n = t["endpoints"]; n) {
    const toml::array* a = n.as_array();
    if (!a) return err("endpoints", "must be an array of URLs, e.g. [\"http://127.0.0.1:2379\"]");
    o->endpoints.clear();
    for (const auto& e : *a) {
      auto s = e.value<std::string>();
      if (!s || !e.is_string()) return err("endpoints", "must be an array of strings");
      if (Status c = CheckEndpoint(*s); !c.ok()) return err("endpoints", c.message());
      o->endpoints.push_back(*s);
    }
  }
  auto str = [&](const char* key, std::string* out) -> Status {
    auto n = t[key];
    if (!n) return Status::Ok();
    if (!n.is_string()) return err(key, "must be a string");
    *out = *n.value<std::string>();
    return Status::Ok();
  };
  for (auto [key, out] : std::initializer_list<std::pair<const char*, std::string*>>{
           {"prefix", &o->prefix}, {"host_id", &o->host_id}, {"ca_file", &o->ca_file},
           {"cert_file", &o->cert_file}, {"key_file", &o->key_file}, {"user", &o->user},
           {"password_file", &o->password_file}}) {
    if (Status s = str(key, out); !s.ok()) return s;
  }
  auto num = [&](const char* key, int64_t lo, int64_t hi, uint32_t* out) -> Status {
    auto n = t[key];
    if (!n) return Status::Ok();
    if (!n.is_integer()) return err(key, "must be an integer");
    const int64_t v = *n.value<int64_t>();
    if (v < lo || v > hi) return err(key, std::to_string(v) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
    *out = static_cast<uint32_t>(v);
    return Status::Ok();
  };
  if (Status s = num("lease_ttl", 5, 3600, &o->lease_ttl_s); !s.ok()) return s;
  if (Status s = num("timeout_ms", 100, 120000, &o->timeout_ms); !s.ok()) return s;
  if (auto n = t["labels"]; n) {
    const toml::table* lt = n.as_table();
    if (!lt) return err("labels", "must be a table, e.g. labels = { role = \"web\" }");
    for (const auto& [k, v] : *lt) {
      auto s = v.value<std::string>();
      if (!s || !v.is_string()) return err("labels", std::string(k.str()) + " must be a string");
      if (Status c = CheckLabel(std::string(k.str()), *s); !c.ok()) return err("labels", c.message());
      SetLabel(o->labels, std::string(k.str()), *s);
    }
  }
  return Status::Ok();
}

Status LoadFleetConfigFile(const std::string& path, bool required, FleetOptions* o) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (required) return Status::NotFound("config file " + LogEscape(path) + " does not exist");
    return Status::Ok();
  }
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument("config " + LogEscape(path) + ": " + std::string(e.description()) +
                                   " (line " + std::to_string(e.source().begin.line) + ")");
  }
  auto n = t["fleet"];
  if (!n) return Status::Ok();
  const toml::table* ft = n.as_table();
  if (!ft) return Status::InvalidArgument("config " + LogEscape(path) + ": fleet must be a table ([fleet])");
  return FleetOptionsFromToml(*ft, LogEscape(path), o);
}

}  // namespace twin::fleet
