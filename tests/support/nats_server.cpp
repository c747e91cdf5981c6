#include "tests/support/nats_server.hpp"

#include <fstream>
#include <stdexcept>

#include "tests/support/ports.hpp"

namespace berth::test {

NatsServer::NatsServer() : dir_(scratch_dir("nats")), port_(free_port()) {
  // max_payload: job records carry captured output (docs/operations.md).
  std::ofstream(dir_ / "nats.conf")
      << "listen: 127.0.0.1:" << port_ << "\n"
      << "max_payload: 67108864\n"
      << "jetstream { store_dir: \"" << (dir_ / "js").string() << "\" }\n";
  start();
}

NatsServer::~NatsServer() {
  stop();
  std::filesystem::remove_all(dir_);
}

void NatsServer::start() {
  proc_ = Process({"nats-server", "-c", (dir_ / "nats.conf").string()}, dir_ / "nats.log");
  if (!eventually([&] { return port_open(port_); }, std::chrono::seconds(10)))
    throw std::runtime_error("nats-server did not start: " + proc_.log_text());
}

void NatsServer::stop() {
  proc_.stop();
}

}  // namespace berth::test
