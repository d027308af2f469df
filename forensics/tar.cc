#include "forensics/tar.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace twin {
namespace {

constexpr size_t kBlock = 512;

void Octal(char* field, size_t width, uint64_t v) {
  // width includes the terminating NUL.
  std::string s(width - 1, '0');
  for (size_t i = width - 1; i-- > 0;) {
    s[i] = static_cast<char>('0' + (v & 7));
    v >>= 3;
  }
  std::memcpy(field, s.data(), width - 1);
  field[width - 1] = '\0';
}

uint64_t ParseOctal(const char* field, size_t width, bool* ok) {
  uint64_t v = 0;
  size_t i = 0;
  while (i < width && field[i] == ' ') ++i;
  bool any = false;
  for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) {
    v = (v << 3) | static_cast<uint64_t>(field[i] - '0');
    any = true;
  }
  for (; i < width; ++i) {
    if (field[i] != '\0' && field[i] != ' ') *ok = false;
  }
  if (!any) *ok = false;
  return v;
}

// A numeric header field: octal digits (NUL- or space-terminated), or GNU base-256 when the
// first byte has its high bit set (0x80: positive; 0xff would be negative, never valid here).
uint64_t ParseNumeric(const char* field, size_t width, bool* ok) {
  const auto first = static_cast<uint8_t>(field[0]);
  if (!(first & 0x80)) return ParseOctal(field, width, ok);
  if (first != 0x80) {
    *ok = false;
    return 0;
  }
  uint64_t v = 0;
  for (size_t i = 1; i < width; ++i) {
    if (v >> 56) {  // more than 64 bits
      *ok = false;
      return 0;
    }
    v = (v << 8) | static_cast<uint8_t>(field[i]);
  }
  return v;
}

// The size field (12 bytes): octal while it fits 11 digits, GNU base-256 beyond.
void SizeField(char* field, uint64_t size) {
  constexpr uint64_t kOctalMax = (1ull << 33) - 1;  // 8^11 - 1
  if (size <= kOctalMax) {
    Octal(field, 12, size);
    return;
  }
  field[0] = static_cast<char>(0x80);
  for (int i = 11; i >= 1; --i) {
    field[i] = static_cast<char>(size & 0xff);
    size >>= 8;
  }
}

uint32_t Checksum(const char* block) {
  uint32_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<uint8_t>(block[i]);
  }
  return sum;
}

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

Result<std::unique_ptr<TarWriter>> TarWriter::Create(const std::string& path, uint64_t mtime_s) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError(Errno("cannot create " + path));
  FILE* f = fdopen(fd, "wb");
  if (!f) {
    close(fd);
    return Status::IOError(Errno("cannot open " + path));
  }
  setvbuf(f, nullptr, _IOFBF, 1 << 20);
  return std::unique_ptr<TarWriter>(new TarWriter(f, path, mtime_s));
}

TarWriter::~TarWriter() {
  if (f_) fclose(f_);
}

Result<std::string> TarHeaderBlock(const std::string& name, uint64_t size, uint64_t mtime_s) {
  if (name.empty() || name.size() >= 100) return Status::InvalidArgument("tar member name too long: " + name);
  std::string block(kBlock, '\0');
  char* b = block.data();
  std::memcpy(b, name.data(), name.size());
  Octal(b + 100, 8, 0644);
  Octal(b + 108, 8, 0);
  Octal(b + 116, 8, 0);
  SizeField(b + 124, size);
  Octal(b + 136, 12, mtime_s);
  b[156] = '0';
  std::memcpy(b + 257, "ustar", 6);
  std::memcpy(b + 263, "00", 2);
  std::memcpy(b + 265, "root", 4);
  std::memcpy(b + 297, "root", 4);
  Octal(b + 148, 7, Checksum(b));
  b[155] = ' ';
  return block;
}

Status TarWriter::Header(const std::string& name, uint64_t size, long at) {
  auto b = TarHeaderBlock(name, size, mtime_);
  if (!b.ok()) return b.status();
  if (fseek(f_, at, SEEK_SET) != 0 || fwrite(b->data(), 1, kBlock, f_) != kBlock) {
    return Status::IOError(Errno("cannot write " + path_));
  }
  return Status::Ok();
}

Status TarWriter::Begin(const std::string& name) {
  if (header_at_ >= 0) return Status::InvalidArgument("tar member " + name_ + " not ended");
  name_ = name;
  size_ = 0;
  header_at_ = ftell(f_);
  return Header(name, 0, header_at_);
}

Status TarWriter::Write(std::string_view bytes) {
  if (bytes.empty()) return Status::Ok();
  if (fwrite(bytes.data(), 1, bytes.size(), f_) != bytes.size()) {
    return Status::IOError(Errno("cannot write " + path_));
  }
  size_ += bytes.size();
  return Status::Ok();
}

Status TarWriter::End() {
  static const char kZero[kBlock] = {};
  const size_t pad = (kBlock - size_ % kBlock) % kBlock;
  if (pad && fwrite(kZero, 1, pad, f_) != pad) return Status::IOError(Errno("cannot write " + path_));
  const long end = ftell(f_);
  Status s = Header(name_, size_, header_at_);
  if (!s.ok()) return s;
  if (fseek(f_, end, SEEK_SET) != 0) return Status::IOError(Errno("cannot seek " + path_));
  header_at_ = -1;
  return Status::Ok();
}

Status TarWriter::Add(const std::string& name, std::string_view content) {
  Status s = Begin(name);
  if (s.ok()) s = Write(content);
  if (s.ok()) s = End();
  return s;
}

Status TarWriter::Close() {
  static const char kZero[2 * kBlock] = {};
  if (fwrite(kZero, 1, sizeof kZero, f_) != sizeof kZero || fflush(f_) != 0 ||
      fsync(fileno(f_)) != 0) {
    return Status::IOError(Errno("cannot finish " + path_));
  }
  int rc = fclose(f_);
  f_ = nullptr;
  if (rc != 0) return Status::IOError(Errno("cannot close " + path_));
  return Status::Ok();
}

Result<std::vector<TarMember>> ListTar(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(fopen(path.c_str(), "rb"), fclose);
  if (!f) return Status::IOError(Errno("cannot open " + path));
  struct stat stbuf;
  if (fstat(fileno(f.get()), &stbuf) != 0) return Status::IOError(Errno("cannot stat " + path));
  const uint64_t file_size = static_cast<uint64_t>(stbuf.st_size);
  std::vector<TarMember> out;
  uint64_t pos = 0;
  char b[kBlock];
  while (true) {
    if (fseeko(f.get(), static_cast<off_t>(pos), SEEK_SET) != 0 ||
        fread(b, 1, kBlock, f.get()) != kBlock) {
      return Status::Corruption("tar archive " + path + " ends without its end marker at byte " +
                                std::to_string(pos) + " (truncated?)");
    }
    bool zero = true;
    for (char c : b) zero = zero && c == 0;
    if (zero) break;
    std::string name(b, strnlen(b, 100));
    bool printable = !name.empty();
    for (unsigned char c : name) printable = printable && c >= 0x20 && c < 0x7f;
    const std::string who = printable ? "member '" + name + "'" : "header at byte " + std::to_string(pos);
    bool ok = true;
    const uint64_t stored_sum = ParseOctal(b + 148, 8, &ok);
    if (!ok || stored_sum != Checksum(b)) {
      return Status::Tampered("tar header checksum mismatch for " + who +
                              ": the archive was modified");
    }
    ok = true;
    const uint64_t size = ParseNumeric(b + 124, 12, &ok);
    if (!ok) return Status::Tampered("tar " + who + " has an unreadable size");
    if (b[156] != '0' && b[156] != '\0') {
      return Status::Tampered("tar " + who + " is not a regular file");
    }
    if (!printable) return Status::Tampered("tar " + who + " has an unreadable name");
    const uint64_t data = pos + kBlock;
    if (data > file_size || size > file_size - data) {  // written so a huge size cannot wrap
      return Status::Corruption("tar " + who + " is truncated (" + std::to_string(size) +
                                " bytes declared)");
    }
    for (const auto& m : out) {
      if (m.name == name) return Status::Tampered("tar member '" + name + "' appears twice");
    }
    out.push_back({name, data, size});
    pos = data + (size + kBlock - 1) / kBlock * kBlock;
  }
  return out;
}

}  // namespace twin
