#include "ui/report.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "eventlog/timefmt.h"
#include "forensics/digest.h"
#include "format/json_writer.h"
#include "ui/app.h"
#include "ui/assets.h"

namespace twin::ui {
namespace {

std::string CspHash(std::string_view body) {
  const Hash h = Sha256::Of(body);
  unsigned char b64[64];
  const int n = EVP_EncodeBlock(b64, h.data(), static_cast<int>(h.size()));
  return "'sha256-" + std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(n)) + "'";
}

HttpRequest Req(std::string path, std::vector<std::pair<std::string, std::string>> query) {
  HttpRequest r;
  r.method = "GET";
  r.path = std::move(path);
  r.query = std::move(query);
  return r;
}

// Redacts every "argv" array in a document (and in the JSON Lines strings of events documents).
void RedactArgv(nlohmann::json& j, const Redactor& r, bool in_lines);

void RedactLines(nlohmann::json& s, const Redactor& r) {
  const std::string text = s.get<std::string>();
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    auto line = nlohmann::json::parse(text.substr(pos, nl - pos), nullptr, false);
    pos = nl + 1;
    if (line.is_discarded()) continue;  // our own output: never happens
    RedactArgv(line, r, false);
    out += line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += '\n';
  }
  s = out;
}

void RedactArgv(nlohmann::json& j, const Redactor& r, bool in_lines) {
  if (j.is_object()) {
    for (auto& [k, v] : j.items()) {
      if (k == "argv" && v.is_array()) {
        std::vector<std::string> argv;
        for (const auto& a : v) {
          std::string raw;
          if (!a.is_string() || !DecodeByteEscaped(a.get<std::string>(), &raw)) raw = a.is_string() ? a.get<std::string>() : "";
          argv.push_back(std::move(raw));
        }
        if (r.ApplyArgv(argv) > 0) {
          nlohmann::json out = nlohmann::json::array();
          for (const auto& a : argv) {
            std::string lit;
            AppendJsonString(lit, a);  // back to the log's lossless escaping
            out.push_back(nlohmann::json::parse(lit));
          }
          v = std::move(out);
        }
      } else if (k == "lines" && v.is_string() && in_lines) {
        RedactLines(v, r);
      } else {
        RedactArgv(v, r, in_lines);
      }
    }
  } else if (j.is_array()) {
    for (auto& x : j) RedactArgv(x, r, in_lines);
  }
}

}  // namespace

std::string EscapeJsonForScript(std::string_view json) {
  std::string out;
  out.reserve(json.size() + json.size() / 16);
  for (char c : json) {
    switch (c) {
      case '<': out += "\\u003c"; break;
      case '>': out += "\\u003e"; break;
      case '&': out += "\\u0026"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

Result<std::string> BuildReport(const EventLog& log, const std::string& data_dir, uint64_t since,
                                uint64_t until, const ReportLimits& limits) {
  const std::string s_ns = std::to_string(since), u_ns = std::to_string(until);
  // Every document comes from the API code the UI uses, so the pages read them the same way.
  std::string data;
  JsonWriter w(data);
  w.BeginObject().Field("mode", "report").FieldU("since_ns", since).FieldU("until_ns", until)
      .Field("made", FormatRfc3339Ns(WallNowNs())).Key("docs").BeginObject();
  auto add = [&](const std::string& key, const HttpRequest& req) {
    HttpResponse r = ApiResponse(log, data_dir, req);
    w.Key(key);
    if (r.status == 200 && r.content_type == "application/x-ndjson") {
      bool more = false;
      for (const auto& [k, v] : r.headers) more = more || (k == "X-Twin-More" && v == "1");
      w.BeginObject().FieldB("more", more).Key("lines").String(r.body).EndObject();
    } else if (r.status == 200) {
      std::string_view b = r.body;
      while (!b.empty() && b.back() == '\n') b.remove_suffix(1);
      w.Raw(b);
    } else {
      std::string_view b = r.body;
      while (!b.empty() && b.back() == '\n') b.remove_suffix(1);
      w.BeginObject().FieldU("status", static_cast<uint64_t>(r.status)).Key("body").Raw(b).EndObject();
    }
  };
  add("info", Req("/api/info", {}));
  add("verify", Req("/api/verify", {{"quick", "1"}}));
  add("timeline", Req("/api/timeline", {{"since", s_ns}, {"until", u_ns}}));
  add("events", Req("/api/events", {{"since", s_ns}, {"until", u_ns}, {"limit", std::to_string(limits.max_events)}}));
  add("audit", Req("/api/events", {{"kind", "audit"}, {"limit", "200"}}));
  add("twin", Req("/api/twin", {}));
  add("seals", Req("/api/seals", {}));
  add("diff", Req("/api/diff", {{"t1", s_ns}, {"t2", u_ns}}));
  // The slider's stops: since, snapshot times in between (evenly thinned), until.
  std::vector<uint64_t> stops = {since};
  auto keys = log.SnapshotKeys();
  if (!keys.ok()) return keys.status();
  std::vector<uint64_t> inside;
  for (const EventKey& k : keys.value()) {
    if (k.ts_ns > since && k.ts_ns < until) inside.push_back(k.ts_ns);
  }
  const size_t want = limits.max_states;
  for (size_t i = 0; i < want && !inside.empty(); ++i) {
    const uint64_t t = inside[i * inside.size() / std::min(want, inside.size())];
    if (stops.back() != t) stops.push_back(t);
    if (i + 1 >= inside.size()) break;
  }
  if (stops.back() != until) stops.push_back(until);
  for (uint64_t t : stops) {
    add("state@" + std::to_string(t), Req("/api/state", {{"at", std::to_string(t)}}));
    add("tree@" + std::to_string(t), Req("/api/tree", {{"at", std::to_string(t)}}));
  }
  w.EndObject().Key("stops").BeginArray();
  for (uint64_t t : stops) w.Uint(t);
  w.EndArray().EndObject();
  if (limits.redactor && limits.redactor->enabled()) {
    auto j = nlohmann::json::parse(data, nullptr, false);
    if (j.is_discarded()) return Status::Corruption("the report's documents are not JSON (a bug)");
    RedactArgv(j["docs"], *limits.redactor, true);
    data = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  const Asset* js = FindAsset("/app.js");
  const Asset* css = FindAsset("/style.css");
  const Asset* page = FindAsset("/report.html");
  if (!js || !css || !page) return Status::Corruption("the UI's embedded files are missing from this build");
  // Our own files: they can hold no "</script" or "</style" (checked by the UI tests).
  const std::string csp = "default-src 'none'; script-src " + CspHash(js->body) + "; style-src " +
                          CspHash(css->body) + "; img-src data:; base-uri 'none'; form-action 'none'";
  std::string html(page->body);
  auto put = [&html](std::string_view mark, std::string_view what) {
    const size_t at = html.find(mark);
    if (at != std::string::npos) html.replace(at, mark.size(), what);
  };
  // Filled in this order, each mark once: host data goes in last, so nothing in it is looked at.
  put("@CSP@", csp);
  put("@STYLE@", css->body);
  put("@SCRIPT@", js->body);
  const size_t at = html.find("@DATA@");
  if (at == std::string::npos) return Status::Corruption("report.html has no @DATA@ mark");
  html.replace(at, 6, EscapeJsonForScript(data));
  return html;
}

Status WriteFileAtomic(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot create " + tmp + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string e = std::strerror(errno);
      close(fd);
      unlink(tmp.c_str());
      return Status::IOError("cannot write " + tmp + ": " + e);
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    unlink(tmp.c_str());
    return Status::IOError("cannot sync " + tmp + ": " + std::strerror(errno));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string e = std::strerror(errno);
    unlink(tmp.c_str());
    return Status::IOError("cannot rename " + tmp + " to " + path + ": " + e);
  }
  return Status::Ok();
}

}  // namespace twin::ui
