// The UI's HTTP layer on hostile input: request heads (ParseRequestHead), listen addresses, the
// token check and the static files (UiApp), and a real socket (HttpServer).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/core/test_util.h"
#include "ui/app.h"
#include "ui/http.h"

namespace twin::ui {
namespace {

struct Parsed {
  ParseState state;
  HttpRequest req;
  HttpError err;
};

Parsed Parse(const std::string& bytes, HttpLimits limits = {}) {
  Parsed p;
  size_t used = 0;
  p.state = ParseRequestHead(bytes, limits, &p.req, &used, &p.err);
  return p;
}

int ErrorStatus(const std::string& bytes, HttpLimits limits = {}) {
  Parsed p = Parse(bytes, limits);
  return p.state == ParseState::kError ? p.err.status : (p.state == ParseState::kComplete ? 0 : -1);
}

TEST(HttpParse, GetWithQueryAndHeaders) {
  Parsed p = Parse("GET /api/state?at=-5m&x=a%20b+c HTTP/1.1\r\nHost: 127.0.0.1:1\r\nX-A:  v  \r\n\r\n");
  ASSERT_EQ(p.state, ParseState::kComplete) << p.err.reason;
  EXPECT_EQ(p.req.method, "GET");
  EXPECT_EQ(p.req.path, "/api/state");
  ASSERT_NE(p.req.Query("at"), nullptr);
  EXPECT_EQ(*p.req.Query("at"), "-5m");
  EXPECT_EQ(*p.req.Query("x"), "a b c");
  ASSERT_NE(p.req.Header("x-a"), nullptr);
  EXPECT_EQ(*p.req.Header("x-a"), "v");
}

TEST(HttpParse, IncompleteHeadAsksForMore) {
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost: x\r\n").state, ParseState::kIncomplete);
}

TEST(HttpParse, OversizedHeadIs431EvenBeforeItEnds) {
  HttpLimits l;
  l.max_head_bytes = 1024;
  const std::string big = "GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(2000, 'a');
  EXPECT_EQ(ErrorStatus(big, l), 431);                  // never ended: no waiting for the rest
  EXPECT_EQ(ErrorStatus(big + "\r\n\r\n", l), 431);     // ended, too large
}

TEST(HttpParse, TooManyHeadersIs431) {
  std::string r = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 100; ++i) r += "X-" + std::to_string(i) + ": y\r\n";
  EXPECT_EQ(ErrorStatus(r + "\r\n"), 431);
}

TEST(HttpParse, BadRequestLinesAre400) {
  for (const char* bad : {"GET /\r\n\r\n", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", "GET / HTTP/1.1 x\r\nHost: x\r\n\r\n",
                          " GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET / HTTX/1.1\r\nHost: x\r\n\r\n",
                          "GET http://evil/ HTTP/1.1\r\nHost: x\r\n\r\n", "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
                          "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
                          "GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n", "\r\n\r\n"}) {
    EXPECT_EQ(ErrorStatus(bad), 400) << bad;
  }
}

TEST(HttpParse, OtherMethodsVersionsAndBodiesAreRefused) {
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nHost: x\r\n\r\n"), 405);
  EXPECT_EQ(ErrorStatus("DELETE /api/state HTTP/1.1\r\nHost: x\r\n\r\n"), 405);
  EXPECT_EQ(ErrorStatus("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"), 413);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"), 501);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), 0);
}

TEST(HttpParse, HeaderSyntaxAndHostRules) {
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\n\r\n"), 400);                          // no Host
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);    // two
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.0\r\n\r\n"), 0);                            // 1.0 may omit it
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nHost: x\r\nX : y\r\n\r\n"), 400);      // space before colon
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nHost: x\r\nX: y\r\n z\r\n\r\n"), 400); // obs-fold
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nHost: x\r\nX: a\x01" "b\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n"), 400);
}

TEST(HttpParse, LongTargetIs414) {
  HttpLimits l;
  l.max_target_bytes = 100;
  EXPECT_EQ(ErrorStatus("GET /" + std::string(200, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", l), 414);
  EXPECT_EQ(ErrorStatus("GET /" + std::string(500, 'a'), l), 414);  // judged before the line ends
}

TEST(HttpParse, PathTraversalIsRefusedHoweverSpelled) {
  for (const char* t : {"/../etc/passwd", "/%2e%2e/etc/passwd", "/%2E%2E%2Fetc%2Fpasswd", "/a/../../b", "/./app.js",
                        "/..%5c..%5cetc%5cpasswd", "/a\\b", "/..", "/%2e", "/x/%2e%2e"}) {
    EXPECT_EQ(ErrorStatus(std::string("GET ") + t + " HTTP/1.1\r\nHost: x\r\n\r\n"), 400) << t;
  }
  EXPECT_EQ(ErrorStatus("GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n"), 400);  // NUL
  EXPECT_EQ(ErrorStatus("GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n"), 400);  // malformed escape
  EXPECT_EQ(ErrorStatus("GET /a%2 HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET /..a/b.. HTTP/1.1\r\nHost: x\r\n\r\n"), 0);  // names, not segments
}

TEST(ListenAddress, OnlyLoopbackIsAccepted) {
  for (const char* ok : {"127.0.0.1:18300", "127.9.8.7:0", "[::1]:18301", "localhost:18302"}) {
    EXPECT_TRUE(ParseLoopbackListen(ok).ok()) << ok;
  }
  for (const char* bad : {"0.0.0.0:18300", "192.168.1.10:80", "10.0.0.1:1", "[::]:18300", "[fe80::1]:1",
                          "[::ffff:10.0.0.1]:1", "example.com:80", "127.0.0.1", "127.0.0.1:65536",
                          "127.0.0.1:-1", ":80", "[::1]18300", "::1:80"}) {
    auto r = ParseLoopbackListen(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  auto r = ParseLoopbackListen("0.0.0.0:18300");
  EXPECT_NE(r.status().message().find("not a loopback address"), std::string::npos) << r.status().message();
}

TEST(Response, EveryResponseCarriesTheSecurityHeaders) {
  HttpResponse r;
  r.status = 404;
  const std::string s = SerializeResponse(r, false);
  EXPECT_NE(s.find("Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
                   "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"),
            std::string::npos);
  EXPECT_NE(s.find("X-Content-Type-Options: nosniff\r\n"), std::string::npos);
  EXPECT_NE(s.find("Connection: close\r\n"), std::string::npos);
}

TEST(Token, RandomAndComparedWhole) {
  const std::string a = NewToken(), b = NewToken();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(TokenEquals(a, a));
  EXPECT_FALSE(TokenEquals(a, b));
  EXPECT_FALSE(TokenEquals(a, a.substr(0, 63)));
  EXPECT_FALSE(TokenEquals("", ""));
}

HttpRequest Get(const std::string& target, std::vector<std::pair<std::string, std::string>> headers = {}) {
  std::string raw = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1:18300\r\n";
  for (const auto& [k, v] : headers) raw += k + ": " + v + "\r\n";
  Parsed p = Parse(raw + "\r\n");
  EXPECT_EQ(p.state, ParseState::kComplete) << p.err.reason;
  return p.req;
}

class UiAppTest : public ::testing::Test {
 protected:
  twin::testing::TempDir dir_;
  std::string token_ = NewToken();
  UiApp app_{dir_.path(), token_, 18300, {"127.0.0.1:18300"}};
  std::string cookie_ = "twin_ui_18300=" + token_;
};

TEST_F(UiAppTest, MissingOrWrongTokenIs401) {
  EXPECT_EQ(app_.Handle(Get("/")).status, 401);
  EXPECT_EQ(app_.Handle(Get("/api/info")).status, 401);
  EXPECT_EQ(app_.Handle(Get("/app.js")).status, 401);
  EXPECT_EQ(app_.Handle(Get("/?token=" + std::string(64, '0'))).status, 401);
  EXPECT_EQ(app_.Handle(Get("/", {{"Authorization", "Bearer " + std::string(64, '0')}})).status, 401);
  EXPECT_EQ(app_.Handle(Get("/", {{"Authorization", "Basic " + token_}})).status, 401);
  EXPECT_EQ(app_.Handle(Get("/", {{"Cookie", "twin_ui_18301=" + token_}})).status, 401);  // another port's
  EXPECT_EQ(app_.Handle(Get("/", {{"Cookie", "x" + cookie_}})).status, 401);
}

TEST_F(UiAppTest, TokenInTheUrlBecomesAStrictHttpOnlyCookie) {
  HttpResponse r = app_.Handle(Get("/?a=1&token=" + token_ + "&b=2"));
  EXPECT_EQ(r.status, 303);
  std::string loc, cookie;
  for (const auto& [k, v] : r.headers) {
    if (k == "Location") loc = v;
    if (k == "Set-Cookie") cookie = v;
  }
  EXPECT_EQ(loc, "/?a=1&b=2");  // the token leaves the address bar
  EXPECT_EQ(cookie, cookie_ + "; Path=/; HttpOnly; SameSite=Strict");
  // A protocol-relative path must not turn into a redirect elsewhere.
  r = app_.Handle(Get("//evil.example/?token=" + token_));
  for (const auto& [k, v] : r.headers) {
    if (k == "Location") EXPECT_EQ(v, "/");
  }
}

TEST_F(UiAppTest, CookieOrBearerServesThePages) {
  HttpResponse r = app_.Handle(Get("/", {{"Cookie", "other=1; " + cookie_}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<script src=\"/app.js\"></script>"), std::string::npos);
  r = app_.Handle(Get("/app.js", {{"Authorization", "Bearer " + token_}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(r.body.find("innerHTML ="), std::string::npos);  // the pages build DOM nodes only
}

TEST_F(UiAppTest, OnlyTheEmbeddedFilesAreServed) {
  for (const char* t : {"/etc/passwd", "/index.html/..", "/report.html", "/app.js/", "/APP.JS", "/style.css.map"}) {
    Parsed p = Parse(std::string("GET ") + t + " HTTP/1.1\r\nHost: 127.0.0.1:18300\r\nCookie: " + cookie_ + "\r\n\r\n");
    if (p.state != ParseState::kComplete) continue;  // refused by the parser already (dot segments)
    EXPECT_EQ(app_.Handle(p.req).status, 404) << t;
  }
}

TEST_F(UiAppTest, AForeignHostHeaderIsRefused) {
  Parsed p = Parse("GET / HTTP/1.1\r\nHost: rebound.example:18300\r\nCookie: " + cookie_ + "\r\n\r\n");
  ASSERT_EQ(p.state, ParseState::kComplete);
  EXPECT_EQ(app_.Handle(p.req).status, 403);
}

// A real socket: the server answers malformed and oversized requests itself, and stops when
// its stop fd becomes readable.
std::string Exchange(uint16_t port, const std::string& bytes, bool half_close = true) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  (void)!write(fd, bytes.data(), bytes.size());
  if (half_close) shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST(HttpServerSocket, AnswersHostileRequestsAndStops) {
  auto at = ParseLoopbackListen("127.0.0.1:0");
  ASSERT_TRUE(at.ok());
  HttpServer::Options o;
  o.head_timeout_ms = 500;
  auto server = HttpServer::Listen(at.value(), o, [](const HttpRequest& r) {
    HttpResponse resp;
    resp.body = "path " + r.path;
    return resp;
  });
  ASSERT_TRUE(server.ok()) << server.status().message();
  int stop[2];
  ASSERT_EQ(pipe(stop), 0);
  std::thread t([&] { EXPECT_TRUE(server.value()->Serve(stop[0]).ok()); });
  const uint16_t port = server.value()->port();
  EXPECT_EQ(Exchange(port, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n").substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_EQ(Exchange(port, "GET /x HTTP/1.1\r\nHost: a\r\nX: " + std::string(20000, 'a') + "\r\n\r\n").substr(0, 12), "HTTP/1.1 431");
  EXPECT_EQ(Exchange(port, "BREW /pot HTCPCP/1.0\r\n\r\n").substr(0, 12), "HTTP/1.1 400");
  EXPECT_EQ(Exchange(port, "GET /../../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n").substr(0, 12), "HTTP/1.1 400");
  const std::string head = Exchange(port, "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_NE(head.find("Content-Length: 7\r\n"), std::string::npos);
  EXPECT_EQ(head.find("path /x"), std::string::npos);  // HEAD: no body
  // A client that sends half a head and waits is cut off at the deadline (408).
  EXPECT_EQ(Exchange(port, "GET /x HTTP/1.1\r\n", false).substr(0, 12), "HTTP/1.1 408");
  ASSERT_EQ(write(stop[1], "x", 1), 1);
  t.join();
  close(stop[0]);
  close(stop[1]);
}

}  // namespace
}  // namespace twin::ui
