// The worker's status server (actors/status_server.cpp, actors/worker_status.cpp) on a real
// stack: /healthz names the runtime and why it was chosen and follows the NATS connection;
// /metrics counts what the worker's jobs did.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tests/integration/pipeline/stack.hpp"
#include "tests/support/ports.hpp"

namespace berth::test {
namespace {

using namespace std::chrono_literals;

class WorkerStatus : public StackSuite {
 protected:
  HttpResponse worker_get(const std::string& target) {
    return http("GET", stack_->worker_status_port(), target);
  }
};

TEST_F(WorkerStatus, HealthzNamesTheRuntimeAndItsReason) {
  auto r = worker_get("/healthz");
  ASSERT_EQ(r.status, 200) << r.body << r.error;
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["runtime"], "jail");
  EXPECT_FALSE(j["runtime_reason"].get<std::string>().empty()) << r.body;
  EXPECT_EQ(j["nats"], "connected");
  EXPECT_EQ(j["slots"], 2);
  EXPECT_EQ(j["running"], 0);
  EXPECT_FALSE(j["worker_id"].get<std::string>().empty());
}

TEST_F(WorkerStatus, MetricsCountFinishedJobsAndBoots) {
  auto rec = stack_->run(job("python", "print('hi')"));
  ASSERT_EQ(rec["result"]["verdict"], "ok") << rec.dump();
  rec = stack_->run(job("python", "import sys; sys.exit(3)"));
  ASSERT_EQ(rec["result"]["verdict"], "runtime_error") << rec.dump();

  // The result is persisted (and answered) just before the supervisor tears its machine down.
  HttpResponse r;
  EXPECT_TRUE(eventually(
      [&] {
        r = worker_get("/metrics");
        return r.body.find("berth_worker_jobs_running 0\n") != std::string::npos;
      },
      10s))
      << r.body;
  ASSERT_EQ(r.status, 200) << r.error;
  const auto& m = r.body;
  EXPECT_NE(m.find("berth_worker_jobs_finished_total{verdict=\"ok\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("berth_worker_jobs_finished_total{verdict=\"runtime_error\"} 1\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("berth_worker_machine_boot_seconds_count 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("berth_worker_machine_boot_failures_total 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find(",runtime=\"jail\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("berth_worker_nats_connected 1\n"), std::string::npos) << m;
}

TEST_F(WorkerStatus, UnknownPathsAndMethodsGetClearErrors) {
  auto r = worker_get("/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("/healthz"), std::string::npos) << r.body;
  r = http("POST", stack_->worker_status_port(), "/metrics", "x");
  EXPECT_EQ(r.status, 405) << r.body;
  // A query string does not change the answer.
  EXPECT_EQ(worker_get("/healthz?verbose=1").status, 200);
}

TEST_F(WorkerStatus, HealthzIsDegradedWhileNatsIsAway) {
  stack_->nats().stop();
  EXPECT_TRUE(eventually([&] { return worker_get("/healthz").status == 503; }, 20s));
  auto j = nlohmann::json::parse(worker_get("/healthz").body);
  EXPECT_EQ(j["status"], "degraded");
  EXPECT_EQ(j["nats"], "disconnected");
  stack_->nats().start();
  EXPECT_TRUE(eventually([&] { return worker_get("/healthz").status == 200; }, 30s))
      << stack_->worker_log();
}

TEST(WorkerStatusPort, ATakenPortStopsTheWorkerWithTheReason) {
  // A second worker asked for a port that is already bound must say so and exit, not run blind.
  Stack stack(1);
  NatsServer& nats = stack.nats();
  auto dir = scratch_dir("worker2");
  // It must stop before it touches the host: its bridge must never appear.
  std::string bridge = "bts" + std::to_string(getpid() % 100000);
  Process second({std::string(BERTH_BINARY_DIR) + "/actors/berth-worker", "--nats-url", nats.url(),
                  "--state-dir", (dir / "state").string(), "--bridge", bridge, "--runtime", "jail",
                  "--status-listen", "127.0.0.1:" + std::to_string(stack.worker_status_port())},
                 dir / "worker.log");
  ASSERT_TRUE(eventually([&] { return !second.running(); }, 30s)) << second.log_text();
  EXPECT_NE(second.log_text().find("status server"), std::string::npos) << second.log_text();
  EXPECT_NE(second.log_text().find("in use"), std::string::npos) << second.log_text();
  EXPECT_FALSE(std::filesystem::exists("/sys/class/net/" + bridge));
}

TEST(WorkerStatusPort, StartingUntilNatsIsThere) {
  // No nats-server at this port: the worker keeps retrying, and says so on /healthz.
  auto dir = scratch_dir("worker-starting");
  uint16_t nats_port = free_port(), status_port = free_port();
  std::string bridge = "btw" + std::to_string(getpid() % 100000);
  Process worker(
      {std::string(BERTH_BINARY_DIR) + "/actors/berth-worker", "--nats-url",
       "nats://127.0.0.1:" + std::to_string(nats_port), "--state-dir", (dir / "state").string(),
       "--bridge", bridge, "--cidr", "10.213.251.0/24", "--runtime", "jail", "--status-listen",
       "127.0.0.1:" + std::to_string(status_port)},
      dir / "worker.log");
  HttpResponse r;
  EXPECT_TRUE(eventually(
      [&] {
        r = http("GET", status_port, "/healthz");
        return r.status == 503;
      },
      20s))
      << r.status << " " << r.body << worker.log_text();
  if (r.status == 503) {
    auto j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j["status"], "starting");
    EXPECT_EQ(j["runtime"], "jail");
  }
  EXPECT_TRUE(worker.running()) << worker.log_text();
  worker.stop();
  run({"ip", "link", "del", bridge}, 5s);
}

}  // namespace
}  // namespace berth::test
