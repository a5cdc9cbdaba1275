// PackageIndex on a small dpkg database written to a temporary directory, and on this host's.
#include "host/package_identity.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

namespace ut::host {
namespace {

namespace fs = std::filesystem;

class FakeDpkg : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("fake-dpkg-" + std::to_string(getpid()));
    fs::create_directories(root_ / "info");
    write("status",
          "Package: libfoo1\nStatus: install ok installed\nMulti-Arch: same\n"
          "Architecture: amd64\nVersion: 1:2.3.4-5+deb12u1\nDescription: foo\n continued\n\n"
          "Package: bar-tools\nStatus: install ok installed\nArchitecture: all\nVersion: 7\n");
    write("info/libfoo1:amd64.list",
          "/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libfoo.so.1\n" +
              (root_ / "real" / "libfoo.so.1.0").string() + "\n");
    write("info/bar-tools.list", "/usr/bin/bar\n/usr/sbin/barctl\n");
    write("info/gone.list", "/usr/bin/gone\n");  // no status stanza: not installed
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(root_ / name) << text;
  }
  fs::path root_;
};

TEST_F(FakeDpkg, OwnerWithVersionAndArchitecture) {
  PackageIndex index((root_).string());
  auto owner = index.owner("/lib/x86_64-linux-gnu/libfoo.so.1");
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->package, "libfoo1");
  EXPECT_EQ(owner->version, "1:2.3.4-5+deb12u1");
  EXPECT_EQ(owner->architecture, "amd64");
  EXPECT_EQ(index.owner("/usr/bin/bar")->package, "bar-tools");
  EXPECT_FALSE(index.owner("/usr/bin/gone"));
  EXPECT_FALSE(index.owner("/usr/bin/unknown"));
}

TEST_F(FakeDpkg, MergedUsrBothWays) {
  PackageIndex index(root_.string());
  EXPECT_EQ(index.owner("/usr/lib/x86_64-linux-gnu/libfoo.so.1")->package, "libfoo1");
  EXPECT_EQ(index.owner("/sbin/barctl")->package, "bar-tools");
}

TEST_F(FakeDpkg, SymlinkResolvedToTheListedFile) {
  fs::create_directories(root_ / "real");
  fs::create_directories(root_ / "links");
  write("real/libfoo.so.1.0", "");
  fs::create_symlink(root_ / "real" / "libfoo.so.1.0", root_ / "links" / "libfoo.so.1");
  PackageIndex index(root_.string());
  EXPECT_EQ(index.owner((root_ / "links" / "libfoo.so.1").string())->package, "libfoo1");
}

TEST(PackageIndex, NoDpkgDatabaseKnowsNothing) {
  PackageIndex index("/nonexistent/dpkg");
  EXPECT_FALSE(index.owner("/usr/lib/x86_64-linux-gnu/libc.so.6"));
}

TEST(PackageIndex, UpstreamVersion) {
  EXPECT_EQ(upstream_version("1.6.2-3"), "1.6.2");
  EXPECT_EQ(upstream_version("1:14.0.6-12"), "14.0.6");
  EXPECT_EQ(upstream_version("12.2.0-14+deb12u1"), "12.2.0");
  EXPECT_EQ(upstream_version("2.36"), "2.36");
  EXPECT_EQ(upstream_version("1:2.3-4-5"), "2.3-4");
}

TEST(PackageIndex, MergedUsrTwin) {
  EXPECT_EQ(merged_usr_twin("/lib/x86_64-linux-gnu/libc.so.6"),
            "/usr/lib/x86_64-linux-gnu/libc.so.6");
  EXPECT_EQ(merged_usr_twin("/usr/lib64/ld-linux-x86-64.so.2"), "/lib64/ld-linux-x86-64.so.2");
  EXPECT_EQ(merged_usr_twin("/usr/bin/ls"), "/bin/ls");
  EXPECT_FALSE(merged_usr_twin("/usr/share/doc/x"));
  EXPECT_FALSE(merged_usr_twin("/library/x"));
  EXPECT_FALSE(merged_usr_twin("/lib"));
  EXPECT_FALSE(merged_usr_twin("/etc/passwd"));
}

// This host's database: Debian 12's libunwind8 (the project's setup installs it).
TEST(PackageIndex, DebianLibunwind) {
  PackageIndex index;
  auto start = std::chrono::steady_clock::now();
  auto owner = index.owner("/usr/lib/x86_64-linux-gnu/libunwind.so.8");
  auto built = std::chrono::steady_clock::now();
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->package, "libunwind8");
  EXPECT_EQ(owner->version, "1.6.2-3");
  EXPECT_EQ(owner->architecture, "amd64");
  // The twin of a /usr/lib path and the real file behind the SONAME symlink.
  EXPECT_EQ(index.owner("/lib/x86_64-linux-gnu/libunwind.so.8")->package, "libunwind8");
  EXPECT_EQ(index.owner("/usr/lib/x86_64-linux-gnu/libunwind.so.8.0.1")->package, "libunwind8");
  EXPECT_EQ(index.owner("/lib64/ld-linux-x86-64.so.2")->package, "libc6");
  auto looked_up = std::chrono::steady_clock::now();
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  RecordProperty("index_build_ms", std::to_string(ms(built - start)));
  std::printf("dpkg index: built in %.1f ms, 3 more lookups in %.3f ms\n", ms(built - start),
              ms(looked_up - built));
  EXPECT_LT(ms(built - start), 1000.0) << "the one-time index build should take tens of ms";
}

}  // namespace
}  // namespace ut::host
