#include "vmm/jail/jail_config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/process.hpp"

namespace berth::vmm::jail {
namespace {

namespace fs = std::filesystem;

class JailConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = berth::test::scratch_dir("jail-config");
    fs::create_directories(dir_ / "rootfs");
    std::ofstream(dir_ / "agent") << "#!/bin/sh\n";
    fs::permissions(dir_ / "agent", fs::perms::owner_all);
    cfg_.job_id = "0190a3c2-7f1e-7d2a-9c1b-3e4f5a6b7c8d";
    cfg_.rootfs = dir_ / "rootfs";
    cfg_.agent = dir_ / "agent";
    cfg_.run_dir = dir_ / "run";
    cfg_.net = {"berth0", "10.213.0.7", 24, "10.213.0.1"};
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string error_of(const MachineConfig& c) {
    auto ok = check_config(c);
    return ok ? std::string("(accepted)") : ok.error();
  }
  fs::path dir_;
  MachineConfig cfg_;
};

TEST_F(JailConfig, AcceptsAGoodConfig) {
  auto ok = check_config(cfg_);
  EXPECT_TRUE(ok) << ok.error();
}

TEST(JobId, MustBeASafeDirectoryName) {
  for (auto good : {"a", "0190a3c2-7f1e-7d2a-9c1b-3e4f5a6b7c8d", "job_1.retry-2"})
    EXPECT_TRUE(check_job_id(good)) << good;
  for (auto bad : {"", ".", "..", "../etc", "a/b", "a b", "a\nb", "ü"})
    EXPECT_FALSE(check_job_id(bad)) << bad;
  EXPECT_FALSE(check_job_id(std::string(129, 'a')));
}

TEST_F(JailConfig, NamesTheFieldThatIsWrong) {
  auto c = cfg_;
  c.rootfs = dir_ / "missing";
  EXPECT_NE(
      error_of(c).find("rootfs " + (dir_ / "missing").string() + ": No such file or directory"),
      std::string::npos)
      << error_of(c);
  c = cfg_;
  c.rootfs = dir_ / "agent";
  EXPECT_NE(error_of(c).find("is not a directory"), std::string::npos) << error_of(c);
  c = cfg_;
  fs::permissions(dir_ / "agent", fs::perms::owner_read | fs::perms::owner_write);
  // No execute bit at all: even root's access(X_OK) says no.
  EXPECT_NE(error_of(c).find("not an executable file"), std::string::npos) << error_of(c);
  fs::permissions(dir_ / "agent", fs::perms::owner_all);
  c.agent = dir_ / "rootfs";
  EXPECT_NE(error_of(c).find("not an executable file"), std::string::npos) << error_of(c);
  c = cfg_;
  c.run_dir = "/";
  EXPECT_NE(error_of(c).find("run_dir"), std::string::npos) << error_of(c);
  c.run_dir = "";
  EXPECT_NE(error_of(c).find("run_dir"), std::string::npos) << error_of(c);
  c = cfg_;
  c.net.bridge = "a-bridge-name-too-long";
  EXPECT_NE(error_of(c).find("bridge"), std::string::npos) << error_of(c);
  c = cfg_;
  c.net.guest_ip = "10.213.1.7";
  EXPECT_NE(error_of(c).find("not a free host address of 10.213.0.0/24"), std::string::npos)
      << error_of(c);
  c.net.guest_ip = "10.213.0.1";
  EXPECT_NE(error_of(c).find("not a free host address"), std::string::npos) << error_of(c);
  c.net.guest_ip = "10.213.0.255";
  EXPECT_NE(error_of(c).find("not a free host address"), std::string::npos) << error_of(c);
  c.net.guest_ip = "10.213.0.x";
  EXPECT_NE(error_of(c).find("guest address"), std::string::npos) << error_of(c);
  c = cfg_;
  c.net.prefix_len = 31;
  EXPECT_NE(error_of(c).find("1..30"), std::string::npos) << error_of(c);
  c = cfg_;
  c.work_dir_bytes = 0;
  EXPECT_NE(error_of(c).find("work dir"), std::string::npos) << error_of(c);
  c = cfg_;
  c.memory_mib = 0;
  EXPECT_NE(error_of(c).find("memory"), std::string::npos) << error_of(c);
  c = cfg_;
  c.job_id = "../../x";
  EXPECT_NE(error_of(c).find("job id"), std::string::npos) << error_of(c);
}

}  // namespace
}  // namespace berth::vmm::jail
