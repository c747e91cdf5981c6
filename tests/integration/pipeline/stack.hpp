#pragma once
// A whole local berth stack for one test suite: a real nats-server, berth-gateway and
// berth-worker on loopback ports chosen at run time, the worker on a bridge and subnet of its
// own. Each part can be stopped and started again to test restarts.
#include <chrono>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/nats_server.hpp"
#include "tests/support/process.hpp"

namespace berth::test {

class Stack {
 public:
  explicit Stack(int slots = 2);
  ~Stack();

  void start_gateway();
  void stop_gateway() { gateway_.stop(); }
  void start_worker();
  void stop_worker() { worker_.stop(std::chrono::seconds(20)); }

  NatsServer& nats() { return nats_; }
  uint16_t gateway_port() const { return gateway_port_; }
  // The worker's status server (GET /healthz, /metrics).
  uint16_t worker_status_port() const { return worker_status_port_; }
  const std::string& bridge() const { return bridge_; }
  const std::filesystem::path& state_dir() const { return dir_; }
  std::string worker_log() const { return worker_.log_text(); }
  std::string gateway_log() const { return gateway_.log_text(); }

  // POST /v1/jobs?wait=true; returns the record JSON (or the error body).
  nlohmann::json run(const nlohmann::json& job);
  // POST /v1/jobs; returns the id.
  std::string submit(const nlohmann::json& job);
  nlohmann::json get(const std::string& id);
  // Polls GET until the job is finished or `timeout` passes; returns the last record.
  nlohmann::json wait_finished(const std::string& id, std::chrono::milliseconds timeout);
  // Addresses the worker holds leases on, read from its persisted lease file.
  size_t leases_in_use() const;

 private:
  std::filesystem::path dir_;
  NatsServer nats_;
  int slots_;
  uint16_t gateway_port_;
  uint16_t worker_status_port_;
  std::string bridge_, cidr_;
  Process gateway_, worker_;
};

// Base of a suite whose tests share one stack (each discovered test runs in its own process,
// so that is one stack per test, started once).
class StackSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { stack_ = new Stack(); }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  static inline Stack* stack_ = nullptr;
};

// A job in `language` running `source`.
nlohmann::json job(const std::string& language, const std::string& source);

}  // namespace berth::test
