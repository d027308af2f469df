#include "fleet/digest.h"

#include "eventlog/chain.h"
#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "format/codec.h"
#include "format/json_writer.h"

namespace twin::fleet {
namespace {

std::string ReadTrimmed(const char* path) {
  std::ifstream f(path);
  std::string s;
  if (f) std::getline(f, s);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  if (s.size() > 256) s.resize(256);
  return s;
}

void ItemsJson(JsonWriter& w, std::string_view key, const Items& items) {
  w.Key(key).BeginObject();
  for (const auto& [k, v] : items) w.Field(std::string_view(k), std::string_view(v));
  w.EndObject();
}

void ContentJson(const Digest& d, JsonWriter& w) {
  w.Field("hostname", d.hostname).Field("kernel", d.kernel).Field("os", d.os);
  w.FieldB("uncertain", d.uncertain);
  w.Key("labels").BeginObject();
  for (const auto& [k, v] : d.labels) w.Field(std::string_view(k), std::string_view(v));
  w.EndObject();
  ItemsJson(w, "units", d.units);
  ItemsJson(w, "listeners", d.listeners);
  ItemsJson(w, "packages", d.packages);
  ItemsJson(w, "config_files", d.config_files);
}

// A JSON string back to the raw bytes the writer was given.
Status Bytes(const nlohmann::json& j, const char* what, std::string* out) {
  if (!j.is_string()) return Status::InvalidArgument(std::string("digest: ") + what + " is not a string");
  if (!DecodeByteEscaped(j.get_ref<const std::string&>(), out)) {
    return Status::InvalidArgument(std::string("digest: ") + what + " is not valid escaped text");
  }
  return Status::Ok();
}

Status ItemsFrom(const nlohmann::json& j, const char* what, Items* out) {
  if (j.is_null()) return Status::Ok();
  if (!j.is_object()) return Status::InvalidArgument(std::string("digest: ") + what + " is not an object");
  for (const auto& [k, v] : j.items()) {
    std::string key, val;
    if (!DecodeByteEscaped(k, &key)) return Status::InvalidArgument(std::string("digest: a key of ") + what + " is not valid escaped text");
    if (Status s = Bytes(v, what, &val); !s.ok()) return s;
    (*out)[key] = val;
  }
  return Status::Ok();
}

}  // namespace

HostIdentity ReadLocalIdentity(const std::string& host_id_override) {
  HostIdentity id;
  id.machine_id = ReadTrimmed("/etc/machine-id");
  id.boot_id = ReadTrimmed("/proc/sys/kernel/random/boot_id");
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) == 0) id.hostname = buf;
  id.host_id = !host_id_override.empty() ? host_id_override
               : !id.machine_id.empty()  ? id.machine_id
                                         : id.hostname;
  return id;
}

std::string ListenerItem(const Listener& l) {
  std::string s = l.proto == kProtoTcp ? "tcp" : l.proto == kProtoUdp ? "udp" : "proto" + std::to_string(l.proto);
  const bool v6 = l.family == kFamilyInet6;
  if (v6) s += '6';
  s += ' ';
  s += v6 ? "[" + l.addr + "]" : l.addr;
  s += ':';
  s += std::to_string(l.port);
  return s;
}

Digest MakeDigest(const State& st, const HostIdentity& id, const Labels& labels) {
  Digest d;
  d.host_id = id.host_id;
  d.hostname = st.host.hostname;  // content: from the state only, so a local digest matches
  d.machine_id = st.host.machine_id.empty() ? id.machine_id : st.host.machine_id;
  d.boot_id = st.host.boot_id.empty() ? id.boot_id : st.host.boot_id;
  d.kernel = st.host.kernel;
  d.os = st.host.os;
  d.labels = labels;
  d.state_ts_ns = st.ts_ns;
  d.uncertain = st.uncertain;
  d.processes = st.processes.size();
  for (const auto& [name, u] : st.units) d.units[name] = u.file_sha256;
  for (const auto& [k, l] : st.listeners) d.listeners[ListenerItem(l)] = !l.unit.empty() ? l.unit : l.comm;
  // A package installed for two architectures is named with each.
  for (const auto& [k, p] : st.packages) {
    if (!d.packages.emplace(p.name, p.version).second) d.packages[p.key()] = p.version;
  }
  for (const auto& [path, f] : st.config_files) {
    d.config_files[path] = f.type == "symlink" ? "-> " + f.target : f.sha256;
  }
  d.sha256 = ContentHash(d);
  return d;
}

std::string ContentHash(const Digest& d) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.FieldU("v", kDigestVersion);
  ContentJson(d, w);
  w.EndObject();
  return Sha256Hex(out);
}

std::string DigestToJson(const Digest& d) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.FieldU("v", kDigestVersion).Field("host_id", d.host_id).Field("machine_id", d.machine_id)
      .Field("boot_id", d.boot_id).FieldU("state_ts_ns", d.state_ts_ns)
      .FieldU("published_ns", d.published_ns).FieldU("processes", d.processes)
      .Field("sha256", d.sha256);
  ContentJson(d, w);
  w.EndObject();
  return out;
}

Result<Digest> DigestFromJson(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("digest: not a JSON object");
  if (!j.contains("v") || !j["v"].is_number_unsigned() || j["v"].get<uint64_t>() != kDigestVersion) {
    return Status::InvalidArgument("digest: unknown version (this build reads version " +
                                   std::to_string(kDigestVersion) + ")");
  }
  Digest d;
  auto num = [&](const char* k, uint64_t* out) -> Status {
    if (!j.contains(k)) return Status::Ok();
    if (!j[k].is_number_unsigned()) return Status::InvalidArgument(std::string("digest: ") + k + " is not a number");
    *out = j[k].get<uint64_t>();
    return Status::Ok();
  };
  for (auto [k, out] : std::initializer_list<std::pair<const char*, std::string*>>{
           {"host_id", &d.host_id}, {"machine_id", &d.machine_id}, {"boot_id", &d.boot_id},
           {"hostname", &d.hostname}, {"kernel", &d.kernel}, {"os", &d.os}, {"sha256", &d.sha256}}) {
    if (!j.contains(k)) continue;
    if (Status s = Bytes(j[k], k, out); !s.ok()) return s;
  }
  if (Status s = num("state_ts_ns", &d.state_ts_ns); !s.ok()) return s;
  if (Status s = num("published_ns", &d.published_ns); !s.ok()) return s;
  if (Status s = num("processes", &d.processes); !s.ok()) return s;
  if (j.contains("uncertain")) {
    if (!j["uncertain"].is_boolean()) return Status::InvalidArgument("digest: uncertain is not a boolean");
    d.uncertain = j["uncertain"].get<bool>();
  }
  Items labels;
  if (j.contains("labels")) {
    if (Status s = ItemsFrom(j["labels"], "labels", &labels); !s.ok()) return s;
  }
  d.labels.assign(labels.begin(), labels.end());
  for (const char* c : kCategories) {
    if (!j.contains(c)) continue;
    if (Status s = ItemsFrom(j[c], c, const_cast<Items*>(&Category(d, c))); !s.ok()) return s;
  }
  if (ContentHash(d) != d.sha256) {
    return Status::Corruption("digest of host '" + d.host_id + "': sha256 does not match its content");
  }
  return d;
}

const Items& Category(const Digest& d, std::string_view name) {
  if (name == "units") return d.units;
  if (name == "listeners") return d.listeners;
  if (name == "config_files") return d.config_files;
  return d.packages;
}

}  // namespace twin::fleet
