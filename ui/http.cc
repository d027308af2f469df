#include "ui/http.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

namespace twin::ui {
namespace {

bool IsTchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

ParseState Fail(HttpError* err, int status, std::string reason) {
  err->status = status;
  err->reason = std::move(reason);
  return ParseState::kError;
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A decoded path that names a parent or the current directory, or uses a backslash, could climb
// out of wherever a file server looked: none is ever served (the assets are a fixed list).
bool HasDotSegment(std::string_view path) {
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    const std::string_view seg = path.substr(i, j - i);
    if (seg == "." || seg == "..") return true;
    i = j + 1;
  }
  return path.find('\\') != std::string_view::npos;
}

}  // namespace

const std::string* HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return &v;
  }
  return nullptr;
}

const std::string* HttpRequest::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return &v;
  }
  return nullptr;
}

bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexVal(in[i + 1]), lo = HexVal(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return false;
    out->push_back(c);
  }
  return true;
}

ParseState ParseRequestHead(std::string_view buf, const HttpLimits& limits, HttpRequest* req,
                            size_t* head_bytes, HttpError* err) {
  const size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (buf.size() > limits.max_head_bytes) return Fail(err, 431, "request head too large");
    // The request line alone can be judged early: a long target need not be read to its end.
    const size_t sp = buf.find(' ');
    if (sp != std::string_view::npos && buf.find("\r\n") == std::string_view::npos &&
        buf.size() - sp > limits.max_target_bytes + 16) {
      return Fail(err, 414, "request target too long");
    }
    return ParseState::kIncomplete;
  }
  if (end + 4 > limits.max_head_bytes) return Fail(err, 431, "request head too large");
  *req = HttpRequest();
  const std::string_view head = buf.substr(0, end);
  const size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  // request-line = method SP request-target SP HTTP-version (RFC 9112 3)
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return Fail(err, 400, "malformed request line");
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Fail(err, 400, "malformed request line");
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  for (char c : method) {
    if (!IsTchar(c)) return Fail(err, 400, "malformed method");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && version[6] == '.' &&
        version[5] >= '0' && version[5] <= '9' && version[7] >= '0' && version[7] <= '9') {
      return Fail(err, 505, "only HTTP/1.0 and HTTP/1.1 are served");
    }
    return Fail(err, 400, "malformed HTTP version");
  }
  if (target.size() > limits.max_target_bytes) return Fail(err, 414, "request target too long");
  if (target.empty() || target[0] != '/') return Fail(err, 400, "the request target must be a path");
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return Fail(err, 400, "invalid byte in the request target");
    }
  }
  if (method != "GET" && method != "HEAD") return Fail(err, 405, "only GET and HEAD are served");
  req->method = std::string(method);
  req->target = std::string(target);
  const size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  if (const size_t hash = raw_path.find('#'); hash != std::string_view::npos) raw_path = raw_path.substr(0, hash);
  if (!PercentDecode(raw_path, false, &req->path)) return Fail(err, 400, "malformed percent-escape in the path");
  if (HasDotSegment(req->path)) return Fail(err, 400, "dot segments are not allowed in the path");
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    if (const size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
    while (!rest.empty()) {
      const size_t amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      std::string k, v;
      if (!PercentDecode(pair.substr(0, eq), true, &k) ||
          !PercentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true, &v)) {
        return Fail(err, 400, "malformed percent-escape in the query");
      }
      req->query.emplace_back(std::move(k), std::move(v));
    }
  }
  // Header fields (RFC 9112 5): name ":" OWS value OWS; no obsolete line folding.
  size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string_view::npos) e = head.size();
    const std::string_view field = head.substr(pos, e - pos);
    pos = e + 2;
    if (field.empty()) return Fail(err, 400, "malformed header");
    if (field[0] == ' ' || field[0] == '\t') return Fail(err, 400, "obsolete header line folding");
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return Fail(err, 400, "malformed header");
    std::string name;
    for (char c : field.substr(0, colon)) {
      if (!IsTchar(c)) return Fail(err, 400, "malformed header name");
      name.push_back(Lower(c));
    }
    const std::string_view value = Trim(field.substr(colon + 1));
    for (char c : value) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) return Fail(err, 400, "control byte in a header value");
    }
    if (req->headers.size() >= limits.max_headers) return Fail(err, 431, "too many headers");
    req->headers.emplace_back(std::move(name), std::string(value));
  }
  size_t hosts = 0;
  for (const auto& [k, v] : req->headers) {
    if (k == "host") ++hosts;
    if (k == "transfer-encoding") return Fail(err, 501, "request bodies are not accepted");
    if (k == "content-length") {
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) {
        return Fail(err, 400, "malformed Content-Length");
      }
      if (v.find_first_not_of('0') != std::string::npos) return Fail(err, 413, "request bodies are not accepted");
    }
  }
  if (version == "HTTP/1.1" && hosts != 1) return Fail(err, 400, "an HTTP/1.1 request needs exactly one Host header");
  if (hosts > 1) return Fail(err, 400, "more than one Host header");
  *head_bytes = end + 4;
  return ParseState::kComplete;
}

std::string_view StatusText(int status) {
  switch (status) {
    case 200: return "OK";
    case 303: return "See Other";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string SerializeResponse(const HttpResponse& r, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(StatusText(r.status)) + "\r\n";
  auto h = [&](std::string_view k, std::string_view v) {
    out.append(k).append(": ").append(v).append("\r\n");
  };
  h("Content-Type", r.content_type);
  h("Content-Length", std::to_string(r.body.size()));
  h("Connection", "close");
  // Every response, errors included: nothing here may be framed, sniffed, cached or leak a URL.
  h("Content-Security-Policy",
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
  h("X-Content-Type-Options", "nosniff");
  h("X-Frame-Options", "DENY");
  h("Referrer-Policy", "no-referrer");
  h("Cache-Control", "no-store");
  h("Cross-Origin-Opener-Policy", "same-origin");
  h("Cross-Origin-Resource-Policy", "same-origin");
  for (const auto& [k, v] : r.headers) h(k, v);
  out += "\r\n";
  if (!head_only) out += r.body;
  return out;
}

Result<ListenAddress> ParseLoopbackListen(std::string_view text) {
  ListenAddress a;
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status::InvalidArgument("--listen: expected [ADDRESS]:PORT, e.g. [::1]:18300");
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return Status::InvalidArgument("--listen: expected ADDRESS:PORT, e.g. 127.0.0.1:18300");
    }
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string_view::npos ||
      std::stoul(std::string(port_text)) > 65535) {
    return Status::InvalidArgument("--listen: the port must be a number from 0 to 65535");
  }
  a.port = static_cast<uint16_t>(std::stoul(std::string(port_text)));
  if (host == "localhost") host = "127.0.0.1";
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    if ((ntohl(v4.s_addr) >> 24) != 127) {
      return Status::InvalidArgument("--listen: " + host +
                                     " is not a loopback address: the UI serves 127.0.0.0/8 or ::1 only "
                                     "(reach it from elsewhere through an SSH tunnel)");
    }
    auto* sa = reinterpret_cast<sockaddr_in*>(&a.addr);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(a.port);
    sa->sin_addr = v4;
    a.len = sizeof(sockaddr_in);
    a.host = host;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&v6)) {
      return Status::InvalidArgument("--listen: " + host +
                                     " is not a loopback address: the UI serves 127.0.0.0/8 or ::1 only "
                                     "(reach it from elsewhere through an SSH tunnel)");
    }
    auto* sa = reinterpret_cast<sockaddr_in6*>(&a.addr);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(a.port);
    sa->sin6_addr = v6;
    a.len = sizeof(sockaddr_in6);
    a.host = "[::1]";
  } else {
    return Status::InvalidArgument("--listen: " + host +
                                   " is not an IP address (give 127.0.0.1:PORT or [::1]:PORT; "
                                   "names other than localhost are not resolved)");
  }
  return a;
}

struct HttpServer::Shared {
  std::mutex mu;
  std::condition_variable cv;
  int active = 0;
};

HttpServer::~HttpServer() {
  if (listen_fd_ >= 0) close(listen_fd_);
}

Result<std::unique_ptr<HttpServer>> HttpServer::Listen(const ListenAddress& at, const Options& o,
                                                       Handler handler) {
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->options_ = o;
  s->handler_ = std::move(handler);
  s->shared_ = std::make_shared<Shared>();
  const int family = reinterpret_cast<const sockaddr*>(&at.addr)->sa_family;
  s->listen_fd_ = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->listen_fd_ < 0) return Status::IOError(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  (void)setsockopt(s->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // best effort
  if (bind(s->listen_fd_, reinterpret_cast<const sockaddr*>(&at.addr), at.len) != 0) {
    return Status::IOError("cannot listen on " + at.host + ":" + std::to_string(at.port) + ": " +
                           std::strerror(errno) + (errno == EADDRINUSE ? " (choose another --listen port)" : ""));
  }
  if (listen(s->listen_fd_, 64) != 0) return Status::IOError(std::string("listen: ") + std::strerror(errno));
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (getsockname(s->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    return Status::IOError(std::string("getsockname: ") + std::strerror(errno));
  }
  s->port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                     : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  return s;
}

namespace {

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // error or SO_SNDTIMEO: give up on this client
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

HttpResponse ErrorResponse(int status, const std::string& reason) {
  HttpResponse r;
  r.status = status;
  r.body = reason + "\n";
  if (status == 405) r.headers.emplace_back("Allow", "GET, HEAD");
  return r;
}

}  // namespace

void HttpServer::ServeConnection(int fd) {
  timeval tv{options_.write_timeout_ms / 1000, (options_.write_timeout_ms % 1000) * 1000};
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // best effort
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.head_timeout_ms);
  std::string buf;
  HttpRequest req;
  HttpError err;
  size_t head_bytes = 0;
  ParseState st = ParseState::kIncomplete;
  char chunk[4096];
  while (st == ParseState::kIncomplete) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      if (!buf.empty()) (void)SendAll(fd, SerializeResponse(ErrorResponse(408, "request head not received in time"), false));
      return;
    }
    pollfd p{fd, POLLIN, 0};
    const int pr = poll(&p, 1, static_cast<int>(left));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;  // the deadline check above answers
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // closed before a whole head: nothing to answer
    buf.append(chunk, static_cast<size_t>(n));
    st = ParseRequestHead(buf, options_.limits, &req, &head_bytes, &err);
  }
  HttpResponse resp;
  if (st == ParseState::kError) {
    resp = ErrorResponse(err.status, err.reason);
  } else {
    try {
      resp = handler_(req);
    } catch (const std::exception&) {
      resp = ErrorResponse(500, "internal error");
    }
  }
  (void)SendAll(fd, SerializeResponse(resp, st == ParseState::kComplete && req.method == "HEAD"));
  shutdown(fd, SHUT_WR);
  // Lingering close: closing with unread bytes (an oversized head) would reset the connection
  // and could destroy the response before the client reads it. Drain for a bounded time.
  const auto linger_end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1000);
  size_t drained = 0;
  while (drained < (1u << 20)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(linger_end - std::chrono::steady_clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) break;
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    drained += static_cast<size_t>(n);
  }
}

Status HttpServer::Serve(int stop_fd) {
  Status result;
  while (true) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    const int pr = poll(p, 2, -1);
    if (pr < 0) {
      if (errno == EINTR) continue;
      result = Status::IOError(std::string("poll: ") + std::strerror(errno));
      break;
    }
    if (p[1].revents != 0) break;
    if ((p[0].revents & POLLIN) == 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;  // ECONNABORTED, EMFILE...: the listener stays up
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      if (shared_->active >= options_.max_connections) {
        timeval tv{1, 0};
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        (void)SendAll(fd, SerializeResponse(ErrorResponse(503, "too many connections"), false));
        close(fd);
        continue;
      }
      ++shared_->active;
    }
    std::thread([this, fd, shared = shared_] {
      ServeConnection(fd);
      close(fd);
      std::lock_guard<std::mutex> lock(shared->mu);
      --shared->active;
      shared->cv.notify_all();
    }).detach();
  }
  close(listen_fd_);
  listen_fd_ = -1;
  // Connections in progress end within their timeouts (head, then each write).
  std::unique_lock<std::mutex> lock(shared_->mu);
  shared_->cv.wait(lock, [&] { return shared_->active == 0; });
  return result;
}

}  // namespace twin::ui
