// The twin's directories get their modes from code, not from whoever's umask: the regression
// behind "the twin never starts" when twind daemonized with umask 077 made them 0700.
#include "vm/dirs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "tests/common/skip.h"

namespace twin::vm {
namespace {
namespace fs = std::filesystem;

mode_t ModeOf(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

class Dirs : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/twin-dirs-XXXXXX";
    ASSERT_NE(mkdtemp(t), nullptr);
    dir_ = t;
    chmod(dir_.c_str(), 0755);
    old_umask_ = umask(077);  // what the daemonized twind runs with
  }
  void TearDown() override {
    umask(old_umask_);
    fs::remove_all(dir_);
  }
  std::string dir_;
  mode_t old_umask_ = 0;
};

TEST_F(Dirs, HypervisorDirsAreTraversableUnderUmask077) {
  const std::string root = dir_ + "/images/safetytwin";
  ASSERT_TRUE(MakeHypervisorDir(root).ok());
  ASSERT_TRUE(MakeHypervisorDir(root + "/twin").ok());
  EXPECT_EQ(ModeOf(dir_ + "/images"), 0711u);
  EXPECT_EQ(ModeOf(root), 0711u);
  EXPECT_EQ(ModeOf(root + "/twin"), 0711u);
  // An earlier run's 0700 directory (made under the old code) is repaired, not kept.
  chmod((root + "/twin").c_str(), 0700);
  ASSERT_TRUE(MakeHypervisorDir(root + "/twin").ok());
  EXPECT_EQ(ModeOf(root + "/twin"), 0711u);
}

TEST_F(Dirs, AnAncestorQemuCannotTraverseIsNamed) {
  ASSERT_EQ(mkdir((dir_ + "/private").c_str(), 0700), 0);
  Status s = MakeHypervisorDir(dir_ + "/private/twins");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(dir_ + "/private is mode 0700"), std::string::npos) << s.message();
}

TEST_F(Dirs, PrivateDirIsOwnerOnlyAndRefusesWhatOthersCouldPlant) {
  const std::string runs = dir_ + "/cache/ansible";
  ASSERT_TRUE(MakePrivateDir(runs).ok());
  EXPECT_EQ(ModeOf(runs), 0700u);
  // World-writable (what a pre-created /var/tmp dir could be).
  const std::string open_dir = dir_ + "/open";
  ASSERT_EQ(mkdir(open_dir.c_str(), 0700), 0);
  chmod(open_dir.c_str(), 0777);
  EXPECT_FALSE(MakePrivateDir(open_dir).ok());
  // A symlink to somewhere else.
  const std::string link = dir_ + "/link";
  ASSERT_EQ(symlink(runs.c_str(), link.c_str()), 0);
  EXPECT_FALSE(MakePrivateDir(link).ok());
  // Owned by another user (needs root to create such a directory).
  TWIN_REQUIRE(geteuid() == 0, "needs root to chown a directory to another uid");
  const std::string theirs = dir_ + "/theirs";
  ASSERT_EQ(mkdir(theirs.c_str(), 0700), 0);
  ASSERT_EQ(chown(theirs.c_str(), 65534, 65534), 0);
  Status s = MakePrivateDir(theirs);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("owned by uid 65534"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace twin::vm
