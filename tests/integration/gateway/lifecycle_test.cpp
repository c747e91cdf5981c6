// The gateway's life around NATS and its own restarts: up before NATS, restarted with jobs
// queued, stopped with streams open.
#include <sys/wait.h>

#include "tests/integration/gateway/gateway_fixture.hpp"

namespace berth::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

TEST(Lifecycle, StartsBeforeNatsAnswers503AndWorksOnceNatsIsUp) {
  NatsServer nats;
  nats.stop();
  GatewayProcess gw(nats.url());
  auto health = http("GET", gw.port(), "/healthz");
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_EQ(parse(health.body)["status"], "degraded");
  EXPECT_EQ(parse(health.body)["nats"], "disconnected");
  auto r = http("POST", gw.port(), "/v1/jobs", python_job().dump());
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_TRUE(parse(r.body).value("error", "").starts_with("NATS is unreachable: ")) << r.body;
  for (auto target : {"/v1/jobs/jx", "/v1/jobs/jx/events"}) {
    r = http("GET", gw.port(), target);
    EXPECT_EQ(r.status, 503) << target << ": " << r.body;
  }
  EXPECT_EQ(http("DELETE", gw.port(), "/v1/jobs/jx").status, 503);
  EXPECT_EQ(http("GET", gw.port(), "/v1/languages").status, 200) << "needs no NATS";
  EXPECT_NE(http("GET", gw.port(), "/metrics").body.find("berth_gateway_nats_connected 0\n"),
            std::string::npos);

  nats.start();
  ASSERT_TRUE(eventually([&] { return http("GET", gw.port(), "/healthz").status == 200; }, 20s))
      << gw.log();
  r = http("POST", gw.port(), "/v1/jobs", python_job().dump());
  ASSERT_EQ(r.status, 202) << r.body;
  NatsProbe probe(nats.url());
  EXPECT_TRUE(probe.record(parse(r.body)["id"]));
  EXPECT_EQ(probe.stream_messages(), 1u);
}

TEST(Lifecycle, RestartLosesNoQueuedJob) {
  NatsServer nats;
  GatewayProcess gw(nats.url());
  ASSERT_TRUE(eventually([&] { return http("GET", gw.port(), "/healthz").status == 200; }, 15s));
  auto r = http("POST", gw.port(), "/v1/jobs", python_job().dump());
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id = parse(r.body)["id"];

  int status = gw.stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  gw.start();
  ASSERT_TRUE(eventually([&] { return http("GET", gw.port(), "/healthz").status == 200; }, 15s));
  r = http("GET", gw.port(), "/v1/jobs/" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parse(r.body)["state"], "queued");
  NatsProbe probe(nats.url());
  EXPECT_EQ(probe.stream_messages(), 1u);
  auto last = probe.last_job();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->first.id, id);
}

TEST(Lifecycle, SigtermEndsOpenStreamsAndExitsCleanly) {
  NatsServer nats;
  GatewayProcess gw(nats.url());
  ASSERT_TRUE(eventually([&] { return http("GET", gw.port(), "/healthz").status == 200; }, 15s));
  auto r = http("POST", gw.port(), "/v1/jobs", python_job().dump());
  ASSERT_EQ(r.status, 202);
  std::string id = parse(r.body)["id"];
  SseReader sse(gw.port(), "GET", "/v1/jobs/" + id + "/events");
  ASSERT_TRUE(sse.wait_for(1));
  HttpResponse waited;
  std::thread waiter(
      [&] { waited = http("POST", gw.port(), "/v1/jobs?wait=true", python_job().dump(), 30s); });
  std::this_thread::sleep_for(300ms);

  auto t0 = std::chrono::steady_clock::now();
  int status = gw.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << gw.log();
  EXPECT_TRUE(sse.wait_end(5s));
  waiter.join();
  EXPECT_EQ(waited.status, 202) << "a wait cut short answers with the current record";
}

}  // namespace
}  // namespace berth::test
