#include "eventlog/chain_anchor.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

// The SHA256_* functions are deprecated in OpenSSL 3 in favour of EVP, not removed.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "eventlog/open_guard.h"

namespace twin {

namespace {

constexpr char kMagic[8] = {'T', 'W', 'A', 'N', 'C', 'H', 'R', '1'};
constexpr size_t kSlotSize = 512;
// magic, generation, count, ts_ns, seq, written_ns, hash, then a SHA-256 of all of it.
constexpr size_t kBody = 8 + 5 * 8 + 32;
constexpr size_t kRecord = kBody + 32;

void Put64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
uint64_t Get64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

void Digest(const char* body, char* out) {
  SHA256(reinterpret_cast<const unsigned char*>(body), kBody, reinterpret_cast<unsigned char*>(out));
}

bool Decode(const char* p, AnchorRecord* r) {
  if (std::memcmp(p, kMagic, 8) != 0) return false;
  char d[32];
  Digest(p, d);
  if (std::memcmp(d, p + kBody, 32) != 0) return false;
  r->generation = Get64(p + 8);
  r->head.count = Get64(p + 16);
  r->head.key = {Get64(p + 24), Get64(p + 32)};
  r->written_ns = Get64(p + 40);
  std::memcpy(r->head.head.data(), p + 48, 32);
  return true;
}

uint64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string PathOf(const std::string& dir) { return dir + "/" + kAnchorFileName; }

Result<std::optional<AnchorRecord>> ReadFd(int fd, const std::string& path) {
  char buf[2 * kSlotSize] = {};
  const ssize_t n = pread(fd, buf, sizeof(buf), 0);
  if (n < 0) return Status::IOError("cannot read " + path + ": " + std::strerror(errno));
  std::optional<AnchorRecord> best;
  for (size_t slot = 0; slot < 2; ++slot) {
    if (static_cast<size_t>(n) < slot * kSlotSize + kRecord) break;
    AnchorRecord r;
    if (Decode(buf + slot * kSlotSize, &r) && (!best || r.generation > best->generation)) best = r;
  }
  if (!best && n > 0) {
    return Status::Corruption("the chain anchor " + path +
                              " is unreadable (both copies fail their checksum)");
  }
  return best;
}

}  // namespace

ChainAnchor::ChainAnchor(int fd, std::string path, uint64_t generation)
    : fd_(fd), path_(std::move(path)), generation_(generation) {}

ChainAnchor::~ChainAnchor() {
  if (dirty_) (void)fdatasync(fd_);  // best effort: the last group commit already synced it
  close(fd_);
}

Result<std::unique_ptr<ChainAnchor>> ChainAnchor::Open(const std::string& dir) {
  const std::string path = PathOf(dir);
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  auto cur = ReadFd(fd, path);
  uint64_t gen = 0;
  if (cur.ok() && cur.value()) gen = cur.value()->generation;
  // An unreadable anchor is replaced: the open that found it has already reported it.
  return std::unique_ptr<ChainAnchor>(new ChainAnchor(fd, path, gen));
}

Result<std::optional<AnchorRecord>> ChainAnchor::Read(const std::string& dir) {
  const std::string path = PathOf(dir);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<AnchorRecord>();
    return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  }
  auto r = ReadFd(fd, path);
  close(fd);
  return r;
}

Status ChainAnchor::Update(const ChainHead& head) {
  char rec[kRecord];
  const uint64_t gen = generation_ + 1;
  std::memcpy(rec, kMagic, 8);
  Put64(rec + 8, gen);
  Put64(rec + 16, head.count);
  Put64(rec + 24, head.key.ts_ns);
  Put64(rec + 32, head.key.seq);
  Put64(rec + 40, WallNs());
  std::memcpy(rec + 48, head.head.data(), 32);
  Digest(rec, rec + kBody);
  const off_t off = static_cast<off_t>((gen % 2) * kSlotSize);
  if (pwrite(fd_, rec, sizeof(rec), off) != static_cast<ssize_t>(sizeof(rec))) {
    return Status::IOError("cannot write " + path_ + ": " + std::strerror(errno));
  }
  generation_ = gen;
  dirty_ = true;
  return Status::Ok();
}

Status ChainAnchor::Sync() {
  if (!dirty_.exchange(false)) return Status::Ok();
  if (fdatasync(fd_) != 0) {
    dirty_ = true;  // synced again next time
    return Status::IOError("cannot sync " + path_ + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace twin
