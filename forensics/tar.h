// Minimal POSIX ustar archives: enough for case bundles that `tar xf` and `sha256sum -c` can
// open without our tools. The writer streams members of unknown size into a seekable file
// (the header is patched when the member ends); the reader lists members and checks every
// header checksum. Names are ours (ASCII, < 100 bytes); never extract a foreign tar with this.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "eventlog/status.h"
#include "forensics/digest.h"

namespace twin {

class TarWriter {
 public:
  // Creates/truncates path (mode 0600).
  static Result<std::unique_ptr<TarWriter>> Create(const std::string& path, uint64_t mtime_s);
  ~TarWriter();
  Status Begin(const std::string& name);  // starts a member
  Status Write(std::string_view bytes);   // appends to the current member
  Status End();                           // finishes the member (pads, patches its header)
  Status Add(const std::string& name, std::string_view content);  // Begin+Write+End
  Status Close();                         // two zero blocks, fsync

 private:
  TarWriter(FILE* f, std::string path, uint64_t mtime) : f_(f), path_(std::move(path)), mtime_(mtime) {}
  Status Header(const std::string& name, uint64_t size, long at);
  FILE* f_;
  std::string path_;
  uint64_t mtime_;
  std::string name_;
  long header_at_ = -1;
  uint64_t size_ = 0;
};

// The 512-byte ustar header of a regular member. Sizes of 8 GiB and more do not fit the
// 11 octal digits of the size field: they are written in GNU base-256 (first byte 0x80, then the
// size big-endian), which GNU tar, bsdtar and Python's tarfile read. Exposed so tests can check
// headers of members too large to write.
Result<std::string> TarHeaderBlock(const std::string& name, uint64_t size, uint64_t mtime_s);

struct TarMember {
  std::string name;
  uint64_t offset = 0;  // of the data
  uint64_t size = 0;
};

// Lists the members; a bad header checksum, a truncated member or a non-regular entry is an
// error naming the member (or the byte offset when the name itself is unreadable).
Result<std::vector<TarMember>> ListTar(const std::string& path);

// A member of an archive (found by ReadTarIndex), read sequentially through a private buffer;
// hashes what it reads (SHA-256 of the whole member from Finish).
class TarMemberReader {
 public:
  TarMemberReader(const std::string& path, const TarMember& m, bool hash = true) : left_(m.size), hash_(hash) {
    f_ = fopen(path.c_str(), "rb");
    if (f_ && fseeko(f_, static_cast<off_t>(m.offset), SEEK_SET) != 0) {
      fclose(f_);
      f_ = nullptr;
    }
    buf_.resize(1 << 20);
  }
  ~TarMemberReader() {
    if (f_) fclose(f_);
  }
  bool ok() const { return f_ != nullptr; }
  // Reads exactly n bytes into out (false at the end of the member or on error).
  bool Read(size_t n, std::string& out) {
    out.clear();
    while (out.size() < n) {
      if (pos_ == end_ && !Fill()) return false;
      const size_t take = std::min(n - out.size(), end_ - pos_);
      out.append(buf_.data() + pos_, take);
      pos_ += take;
    }
    return true;
  }
  // Like Read, but points into the buffer when the bytes are contiguous there (valid until the
  // next call); copies into scratch otherwise.
  bool ReadView(size_t n, std::string_view* out, std::string& scratch) {
    if (pos_ == end_ && !Fill()) return n == 0;
    if (end_ - pos_ >= n) {
      *out = std::string_view(buf_.data() + pos_, n);
      pos_ += n;
      return true;
    }
    if (!Read(n, scratch)) return false;
    *out = scratch;
    return true;
  }
  // Reads through the next '\n' (included), or to the end of the member.
  bool ReadLine(std::string& line) {
    line.clear();
    while (true) {
      if (pos_ == end_ && !Fill()) return !line.empty();
      const char* p = buf_.data() + pos_;
      const void* nl = memchr(p, '\n', end_ - pos_);
      const size_t take = nl ? static_cast<size_t>(static_cast<const char*>(nl) - p) + 1 : end_ - pos_;
      line.append(p, take);
      pos_ += take;
      if (nl) return true;
    }
  }
  bool ReadAll(std::string& out, uint64_t limit) {
    if (left_ + (end_ - pos_) > limit) return false;
    return Read(static_cast<size_t>(left_ + (end_ - pos_)), out);
  }
  // Hashes whatever was not read yet and returns the digest of the whole member.
  Hash Finish() {
    pos_ = end_;
    while (Fill()) pos_ = end_;
    return sha_.Final();
  }
  uint64_t left() const { return left_ + (end_ - pos_); }

 private:
  bool Fill() {
    if (!f_ || left_ == 0) return false;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left_, buf_.size()));
    if (fread(buf_.data(), 1, n, f_) != n) {
      left_ = 0;
      return false;
    }
    left_ -= n;
    if (hash_) sha_.Update(std::string_view(buf_.data(), n));
    pos_ = 0;
    end_ = n;
    return true;
  }
  FILE* f_ = nullptr;
  uint64_t left_;  // not yet read from the file
  bool hash_;
  std::string buf_;
  size_t pos_ = 0, end_ = 0;
  Sha256 sha_;
};

}  // namespace twin
