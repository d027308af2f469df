#include "ui/app.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "eventlog/filter.h"
#include "eventlog/timefmt.h"
#include "format/json_writer.h"
#include "replay/args.h"
#include "replay/documents.h"
#include "replay/timeline.h"
#include "ui/assets.h"

namespace twin::ui {

std::string NewToken() {
  unsigned char raw[32];
  size_t got = 0;
  while (got < sizeof raw) {
    const ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    got += static_cast<size_t>(n);
  }
  static const char* kHex = "0123456789abcdef";
  std::string t;
  for (unsigned char c : raw) {
    t.push_back(kHex[c >> 4]);
    t.push_back(kHex[c & 15]);
  }
  return t;
}

bool TokenEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0 && !a.empty();
}

namespace {

HttpResponse Json(std::string body, int status = 200) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

HttpResponse JsonError(int status, std::string_view code, std::string_view message) {
  std::string body;
  JsonWriter w(body);
  w.BeginObject().Field("error", message).Field("code", code).EndObject();
  body.push_back('\n');
  return Json(std::move(body), status);
}

HttpResponse FromStatus(const Status& s) {
  switch (s.code()) {
    case Status::Code::kInvalidArgument: return JsonError(400, "invalid_argument", s.message());
    case Status::Code::kNotFound: return JsonError(404, "not_found", s.message());
    case Status::Code::kCorruption:
    case Status::Code::kTampered:
      return JsonError(500, "corruption", s.message() + " (run twin-replay verify)");
    default: return JsonError(500, "error", s.message());
  }
}

// A time parameter (the CLI's forms: RFC 3339, epoch s/ns, now, -5m); def when absent.
Status TimeParam(const HttpRequest& req, std::string_view name, uint64_t now, std::optional<uint64_t> def,
                 uint64_t* out) {
  const std::string* v = req.Query(name);
  if (!v || v->empty()) {
    if (!def) return Status::InvalidArgument(std::string(name) + ": required");
    *out = *def;
    return Status::Ok();
  }
  auto r = ParseTimeArg(name, *v, now);
  if (!r.ok()) return r.status();
  *out = r.value();
  return Status::Ok();
}

constexpr uint64_t kDefaultEventLimit = 1000;
constexpr uint64_t kMaxEventLimit = 100000;

}  // namespace

HttpResponse ApiResponse(const EventLog& log, const std::string& data_dir, const HttpRequest& req) {
  const std::string_view api = std::string_view(req.path).substr(5);  // after "/api/"
  const uint64_t now = WallNowNs();
  std::string out;
  Status s;
  if (api == "info") {
    s = InfoDocument(log, data_dir, &out);
  } else if (api == "verify") {
    const std::string* q = req.Query("quick");
    bool ok = false;
    VerifyDocument(log, !(q && *q == "0"), &out, &ok);
  } else if (api == "state") {
    uint64_t at = 0;
    s = TimeParam(req, "at", now, now, &at);
    if (s.ok()) s = StateDocument(log, at, &out);
  } else if (api == "diff") {
    uint64_t t1 = 0, t2 = 0;
    s = TimeParam(req, "t1", now, std::nullopt, &t1);
    if (s.ok()) s = TimeParam(req, "t2", now, now, &t2);
    if (s.ok()) s = CheckTimeOrder("t1", t1, "t2", t2);
    if (s.ok()) s = DiffDocument(log, t1, t2, &out);
  } else if (api == "events") {
    EventFilter f;
    s = TimeParam(req, "since", now, uint64_t{0}, &f.since_ns);
    if (s.ok()) s = TimeParam(req, "until", now, UINT64_MAX, &f.until_ns);
    if (s.ok()) s = CheckTimeOrder("since", f.since_ns, "until", f.until_ns);
    if (s.ok() && req.Query("kind") && !req.Query("kind")->empty()) s = ParseKinds({*req.Query("kind")}, &f.kinds);
    uint64_t limit = kDefaultEventLimit;
    if (s.ok() && req.Query("pid")) {
      auto r = ParsePidArg("pid", *req.Query("pid"));
      if (r.ok()) f.pid = r.value(); else s = r.status();
    }
    if (s.ok() && req.Query("port")) {
      auto r = ParsePortArg("port", *req.Query("port"));
      if (r.ok()) f.port = r.value(); else s = r.status();
    }
    if (s.ok() && req.Query("unit")) f.unit = *req.Query("unit");
    if (s.ok() && req.Query("limit")) {
      auto r = ParseCountArg("limit", *req.Query("limit"));
      if (r.ok()) limit = std::min(r.value(), kMaxEventLimit); else s = r.status();
    }
    bool more = false;
    if (s.ok()) s = EventsJsonLines(log, f, limit, &out, nullptr, &more);
    if (s.ok()) {
      HttpResponse r;
      r.content_type = "application/x-ndjson";
      r.headers.emplace_back("X-Twin-More", more ? "1" : "0");
      r.body = std::move(out);
      return r;
    }
  } else if (api == "tree") {
    uint64_t at = 0;
    std::optional<int32_t> pid;
    std::optional<ProcessId> id;
    s = TimeParam(req, "at", now, now, &at);
    if (s.ok() && req.Query("pid")) {
      auto r = ParsePidArg("pid", *req.Query("pid"));
      if (r.ok()) pid = r.value(); else s = r.status();
    }
    if (s.ok() && req.Query("id")) {
      auto r = ParseProcessId(*req.Query("id"));
      if (r.ok()) id = r.value(); else s = r.status();
    }
    if (s.ok()) s = TreeDocument(log, at, pid, id, req.Query("id") ? *req.Query("id") : "", &out);
  } else if (api == "lineage") {
    const std::string* idt = req.Query("id");
    if (!idt) {
      s = Status::InvalidArgument("id: required (a process id, as state --json gives it)");
    } else {
      auto id = ParseProcessId(*idt);
      s = id.ok() ? LineageDocument(log, id.value(), &out) : id.status();
    }
  } else if (api == "twin") {
    const std::string* d = req.Query("domain");
    s = TwinCatalogueDocument(log, d ? *d : "", &out);
  } else if (api == "timeline") {
    auto first = log.First();
    auto last = log.Last();
    if (!first.ok()) return FromStatus(first.status());
    if (!last.ok()) return FromStatus(last.status());
    const uint64_t lo = first.value() ? first.value()->key.ts_ns : now - 3600'000'000'000ull;
    const uint64_t hi = last.value() ? last.value()->key.ts_ns + 1 : now;
    TimelineOptions o;
    s = TimeParam(req, "since", now, lo, &o.since_ns);
    if (s.ok()) s = TimeParam(req, "until", now, hi, &o.until_ns);
    if (s.ok() && req.Query("buckets")) {
      auto r = ParseCountArg("buckets", *req.Query("buckets"));
      if (r.ok()) o.max_buckets = static_cast<uint32_t>(std::min<uint64_t>(r.value(), 2000)); else s = r.status();
    }
    if (s.ok()) s = TimelineDocument(log, o, &out);
  } else if (api == "range") {
    // The log's first and last record times (ns): the State page's slider spans them.
    auto first = log.First();
    if (!first.ok()) return FromStatus(first.status());
    auto last = log.Last();
    if (!last.ok()) return FromStatus(last.status());
    JsonWriter w(out);
    w.BeginObject().FieldU("first_ns", first.value() ? first.value()->key.ts_ns : 0)
        .FieldU("last_ns", last.value() ? last.value()->key.ts_ns : 0).EndObject();
    out.push_back('\n');
  } else if (api == "snapshot-before") {
    // The compactor's snapshot before T (strictly): the State page highlights what changed since.
    uint64_t at = 0;
    s = TimeParam(req, "at", now, now, &at);
    if (s.ok()) {
      auto k = log.SnapshotKeyAtOrBefore({at == 0 ? 0 : at - 1, UINT64_MAX});
      if (!k.ok()) return FromStatus(k.status());
      JsonWriter w(out);
      w.BeginObject().FieldU("at_ns", at).Key("snapshot_ts_ns");
      if (k.value()) w.Uint(k.value()->ts_ns); else w.Raw("null");
      w.EndObject();
      out.push_back('\n');
    }
  } else if (api == "seals") {
    auto seals = log.Seals();
    if (!seals.ok()) return FromStatus(seals.status());
    JsonWriter w(out);
    w.BeginArray();
    for (const Seal& x : seals.value()) {
      w.BeginObject().Field("key", KeyToString(x.key)).FieldU("ts_ns", x.key.ts_ns).FieldU("count", x.count)
          .Field("head", HashHex(x.head)).FieldU("sealed_ns", x.sealed_ns)
          .Field("sealed", FormatRfc3339Ns(x.sealed_ns)).FieldB("keyed", !x.mac.empty())
          .FieldU("mac_epoch", x.mac_epoch).EndObject();
    }
    w.EndArray();
    out.push_back('\n');
  } else {
    return JsonError(404, "not_found", "no such API: see docs/UI.md");
  }
  if (!s.ok()) return FromStatus(s);
  return Json(std::move(out));
}

UiApp::UiApp(std::string data_dir, std::string token, uint16_t port, std::vector<std::string> allowed_hosts)
    : data_dir_(std::move(data_dir)),
      token_(std::move(token)),
      // Cookies are not kept per port: two UIs on one host must not overwrite each other's.
      cookie_name_("twin_ui_" + std::to_string(port)),
      allowed_hosts_(std::move(allowed_hosts)) {}

Result<std::shared_ptr<const EventLog>> UiApp::Log() {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (!log_ || now - opened_ > std::chrono::seconds(2)) {
    auto log = EventLog::OpenReader(data_dir_);
    if (!log.ok()) {
      if (log_) return log_;  // keep answering from the last good open
      return log.status();
    }
    log_ = std::shared_ptr<const EventLog>(std::move(log).value());
    opened_ = now;
  }
  return log_;
}

namespace {

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or empty.
std::string_view CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const size_t semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name && part[name.size()] == '=') {
      return part.substr(name.size() + 1);
    }
  }
  return {};
}

// The request's target without its token parameter (the raw bytes, already checked printable).
std::string TargetWithoutToken(const HttpRequest& req) {
  const std::string& t = req.target;
  const size_t q = t.find('?');
  std::string path = t.substr(0, q);
  if (path.size() >= 2 && path[1] == '/') path = "/";  // "//host" would leave this origin
  std::string rest;
  if (q != std::string::npos) {
    std::string_view qs = std::string_view(t).substr(q + 1);
    while (!qs.empty()) {
      const size_t amp = qs.find('&');
      const std::string_view pair = qs.substr(0, amp);
      qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
      if (pair.empty() || pair == "token" || pair.substr(0, 6) == "token=") continue;
      rest += rest.empty() ? "?" : "&";
      rest += pair;
    }
  }
  return path + rest;
}

HttpResponse Unauthorized() {
  HttpResponse r;
  r.status = 401;
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"twin-replay ui\"");
  r.body = "401: this UI needs its token: open the URL twin-replay ui printed at start "
           "(or send Authorization: Bearer TOKEN)\n";
  return r;
}

}  // namespace

HttpResponse UiApp::Handle(const HttpRequest& req) {
  // The token, from the URL once (then a cookie scripts cannot read), a cookie or a header.
  bool authed = false;
  if (const std::string* q = req.Query("token")) {
    if (!TokenEquals(*q, token_)) return Unauthorized();
    HttpResponse r;
    r.status = 303;
    r.headers.emplace_back("Location", TargetWithoutToken(req));
    r.headers.emplace_back("Set-Cookie", cookie_name_ + "=" + token_ + "; Path=/; HttpOnly; SameSite=Strict");
    r.body = "see " + TargetWithoutToken(req) + "\n";
    return r;
  }
  if (const std::string* c = req.Header("cookie")) authed = TokenEquals(CookieValue(*c, cookie_name_), token_);
  if (!authed) {
    if (const std::string* a = req.Header("authorization")) {
      authed = a->size() > 7 && a->compare(0, 7, "Bearer ") == 0 &&
               TokenEquals(std::string_view(*a).substr(7), token_);
    }
  }
  if (!authed) return Unauthorized();
  // A page elsewhere whose name now resolves to 127.0.0.1 (DNS rebinding) sends its own Host.
  const std::string* host = req.Header("host");
  bool host_ok = false;
  for (const auto& h : allowed_hosts_) host_ok = host_ok || (host && *host == h);
  if (!host_ok) {
    HttpResponse r;
    r.status = 403;
    r.body = "403: this server answers only to its loopback address (Host header)\n";
    return r;
  }
  if (req.path.rfind("/api/", 0) == 0) {
    auto log = Log();
    if (!log.ok()) return FromStatus(log.status());
    if (Status p = log.value()->OpenProblem(); !p.ok() && req.path != "/api/verify") return FromStatus(p);
    return ApiResponse(*log.value(), data_dir_, req);
  }
  if (const Asset* a = req.path == "/report.html" ? nullptr : FindAsset(req.path)) {
    HttpResponse r;
    r.content_type = std::string(a->content_type);
    r.body = std::string(a->body);
    return r;
  }
  HttpResponse r;
  r.status = 404;
  r.body = "404: not found\n";
  return r;
}

}  // namespace twin::ui
