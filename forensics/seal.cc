#include "forensics/seal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <fstream>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "eventlog/timefmt.h"
#include "forensics/digest.h"
#include "format/codec.h"

namespace twin {
namespace {

constexpr size_t kStateFileSize = 256;
constexpr uint64_t kMaxEpochWalk = 5'000'000;  // ~140 years of 15-minute epochs

void PutBE64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

std::string KeyHex(const SealKey& k) {
  return HexEncode(std::string_view(reinterpret_cast<const char*>(k.data()), k.size()));
}

std::string StateText(const SealKeyState& st) {
  char body[200];
  snprintf(body, sizeof body, "twin-seal-key v1 epoch=%" PRIu64 " t0=%" PRIu64 " interval=%" PRIu64
           " key=%s", st.epoch, st.t0_ns, st.interval_ns, KeyHex(st.key).c_str());
  std::string s = body;
  Hash check = Sha256::Of(s);
  s += " check=" + HashHex(check).substr(0, 16) + "\n";
  s.resize(kStateFileSize, ' ');
  s.back() = '\n';
  return s;
}

Status WriteAllAt(int fd, const std::string& data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = pwrite(fd, data.data() + off, data.size() - off, static_cast<off_t>(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return Status::IOError("cannot fsync " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace

std::string FormatVerificationKey(const VerificationKey& vk) {
  return "twinvk1:" + std::to_string(vk.t0_ns) + ":" + std::to_string(vk.interval_ns) + ":" +
         KeyHex(vk.k0);
}

Result<VerificationKey> LoadVerificationKeyArg(const std::string& arg) {
  std::string text = arg;
  if (!arg.empty() && arg[0] == '@') {
    std::ifstream f(arg.substr(1));
    if (!f) return Status::NotFound("cannot read the key file " + arg.substr(1));
    std::getline(f, text);
  }
  return ParseVerificationKey(text);
}

Result<VerificationKey> ParseVerificationKey(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  VerificationKey vk;
  char hex[65] = {};
  std::string t(text);
  unsigned long long t0 = 0, iv = 0;
  int used = 0;
  if (sscanf(t.c_str(), "twinvk1:%llu:%llu:%64[0-9a-fA-F]%n", &t0, &iv, hex, &used) != 3 ||
      static_cast<size_t>(used) != t.size() || iv == 0) {
    return Status::InvalidArgument(
        "verification key must look like twinvk1:<t0_ns>:<interval_ns>:<64 hex digits> (as printed "
        "by twin-replay setup-keys)");
  }
  Hash k;
  if (!ParseHashHex(hex, &k)) return Status::InvalidArgument("verification key: bad hex key");
  vk.t0_ns = t0;
  vk.interval_ns = iv;
  std::memcpy(vk.k0.data(), k.data(), 32);
  return vk;
}

std::string SealKeyPath(const std::string& data_dir) { return data_dir + "/seal.key"; }

SealKey EvolveSealKey(const SealKey& k) {
  Sha256 sha;
  sha.Update("safetytwin-evolve-v1");
  sha.Update(k.data(), k.size());
  Hash h = sha.Final();
  SealKey out;
  std::memcpy(out.data(), h.data(), 32);
  return out;
}

uint64_t EpochOf(uint64_t t0_ns, uint64_t interval_ns, uint64_t t_ns) {
  if (t_ns < t0_ns || interval_ns == 0) return 0;
  return (t_ns - t0_ns) / interval_ns;
}

std::string SealMacHex(const SealKey& k, const Seal& s) {
  std::string msg = "safetytwin-seal-v1";
  msg += EncodeKey(s.key);
  PutBE64(msg, s.count);
  msg.append(reinterpret_cast<const char*>(s.head.data()), s.head.size());
  PutBE64(msg, s.sealed_ns);
  PutBE64(msg, s.mac_epoch);
  return HashHex(HmacSha256(std::string_view(reinterpret_cast<const char*>(k.data()), k.size()), msg));
}

Result<SealKeyState> ReadSealKeyState(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no seal key at " + path);
    return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  }
  char buf[kStateFileSize + 1] = {};
  ssize_t n = pread(fd, buf, kStateFileSize, 0);
  close(fd);
  if (n <= 0) return Status::Corruption("seal key " + path + " is empty or unreadable");
  std::string text(buf, static_cast<size_t>(n));
  SealKeyState st;
  unsigned long long e = 0, t0 = 0, iv = 0;
  char hex[65] = {}, check[17] = {};
  int body_end = 0;
  if (sscanf(text.c_str(), "twin-seal-key v1 epoch=%llu t0=%llu interval=%llu key=%64[0-9a-f]%n check=%16[0-9a-f]",
             &e, &t0, &iv, hex, &body_end, check) != 5) {
    return Status::Corruption("seal key " + path + " is malformed; run twin-replay setup-keys --force");
  }
  if (HashHex(Sha256::Of(text.substr(0, static_cast<size_t>(body_end)))).substr(0, 16) != check) {
    return Status::Corruption("seal key " + path + " fails its checksum (torn write?)");
  }
  Hash k;
  if (!ParseHashHex(hex, &k) || iv == 0) return Status::Corruption("seal key " + path + " is malformed");
  st.epoch = e;
  st.t0_ns = t0;
  st.interval_ns = iv;
  std::memcpy(st.key.data(), k.data(), 32);
  OPENSSL_cleanse(k.data(), k.size());
  return st;
}

Result<VerificationKey> SetupSealKeys(const std::string& data_dir, uint64_t interval_ns,
                                      uint64_t now_ns, bool force) {
  if (interval_ns < 1'000'000'000ull) return Status::InvalidArgument("seal interval must be at least 1s");
  struct stat sb;
  if (stat(data_dir.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    return Status::NotFound("data dir " + data_dir + " does not exist (start twind once, or pass --data-dir)");
  }
  const std::string path = SealKeyPath(data_dir);
  SealKeyState st;
  st.epoch = 0;
  st.t0_ns = now_ns;
  st.interval_ns = interval_ns;
  if (RAND_bytes(st.key.data(), static_cast<int>(st.key.size())) != 1) {
    return Status::IOError("no randomness for the seal key (RAND_bytes failed)");
  }
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
  int fd = open(path.c_str(), flags, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Status::InvalidArgument("a seal key already exists at " + path +
                                     "; keys are set up once (use --force to start a new key chain: "
                                     "seals made with the old key stay verifiable with the old verification key)");
    }
    return Status::IOError("cannot create " + path + ": " + std::strerror(errno));
  }
  fchmod(fd, 0600);
  Status s = WriteAllAt(fd, StateText(st), path);
  close(fd);
  if (!s.ok()) return s;
  int dfd = open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  VerificationKey vk{st.t0_ns, st.interval_ns, st.key};
  OPENSSL_cleanse(st.key.data(), st.key.size());
  return vk;
}

ForwardSecureSealer::ForwardSecureSealer(std::string data_dir) : path_(SealKeyPath(data_dir)) {}

Status ForwardSecureSealer::Load() {
  if (loaded_) return Status::Ok();
  auto st = ReadSealKeyState(path_);
  if (!st.ok()) {
    if (st.status().code() == Status::Code::kNotFound) {
      present_ = false;  // looked for again on the next call: setup-keys may run while twind does
      return Status::Ok();
    }
    return st.status();
  }
  state_ = st.value();
  loaded_ = present_ = true;
  return Status::Ok();
}

bool ForwardSecureSealer::enabled() { return Load().ok() && present_; }

uint64_t ForwardSecureSealer::NextDueNs() {
  if (!enabled()) return 0;
  return state_.t0_ns + state_.epoch * state_.interval_ns;
}

Status ForwardSecureSealer::Store(const SealKeyState& st) {
  int fd = open(path_.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open " + path_ + ": " + std::strerror(errno));
  // Overwrite in place (same size) so that the old key's bytes are replaced, not just unlinked.
  Status s = WriteAllAt(fd, StateText(st), path_);
  close(fd);
  return s;
}

Status ForwardSecureSealer::MaybeSeal(EventLog& log, uint64_t now_ns) {
  Status ls = Load();
  if (!ls.ok()) return ls;
  if (!present_) return Status::Ok();
  const uint64_t epoch = EpochOf(state_.t0_ns, state_.interval_ns, now_ns);
  if (now_ns < state_.t0_ns || epoch < state_.epoch) return Status::Ok();  // not due yet
  if (epoch - state_.epoch > kMaxEpochWalk) {
    return Status::InvalidArgument("seal key epoch is " + std::to_string(state_.epoch) +
                                   " but the clock says " + std::to_string(epoch) + "; check the clock");
  }
  SealKeyState next = state_;
  SealKey k = state_.key;
  for (uint64_t e = state_.epoch; e < epoch; ++e) k = EvolveSealKey(k);  // skipped epochs
  const ChainHead head = log.Head();
  const bool grew = head.count != 0 && (head.count != last_count_ || !(head.key == last_sealed_));
  Seal seal;
  if (grew) {
    seal.key = head.key;
    seal.count = head.count;
    seal.head = head.head;
    seal.sealed_ns = now_ns;
    seal.mac_epoch = epoch;
    seal.mac = SealMacHex(k, seal);
  }
  // Erase first: once k_epoch has been used it must not survive on disk.
  next.epoch = epoch + 1;
  next.key = EvolveSealKey(k);
  OPENSSL_cleanse(k.data(), k.size());
  Status s = Store(next);
  if (!s.ok()) return s;
  OPENSSL_cleanse(state_.key.data(), state_.key.size());
  state_ = next;
  if (!grew) return Status::Ok();
  s = log.PutSeal(seal);
  if (!s.ok()) return s;
  last_sealed_ = head.key;
  last_count_ = head.count;
  ++seals_written_;
  return Status::Ok();
}

SealCheck CheckSealMacs(const VerificationKey& vk, const std::vector<Seal>& seals,
                        uint64_t first_record_ns) {
  SealCheck rep;
  uint64_t cur_epoch = 0;
  SealKey cur = vk.k0;
  bool have_prev = false;
  uint64_t prev_epoch = 0, prev_sealed = 0;
  uint64_t covered_from_ns = first_record_ns;  // oldest record the next seal newly covers
  for (const Seal& s : seals) {
    if (s.mac.empty()) {
      ++rep.unkeyed;
      continue;
    }
    ++rep.keyed;
    const std::string where = KeyToString(s.key);
    if (s.sealed_ns < vk.t0_ns || EpochOf(vk.t0_ns, vk.interval_ns, s.sealed_ns) != s.mac_epoch) {
      rep.problems.push_back({where, "seal claims epoch " + std::to_string(s.mac_epoch) +
                                         " but was made at " + FormatRfc3339Ns(s.sealed_ns) +
                                         ", outside that epoch: forged or wrong key"});
      continue;
    }
    if (have_prev && s.mac_epoch <= prev_epoch) {
      rep.problems.push_back({where, "seal epoch " + std::to_string(s.mac_epoch) +
                                         " does not follow the previous seal's epoch " +
                                         std::to_string(prev_epoch) + ": seals were forged or reordered"});
      continue;
    }
    if (s.mac_epoch < cur_epoch) {
      cur = vk.k0;
      cur_epoch = 0;
    }
    if (s.mac_epoch - cur_epoch > kMaxEpochWalk) {
      rep.problems.push_back({where, "seal epoch " + std::to_string(s.mac_epoch) + " is implausibly far"});
      continue;
    }
    while (cur_epoch < s.mac_epoch) {
      cur = EvolveSealKey(cur);
      ++cur_epoch;
    }
    if (!ConstantTimeEqual(SealMacHex(cur, s), s.mac)) {
      rep.problems.push_back({where, "seal MAC does not verify with the verification key (epoch " +
                                         std::to_string(s.mac_epoch) +
                                         "): the seal or the records it covers were forged"});
      continue;
    }
    ++rep.valid;
    rep.last_keyed_count = s.count;
    if (covered_from_ns != 0 && s.sealed_ns > covered_from_ns + 2 * vk.interval_ns) {
      rep.notes.push_back("WARNING: records from " + FormatRfc3339Ns(covered_from_ns) +
                          " were first sealed at " + FormatRfc3339Ns(s.sealed_ns) +
                          ", more than two seal intervals later: earlier seals were deleted and the "
                          "history resealed, or twind was down in between");
    }
    covered_from_ns = s.key.ts_ns + 1;
    if (have_prev && s.mac_epoch > prev_epoch + 1) {
      rep.notes.push_back("no keyed seal for epochs " + std::to_string(prev_epoch + 1) + ".." +
                          std::to_string(s.mac_epoch - 1) + " (" + FormatRfc3339Ns(prev_sealed) +
                          " to " + FormatRfc3339Ns(s.sealed_ns) +
                          "): twind was down or idle, or seals were deleted");
    }
    have_prev = true;
    prev_epoch = s.mac_epoch;
    prev_sealed = s.sealed_ns;
  }
  OPENSSL_cleanse(cur.data(), cur.size());
  if (rep.keyed == 0) {
    rep.problems.push_back({"meta:seals", "no seal carries a MAC: twind never sealed with a key "
                                          "(run twin-replay setup-keys before starting twind)"});
  }
  return rep;
}

}  // namespace twin
