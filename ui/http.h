// A small HTTP/1.1 server over POSIX sockets for `twin-replay ui`: GET and HEAD only, one request
// per connection (every response says Connection: close), bounded request heads, deadlines on
// reading and writing, a bounded number of connections (one thread each), no request bodies.
// The parsing functions are pure so that tests can feed them hostile bytes.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eventlog/status.h"

namespace twin::ui {

struct HttpLimits {
  size_t max_head_bytes = 16 * 1024;  // request line + headers
  size_t max_target_bytes = 4096;
  size_t max_headers = 64;
};

struct HttpRequest {
  std::string method;   // "GET" or "HEAD" once parsed
  std::string target;   // as sent ("/api/state?at=-5m")
  std::string path;     // percent-decoded path, without the query
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, values trimmed
  const std::string* Header(std::string_view lower_name) const;  // first one, or nullptr
  const std::string* Query(std::string_view name) const;         // first one, or nullptr
};

struct HttpError {
  int status = 400;
  std::string reason;  // one line, ours (never echoes the request)
};

enum class ParseState { kIncomplete, kComplete, kError };

// Parses the request head at the start of buf (up to and including the blank line). kComplete
// fills *req and *head_bytes; kIncomplete means read more (unless buf already exceeds the limit:
// then kError with 431); kError fills *err: 400 malformed, 414 target too long, 431 head too
// large, 405 other methods, 505 other versions, 413 a request body, 501 transfer codings.
ParseState ParseRequestHead(std::string_view buf, const HttpLimits& limits, HttpRequest* req,
                            size_t* head_bytes, HttpError* err);

// %XX decoding; false on a malformed escape or a NUL byte. plus_is_space for query strings.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out);

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;
};
std::string_view StatusText(int status);
// The response bytes; HEAD gets the headers (with the body's length) and no body.
std::string SerializeResponse(const HttpResponse& r, bool head_only);

// "127.0.0.1:18300", "[::1]:18300", "localhost:18300" (port 0: any free port). Anything that is
// not a loopback address (127.0.0.0/8, ::1) is refused with a message saying so.
struct ListenAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string host;  // as it goes into URLs: 127.0.0.1, [::1]
  uint16_t port = 0;
};
Result<ListenAddress> ParseLoopbackListen(std::string_view text);

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  struct Options {
    HttpLimits limits;
    int head_timeout_ms = 10000;   // the whole request head must arrive within this
    int write_timeout_ms = 30000;  // per send() call
    int max_connections = 32;      // beyond: 503 and close
  };
  // Binds and listens. REQUIRES: handler is thread safe (called from connection threads).
  static Result<std::unique_ptr<HttpServer>> Listen(const ListenAddress& at, const Options& o,
                                                    Handler handler);
  ~HttpServer();
  uint16_t port() const { return port_; }
  // Accepts until stop_fd becomes readable, then stops accepting and waits for the connections
  // in progress (each bounded by the timeouts).
  Status Serve(int stop_fd);

 private:
  HttpServer() = default;
  void ServeConnection(int fd);
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  Options options_;
  Handler handler_;
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

}  // namespace twin::ui
