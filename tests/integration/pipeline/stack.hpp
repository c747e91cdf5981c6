#pragma once
// A whole local berth stack for one test suite: a real nats-server, berth-gateway and
// berth-worker on loopback ports chosen at run time, the worker on a bridge and subnet of its
// own. Each part can be stopped and started again to test restarts.
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/nats_server.hpp"
#include "tests/support/process.hpp"

namespace berth::test {

struct StackOptions {
  int slots = 2;
  // Worker processes, each with a bridge, subnet, state dir and status port of its own; all
  // pull from the one consumer.
  int workers = 1;
  uint32_t ack_wait_ms = 10'000;
  std::string runtime = "jail";
  std::vector<std::string> worker_args = {};  // appended to every worker's command line
};

// StackOptions for the runtime the environment names: BERTH_TEST_RUNTIME=kvm (with
// BERTH_TEST_KERNEL and, optionally, BERTH_TEST_IMAGE_DIR) for a suite run in the KVM lab,
// otherwise the jail.
StackOptions runtime_options_from_env(StackOptions base = {});

class Stack {
 public:
  explicit Stack(int slots = 2) : Stack(StackOptions{.slots = slots}) {}
  explicit Stack(StackOptions opts);
  ~Stack();

  void start_gateway();
  void stop_gateway() { gateway_.stop(); }
  // Worker 0 unless told otherwise.
  void start_worker(size_t i = 0);
  void stop_worker(size_t i = 0) { workers_.at(i).process.stop(std::chrono::seconds(20)); }

  NatsServer& nats() { return nats_; }
  uint16_t gateway_port() const { return gateway_port_; }
  // The worker's status server (GET /healthz, /metrics).
  uint16_t worker_status_port(size_t i = 0) const { return workers_.at(i).status_port; }
  const std::string& bridge(size_t i = 0) const { return workers_.at(i).bridge; }
  // Worker i's subnet and its first address, the bridge's (the machines' gateway).
  const std::string& cidr(size_t i = 0) const { return workers_.at(i).cidr; }
  std::string gateway_ip(size_t i = 0) const;
  pid_t worker_pid(size_t i = 0) const { return workers_.at(i).process.pid(); }
  const std::filesystem::path& state_dir() const { return dir_; }
  std::string worker_log(size_t i = 0) const { return workers_.at(i).process.log_text(); }
  std::string gateway_log() const { return gateway_.log_text(); }

  // POST /v1/jobs?wait=true; returns the record JSON (or the error body).
  nlohmann::json run(const nlohmann::json& job);
  // POST /v1/jobs; returns the id.
  std::string submit(const nlohmann::json& job);
  nlohmann::json get(const std::string& id);
  // Polls GET until the job is finished or `timeout` passes; returns the last record.
  nlohmann::json wait_finished(const std::string& id, std::chrono::milliseconds timeout);
  // Addresses worker `i` holds leases on, read from its persisted lease file.
  size_t leases_in_use(size_t i = 0) const;

 private:
  struct WorkerProcess {
    std::string name;  // its state dir and log under dir_
    std::string bridge, cidr;
    uint16_t status_port = 0;
    Process process;
  };

  std::filesystem::path dir_;
  NatsServer nats_;
  StackOptions opts_;
  uint16_t gateway_port_;
  Process gateway_;
  std::vector<WorkerProcess> workers_;
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
