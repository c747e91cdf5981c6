#pragma once
// A real nats-server with JetStream for one test: its own port and store directory. stop() and
// start() again keep the store, so tests can restart it.
#include <filesystem>
#include <string>

#include "tests/support/process.hpp"

namespace berth::test {

class NatsServer {
 public:
  NatsServer();  // starts it; throws when it does not come up in 10 s
  ~NatsServer();
  void start();
  void stop();
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  uint16_t port_;
  Process proc_;
};

}  // namespace berth::test
