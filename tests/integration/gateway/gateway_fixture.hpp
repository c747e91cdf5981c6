#pragma once
// A real nats-server and a real berth-gateway process for each test, plus the test's own NATS
// client to look behind the gateway (the KV record, the stream) and to play the worker.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/cli/sse.hpp"
#include "messages/job_event.hpp"
#include "messages/job_record.hpp"
#include "messages/nats/kv.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/nats_server.hpp"
#include "tests/support/process.hpp"

namespace berth::test {

class GatewayProcess {
 public:
  GatewayProcess(std::string nats_url, std::vector<std::string> extra_flags = {});
  ~GatewayProcess() { stop(); }
  void start();  // returns once the port accepts connections (throws after 15 s)
  int stop() { return proc_.stop(); }
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return proc_.log_text(); }
  Process& process() { return proc_; }

 private:
  std::string nats_url_;
  std::vector<std::string> extra_;
  std::filesystem::path dir_;
  uint16_t port_;
  Process proc_;
};

// The test's side of NATS.
class NatsProbe {
 public:
  explicit NatsProbe(const std::string& url);  // waits up to 10 s for the connection
  ~NatsProbe();
  nats::Connection& conn() { return *conn_; }

  uint64_t stream_messages();
  // The last spec on berth.jobs.queue and the Nats-Msg-Id header it was published with.
  std::optional<std::pair<messages::JobSpec, std::string>> last_job();
  std::optional<nats::KvEntry> entry(const std::string& id);
  std::optional<messages::JobRecord> record(const std::string& id);
  // Read-modify-write of a record, as a worker would (compare-and-set).
  void change(const std::string& id, const std::function<void(messages::JobRecord&)>& f);
  void finish(const std::string& id, messages::Result result);
  void publish_state(const std::string& id, messages::JobState s);
  void publish_output(const std::string& id, messages::Stream stream, const std::string& data,
                      uint64_t seq, bool truncated = false);

 private:
  std::unique_ptr<nats::Connection> conn_;
  std::unique_ptr<nats::JetStream> js_;
  std::unique_ptr<nats::KeyValue> kv_;
};

// Server-sent events read on a thread of their own.
class SseReader {
 public:
  SseReader(uint16_t port, const std::string& method, const std::string& target,
            const std::string& body = {});
  ~SseReader();
  // Waits until at least `n` events arrived; false after `timeout`.
  bool wait_for(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits for the stream to end.
  bool wait_end(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<gateway::cli::SseEvent> events();
  int status() const { return status_; }
  std::string error() const { return error_; }

 private:
  std::mutex m_;
  std::vector<gateway::cli::SseEvent> events_;
  std::atomic<bool> ended_{false};
  int status_ = 0;
  std::string error_;
  std::thread thread_;
};

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override { start(gateway_flags()); }
  virtual std::vector<std::string> gateway_flags() { return {}; }
  void TearDown() override;
  // Starts nats-server, the gateway (with extra flags) and the probe.
  void start(std::vector<std::string> gateway_flags);

  HttpResponse post(const std::string& target, const nlohmann::json& body) {
    return http("POST", gw_->port(), target, body.dump());
  }
  HttpResponse get(const std::string& target) { return http("GET", gw_->port(), target); }
  // POST /v1/jobs that must succeed; the new id.
  std::string submit(const nlohmann::json& job);

  std::unique_ptr<NatsServer> nats_;
  std::unique_ptr<GatewayProcess> gw_;
  std::unique_ptr<NatsProbe> probe_;
};

nlohmann::json parse(const std::string& body);
nlohmann::json python_job(const std::string& source = "print('hi')");
messages::Result ok_result(const std::string& out);

}  // namespace berth::test
