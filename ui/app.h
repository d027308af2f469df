// The web UI behind `twin-replay ui`: the token check, the embedded pages and the JSON API.
// The API serves the documents `twin-replay ... --json` prints (replay/documents.h) plus the
// timeline aggregate (replay/timeline.h). Read-only: nothing here writes to the data dir.
// Thread safety: Handle may be called from any number of threads at once.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "eventlog/log.h"
#include "ui/http.h"

namespace twin::ui {

// 32 bytes from getrandom(2), as 64 hex digits. Throws std::runtime_error if the kernel has
// none to give (a CLI refuses to start rather than serve with a guessable token).
std::string NewToken();
// Compares in time independent of where the strings differ.
bool TokenEquals(std::string_view a, std::string_view b);

// The API alone, without the token check: req.path starts with "/api/". Used by UiApp and to
// build reports. data_dir is what info reports.
HttpResponse ApiResponse(const EventLog& log, const std::string& data_dir, const HttpRequest& req);

class UiApp {
 public:
  // allowed_hosts: the Host header values this server answers to ("127.0.0.1:18300", ...):
  // a page on another origin that rebinds its name to 127.0.0.1 is refused.
  UiApp(std::string data_dir, std::string token, uint16_t port, std::vector<std::string> allowed_hosts);
  HttpResponse Handle(const HttpRequest& req);
  std::string cookie_name() const { return cookie_name_; }

 private:
  // The log, reopened when the open one is older than a second or two so that a live data dir's
  // new events show up (a reader sees what was committed when it opened).
  Result<std::shared_ptr<const EventLog>> Log();
  std::string data_dir_;
  std::string token_;
  std::string cookie_name_;
  std::vector<std::string> allowed_hosts_;
  std::mutex mu_;
  std::shared_ptr<const EventLog> log_;
  std::chrono::steady_clock::time_point opened_;
};

}  // namespace twin::ui
