// berth-worker's configuration (actors/worker_config.cpp): the status server's address and the
// runtime-dependent boot timeout.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "actors/worker_config.hpp"

namespace berth::actors {
namespace {

std::expected<WorkerConfig, config::Error> load(std::vector<std::string> args) {
  args.insert(args.begin(), "berth-worker");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return load_worker_config(static_cast<int>(argv.size()), argv.data());
}

TEST(WorkerConfig, StatusServerIsOnByDefaultOnLoopback) {
  auto c = load({});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->status_listen, "127.0.0.1:9470");
}

TEST(WorkerConfig, StatusServerCanBeTurnedOffOrMoved) {
  auto off = load({"--status-listen", "off"});
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_EQ(off->status_listen, "off");
  auto moved = load({"--status-listen", ":0"});
  ASSERT_TRUE(moved) << moved.error().message;
}

TEST(WorkerConfig, BadStatusAddressNamesTheKey) {
  for (const char* bad : {"9470", "localhost:http", "127.0.0.1:70000"}) {
    auto c = load({"--status-listen", bad});
    ASSERT_FALSE(c) << bad;
    EXPECT_NE(c.error().message.find("status_listen"), std::string::npos) << c.error().message;
    EXPECT_NE(c.error().message.find(bad), std::string::npos) << c.error().message;
  }
}

TEST(WorkerConfig, HelpIsNotAnError) {
  auto c = load({"--help"});
  ASSERT_FALSE(c);
  EXPECT_TRUE(c.error().help);
  EXPECT_NE(c.error().message.find("--status-listen"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("BERTH_WORKER_STATUS_LISTEN"), std::string::npos);
}

TEST(WorkerConfig, NumbersMustFitTheirField) {
  auto c = load({"--slots", "4294967296"});  // 2^32: not a uint32_t
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("--slots"), std::string::npos) << c.error().message;
  EXPECT_FALSE(c.error().help);
  EXPECT_FALSE(load({"--slots", "-1"}));
  EXPECT_FALSE(load({"--slots", "2x"}));
}

// Running jobs renew their claim every third of the ack wait; a wait too short to renew in is
// refused at start, naming the key, instead of handing every running job to a second worker.
TEST(WorkerConfig, AckWaitBelowASecondIsRefused) {
  auto c = load({"--ack-wait-ms", "999"});
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("ack_wait_ms"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("999"), std::string::npos) << c.error().message;
  auto ok = load({"--ack-wait-ms", "1000"});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->ack_wait_ms, 1000u);
}

TEST(WorkerConfig, BootTimeoutDefaultsToTheRuntimes) {
  auto c = load({});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->boot_timeout_ms, 0u) << "0 = the runtime's default, resolved once it is chosen";
  EXPECT_EQ(default_boot_timeout_ms("jail"), 10'000u);
  EXPECT_GT(default_boot_timeout_ms("kvm"), default_boot_timeout_ms("jail"));
  auto set = load({"--boot-timeout-ms", "120000"});
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->boot_timeout_ms, 120'000u);
}

}  // namespace
}  // namespace berth::actors
