// The fleet publisher: twind's link to etcd, on a thread of its own so that capture never waits.
// It holds a lease (the host's heartbeat: keep-alive every TTL/3), keeps <prefix>alive/<host>
// on it, and publishes the newest digest it was offered when its content changed (never a
// backlog: an offer replaces the one not yet sent). etcd down, slow or without quorum: retries
// with backoff (250 ms doubling to 5 s), and reports fleet events (connected, lost, caught_up)
// to its sink, which twind writes to the local log.
// Thread safety: Offer, stats and WaitPublished may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "eventlog/event.h"
#include "fleet/digest.h"
#include "fleet/etcd.h"
#include "fleet/options.h"

namespace twin::fleet {

struct PublisherStats {
  bool connected = false;
  uint64_t published = 0;       // digests written
  uint64_t offered = 0;         // digests offered
  uint64_t skipped_unchanged = 0;
  uint64_t superseded = 0;      // offers replaced by a newer one before they were sent
  uint64_t failures = 0;        // failed requests (each retried later)
  uint64_t heartbeats = 0;
  uint64_t too_large = 0;       // digests over kMaxDigestBytes, not published
  int64_t lease = 0;
  int64_t last_revision = 0;    // etcd revision of the last digest written
  uint64_t last_publish_ns = 0;
  uint64_t last_latency_ns = 0; // offer -> written, of the last digest
  std::string last_error;
};

// The stats as Prometheus text (twind_fleet_*), for twind's metrics endpoint.
std::string PrometheusText(const PublisherStats& s);

// A fleet event for the local log (kind fleet; attrs event=connected|lost|caught_up, ...).
Event FleetEvent(std::string_view what, uint64_t ts_ns,
                 std::vector<std::pair<std::string, std::string>> attrs);

class Publisher {
 public:
  using EventSink = std::function<void(Event)>;  // called on the publisher thread
  // REQUIRES: ValidateFleetOptions(o).ok(), CheckHostId(id.host_id).ok().
  Publisher(FleetOptions o, HostIdentity id, EventSink sink, std::string version = "");
  ~Publisher();  // Stop(true)
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Called on the publisher thread after each digest is written, with the stats then (benches
  // collect latencies with it). REQUIRES: before Start.
  void SetOnPublished(std::function<void(const PublisherStats&)> fn) { on_published_ = std::move(fn); }

  // Reads the password file and starts the thread.
  Status Start();
  // revoke: give the lease back so the host shows down at once (a clean stop); false leaves it
  // to expire, as when the host dies.
  void Stop(bool revoke = true);

  // Never blocks on etcd. The digest's host_id and labels are set from the publisher's own.
  void Offer(Digest d);
  void OfferState(const State& s) { Offer(MakeDigest(s, id_, o_.labels)); }

  PublisherStats stats() const;
  // Waits (a condition, not a timing) until the digest with this sha256 is in etcd; false after
  // max or when stopped.
  bool WaitPublished(const std::string& sha256, std::chrono::milliseconds max);
  const HostIdentity& identity() const { return id_; }
  const FleetOptions& options() const { return o_; }

 private:
  void Run();
  Status Connect();
  Status PublishDigest(Digest d, std::chrono::steady_clock::time_point offered_at);
  void Failed(const Status& s);
  void Record(std::string_view what, std::vector<std::pair<std::string, std::string>> attrs);
  std::string InfoJson(const Digest* d, uint64_t now_ns) const;

  const FleetOptions o_;
  const HostIdentity id_;
  const EventSink sink_;
  const std::string version_;
  std::string password_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool revoke_on_stop_ = true;
  std::optional<Digest> pending_;
  std::chrono::steady_clock::time_point pending_at_;
  PublisherStats stats_;
  std::string published_sha_;  // guarded by mu_ (read by WaitPublished)

  // Publisher thread only.
  enum class Link { kUnknown, kUp, kDown };
  Link link_ = Link::kUnknown;
  bool session_ = false;   // lease held and alive key written
  bool catching_up_ = false;
  uint64_t down_since_ns_ = 0;
  uint64_t started_ns_ = 0;
  std::optional<Digest> last_published_;
  std::unique_ptr<EtcdClient> client_;
  std::function<void(const PublisherStats&)> on_published_;
  int64_t lease_ = 0;
  std::thread thread_;
};

}  // namespace twin::fleet
