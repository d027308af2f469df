#include "userspace/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace twin::capture {

MetricsServer::~MetricsServer() { Stop(); }

Status MetricsServer::Start(const std::string& tcp_addr, const std::string& unix_path,
                            RenderFn render, LogFn log, int retry_ms) {
  if (!tcp_addr.empty()) {
    auto a = ParseLoopbackAddr(tcp_addr);
    if (!a.ok()) return a.status();
    tcp_ = *a;
    want_tcp_ = true;
  }
  if (!unix_path.empty() && unix_path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Status::InvalidArgument("metrics socket path too long: " + unix_path);
  }
  unix_path_ = unix_path;
  render_ = std::move(render);
  log_ = std::move(log);
  retry_ms_ = retry_ms;
  stop_ = false;
  // First attempt here, so the common case logs its address before twind reports ready.
  if (want_tcp_) TryBindTcp();
  if (!unix_path_.empty()) TryBindUnix();
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

bool MetricsServer::TryBindTcp() {
  int fd = socket(tcp_.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  std::string err;
  if (fd < 0) {
    err = std::string("socket: ") + strerror(errno);
  } else {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, reinterpret_cast<const sockaddr*>(&tcp_.ss), tcp_.len) != 0 || listen(fd, 8) != 0) {
      err = strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  if (fd < 0) {
    // Say it once per distinct error, not every retry.
    if (err != last_tcp_error_ && log_) {
      log_(true, "metrics on " + tcp_.text + " unavailable (" + err + "); capture goes on, retrying every " +
                     std::to_string(retry_ms_ / 1000) + " s" +
                     (unix_path_.empty() ? std::string() : "; metrics also on unix socket " + unix_path_));
    }
    last_tcp_error_ = err;
    return false;
  }
  sockaddr_storage got{};
  socklen_t gl = sizeof(got);
  getsockname(fd, reinterpret_cast<sockaddr*>(&got), &gl);
  port_ = ntohs(got.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&got)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&got)->sin6_port);
  tcp_fd_ = fd;
  if (log_) log_(false, "metrics on http://" + tcp_.text + "/metrics");
  last_tcp_error_.clear();
  return true;
}

bool MetricsServer::TryBindUnix() {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, unix_path_.c_str(), unix_path_.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  std::string err;
  if (fd < 0) {
    err = std::string("socket: ") + strerror(errno);
  } else {
    // Only a socket is replaced: the directory is root's (/run/safetytwin), so whatever sits there
    // is a stale socket of an earlier twind, never something a local user planted.
    struct stat st {};
    if (lstat(unix_path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(unix_path_.c_str());
    if (bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) != 0 || listen(fd, 8) != 0) {
      err = strerror(errno);
      close(fd);
      fd = -1;
    } else {
      chmod(unix_path_.c_str(), 0600);
    }
  }
  if (fd < 0) {
    if (err != last_unix_error_ && log_) {
      log_(true, "metrics socket " + unix_path_ + " unavailable (" + err + "); retrying");
    }
    last_unix_error_ = err;
    return false;
  }
  unix_fd_ = fd;
  if (log_) log_(false, "metrics on unix socket " + unix_path_);
  last_unix_error_.clear();
  return true;
}

void MetricsServer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (tcp_fd_ >= 0) close(tcp_fd_);
  if (unix_fd_ >= 0) {
    close(unix_fd_);
    unlink(unix_path_.c_str());
  }
  tcp_fd_ = unix_fd_ = -1;
}

void MetricsServer::Loop() {
  using Clock = std::chrono::steady_clock;
  auto next_retry = Clock::now() + std::chrono::milliseconds(retry_ms_);
  while (!stop_) {
    if (Clock::now() >= next_retry) {
      if (want_tcp_ && tcp_fd_ < 0) TryBindTcp();
      if (!unix_path_.empty() && unix_fd_ < 0) TryBindUnix();
      next_retry = Clock::now() + std::chrono::milliseconds(retry_ms_);
    }
    pollfd p[2];
    nfds_t n = 0;
    if (tcp_fd_ >= 0) p[n++] = {tcp_fd_, POLLIN, 0};
    if (unix_fd_ >= 0) p[n++] = {unix_fd_, POLLIN, 0};
    if (n == 0) {
      usleep(200 * 1000);
      continue;
    }
    if (poll(p, n, 200) <= 0) continue;
    for (nfds_t i = 0; i < n; ++i) {
      if (p[i].revents & POLLIN) Serve(p[i].fd);
    }
  }
}

void MetricsServer::Serve(int listen_fd) {
  int c = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (c < 0) return;
  timeval tv{1, 0};
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  char buf[2048];
  ssize_t n = recv(c, buf, sizeof(buf) - 1, 0);
  std::string req(buf, n > 0 ? static_cast<size_t>(n) : 0);
  std::string body, status = "200 OK";
  if (req.rfind("GET /metrics", 0) == 0 || req.rfind("GET / ", 0) == 0) {
    body = render_();
  } else {
    status = "404 Not Found";
    body = "not found; try /metrics\n";
  }
  std::string resp = "HTTP/1.0 " + status +
                     "\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  size_t off = 0;
  while (off < resp.size()) {
    ssize_t w = send(c, resp.data() + off, resp.size() - off, MSG_NOSIGNAL);
    if (w <= 0) break;
    off += static_cast<size_t>(w);
  }
  close(c);
}

}  // namespace twin::capture
