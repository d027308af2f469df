// twind's parts that run without privileges: the reader→writer queue, sd_notify, the metrics
// text and the unit cgroup tracker.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "userspace/daemon_metrics.h"
#include "userspace/event_queue.h"
#include "userspace/sd_notify.h"
#include "userspace/unit_tracker.h"

namespace twin::capture {
namespace {

Decoded Rec(int pid) {
  Decoded d;
  d.event.pid = pid;
  return d;
}

TEST(EventQueue, RefusesBeyondItsCapacityAndHandsOutAtMostMaxInOrder) {
  EventQueue q(3);
  for (int i = 1; i <= 3; ++i) EXPECT_TRUE(q.TryPush(Rec(i)));
  EXPECT_FALSE(q.TryPush(Rec(4))) << "a full queue took a record";
  EXPECT_EQ(q.size(), 3u);
  std::vector<Decoded> out;
  q.PopBatch(&out, 2, std::chrono::milliseconds(0));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].event.pid, 1);
  EXPECT_EQ(out[1].event.pid, 2);
  EXPECT_TRUE(q.TryPush(Rec(5)));
  out.clear();
  q.PopBatch(&out, 10, std::chrono::milliseconds(0));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].event.pid, 3);
  EXPECT_EQ(out[1].event.pid, 5);
}

TEST(EventQueue, WakeEndsAWaitOnAnEmptyQueue) {
  EventQueue q(4);
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    q.Wake();
  });
  std::vector<Decoded> out;
  const auto t0 = std::chrono::steady_clock::now();
  q.PopBatch(&out, 4, std::chrono::hours(1));  // without the wake this never returns
  waker.join();
  EXPECT_TRUE(out.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::minutes(10));
}

class NotifySocket {
 public:
  explicit NotifySocket(bool abstract) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    name_ = "twin-notify-" + std::to_string(getpid()) + (abstract ? "-a" : "-p");
    socklen_t len;
    if (abstract) {
      std::memcpy(sa.sun_path + 1, name_.data(), name_.size());
      len = offsetof(sockaddr_un, sun_path) + 1 + name_.size();
      env_ = "@" + name_;
    } else {
      path_ = "/tmp/" + name_;
      unlink(path_.c_str());
      std::memcpy(sa.sun_path, path_.data(), path_.size());
      len = offsetof(sockaddr_un, sun_path) + path_.size();
      env_ = path_;
    }
    ok_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&sa), len) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) close(fd_);
    if (!path_.empty()) unlink(path_.c_str());
  }
  bool ok() const { return ok_; }
  const std::string& env() const { return env_; }
  std::string Receive() {
    char buf[4096];
    const ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    return n < 0 ? std::string("<nothing>") : std::string(buf, n);
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bool ok_ = false;
  std::string name_, path_, env_;
};

TEST(SdNotify, SendsToAPathOrAnAbstractSocketAndIsANoOpWithoutOne) {
  for (bool abstract : {false, true}) {
    NotifySocket s(abstract);
    ASSERT_TRUE(s.ok()) << std::strerror(errno);
    setenv("NOTIFY_SOCKET", s.env().c_str(), 1);
    EXPECT_TRUE(NotifyManager("READY=1\nSTATUS=capturing"));
    EXPECT_EQ(s.Receive(), "READY=1\nSTATUS=capturing") << s.env();
  }
  unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(NotifyManager("READY=1"));
  setenv("NOTIFY_SOCKET", ("/tmp/" + std::string(200, 'x')).c_str(), 1);
  EXPECT_FALSE(NotifyManager("READY=1")) << "a path longer than sun_path was used";
  unsetenv("NOTIFY_SOCKET");
}

TEST(SdNotify, APeerThatNeverReadsDoesNotBlockTheSender) {
  NotifySocket s(false);
  ASSERT_TRUE(s.ok());
  int small = 4096;
  setsockopt(s.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  setenv("NOTIFY_SOCKET", s.env().c_str(), 1);
  int refused = 0;
  for (int i = 0; i < 2000 && refused == 0; ++i) refused += !NotifyManager("WATCHDOG=1");
  unsetenv("NOTIFY_SOCKET");
  EXPECT_GT(refused, 0) << "2000 datagrams fitted in a 4 KB receive buffer";
}

TEST(DaemonMetrics, EveryCounterAndEachCpusDropsAreRendered) {
  DaemonCounters c;
  c.received[TWIN_EV_EXEC] = 7;
  c.written[static_cast<int>(EventKind::kProcessExec)] = 5;
  c.gaps = 2;
  c.db_bytes = 4096;
  DropTable drops(2);
  drops[1][TWIN_EV_EXEC] = 3;
  const std::string m = RenderDaemonMetrics(c, drops);
  EXPECT_NE(m.find("twind_events_received_total{kind=\"exec\"} 7\n"), std::string::npos) << m;
  EXPECT_NE(m.find("twind_events_written_total{kind=\"exec\"} 5\n"), std::string::npos) << m;
  EXPECT_NE(m.find("twind_ringbuf_drops_total{kind=\"exec\",cpu=\"1\"} 3\n"), std::string::npos) << m;
  EXPECT_NE(m.find("twind_ringbuf_drops_total{kind=\"exec\",cpu=\"0\"} 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("twind_gaps_total 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("twind_db_size_bytes 4096\n"), std::string::npos) << m;
  for (const char* name : {"twind_queue_depth", "twind_decode_errors_total", "twind_batch_latency_seconds_sum",
                           "twind_compactions_total", "twind_reconcile_last_seconds",
                           "twind_resync_corrections_total", "twind_append_errors_total"}) {
    EXPECT_NE(m.find(std::string(name) + " "), std::string::npos) << name;
  }
}

CgroupChange Cg(bool mkdir, int hierarchy, const char* root, const char* path) {
  CgroupChange c;
  c.mkdir = mkdir;
  c.hierarchy_id = hierarchy;
  c.root_name = root;
  c.path = path;
  return c;
}

TEST(UnitCgroupTracker, AUnitStartsInItsFirstHierarchyAndStopsWhenTheLastLetsGo) {
  UnitCgroupTracker t;
  std::string unit;
  using C = UnitCgroupTracker::Change;
  EXPECT_EQ(t.OnCgroup(Cg(true, 0, "", "/system.slice/web.service"), &unit), C::kFirstHeld);
  EXPECT_EQ(unit, "web.service");
  EXPECT_EQ(t.OnCgroup(Cg(true, 3, "systemd", "/system.slice/web.service"), &unit), C::kNone);
  EXPECT_EQ(t.OnCgroup(Cg(false, 0, "", "/system.slice/web.service"), &unit), C::kNone)
      << "v1 name=systemd still holds it";
  EXPECT_EQ(t.OnCgroup(Cg(false, 3, "systemd", "/system.slice/web.service"), &unit), C::kLastGone);
  EXPECT_EQ(unit, "web.service");
  EXPECT_TRUE(t.held().empty());
  // Other v1 hierarchies and directories that are not units are not units.
  EXPECT_EQ(t.OnCgroup(Cg(true, 4, "cpu", "/system.slice/web.service"), &unit), C::kNone);
  EXPECT_EQ(unit, "");
  EXPECT_EQ(t.OnCgroup(Cg(true, 0, "", "/system.slice/web.service/worker"), &unit), C::kNone);
  EXPECT_EQ(t.OnCgroup(Cg(true, 0, "", "/system.slice/session-2.mount"), &unit), C::kNone);
  EXPECT_TRUE(t.held().empty());
}

TEST(UnitCgroupTracker, AScanReplacesWhatIsKnownAndAnUnknownRemovalMayBeAStop) {
  UnitCgroupTracker t;
  std::string unit;
  using C = UnitCgroupTracker::Change;
  t.Reset({{"db.service", {UnitCgroupTracker::kV2, UnitCgroupTracker::kV1Systemd}}});
  EXPECT_EQ(t.OnCgroup(Cg(true, 0, "", "/system.slice/db.service"), &unit), C::kNone)
      << "the scan had it held already";
  EXPECT_EQ(t.OnCgroup(Cg(false, 0, "", "/system.slice/db.service"), &unit), C::kNone);
  EXPECT_EQ(t.OnCgroup(Cg(false, 5, "systemd", "/system.slice/db.service"), &unit), C::kLastGone);
  // Never seen held (systemd reported it, its directory predates the scan): the daemon decides.
  EXPECT_EQ(t.OnCgroup(Cg(false, 0, "", "/system.slice/cron.service"), &unit), C::kLastGone);
  EXPECT_EQ(unit, "cron.service");
}

}  // namespace
}  // namespace twin::capture
