// POST /v1/jobs as the gateway alone sees it: the record it writes, the message it enqueues,
// and the read endpoints next to it.
#include <regex>

#include "messages/clock.hpp"
#include "tests/integration/gateway/gateway_fixture.hpp"

namespace berth::test {
namespace {

using messages::JobState;
using nlohmann::json;

TEST_F(GatewayTest, SubmitWritesAQueuedRecordAndEnqueuesTheSpecOnce) {
  json job = {
      {"language", "python"},        {"source", "print(input())"},
      {"stdin", "hello\n"},          {"args", {"-v", "two words"}},
      {"env", {{"GREETING", "hi"}}}, {"limits", {{"wall_ms", 1500}, {"output_bytes", 4096}}}};
  auto before = messages::now_ms();
  auto r = post("/v1/jobs", job);
  ASSERT_EQ(r.status, 202) << r.body;
  auto body = parse(r.body);
  std::string id = body.value("id", "");
  EXPECT_TRUE(std::regex_match(id, std::regex("j[0-9a-f]{24}"))) << id;
  EXPECT_EQ(body["state"], "queued");

  auto rec = probe_->record(id);
  ASSERT_TRUE(rec) << "no record under " << id;
  EXPECT_EQ(rec->state, JobState::queued);
  EXPECT_FALSE(rec->result.has_value());
  EXPECT_GE(rec->created_ms, before);
  EXPECT_LE(rec->created_ms, messages::now_ms());
  EXPECT_EQ(rec->spec.id, id);
  EXPECT_EQ(rec->spec.language, "python");
  ASSERT_EQ(rec->spec.files.size(), 1u);
  EXPECT_EQ(rec->spec.files[0].name, "main.py") << "source is named the language's source_file";
  EXPECT_EQ(rec->spec.files[0].content, "print(input())");
  EXPECT_EQ(rec->spec.stdin_data, "hello\n");
  EXPECT_EQ(rec->spec.args, (std::vector<std::string>{"-v", "two words"}));
  EXPECT_EQ(rec->spec.env.at("GREETING"), "hi");
  EXPECT_EQ(rec->spec.limits.wall_ms, 1500u);
  EXPECT_EQ(rec->spec.limits.output_bytes, 4096u);
  EXPECT_EQ(rec->spec.limits.memory_mib, 256u) << "python's default";
  EXPECT_EQ(rec->spec.limits.cpu_ms, 5000u) << "python's default";

  EXPECT_EQ(probe_->stream_messages(), 1u);
  auto last = probe_->last_job();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->first.id, id);
  EXPECT_EQ(last->second, id) << "published with the job id as message id";
  EXPECT_EQ(last->first.limits.wall_ms, 1500u);
}

TEST_F(GatewayTest, FilesAreKeptInOrderWithTheirNames) {
  json job = {{"language", "bash"},
              {"files",
               {{{"name", "run.sh"}, {"content", "source lib/x.sh"}},
                {{"name", "lib/x.sh"}, {"content", "echo x"}}}}};
  auto id = submit(job);
  auto rec = probe_->record(id);
  ASSERT_TRUE(rec);
  ASSERT_EQ(rec->spec.files.size(), 2u);
  EXPECT_EQ(rec->spec.files[0].name, "run.sh");
  EXPECT_EQ(rec->spec.files[1].name, "lib/x.sh");
  EXPECT_EQ(rec->spec.limits.memory_mib, 128u) << "bash's default";
}

TEST_F(GatewayTest, GetReturnsTheRecordAsJson) {
  auto id = submit(python_job());
  auto r = get("/v1/jobs/" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["Content-Type"], "application/json");
  auto rec = parse(r.body);
  for (const char* key : {"id", "language", "state", "created_ms", "started_ms", "finished_ms",
                          "attempts", "worker_id", "cancel_requested", "limits", "plan", "result"})
    EXPECT_TRUE(rec.contains(key)) << key << " missing in " << r.body;
  EXPECT_EQ(rec["id"], id);
  EXPECT_EQ(rec["language"], "python");
  EXPECT_EQ(rec["state"], "queued");
  EXPECT_TRUE(rec["result"].is_null());
  EXPECT_EQ(rec["plan"], json::array());
  EXPECT_EQ(rec["limits"]["wall_ms"], 5000);
  EXPECT_EQ(rec["limits"]["memory_mib"], 256);

  // A finished record carries the result, invalid UTF-8 replaced rather than failing.
  auto result = ok_result("caf\xc3\xa9 \xff\n");
  result.exit_code.reset();
  result.signal = 9;
  result.verdict = messages::Verdict::runtime_error;
  probe_->finish(id, result);
  rec = parse(get("/v1/jobs/" + id).body);
  EXPECT_EQ(rec["state"], "finished");
  EXPECT_EQ(rec["result"]["verdict"], "runtime_error");
  EXPECT_TRUE(rec["result"]["exit_code"].is_null());
  EXPECT_EQ(rec["result"]["signal"], 9);
  EXPECT_EQ(rec["result"]["stdout"], "caf\xc3\xa9 \xef\xbf\xbd\n");
  EXPECT_EQ(rec["worker_id"], "test-worker");
}

TEST_F(GatewayTest, UnknownIdsAre404) {
  for (std::string target : {"/v1/jobs/jdoesnotexist", "/v1/jobs/bad%20id", "/v1/jobs/.x",
                             "/v1/jobs/jdoesnotexist/events"}) {
    auto r = get(target);
    EXPECT_EQ(r.status, 404) << target << ": " << r.body;
    EXPECT_NE(parse(r.body).value("error", "").find("no job '"), std::string::npos) << r.body;
  }
  auto r = http("DELETE", gw_->port(), "/v1/jobs/jdoesnotexist");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(parse(r.body)["error"], "no job 'jdoesnotexist'");
}

TEST_F(GatewayTest, WrongMethodIs405AndUnknownPathIs404) {
  struct Case {
    const char* method;
    const char* target;
    const char* allow;
  };
  for (auto c :
       {Case{"PUT", "/v1/jobs", "POST"}, Case{"GET", "/v1/jobs", "POST"},
        Case{"POST", "/v1/languages", "GET"}, Case{"DELETE", "/healthz", "GET"},
        Case{"PATCH", "/v1/jobs/jx", "GET, DELETE"}, Case{"POST", "/v1/jobs/jx/events", "GET"}}) {
    auto r = http(c.method, gw_->port(), c.target);
    EXPECT_EQ(r.status, 405) << c.method << " " << c.target << ": " << r.body;
    EXPECT_EQ(r.headers["Allow"], c.allow) << c.method << " " << c.target;
    EXPECT_TRUE(parse(r.body).contains("error")) << r.body;
  }
  auto r = get("/v2/whatever");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(parse(r.body)["error"], "no such endpoint: /v2/whatever");
}

TEST_F(GatewayTest, LanguagesListsPythonAndBash) {
  auto r = get("/v1/languages");
  ASSERT_EQ(r.status, 200) << r.body;
  auto list = parse(r.body);
  ASSERT_TRUE(list.is_array()) << r.body;
  std::map<std::string, json> by_name;
  for (auto& l : list) by_name[l["name"]] = l;
  ASSERT_TRUE(by_name.contains("python")) << r.body;
  ASSERT_TRUE(by_name.contains("bash")) << r.body;
  EXPECT_EQ(by_name["python"]["source_file"], "main.py");
  EXPECT_EQ(by_name["bash"]["source_file"], "main.sh");
  EXPECT_EQ(by_name["python"]["compiled"], false);
  EXPECT_FALSE(by_name["python"]["version"].get<std::string>().empty());
  EXPECT_EQ(by_name["python"]["default_limits"]["memory_mib"], 256);
  EXPECT_EQ(by_name["bash"]["default_limits"]["memory_mib"], 128);
  EXPECT_EQ(by_name["bash"]["default_limits"]["wall_ms"], 5000);
}

TEST(GatewayLanguages, SaysNotBuiltWhenTheImageDirHasNoImage) {
  NatsServer nats;
  auto empty = scratch_dir("no-images");
  GatewayProcess gw(nats.url(), {"--image-dir", empty.string()});
  auto r = http("GET", gw.port(), "/v1/languages");
  ASSERT_EQ(r.status, 200) << r.body;
  auto list = parse(r.body);
  ASSERT_FALSE(list.empty());
  for (auto& l : list) {
    EXPECT_EQ(l["built"], false) << l.dump();
    EXPECT_FALSE(l.contains("image")) << l.dump();
  }
  std::filesystem::remove_all(empty);
}

TEST_F(GatewayTest, HealthzSaysConnected) {
  auto r = get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(parse(r.body), (json{{"status", "ok"}, {"nats", "connected"}})) << r.body;
}

TEST_F(GatewayTest, MetricsCountRequestsAndSubmissions) {
  submit(python_job());
  submit(python_job());
  get("/v1/jobs/jnope");
  post("/v1/jobs", json{{"language", "cobol"}, {"source", ""}});
  // A request is counted right after its answer is written, so a client can outrun it by a
  // moment: poll.
  const std::vector<std::string> lines = {"berth_gateway_http_requests_total{code=\"202\"} 2\n",
                                          "berth_gateway_http_requests_total{code=\"404\"} 1\n",
                                          "berth_gateway_http_requests_total{code=\"400\"} 1\n",
                                          "berth_gateway_jobs_submitted_total 2\n",
                                          "berth_gateway_nats_connected 1\n",
                                          "# TYPE berth_gateway_request_seconds histogram\n",
                                          "berth_gateway_request_seconds_bucket{le=\"+Inf\"} "};
  HttpResponse r;
  auto all_there = [&] {
    r = get("/metrics");
    for (const auto& l : lines)
      if (r.body.find(l) == std::string::npos) return false;
    return true;
  };
  EXPECT_TRUE(eventually(all_there, std::chrono::seconds(3))) << r.body;
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.headers["Content-Type"].find("text/plain"), std::string::npos);
  const auto& m = r.body;
  std::smatch count;
  ASSERT_TRUE(
      std::regex_search(m, count, std::regex("berth_gateway_request_seconds_count (\\d+)")));
  EXPECT_GE(std::stoi(count[1]), 4);
}

TEST_F(GatewayTest, ManyConnectionsAtOnce) {
  // Requests from many clients in parallel all get their answer.
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 32; ++i)
    threads.emplace_back([&] {
      if (post("/v1/jobs", python_job()).status == 202) ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 32);
  EXPECT_EQ(probe_->stream_messages(), 32u);
}

}  // namespace
}  // namespace berth::test
