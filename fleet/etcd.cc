#include "fleet/etcd.h"

#include <curl/curl.h>

#include <mutex>

#include <nlohmann/json.hpp>

#include "format/codec.h"

namespace twin::fleet {
namespace {

using json = nlohmann::json;

constexpr const char* kCompacted = "required revision has been compacted";

// gRPC codes the gateway returns: these mean "this member cannot answer now", so the next one
// is asked; every other error is the cluster's answer.
bool RetryElsewhere(int grpc_code) {
  return grpc_code == 14 /*Unavailable*/ || grpc_code == 4 /*DeadlineExceeded*/ ||
         grpc_code == 10 /*Aborted*/ || grpc_code == 1 /*Canceled*/;
}

int64_t Int(const json& j, const char* k) {
  auto it = j.find(k);
  if (it == j.end()) return 0;
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (...) {
      return 0;
    }
  }
  if (it->is_number_integer()) return it->get<int64_t>();
  return 0;
}

std::string Str(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

KeyValue KvFrom(const json& j) {
  KeyValue kv;
  kv.key = Base64Decode(Str(j, "key"));
  kv.value = Base64Decode(Str(j, "value"));
  kv.create_revision = Int(j, "create_revision");
  kv.mod_revision = Int(j, "mod_revision");
  kv.version = Int(j, "version");
  kv.lease = Int(j, "lease");
  return kv;
}

size_t AppendBody(char* p, size_t size, size_t n, void* ud) {
  auto* s = static_cast<std::string*>(ud);
  if (s->size() > (64u << 20)) return 0;  // no answer of ours is this large
  s->append(p, size * n);
  return size * n;
}

std::once_flag g_curl_init;

}  // namespace

bool IsCompacted(const Status& s) { return s.message().find(kCompacted) != std::string::npos; }

struct EtcdClient::Impl {
  FleetOptions o;
  std::string password;
  CURL* curl = nullptr;
  size_t current = 0;                // the member asked first
  std::vector<std::string> tokens;   // auth token per member ("" = not authenticated)
  std::string last_endpoint;

  void Configure(CURL* c, long timeout_ms) const {
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");  // etcd is reached directly, never via $http_proxy
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, std::min<long>(timeout_ms > 0 ? timeout_ms : o.timeout_ms, o.timeout_ms));
    if (timeout_ms > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (!o.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, o.ca_file.c_str());
    if (!o.cert_file.empty()) curl_easy_setopt(c, CURLOPT_SSLCERT, o.cert_file.c_str());
    if (!o.key_file.empty()) curl_easy_setopt(c, CURLOPT_SSLKEY, o.key_file.c_str());
  }

  // One POST to one member. transport_error is set when no HTTP answer came.
  Status Post(CURL* c, const std::string& url, const std::string& body, const std::string& token,
              long* http, std::string* out, bool* transport_error) {
    out->clear();
    curl_easy_reset(c);
    Configure(c, o.timeout_ms);
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, AppendBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    struct curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/json");
    std::string auth;
    if (!token.empty()) {
      auth = "Authorization: " + token;
      h = curl_slist_append(h, auth.c_str());
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    const CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    *transport_error = rc != CURLE_OK;
    if (rc != CURLE_OK) return Status::Unavailable(url + ": " + curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, http);
    return Status::Ok();
  }

  Status Authenticate(size_t i) {
    std::string out;
    long http = 0;
    bool transport = false;
    json body = {{"name", o.user}, {"password", password}};
    Status s = Post(curl, o.endpoints[i] + "/v3/auth/authenticate", body.dump(), "", &http, &out, &transport);
    if (!s.ok()) return s;
    json j = json::parse(out, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Status::Unavailable(o.endpoints[i] + ": authenticate: not JSON");
    if (j.contains("error")) {
      return Status::InvalidArgument("etcd authentication as '" + o.user + "' failed: " + Str(j, "error"));
    }
    tokens[i] = Str(j, "token");
    return Status::Ok();
  }

  Result<json> Call(const std::string& path, const json& body) {
    const std::string text = body.dump();
    Status last = Status::Unavailable("no etcd endpoint configured");
    const size_t n = o.endpoints.size();
    for (size_t attempt = 0; attempt < n; ++attempt) {
      const size_t i = (current + attempt) % n;
      const std::string& ep = o.endpoints[i];
      for (int auth_try = 0; auth_try < 2; ++auth_try) {
        if (!o.user.empty() && tokens[i].empty()) {
          if (Status a = Authenticate(i); !a.ok()) {
            last = a;
            if (a.code() != Status::Code::kUnavailable) return a;
            break;
          }
        }
        std::string out;
        long http = 0;
        bool transport = false;
        Status s = Post(curl, ep + path, text, tokens[i], &http, &out, &transport);
        if (!s.ok()) {
          last = s;
          break;  // next member
        }
        json j = json::parse(out, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
          last = Status::Unavailable(ep + path + ": HTTP " + std::to_string(http) + ", not a JSON answer");
          break;
        }
        if (!j.contains("error") && http == 200) {
          current = i;
          last_endpoint = ep;
          return j;
        }
        const int code = static_cast<int>(Int(j, "code"));
        const std::string msg = j.contains("error") ? Str(j, "error") : "HTTP " + std::to_string(http);
        if (code == 16 && !o.user.empty() && auth_try == 0) {  // token expired: once more
          tokens[i].clear();
          continue;
        }
        if (RetryElsewhere(code) || (code == 0 && http >= 500)) {
          last = Status::Unavailable(ep + ": " + msg);
          break;
        }
        last_endpoint = ep;
        if (msg.find(kCompacted) != std::string::npos) return Status::NotFound("etcd: " + msg);
        if (code == 5) return Status::NotFound("etcd: " + msg);
        return Status::InvalidArgument("etcd " + ep + ": " + msg);
      }
    }
    return Status::Unavailable("no etcd member answered (" + last.message() + ")");
  }
};

EtcdClient::EtcdClient(const FleetOptions& o, std::string password) : impl_(new Impl) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl_->o = o;
  impl_->password = std::move(password);
  impl_->curl = curl_easy_init();
  impl_->tokens.resize(o.endpoints.size());
}

EtcdClient::~EtcdClient() {
  if (impl_->curl) curl_easy_cleanup(impl_->curl);
}

const std::string& EtcdClient::endpoint() const { return impl_->last_endpoint; }

Result<int64_t> EtcdClient::Put(const std::vector<PutOp>& ops) {
  json success = json::array();
  for (const PutOp& op : ops) {
    json put = {{"key", Base64Encode(op.key)}, {"value", Base64Encode(op.value)}};
    if (op.lease) put["lease"] = std::to_string(op.lease);
    success.push_back({{"request_put", put}});
  }
  auto r = impl_->Call("/v3/kv/txn", {{"success", success}});
  if (!r.ok()) return r.status();
  const json& j = *r;
  if (j.contains("header")) return Int(j["header"], "revision");
  return int64_t{0};
}

Result<RangeResult> EtcdClient::Range(const std::string& key, const std::string& range_end,
                                      int64_t revision, bool keys_only, int64_t limit) {
  json body = {{"key", Base64Encode(key)}};
  if (!range_end.empty()) body["range_end"] = Base64Encode(range_end);
  if (revision) body["revision"] = std::to_string(revision);
  if (keys_only) body["keys_only"] = true;
  if (limit) body["limit"] = std::to_string(limit);
  auto r = impl_->Call("/v3/kv/range", body);
  if (!r.ok()) return r.status();
  const json& j = *r;
  RangeResult out;
  if (j.contains("header")) out.revision = Int(j["header"], "revision");
  out.count = Int(j, "count");
  out.more = j.contains("more") && j["more"].is_boolean() && j["more"].get<bool>();
  if (j.contains("kvs") && j["kvs"].is_array()) {
    for (const json& kv : j["kvs"]) out.kvs.push_back(KvFrom(kv));
  }
  return out;
}

Result<int64_t> EtcdClient::DeleteRange(const std::string& key, const std::string& range_end) {
  json body = {{"key", Base64Encode(key)}};
  if (!range_end.empty()) body["range_end"] = Base64Encode(range_end);
  auto r = impl_->Call("/v3/kv/deleterange", body);
  if (!r.ok()) return r.status();
  return Int(*r, "deleted");
}

Result<int64_t> EtcdClient::LeaseGrant(int64_t ttl_s) {
  auto r = impl_->Call("/v3/lease/grant", {{"TTL", std::to_string(ttl_s)}});
  if (!r.ok()) return r.status();
  const int64_t id = Int(*r, "ID");
  if (!id) return Status::Unavailable("etcd lease grant: no lease id in the answer");
  return id;
}

Result<int64_t> EtcdClient::LeaseKeepAlive(int64_t id) {
  auto r = impl_->Call("/v3/lease/keepalive", {{"ID", std::to_string(id)}});
  if (!r.ok()) return r.status();
  const json& j = *r;
  if (!j.contains("result")) return Status::Unavailable("etcd lease keepalive: no result in the answer");
  return Int(j["result"], "TTL");
}

Status EtcdClient::LeaseRevoke(int64_t id) {
  auto r = impl_->Call("/v3/lease/revoke", {{"ID", std::to_string(id)}});
  return r.ok() ? Status::Ok() : r.status();
}

Status EtcdClient::Compact(int64_t revision) {
  auto r = impl_->Call("/v3/kv/compaction", {{"revision", std::to_string(revision)}, {"physical", true}});
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::string> EtcdClient::MemberStatus(const std::string& endpoint) {
  std::string out;
  long http = 0;
  bool transport = false;
  const size_t i = 0;
  std::string token = impl_->tokens.empty() ? "" : impl_->tokens[i];
  Status s = impl_->Post(impl_->curl, endpoint + "/v3/maintenance/status", "{}", token, &http, &out, &transport);
  if (!s.ok()) return s;
  return out;
}

namespace {

struct WatchState {
  std::string buf;
  const std::function<bool(const WatchEvent&, int64_t)>* fn;
  const std::atomic<bool>* stop;
  Status error;
  bool done = false;
  bool created = false;
};

size_t WatchWrite(char* p, size_t size, size_t n, void* ud) {
  auto* w = static_cast<WatchState*>(ud);
  w->buf.append(p, size * n);
  size_t nl;
  while ((nl = w->buf.find('\n')) != std::string::npos) {
    const std::string line = w->buf.substr(0, nl);
    w->buf.erase(0, nl + 1);
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    if (j.contains("error")) {
      w->error = Status::Unavailable("etcd watch: " + (j["error"].is_object() ? Str(j["error"], "message") : Str(j, "error")));
      return 0;
    }
    if (!j.contains("result") || !j["result"].is_object()) continue;
    const json& r = j["result"];
    if (r.contains("created")) w->created = true;
    if (r.contains("canceled") && r["canceled"].is_boolean() && r["canceled"].get<bool>()) {
      const int64_t cr = Int(r, "compact_revision");
      w->error = cr ? Status::NotFound(std::string("etcd watch: ") + kCompacted + " (oldest kept: " + std::to_string(cr) + ")")
                    : Status::Unavailable("etcd watch canceled: " + Str(r, "cancel_reason"));
      return 0;
    }
    const int64_t rev = r.contains("header") ? Int(r["header"], "revision") : 0;
    if (r.contains("events") && r["events"].is_array()) {
      for (const json& e : r["events"]) {
        WatchEvent we;
        we.deleted = Str(e, "type") == "DELETE";
        if (e.contains("kv")) we.kv = KvFrom(e["kv"]);
        if (!(*w->fn)(we, rev)) {
          w->done = true;
          return 0;
        }
      }
    }
  }
  return size * n;
}

int WatchProgress(void* ud, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* w = static_cast<WatchState*>(ud);
  return w->stop && w->stop->load() ? 1 : 0;
}

}  // namespace

Status EtcdClient::Watch(const std::string& key, const std::string& range_end, int64_t start_revision,
                         const std::function<bool(const WatchEvent&, int64_t)>& fn,
                         const std::atomic<bool>* stop) {
  json cr = {{"key", Base64Encode(key)}};
  if (!range_end.empty()) cr["range_end"] = Base64Encode(range_end);
  if (start_revision) cr["start_revision"] = std::to_string(start_revision);
  const std::string body = json{{"create_request", cr}}.dump();
  Status last = Status::Unavailable("no etcd endpoint configured");
  const size_t n = impl_->o.endpoints.size();
  for (size_t attempt = 0; attempt < n; ++attempt) {
    const size_t i = (impl_->current + attempt) % n;
    if (!impl_->o.user.empty() && impl_->tokens[i].empty()) {
      if (Status a = impl_->Authenticate(i); !a.ok()) {
        last = a;
        continue;
      }
    }
    CURL* c = curl_easy_init();
    impl_->Configure(c, 0);
    const std::string url = impl_->o.endpoints[i] + "/v3/watch";
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    WatchState ws;
    ws.fn = &fn;
    ws.stop = stop;
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WatchWrite);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &ws);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, WatchProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &ws);
    struct curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/json");
    std::string auth;
    if (!impl_->tokens[i].empty()) {
      auth = "Authorization: " + impl_->tokens[i];
      h = curl_slist_append(h, auth.c_str());
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    const CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (ws.done || (stop && stop->load())) return Status::Ok();
    if (!ws.error.ok()) return ws.error;
    last = Status::Unavailable(url + ": " + curl_easy_strerror(rc));
    if (ws.created) return last;  // the stream was up and broke: the caller decides to resume
  }
  return Status::Unavailable("no etcd member answered the watch (" + last.message() + ")");
}

}  // namespace twin::fleet
