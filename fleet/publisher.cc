#include "fleet/publisher.h"

#include <time.h>

#include <cstdio>
#include <random>

#include "fleet/keys.h"
#include "format/json_writer.h"

namespace twin::fleet {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kBackoffFirst = std::chrono::milliseconds(250);
constexpr auto kBackoffMax = std::chrono::milliseconds(5000);

uint64_t WallNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

std::string PrometheusText(const PublisherStats& s) {
  std::string o;
  auto line = [&](const char* name, const char* type, const char* help, double v) {
    o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " ";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    o += buf;
    o += '\n';
  };
  line("twind_fleet_connected", "gauge", "1 while the publisher holds its etcd lease.", s.connected ? 1 : 0);
  line("twind_fleet_published_total", "counter", "State digests written to etcd.", static_cast<double>(s.published));
  line("twind_fleet_offered_total", "counter", "Digests handed over after compactions.", static_cast<double>(s.offered));
  line("twind_fleet_unchanged_total", "counter", "Offers not published: the content had not changed.", static_cast<double>(s.skipped_unchanged));
  line("twind_fleet_superseded_total", "counter", "Offers replaced by a newer one before they were sent.", static_cast<double>(s.superseded));
  line("twind_fleet_failures_total", "counter", "Failed etcd requests (each retried with backoff).", static_cast<double>(s.failures));
  line("twind_fleet_heartbeats_total", "counter", "Lease keep-alives answered.", static_cast<double>(s.heartbeats));
  line("twind_fleet_too_large_total", "counter", "Digests over the size cap, not published.", static_cast<double>(s.too_large));
  line("twind_fleet_last_publish_latency_seconds", "gauge", "Offer to written, of the last digest.", s.last_latency_ns / 1e9);
  line("twind_fleet_last_revision", "gauge", "etcd revision of the last digest written.", static_cast<double>(s.last_revision));
  return o;
}

Event FleetEvent(std::string_view what, uint64_t ts_ns,
                 std::vector<std::pair<std::string, std::string>> attrs) {
  Event e;
  e.kind = EventKind::kFleet;
  e.ts_ns = ts_ns;
  e.attrs.emplace_back("event", std::string(what));
  for (auto& kv : attrs) e.attrs.push_back(std::move(kv));
  e.reason = "fleet " + std::string(what);
  for (const auto& [k, v] : e.attrs) {
    if (k == "error") e.reason += ": " + v;
  }
  return e;
}

Publisher::Publisher(FleetOptions o, HostIdentity id, EventSink sink, std::string version)
    : o_(std::move(o)), id_(std::move(id)), sink_(std::move(sink)), version_(std::move(version)) {}

Publisher::~Publisher() { Stop(true); }

Status Publisher::Start() {
  if (Status s = ValidateFleetOptions(o_); !s.ok()) return s;
  if (Status s = CheckHostId(id_.host_id); !s.ok()) return Status::InvalidArgument("fleet.host_id: " + s.message());
  auto pw = ReadPassword(o_);
  if (!pw.ok()) return pw.status();
  client_ = std::make_unique<EtcdClient>(o_, *pw);
  started_ns_ = WallNs();
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void Publisher::Stop(bool revoke) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    revoke_on_stop_ = revoke;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Publisher::Offer(Digest d) {
  d.host_id = id_.host_id;
  d.labels = o_.labels;
  d.sha256 = ContentHash(d);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.offered;
    if (pending_) ++stats_.superseded;
    pending_ = std::move(d);
    pending_at_ = Clock::now();
  }
  cv_.notify_all();
}

PublisherStats Publisher::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

bool Publisher::WaitPublished(const std::string& sha256, std::chrono::milliseconds max) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, max, [&] { return published_sha_ == sha256 || stop_; }) &&
         published_sha_ == sha256;
}

void Publisher::Record(std::string_view what, std::vector<std::pair<std::string, std::string>> attrs) {
  attrs.emplace_back("host_id", id_.host_id);
  if (sink_) sink_(FleetEvent(what, WallNs(), std::move(attrs)));
}

std::string Publisher::InfoJson(const Digest* d, uint64_t now_ns) const {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.FieldU("v", kDigestVersion).Field("host_id", id_.host_id).Field("hostname", id_.hostname)
      .Field("machine_id", id_.machine_id).Field("boot_id", id_.boot_id)
      .Field("version", version_).FieldU("lease_ttl_s", o_.lease_ttl_s)
      .FieldU("started_ns", started_ns_).FieldU("updated_ns", now_ns);
  w.Key("labels").BeginObject();
  for (const auto& [k, v] : o_.labels) w.Field(std::string_view(k), std::string_view(v));
  w.EndObject();
  if (d) {
    w.Field("digest_sha256", d->sha256).FieldU("state_ts_ns", d->state_ts_ns)
        .FieldU("published_ns", d->published_ns);
  }
  w.EndObject();
  return out;
}

void Publisher::Failed(const Status& s) {
  session_ = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.failures;
    stats_.connected = false;
    stats_.last_error = s.message();
  }
  if (link_ != Link::kDown) {
    const bool was_up = link_ == Link::kUp;
    link_ = Link::kDown;
    down_since_ns_ = WallNs();
    Record("lost", {{"error", s.message()}, {"was_connected", was_up ? "true" : "false"}});
  }
}

Status Publisher::Connect() {
  // A lease that is still alive (a short outage) is kept; an expired one is replaced.
  if (lease_) {
    auto ttl = client_->LeaseKeepAlive(lease_);
    if (!ttl.ok()) return ttl.status();
    if (*ttl <= 0) lease_ = 0;
  }
  if (!lease_) {
    auto id = client_->LeaseGrant(o_.lease_ttl_s);
    if (!id.ok()) return id.status();
    lease_ = *id;
  }
  std::string alive;
  JsonWriter w(alive);
  w.BeginObject().Field("boot_id", id_.boot_id).FieldU("since_ns", WallNs())
      .FieldU("lease_ttl_s", o_.lease_ttl_s).EndObject();
  const uint64_t now = WallNs();
  auto rev = client_->Put({{HostKey(o_.prefix, KeyKind::kAlive, id_.host_id), alive, lease_},
                           {HostKey(o_.prefix, KeyKind::kInfo, id_.host_id),
                            InfoJson(last_published_ ? &*last_published_ : nullptr, now), 0}});
  if (!rev.ok()) return rev.status();
  session_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.connected = true;
    stats_.lease = lease_;
  }
  if (link_ != Link::kUp) {
    catching_up_ = link_ == Link::kDown;
    link_ = Link::kUp;
    Record("connected", {{"endpoint", client_->endpoint()}, {"lease", std::to_string(lease_)},
                         {"revision", std::to_string(*rev)}});
  }
  return Status::Ok();
}

Status Publisher::PublishDigest(Digest d, Clock::time_point offered_at) {
  const uint64_t now = WallNs();
  d.published_ns = now;
  const std::string value = DigestToJson(d);
  if (value.size() > kMaxDigestBytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.too_large;
    }
    Record("too_large", {{"bytes", std::to_string(value.size())}, {"limit", std::to_string(kMaxDigestBytes)},
                         {"sha256", d.sha256}});
    return Status::Ok();  // not retried: the same content would fail again
  }
  auto rev = client_->Put({{HostKey(o_.prefix, KeyKind::kDigest, id_.host_id), value, 0},
                           {HostKey(o_.prefix, KeyKind::kInfo, id_.host_id), InfoJson(&d, now), 0}});
  if (!rev.ok()) return rev.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.published;
    stats_.last_revision = *rev;
    stats_.last_publish_ns = now;
    stats_.last_latency_ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - offered_at).count());
    published_sha_ = d.sha256;
  }
  cv_.notify_all();
  if (on_published_) on_published_(stats());
  last_published_ = std::move(d);
  return Status::Ok();
}

void Publisher::Run() {
  std::mt19937_64 rng(std::random_device{}());
  auto backoff = kBackoffFirst;
  auto next_try = Clock::now();
  auto next_keepalive = Clock::now();
  const auto keepalive_every = std::chrono::milliseconds(o_.lease_ttl_s * 1000 / 3);
  while (true) {
    std::optional<Digest> todo;
    Clock::time_point todo_at;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto deadline = session_ ? next_keepalive : next_try;
      cv_.wait_until(lock, deadline, [&] {
        return stop_ || (session_ && pending_.has_value()) || Clock::now() >= deadline;
      });
      if (stop_) break;
      if (pending_ && (session_ || Clock::now() >= next_try)) {
        if (published_sha_ == pending_->sha256) {
          ++stats_.skipped_unchanged;
          pending_.reset();
        } else {
          todo = std::move(pending_);
          todo_at = pending_at_;
          pending_.reset();
        }
      }
    }
    const auto now = Clock::now();
    Status s;
    if (!session_) {
      if (now < next_try && !todo) continue;
      s = Connect();
      if (s.ok()) next_keepalive = Clock::now() + keepalive_every;
    }
    if (s.ok() && todo) {
      s = PublishDigest(*todo, todo_at);
      if (s.ok()) todo.reset();
    }
    if (s.ok() && catching_up_ && !todo) {
      bool newest_sent;
      {
        std::lock_guard<std::mutex> lock(mu_);
        newest_sent = !pending_ || pending_->sha256 == published_sha_;
      }
      if (newest_sent) {
        catching_up_ = false;
        Record("caught_up", {{"down_ms", std::to_string((WallNs() - down_since_ns_) / 1000000)},
                             {"sha256", last_published_ ? last_published_->sha256 : ""},
                             {"revision", std::to_string(stats().last_revision)}});
      }
    }
    if (s.ok() && session_ && Clock::now() >= next_keepalive) {
      auto ttl = client_->LeaseKeepAlive(lease_);
      if (!ttl.ok()) {
        s = ttl.status();
      } else if (*ttl <= 0) {
        // The lease expired (an outage longer than the TTL): the host showed down; start over.
        session_ = false;
        s = Status::Unavailable("lease " + std::to_string(lease_) + " expired");
        lease_ = 0;
      } else {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.heartbeats;
      }
      next_keepalive = Clock::now() + keepalive_every;
    }
    if (!s.ok()) {
      session_ = false;
      Failed(s);
      if (todo) {  // keep it unless something newer arrived meanwhile
        std::lock_guard<std::mutex> lock(mu_);
        if (!pending_) {
          pending_ = std::move(todo);
          pending_at_ = todo_at;
        }
      }
      const auto jitter = std::chrono::milliseconds(rng() % (backoff.count() / 4 + 1));
      next_try = Clock::now() + backoff + jitter;
      backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kBackoffMax));
    } else {
      backoff = kBackoffFirst;
    }
  }
  if (revoke_on_stop_ && session_ && lease_) {
    client_->LeaseRevoke(lease_).IgnoreError();  // best effort: otherwise the lease expires by itself
  }
}

}  // namespace twin::fleet
