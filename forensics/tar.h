// Minimal POSIX ustar archives: enough for case bundles that `tar xf` and `sha256sum -c` can
// open without our tools. The writer streams members of unknown size into a seekable file
// (the header is patched when the member ends); the reader lists members and checks every
// header checksum. Names are ours (ASCII, < 100 bytes); never extract a foreign tar with this.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "eventlog/status.h"

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

}  // namespace twin
