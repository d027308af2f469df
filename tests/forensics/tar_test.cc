// Tar members of 8 GiB and more: their size does not fit the 11 octal digits of ustar. The
// archives here are sparse files (a real header, then a hole as the member's data), so no test
// writes gigabytes; GNU tar reads them as the independent oracle.
#include "forensics/tar.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace twin {
namespace {

class TarSizeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/twin-tar-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // header + hole of the member's padded size + the two zero end blocks.
  std::string SparseArchive(const std::string& name, uint64_t size) {
    auto header = TarHeaderBlock(name, size, 1764126727);
    EXPECT_TRUE(header.ok()) << header.status().ToString();
    const std::string path = dir_ + "/" + name + ".tar";
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, header->data(), header->size()), 512);
    const off_t end = static_cast<off_t>(512 + (size + 511) / 512 * 512 + 1024);
    EXPECT_EQ(ftruncate(fd, end), 0);
    close(fd);
    return path;
  }

  // `tar -tvf`'s size column for the only member.
  static std::string GnuTarSize(const std::string& path) {
    std::string cmd = "tar --numeric-owner -tvf '" + path + "' 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int rc = pclose(p);
    EXPECT_EQ(WEXITSTATUS(rc), 0) << out;
    // "-rw-r--r-- 0/0 8589934593 2025-11-26 03:12 big"
    char perms[16], owner[32];
    unsigned long long size = 0;
    if (sscanf(out.c_str(), "%15s %31s %llu", perms, owner, &size) != 3) return "unparsed: " + out;
    return std::to_string(size);
  }

  std::string dir_;
};

TEST_F(TarSizeTest, MembersOf8GiBAndMoreKeepTheirSize) {
  for (uint64_t size : {(8ull << 30) - 1, 8ull << 30, (8ull << 30) + 1, 100ull << 30}) {
    SCOPED_TRACE(size);
    const std::string path = SparseArchive("m" + std::to_string(size), size);
    EXPECT_EQ(GnuTarSize(path), std::to_string(size));
    auto members = ListTar(path);
    ASSERT_TRUE(members.ok()) << members.status().ToString();
    ASSERT_EQ(members->size(), 1u);
    EXPECT_EQ((*members)[0].size, size);
    EXPECT_EQ((*members)[0].offset, 512u);
  }
}

TEST_F(TarSizeTest, ReaderRefusesASizeBeyondTheArchiveWithoutWrapping) {
  // A base-256 size near 2^64 would wrap "offset + size" past the end check.
  auto header = TarHeaderBlock("huge", ~0ull - 100, 0);
  ASSERT_TRUE(header.ok());
  const std::string path = dir_ + "/huge.tar";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, header->data(), 512), 512);
  ASSERT_EQ(ftruncate(fd, 512 + 1024), 0);
  close(fd);
  auto members = ListTar(path);
  ASSERT_FALSE(members.ok());
  EXPECT_NE(members.status().message().find("truncated"), std::string::npos)
      << members.status().message();
}

}  // namespace
}  // namespace twin
