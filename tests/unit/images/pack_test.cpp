// The initramfs packer and the trimmer, checked against the system's own cpio and zstd tools.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "images/cpio_writer.hpp"
#include "images/language.hpp"
#include "images/remove_tree.hpp"
#include "images/trim.hpp"
#include "images/zstd_writer.hpp"
#include "tests/support/process.hpp"

namespace berth::images {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int sh(const std::string& cmd) {
  return std::system(("sh -c '" + cmd + "'").c_str());
}

TEST(Pack, CpioZstdUnpacksToTheSameTree) {
  auto dir = test::scratch_dir("pack");
  auto tree = dir / "tree";
  write(tree / "usr/bin/tool", std::string(300'000, 'x') + "end");
  write(tree / "etc/odd", "abc");  // 3 bytes: exercises the 4-byte padding
  write(tree / "empty", "");
  fs::create_directories(tree / "work");
  fs::create_symlink("usr/bin", tree / "bin");
  ASSERT_EQ(mknod((tree / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  write(dir / "agent", "#!/bin/sh\necho agent\n");

  auto out = ZstdWriter::open(dir / "img.cpio.zst");
  ASSERT_TRUE(out) << out.error();
  CpioWriter cpio([&](std::span<const uint8_t> d) { return out->write(d); });
  ASSERT_TRUE(cpio.add_tree(tree));
  ASSERT_TRUE(cpio.add_file(dir / "agent", "init", 0755));
  ASSERT_TRUE(cpio.finish());
  ASSERT_TRUE(out->finish());
  EXPECT_LT(out->bytes_out(), out->bytes_in() / 10);  // 300 kB of one byte compresses well

  auto x = dir / "x";
  fs::create_directories(x);
  ASSERT_EQ(sh("cd " + x.string() + " && zstd -dcq ../img.cpio.zst | cpio -idm --quiet"), 0);
  EXPECT_EQ(read(x / "usr/bin/tool"), read(tree / "usr/bin/tool"));
  EXPECT_EQ(read(x / "etc/odd"), "abc");
  EXPECT_TRUE(fs::exists(x / "empty"));
  EXPECT_TRUE(fs::is_directory(x / "work"));
  EXPECT_EQ(fs::read_symlink(x / "bin"), "usr/bin");
  struct stat st;
  ASSERT_EQ(stat((x / "null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(major(st.st_rdev), 1u);
  EXPECT_EQ(minor(st.st_rdev), 3u);
  ASSERT_EQ(stat((x / "init").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  EXPECT_EQ(read(x / "init"), read(dir / "agent"));

  // Parents come before their children: the kernel creates entries in archive order.
  auto listing = dir / "list";
  ASSERT_EQ(sh("zstd -dcq " + (dir / "img.cpio.zst").string() + " | cpio -t --quiet > " +
               listing.string()),
            0);
  auto names = read(listing);
  EXPECT_LT(names.find("usr\n"), names.find("usr/bin\n"));
  EXPECT_LT(names.find("usr/bin\n"), names.find("usr/bin/tool\n"));
  fs::remove_all(dir);
}

TEST(Pack, SameTreePacksToTheSameBytes) {
  auto dir = test::scratch_dir("pack-repro");
  write(dir / "tree/a/b", "1");
  write(dir / "tree/c", "2");
  std::string bytes[2];
  for (auto& b : bytes) {
    CpioWriter cpio([&](std::span<const uint8_t> d) -> std::expected<void, std::string> {
      b.append(reinterpret_cast<const char*>(d.data()), d.size());
      return {};
    });
    ASSERT_TRUE(cpio.add_tree(dir / "tree"));
    ASSERT_TRUE(cpio.finish());
  }
  EXPECT_EQ(bytes[0], bytes[1]);
  EXPECT_EQ(bytes[0].size() % 4, 0u);
  fs::remove_all(dir);
}

TEST(Pack, MissingTreeIsAnErrorNamingIt) {
  CpioWriter cpio([](std::span<const uint8_t>) -> std::expected<void, std::string> { return {}; });
  auto r = cpio.add_tree("/nonexistent/berth-tree");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("/nonexistent/berth-tree"), std::string::npos) << r.error();
}

Language lang_with(std::vector<std::string> keep, std::vector<std::string> trim) {
  Language l;
  l.name = "t";
  l.keep = std::move(keep);
  l.trim = std::move(trim);
  return l;
}

TEST(Trim, RemovesTheDefaultSetAndTheLanguagesOwn) {
  auto root = test::scratch_dir("trim");
  write(root / "usr/share/doc/bash/README", std::string(1000, 'd'));
  write(root / "usr/share/man/man1/ls.1", "man");
  write(root / "usr/bin/perl", "perl");
  write(root / "usr/share/perl/5.36/strict.pm", "pm");
  write(root / "var/log/dpkg.log", "log");
  write(root / "usr/bin/python3", "keep me");
  write(root / "opt/big/blob", "blob");
  auto freed = trim_rootfs(root, lang_with({"usr/share/perl", "usr/bin/perl"}, {"opt/big"}));
  ASSERT_TRUE(freed) << freed.error();
  EXPECT_GE(*freed, 1000u);
  EXPECT_FALSE(fs::exists(root / "usr/share/doc"));
  EXPECT_FALSE(fs::exists(root / "usr/share/man"));
  EXPECT_FALSE(fs::exists(root / "var/log/dpkg.log"));
  EXPECT_TRUE(fs::exists(root / "var/log"));  // "var/log/*": the directory stays
  EXPECT_FALSE(fs::exists(root / "opt/big"));
  EXPECT_TRUE(fs::exists(root / "usr/bin/perl"));  // kept by the language
  EXPECT_TRUE(fs::exists(root / "usr/share/perl/5.36/strict.pm"));
  EXPECT_EQ(read(root / "usr/bin/python3"), "keep me");
  fs::remove_all(root);
}

TEST(Trim, RefusesToFollowAnAbsoluteSymlinkOutOfTheRoot) {
  auto root = test::scratch_dir("trim-escape");
  auto outside = test::scratch_dir("trim-outside");
  write(outside / "victim/file", "precious");
  fs::create_directories(root / "opt");
  fs::create_symlink(outside, root / "opt/link");
  auto r = trim_rootfs(root, lang_with({}, {"opt/link/victim"}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("outside"), std::string::npos) << r.error();
  EXPECT_EQ(read(outside / "victim/file"), "precious");
  fs::remove_all(root);
  fs::remove_all(outside);
}

TEST(Trim, LanguageFileRejectsPathsLeavingTheRoot) {
  for (auto* bad : {"/etc", "../x", "usr/../../x"}) {
    auto r = parse_language(std::string("name = \"x\"\nversion = \"1\"\nsource_file = \"a\"\n"
                                        "packages = [\"p\"]\nrun = [\"r\"]\n[image]\ntrim = [\"") +
                                bad + "\"]\n",
                            "x.toml");
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().find("image.trim"), std::string::npos) << r.error();
  }
}

TEST(RemoveTree, DetachesMountsLeftInsideAndNeverCrossesIntoThem) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting needs root";
  auto dir = test::scratch_dir("remove-tree");
  auto outside = test::scratch_dir("remove-tree-outside");
  write(outside / "precious", "keep");
  write(dir / "rootfs/etc/file", "x");
  fs::create_directories(dir / "rootfs/dev");
  // What a killed mmdebstrap leaves: a host directory bound inside the root it was building.
  ASSERT_EQ(mount(outside.c_str(), (dir / "rootfs/dev").c_str(), nullptr, MS_BIND, nullptr), 0)
      << std::strerror(errno);
  auto r = remove_tree(dir);
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_EQ(read(outside / "precious"), "keep");
  EXPECT_TRUE(remove_tree(dir));  // already gone: fine
  fs::remove_all(outside);
}

}  // namespace
}  // namespace berth::images
