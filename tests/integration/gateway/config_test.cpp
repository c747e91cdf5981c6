// berth-gateway's configuration: file < environment < flags, and the errors it reports.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "gateway/config.hpp"
#include "tests/support/process.hpp"

namespace berth::test {
namespace {

using gateway::load_gateway_config;

struct Args {
  explicit Args(std::vector<std::string> a) : strings(std::move(a)) {
    strings.insert(strings.begin(), "berth-gateway");
    for (auto& s : strings) ptrs.push_back(s.data());
  }
  int argc() { return static_cast<int>(ptrs.size()); }
  char** argv() { return ptrs.data(); }
  std::vector<std::string> strings;
  std::vector<char*> ptrs;
};

class Config : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("config");
    file_ = (dir_ / "gateway.toml").string();
    std::ofstream(file_) << "listen = \"127.0.0.1:1111\"\nnats_url = \"nats://file:4222\"\n"
                            "max_body_bytes = 1024\nwait_timeout_ms = 7\n";
  }
  void TearDown() override {
    unsetenv("BERTH_GATEWAY_LISTEN");
    unsetenv("BERTH_GATEWAY_WAIT_TIMEOUT_MS");
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::string file_;
};

TEST_F(Config, DefaultsWorkOnOneMachine) {
  Args a({});
  auto c = load_gateway_config(a.argc(), a.argv());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->listen, "127.0.0.1:8080");
  EXPECT_EQ(c->nats_url, "nats://127.0.0.1:4222");
  EXPECT_EQ(c->max_body_bytes, 8u << 20);
  EXPECT_EQ(c->wait_timeout_ms, 120000u);
  EXPECT_FALSE(c->languages_dir.empty());
}

TEST_F(Config, FlagsBeatEnvironmentBeatsFile) {
  Args file_only({"--config", file_});
  auto c = load_gateway_config(file_only.argc(), file_only.argv());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->listen, "127.0.0.1:1111");
  EXPECT_EQ(c->nats_url, "nats://file:4222");
  EXPECT_EQ(c->max_body_bytes, 1024u);
  EXPECT_EQ(c->wait_timeout_ms, 7u);

  setenv("BERTH_GATEWAY_LISTEN", "127.0.0.1:2222", 1);
  setenv("BERTH_GATEWAY_WAIT_TIMEOUT_MS", "8", 1);
  c = load_gateway_config(file_only.argc(), file_only.argv());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->listen, "127.0.0.1:2222");
  EXPECT_EQ(c->wait_timeout_ms, 8u);
  EXPECT_EQ(c->nats_url, "nats://file:4222");

  Args flags({"--config", file_, "--listen", "127.0.0.1:3333", "--max-body-bytes", "99"});
  c = load_gateway_config(flags.argc(), flags.argv());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->listen, "127.0.0.1:3333");
  EXPECT_EQ(c->max_body_bytes, 99u);
  EXPECT_EQ(c->wait_timeout_ms, 8u);
}

TEST_F(Config, BadValuesAreNamed) {
  Args bad_number({"--wait-timeout-ms", "soon"});
  auto c = load_gateway_config(bad_number.argc(), bad_number.argv());
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("wait_timeout_ms must be a non-negative integer"),
            std::string::npos)
      << c.error().message;
  Args bad_listen({"--listen", "localhost"});
  c = load_gateway_config(bad_listen.argc(), bad_listen.argv());
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("host:port"), std::string::npos) << c.error().message;
  std::ofstream(file_, std::ios::app) << "colour = \"blue\"\n";
  Args unknown({"--config", file_});
  c = load_gateway_config(unknown.argc(), unknown.argv());
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("unknown key 'colour'"), std::string::npos) << c.error().message;
}

TEST_F(Config, PortZeroBindsAFreePortAndLogsIt) {
  Process p({std::string(BERTH_BINARY_DIR) + "/gateway/berth-gateway", "--listen", "127.0.0.1:0",
             "--nats-url", "nats://127.0.0.1:1"},
            dir_ / "gw.log");
  ASSERT_TRUE(eventually(
      [&] { return p.log_text().find("listening on http://127.0.0.1:") != std::string::npos; },
      std::chrono::seconds(10)))
      << p.log_text();
  EXPECT_EQ(p.log_text().find("listening on http://127.0.0.1:0\n"), std::string::npos)
      << "the bound port, not 0: " << p.log_text();
}

}  // namespace
}  // namespace berth::test
