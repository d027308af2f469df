// Real faults on real data dirs: the files RocksDB left are deleted, cut or flipped in place, and
// the dir's contents are fingerprinted to prove that a refusal changed nothing.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/core/test_util.h"

namespace twin::testing {

// name -> content of every regular file in dir (data dirs in tests are small).
inline std::map<std::string, std::string> Fingerprint(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream f(e.path(), std::ios::binary);
    out[e.path().filename().string()] =
        std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  return out;
}

inline std::vector<std::string> FilesEndingWith(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The newest (highest-numbered) non-empty WAL, or "".
inline std::string NewestWal(const std::string& dir) {
  std::string best;
  for (const auto& p : FilesEndingWith(dir, ".log")) {
    if (std::filesystem::file_size(p) > 0) best = p;
  }
  return best;
}

inline void TruncateTo(const std::string& path, uint64_t size) {
  ASSERT_EQ(truncate(path.c_str(), static_cast<off_t>(size)), 0) << path;
}

// XORs n bytes at offset with 0xff, in place.
inline void FlipBytes(const std::string& path, uint64_t offset, size_t n) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f) << path;
  std::string buf(n, '\0');
  f.seekg(static_cast<std::streamoff>(offset));
  f.read(buf.data(), static_cast<std::streamsize>(n));
  for (char& c : buf) c = static_cast<char>(c ^ 0xff);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(buf.data(), static_cast<std::streamsize>(n));
  ASSERT_TRUE(f.good()) << path;
}

}  // namespace twin::testing
