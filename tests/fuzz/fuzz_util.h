// Helpers shared by the libFuzzer harnesses.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace twin::fuzz {

// The input as a file, for readers that take a path: a memfd (no disk, gone on close) named by
// its /proc/self/fd path.
class MemFile {
 public:
  MemFile(const uint8_t* data, size_t size) : fd_(memfd_create("fuzz-input", MFD_CLOEXEC)) {
    if (fd_ < 0) abort();
    size_t done = 0;
    while (done < size) {
      ssize_t n = write(fd_, data + done, size - done);
      if (n <= 0) abort();
      done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { close(fd_); }
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

// A property the harness checks failed: abort so libFuzzer records the input.
[[noreturn]] inline void Violated(const char* what) {
  fprintf(stderr, "fuzz property violated: %s\n", what);
  abort();
}

}  // namespace twin::fuzz
