// bind (enter+exit) → kSocketBind with the result; listen → kSocketListen; close of a listener →
// kListenerClose. TCP and UDP, IPv4 and IPv6, loopback only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

struct Case {
  int family;
  int type;
  const char* addr;
};

int BindLoopback(const Case& c, uint16_t port, int* err) {
  int fd = socket(c.family, c.type, 0);
  sockaddr_storage ss{};
  socklen_t len;
  if (c.family == AF_INET) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    inet_pton(AF_INET, c.addr, &s->sin_addr);
    len = sizeof(*s);
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    inet_pton(AF_INET6, c.addr, &s->sin6_addr);
    len = sizeof(*s);
  }
  *err = bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 ? 0 : errno;
  return fd;
}

uint16_t LocalPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

uint64_t Inode(int fd) {
  struct stat st {};
  fstat(fd, &st);
  return st.st_ino;
}

class SockProbe : public ::testing::TestWithParam<Case> {};

TEST_P(SockProbe, BindListenCloseCarryEveryField) {
  TWIN_REQUIRE_BPF();
  const Case c = GetParam();
  const bool tcp = c.type == SOCK_STREAM;
  std::string dir = MakeTempDir("sock");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  int err = 0;
  int fd = BindLoopback(c, 0, &err);
  ASSERT_EQ(err, 0);
  const uint16_t port = LocalPort(fd);
  const uint64_t ino = Inode(fd);
  if (tcp) ASSERT_EQ(listen(fd, 4), 0);
  // The same port again must fail, and the failure is recorded with its errno.
  int err2 = 0;
  int fd2 = BindLoopback(c, port, &err2);
  ASSERT_EQ(err2, EADDRINUSE);
  const uint64_t ino2 = Inode(fd2);
  close(fd2);
  close(fd);

  const uint8_t proto = tcp ? kProtoTcp : kProtoUdp;
  const uint8_t fam = c.family == AF_INET ? kFamilyInet : kFamilyInet6;
  const uint64_t my_start = ProcStartNs(getpid());
  std::string comm = ReadText("/proc/self/comm");
  comm.pop_back();
  auto check = [&](const Event& e, uint64_t inode) {
    EXPECT_EQ(e.pid, getpid());
    EXPECT_EQ(e.start_ns, my_start);
    EXPECT_EQ(e.comm, comm);
    EXPECT_EQ(e.uid, getuid());
    EXPECT_EQ(e.proto, proto);
    EXPECT_EQ(e.family, fam);
    EXPECT_EQ(e.addr, c.addr);
    EXPECT_EQ(e.port, port);
    EXPECT_EQ(e.sock_inode, inode);
  };
  auto bind_ok = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kSocketBind && e.sock_inode == ino;
  });
  ASSERT_TRUE(bind_ok.has_value()) << twind.Log();
  check(*bind_ok, ino);
  EXPECT_EQ(bind_ok->result, 0);
  auto bind_fail = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kSocketBind && e.sock_inode == ino2;
  });
  ASSERT_TRUE(bind_fail.has_value());
  check(*bind_fail, ino2);
  EXPECT_EQ(bind_fail->result, -EADDRINUSE);
  if (tcp) {
    auto lis = WaitForEvent(twind.data_dir(), [&](const Event& e) {
      return e.kind == EventKind::kSocketListen && e.sock_inode == ino;
    });
    ASSERT_TRUE(lis.has_value());
    check(*lis, ino);
    auto cls = WaitForEvent(twind.data_dir(), [&](const Event& e) {
      return e.kind == EventKind::kListenerClose && e.sock_inode == ino;
    });
    ASSERT_TRUE(cls.has_value());
    check(*cls, ino);
  } else {
    // UDP has no close tracepoint: the next reconciliation removes the socket from the state.
    auto rm = WaitForEvent(twind.data_dir(), [&](const Event& e) {
      return e.kind == EventKind::kResync && e.resync_op == ResyncOp::kRemove &&
             e.resync_entity == ResyncEntity::kListener && e.port == port && e.proto == proto;
    }, 5000);
    ASSERT_TRUE(rm.has_value());
    EXPECT_EQ(rm->addr, c.addr);
  }
  ASSERT_EQ(twind.Stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Loopback, SockProbe,
                         ::testing::Values(Case{AF_INET, SOCK_STREAM, "127.0.0.1"},
                                           Case{AF_INET6, SOCK_STREAM, "::1"},
                                           Case{AF_INET, SOCK_DGRAM, "127.0.0.1"},
                                           Case{AF_INET6, SOCK_DGRAM, "::1"}),
                         [](const auto& info) {
                           return std::string(info.param.type == SOCK_STREAM ? "Tcp" : "Udp") +
                                  (info.param.family == AF_INET ? "4" : "6");
                         });

TEST(SockProbeListen, FailedListenIsNotAListenerAndItsCloseIsNotReported) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("sock-fail");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  // Two sockets with SO_REUSEADDR bound to the same port: the second listen() fails in the port
  // check after inet_sock_set_state(LISTEN) has already fired.
  auto mk = [] {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    return fd;
  };
  int a = mk(), b = mk();
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(a, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  socklen_t len = sizeof(sa);
  getsockname(a, reinterpret_cast<sockaddr*>(&sa), &len);
  ASSERT_EQ(bind(b, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(listen(a, 4), 0);
  ASSERT_NE(listen(b, 4), 0);
  const uint64_t ino_b = Inode(b);
  close(b);
  close(a);
  ASSERT_TRUE(WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kListenerClose && e.port == ntohs(sa.sin_port);
  }).has_value());
  ASSERT_EQ(twind.Stop(), 0);
  int listens = 0, closes = 0;
  for (auto& ke : ReadAll(twind.data_dir())) {
    if (ke.event.port != ntohs(sa.sin_port) || ke.event.proto != kProtoTcp) continue;
    if (ke.event.kind == EventKind::kSocketListen) ++listens;
    if (ke.event.kind == EventKind::kListenerClose) ++closes;
    EXPECT_FALSE(ke.event.kind == EventKind::kSocketListen && ke.event.sock_inode == ino_b);
  }
  EXPECT_EQ(listens, 1);
  EXPECT_EQ(closes, 1);
}

}  // namespace
}  // namespace twin::testing
