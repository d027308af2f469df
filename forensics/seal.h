// Forward-secure seals. At set-up a random 32-byte key k_0 is written to <data dir>/seal.key
// (0600) and shown once, with the epoch origin t0 and the interval, as the verification key.
// Epoch e covers wall time [t0 + e*interval, t0 + (e+1)*interval). The daemon seals the chain
// head at most once per epoch with k_e: mac = HMAC-SHA256(k_e, "safetytwin-seal-v1" || key ||
// count || head || sealed_ns || e), then k_{e+1} = SHA256("safetytwin-evolve-v1" || k_e) is
// written over the old key in place and fsynced. Whoever takes the host later holds only the
// current k_e and cannot forge a seal for an earlier epoch; the verifier derives every k_e
// from k_0. See docs/FORENSICS.md for what is and is not protected.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "eventlog/log.h"

namespace twin {

using SealKey = std::array<uint8_t, 32>;
inline constexpr uint64_t kDefaultSealIntervalNs = 15ull * 60 * 1'000'000'000;

struct VerificationKey {
  uint64_t t0_ns = 0;
  uint64_t interval_ns = kDefaultSealIntervalNs;
  SealKey k0{};
};
std::string FormatVerificationKey(const VerificationKey& vk);  // "twinvk1:<t0>:<interval>:<hex>"
Result<VerificationKey> ParseVerificationKey(std::string_view text);
// A --key argument: the key itself, or "@path" for the first line of a file that holds it.
Result<VerificationKey> LoadVerificationKeyArg(const std::string& arg);

struct SealKeyState {
  uint64_t epoch = 0;  // the key below is k_epoch
  uint64_t t0_ns = 0;
  uint64_t interval_ns = kDefaultSealIntervalNs;
  SealKey key{};
};

std::string SealKeyPath(const std::string& data_dir);
// Writes a fresh key state (epoch 0) to <data_dir>/seal.key; refuses to replace one unless
// force. Returns the verification key, which is not stored anywhere on the host.
Result<VerificationKey> SetupSealKeys(const std::string& data_dir, uint64_t interval_ns,
                                      uint64_t now_ns, bool force);
Result<SealKeyState> ReadSealKeyState(const std::string& path);

SealKey EvolveSealKey(const SealKey& k);
std::string SealMacHex(const SealKey& k_epoch, const Seal& s);  // s.mac_epoch must be set
uint64_t EpochOf(uint64_t t0_ns, uint64_t interval_ns, uint64_t t_ns);

// Used by twind. Thread-compatible: call from the daemon loop only.
class ForwardSecureSealer {
 public:
  explicit ForwardSecureSealer(std::string data_dir);
  // Seals log.Head() if this epoch has no seal yet (no-op if the log has not grown since the last
  // seal: then the key is only evolved). Ok and a no-op when no key was set up (enabled()
  // false). REQUIRES: log opened as writer on the same data dir.
  Status MaybeSeal(EventLog& log, uint64_t now_ns);
  bool enabled();
  // Wall ns at which the next seal is due (0 when disabled): lets the caller sleep until then.
  uint64_t NextDueNs();
  uint64_t seals_written() const { return seals_written_; }

 private:
  Status Load();
  Status Store(const SealKeyState& st);
  std::string path_;
  bool loaded_ = false;
  bool present_ = false;
  SealKeyState state_;
  EventKey last_sealed_{};
  uint64_t last_count_ = 0;
  uint64_t seals_written_ = 0;
};

struct SealCheck {
  uint64_t keyed = 0;      // seals with a MAC
  uint64_t unkeyed = 0;    // seals without (the log's own count-based seals)
  uint64_t valid = 0;
  uint64_t last_keyed_count = 0;  // chain position of the last authentic keyed seal
  std::vector<VerifyProblem> problems;
  std::vector<std::string> notes;  // unsealed epochs and the like: worth reading, not failures
  bool ok() const { return problems.empty(); }
};
// Checks every seal's MAC, its epoch against its time and that epochs only go forward. Notes
// records that were first sealed more than two intervals after they were written (seals deleted
// and the history resealed later, or twind down); first_record_ns = ts of the first record the
// first seal covers (0 if unknown).
SealCheck CheckSealMacs(const VerificationKey& vk, const std::vector<Seal>& seals,
                        uint64_t first_record_ns = 0);

}  // namespace twin
