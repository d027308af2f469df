#include "vm/twin_sync.h"

#include <fmt/format.h>

#include "eventlog/timefmt.h"

namespace twin::vm {

using Clock = std::chrono::steady_clock;

TwinSync::TwinSync(TwinOptions twin_options, EventLog* log, TwinSyncOptions options)
    : twin_options_(std::move(twin_options)),
      log_(log),
      options_(options),
      store_(log),
      catalogue_(&store_) {}

TwinSync::~TwinSync() { Stop(); }

void TwinSync::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (worker_.joinable()) return;
  stop_ = false;
  worker_ = std::thread([this] { Run(); });
}

void TwinSync::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    if (twin_raw_) twin_raw_->RequestCancel();
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void TwinSync::OnSnapshot(const Snapshot& snap) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ = snap.state;
    ++stats_.received;
  }
  cv_.notify_all();
}

TwinSyncStats TwinSync::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void TwinSync::RecordFailure(const std::string& what, std::chrono::milliseconds retry_in) {
  Event e;
  e.kind = EventKind::kTwinAction;
  e.ts_ns = WallNowNs();
  e.reason = fmt::format("twin sync failed: {} (retry in {} s)", what, retry_in.count() / 1000);
  e.attrs = {{"action", "sync"},
             {"status", "failed"},
             {"domain", twin_options_.domain},
             {"error", what},
             {"retry_in_ms", std::to_string(retry_in.count())}};
  log_->Append(e).status().IgnoreError();  // best effort: the log may itself be the problem
}

void TwinSync::Run() {
  auto backoff = options_.initial_backoff;
  auto next_attempt = Clock::now();
  State applied;
  bool applied_known = false;
  while (true) {
    State target;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || pending_.has_value(); });
      if (stop_) break;
      if (Clock::now() < next_attempt) {
        cv_.wait_until(lock, next_attempt, [&] { return stop_; });
        if (stop_) break;
      }
      target = *pending_;
      pending_.reset();
    }
    auto requeue = [&] {
      std::lock_guard<std::mutex> lock(mu_);
      if (!pending_) pending_ = target;  // a newer state wins over the failed one
    };
    auto t0 = Clock::now();
    std::string error;
    if (!twin_) {
      auto sink = [this](const Event& e) { log_->Append(e).status().IgnoreError(); };
      TwinOptions topt = twin_options_;
      if (topt.host_config && !topt.config_content) {
        topt.config_content = [this](const std::string& sha) -> std::optional<std::string> {
          auto c = log_->GetContent(sha);
          return c.ok() ? *c : std::nullopt;
        };
      }
      auto t = TwinVm::Open(topt, &catalogue_, sink);
      if (t.ok()) {
        twin_ = std::move(t.value());
        std::lock_guard<std::mutex> lock(mu_);
        twin_raw_ = twin_.get();
        if (stop_) twin_raw_->RequestCancel();
      } else {
        error = t.status().message();
      }
    }
    if (twin_) {
      // What does the twin reflect? The domain record is authoritative: `twin-replay vm --at
      // --replace` may have moved it back in time behind our back.
      auto rec = twin_->LoadDomainRecord(twin_options_.domain);
      uint64_t rec_ts = rec.ok() ? rec->applied_state_ts_ns : 0;
      if (!applied_known || applied.ts_ns != rec_ts) {
        if (rec_ts == 0) {
          applied = State{};
          applied_known = true;
        } else if (auto st = StateAt(*log_, rec_ts); st.ok()) {
          applied = std::move(*st);
          applied_known = true;
        } else {
          error = "cannot rebuild the twin's state: " + st.status().message();
        }
      }
      if (error.empty()) {
        StateDiff diff = Diff(applied, target);
        if (!diff.Significant() && !(twin_options_.host_config && diff.HostConfigChanged())) {
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.skipped;
          continue;
        }
        auto out = twin_->Sync(applied, target);
        if (out.ok() && out->success()) {
          applied = target;
          backoff = options_.initial_backoff;
          next_attempt = Clock::now();
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.syncs_ok;
          stats_.last_sync_ms =
              std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
          stats_.applied_state_ts_ns = target.ts_ns;
          stats_.last_error.clear();
          continue;
        }
        error = out.ok() ? fmt::format("delta run failed ({} failed tasks, log {})",
                                       out->run.failed, out->run.log_path)
                         : out.status().message();
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
      ++stats_.syncs_failed;
      stats_.last_error = error;
    }
    RecordFailure(error, backoff);
    requeue();
    next_attempt = Clock::now() + backoff;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  std::lock_guard<std::mutex> lock(mu_);
  twin_raw_ = nullptr;
}

}  // namespace twin::vm
