// twin-replay ui (the local web UI, ui/) and report (one self-contained HTML file, ui/report.h).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "eventlog/timefmt.h"
#include "format/terminal.h"
#include "replay/args.h"
#include "replay/cli.h"
#include "ui/app.h"
#include "ui/http.h"
#include "ui/report.h"

namespace twin {
namespace {

int g_stop_pipe[2] = {-1, -1};
void OnStopSignal(int) {
  const char c = 's';
  (void)!write(g_stop_pipe[1], &c, 1);  // async-signal-safe; a full pipe already says "stop"
}

int CmdUi(const CliContext& c, const std::string& listen_text) {
  const char* prefix = "twin-replay ui: ";
  auto at = ui::ParseLoopbackListen(listen_text);
  if (!at.ok()) {
    PrintError(prefix, at.status().message());
    return kExitUsage;
  }
  {
    int open_rc = kExitUsage;  // the data dir must be readable now, not at the first request
    if (!OpenForReplayOrExplain(c.data_dir, false, &open_rc)) return open_rc;
  }
  std::string token;
  try {
    token = ui::NewToken();
  } catch (const std::exception& e) {
    PrintError(prefix, e.what());
    return kExitProblem;
  }
  // SIGINT/SIGTERM end the server cleanly: the handler writes to a pipe the accept loop polls
  // (whichever thread the kernel delivers the signal to: RocksDB has threads of its own).
  if (pipe2(g_stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    PrintError(prefix, "cannot create the stop pipe");
    return kExitProblem;
  }
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that goes away is an error on its send, not our end
  const int sfd = g_stop_pipe[0];
  std::shared_ptr<ui::UiApp> app;
  auto server = ui::HttpServer::Listen(at.value(), ui::HttpServer::Options{},
                                       [&app](const ui::HttpRequest& r) { return app->Handle(r); });
  if (!server.ok()) {
    PrintError(prefix, server.status().message());
    return kExitUsage;
  }
  const uint16_t port = server.value()->port();
  const std::string hostport = at.value().host + ":" + std::to_string(port);
  std::vector<std::string> hosts = {hostport};
  if (at.value().host == "127.0.0.1") hosts.push_back("localhost:" + std::to_string(port));
  app = std::make_shared<ui::UiApp>(c.data_dir, token, port, hosts);
  // The only place the token is shown. Opening the URL trades it for an HttpOnly cookie.
  fmt::print("twin-replay ui: serving {} read-only on http://{}/ (Ctrl-C stops)\n"
             "open: http://{}/?token={}\n",
             EscapeForTerminal(c.data_dir), hostport, hostport, token);
  std::fflush(stdout);
  Status s = server.value()->Serve(sfd);
  if (!s.ok()) {
    PrintError(prefix, s.message());
    return kExitProblem;
  }
  fmt::print(stderr, "twin-replay ui: stopped\n");
  return kExitOk;
}

// Events a report embeds at most: each is ~0.5 KB of JSON in the page, which the browser parses
// whole when it opens.
constexpr uint64_t kReportMaxEventsCap = 1'000'000;

int CmdReport(const CliContext& c, const std::string& since_text, const std::string& until_text,
              const std::string& out_path, const std::optional<std::string>& max_events_text) {
  const char* prefix = "twin-replay report: ";
  const uint64_t now = WallNowNs();
  uint64_t since = 0, until = 0;
  if (!ParseTimeOrExplain(prefix, "--since", since_text, now, &since) ||
      !ParseTimeOrExplain(prefix, "--until", until_text, now, &until)) {
    return kExitUsage;
  }
  ui::ReportLimits limits;
  std::optional<uint64_t> max_events;
  if (!ParseOptionalArg(prefix, max_events_text, ParseCountArg, "--max-events", &max_events)) return kExitUsage;
  if (max_events) {
    if (*max_events > kReportMaxEventsCap) {
      PrintError(prefix, "--max-events " + std::to_string(*max_events) + " is more than a page can hold (at most " +
                             std::to_string(kReportMaxEventsCap) + "; narrow the window or use 'twin-replay export')");
      return kExitUsage;
    }
    limits.max_events = *max_events;
  }
  if (Status s = CheckTimeOrder("--since", since, "--until", until); !s.ok()) return ReportScanError(prefix, s);
  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(c.data_dir, false, &open_rc);
  if (!log) return open_rc;
  auto html = ui::BuildReport(*log, c.data_dir, since, until, limits);
  if (!html.ok()) return ReportReadError(html.status(), c.data_dir);
  if (Status s = ui::WriteFileAtomic(out_path, html.value()); !s.ok()) {
    PrintError(prefix, s.message());
    return kExitUsage;
  }
  fmt::print("twin-replay report: wrote {} ({} bytes) for {} .. {}\n", EscapeForTerminal(out_path),
             html.value().size(), FormatRfc3339Ns(since), FormatRfc3339Ns(until));
  return kExitOk;
}

}  // namespace

void AddUiCommands(CLI::App& app, CliContext& ctx) {
  auto* ui = app.add_subcommand("ui", "a read-only web UI on loopback (token-protected; see docs/UI.md)");
  auto listen = std::make_shared<std::string>("127.0.0.1:0");
  ui->add_option("--listen", *listen, "loopback ADDRESS:PORT (127.0.0.0/8 or [::1]; port 0: any free one)")
      ->capture_default_str();
  ui->callback([&ctx, listen] { ctx.rc = CmdUi(ctx, *listen); });
  AddCommonOptions(ui, ctx, /*with_json=*/false);

  auto* report = app.add_subcommand("report", "one self-contained HTML file of a time window (case files)");
  auto r = std::make_shared<std::array<std::string, 3>>();
  report->add_option("--since", (*r)[0], "start time")->required();
  report->add_option("--until", (*r)[1], "end time")->required();
  report->add_option("--out", (*r)[2], "the HTML file to write")->required();
  auto max_events = std::make_shared<std::optional<std::string>>();
  report->add_option("--max-events", *max_events, "events embedded at most (default 20000; the timeline counts all)");
  report->callback([&ctx, r, max_events] { ctx.rc = CmdReport(ctx, (*r)[0], (*r)[1], (*r)[2], *max_events); });
  AddCommonOptions(report, ctx, /*with_json=*/false);
}

}  // namespace twin
